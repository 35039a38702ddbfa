//! A desired-state diff (its JSON form, as stored in the change history and as the plan
//! shows it) as lines people read: what was added, removed, and which fields changed how.

use lvs_model::spec::MarkRuleSpec;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::mark_rules_text;

/// One object's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub change: ChangeKind,
    /// `service tcp:10.0.0.1:80`, `real server 10.1.0.1:80 of tcp:10.0.0.1:80`,
    /// `connection timeouts`, `host settings`.
    pub object: String,
    /// `weight 1 → 5; state active → drained`, or the settings of what was added.
    pub details: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    /// A symbol that does not rely on colour.
    pub fn sign(&self) -> &'static str {
        match self {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "−",
            ChangeKind::Changed => "~",
        }
    }

    /// The word, for screen readers and the CSS class.
    pub fn word(&self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }

    fn parse(word: &str) -> ChangeKind {
        match word {
            "added" => ChangeKind::Added,
            "removed" => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        }
    }
}

/// The lines of a diff's JSON form (`DiffSpec`), in its order.
pub fn lines(diff: &Value) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    if let Some(timeouts) = diff.get("timeouts") {
        lines.push(DiffLine {
            change: ChangeKind::Changed,
            object: "connection timeouts".to_owned(),
            details: changed_fields(timeouts.get("old"), timeouts.get("new")),
        });
    }
    if let Some(host) = diff.get("host") {
        lines.push(DiffLine {
            change: ChangeKind::Changed,
            object: "host settings".to_owned(),
            details: host_changes(host.get("old"), host.get("new")),
        });
    }
    for service in diff
        .get("services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = text(service.get("key"));
        let change = ChangeKind::parse(&text(service.get("change")));
        match change {
            ChangeKind::Added | ChangeKind::Removed => {
                let spec = service.get("service");
                let servers = spec
                    .and_then(|s| s.get("real_servers"))
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let mut details = settings(spec);
                details.push_str(&format!("; {servers} real servers"));
                lines.push(DiffLine {
                    change,
                    object: format!("service {key}"),
                    details,
                });
                // What a removal took away is shown nowhere else: each of its real servers
                // with its settings, as stored in the diff.
                if change == ChangeKind::Removed {
                    let pool = spec.and_then(|s| s.get("real_servers"));
                    for server in pool.and_then(Value::as_array).into_iter().flatten() {
                        lines.push(DiffLine {
                            change,
                            object: format!("real server {} of {key}", socket(server)),
                            details: settings(Some(server)),
                        });
                    }
                }
            }
            ChangeKind::Changed => {
                if let Some(settings) = service.get("settings") {
                    lines.push(DiffLine {
                        change,
                        object: format!("service {key}"),
                        details: changed_fields(settings.get("old"), settings.get("new")),
                    });
                }
            }
        }
        let servers = service.get("real_servers").and_then(Value::as_array);
        for server in servers.into_iter().flatten() {
            let change = ChangeKind::parse(&text(server.get("change")));
            let details = match change {
                ChangeKind::Added => settings(server.get("new")),
                ChangeKind::Removed => settings(server.get("old")),
                ChangeKind::Changed => changed_fields(server.get("old"), server.get("new")),
            };
            lines.push(DiffLine {
                change,
                object: format!("real server {} of {key}", text(server.get("key"))),
                details,
            });
        }
    }
    lines
}

