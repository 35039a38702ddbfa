//! Golden bytes for requests. Each expected string was assembled by hand from the structs and
//! enums of `include/uapi/linux/ip_vs.h` and the `nla_get_*` calls in the kernel's
//! `ip_vs_genl_parse_service` / `ip_vs_genl_parse_dest` / `ip_vs_genl_new_daemon` (6.1): ports
//! and the IPv4 netmask big-endian, everything else host order (little-endian here). The
//! kernel tests then prove the same encodings against a real kernel.

#![cfg(target_endian = "little")]

use std::net::{IpAddr, SocketAddr};

use super::{hex, unhex};
use crate::codec::Request;
use crate::command::Command;
use crate::consts::{Cmd, CmdAttr, FAMILY_VERSION};
use crate::daemon::{SyncDaemon, Timeouts};
use crate::dest::{Destination, ForwardMethod, TunnelFlags, TunnelType};
use crate::key::{DaemonState, Family, Protocol, ServiceKey};
use crate::service::{Netmask, Scheduler, Service, ServiceFlags};

/// An arbitrary family id; the kernel assigns the real one at boot.
const FAMILY: u16 = 0x22;

fn encode_command(command: &Command, seq: u32) -> Vec<u8> {
    command
        .encode()
        .unwrap()
        .finish(FAMILY, seq, false)
        .unwrap()
}

fn assert_bytes(actual: &[u8], expected: &str) {
    assert_eq!(hex(actual), hex(&unhex(expected)));
}

fn web() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: IpAddr::from([10, 0, 0, 1]),
        port: 80,
    }
}

#[test]
fn add_service_matches_ipvsadm_dash_a() {
    // ipvsadm -A -t 10.0.0.1:80 -s rr
    let bytes = encode_command(
        &Command::AddService(Service::new(web(), Scheduler::RoundRobin)),
        7,
    );
    assert_bytes(
        &bytes,
        "5c000000 2200 0500 07000000 00000000  01010000
         4800 0180
           0600 0100 0200 0000          # AF = AF_INET
           0600 0200 0600 0000          # PROTOCOL = IPPROTO_TCP
           0800 0300 0a000001           # ADDR = 10.0.0.1
           0600 0400 0050 0000          # PORT = htons(80)
           0700 0600 727200 00          # SCHED_NAME = \"rr\"
           0c00 0700 00000000 ffffffff  # FLAGS = { flags 0, mask ~0 }
           0800 0800 00000000           # TIMEOUT = 0
           0800 0900 ffffffff           # NETMASK = 255.255.255.255",
    );
}

#[test]
fn fwmark_ipv6_service_with_persistence_and_sh_flags() {
    // ipvsadm -A -f 7 -6 -s sh -b sh-fallback,sh-port -p 300 -M 64 -o
    let mut svc = Service::new(
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7,
        },
        Scheduler::SourceHashing,
    );
    svc.flags = ServiceFlags::PERSISTENT
        | ServiceFlags::ONE_PACKET
        | ServiceFlags::SCHED1
        | ServiceFlags::SCHED2;
    svc.timeout = 300;
    svc.netmask = Netmask::Prefix(64);
    assert_bytes(
        &encode_command(&Command::EditService(svc), 8),
        "4c000000 2200 0500 08000000 00000000  02010000
         3800 0180
           0600 0100 0a00 0000          # AF = AF_INET6
           0800 0500 07000000           # FWMARK = 7
           0700 0600 736800 00          # SCHED_NAME = \"sh\"
           0c00 0700 1d000000 ffffffff  # FLAGS = PERSISTENT|ONEPACKET|SCHED1|SCHED2
           0800 0800 2c010000           # TIMEOUT = 300
           0800 0900 40000000           # NETMASK = prefix 64, host order for IPv6",
    );
}

#[test]
fn add_destination_sends_every_field_the_kernel_requires() {
    // ipvsadm -a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 1
    let dest = Destination::new(SocketAddr::from(([10, 1, 0, 1], 8080)), ForwardMethod::Masq);
    assert_bytes(
        &encode_command(&Command::AddDestination(web(), dest), 9),
        "8c000000 2200 0500 09000000 00000000  05010000
         2400 0180
           0600 0100 0200 0000  0600 0200 0600 0000  0800 0300 0a000001  0600 0400 0050 0000
         5400 0280
           0800 0100 0a010001           # ADDR = 10.1.0.1
           0600 0200 1f90 0000          # PORT = htons(8080)
           0600 0b00 0200 0000          # ADDR_FAMILY = AF_INET
           0800 0300 00000000           # FWD_METHOD = IP_VS_CONN_F_MASQ
           0800 0400 01000000           # WEIGHT = 1
           0800 0500 00000000           # U_THRESH
           0800 0600 00000000           # L_THRESH
           0500 0d00 00 000000          # TUN_TYPE = IPIP
           0600 0e00 0000 0000          # TUN_PORT
           0600 0f00 0000 0000          # TUN_FLAGS = NOCSUM",
    );
}

