//! Director-wide state: info, timeouts, the sync daemon, flush.

use lvs_ipvs::{
    DaemonState, ErrorKind, Protocol, Scheduler, Service, ServiceKey, SyncDaemon, Timeouts,
};

use crate::{director, ipvsadm};

#[test]
fn info_matches_ipvsadm() {
    let mut ipvs = director();
    let info = ipvs.info().unwrap();
    assert_eq!(info.version_triple(), (1, 2, 1));
    let (major, minor, patch) = info.version_triple();
    let header = ipvsadm(&["-L", "-n"]);
    let expected = format!(
        "IP Virtual Server version {major}.{minor}.{patch} (size={})",
        info.conn_table_size
    );
    assert!(header.starts_with(&expected), "{header}");
}

#[test]
fn timeouts_get_and_set() {
    let mut ipvs = director();
    let defaults = ipvs.timeouts().unwrap();
    assert_eq!(
        defaults,
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
    ipvs.set_timeouts(&Timeouts {
        tcp: 1000,
        tcp_fin: 0,
        udp: 200,
    })
    .unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 1000,
            tcp_fin: 120,
            udp: 200
        }
    );
    let shown = ipvsadm(&["-L", "--timeout"]);
    assert!(
        shown.contains("Timeout (tcp tcpfin udp): 1000 120 200"),
        "{shown}"
    );
}

#[test]
fn sync_daemon_start_list_stop() {
    let mut ipvs = director();
    assert!(ipvs.daemons().unwrap().is_empty());
    let mut master = SyncDaemon::new(DaemonState::Master, "d0", 5);
    master.group = Some("239.1.1.1".parse().unwrap());
    master.port = 8850;
    master.ttl = 2;
    ipvs.start_daemon(&master).unwrap();
    let daemons = ipvs.daemons().unwrap();
    assert_eq!(daemons.len(), 1);
    let running = &daemons[0];
    assert_eq!(
        (running.state, running.interface.as_str(), running.sync_id),
        (DaemonState::Master, "d0", 5)
    );
    assert_eq!(
        (running.group, running.port, running.ttl),
        (master.group, 8850, 2)
    );
    assert!(
        running.max_len > 0,
        "the kernel reports its default max length"
    );
    let shown = ipvsadm(&["-L", "--daemon"]);
    assert!(
        shown.contains("master sync daemon (mcast=d0, syncid=5"),
        "{shown}"
    );

    let err = ipvs.start_daemon(&master).unwrap_err();
    assert_eq!(
        err.kernel().map(|k| k.kind.clone()),
        Some(ErrorKind::AlreadyExists),
        "{err}"
    );
    ipvs.stop_daemon(DaemonState::Master).unwrap();
    assert!(ipvs.daemons().unwrap().is_empty());
    assert_eq!(ipvsadm(&["-L", "--daemon"]).trim(), "");
    let err = ipvs.stop_daemon(DaemonState::Master).unwrap_err();
    assert_eq!(
        err.kernel().map(|k| k.kind.clone()),
        Some(ErrorKind::NoSuchDaemon),
        "{err}"
    );
    assert!(
        err.to_string().contains("cannot stop master sync daemon"),
        "{err}"
    );
}

#[test]
fn flush_empties_the_table() {
    let mut ipvs = director();
    for port in 1..=5 {
        let key = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: "10.0.0.1".parse().unwrap(),
            port,
        };
        ipvs.add_service(&Service::new(key, Scheduler::RoundRobin))
            .unwrap();
    }
    assert_eq!(ipvs.services().unwrap().len(), 5);
    ipvs.flush().unwrap();
    assert!(ipvs.services().unwrap().is_empty());
    assert_eq!(ipvsadm(&["-S", "-n"]).trim(), "");
}
