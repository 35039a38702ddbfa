//! A fwmark service's marking rules as text: in its settings form one rule per line,
//! `tcp 192.0.2.10 80,443,8000-8100` (protocol, VIP, ports and ranges), and on the pages
//! `tcp 192.0.2.10:80,443`. Only a line's shape is read here: the model checks every value,
//! and its errors are told by line number.

use std::net::IpAddr;

use lvs_model::spec::{MarkRuleSpec, PortSpec};
use lvs_model::FieldError;

/// The form field, named as the model's.
pub const FIELD: &str = "mark_rules";

/// The rules of a textarea, as read.
#[derive(Debug, Default)]
pub struct Lines {
    /// The rules of the lines that could be split, in order.
    pub rules: Vec<MarkRuleSpec>,
    /// Each rule's line, numbered from 1.
    numbers: Vec<usize>,
    /// Lines that are not a protocol, a VIP and ports, with why.
    unreadable: Vec<(usize, String)>,
}

/// Reads the text; blank lines are skipped.
pub fn read(text: &str) -> Lines {
    let mut lines = Lines::default();
    for (number, line) in (1..).zip(text.lines()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [protocol, address, ports @ ..] if !ports.is_empty() => {
                // `80, 443` reads as `80,443`: a space after a comma is no mistake.
                let ports = ports.join(",");
                lines.rules.push(MarkRuleSpec {
                    protocol: Some((*protocol).to_owned()),
                    address: Some((*address).to_owned()),
                    ports: ports
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(port)
                        .collect(),
                });
                lines.numbers.push(number);
            }
            _ => lines.unreadable.push((
                number,
                format!(
                    "{:?} is not a protocol, a VIP and ports, as in \"tcp 192.0.2.10 80,443\"",
                    line.trim()
                ),
            )),
        }
    }
    lines
}

/// A number as a port, for the model to range-check; anything else as a range.
fn port(text: &str) -> PortSpec {
    text.parse()
        .map_or_else(|_| PortSpec::Range(text.to_owned()), PortSpec::Port)
}

impl Lines {
    /// One message for the field: the unreadable lines and the model's `errors` about the
    /// rules (`mark_rules[2].address`), each naming its line, in the text's order.
    pub fn message(&self, errors: &[FieldError]) -> Option<String> {
        let mut found: Vec<(usize, String)> = self
            .unreadable
            .iter()
            .map(|(number, why)| (*number, format!("line {number}: {why}")))
            .collect();
        for error in errors {
            let Some(rest) = error.field.strip_prefix(FIELD) else {
                continue;
            };
            if rest.is_empty() {
                found.push((0, error.message.clone()));
                continue;
            }
            let Some((index, part)) = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(i, part)| Some((i.parse::<usize>().ok()?, part)))
            else {
                continue;
            };
            let number = self.numbers.get(index).copied().unwrap_or(index + 1);
            let part = part.trim_start_matches('.');
            let what = match part.split('[').next().unwrap_or("") {
                "address" => "VIP",
                "" => "",
                other => other,
            };
            let text = if what.is_empty() {
                format!("line {number}: {}", error.message)
            } else {
                format!("line {number}, {what}: {}", error.message)
            };
            found.push((number, text));
        }
        found.sort_by_key(|(number, _)| *number);
        let messages: Vec<String> = found.into_iter().map(|(_, text)| text).collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }
}

/// The textarea's text of stored rules, as [`read`] reads it back.
pub fn write(rules: &[MarkRuleSpec]) -> String {
    rules
        .iter()
        .map(|rule| {
            format!(
                "{} {} {}\n",
                rule.protocol.as_deref().unwrap_or(""),
                rule.address.as_deref().unwrap_or(""),
                ports(rule)
            )
        })
        .collect()
}

/// A rule as the pages name it: `tcp 192.0.2.10:80,443`, `udp [2001:db8::1]:53`.
pub fn shown(rule: &MarkRuleSpec) -> String {
    let address = rule.address.as_deref().unwrap_or("");
    let address = match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => address.to_owned(),
    };
    format!(
        "{} {address}:{}",
        rule.protocol.as_deref().unwrap_or(""),
        ports(rule)
    )
}

/// Rules in a line of a list: `marks tcp 192.0.2.10:80,443 and 2 more rules`; `""` for none.
pub fn summary(rules: &[MarkRuleSpec]) -> String {
    match rules {
        [] => String::new(),
        [one] => format!("marks {}", shown(one)),
        [first, rest @ ..] => {
            let more = if rest.len() == 1 { "rule" } else { "rules" };
            format!("marks {} and {} more {more}", shown(first), rest.len())
        }
    }
}

fn ports(rule: &MarkRuleSpec) -> String {
    rule.ports
        .iter()
        .map(|port| match port {
            PortSpec::Port(n) => n.to_string(),
            PortSpec::Range(text) => text.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn lines_read_back_as_written() {
        let text = "tcp 192.0.2.10 80,443,8000-8100\nudp 2001:db8::1 53\n";
        let lines = read(text);
        assert_eq!(write(&lines.rules), text);
        assert_eq!(lines.message(&[]), None);
        assert_eq!(
            lines.rules[0].ports,
            [
                PortSpec::Port(80),
                PortSpec::Port(443),
                PortSpec::Range("8000-8100".into())
            ]
        );
        let shown: Vec<String> = lines.rules.iter().map(shown).collect();
        assert_eq!(
            shown,
            ["tcp 192.0.2.10:80,443,8000-8100", "udp [2001:db8::1]:53"]
        );
        assert_eq!(
            summary(&lines.rules),
            "marks tcp 192.0.2.10:80,443,8000-8100 and 1 more rule"
        );
        assert_eq!(summary(&[]), "");
        assert_eq!(
            read(" tcp  192.0.2.10  80, 443 ,\n").rules[0].ports,
            [PortSpec::Port(80), PortSpec::Port(443)],
            "spaces around commas are no mistake"
        );
    }

    #[test]
    fn errors_name_their_line() {
        let lines = read("tcp 192.0.2.10 80\n\ntcp 192.0.2.10\nudp 2001:db8::1 70000\n");
        assert_eq!(lines.rules.len(), 2, "the unreadable line is left out");
        let errors = [
            error(
                "mark_rules[1].address",
                "2001:db8::1 is not an ipv4 address",
            ),
            error(
                "mark_rules[1].ports[0]",
                "must be between 1 and 65535, not 70000",
            ),
            error("mark_rules", "at most 64 rules"),
            error("scheduler", "not ours"),
        ];
        assert_eq!(
            lines.message(&errors).as_deref(),
            Some(
                "at most 64 rules; \
                 line 3: \"tcp 192.0.2.10\" is not a protocol, a VIP and ports, as in \
                 \"tcp 192.0.2.10 80,443\"; \
                 line 4, VIP: 2001:db8::1 is not an ipv4 address; \
                 line 4, ports: must be between 1 and 65535, not 70000"
            )
        );
        assert_eq!(read("tcp 192.0.2.10 80").message(&errors[3..]), None);
    }
}
