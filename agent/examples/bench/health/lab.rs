//! The lab: 2,000 real-server addresses answering HTTP on port 80 in a namespace of their
//! own, reached from the agent's and keepalived's director namespaces over veth pairs, and
//! the desired state and keepalived configuration that describe the same services.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use lvs_testkit::{ip_batch, run, veth, Netns};
use serde_json::{json, Value};

pub const SERVICES: usize = 500;
pub const PER_SERVICE: usize = 4;
pub const REAL_SERVERS: usize = SERVICES * PER_SERVICE;
pub const INTERVAL: Duration = Duration::from_secs(2);
pub const TIMEOUT: Duration = Duration::from_secs(1);
pub const FALL: u32 = 3;
const RISE: u32 = 2;

/// The check both sides run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Http,
    /// HTTP on a kept-alive connection (`reuse_connection`): the agent's alone.
    HttpReused,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "TCP",
            Kind::Http => "HTTP",
            Kind::HttpReused => "HTTP (reuse_connection)",
        }
    }
}

pub fn real_server(i: usize) -> String {
    format!("10.1.{}.{}", i / 250, i % 250 + 1)
}

pub fn vip(s: usize) -> String {
    format!("172.16.{}.{}", s / 250, s % 250 + 1)
}

/// `services` services of 4 real servers each, drawn in turn from the 2,000 addresses (so
/// past 500 services an address serves several), checked with `kind` every `interval`;
/// no check at all with `None`. Services that share an address get checks that differ by
/// their path, so every real server of every service is a check of its own.
pub fn services(services: usize, kind: Option<Kind>, interval: Duration) -> Value {
    let services: Vec<Value> = (0..services)
        .map(|s| {
            let servers: Vec<Value> = (0..PER_SERVICE)
                .map(|j| {
                    json!({"address": real_server((s * PER_SERVICE + j) % REAL_SERVERS),
                           "port": 80, "forwarding": "masq", "weight": 1})
                })
                .collect();
            let mut service = json!({"protocol": "tcp", "address": vip(s), "port": 80,
                                     "scheduler": "wlc", "real_servers": servers});
            if let Some(kind) = kind {
                let mut check = json!({"interval_ms": interval.as_millis() as u64,
                                       "timeout_ms": TIMEOUT.as_millis() as u64,
                                       "fall": FALL, "rise": RISE});
                match kind {
                    Kind::Tcp => check["kind"] = json!("tcp"),
                    Kind::Http | Kind::HttpReused => {
                        check["kind"] = json!("http");
                        check["path"] = json!(format!("/{}", s / SERVICES));
                        check["reuse_connection"] = json!(kind == Kind::HttpReused);
                    }
                }
                service["health_check"] = check;
            }
            service
        })
        .collect();
    Value::Array(services)
}

/// keepalived's configuration of the first [`SERVICES`] services with `kind` checks:
/// weight 0 on failure (`inhibit_on_failure`, as `quiesce`), after three failed attempts
/// (`retry 2` after the first, each an interval apart).
pub fn keepalived_conf(kind: Kind) -> String {
    let mut conf = "global_defs {\n  router_id bench\n}\n".to_owned();
    for s in 0..SERVICES {
        let _ = write!(
            conf,
            "virtual_server {} 80 {{\n  delay_loop {}\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n",
            vip(s),
            INTERVAL.as_secs()
        );
        for j in 0..PER_SERVICE {
            let checker = match kind {
                Kind::Tcp => "TCP_CHECK {\n".to_owned(),
                Kind::Http => {
                    "HTTP_GET {\n      url {\n        path /0\n        status_code 200\n      }\n"
                        .to_owned()
                }
                Kind::HttpReused => unreachable!("keepalived's checks make a connection each"),
            };
            let _ = write!(
                conf,
                "  real_server {} 80 {{\n    weight 1\n    inhibit_on_failure\n    {checker}      \
                 connect_timeout {}\n      retry {}\n      delay_before_retry {}\n    }}\n  }}\n",
                real_server(s * PER_SERVICE + j),
                TIMEOUT.as_secs(),
                FALL - 1,
                INTERVAL.as_secs()
            );
        }
        conf.push_str("}\n");
    }
    conf
}

/// A veth pair from each director namespace to `rs`, and a route to the real servers'
/// addresses through it.
pub fn wire(directors: [&Netns; 2], rs: &Netns) {
    for (i, director) in directors.into_iter().enumerate() {
        let n = i + 1;
        veth(
            director,
            "rs0",
            &format!("10.9.{n}.1/24"),
            rs,
            &format!("d{n}"),
            &format!("10.9.{n}.2/24"),
        );
        let via = format!("10.9.{n}.2");
        director.enter(|| run("ip", &["route", "add", "10.1.0.0/16", "via", &via]));
    }
}

/// Every address of [`REAL_SERVERS`] on a dummy interface of `ns`.
pub fn add_addresses(ns: &Netns) {
    let mut commands = "link add rs type dummy\nlink set rs up\n".to_owned();
    for i in 0..REAL_SERVERS {
        let _ = writeln!(commands, "addr add {}/32 dev rs", real_server(i));
    }
    ns.enter(|| ip_batch(&commands));
}

/// Removes (`add` false) or puts back these addresses: a host that is gone, whose checks
/// time out.
pub fn set_addresses(ns: &Netns, addresses: &[String], add: bool) {
    let verb = if add { "add" } else { "del" };
    let mut commands = String::new();
    for address in addresses {
        let _ = writeln!(commands, "addr {verb} {address}/32 dev rs");
    }
    ns.enter(|| ip_batch(&commands));
}

/// The weight of every real server of `ns`'s table, by (VIP, real server address), from
/// one `ipvsadm -Sn`.
pub fn weights(ns: &Netns) -> HashMap<(String, String), u32> {
    ns.rules()
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |flag: &str| {
                let at = words.iter().position(|w| *w == flag)?;
                words.get(at + 1).copied()
            };
            let host = |endpoint: &str| endpoint.rsplit_once(':').map(|(h, _)| h.to_owned());
            let vip = host(after("-t")?)?;
            let real_server = host(after("-r")?)?;
            let weight = after("-w")?.parse().ok()?;
            Some(((vip, real_server), weight))
        })
        .collect()
}