/// `weight 1 → 5; state active → drained`.
fn changed_fields(old: Option<&Value>, new: Option<&Value>) -> String {
    let empty = Map::new();
    let old = old.and_then(Value::as_object).unwrap_or(&empty);
    let new = new.and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| {
            format!(
                "{} {} → {}",
                name.replace('_', " "),
                field_value(name, old.get(name)),
                field_value(name, new.get(name))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `VIPs not managed → dummy interface lvs0; conntrack host default → on`: the host
/// settings (`HostSpec`) are nested, and their unset values mean the host's own.
fn host_changes(old: Option<&Value>, new: Option<&Value>) -> String {
    let mut parts = Vec::new();
    let (old_vips, new_vips) = (vips(old), vips(new));
    if old_vips != new_vips {
        parts.push(format!("VIPs {old_vips} → {new_vips}"));
    }
    let empty = Map::new();
    let (old, new) = (
        sysctls(old).unwrap_or(&empty),
        sysctls(new).unwrap_or(&empty),
    );
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (before, after) = (sysctl(old.get(name)), sysctl(new.get(name)));
        if before != after {
            parts.push(format!("{name} {before} → {after}"));
        }
    }
    parts.join("; ")
}

fn sysctls(host: Option<&Value>) -> Option<&Map<String, Value>> {
    host?.get("sysctls")?.as_object()
}

/// Where a `HostSpec` puts the VIPs.
fn vips(host: Option<&Value>) -> String {
    match host.and_then(|h| h.get("vips")).filter(|v| !v.is_null()) {
        None => "not managed".to_owned(),
        Some(vips) => {
            // The model's defaults for what a stored spec always spells out.
            let create = vips.get("create").and_then(Value::as_bool).unwrap_or(true);
            let interface = vips
                .get("interface")
                .and_then(Value::as_str)
                .unwrap_or(lvs_model::host::DEFAULT_INTERFACE);
            let kind = if create { "dummy" } else { "existing" };
            format!("{kind} interface {interface}")
        }
    }
}

/// A sysctl's value as the settings form names it.
fn sysctl(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "host default".to_owned(),
        Some(Value::Bool(true)) => "on".to_owned(),
        Some(Value::Bool(false)) => "off".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// An object's set fields: `scheduler wrr; weight 2`.
fn settings(spec: Option<&Value>) -> String {
    let Some(fields) = spec.and_then(Value::as_object) else {
        return String::new();
    };
    fields
        .iter()
        .filter(|(name, value)| {
            // The key already names the address and port; unset thresholds say nothing.
            let shown_in_key = matches!(name.as_str(), "address" | "port" | "real_servers");
            let unset_threshold = name.ends_with("_threshold") && value.as_i64() == Some(0);
            !shown_in_key && !unset_threshold && !value.is_null() && !is_blank(value)
        })
        .map(|(name, value)| {
            let value = field_value(name, Some(value));
            format!("{} {value}", name.replace('_', " "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// A field's value; marking rules as the pages name them (`tcp 192.0.2.10:80,443`), as
/// their JSON would be hard to read.
fn field_value(name: &str, value: Option<&Value>) -> String {
    if name == "mark_rules" {
        let rules = value.and_then(|v| Vec::<MarkRuleSpec>::deserialize(v).ok());
        if let Some(rules) = rules.filter(|rules| !rules.is_empty()) {
            let rules: Vec<String> = rules.iter().map(mark_rules_text::shown).collect();
            return rules.join(" and ");
        }
    }
    shown(value)
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "none".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| shown(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// A real server spec's `10.1.0.1:80` or `[2001:db8::1]:80`, as its key reads.
fn socket(server: &Value) -> String {
    let address = text(server.get("address"));
    let port = shown(server.get("port"));
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_each_change_with_the_fields_that_moved() {
        let diff = json!({
            "from_generation": 1, "to_generation": 2, "summary": {},
            "services": [
                {"change": "changed", "key": "tcp:10.0.0.1:80",
                 "settings": {"old": {"scheduler": "wlc", "name": "web"},
                              "new": {"scheduler": "wrr", "name": "web"}},
                 "real_servers": [
                    {"change": "changed", "key": "10.1.0.1:80",
                     "old": {"weight": 1, "state": "active"}, "new": {"weight": 5, "state": "active"}},
                    {"change": "removed", "key": "10.1.0.2:80",
                     "old": {"address": "10.1.0.2", "port": 80, "forwarding": "route", "weight": 1,
                             "upper_threshold": 0, "state": "drained", "description": ""}}
                 ]},
                {"change": "added", "key": "udp:10.0.0.1:53",
                 "service": {"scheduler": "rr", "description": "", "real_servers": [{}, {}]}},
                {"change": "removed", "key": "tcp:[2001:db8::1]:443",
                 "service": {"protocol": "tcp", "address": "2001:db8::1", "port": 443,
                             "scheduler": "wlc", "persistence_timeout": 300, "name": "api",
                             "real_servers": [{"address": "2001:db8::11", "port": 443,
                                               "forwarding": "masq", "weight": 3,
                                               "state": "active"}]}}
            ]
        });
        let lines = lines(&diff);
        let shown: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|l| (l.change.sign(), l.object.as_str(), l.details.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("~", "service tcp:10.0.0.1:80", "scheduler wlc → wrr"),
                (
                    "~",
                    "real server 10.1.0.1:80 of tcp:10.0.0.1:80",
                    "weight 1 → 5"
                ),
                (
                    "−",
                    "real server 10.1.0.2:80 of tcp:10.0.0.1:80",
                    "forwarding route; state drained; weight 1"
                ),
                (
                    "+",
                    "service udp:10.0.0.1:53",
                    "scheduler rr; 2 real servers"
                ),
                (
                    "−",
                    "service tcp:[2001:db8::1]:443",
                    "name api; persistence timeout 300; protocol tcp; scheduler wlc; \
                     1 real servers"
                ),
                (
                    "−",
                    "real server [2001:db8::11]:443 of tcp:[2001:db8::1]:443",
                    "forwarding masq; state active; weight 3"
                ),
            ]
        );
    }

    #[test]
    fn marking_rules_read_as_the_pages_name_them() {
        let rule =
            |ports: Value| json!({"protocol": "tcp", "address": "192.0.2.10", "ports": ports});
        let diff = json!({
            "from_generation": 1, "to_generation": 2, "summary": {},
            "services": [
                {"change": "changed", "key": "fwmark:7:ipv4",
                 "settings": {"old": {"fwmark": 7, "mark_rules": [rule(json!([80]))]},
                              "new": {"fwmark": 7, "mark_rules": [rule(json!([80, "8000-8100"])),
                                                                  {"protocol": "udp", "address": "2001:db8::1", "ports": [53]}]}}},
                {"change": "changed", "key": "fwmark:8:ipv4",
                 "settings": {"old": {"fwmark": 8, "mark_rules": [rule(json!([443]))]},
                              "new": {"fwmark": 8}}},
                {"change": "added", "key": "fwmark:9:ipv4",
                 "service": {"fwmark": 9, "mark_rules": [rule(json!([25]))]}}
            ]
        });
        let details: Vec<String> = lines(&diff).into_iter().map(|l| l.details).collect();
        assert_eq!(
            details,
            [
                "mark rules tcp 192.0.2.10:80 → tcp 192.0.2.10:80,8000-8100 and udp [2001:db8::1]:53",
                "mark rules tcp 192.0.2.10:443 → none",
                "fwmark 9; mark rules tcp 192.0.2.10:25; 0 real servers",
            ]
        );
    }

    #[test]
    fn host_settings_name_each_value_that_moved() {
        let diff = json!({
            "from_generation": 1, "to_generation": 2, "summary": {}, "services": [],
            "host": {
                "old": {"vips": null,
                        "sysctls": {"conntrack": null, "conn_reuse_mode": 1, "sloppy_tcp": true}},
                "new": {"vips": {"interface": "eth1", "create": false},
                        "sysctls": {"conntrack": true, "conn_reuse_mode": null, "sloppy_tcp": true}}
            }
        });
        let lines = lines(&diff);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].object, "host settings");
        assert_eq!(
            lines[0].details,
            "VIPs not managed → existing interface eth1; conn_reuse_mode 1 → host default; \
             conntrack host default → on"
        );
    }
}
