//! Services and destinations written by the library, read back by the library and by
//! `ipvsadm -S -n`.

use std::net::{IpAddr, SocketAddr};

use lvs_ipvs::{
    Command, Destination, ErrorKind, Family, ForwardMethod, Netmask, Protocol, Scheduler, Service,
    ServiceFlags, ServiceKey, TunnelFlags, TunnelType,
};

use crate::save::assert_same_as_ipvsadm;
use crate::{director, scheduler_modules};

fn inet(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Inet {
        protocol,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn dest(addr: &str, forward: ForwardMethod, weight: u32) -> Destination {
    let mut d = Destination::new(addr.parse::<SocketAddr>().unwrap(), forward);
    d.weight = weight;
    d
}

#[test]
fn every_scheduler_module_round_trips() {
    let mut ipvs = director();
    let schedulers = scheduler_modules();
    for (i, name) in schedulers.iter().enumerate() {
        let key = inet(Protocol::Tcp, "10.0.0.1", 8000 + i as u16);
        let scheduler = Scheduler::from_name(name);
        assert!(
            !matches!(scheduler, Scheduler::Other(_)),
            "scheduler {name} has a variant"
        );
        ipvs.add_service(&Service::new(key, scheduler.clone()))
            .unwrap();
        ipvs.add_destination(&key, &dest("10.0.0.10:80", ForwardMethod::Masq, 3))
            .unwrap();
        assert_eq!(ipvs.service(&key).unwrap().service.scheduler, scheduler);
    }
    assert_eq!(ipvs.services().unwrap().len(), schedulers.len());
    assert_same_as_ipvsadm(&mut ipvs);
}

#[test]
fn families_protocols_and_forwarding_methods() {
    let mut ipvs = director();
    let tcp4 = inet(Protocol::Tcp, "10.0.0.1", 80);
    let udp4 = inet(Protocol::Udp, "10.0.0.1", 53);
    let sctp4 = inet(Protocol::Sctp, "10.0.0.1", 3868);
    let tcp6 = inet(Protocol::Tcp, "2001:db8::1", 443);
    let udp6 = inet(Protocol::Udp, "2001:db8::1", 53);
    let sctp6 = inet(Protocol::Sctp, "2001:db8::1", 3868);
    let mark4 = ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 7,
    };
    let mark6 = ServiceKey::Fwmark {
        family: Family::Inet6,
        mark: 8,
    };

    // Persistence with a netmask, on both families.
    let mut svc = Service::new(tcp4, Scheduler::WeightedLeastConnection);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 600;
    svc.netmask = Netmask::Prefix(24);
    ipvs.add_service(&svc).unwrap();
    let mut svc = Service::new(tcp6, Scheduler::RoundRobin);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 30;
    svc.netmask = Netmask::Prefix(64);
    ipvs.add_service(&svc).unwrap();
    // One-packet scheduling and the SIP persistence engine on UDP.
    let mut svc = Service::new(udp4, Scheduler::SourceHashing);
    svc.flags = ServiceFlags::ONE_PACKET | ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
    ipvs.add_service(&svc).unwrap();
    let mut svc = Service::new(udp6, Scheduler::RoundRobin);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 120;
    svc.persistence_engine = Some("sip".into());
    ipvs.add_service(&svc).unwrap();
    let mut svc = Service::new(sctp4, Scheduler::MaglevHashing);
    svc.flags = ServiceFlags::SCHED1;
    ipvs.add_service(&svc).unwrap();
    ipvs.add_service(&Service::new(sctp6, Scheduler::LeastConnection))
        .unwrap();
    ipvs.add_service(&Service::new(mark4, Scheduler::WeightedRoundRobin))
        .unwrap();
    ipvs.add_service(&Service::new(mark6, Scheduler::NeverQueue))
        .unwrap();

    // Every forwarding method, tunnel type and checksum mode; weights 0 and 65535; thresholds.
    let mut thresholds = dest("10.0.0.11:8080", ForwardMethod::Masq, 0);
    thresholds.upper_threshold = 1000;
    thresholds.lower_threshold = 800;
    ipvs.add_destination(&tcp4, &thresholds).unwrap();
    ipvs.add_destination(&tcp4, &dest("10.0.0.12:80", ForwardMethod::Route, 65535))
        .unwrap();
    ipvs.add_destination(&tcp4, &dest("10.0.0.13:80", ForwardMethod::Tunnel, 1))
        .unwrap();
    let mut gue = dest("10.0.0.14:80", ForwardMethod::Tunnel, 2);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    gue.tunnel_flags = TunnelFlags::REMCSUM;
    ipvs.add_destination(&tcp4, &gue).unwrap();
    let mut gre = dest("10.0.0.15:80", ForwardMethod::Tunnel, 3);
    gre.tunnel_type = TunnelType::Gre;
    gre.tunnel_flags = TunnelFlags::CSUM;
    ipvs.add_destination(&tcp4, &gre).unwrap();
    let mut gue_nocsum = gue;
    gue_nocsum.addr = "10.0.0.16:80".parse().unwrap();
    gue_nocsum.tunnel_flags = TunnelFlags::NOCSUM;
    ipvs.add_destination(&tcp4, &gue_nocsum).unwrap();
    // A tunnelled IPv6 real server behind an IPv4 service (mixed families).
    ipvs.add_destination(&tcp4, &dest("[2001:db8::20]:80", ForwardMethod::Tunnel, 5))
        .unwrap();
    ipvs.add_destination(&tcp6, &dest("[2001:db8::10]:8443", ForwardMethod::Masq, 10))
        .unwrap();
    ipvs.add_destination(&tcp6, &dest("[2001:db8::11]:443", ForwardMethod::Route, 20))
        .unwrap();
    ipvs.add_destination(&udp4, &dest("10.0.0.21:53", ForwardMethod::Masq, 1))
        .unwrap();
    ipvs.add_destination(&udp6, &dest("[2001:db8::21]:5060", ForwardMethod::Masq, 1))
        .unwrap();
    ipvs.add_destination(&sctp4, &dest("10.0.0.22:3868", ForwardMethod::Route, 1))
        .unwrap();
    ipvs.add_destination(&sctp6, &dest("[2001:db8::22]:3868", ForwardMethod::Masq, 1))
        .unwrap();
    ipvs.add_destination(&mark4, &dest("10.0.0.23:0", ForwardMethod::Route, 1))
        .unwrap();
    ipvs.add_destination(&mark6, &dest("[2001:db8::23]:0", ForwardMethod::Route, 1))
        .unwrap();

    let table = ipvs.table().unwrap();
    assert_eq!(table.len(), 8);
    let web = table
        .iter()
        .find(|e| e.service.service.key == tcp4)
        .unwrap();
    assert_eq!(web.destinations.len(), 7);
    assert_eq!(web.service.service.netmask, Netmask::Prefix(24));
    let read_gue = web
        .destinations
        .iter()
        .find(|d| d.destination.addr == gue.addr)
        .unwrap();
    assert_eq!(read_gue.destination, gue);
    let mixed = web
        .destinations
        .iter()
        .find(|d| d.destination.addr.is_ipv6())
        .unwrap();
    assert_eq!(mixed.destination.forward, ForwardMethod::Tunnel);
    assert_eq!(
        ipvs.service(&udp6)
            .unwrap()
            .service
            .persistence_engine
            .as_deref(),
        Some("sip")
    );
    assert_same_as_ipvsadm(&mut ipvs);
}

#[test]
fn edits_happen_in_place_and_deletes_clean_up() {
    let mut ipvs = director();
    let key = inet(Protocol::Tcp, "10.0.0.1", 80);
    ipvs.add_service(&Service::new(key, Scheduler::RoundRobin))
        .unwrap();
    let mut d = dest("10.0.0.30:80", ForwardMethod::Masq, 1);
    ipvs.add_destination(&key, &d).unwrap();

    let mut svc = Service::new(key, Scheduler::WeightedLeastConnection);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 300;
    ipvs.edit_service(&svc).unwrap();
    d.weight = 65535;
    d.upper_threshold = 10;
    ipvs.edit_destination(&key, &d).unwrap();
    assert_same_as_ipvsadm(&mut ipvs);
    let entry = ipvs.service(&key).unwrap();
    assert_eq!(entry.service.scheduler, Scheduler::WeightedLeastConnection);
    assert_eq!(ipvs.destinations(&key).unwrap()[0].destination, d);

    ipvs.delete_destination(&key, d.addr).unwrap();
    assert!(ipvs.destinations(&key).unwrap().is_empty());
    ipvs.delete_service(&key).unwrap();
    assert!(ipvs.table().unwrap().is_empty());
    assert_eq!(crate::ipvsadm(&["-S", "-n"]).trim(), "");
}

#[test]
fn a_batch_reports_every_command_on_its_own() {
    let mut ipvs = director();
    let a = inet(Protocol::Tcp, "10.0.0.1", 80);
    let missing = inet(Protocol::Tcp, "10.0.0.2", 80);
    let d = dest("10.0.0.40:80", ForwardMethod::Masq, 1);
    let report = ipvs
        .apply(&[
            Command::AddService(Service::new(a, Scheduler::RoundRobin)),
            Command::AddService(Service::new(a, Scheduler::RoundRobin)),
            Command::AddDestination(missing, d),
            Command::AddDestination(a, d),
            Command::EditDestination(a, dest("10.0.0.41:80", ForwardMethod::Masq, 1)),
            Command::AddService(Service::new(missing, Scheduler::TwoChoice)),
        ])
        .unwrap();
    let kinds: Vec<Option<ErrorKind>> = report
        .results()
        .iter()
        .map(|r| {
            r.as_ref()
                .err()
                .and_then(|e| e.kernel())
                .map(|k| k.kind.clone())
        })
        .collect();
    assert_eq!(kinds[0], None);
    assert_eq!(kinds[1], Some(ErrorKind::AlreadyExists));
    assert_eq!(kinds[2], Some(ErrorKind::NoSuchService));
    assert_eq!(kinds[3], None);
    assert_eq!(kinds[4], Some(ErrorKind::NoSuchDestination));
    assert!(matches!(
        kinds[5],
        Some(ErrorKind::ModuleUnavailable { .. })
    ));
    assert_eq!(report.applied(), 2);
    assert_same_as_ipvsadm(&mut ipvs);
}

#[test]
fn a_large_batch_spans_many_sendmsg_calls() {
    let mut ipvs = director();
    let mut commands = Vec::new();
    for i in 0..300u16 {
        let key = inet(Protocol::Tcp, "10.0.1.1", 1000 + i);
        commands.push(Command::AddService(Service::new(
            key,
            Scheduler::WeightedRoundRobin,
        )));
        for j in 0..4u8 {
            let addr = SocketAddr::new(IpAddr::from([10, 0, 2, j + 1]), 80);
            commands.push(Command::AddDestination(
                key,
                Destination::new(addr, ForwardMethod::Route),
            ));
        }
    }
    let report = ipvs.apply(&commands).unwrap();
    assert!(report.is_ok(), "{:?}", report.failures().next());
    assert_eq!(report.applied(), 1500);
    let table = ipvs.table().unwrap();
    assert_eq!(table.len(), 300);
    assert!(table.iter().all(|e| e.destinations.len() == 4));
    assert_same_as_ipvsadm(&mut ipvs);
}
