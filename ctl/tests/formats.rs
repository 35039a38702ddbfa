//! The imports and exports against known documents: every option `ipvsadm -S` writes,
//! keepalived.conf's forms and checkers, and round trips through each format.

use lvs_ctl::formats::{ipvsadm, keepalived, Note};
use lvs_model::spec::{DesiredStateSpec, TimeoutsSpec};
use lvs_testkit::fixtures::{CLUSTER, CLUSTER_RULES};

/// The document as the server would store it: validated, defaults filled in, sorted.
fn canonical(document: &DesiredStateSpec) -> DesiredStateSpec {
    let mut document = document.clone();
    document.timeouts.get_or_insert_with(TimeoutsSpec::default);
    let state = document
        .parse()
        .unwrap_or_else(|errors| panic!("a valid document: {errors:?}\n{document:#?}"));
    let mut spec = DesiredStateSpec::from(&state);
    spec.generation = None;
    spec
}

fn fixture() -> DesiredStateSpec {
    serde_json::from_str(CLUSTER).expect("the fixture")
}

/// What ipvsadm can hold of a document: no labels, no drained state, no timeouts.
fn ipvsadm_part(document: &DesiredStateSpec) -> DesiredStateSpec {
    let mut document = canonical(document);
    document.timeouts = Some(TimeoutsSpec::default());
    for service in document.services.iter_mut().flatten() {
        service.name.clear();
        service.description.clear();
        for real_server in service.real_servers.iter_mut().flatten() {
            real_server.description.clear();
            if real_server.state.as_deref() == Some("drained") {
                real_server.state = Some("active".into());
                real_server.weight = Some(0);
            }
        }
    }
    document
}

#[test]
fn ipvsadm_save_output_imports_as_the_cluster_it_came_from() {
    let imported = ipvsadm::import(CLUSTER_RULES).expect("the rules import");
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);
    assert_eq!(imported.document.timeouts, None, "-S writes no timeouts");
    assert_eq!(canonical(&imported.document), ipvsadm_part(&fixture()));
}

#[test]
fn ipvsadm_export_is_what_ipvsadm_saves() {
    let exported = ipvsadm::export(&canonical(&fixture()));
    let (set, rules) = exported.text.split_once('\n').expect("two parts");
    assert_eq!(set, "--set 900 0 120", "the timeouts, which -R reads");
    let mut ours: Vec<&str> = rules.lines().collect();
    // The fixture is -R input, its options in another order than -S writes them.
    let fixture = CLUSTER_RULES
        .replace(
            "-s mh -b mh-port -p 60 -M 64",
            "-s mh -p 60 -M 64 -b mh-port",
        )
        .replace(
            "-s sh -b sh-fallback,sh-port -o",
            "-s sh -o -b sh-fallback,sh-port",
        );
    let mut theirs: Vec<&str> = fixture.lines().collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    let notes: Vec<String> = exported.notes.iter().map(Note::to_string).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("10.0.0.12:8080") && n.contains("drained")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("name and description")),
        "{notes:?}"
    );
}

#[test]
fn ipvsadm_import_reads_long_options_and_timeouts() {
    let rules = "--set 900 120 0\n\
                 --add-service --sctp-service [2001:db8::1]:9000 --scheduler mh --sched-flags mh-fallback,mh-port\n\
                 --add-server --sctp-service [2001:db8::1]:9000 --real-server [2001:db8::2]:9000 --gatewaying --weight 3\n\
                 -A -f 7 -6 -s rr -p -o\n\
                 -a -f 7 -6 -r [2001:db8::5]:0 -i -w 1 --tun-type gre --tun-csum\n";
    let imported = ipvsadm::import(rules).expect("the rules import");
    let document = canonical(&imported.document);
    assert_eq!(
        imported.document.timeouts,
        Some(TimeoutsSpec {
            tcp: Some(900),
            tcpfin: Some(120),
            udp: None
        })
    );
    let services = document.services.expect("services");
    let sctp = services
        .iter()
        .find(|s| s.protocol.as_deref() == Some("sctp"))
        .unwrap();
    assert_eq!(sctp.scheduler_flags, ["mh-fallback", "mh-port"]);
    let real_server = &sctp.real_servers.as_ref().unwrap()[0];
    assert_eq!(
        (real_server.forwarding.as_deref(), real_server.weight),
        (Some("route"), Some(3))
    );
    let mark = services.iter().find(|s| s.fwmark == Some(7)).unwrap();
    assert_eq!(mark.family.as_deref(), Some("ipv6"));
    assert_eq!(
        mark.persistence_timeout, 300,
        "ipvsadm's default for -p alone"
    );
    assert!(mark.one_packet);
    let tunnel = &mark.real_servers.as_ref().unwrap()[0];
    assert_eq!(tunnel.tunnel_type.as_deref(), Some("gre"));
    assert_eq!(tunnel.tunnel_checksum.as_deref(), Some("csum"));
}

