//! node_exporter's IPVS backend gauges (`node_ipvs_backend_connections_active`,
//! `..._inactive`, `node_ipvs_backend_weight`), written straight into the scrape's text.
//!
//! At real-server detail they are nearly all of a scrape (900,000 lines for 3 directors of
//! 10,000 x 10), so they skip the generic encoder: each service's labels are escaped once
//! and its real servers' lines are copies of them with the remote labels and the value.
//! The output is what `prometheus_client`'s text encoder writes for the same labels.
//!
//! A coarser `--metrics-detail` sums the series over the labels it leaves out, as
//! node_exporter does with `--collector.ipvs.backend-labels`: `service` leaves out the
//! remote labels, `cluster` every address label.

use lvs_model::agent::ServiceStats;

use super::ipvs::{split_address, Local};
use super::{MetricsDetail, Reported};

/// The backend gauges: name, help, and which value of a [`Backend`].
const BACKENDS: [(&str, &str, Value); 3] = [
    (
        "node_ipvs_backend_connections_active",
        "The current active connections by local and remote address",
        Value::Active,
    ),
    (
        "node_ipvs_backend_connections_inactive",
        "The current inactive connections by local and remote address",
        Value::Inactive,
    ),
    (
        "node_ipvs_backend_weight",
        "The current backend weight by local and remote address",
        Value::Weight,
    ),
];

#[derive(Debug, Clone, Copy)]
enum Value {
    Active,
    Inactive,
    Weight,
}

/// One backend series' values.
#[derive(Debug, Default, Clone, Copy)]
struct Backend {
    active: u64,
    inactive: u64,
    weight: u64,
}

impl Backend {
    fn get(&self, value: Value) -> u64 {
        match value {
            Value::Active => self.active,
            Value::Inactive => self.inactive,
            Value::Weight => self.weight,
        }
    }

    fn add(&mut self, other: Backend) {
        self.active += other.active;
        self.inactive += other.inactive;
        self.weight += other.weight;
    }
}

/// Appends the three backend families at `detail` to `out`.
pub(super) fn write(out: &mut String, reported: &[Reported], detail: MetricsDetail) {
    // The local labels of each service, parsed once for the three families.
    let locals: Vec<Vec<Local>> = reported
        .iter()
        .map(|r| {
            r.report
                .services
                .iter()
                .map(|s| Local::of(&s.key))
                .collect()
        })
        .collect();
    let mut head = String::new();
    let mut service_head = String::new();
    let mut tail = String::new();
    for (name, help, value) in BACKENDS {
        for line in ["# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n"] {
            out.push_str(line);
        }
        for (director, locals) in reported.iter().zip(&locals) {
            head.clear();
            head.push_str(name);
            label(&mut head, "{cluster=\"", &director.cluster);
            label(&mut head, "\",director=\"", &director.director);
            let services = director.report.services.iter().zip(locals);
            match detail {
                MetricsDetail::RealServer => {
                    for (service, local) in services {
                        service_head.clear();
                        service_head.push_str(&head);
                        label(&mut service_head, "\",local_address=\"", local.address);
                        label(&mut service_head, "\",local_port=\"", local.port);
                        service_head.push_str("\",remote_address=\"");
                        tail.clear();
                        label(&mut tail, "\",proto=\"", local.proto);
                        label(&mut tail, "\",local_mark=\"", &local.mark);
                        tail.push_str("\"} ");
                        for server in &service.real_servers {
                            let (address, port) = split_address(&server.key);
                            out.push_str(&service_head);
                            escape(out, address);
                            label(out, "\",remote_port=\"", port);
                            out.push_str(&tail);
                            let backend = real_server(director, service, server);
                            number(out, backend.get(value));
                        }
                    }
                }
                MetricsDetail::Service => {
                    for (service, local) in services {
                        out.push_str(&head);
                        label(out, "\",local_address=\"", local.address);
                        label(out, "\",local_port=\"", local.port);
                        label(out, "\",proto=\"", local.proto);
                        label(out, "\",local_mark=\"", &local.mark);
                        out.push_str("\"} ");
                        number(out, summed(director, service).get(value));
                    }
                }
                MetricsDetail::Cluster => {
                    let mut backend = Backend::default();
                    for service in &director.report.services {
                        backend.add(summed(director, service));
                    }
                    out.push_str(&head);
                    out.push_str("\"} ");
                    number(out, backend.get(value));
                }
            }
        }
    }
}

fn real_server(
    director: &Reported,
    service: &ServiceStats,
    server: &lvs_model::agent::RealServerStats,
) -> Backend {
    Backend {
        active: u64::from(server.active_connections),
        inactive: u64::from(server.inactive_connections),
        weight: u64::from(director.weights.of(&service.key, &server.key)),
    }
}

/// A service's real servers summed.
fn summed(director: &Reported, service: &ServiceStats) -> Backend {
    let mut sum = Backend::default();
    for server in &service.real_servers {
        sum.add(real_server(director, service, server));
    }
    sum
}

/// `before` (the previous label's end and this one's name), then `value` escaped.
fn label(out: &mut String, before: &str, value: &str) {
    out.push_str(before);
    escape(out, value);
}

/// A label value as the text format escapes it: `\`, `"` and line feeds.
fn escape(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `value` in decimal and the line's end, without the formatting machinery.
fn number(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escapes_are_the_text_formats() {
        let mut out = String::new();
        number(&mut out, 0);
        number(&mut out, 18_446_744_073_709_551_615);
        escape(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "0\n18446744073709551615\na\\\"b\\\\c\\nd");
    }
}
