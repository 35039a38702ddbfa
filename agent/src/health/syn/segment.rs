//! The TCP segments of a SYN check: the SYN it sends, and what it reads of the answers
//! (a SYN-ACK or a reset) that its raw socket receives.

use std::net::IpAddr;

const TCP: u8 = 6;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
/// A header with one option, the MSS: a SYN as a real server expects one.
const HEADER: usize = 24;
const MSS: u16 = 1460;
const WINDOW: u16 = 64240;

/// What the real server's port said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// SYN-ACK: something listens.
    Open,
    /// RST: nothing does.
    Closed,
}

/// An answer from `from`'s `port` to our `to_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub from: IpAddr,
    pub port: u16,
    pub to_port: u16,
    pub answer: Answer,
}

/// A SYN from `source:source_port` to `target:target_port` with sequence number `seq`.
/// Both addresses must be of one family (the checksum covers them).
pub fn syn(
    (source, source_port): (IpAddr, u16),
    (target, target_port): (IpAddr, u16),
    seq: u32,
) -> [u8; HEADER] {
    let mut segment = [0_u8; HEADER];
    segment[0..2].copy_from_slice(&source_port.to_be_bytes());
    segment[2..4].copy_from_slice(&target_port.to_be_bytes());
    segment[4..8].copy_from_slice(&seq.to_be_bytes());
    // Data offset in 32-bit words, then the flags.
    segment[12] = ((HEADER / 4) as u8) << 4;
    segment[13] = SYN;
    segment[14..16].copy_from_slice(&WINDOW.to_be_bytes());
    // Kind 2 (MSS), length 4.
    segment[20] = 2;
    segment[21] = 4;
    segment[22..24].copy_from_slice(&MSS.to_be_bytes());
    let sum = checksum(source, target, &segment);
    segment[16..18].copy_from_slice(&sum.to_be_bytes());
    segment
}

/// Reads an IPv4 packet as a raw IPv4 socket gives it (the IP header first).
pub fn parse_v4(packet: &[u8]) -> Option<Received> {
    let header = usize::from(packet.first()? & 0x0f) * 4;
    if packet.get(9) != Some(&TCP) || header < 20 {
        return None;
    }
    let from: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    parse_tcp(IpAddr::from(from), packet.get(header..)?)
}

/// Reads a TCP segment from `from`, as a raw IPv6 socket gives it (no IP header).
pub fn parse_tcp(from: IpAddr, segment: &[u8]) -> Option<Received> {
    let port = u16::from_be_bytes(segment.get(0..2)?.try_into().ok()?);
    let to_port = u16::from_be_bytes(segment.get(2..4)?.try_into().ok()?);
    let flags = *segment.get(13)?;
    let answer = if flags & RST != 0 {
        Answer::Closed
    } else if flags & (SYN | ACK | FIN) == SYN | ACK {
        Answer::Open
    } else {
        return None;
    };
    Some(Received {
        from,
        port,
        to_port,
        answer,
    })
}

/// The TCP checksum: the ones' complement sum over the pseudo-header and the segment.
fn checksum(source: IpAddr, target: IpAddr, segment: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let high = u32::from(pair[0]) << 8;
            sum += high | pair.get(1).copied().map_or(0, u32::from);
        }
    };
    match (source, target) {
        (IpAddr::V4(s), IpAddr::V4(t)) => {
            add(&s.octets());
            add(&t.octets());
            add(&[0, TCP]);
        }
        (s, t) => {
            add(&ipv6_octets(s));
            add(&ipv6_octets(t));
            add(&[0, 0, 0, TCP]);
        }
    }
    add(&(segment.len() as u16).to_be_bytes());
    add(segment);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_sums_to_zero_with_its_checksum() {
        // Summing a segment whose checksum is in place gives 0xffff, i.e. 0 complemented.
        for (source, target) in [("10.0.0.1", "10.1.0.11"), ("2001:db8::1", "2001:db8:1::11")] {
            let (source, target): (IpAddr, IpAddr) =
                (source.parse().unwrap(), target.parse().unwrap());
            let segment = syn((source, 40000), (target, 80), 0x1234_5678);
            assert_eq!(
                checksum(source, target, &segment),
                0,
                "{source} -> {target}"
            );
            assert_eq!(&segment[0..4], &[0x9c, 0x40, 0, 80]);
            assert_eq!(segment[12] >> 4, 6, "24 bytes of header");
            assert_eq!(segment[13], SYN);
        }
    }

    #[test]
    fn a_known_segment_gets_the_known_checksum() {
        // 192.0.2.1:1024 -> 192.0.2.2:80, seq 1: summed apart from this code.
        let segment = syn(
            ("192.0.2.1".parse().unwrap(), 1024),
            ("192.0.2.2".parse().unwrap(), 80),
            1,
        );
        assert_eq!(segment[16..18], [0x14, 0xe1]);
    }

    fn answer(flags: u8) -> Vec<u8> {
        let mut packet = vec![0_u8; 40];
        packet[0] = 0x45;
        packet[9] = TCP;
        packet[12..16].copy_from_slice(&[10, 1, 0, 11]);
        packet[20..22].copy_from_slice(&80_u16.to_be_bytes());
        packet[22..24].copy_from_slice(&40000_u16.to_be_bytes());
        packet[33] = flags;
        packet
    }

    #[test]
    fn answers_are_read_from_their_flags() {
        let open = parse_v4(&answer(SYN | ACK)).unwrap();
        assert_eq!(open.from, IpAddr::from([10, 1, 0, 11]));
        assert_eq!((open.port, open.to_port), (80, 40000));
        assert_eq!(open.answer, Answer::Open);
        assert_eq!(parse_v4(&answer(RST | ACK)).unwrap().answer, Answer::Closed);
        assert_eq!(parse_v4(&answer(ACK)), None, "data of some connection");
        assert_eq!(parse_v4(&answer(SYN)), None);
        assert_eq!(parse_v4(&answer(SYN | ACK)[..30]), None, "cut short");
        let mut udp = answer(SYN | ACK);
        udp[9] = 17;
        assert_eq!(parse_v4(&udp), None);
    }
}