#[test]
fn gue_tunnel_destination_of_another_family() {
    // ipvsadm -a -t 10.0.0.1:80 -r [2001:db8::1]:80 -i --tun-type gue --tun-port 6080
    //   --tun-nocsum -w 65535 (an IPv6 real server behind an IPv4 service)
    let mut dest = Destination::new("[2001:db8::1]:80".parse().unwrap(), ForwardMethod::Tunnel);
    dest.weight = 65535;
    dest.tunnel_type = TunnelType::Gue;
    dest.tunnel_port = 6080;
    dest.tunnel_flags = TunnelFlags::REMCSUM;
    let bytes = encode_command(&Command::EditDestination(web(), dest), 10);
    let dest_attr = &bytes[16 + 4 + 36..];
    assert_bytes(
        dest_attr,
        "6000 0280
           1400 0100 20010db8 00000000 00000000 00000001
           0600 0200 0050 0000
           0600 0b00 0a00 0000          # ADDR_FAMILY = AF_INET6
           0800 0300 02000000           # FWD_METHOD = IP_VS_CONN_F_TUNNEL
           0800 0400 ffff0000           # WEIGHT = 65535
           0800 0500 00000000  0800 0600 00000000
           0500 0d00 01 000000          # TUN_TYPE = GUE
           0600 0e00 17c0 0000          # TUN_PORT = htons(6080)
           0600 0f00 0200 0000          # TUN_FLAGS = REMCSUM",
    );
}

#[test]
fn delete_destination_sends_only_its_identity() {
    // ipvsadm -d -t 10.0.0.1:80 -r 10.1.0.1:8080
    let bytes = encode_command(
        &Command::DeleteDestination(web(), "10.1.0.1:8080".parse().unwrap()),
        11,
    );
    assert_bytes(
        &bytes[16..],
        "07010000
         2400 0180 0600 0100 0200 0000  0600 0200 0600 0000  0800 0300 0a000001  0600 0400 0050 0000
         1c00 0280 0800 0100 0a010001  0600 0200 1f90 0000  0600 0b00 0200 0000",
    );
}

#[test]
fn start_daemon_with_multicast_settings() {
    // ipvsadm --start-daemon master --mcast-interface eth0 --syncid 5
    //   --mcast-group 239.1.1.1 --mcast-port 8848 --mcast-ttl 2
    let mut daemon = SyncDaemon::new(DaemonState::Master, "eth0", 5);
    daemon.group = Some(IpAddr::from([239, 1, 1, 1]));
    daemon.port = 8848;
    daemon.ttl = 2;
    assert_bytes(
        &encode_command(&Command::StartDaemon(daemon), 12)[16..],
        "09010000
         3800 0380
           0800 0100 01000000           # STATE = IP_VS_STATE_MASTER
           0900 0200 65746830 00 000000 # MCAST_IFN = \"eth0\"
           0800 0300 05000000           # SYNC_ID = 5
           0800 0500 ef010101           # MCAST_GROUP = 239.1.1.1
           0600 0700 9022 0000          # MCAST_PORT = 8848, host order
           0500 0800 02 000000          # MCAST_TTL = 2",
    );
}

#[test]
fn set_timeouts_leaves_zero_fields_out() {
    // ipvsadm --set 900 0 300
    let timeouts = Timeouts {
        tcp: 900,
        tcp_fin: 0,
        udp: 300,
    };
    assert_bytes(
        &encode_command(&Command::SetTimeouts(timeouts), 13),
        "24000000 2200 0500 0d000000 00000000  0c010000
         0800 0400 84030000  0800 0600 2c010000",
    );
}

#[test]
fn flush_zero_and_dump_requests() {
    assert_bytes(
        &encode_command(&Command::Flush, 1),
        "14000000 2200 0500 01000000 00000000 11010000",
    );
    assert_bytes(
        &encode_command(&Command::ZeroAll, 2),
        "14000000 2200 0500 02000000 00000000 10010000",
    );
    // A dump: NLM_F_REQUEST | NLM_F_DUMP, no NLM_F_ACK.
    let dump = Request::<CmdAttr>::new(Cmd::GetService.id(), FAMILY_VERSION)
        .finish(FAMILY, 3, true)
        .unwrap();
    assert_bytes(&dump, "14000000 2200 0103 03000000 00000000 04010000");
}

#[test]
fn invalid_values_are_refused_before_sending() {
    let mut svc = Service::new(web(), Scheduler::Other("a-very-long-scheduler".into()));
    assert!(Command::AddService(svc.clone()).encode().is_err());
    svc.scheduler = Scheduler::RoundRobin;
    svc.netmask = Netmask::Prefix(33);
    assert!(Command::AddService(svc).encode().is_err());
    let mut dest = Destination::new("10.1.0.1:80".parse().unwrap(), ForwardMethod::Route);
    dest.weight = u32::MAX;
    assert!(Command::AddDestination(web(), dest).encode().is_err());
}
