//! `ipvsadm -S -n` lines and the library's table in one normalized form, so the two views
//! can be compared rule by rule regardless of option order and of which defaults ipvsadm
//! chooses to print.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use lvs_ipvs::{
    Family, ForwardMethod, Ipvs, Netmask, Protocol, Scheduler, ServiceFlags, ServiceKey,
    TableEntry, TunnelFlags, TunnelType,
};

/// One rule: option name to value (`""` for switches).
pub type Rule = BTreeMap<String, String>;

/// The normalized rules of `ipvsadm -S -n` output, sorted.
pub fn parse_save(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect();
    rules.sort();
    rules
}

/// The normalized rules of the library's view of the table, sorted.
pub fn library_rules(ipvs: &mut Ipvs) -> Vec<Rule> {
    let table = ipvs.table().expect("library table dump");
    let mut rules = table_rules(&table);
    rules.sort();
    rules
}

/// The library's table equals `ipvsadm -S -n`, and its thresholds (which `-S` leaves out)
/// equal `ipvsadm -L -n --thresholds`.
pub fn assert_same_as_ipvsadm(ipvs: &mut Ipvs) {
    let saved = crate::ipvsadm(&["-S", "-n"]);
    let mut ours = library_rules(ipvs);
    let mut thresholds: Vec<(String, String, String)> = ours
        .iter()
        .filter(|r| r["kind"] == "dest")
        .map(|r| (r["dest"].clone(), r["upper"].clone(), r["lower"].clone()))
        .collect();
    let mut theirs = parse_save(&saved);
    for rule in ours.iter_mut().chain(theirs.iter_mut()) {
        rule.remove("upper");
        rule.remove("lower");
    }
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "ipvsadm -S -n says:\n{saved}");

    let listing = crate::ipvsadm(&["-L", "-n", "--thresholds"]);
    let mut listed: Vec<(String, String, String)> = listing
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (
                canonical(cols[1].to_owned()),
                cols[2].to_owned(),
                cols[3].to_owned(),
            )
        })
        .collect();
    thresholds.sort();
    listed.sort();
    assert_eq!(
        thresholds, listed,
        "ipvsadm -L -n --thresholds says:\n{listing}"
    );
}

fn parse_line(line: &str) -> Rule {
    let mut rule = Rule::new();
    let mut tokens = line.split_whitespace();
    let mut v6 = false;
    while let Some(token) = tokens.next() {
        let mut value = || tokens.next().unwrap_or_default().to_owned();
        match token {
            "-A" => put(&mut rule, "kind", "service"),
            "-a" => put(&mut rule, "kind", "dest"),
            "-t" => put(&mut rule, "svc", &format!("tcp {}", canonical(value()))),
            "-u" => put(&mut rule, "svc", &format!("udp {}", canonical(value()))),
            "--sctp-service" => {
                put(&mut rule, "svc", &format!("sctp {}", canonical(value())));
            }
            "-f" => {
                // ipvsadm prints marks above i32::MAX as negative numbers (`%d`).
                let mark = value();
                let mark = mark
                    .parse::<i32>()
                    .map_or(mark, |m| u32::from_ne_bytes(m.to_ne_bytes()).to_string());
                put(&mut rule, "svc", &format!("fwmark {mark}"));
            }
            "-6" => v6 = true,
            "-s" => put(&mut rule, "sched", &value()),
            "-p" => put(&mut rule, "persistent", &value()),
            "-M" => put(&mut rule, "netmask", &value()),
            "-o" | "--ops" => put(&mut rule, "one-packet", ""),
            "--pe" => put(&mut rule, "pe", &value()),
            "-b" => put(&mut rule, "sched-flags", &value()),
            "-r" => put(&mut rule, "dest", &canonical(value())),
            "-m" => put(&mut rule, "fwd", "masq"),
            "-i" => put(&mut rule, "fwd", "tunnel"),
            "-g" => put(&mut rule, "fwd", "route"),
            "-w" => put(&mut rule, "weight", &value()),
            "-x" => put(&mut rule, "upper", &value()),
            "-y" => put(&mut rule, "lower", &value()),
            "--tun-type" => put(&mut rule, "tun-type", &value()),
            "--tun-port" => put(&mut rule, "tun-port", &value()),
            "--tun-nocsum" => put(&mut rule, "tun-csum", "nocsum"),
            "--tun-csum" => put(&mut rule, "tun-csum", "csum"),
            "--tun-remcsum" => put(&mut rule, "tun-csum", "remcsum"),
            other => put(&mut rule, &format!("unknown {other}"), ""),
        }
    }
    if v6 && rule.get("svc").is_some_and(|s| s.starts_with("fwmark")) {
        let svc = format!("{} v6", rule["svc"]);
        put(&mut rule, "svc", &svc);
    }
    normalize(&mut rule, v6);
    rule
}

/// An address and port in Rust's spelling: glibc writes IPv4-compatible IPv6 addresses
/// as `::10.1.2.3`, Rust as `::a01:203`.
fn canonical(text: String) -> String {
    text.parse::<SocketAddr>().map_or(text, sock_name)
}

