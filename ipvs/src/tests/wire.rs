//! Reading messages in place: datagrams holding several messages, refusals with and
//! without the echoed request, and malformed lengths, which must be errors, never panics
//! or reads past the datagram.

#![cfg(target_endian = "little")]

use super::{genl_msg, nest, nla, unhex};
use crate::attrs::Attrs;
use crate::error::Error;
use crate::wire::{messages, Incoming, Message};

fn all(datagram: &[u8]) -> Result<Vec<Message<'_>>, Error> {
    messages(datagram).collect()
}

fn decode_error(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Decode(message)) => message,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn a_datagram_holds_several_messages_each_padded_to_four_bytes() {
    // A 3-byte payload leaves the first message 23 bytes long, padded to 24.
    let mut datagram = genl_msg(0x22, 0x2, 9, 0, 1, &[]);
    datagram.extend_from_slice(&[7, 7, 7]);
    let first_len = datagram.len() as u32;
    datagram[..4].copy_from_slice(&first_len.to_ne_bytes());
    datagram.push(0);
    datagram.extend(genl_msg(0x22, 0x2, 10, 0, 1, &[nla(3, &[1, 2])]));
    datagram.extend(unhex("14000000 0300 0200 0b000000 00000000 00000000"));
    let found = all(&datagram).unwrap();
    let seqs: Vec<u32> = found.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [9, 10, 11]);
    let Incoming::Reply(second) = found[1].incoming().unwrap() else {
        panic!("the second message is a reply");
    };
    assert_eq!(
        second.attrs("reply").unwrap().get(3u16),
        Some(&[1u8, 2][..])
    );
    assert!(matches!(
        found[2].incoming().unwrap(),
        Incoming::Done(Ok(()))
    ));
}

#[test]
fn message_lengths_outside_the_datagram_are_errors() {
    let short = unhex("14000000 0300");
    assert!(decode_error(all(&short)).contains("a header takes 16"));

    let mut past_the_end = genl_msg(0x22, 0, 1, 0, 1, &[]);
    past_the_end[..4].copy_from_slice(&64u32.to_ne_bytes());
    assert!(decode_error(all(&past_the_end)).contains("length 64 with 20 bytes"));

    let mut below_the_header = genl_msg(0x22, 0, 1, 0, 1, &[]);
    below_the_header[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(decode_error(all(&below_the_header)).contains("length 8"));

    // A data message too short for the generic netlink header.
    let bare = unhex("10000000 2200 0000 01000000 00000000");
    let message = all(&bare).unwrap()[0];
    assert!(decode_error(message.incoming()).contains("the header takes 4"));
}

#[test]
fn attribute_lengths_outside_their_level_are_errors() {
    let mut attrs = nla(1, &[1, 2, 3, 4]);
    attrs[..2].copy_from_slice(&12u16.to_ne_bytes());
    let error = decode_error(Attrs::parse("service", &attrs));
    assert!(
        error.starts_with("service: malformed attributes: length 12"),
        "{error}"
    );

    let error = decode_error(Attrs::parse("service", &[4, 0]));
    assert!(error.contains("length 0 with 2 bytes left"), "{error}");

    // A nested level is checked when it is opened.
    let mut inner = nla(2, &[0; 4]);
    inner[..2].copy_from_slice(&3u16.to_ne_bytes());
    let outer = nla(1 | 0x8000, &inner);
    let top = Attrs::parse("reply", &outer).unwrap();
    let error = decode_error(top.nested(1u16, "destination"));
    assert!(
        error.starts_with("destination: malformed attributes"),
        "{error}"
    );
}

#[test]
fn nested_and_byte_order_flags_do_not_change_the_type() {
    let attrs = [nest(1, &[nla(2, &[9, 0])]), nla(3 | 0x4000, &[5, 0, 0, 0])].concat();
    let top = Attrs::parse("reply", &attrs).unwrap();
    assert_eq!(top.opt_u32(3u16).unwrap(), Some(5));
    let nested = top.nested(1u16, "service").unwrap();
    assert_eq!(nested.opt_u16(2u16).unwrap(), Some(9));
    assert_eq!(top.get(4u16), None);
}

#[test]
fn a_capped_refusal_carries_its_extended_ack_after_the_echoed_header() {
    // With extended acks on, the kernel echoes only the request's header (NLM_F_CAPPED)
    // and adds NLMSGERR_ATTR_MSG (NLM_F_ACK_TLVS).
    let mut body = (-22i32).to_ne_bytes().to_vec();
    body.extend(unhex("30000000 2200 0500 07000000 00000000"));
    body.extend(nla(1, b"bad scheduler\0"));
    let mut nack = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
    nack.extend(unhex("0200 0003 07000000 92100000"));
    nack.extend(body);
    let message = all(&nack).unwrap()[0];
    match message.incoming().unwrap() {
        Incoming::Nack(n) => {
            assert_eq!(n.errno, 22);
            assert_eq!(n.message.as_deref(), Some("bad scheduler"));
        }
        other => panic!("expected a nack, got {other:?}"),
    }

    // Without NLM_F_ACK_TLVS there is no message, whatever follows.
    let mut plain = nack.clone();
    plain[6..8].copy_from_slice(&0x0100u16.to_ne_bytes());
    let Incoming::Nack(n) = all(&plain).unwrap()[0].incoming().unwrap() else {
        panic!("a nack");
    };
    assert_eq!((n.errno, n.message), (22, None));
}

#[test]
fn a_dump_that_ends_in_an_error_reports_it() {
    let mut done = unhex("00000000 0300 0202 08000000 92100000 fdffffff");
    done.extend(nla(1, b"no such service\0"));
    let len = done.len() as u32;
    done[..4].copy_from_slice(&len.to_ne_bytes());
    match all(&done).unwrap()[0].incoming().unwrap() {
        Incoming::Done(Err(n)) => {
            assert_eq!(n.errno, 3);
            assert_eq!(n.message.as_deref(), Some("no such service"));
        }
        other => panic!("expected a failed dump, got {other:?}"),
    }
}

#[test]
fn a_malformed_extended_ack_keeps_the_errno() {
    let mut body = (-2i32).to_ne_bytes().to_vec();
    body.extend(unhex("14000000 2200 0500 07000000 00000000"));
    body.extend(unhex("0900 0100 6e6f"));
    let mut nack = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
    nack.extend(unhex("0200 0003 07000000 92100000"));
    nack.extend(body);
    let Incoming::Nack(n) = all(&nack).unwrap()[0].incoming().unwrap() else {
        panic!("a nack");
    };
    assert_eq!((n.errno, n.message), (2, None));
}
