//! Encode then decode: every service, destination, sync daemon and set of timeouts the
//! crate writes reads back as the same value, as it would from a kernel that keeps what it
//! is given.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use proptest::prelude::*;

use crate::codec::{messages, AttrWriter, Attrs, Incoming, Request};
use crate::consts::{CmdAttr, DaemonAttr, DestAttr, SvcAttr};
use crate::daemon::{self, SyncDaemon, Timeouts};
use crate::dest::{self, Destination, ForwardMethod, TunnelFlags, TunnelType};
use crate::error::Error;
use crate::key::{DaemonState, Family, Protocol, ServiceKey};
use crate::service::{self, Netmask, Scheduler, Service, ServiceFlags};

/// Writes one nested attribute with `write`, then reads its level back with `read`,
/// through a whole message as the socket would send and receive it.
fn through_the_wire<C: crate::codec::AttrId, T>(
    ty: CmdAttr,
    write: impl FnOnce(&mut AttrWriter<'_, C>) -> Result<(), Error>,
    read: impl FnOnce(&Attrs<'_, C>) -> Result<T, Error>,
) -> T {
    let mut request = Request::<CmdAttr>::new(1, 1);
    request.attrs().nested(ty, write).unwrap();
    let bytes = request.finish(0x22, 1, false).unwrap();
    let message = messages(&bytes).next().unwrap().unwrap();
    let Incoming::Reply(reply) = message.incoming().unwrap() else {
        panic!("a data message");
    };
    let top = reply.attrs::<CmdAttr>("reply").unwrap();
    read(&top.nested(ty, "nested").unwrap()).unwrap()
}

fn ip(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<[u8; 16]>().prop_map(IpAddr::from).boxed()
    } else {
        any::<[u8; 4]>().prop_map(IpAddr::from).boxed()
    }
}

fn service_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (any::<u16>(), any::<bool>().prop_flat_map(ip), any::<u16>()).prop_map(
            |(protocol, addr, port)| ServiceKey::Inet {
                protocol: Protocol::from_raw(protocol),
                addr,
                port,
            }
        ),
        // Mark 0 is no fwmark: the kernel reads such a service by address.
        (any::<bool>(), 1..=u32::MAX).prop_map(|(v6, mark)| ServiceKey::Fwmark {
            family: if v6 { Family::Inet6 } else { Family::Inet },
            mark,
        }),
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,15}"
}

fn netmask(family: Family) -> BoxedStrategy<Netmask> {
    if family == Family::Inet6 {
        (0u8..=128).prop_map(Netmask::Prefix).boxed()
    } else {
        prop_oneof![
            (0u8..=32).prop_map(Netmask::Prefix),
            any::<[u8; 4]>().prop_filter_map("a prefix mask", |raw| {
                let mask = u32::from_be_bytes(raw);
                (mask.leading_ones() + mask.trailing_zeros() < 32)
                    .then(|| Netmask::NonContiguous(Ipv4Addr::from(raw)))
            }),
        ]
        .boxed()
    }
}

fn service() -> impl Strategy<Value = Service> {
    service_key().prop_flat_map(|key| {
        (
            name(),
            any::<u32>(),
            any::<u32>(),
            netmask(key.family()),
            proptest::option::of(name()),
        )
            .prop_map(
                move |(scheduler, flags, timeout, netmask, engine)| Service {
                    key,
                    scheduler: Scheduler::from_name(&scheduler),
                    // The kernel sets HASHED on every live service; it is never sent.
                    flags: ServiceFlags::from_bits(flags).with(ServiceFlags::HASHED, false),
                    timeout,
                    netmask,
                    persistence_engine: engine,
                },
            )
    })
}

fn destination() -> impl Strategy<Value = Destination> {
    (
        any::<bool>().prop_flat_map(ip),
        any::<u16>(),
        any::<u32>(),
        0..=i32::MAX as u32,
        any::<(u32, u32)>(),
        any::<(u8, u16, u16)>(),
    )
        .prop_map(
            |(ip, port, forward, weight, (upper, lower), (tun_type, tun_port, tun_flags))| {
                Destination {
                    addr: SocketAddr::new(ip, port),
                    forward: ForwardMethod::from_raw(forward),
                    weight,
                    upper_threshold: upper,
                    lower_threshold: lower,
                    tunnel_type: TunnelType::from_raw(tun_type),
                    tunnel_port: tun_port,
                    tunnel_flags: TunnelFlags::from_bits(tun_flags),
                }
            },
        )
}

fn daemon() -> impl Strategy<Value = SyncDaemon> {
    (
        any::<u32>(),
        name(),
        any::<u32>(),
        any::<u16>(),
        proptest::option::of(any::<bool>().prop_flat_map(ip)),
        any::<u16>(),
        any::<u8>(),
    )
        .prop_map(
            |(state, interface, sync_id, max_len, group, port, ttl)| SyncDaemon {
                state: DaemonState::from_raw(state),
                interface,
                sync_id,
                max_len,
                group,
                port,
                ttl,
            },
        )
}

proptest! {
    #[test]
    fn services_round_trip(svc in service()) {
        let read = through_the_wire::<SvcAttr, _>(
            CmdAttr::Service,
            |a| service::write_service(a, &svc),
            service::decode_service,
        );
        prop_assert_eq!(read.service, svc);
    }

    #[test]
    fn destinations_round_trip(dest in destination()) {
        let read = through_the_wire::<DestAttr, _>(
            CmdAttr::Dest,
            |a| dest::write_dest(a, &dest),
            |attrs| dest::decode_dest(attrs, Family::Inet),
        );
        prop_assert_eq!(read.destination, dest);
    }

    #[test]
    fn sync_daemons_round_trip(daemon in daemon()) {
        let read = through_the_wire::<DaemonAttr, _>(
            CmdAttr::Daemon,
            |a| daemon::write_daemon(a, &daemon),
            daemon::decode_daemon,
        );
        prop_assert_eq!(read, daemon);
    }

    #[test]
    fn timeouts_round_trip(tcp in 0..=i32::MAX as u32, tcp_fin in 0..=i32::MAX as u32, udp in 0..=i32::MAX as u32) {
        let timeouts = Timeouts { tcp, tcp_fin, udp };
        let mut request = Request::<CmdAttr>::new(1, 1);
        daemon::write_timeouts(&mut request.attrs(), &timeouts).unwrap();
        let bytes = request.finish(0x22, 1, false).unwrap();
        let attrs = Attrs::<CmdAttr>::parse("config", &bytes[20..]).unwrap();
        prop_assert_eq!(daemon::decode_timeouts(&attrs).unwrap(), timeouts);
    }
}
