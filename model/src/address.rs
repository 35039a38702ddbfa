//! Which IP addresses can be virtual addresses and real servers.

use std::net::IpAddr;

/// A virtual address: one that packets can be addressed to as a host. IPVS only looks at
/// packets of type `PACKET_HOST`, so broadcast and multicast addresses are never balanced.
pub fn parse_virtual_address(s: &str) -> Result<IpAddr, String> {
    let address = parse(s)?;
    if address.is_unspecified() {
        return Err(format!(
            "{address} is not a usable virtual address; no packet is sent to it"
        ));
    }
    reject_multicast_and_broadcast(address)?;
    Ok(address)
}

/// A real server address: the kernel accepts only unicast (or local) destinations
/// (`ip_vs_new_dest` in `ip_vs_ctl.c`), and no IPv6 link-local ones.
pub fn parse_real_server_address(s: &str) -> Result<IpAddr, String> {
    let address = parse(s)?;
    if address.is_unspecified() {
        return Err(format!("{address} is not a unicast address"));
    }
    reject_multicast_and_broadcast(address)?;
    if let IpAddr::V6(v6) = address {
        if v6.is_unicast_link_local() {
            return Err(format!(
                "{address} is link-local; IPVS takes link-local real servers only on the director itself, and they cannot be routed to"
            ));
        }
    }
    Ok(address)
}

fn parse(s: &str) -> Result<IpAddr, String> {
    let address: IpAddr = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))?;
    if let IpAddr::V6(v6) = address {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Err(format!(
                "{address} is an IPv4-mapped IPv6 address; write {v4} instead"
            ));
        }
    }
    Ok(address)
}

fn reject_multicast_and_broadcast(address: IpAddr) -> Result<(), String> {
    if address.is_multicast() {
        return Err(format!("{address} is a multicast address"));
    }
    if let IpAddr::V4(v4) = address {
        if v4.is_broadcast() {
            return Err(format!("{address} is the broadcast address"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_addresses() {
        assert!(parse_virtual_address("10.0.0.1").is_ok());
        assert!(parse_virtual_address("2001:db8::1").is_ok());
        assert!(parse_virtual_address("0.0.0.0").is_err());
        assert!(parse_virtual_address("224.0.0.1").is_err());
        assert!(parse_virtual_address("255.255.255.255").is_err());
        assert!(parse_virtual_address("::ffff:10.0.0.1")
            .unwrap_err()
            .contains("write 10.0.0.1"));
        assert!(parse_virtual_address("10.0.0")
            .unwrap_err()
            .contains("not an IPv4 or IPv6"));
    }

    #[test]
    fn real_server_addresses() {
        assert!(parse_real_server_address("192.168.1.10").is_ok());
        assert!(parse_real_server_address("fe80::1").is_err());
        assert!(parse_real_server_address("::").is_err());
        assert!(parse_real_server_address("ff02::1").is_err());
    }
}
