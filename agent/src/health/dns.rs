//! `udp-dns` checks: one query over UDP (RFC 1035), up when the answer carries the expected
//! rcode. Answers with another id are ignored, as a resolver does.

use std::net::SocketAddr;

use lvs_model::DnsProbe;
use tokio::net::UdpSocket;

use super::probe::io_failure;
use super::Failure;

/// A query, encoded once; each attempt sets a new id.
#[derive(Debug)]
pub struct Query {
    packet: Vec<u8>,
    rcode: u8,
}

impl Query {
    pub fn new(probe: &DnsProbe) -> Query {
        Query {
            packet: encode(&probe.name, probe.kind.code()),
            rcode: probe.rcode.code(),
        }
    }

    pub async fn run(&self, target: SocketAddr) -> Result<(), Failure> {
        let local: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(local).await.map_err(io_failure)?;
        // Connected: the kernel drops datagrams from anyone else, and an ICMP port
        // unreachable comes back as a refused receive.
        socket.connect(target).await.map_err(io_failure)?;
        let id = new_id();
        let mut packet = self.packet.clone();
        packet[..2].copy_from_slice(&id.to_be_bytes());
        socket.send(&packet).await.map_err(io_failure)?;
        let mut answer = [0_u8; 512];
        loop {
            let read = socket.recv(&mut answer).await.map_err(io_failure)?;
            match rcode(&answer[..read], id) {
                Some(Ok(code)) if code == self.rcode => return Ok(()),
                Some(Ok(code)) => return Err(Failure::Rcode(code)),
                Some(Err(failure)) => return Err(failure),
                // Not the answer to this query: wait for it (the timeout bounds this).
                None => {}
            }
        }
    }
}

/// A standard query with recursion desired and id 0, for `name` and type `kind`.
fn encode(name: &str, kind: u16) -> Vec<u8> {
    let mut packet = Vec::with_capacity(18 + name.len());
    packet.extend_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        // The model allows labels of 1 to 63 bytes only.
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&kind.to_be_bytes());
    packet.extend_from_slice(&1_u16.to_be_bytes()); // class IN
    packet
}

/// The rcode of an answer to query `id`; `None` for a datagram that is not one.
fn rcode(answer: &[u8], id: u16) -> Option<Result<u8, Failure>> {
    if answer.len() < 12 || u16::from_be_bytes([answer[0], answer[1]]) != id {
        return None;
    }
    if answer[2] & 0x80 == 0 {
        return Some(Err(Failure::Protocol("a query, not an answer".into())));
    }
    Some(Ok(answer[3] & 0x0f))
}

fn new_id() -> u16 {
    (crate::random::fraction() * 65536.0) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_standard_query() {
        let packet = encode("health.example.", 28);
        assert_eq!(&packet[..12], &[0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&packet[12..], b"\x06health\x07example\x00\x00\x1c\x00\x01");
    }

    #[test]
    fn reads_the_rcode_of_the_answer_to_its_query() {
        let mut answer = [0_u8; 12];
        answer[..2].copy_from_slice(&0x1234_u16.to_be_bytes());
        answer[2] = 0x81;
        answer[3] = 0x83;
        assert_eq!(rcode(&answer, 0x1234), Some(Ok(3)));
        assert_eq!(rcode(&answer, 0x1235), None, "another query's answer");
        assert_eq!(rcode(&answer[..11], 0x1234), None, "too short");
        answer[2] = 0x01;
        assert!(matches!(rcode(&answer, 0x1234), Some(Err(_))));
    }
}
