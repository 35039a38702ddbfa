//! Replies decoded from bytes laid out as the kernel's `ip_vs_genl_fill_service`,
//! `ip_vs_genl_fill_dest`, `ip_vs_genl_fill_daemon` and `netlink_ack` write them (6.1),
//! assembled by hand with the helpers in `tests/mod.rs` rather than with the codec itself.

#![cfg(target_endian = "little")]

use std::net::{IpAddr, Ipv4Addr};

use super::{genl_msg, nest, nla, unhex};
use crate::codec::{messages, Incoming, Message, Reply};
use crate::consts::CmdAttr;
use crate::daemon::decode_daemon;
use crate::dest::{decode_dest, ForwardMethod, TunnelFlags, TunnelType};
use crate::key::{DaemonState, Family, Protocol, ServiceKey};
use crate::service::{decode_service, Netmask, Scheduler, ServiceFlags};
use crate::stats::Stats;

/// `NLM_F_MULTI`: every message of a dump carries it.
const MULTI: u16 = 0x2;

/// The one message of `datagram`.
fn only_message(datagram: &[u8]) -> Message<'_> {
    let all: Vec<_> = messages(datagram).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0]
}

fn only_reply(datagram: &[u8]) -> Reply<'_> {
    match only_message(datagram).incoming().unwrap() {
        Incoming::Reply(reply) => reply,
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn stats32(base: u32) -> Vec<Vec<u8>> {
    let u32_attr = |ty, v: u32| nla(ty, &v.to_ne_bytes());
    let u64_attr = |ty, v: u64| nla(ty, &v.to_ne_bytes());
    vec![
        u32_attr(1, base),
        u32_attr(2, base + 1),
        u32_attr(3, base + 2),
        u64_attr(4, u64::from(base) * 100),
        u64_attr(5, u64::from(base) * 200),
        u32_attr(6, 0),
        u32_attr(7, 0),
        u32_attr(8, 0),
        u32_attr(9, 0),
        u32_attr(10, 0),
    ]
}

fn stats64(base: u64) -> Vec<Vec<u8>> {
    (1..=10u16)
        .map(|ty| {
            let v = match ty {
                1..=3 => base + u64::from(ty) - 1,
                4 => base * 100,
                5 => base * 200,
                _ => 0,
            };
            nla(ty, &v.to_ne_bytes())
        })
        .collect()
}

#[test]
fn service_dump_entry() {
    // One message of `IPVS_CMD_GET_SERVICE` dump for `-A -t 10.0.0.1:80 -s wlc -p 60`.
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[10, 0, 0, 1]);
    let mut flags = (0x1u32 | 0x2).to_ne_bytes().to_vec();
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let msg = genl_msg(
        0x22,
        MULTI,
        5,
        4242,
        1,
        &[nest(
            1,
            &[
                nla(1, &2u16.to_ne_bytes()),
                nla(2, &6u16.to_ne_bytes()),
                nla(3, &addr),
                nla(4, &80u16.to_be_bytes()),
                nla(6, b"wlc\0"),
                nla(7, &flags),
                nla(8, &60u32.to_ne_bytes()),
                nla(9, &unhex("ffffff00")),
                nest(10, &stats32(7)),
                nest(12, &stats64(5_000_000_000)),
            ],
        )],
    );
    let reply = only_reply(&msg);
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    let entry = decode_service(&top.nested(CmdAttr::Service, "service").unwrap()).unwrap();
    let svc = entry.service;
    assert_eq!(
        svc.key,
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([10, 0, 0, 1]),
            port: 80
        }
    );
    assert_eq!(svc.scheduler, Scheduler::WeightedLeastConnection);
    assert!(
        svc.flags.contains(ServiceFlags::PERSISTENT) && svc.flags.contains(ServiceFlags::HASHED)
    );
    assert_eq!((svc.timeout, svc.netmask), (60, Netmask::Prefix(24)));
    assert_eq!(svc.persistence_engine, None);
    // The 64-bit set wins over the 32-bit one.
    assert_eq!(entry.stats.conns, 5_000_000_000);
    assert_eq!(entry.stats.out_bytes, 1_000_000_000_000);
}

#[test]
fn fwmark_ipv6_service_with_engine_and_only_32_bit_stats() {
    let mut flags = 0x4u32.to_ne_bytes().to_vec();
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let msg = genl_msg(
        0x22,
        MULTI,
        5,
        1,
        1,
        &[nest(
            1,
            &[
                nla(1, &10u16.to_ne_bytes()),
                nla(5, &7u32.to_ne_bytes()),
                nla(6, b"mh\0"),
                nla(11, b"sip\0"),
                nla(7, &flags),
                nla(8, &0u32.to_ne_bytes()),
                nla(9, &128u32.to_ne_bytes()),
                nest(10, &stats32(3)),
            ],
        )],
    );
    let reply = only_reply(&msg);
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    let entry = decode_service(&top.nested(CmdAttr::Service, "service").unwrap()).unwrap();
    assert_eq!(
        entry.service.key,
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7
        }
    );
    assert_eq!(entry.service.scheduler, Scheduler::MaglevHashing);
    assert_eq!(entry.service.netmask, Netmask::Prefix(128));
    assert_eq!(entry.service.persistence_engine.as_deref(), Some("sip"));
    assert_eq!(
        entry.stats,
        Stats {
            conns: 3,
            in_packets: 4,
            out_packets: 5,
            in_bytes: 300,
            out_bytes: 600,
            ..Stats::default()
        }
    );
}

