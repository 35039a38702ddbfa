//! A diff (a plan, or a committed change) as people read it: one line per object, `+` added,
//! `-` removed, `~` changed with each changed field's old and new value.

use std::fmt::Write;

use lvs_model::{ChangeKind, DiffSpec, DiffSummary};
use serde::Serialize;
use serde_json::Value;

use crate::keys::real_server_key;

/// The plan, each line ending in a newline.
pub fn render(diff: &DiffSpec) -> String {
    let mut out = String::new();
    if let Some(change) = &diff.timeouts {
        let _ = writeln!(out, "~ timeouts: {}", fields(&change.old, &change.new));
    }
    if let Some(change) = &diff.host {
        let _ = writeln!(out, "~ host settings: {}", fields(&change.old, &change.new));
    }
    for service in &diff.services {
        match service.change {
            ChangeKind::Added | ChangeKind::Removed => {
                let sign = sign(service.change);
                let _ = writeln!(out, "{sign} service {}", service.key);
                let real_servers = service
                    .service
                    .iter()
                    .flat_map(|s| s.real_servers.iter().flatten());
                for real_server in real_servers {
                    let _ = writeln!(
                        out,
                        "    {sign} real server {} {}",
                        real_server_key(real_server),
                        describe(real_server)
                    );
                }
            }
            ChangeKind::Changed => {
                match &service.settings {
                    Some(settings) => {
                        let _ = writeln!(
                            out,
                            "~ service {}: {}",
                            service.key,
                            fields(
                                &without_real_servers(&settings.old),
                                &without_real_servers(&settings.new)
                            )
                        );
                    }
                    None => {
                        let _ = writeln!(out, "~ service {}", service.key);
                    }
                }
                for real_server in &service.real_servers {
                    let sign = sign(real_server.change);
                    let line = match (&real_server.old, &real_server.new) {
                        (Some(old), Some(new)) => format!(": {}", fields(old, new)),
                        (None, Some(only)) | (Some(only), None) => format!(" {}", describe(only)),
                        (None, None) => String::new(),
                    };
                    let _ = writeln!(out, "    {sign} real server {}{line}", real_server.key);
                }
            }
        }
    }
    let _ = writeln!(out, "{}", summary_sentence(&diff.summary));
    out
}

/// `Plan: 1 service to add, 0 to remove, 1 to change; ...`, or that nothing changes.
pub fn summary_sentence(summary: &DiffSummary) -> String {
    if *summary == DiffSummary::default() {
        return "No changes: the cluster already matches the document.".into();
    }
    let service = if summary.services_added == 1 {
        "service"
    } else {
        "services"
    };
    let real_server = if summary.real_servers_added == 1 {
        "real server"
    } else {
        "real servers"
    };
    let mut sentence = format!(
        "Plan: {} {service} to add, {} to remove, {} to change; \
         {} {real_server} to add, {} to remove, {} to change",
        summary.services_added,
        summary.services_removed,
        summary.services_changed,
        summary.real_servers_added,
        summary.real_servers_removed,
        summary.real_servers_changed,
    );
    if summary.timeouts_changed {
        sentence.push_str("; timeouts change");
    }
    if summary.host_changed {
        sentence.push_str("; host settings change");
    }
    sentence.push('.');
    sentence
}

fn sign(change: ChangeKind) -> char {
    match change {
        ChangeKind::Added => '+',
        ChangeKind::Removed => '-',
        ChangeKind::Changed => '~',
    }
}

/// A real server's forwarding and weight, in a few words.
fn describe(real_server: &lvs_model::spec::RealServerSpec) -> String {
    let mut words = crate::describe::forwarding(real_server);
    let _ = write!(words, " weight {}", real_server.weight.unwrap_or(1));
    if let Some(state) = real_server.state.as_deref().filter(|s| *s != "active") {
        let _ = write!(words, " {state}");
    }
    words
}

fn without_real_servers(service: &lvs_model::spec::ServiceSpec) -> lvs_model::spec::ServiceSpec {
    lvs_model::spec::ServiceSpec {
        real_servers: None,
        ..service.clone()
    }
}

/// `weight 1 → 5, state active → drained`: the fields whose values differ.
fn fields<T: Serialize>(old: &T, new: &T) -> String {
    let (old, new) = (
        serde_json::to_value(old).unwrap_or(Value::Null),
        serde_json::to_value(new).unwrap_or(Value::Null),
    );
    let mut changes = Vec::new();
    collect(&old, &new, "", &mut changes);
    if changes.is_empty() {
        "changed".into()
    } else {
        changes.join(", ")
    }
}

/// Walks objects field by field, so a nested change reads `sysctls.conntrack null → true`.
fn collect(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let name = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &name,
                    out,
                );
            }
        }
        _ => out.push(format!("{path} {} → {}", text(old), text(new))),
    }
}

/// A value as written on a line: strings unquoted, absence as `none`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_real_server_shows_only_its_changed_fields() {
        let diff: DiffSpec = serde_json::from_value(serde_json::json!({
            "from_generation": 1, "to_generation": 2,
            "summary": {"services_added": 1, "services_removed": 0, "services_changed": 1,
                        "real_servers_added": 1, "real_servers_removed": 0,
                        "real_servers_changed": 1, "timeouts_changed": true, "host_changed": false},
            "timeouts": {"old": {"tcp": 900, "tcpfin": null, "udp": null},
                         "new": {"tcp": 600, "tcpfin": null, "udp": null}},
            "services": [
                {"change": "added", "key": "udp:192.0.2.10:53",
                 "service": {"protocol": "udp", "address": "192.0.2.10", "port": 53,
                             "real_servers": [{"address": "10.1.0.21", "port": 53,
                                               "forwarding": "route", "weight": 2}]}},
                {"change": "changed", "key": "tcp:192.0.2.10:80", "real_servers": [
                    {"change": "changed", "key": "10.1.0.11:8080",
                     "old": {"address": "10.1.0.11", "port": 8080, "forwarding": "masq", "weight": 1},
                     "new": {"address": "10.1.0.11", "port": 8080, "forwarding": "masq", "weight": 5,
                             "state": "drained"}}]}
            ]
        }))
        .unwrap();
        assert_eq!(
            render(&diff),
            "~ timeouts: tcp 900 → 600\n\
             + service udp:192.0.2.10:53\n\
             \x20   + real server 10.1.0.21:53 route weight 2\n\
             ~ service tcp:192.0.2.10:80\n\
             \x20   ~ real server 10.1.0.11:8080: state none → drained, weight 1 → 5\n\
             Plan: 1 service to add, 0 to remove, 1 to change; \
             1 real server to add, 0 to remove, 1 to change; timeouts change.\n"
        );
    }
}
