//! The real server form: its fields, and reading them into the model's
//! [`RealServerSpec`].

use lvs_model::spec::RealServerSpec;

use super::form::FormState;

/// The fields the form shows (the model's field names), for placing its errors.
pub const FIELDS: &[&str] = &[
    "address",
    "port",
    "forwarding",
    "tunnel_type",
    "tunnel_port",
    "tunnel_checksum",
    "weight",
    "upper_threshold",
    "lower_threshold",
    "description",
];

pub const FORWARDING: &[(&str, &str)] = &[
    ("masq", "NAT (masquerade)"),
    ("route", "direct routing"),
    ("tunnel", "tunnel"),
    ("local", "local"),
];

pub const TUNNEL_TYPES: &[(&str, &str)] = &[
    ("", "-"),
    ("ipip", "IP-in-IP"),
    ("gue", "GUE"),
    ("gre", "GRE"),
];

pub const TUNNEL_CHECKSUMS: &[(&str, &str)] = &[
    ("", "-"),
    ("nocsum", "none"),
    ("csum", "checksum"),
    ("remcsum", "remote checksum offload"),
];

/// An empty form with the usual defaults.
pub fn blank(forwarding: &str) -> FormState {
    let mut form = FormState::default();
    form.set("forwarding", forwarding);
    form.set("weight", "1");
    form
}

/// The spec the form describes; numbers that are not numbers are marked on the form.
pub fn spec(form: &mut FormState) -> RealServerSpec {
    RealServerSpec {
        address: form.text("address"),
        port: form.number("port"),
        forwarding: form.text("forwarding"),
        tunnel_type: form.text("tunnel_type"),
        tunnel_port: form.number("tunnel_port"),
        tunnel_checksum: form.text("tunnel_checksum"),
        weight: form.number("weight"),
        upper_threshold: form.number("upper_threshold"),
        lower_threshold: form.number("lower_threshold"),
        state: None,
        description: form.value("description").to_owned(),
        health_check: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_it_shows() {
        let mut form = blank("route");
        form.set("address", "10.1.0.1");
        form.set("port", "8080");
        form.set("weight", "x");
        let spec = spec(&mut form);
        assert_eq!(spec.address.as_deref(), Some("10.1.0.1"));
        assert_eq!(spec.port, Some(8080));
        assert_eq!(spec.forwarding.as_deref(), Some("route"));
        assert_eq!(spec.weight, None);
        assert!(form.error("weight").is_some());
    }
}