/// Fills in the defaults ipvsadm may leave out.
fn normalize(rule: &mut Rule, v6: bool) {
    if rule.get("kind").map(String::as_str) == Some("service") {
        if rule.contains_key("persistent") && !rule.contains_key("netmask") {
            let svc_v6 = v6 || rule.get("svc").is_some_and(|s| s.contains('['));
            put(
                rule,
                "netmask",
                if svc_v6 { "128" } else { "255.255.255.255" },
            );
        }
    } else {
        rule.entry("upper".into()).or_insert_with(|| "0".into());
        rule.entry("lower".into()).or_insert_with(|| "0".into());
        if rule.get("fwd").map(String::as_str) == Some("tunnel") {
            rule.entry("tun-type".into())
                .or_insert_with(|| "ipip".into());
            if rule["tun-type"] != "ipip" {
                rule.entry("tun-csum".into())
                    .or_insert_with(|| "nocsum".into());
            }
        }
    }
}

fn put(rule: &mut Rule, key: &str, value: &str) {
    rule.insert(key.to_owned(), value.to_owned());
}

fn table_rules(table: &[TableEntry]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for entry in table {
        let svc = &entry.service.service;
        let name = svc_name(&svc.key);
        let v6 = svc.key.family() == Family::Inet6;
        let mut rule = Rule::new();
        put(&mut rule, "kind", "service");
        put(&mut rule, "svc", &name);
        put(&mut rule, "sched", svc.scheduler.name());
        if svc.flags.contains(ServiceFlags::PERSISTENT) {
            put(&mut rule, "persistent", &svc.timeout.to_string());
            let mask = match svc.netmask {
                Netmask::Prefix(len) if v6 => len.to_string(),
                Netmask::Prefix(len) => {
                    std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0))
                        .to_string()
                }
                Netmask::NonContiguous(mask) => mask.to_string(),
            };
            put(&mut rule, "netmask", &mask);
        }
        if svc.flags.contains(ServiceFlags::ONE_PACKET) {
            put(&mut rule, "one-packet", "");
        }
        if let Some(pe) = &svc.persistence_engine {
            put(&mut rule, "pe", pe);
        }
        let prefix = match svc.scheduler {
            Scheduler::SourceHashing => "sh",
            Scheduler::MaglevHashing => "mh",
            _ => "flag",
        };
        let flags: Vec<String> = [
            (ServiceFlags::SCHED1, "fallback", "1"),
            (ServiceFlags::SCHED2, "port", "2"),
        ]
        .into_iter()
        .filter(|(flag, _, _)| svc.flags.contains(*flag))
        .map(|(_, named, numbered)| {
            if prefix == "flag" {
                format!("flag-{numbered}")
            } else {
                format!("{prefix}-{named}")
            }
        })
        .collect();
        if !flags.is_empty() {
            put(&mut rule, "sched-flags", &flags.join(","));
        }
        rules.push(rule);
        for d in &entry.destinations {
            let dest = &d.destination;
            let mut rule = Rule::new();
            put(&mut rule, "kind", "dest");
            put(&mut rule, "svc", &name);
            put(&mut rule, "dest", &sock_name(dest.addr));
            let fwd = match dest.forward {
                ForwardMethod::Masq => "masq",
                ForwardMethod::Tunnel => "tunnel",
                _ => "route",
            };
            put(&mut rule, "fwd", fwd);
            put(&mut rule, "weight", &dest.weight.to_string());
            put(&mut rule, "upper", &dest.upper_threshold.to_string());
            put(&mut rule, "lower", &dest.lower_threshold.to_string());
            if dest.forward == ForwardMethod::Tunnel {
                let kind = match dest.tunnel_type {
                    TunnelType::Ipip => "ipip".to_owned(),
                    TunnelType::Gue => "gue".to_owned(),
                    TunnelType::Gre => "gre".to_owned(),
                    TunnelType::Other(raw) => raw.to_string(),
                };
                put(&mut rule, "tun-type", &kind);
                if dest.tunnel_type == TunnelType::Gue {
                    put(&mut rule, "tun-port", &dest.tunnel_port.to_string());
                }
                if dest.tunnel_type != TunnelType::Ipip {
                    let csum = match dest.tunnel_flags {
                        TunnelFlags::CSUM => "csum",
                        TunnelFlags::REMCSUM => "remcsum",
                        _ => "nocsum",
                    };
                    put(&mut rule, "tun-csum", csum);
                }
            }
            rules.push(rule);
        }
    }
    rules
}

/// A service as the normalized rules name it.
pub fn svc_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let proto = match protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
                Protocol::Other(_) => "other",
            };
            format!("{proto} {}", sock_name(SocketAddr::new(addr, port)))
        }
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("fwmark {mark} v6"),
        ServiceKey::Fwmark { mark, .. } => format!("fwmark {mark}"),
    }
}

fn sock_name(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}
