//! The formats against the real tools on a real kernel: an ipvsadm export restored with
//! `ipvsadm -R`, saved with `ipvsadm -S -n` and imported again is the same document; a
//! keepalived.conf imports as the table keepalived itself programs.
//!
//! Run by `cargo xtask vm-test` inside a guest whose kernel has IPVS (never by a host
//! `cargo test`: the target has `test = false`). Each test is an empty director of its own:
//! a fresh network namespace on its own thread.

// Test helpers, as `allow-unwrap-in-tests` allows in test functions.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_ctl::formats::{ipvsadm, keepalived};
use lvs_model::spec::{DesiredStateSpec, TimeoutsSpec};
use lvs_testkit::{director_netns, ipvsadm, ipvsadm_restore};

/// The document as the server stores it, without timeouts (compared on their own).
fn canonical(document: &DesiredStateSpec) -> DesiredStateSpec {
    let mut document = document.clone();
    document.timeouts = Some(TimeoutsSpec::default());
    let state = document
        .parse()
        .unwrap_or_else(|errors| panic!("a valid document: {errors:?}"));
    let mut spec = DesiredStateSpec::from(&state);
    spec.generation = None;
    spec
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort_unstable();
    lines
}

/// Every option `ipvsadm -S` writes: each scheduler flag, persistence with a netmask in
/// both families, one-packet scheduling, the SIP engine, SCTP, fwmark in both families,
/// each forwarding method and tunnel type with its checksum options, thresholds, weight 0.
const EVERY_OPTION: &str = r#"{"timeouts": {"tcp": 900, "tcpfin": 30, "udp": 120}, "services": [
  {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
   "persistence_timeout": 300, "persistence_netmask": "255.255.255.0",
   "real_servers": [
     {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 3},
     {"address": "10.0.0.12", "port": 8081, "forwarding": "masq", "weight": 0},
     {"address": "10.0.0.13", "port": 80, "forwarding": "tunnel", "tunnel_type": "gue",
      "tunnel_port": 6080, "tunnel_checksum": "remcsum", "upper_threshold": 100,
      "lower_threshold": 10},
     {"address": "10.0.0.14", "port": 80, "forwarding": "tunnel", "tunnel_type": "gre",
      "tunnel_checksum": "csum"},
     {"address": "10.0.0.15", "port": 80, "forwarding": "tunnel"},
     {"address": "10.0.0.16", "port": 80, "forwarding": "route"},
     {"address": "10.0.0.17", "port": 80, "forwarding": "tunnel", "tunnel_type": "gue",
      "tunnel_port": 6081},
     {"address": "10.0.0.18", "port": 80, "forwarding": "tunnel", "tunnel_type": "gre"}]},
  {"protocol": "udp", "address": "192.0.2.10", "port": 53, "scheduler": "sh",
   "scheduler_flags": ["sh-fallback", "sh-port"], "one_packet": true,
   "real_servers": [{"address": "10.0.0.21", "port": 53, "forwarding": "route"}]},
  {"protocol": "udp", "address": "192.0.2.11", "port": 5060, "scheduler": "sh",
   "scheduler_flags": ["sh-port"], "one_packet": true, "persistence_timeout": 60,
   "persistence_netmask": "255.255.0.0", "persistence_engine": "sip",
   "real_servers": [{"address": "10.0.0.31", "port": 5060, "forwarding": "masq"}]},
  {"protocol": "sctp", "address": "192.0.2.12", "port": 3868, "scheduler": "lc",
   "real_servers": [{"address": "10.0.0.41", "port": 3868, "forwarding": "route"}]},
  {"protocol": "tcp", "address": "2001:db8::10", "port": 443, "scheduler": "mh",
   "scheduler_flags": ["mh-fallback", "mh-port"], "persistence_timeout": 60,
   "persistence_netmask": 64,
   "real_servers": [
     {"address": "2001:db8::31", "port": 443, "forwarding": "route", "weight": 7},
     {"address": "2001:db8::32", "port": 8443, "forwarding": "masq"},
     {"address": "10.0.0.33", "port": 443, "forwarding": "tunnel", "tunnel_type": "ipip"}]},
  {"fwmark": 42, "family": "ipv4", "scheduler": "wlc",
   "real_servers": [{"address": "10.0.0.51", "forwarding": "route"}]},
  {"fwmark": 43, "family": "ipv6", "scheduler": "sed",
   "real_servers": [{"address": "2001:db8::52", "forwarding": "route"}]}
]}"#;

/// The document without thresholds, which `ipvsadm -S` does not write.
fn without_thresholds(document: &DesiredStateSpec) -> DesiredStateSpec {
    let mut document = canonical(document);
    for service in document.services.iter_mut().flatten() {
        for real_server in service.real_servers.iter_mut().flatten() {
            real_server.upper_threshold = Some(0);
            real_server.lower_threshold = Some(0);
        }
    }
    document
}

