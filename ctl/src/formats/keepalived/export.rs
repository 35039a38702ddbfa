//! A desired-state document as keepalived.conf.

use std::fmt::Write;

use lvs_model::spec::{
    DesiredStateSpec, HealthCheckSpec, Netmask, RealServerSpec, ServiceSpec, StatusSpec,
};

use crate::formats::{Exported, Note};
use crate::keys::{real_server_key, service_key};

/// Writes `global_defs` (the timeouts) and one `virtual_server` block per service.
pub fn export(document: &DesiredStateSpec) -> Exported {
    let mut text = String::new();
    let mut notes: Vec<Note> = super::super::host_note(document, "keepalived.conf")
        .into_iter()
        .collect();
    if let Some(timeouts) = document.timeouts.filter(|t| *t != Default::default()) {
        let mut line = String::from("    lvs_timeouts");
        for (name, value) in [
            ("tcp", timeouts.tcp),
            ("tcpfin", timeouts.tcpfin),
            ("udp", timeouts.udp),
        ] {
            if let Some(seconds) = value {
                let _ = write!(line, " {name} {seconds}");
            }
        }
        let _ = writeln!(text, "global_defs {{\n{line}\n}}\n");
    }
    for service in document.services.iter().flatten() {
        write_service(&mut text, service, &mut notes);
    }
    Exported { text, notes }
}

