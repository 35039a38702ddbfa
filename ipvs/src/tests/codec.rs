//! The codec on its own: attributes written and read against golden bytes, encode then
//! decode round trips over arbitrary attribute lists, and reading messages in place
//! (datagrams holding several messages, refusals with and without the echoed request, and
//! malformed lengths, which must be errors, never panics or reads past the datagram).

#![cfg(target_endian = "little")]

use std::net::IpAddr;

use proptest::prelude::*;

use super::{genl_msg, hex, nest, nla, unhex};
use crate::codec::{messages, AttrId, Attrs, Incoming, Message, Request};
use crate::consts::{CmdAttr, DestAttr, SvcAttr};
use crate::error::Error;

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
        second.attrs("reply").unwrap().get(CmdAttr::Daemon),
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
    let error = decode_error(Attrs::<SvcAttr>::parse("service", &attrs));
    assert!(
        error.starts_with("service: malformed attributes: length 12"),
        "{error}"
    );

    let error = decode_error(Attrs::<SvcAttr>::parse("service", &[4, 0]));
    assert!(error.contains("length 0 with 2 bytes left"), "{error}");

    // A nested level is checked when it is opened.
    let mut inner = nla(2, &[0; 4]);
    inner[..2].copy_from_slice(&3u16.to_ne_bytes());
    let outer = nla(2 | 0x8000, &inner);
    let top = Attrs::<CmdAttr>::parse("reply", &outer).unwrap();
    let error = decode_error(top.nested::<DestAttr>(CmdAttr::Dest, "destination"));
    assert!(
        error.starts_with("destination: malformed attributes"),
        "{error}"
    );
}

#[test]
fn nested_and_byte_order_flags_do_not_change_the_type() {
    let attrs = [nest(1, &[nla(2, &[9, 0])]), nla(4 | 0x4000, &[5, 0, 0, 0])].concat();
    let top = Attrs::<CmdAttr>::parse("reply", &attrs).unwrap();
    assert_eq!(top.opt_u32(CmdAttr::TimeoutTcp).unwrap(), Some(5));
    let nested = top.nested::<SvcAttr>(CmdAttr::Service, "service").unwrap();
    assert_eq!(nested.opt_u16(SvcAttr::Protocol).unwrap(), Some(9));
    assert_eq!(top.get(CmdAttr::TimeoutTcpFin), None);
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

/// Any attribute number, for lists whose levels the tests make up.
#[derive(Debug, Clone, Copy)]
struct Any(u16);

impl AttrId for Any {
    fn id(self) -> u16 {
        self.0
    }
}

#[test]
fn attributes_are_written_padded_and_nested_as_the_kernel_lays_them_out() {
    let mut request = Request::<Any>::new(4, 1);
    request
        .attrs()
        .u8(Any(1), 7)
        .unwrap()
        .be16(Any(2), 8080)
        .unwrap()
        .string(Any(3), "wlc")
        .unwrap()
        .nested::<Any>(Any(4), |inner| {
            inner
                .u16(Any(1), 10)?
                .addr(Any(2), IpAddr::from([10, 0, 0, 1]))?
                .nested::<Any>(Any(3), |deeper| {
                    deeper.bytes(Any(9), &(1u64 << 40).to_ne_bytes())?;
                    Ok(())
                })?;
            Ok(())
        })
        .unwrap()
        .u32(Any(5), 300)
        .unwrap();
    let bytes = request.finish(0x22, 9, false).unwrap();
    let expected = unhex(
        "58000000 2200 0500 09000000 00000000  04010000
         0500 0100 07 000000                # u8, padded to 4
         0600 0200 1f90 0000                # be16 8080
         0800 0300 776c6300                 # \"wlc\" and its NUL
         2400 0480                          # nested: NLA_F_NESTED, length with padding
           0600 0100 0a00 0000
           0800 0200 0a000001
           1000 0380
             0c00 0900 00000000 00010000    # u64 1 << 40
         0800 0500 2c010000                 # u32 300",
    );
    assert_eq!(hex(&bytes), hex(&expected));
}

#[test]
fn golden_attributes_read_back_by_type() {
    let attrs = unhex(
        "0500 0100 07 000000
         0600 0200 1f90 0000
         0800 0300 776c6300
         2000 0480
           0600 0100 0a00 0000
           1400 0200 20010db8 00000000 00000000 00000001
         0c00 0500 00000000 00010000",
    );
    let top = Attrs::<Any>::parse("top", &attrs).unwrap();
    assert_eq!(top.opt_u8(Any(1)).unwrap(), Some(7));
    assert_eq!(top.opt_be16(Any(2)).unwrap(), Some(8080));
    assert_eq!(top.opt_string(Any(3)).unwrap().as_deref(), Some("wlc"));
    assert_eq!(top.opt_u64(Any(5)).unwrap(), Some(1 << 40));
    let inner = top.nested::<Any>(Any(4), "inner").unwrap();
    assert_eq!(inner.u16(Any(1)).unwrap(), 10);
    assert_eq!(
        inner.opt_addr(Any(2), true).unwrap(),
        Some("2001:db8::1".parse().unwrap())
    );
    let error = decode_error(inner.u32(Any(7)));
    assert_eq!(error, "inner: attribute 7 is missing");
    let error = decode_error(top.opt_u32(Any(1)));
    assert_eq!(error, "top: attribute 1 has 1 bytes, expected 4");
}

#[test]
fn an_attribute_too_long_for_its_length_field_is_an_encode_error() {
    let mut request = Request::<Any>::new(1, 1);
    let result = request.attrs().bytes(Any(1), &vec![0; 70_000]).map(drop);
    assert!(matches!(result, Err(Error::Encode(_))), "{result:?}");
}

/// An attribute list of made-up levels: leaves with any payload, nested lists up to three
/// deep. Ids within one list are distinct, so each reads back by its id.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<u8>),
    Nest(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = proptest::collection::vec(any::<u8>(), 0..24).prop_map(Node::Leaf);
    leaf.prop_recursive(3, 32, 6, |inner| {
        proptest::collection::vec(inner, 0..6).prop_map(Node::Nest)
    })
}

fn list() -> impl Strategy<Value = (u16, Vec<Node>)> {
    (1u16..0x3f00, proptest::collection::vec(node(), 0..8))
}

fn write(attrs: &mut crate::codec::AttrWriter<'_, Any>, first: u16, nodes: &[Node]) {
    for (i, node) in nodes.iter().enumerate() {
        let id = Any(first + i as u16);
        match node {
            Node::Leaf(payload) => {
                attrs.bytes(id, payload).unwrap();
            }
            Node::Nest(children) => {
                attrs
                    .nested::<Any>(id, |inner| {
                        write(inner, 1, children);
                        Ok(())
                    })
                    .unwrap();
            }
        }
    }
}

/// The same list assembled by the hand-written helpers of `tests/mod.rs`.
fn assemble(first: u16, nodes: &[Node]) -> Vec<u8> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let id = first + i as u16;
            match node {
                Node::Leaf(payload) => nla(id, payload),
                Node::Nest(children) => nla(id | 0x8000, &assemble(1, children)),
            }
        })
        .collect::<Vec<_>>()
        .concat()
}

