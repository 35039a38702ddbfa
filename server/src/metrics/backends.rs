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

use lvs_model::agent::{RealServerStats, ServiceStats};

use super::ipvs::{split_address, Local};
use super::weights::ServiceWeights;
use super::{Flow, MetricsDetail, Pieces, Reported};

/// The backend gauges: name, help, and which value of a real server.
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

/// Appends the three backend families at `detail` to `out`, handing it over whenever it
/// holds a piece; stops when the reader has gone.
pub(super) fn write(out: &mut Pieces<'_>, reported: &[Reported], detail: MetricsDetail) -> Flow {
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
            out.text.push_str(line);
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
                        let weights = director.weights.of_service(&service.key);
                        let text = &mut out.text;
                        for server in &service.real_servers {
                            let (address, port) = split_address(&server.key);
                            text.push_str(&service_head);
                            escape(text, address);
                            label(text, "\",remote_port=\"", port);
                            text.push_str(&tail);
                            number(text, value.of(server, weights));
                        }
                        out.hand_over_when_full()?;
                    }
                }
                MetricsDetail::Service => {
                    for (service, local) in services {
                        let text = &mut out.text;
                        text.push_str(&head);
                        label(text, "\",local_address=\"", local.address);
                        label(text, "\",local_port=\"", local.port);
                        label(text, "\",proto=\"", local.proto);
                        label(text, "\",local_mark=\"", &local.mark);
                        text.push_str("\"} ");
                        number(text, value.summed(director, service));
                        out.hand_over_when_full()?;
                    }
                }
                MetricsDetail::Cluster => {
                    let total = director
                        .report
                        .services
                        .iter()
                        .map(|service| value.summed(director, service))
                        .fold(0, u64::wrapping_add);
                    out.text.push_str(&head);
                    out.text.push_str("\"} ");
                    number(&mut out.text, total);
                }
            }
        }
    }
    Flow::Continue(())
}

impl Value {
    /// This value of one real server; only the weight needs a lookup.
    fn of(self, server: &RealServerStats, weights: ServiceWeights<'_>) -> u64 {
        match self {
            Value::Active => u64::from(server.active_connections),
            Value::Inactive => u64::from(server.inactive_connections),
            Value::Weight => u64::from(weights.of(&server.key)),
        }
    }

    /// This value summed over a service's real servers.
    fn summed(self, director: &Reported, service: &ServiceStats) -> u64 {
        let weights = director.weights.of_service(&service.key);
        service
            .real_servers
            .iter()
            .map(|server| self.of(server, weights))
            .fold(0, u64::wrapping_add)
    }
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