fn write_service(out: &mut String, service: &ServiceSpec, notes: &mut Vec<Note>) {
    let key = service_key(service);
    match service.fwmark {
        Some(mark) => {
            let _ = writeln!(out, "virtual_server fwmark {mark} {{");
            let family = if service.family.as_deref() == Some("ipv6") {
                "inet6"
            } else {
                "inet"
            };
            let _ = writeln!(out, "    ip_family {family}");
        }
        None => {
            let _ = writeln!(
                out,
                "virtual_server {} {} {{",
                service.address.as_deref().unwrap_or("?"),
                service.port.unwrap_or(0)
            );
            let protocol = service.protocol.as_deref().unwrap_or("tcp").to_uppercase();
            let _ = writeln!(out, "    protocol {protocol}");
        }
    }
    let _ = writeln!(
        out,
        "    lvs_sched {}",
        service.scheduler.as_deref().unwrap_or("wlc")
    );
    for flag in &service.scheduler_flags {
        let _ = writeln!(out, "    {flag}");
    }
    if service.persistence_timeout > 0 {
        let _ = writeln!(
            out,
            "    persistence_timeout {}",
            service.persistence_timeout
        );
        match &service.persistence_netmask {
            Some(Netmask::Text(mask)) => {
                let _ = writeln!(out, "    persistence_granularity {mask}");
            }
            Some(Netmask::Prefix(bits)) => {
                let _ = writeln!(out, "    persistence_granularity {bits}");
            }
            None => {}
        }
    }
    if let Some(engine) = &service.persistence_engine {
        let _ = writeln!(out, "    persistence_engine {engine}");
    }
    if service.one_packet {
        out.push_str("    ops\n");
    }
    let real_servers: Vec<&RealServerSpec> = service.real_servers.iter().flatten().collect();
    // The first real server's method is the virtual server's; others say their own.
    let shared_method = real_servers.first().map(|r| method(r));
    if let Some(method) = &shared_method {
        let _ = writeln!(out, "    lvs_method {method}");
    }
    if let Some(check) = &service.health_check {
        let _ = writeln!(
            out,
            "    delay_loop {}",
            seconds(check.interval_ms.unwrap_or(2000))
        );
    }
    if let Some(sorry) = &service.sorry_server {
        let _ = writeln!(
            out,
            "    sorry_server {} {}",
            sorry.address.as_deref().unwrap_or("?"),
            sorry.port.unwrap_or(0)
        );
        let _ = writeln!(out, "    sorry_server_lvs_method {}", method(sorry));
    }
    if !service.mark_rules.is_empty() {
        notes.push(Note::general(format!(
            "service {key}: marking rules left out (keepalived does not mark packets)"
        )));
    }
    if service.min_healthy.is_some_and(|n| n != 1) {
        notes.push(Note::general(format!(
            "service {key}: min_healthy left out (keepalived's quorum counts weight)"
        )));
    }
    for real_server in real_servers {
        let check = real_server
            .health_check
            .as_ref()
            .or(service.health_check.as_ref())
            .filter(|c| c.kind.as_deref() != Some("none"));
        let own_method = method(real_server);
        let _ = writeln!(
            out,
            "    real_server {} {} {{",
            real_server.address.as_deref().unwrap_or("?"),
            real_server.port.unwrap_or(0)
        );
        let weight = if real_server.state.as_deref() == Some("drained") {
            notes.push(Note::general(format!(
                "real server {} of {key} is drained: written with weight 0",
                real_server_key(real_server)
            )));
            0
        } else {
            real_server.weight.unwrap_or(1)
        };
        let _ = writeln!(out, "        weight {weight}");
        if shared_method.as_deref() != Some(own_method.as_str()) {
            let _ = writeln!(out, "        lvs_method {own_method}");
        }
        if let Some(upper) = real_server.upper_threshold.filter(|n| *n != 0) {
            let _ = writeln!(out, "        uthreshold {upper}");
        }
        if let Some(lower) = real_server.lower_threshold.filter(|n| *n != 0) {
            let _ = writeln!(out, "        lthreshold {lower}");
        }
        if let Some(check) = check {
            let subject = format!("real server {} of {key}", real_server_key(real_server));
            // A check of the real server's own has its own interval; the service's is
            // the virtual server's delay_loop.
            let own = real_server.health_check.is_some();
            write_check(out, check, own, &subject, notes);
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n\n");
}

/// `NAT`, `DR`, `TUN type gue port 6080 csum`.
fn method(real_server: &RealServerSpec) -> String {
    match real_server.forwarding.as_deref() {
        Some("masq") => "NAT".into(),
        Some("tunnel") => {
            let mut words = String::from("TUN");
            if let Some(kind @ ("gue" | "gre")) = real_server.tunnel_type.as_deref() {
                let _ = write!(words, " type {kind}");
                if let Some(port) = real_server.tunnel_port {
                    let _ = write!(words, " port {port}");
                }
                if let Some(checksum) = &real_server.tunnel_checksum {
                    let _ = write!(words, " {checksum}");
                }
            }
            words
        }
        // keepalived has no `local`: the kernel treats a local address as local anyway.
        _ => "DR".into(),
    }
}

fn write_check(
    out: &mut String,
    check: &HealthCheckSpec,
    own_interval: bool,
    subject: &str,
    notes: &mut Vec<Note>,
) {
    let kind = check.kind.as_deref().unwrap_or("");
    let block = match kind {
        "tcp" => "TCP_CHECK",
        "http" => "HTTP_GET",
        "https" => "SSL_GET",
        "exec" => "MISC_CHECK",
        "udp-dns" => "DNS_CHECK",
        _ => return,
    };
    if on_failure(check) == "quiesce" {
        out.push_str("        inhibit_on_failure\n");
    }
    if check.initial.as_deref() == Some("down") {
        out.push_str("        alpha\n");
    }
    let _ = writeln!(out, "        {block} {{");
    if own_interval {
        let _ = writeln!(
            out,
            "            delay_loop {}",
            seconds(check.interval_ms.unwrap_or(2000))
        );
    }
    if let Some(port) = check.port {
        let _ = writeln!(out, "            connect_port {port}");
    }
    let timeout = seconds(check.timeout_ms.unwrap_or(1000));
    if kind == "exec" {
        let mut path = check.command.clone().unwrap_or_default();
        for arg in check.args.iter().flatten() {
            path.push(' ');
            path.push_str(arg);
        }
        let _ = writeln!(out, "            misc_path \"{path}\"");
        let _ = writeln!(out, "            misc_timeout {timeout}");
    } else {
        let _ = writeln!(out, "            connect_timeout {timeout}");
    }
    let _ = writeln!(out, "            retry {}", check.fall.unwrap_or(3) - 1);
    match kind {
        "http" | "https" => {
            if let Some(host) = &check.host {
                let _ = writeln!(out, "            virtualhost {host}");
            }
            out.push_str("            url {\n");
            let _ = writeln!(
                out,
                "                path {}",
                check.path.as_deref().unwrap_or("/")
            );
            for status in check.expect_status.iter().flatten() {
                match status {
                    StatusSpec::Code(code) => {
                        let _ = writeln!(out, "                status_code {code}");
                    }
                    StatusSpec::Range(range) => {
                        let _ = writeln!(out, "                status_code {range}");
                    }
                }
            }
            if let Some(regex) = &check.expect_body_regex {
                let _ = writeln!(out, "                regex \"{regex}\"");
            }
            out.push_str("            }\n");
        }
        "udp-dns" => {
            if let Some(name) = &check.dns_name {
                let _ = writeln!(out, "            name {name}");
            }
            let _ = writeln!(
                out,
                "            type {}",
                check.dns_type.as_deref().unwrap_or("A")
            );
        }
        _ => {}
    }
    out.push_str("        }\n");
    let mut left_out = Vec::new();
    if check.rise.is_some_and(|r| r != 1) {
        left_out.push("rise (keepalived brings a server up after one success)");
    }
    if check.expect_body.is_some() {
        left_out.push("expect_body");
    }
    if check.method.as_deref() == Some("HEAD") {
        left_out.push("method HEAD");
    }
    if check.ca_file.is_some() {
        left_out.push("ca_file");
    }
    if check.dns_rcode.as_deref().is_some_and(|r| r != "NOERROR") {
        left_out.push("dns_rcode");
    }
    if !left_out.is_empty() {
        notes.push(Note::general(format!(
            "{subject}: health check's {} left out",
            left_out.join(", ")
        )));
    }
}

/// Our default is to quiesce; keepalived's, to remove.
fn on_failure(check: &HealthCheckSpec) -> &str {
    check.on_failure.as_deref().unwrap_or("quiesce")
}

/// Milliseconds as keepalived's seconds: `2`, `0.5`.
fn seconds(millis: i64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{}", millis as f64 / 1000.0)
    }
}