fn check(attrs: &Attrs<'_, Any>, first: u16, nodes: &[Node]) {
    for (i, node) in nodes.iter().enumerate() {
        let id = Any(first + i as u16);
        match node {
            Node::Leaf(payload) => assert_eq!(attrs.get(id), Some(&payload[..])),
            Node::Nest(children) => check(&attrs.nested(id, "nested").unwrap(), 1, children),
        }
    }
    assert_eq!(attrs.get(Any(first + nodes.len() as u16)), None);
}

proptest! {
    /// What the writer encodes, the reader decodes, byte for byte, at every level; and the
    /// writer lays it out as the independent assembler does.
    #[test]
    fn attribute_lists_round_trip((first, nodes) in list()) {
        let mut request = Request::<Any>::new(1, 1);
        write(&mut request.attrs(), first, &nodes);
        let bytes = request.finish(0x22, 1, false).unwrap();
        let body = &bytes[20..];
        prop_assert_eq!(hex(body), hex(&assemble(first, &nodes)));
        prop_assert_eq!(bytes.len() % 4, 0);
        let message = all(&bytes).unwrap()[0];
        let Incoming::Reply(reply) = message.incoming().unwrap() else {
            panic!("a data message");
        };
        check(&reply.attrs("top").unwrap(), first, &nodes);
    }

    /// Each typed value reads back as written.
    #[test]
    fn typed_values_round_trip(
        byte in any::<u8>(),
        short in any::<u16>(),
        port in any::<u16>(),
        word in any::<u32>(),
        long in any::<u64>(),
        text in "\\PC{0,20}",
        v4 in any::<[u8; 4]>(),
        v6 in any::<[u8; 16]>(),
    ) {
        let mut request = Request::<Any>::new(1, 1);
        request
            .attrs()
            .u8(Any(1), byte)?
            .u16(Any(2), short)?
            .be16(Any(3), port)?
            .u32(Any(4), word)?
            .bytes(Any(5), &long.to_ne_bytes())?
            .string(Any(6), &text)?
            .addr(Any(7), IpAddr::from(v4))?
            .addr(Any(8), IpAddr::from(v6))?;
        let bytes = request.finish(0x22, 1, false).unwrap();
        let attrs = Attrs::<Any>::parse("top", &bytes[20..]).unwrap();
        prop_assert_eq!(attrs.opt_u8(Any(1)).unwrap(), Some(byte));
        prop_assert_eq!(attrs.u16(Any(2)).unwrap(), short);
        prop_assert_eq!(attrs.opt_be16(Any(3)).unwrap(), Some(port));
        prop_assert_eq!(attrs.u32(Any(4)).unwrap(), word);
        prop_assert_eq!(attrs.opt_u64(Any(5)).unwrap(), Some(long));
        prop_assert_eq!(attrs.opt_string(Any(6)).unwrap(), Some(text));
        prop_assert_eq!(attrs.opt_addr(Any(7), false).unwrap(), Some(IpAddr::from(v4)));
        prop_assert_eq!(attrs.opt_addr(Any(8), true).unwrap(), Some(IpAddr::from(v6)));
    }

    /// Any bytes at all parse to an error or to attributes that stay inside them.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(attrs) = Attrs::<Any>::parse("top", &bytes) {
            for id in 0..8 {
                let _ = attrs.get(Any(id));
                let _ = attrs.opt_nested::<Any>(Any(id), "nested");
            }
        }
        for message in messages(&bytes).flatten() {
            let _ = message.incoming();
        }
    }
}
