//! Where a request came from: the TCP peer, or, when the peer is a proxy the operator trusts
//! (`--trusted-proxies`), the client it forwarded for. The sign-in throttle counts per
//! client address, and every change records it, so behind a reverse proxy the proxy's own
//! address would make every client one.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header proxies append the address they received a request from to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// A request's client address, as [`TrustedProxies::client`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    /// The address decided for this request; a request the listener did not accept (none
    /// in the server) has the unspecified address.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses (`10.0.0.5`) and networks (`10.0.0.0/8`, `fd00::/8`); the error names the
    /// entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let nets = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an IP address or network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request from `peer`: walking `X-Forwarded-For` from its end, the
    /// first address not of a trusted proxy. A malformed entry ends the walk at the proxy
    /// that sent it, so a client cannot make itself look like another by writing garbage.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => client = address.to_canonical(),
                Err(_) => break,
            }
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// Tags `request` with its [`ClientAddr`], from the peer the listener recorded.
    pub fn tag(&self, mut request: Request) -> Request {
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            let client = self.client(peer.ip(), request.headers());
            request.extensions_mut().insert(ClientAddr(client));
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_speaks_for_its_client() {
        let none = TrustedProxies::default();
        let proxy = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        let header = forwarded(&["203.0.113.9"]);
        assert_eq!(none.client(ip("10.0.0.5"), &header), ip("10.0.0.5"));
        assert_eq!(proxy.client(ip("10.0.0.5"), &header), ip("203.0.113.9"));
        assert_eq!(proxy.client(ip("::1"), &header), ip("203.0.113.9"));
        // An untrusted peer's header is its own claim.
        assert_eq!(proxy.client(ip("192.0.2.1"), &header), ip("192.0.2.1"));
        // No header: the proxy itself.
        assert_eq!(
            proxy.client(ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_address_no_proxy_vouches_for() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // The client wrote a first entry itself; two trusted proxies appended theirs.
        let header = forwarded(&["198.51.100.7, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &header), ip("203.0.113.9"));
        // Garbage ends the walk at the proxy that passed it on.
        let header = forwarded(&["203.0.113.9, not-an-address"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &header), ip("10.0.0.5"));
        // IPv4 peers on an IPv6 socket are compared as IPv4.
        let header = forwarded(&["203.0.113.9"]);
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.5"), &header),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn entries_that_are_not_addresses_are_named() {
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err(),
            "\"10.0.0.0/33\" is not an IP address or network"
        );
        assert!(TrustedProxies::parse(&[" 192.0.2.1 "]).is_ok());
    }
}