#[test]
fn ipvsadm_import_names_every_bad_line() {
    let rules = "-A -t 192.0.2.1:80 -s rr\n\
                 -a -t 192.0.2.1:80 -r web1:http -m\n\
                 -a -t 192.0.2.9:80 -r 10.0.0.1:80 -m\n\
                 -A -t 192.0.2.1:80 -s rr\n\
                 -A -t 192.0.2.2:80 --bogus\n\
                 -C\n";
    let unreadable = ipvsadm::import(rules).expect_err("bad lines");
    let text = unreadable.to_string();
    assert_eq!(
        text,
        "line 2: -r web1:http: not a numeric address[:port]\n\
         line 3: real server of service tcp:192.0.2.9:80, which no -A line added\n\
         line 4: service tcp:192.0.2.1:80 is added twice\n\
         line 5: --bogus: not an option ipvsadm -S writes\n\
         line 6: -C: only -A, -a and --set lines are read (write them with ipvsadm -S -n)"
    );
}

const KEEPALIVED: &str = r#"! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL
   lvs_timeouts tcp 900 tcpfin 30 udp 300
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.10
    }
}

virtual_server_group web {
    192.0.2.10 80
    192.0.2.20-21 80
}

virtual_server group web {
    delay_loop 6
    lb_algo wrr
    lb_kind NAT
    persistence_timeout 50
    persistence_granularity 255.255.255.0
    protocol TCP
    quorum 2

    real_server 10.1.0.11 8080 {
        weight 1
        inhibit_on_failure
        HTTP_GET {
            url {
              path /healthz
              status_code 200
              digest 9b3a0c85a887a256d6939da88aabd8cd
            }
            connect_timeout 3
            retry 2
        }
    }
    real_server 10.1.0.12 8080 {
        weight 2
        HTTP_GET {
            url {
              path /healthz
              status_code 200
            }
            connect_timeout 3
            retry 2
        }
    }
}

virtual_server fwmark 7 {
    lvs_sched sh
    sh-port
    flag-1
    lvs_method DR
    sorry_server 10.1.0.99 0
    real_server 10.1.0.21 {
        weight 3
        TCP_CHECK {
            connect_port 443
        }
        MISC_CHECK {
            misc_path "/usr/local/bin/check --fast"
        }
    }
    real_server 10.1.0.22 {
        lvs_method TUN type gue port 6080 csum
        uthreshold 100
        lthreshold 10
        notify_down /usr/local/bin/alert
    }
}
"#;

#[test]
fn keepalived_conf_imports_with_its_groups_checkers_and_notes() {
    let imported = keepalived::import(KEEPALIVED).expect("the file imports");
    let notes: Vec<String> = imported.notes.iter().map(Note::to_string).collect();
    assert_eq!(
        notes,
        [
            "line 3: router_id: not translated",
            "line 7: vrrp_instance: not translated: LVS Fleet runs no VRRP; directors' VIPs \
             come from the cluster's host settings",
            "line 21: virtual_server: persistence_granularity is translated as written, but \
             keepalived (2.2.7) does not apply it to a group's services",
            "line 28: quorum: not translated",
            "line 37: digest: not translated: health checks match a status, text or regex, \
             not a digest",
            "line 67: MISC_CHECK: only the first checker of a real server is translated",
            "line 75: notify_down: not translated",
        ]
    );
    let document = canonical(&imported.document);
    assert_eq!(
        document.timeouts,
        Some(TimeoutsSpec {
            tcp: Some(900),
            tcpfin: Some(30),
            udp: Some(300)
        })
    );
    let services = document.services.expect("services");
    let web: Vec<_> = services.iter().filter(|s| s.port == Some(80)).collect();
    let addresses: Vec<_> = web.iter().map(|s| s.address.clone().unwrap()).collect();
    assert_eq!(
        addresses,
        ["192.0.2.10", "192.0.2.20", "192.0.2.21"],
        "the group, range expanded"
    );
    for service in &web {
        assert_eq!(service.scheduler.as_deref(), Some("wrr"));
        assert_eq!(service.persistence_timeout, 50);
        let real_servers = service.real_servers.as_ref().unwrap();
        assert_eq!(real_servers.len(), 2);
        // The checks differ (inhibit_on_failure on one): each keeps its own.
        let first = real_servers[0].health_check.as_ref().expect("a check");
        assert_eq!(first.kind.as_deref(), Some("http"));
        assert_eq!(first.path.as_deref(), Some("/healthz"));
        assert_eq!(
            (first.interval_ms, first.timeout_ms),
            (Some(6000), Some(3000))
        );
        assert_eq!((first.rise, first.fall), (Some(1), Some(3)));
        assert_eq!(first.on_failure.as_deref(), Some("quiesce"));
        let second = real_servers[1].health_check.as_ref().expect("a check");
        assert_eq!(
            second.on_failure.as_deref(),
            Some("remove"),
            "keepalived's default"
        );
        assert_eq!(real_servers[1].forwarding.as_deref(), Some("masq"));
    }
    let mark = services
        .iter()
        .find(|s| s.fwmark == Some(7))
        .expect("the fwmark service");
    assert_eq!(mark.scheduler_flags, ["sh-fallback", "sh-port"]);
    let sorry = mark.sorry_server.as_ref().expect("the sorry server");
    assert_eq!(sorry.forwarding.as_deref(), Some("route"));
    let real_servers = mark.real_servers.as_ref().unwrap();
    let check = real_servers[0]
        .health_check
        .as_ref()
        .expect("the TCP check");
    assert_eq!(
        (check.kind.as_deref(), check.port),
        (Some("tcp"), Some(443))
    );
    assert_eq!(
        check.interval_ms,
        Some(60_000),
        "keepalived's default delay_loop"
    );
    let tunnel = &real_servers[1];
    assert_eq!(tunnel.tunnel_type.as_deref(), Some("gue"));
    assert_eq!(tunnel.tunnel_port, Some(6080));
    assert_eq!(
        (tunnel.upper_threshold, tunnel.lower_threshold),
        (Some(100), Some(10))
    );
}

