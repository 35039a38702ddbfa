//! The agent's nftables table for firewall-mark services: one rule per marking rule,
//! setting the service's mark on packets of its protocol to its VIP and ports, before
//! routing (`prerouting`, at the `mangle` priority), so IPVS sees the mark.

use std::fmt::Write as _;

use lvs_host::NftTable;
use lvs_model::mark_rules::MarkRule;

/// The table; no other is ever touched.
pub const TABLE: NftTable = NftTable::new("inet", "lvs_fleet");

/// How [`TABLE`] is named in reports.
pub const OBJECT: &str = "nftables table inet lvs_fleet";

/// The table's content for `marks` (the mark and a rule of it, in service order).
pub fn render(marks: &[(u32, MarkRule)]) -> String {
    let mut body = String::from(
        "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n",
    );
    for (mark, rule) in marks {
        let family = if rule.address.is_ipv4() { "ip" } else { "ip6" };
        let ports: Vec<String> = rule.ports.iter().map(ToString::to_string).collect();
        let ports = match ports.as_slice() {
            [one] => one.clone(),
            many => format!("{{ {} }}", many.join(", ")),
        };
        let _ = writeln!(
            body,
            "\t\t{family} daddr {} {} dport {ports} meta mark set {mark:#x}",
            rule.address, rule.protocol
        );
    }
    body.push_str("\t}\n");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::mark_rules::PortRange;
    use lvs_model::Protocol;

    #[test]
    fn each_rule_marks_its_protocol_address_and_ports() {
        let rule = |protocol, address: &str, ports: &[(u16, u16)]| MarkRule {
            protocol,
            address: address.parse().expect("an address"),
            ports: ports
                .iter()
                .map(|&(first, last)| PortRange { first, last })
                .collect(),
        };
        let body = render(&[
            (
                7,
                rule(Protocol::Tcp, "192.0.2.10", &[(80, 80), (443, 443)]),
            ),
            (8, rule(Protocol::Sctp, "2001:db8::10", &[(5000, 5010)])),
        ]);
        assert_eq!(
            body,
            "\tchain prerouting {\n\
             \t\ttype filter hook prerouting priority mangle; policy accept;\n\
             \t\tip daddr 192.0.2.10 tcp dport { 80, 443 } meta mark set 0x7\n\
             \t\tip6 daddr 2001:db8::10 sctp dport 5000-5010 meta mark set 0x8\n\
             \t}\n"
        );
    }
}
