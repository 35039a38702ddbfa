//! A real-server host as JSON: the machine behind direct-routing and tunnel services whose
//! agent (`lvs-agent --role real-server`) puts their VIPs on it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::{parse_real_server_address, Name, Text, ValidationErrors};

/// A real-server host as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerHostSpec {
    /// Lowercase letters, digits and '-', at most 63 characters, unique in the fleet;
    /// required to create one, and cannot be changed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "web-1",
            pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
            max_length = 63
        )
    )]
    pub name: Option<String>,
    /// At most 2,000 characters, without control characters other than newline and tab.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$", max_length = 2000)
    )]
    pub description: String,
    /// The host's addresses as real servers list them: 1 to 64 IPv4 or IPv6 addresses,
    /// each claimed by no other host. Shown sorted.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = json!(["10.0.1.11"]), min_items = 1, max_items = 64)
    )]
    pub addresses: Vec<String>,
}

/// Validated real-server host settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerHostSettings {
    pub name: Name,
    pub description: Text,
    /// Sorted, without repeats.
    pub addresses: Vec<IpAddr>,
}

impl RealServerHostSettings {
    /// The most addresses a host has: its interfaces' addresses that real servers may list,
    /// a few per interface.
    pub const MAX_ADDRESSES: usize = 64;
}

impl RealServerHostSpec {
    pub fn parse(&self) -> Result<RealServerHostSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = match self.name.as_deref() {
            None => errors.check("name", Err("required".into())),
            Some(name) => errors.check("name", Name::parse(name)),
        };
        let description = errors.check("description", Text::description(&self.description));
        let addresses = parse_addresses(&mut errors, &self.addresses);
        match (name, description, addresses) {
            (Some(name), Some(description), Some(addresses)) => Ok(RealServerHostSettings {
                name,
                description,
                addresses,
            }),
            _ => Err(errors),
        }
    }
}

impl From<&RealServerHostSettings> for RealServerHostSpec {
    fn from(settings: &RealServerHostSettings) -> Self {
        RealServerHostSpec {
            name: Some(settings.name.to_string()),
            description: settings.description.to_string(),
            addresses: settings.addresses.iter().map(IpAddr::to_string).collect(),
        }
    }
}

/// The addresses, sorted; each error names its entry (`addresses[2]`).
fn parse_addresses(errors: &mut ValidationErrors, texts: &[String]) -> Option<Vec<IpAddr>> {
    let max = RealServerHostSettings::MAX_ADDRESSES;
    if texts.is_empty() {
        errors.add("addresses", "must list at least one address");
        return None;
    }
    if texts.len() > max {
        errors.add(
            "addresses",
            format!("must list at most {max} addresses, not {}", texts.len()),
        );
        return None;
    }
    let mut addresses: Vec<(IpAddr, usize)> = Vec::with_capacity(texts.len());
    let mut valid = true;
    for (i, text) in texts.iter().enumerate() {
        let field = format!("addresses[{i}]");
        match errors.check(&field, parse_real_server_address(text)) {
            Some(address) => match addresses.iter().find(|(a, _)| *a == address) {
                // `2001:db8::1` and `2001:DB8:0::1` are one address.
                Some((_, first)) => {
                    errors.add(field, format!("repeats addresses[{first}] ({address})"));
                    valid = false;
                }
                None => addresses.push((address, i)),
            },
            None => valid = false,
        }
    }
    if !valid {
        return None;
    }
    let mut addresses: Vec<IpAddr> = addresses.into_iter().map(|(a, _)| a).collect();
    addresses.sort();
    Some(addresses)
}