/// The `-L -n --thresholds` line of a real server: `-> 10.0.0.13:80 100 10 ...`.
fn thresholds_of(real_server: &str) -> String {
    let listing = ipvsadm(&["-L", "-n", "--thresholds"]);
    listing
        .lines()
        .find(|l| l.contains(real_server))
        .unwrap_or_else(|| panic!("{real_server} in\n{listing}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn an_ipvsadm_export_restored_and_saved_imports_as_the_same_document() {
    director_netns();
    let document: DesiredStateSpec = serde_json::from_str(EVERY_OPTION).unwrap();
    let exported = ipvsadm::export(&document);
    let notes: Vec<String> = exported.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "real server 10.0.0.13:80 of tcp:192.0.2.10:80: thresholds are written (-x, -y), \
          but ipvsadm -S does not save them back"
        ]
    );
    ipvsadm_restore(&exported.text);

    let saved = ipvsadm(&["-S", "-n"]);
    let rules: String = exported
        .text
        .lines()
        .filter(|l| !l.starts_with("--set"))
        .map(|l| format!("{}\n", l.replace(" -x 100 -y 10", "")))
        .collect();
    assert_eq!(
        sorted_lines(&saved),
        sorted_lines(&rules),
        "the export is written as ipvsadm -S writes it"
    );
    let imported = ipvsadm::import(&saved).expect("ipvsadm -S output imports");
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);
    assert_eq!(canonical(&imported.document), without_thresholds(&document));

    // What -S leaves out reached the kernel all the same.
    assert_eq!(thresholds_of("10.0.0.13:80"), "-> 10.0.0.13:80 100 10 0 0");
    let timeouts = ipvsadm(&["-L", "--timeout"]);
    assert!(
        timeouts.contains("(tcp tcpfin udp): 900 30 120"),
        "{timeouts}"
    );
}

/// keepalived's checker process, in the calling thread's namespace, stopped on drop.
struct Keepalived {
    child: Child,
    dir: tempfile::TempDir,
}

impl Keepalived {
    fn start(conf: &str) -> Keepalived {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keepalived.conf");
        std::fs::write(&file, conf).unwrap();
        let child = Command::new("keepalived")
            .args(["--dont-fork", "--check", "--log-console", "--use-file"])
            .arg(&file)
            .arg("--pid")
            .arg(dir.path().join("keepalived.pid"))
            .arg("--checkers_pid")
            .arg(dir.path().join("checkers.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("keepalived.log")).unwrap())
            .spawn()
            .expect("keepalived (Debian package keepalived) runs in the guest");
        Keepalived { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("keepalived.log")).unwrap_or_default()
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

/// Real servers without checkers are up from the start, so keepalived programs them all.
const KEEPALIVED_CONF: &str = r#"
global_defs {
    router_id lab
}

virtual_server_group web {
    192.0.2.10 80
    192.0.2.20-21 80
}

virtual_server group web {
    lb_algo wrr
    protocol TCP
    persistence_timeout 300
    real_server 10.0.0.11 8080 {
        weight 2
    }
    real_server 10.0.0.12 8080 {
        weight 1
        uthreshold 100
        lthreshold 10
    }
}

virtual_server 192.0.2.10 53 {
    lvs_sched sh
    sh-port
    sh-fallback
    ops
    lvs_method DR
    protocol UDP
    real_server 10.0.0.21 53 {
        weight 1
    }
}

virtual_server fwmark 42 {
    lvs_sched rr
    lvs_method TUN
    real_server 10.0.0.31 0 {
        weight 3
    }
    real_server 10.0.0.32 0 {
        weight 1
        lvs_method TUN type gue port 6080 csum
    }
}

virtual_server 192.0.2.30 443 {
    lvs_sched rr
    protocol TCP
    persistence_timeout 600
    persistence_granularity 255.255.0.0
    lvs_method DR
    real_server 10.0.0.41 443 {
        weight 1
    }
}

virtual_server 192.0.2.40 80 {
    lvs_sched rr
    real_server 10.0.0.42 80 {
        weight 1
    }
}

virtual_server 2001:db8::10 443 {
    lvs_sched mh
    mh-port
    lvs_method DR
    protocol TCP
    real_server 2001:db8::31 443 {
        weight 5
    }
}
"#;

#[test]
fn a_keepalived_conf_imports_as_the_table_keepalived_programs() {
    director_netns();
    let ours = keepalived::import(KEEPALIVED_CONF).expect("the conf imports");
    let notes: Vec<String> = ours.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "line 3: router_id: not translated",
            "line 60: virtual_server: no protocol: UDP, as keepalived defaults to"
        ]
    );
    let expected = without_thresholds(&ours.document);
    let real_servers: usize = expected
        .services
        .iter()
        .flatten()
        .map(|s| s.real_servers.as_ref().map_or(0, Vec::len))
        .sum();

    let keepalived = Keepalived::start(KEEPALIVED_CONF);
    let deadline = Instant::now() + Duration::from_secs(20);
    let saved = loop {
        let saved = ipvsadm(&["-S", "-n"]);
        if saved.lines().filter(|l| l.starts_with("-a")).count() == real_servers {
            break saved;
        }
        assert!(
            Instant::now() < deadline,
            "keepalived programmed {} of {real_servers} real servers:\n{saved}",
            saved.lines().filter(|l| l.starts_with("-a")).count()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let theirs = ipvsadm::import(&saved).expect("ipvsadm -S output imports");
    assert_eq!(
        canonical(&theirs.document),
        expected,
        "keepalived's table:\n{saved}\nits log:\n{}",
        keepalived.log()
    );
    assert_eq!(
        thresholds_of("10.0.0.12:8080"),
        "-> 10.0.0.12:8080 100 10 0 0"
    );
}