#[test]
fn keepalived_export_imports_back_as_the_same_document() {
    let document: DesiredStateSpec = serde_json::from_value(serde_json::json!({
        "timeouts": {"tcp": 900, "udp": 60},
        "services": [
            {"protocol": "tcp", "address": "192.0.2.10", "port": 443, "scheduler": "mh",
             "scheduler_flags": ["mh-port"], "persistence_timeout": 300,
             "persistence_netmask": "255.255.255.0",
             "health_check": {"kind": "https", "path": "/ready", "host": "web.example",
                              "expect_status": [200, "300-302"], "insecure": true,
                              "interval_ms": 5000, "timeout_ms": 1500, "rise": 1, "fall": 4,
                              "on_failure": "remove"},
             "sorry_server": {"address": "10.1.0.99", "port": 443, "forwarding": "route"},
             "real_servers": [
                {"address": "10.1.0.11", "port": 443, "forwarding": "route", "weight": 2},
                {"address": "10.1.0.12", "port": 443, "forwarding": "route", "weight": 3,
                 "upper_threshold": 50, "lower_threshold": 5}]},
            {"protocol": "udp", "address": "2001:db8::53", "port": 53, "scheduler": "rr",
             "one_packet": true,
             "real_servers": [
                {"address": "2001:db8::1", "port": 53, "forwarding": "masq",
                 "health_check": {"kind": "udp-dns", "dns_name": "example.org", "dns_type": "AAAA",
                                  "interval_ms": 2000, "timeout_ms": 500, "rise": 1, "fall": 2,
                                  "on_failure": "quiesce", "initial": "down"}},
                {"address": "2001:db8::2", "port": 53, "forwarding": "tunnel",
                 "tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "remcsum"}]},
            {"fwmark": 9, "family": "ipv6", "scheduler": "wlc",
             "real_servers": [
                {"address": "2001:db8::9", "forwarding": "route",
                 "health_check": {"kind": "exec", "command": "/usr/local/bin/check",
                                  "args": ["--port", "80"], "interval_ms": 10000,
                                  "timeout_ms": 3000, "rise": 1, "fall": 1,
                                  "on_failure": "remove"}}]}
        ]
    }))
    .expect("a document");
    let exported = keepalived::export(&canonical(&document));
    assert!(exported.notes.is_empty(), "{:?}", exported.notes);
    let imported = keepalived::import(&exported.text).expect("our own output imports");
    let notes: Vec<String> = imported.notes.iter().map(Note::to_string).collect();
    assert!(
        notes.iter().all(|n| n.contains("insecure: true")),
        "only the https note: {notes:?}\n{}",
        exported.text
    );
    assert_eq!(
        canonical(&imported.document),
        canonical(&document),
        "{}",
        exported.text
    );
}

#[test]
fn keepalived_syntax_errors_stop_the_import_with_their_line() {
    let unreadable = keepalived::import("virtual_server 192.0.2.1 80 {\n  lb_algo rr\n")
        .expect_err("an unclosed block");
    assert_eq!(
        unreadable.to_string(),
        "line 1: the block opened here is not closed"
    );
}
