//! Refusals: each returns the typed error naming the object, and the table is unchanged.

use lvs_ipvs::{
    Destination, Error, ErrorKind, Family, ForwardMethod, Ipvs, Netmask, Protocol, Scheduler,
    Service, ServiceFlags, ServiceKey, TunnelType,
};

use crate::{director, ipvsadm};

fn web() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    }
}

/// A director holding one service with one destination.
fn setup() -> Ipvs {
    let mut ipvs = director();
    ipvs.add_service(&Service::new(web(), Scheduler::RoundRobin))
        .unwrap();
    let d = Destination::new("10.0.0.50:80".parse().unwrap(), ForwardMethod::Masq);
    ipvs.add_destination(&web(), &d).unwrap();
    ipvs
}

/// Runs `f`, expects a kernel refusal of `kind` whose message contains `text`, and checks
/// that `ipvsadm -S -n` shows the same table before and after.
fn refused(
    ipvs: &mut Ipvs,
    kind: &ErrorKind,
    text: &str,
    f: impl FnOnce(&mut Ipvs) -> Result<(), Error>,
) {
    let before = ipvsadm(&["-S", "-n"]);
    let err = f(ipvs).expect_err("the kernel should refuse this");
    let kernel = err
        .kernel()
        .unwrap_or_else(|| panic!("not a kernel error: {err}"));
    assert_eq!(kernel.kind, *kind, "{err}");
    assert!(
        err.to_string().contains(text),
        "{err:?} does not say {text:?}"
    );
    assert_eq!(ipvsadm(&["-S", "-n"]), before, "the table changed");
}

#[test]
fn duplicate_service() {
    let mut ipvs = setup();
    refused(
        &mut ipvs,
        &ErrorKind::AlreadyExists,
        "cannot add service tcp 10.0.0.1:80: service already exists",
        |i| i.add_service(&Service::new(web(), Scheduler::WeightedRoundRobin)),
    );
}

#[test]
fn missing_scheduler_module() {
    let mut ipvs = setup();
    let other = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 53,
    };
    let kind = ErrorKind::ModuleUnavailable {
        scheduler: "twos".into(),
        engine: None,
    };
    refused(
        &mut ipvs,
        &kind,
        "scheduler \"twos\" is not available in this kernel",
        |i| i.add_service(&Service::new(other, Scheduler::TwoChoice)),
    );
    // Switching an existing service to it fails the same way and keeps the old scheduler.
    refused(
        &mut ipvs,
        &kind,
        "cannot edit service tcp 10.0.0.1:80",
        |i| i.edit_service(&Service::new(web(), Scheduler::TwoChoice)),
    );
}

#[test]
fn missing_objects() {
    let mut ipvs = setup();
    let missing = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.0.0.9".parse().unwrap(),
        port: 80,
    };
    let d = Destination::new("10.0.0.51:80".parse().unwrap(), ForwardMethod::Masq);
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchService,
        "no such service",
        |i| i.add_destination(&missing, &d),
    );
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchService,
        "cannot delete service tcp 10.0.0.9:80",
        |i| i.delete_service(&missing),
    );
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchService,
        "cannot get service",
        |i| i.service(&missing).map(drop),
    );
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchService,
        "no such service",
        |i| i.destinations(&missing).map(drop),
    );
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchDestination,
        "no such destination",
        |i| i.edit_destination(&web(), &d),
    );
    refused(
        &mut ipvs,
        &ErrorKind::NoSuchDestination,
        "cannot delete destination 10.0.0.51:80",
        |i| i.delete_destination(&web(), d.addr),
    );
    refused(
        &mut ipvs,
        &ErrorKind::AlreadyExists,
        "destination already exists",
        |i| {
            i.add_destination(
                &web(),
                &Destination::new("10.0.0.50:80".parse().unwrap(), ForwardMethod::Masq),
            )
        },
    );
}

#[test]
fn invalid_combinations() {
    let mut ipvs = setup();
    // An IPv6 service with a persistence prefix of 0.
    let v6 = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "2001:db8::1".parse().unwrap(),
        port: 80,
    };
    let mut svc = Service::new(v6, Scheduler::RoundRobin);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 60;
    svc.netmask = Netmask::Prefix(0);
    refused(&mut ipvs, &ErrorKind::Invalid, "invalid argument", |i| {
        i.add_service(&svc)
    });
    // A GUE tunnel needs a port.
    let mut gue = Destination::new("10.0.0.52:80".parse().unwrap(), ForwardMethod::Tunnel);
    gue.tunnel_type = TunnelType::Gue;
    refused(&mut ipvs, &ErrorKind::Invalid, "invalid argument", |i| {
        i.add_destination(&web(), &gue)
    });
    // Only tunnelling may cross address families.
    let mixed = Destination::new("[2001:db8::52]:80".parse().unwrap(), ForwardMethod::Masq);
    refused(&mut ipvs, &ErrorKind::Invalid, "invalid argument", |i| {
        i.add_destination(&web(), &mixed)
    });
    // A multicast address is no real server.
    let multicast = Destination::new("224.0.0.9:80".parse().unwrap(), ForwardMethod::Route);
    refused(&mut ipvs, &ErrorKind::Invalid, "invalid argument", |i| {
        i.add_destination(&web(), &multicast)
    });
    // A lower threshold above the upper one.
    let mut thresholds = Destination::new("10.0.0.53:80".parse().unwrap(), ForwardMethod::Masq);
    thresholds.upper_threshold = 10;
    thresholds.lower_threshold = 20;
    refused(
        &mut ipvs,
        &ErrorKind::Invalid,
        "cannot add destination 10.0.0.53:80",
        |i| i.add_destination(&web(), &thresholds),
    );
    // An unknown address family.
    let odd = ServiceKey::Fwmark {
        family: Family::Other(99),
        mark: 1,
    };
    refused(
        &mut ipvs,
        &ErrorKind::FamilyNotSupported,
        "address family",
        |i| i.add_service(&Service::new(odd, Scheduler::RoundRobin)),
    );
}