#[test]
fn non_contiguous_ipv4_netmask_survives() {
    let mut flags = 0x1u32.to_ne_bytes().to_vec();
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let msg = genl_msg(
        0x22,
        MULTI,
        5,
        1,
        1,
        &[nest(
            1,
            &[
                nla(1, &2u16.to_ne_bytes()),
                nla(5, &9u32.to_ne_bytes()),
                nla(6, b"none\0"),
                nla(7, &flags),
                nla(8, &30u32.to_ne_bytes()),
                nla(9, &[255, 0, 255, 0]),
            ],
        )],
    );
    let reply = only_reply(&msg);
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    let svc = decode_service(&top.nested(CmdAttr::Service, "service").unwrap())
        .unwrap()
        .service;
    assert_eq!(
        svc.netmask,
        Netmask::NonContiguous(Ipv4Addr::new(255, 0, 255, 0))
    );
    assert_eq!(svc.scheduler, Scheduler::Other("none".into()));
}

#[test]
fn destination_dump_entry() {
    // One message of an `IPVS_CMD_GET_DEST` dump: a GRE tunnel destination with checksums.
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[192, 0, 2, 7]);
    let msg = genl_msg(
        0x22,
        MULTI,
        6,
        1,
        5,
        &[nest(
            2,
            &[
                nla(1, &addr),
                nla(2, &80u16.to_be_bytes()),
                nla(3, &2u32.to_ne_bytes()),
                nla(4, &65535u32.to_ne_bytes()),
                nla(13, &[2]),
                nla(14, &0u16.to_be_bytes()),
                nla(15, &1u16.to_ne_bytes()),
                nla(5, &100u32.to_ne_bytes()),
                nla(6, &10u32.to_ne_bytes()),
                nla(7, &3u32.to_ne_bytes()),
                nla(8, &4u32.to_ne_bytes()),
                nla(9, &5u32.to_ne_bytes()),
                nla(11, &2u16.to_ne_bytes()),
                nest(10, &stats32(1)),
                nest(12, &stats64(1)),
            ],
        )],
    );
    let reply = only_reply(&msg);
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    let entry = decode_dest(
        &top.nested(CmdAttr::Dest, "destination").unwrap(),
        Family::Inet,
    )
    .unwrap();
    let d = entry.destination;
    assert_eq!(d.addr, "192.0.2.7:80".parse().unwrap());
    assert_eq!(
        (d.forward, d.weight, d.upper_threshold, d.lower_threshold),
        (ForwardMethod::Tunnel, 65535, 100, 10)
    );
    assert_eq!(
        (d.tunnel_type, d.tunnel_flags),
        (TunnelType::Gre, TunnelFlags::CSUM)
    );
    assert_eq!(
        (
            entry.active_conns,
            entry.inactive_conns,
            entry.persistent_conns
        ),
        (3, 4, 5)
    );
    assert_eq!(entry.stats.conns, 1);
}

#[test]
fn daemon_dump_entry() {
    let msg = genl_msg(
        0x22,
        MULTI,
        6,
        1,
        9,
        &[nest(
            3,
            &[
                nla(1, &2u32.to_ne_bytes()),
                nla(2, b"eth1\0"),
                nla(3, &9u32.to_ne_bytes()),
                nla(4, &1472u16.to_ne_bytes()),
                nla(7, &8848u16.to_ne_bytes()),
                nla(8, &[1]),
                nla(5, &[224, 0, 0, 81]),
            ],
        )],
    );
    let reply = only_reply(&msg);
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    let daemon = decode_daemon(&top.nested(CmdAttr::Daemon, "daemon").unwrap()).unwrap();
    assert_eq!(daemon.state, DaemonState::Backup);
    assert_eq!(
        (daemon.interface.as_str(), daemon.sync_id, daemon.max_len),
        ("eth1", 9, 1472)
    );
    assert_eq!(
        (daemon.group, daemon.port, daemon.ttl),
        (Some(IpAddr::from([224, 0, 0, 81])), 8848, 1)
    );
}

#[test]
fn acks_errors_and_done() {
    // `netlink_ack` for success: NLMSG_ERROR, error 0, the request's header only (capped).
    let ack = unhex(
        "24000000 0200 0001 07000000 92100000  00000000  5c000000 2200 0500 07000000 92100000",
    );
    assert!(matches!(
        only_message(&ack).incoming().unwrap(),
        Incoming::Ack
    ));

    // A refusal (-EEXIST) echoes the whole request, then the extended-ack TLVs
    // (NLMSGERR_ATTR_MSG): what `ip_vs_genl_set_cmd` returns for a duplicate service.
    let request = genl_msg(
        0x22,
        0x5,
        7,
        0,
        1,
        &[nest(1, &[nla(1, &2u16.to_ne_bytes())])],
    );
    let mut body = (-17i32).to_ne_bytes().to_vec();
    body.extend_from_slice(&request);
    body.extend_from_slice(&nla(1, b"service exists\0"));
    let mut nack = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
    nack.extend_from_slice(&unhex("0200 0002 07000000 92100000"));
    nack.extend_from_slice(&body);
    match only_message(&nack).incoming().unwrap() {
        Incoming::Nack(n) => {
            assert_eq!(n.errno, 17);
            assert_eq!(n.message.as_deref(), Some("service exists"));
        }
        other => panic!("expected a nack, got {other:?}"),
    }

    // NLMSG_DONE closing a dump: NLM_F_MULTI and the dump's status.
    let done = unhex("14000000 0300 0200 08000000 92100000 00000000");
    assert!(matches!(
        only_message(&done).incoming().unwrap(),
        Incoming::Done(Ok(()))
    ));
}
