//! Kernel refusals read as messages that say which object and why.

use std::net::IpAddr;

use crate::command::Command;
use crate::dest::{Destination, ForwardMethod};
use crate::error::{Action, ErrorKind, KernelError, Target};
use crate::key::{Protocol, ServiceKey};
use crate::service::{Scheduler, Service};

fn web() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: IpAddr::from([10, 0, 0, 1]),
        port: 80,
    }
}

fn refused(command: &Command, errno: i32) -> KernelError {
    KernelError::new(command.action(), command.target(), errno, None)
}

#[test]
fn missing_scheduler_module() {
    let add = Command::AddService(Service::new(web(), Scheduler::TwoChoice));
    let e = refused(&add, 2);
    assert!(matches!(e.kind, ErrorKind::ModuleUnavailable { .. }));
    assert_eq!(
        e.to_string(),
        "cannot add service tcp 10.0.0.1:80: scheduler \"twos\" is not available in this kernel"
    );
}

#[test]
fn duplicate_and_missing_objects() {
    let add = Command::AddService(Service::new(web(), Scheduler::RoundRobin));
    assert_eq!(
        refused(&add, 17).to_string(),
        "cannot add service tcp 10.0.0.1:80: service already exists"
    );
    let dest = Destination::new("10.1.0.1:80".parse().unwrap(), ForwardMethod::Masq);
    let add_dest = Command::AddDestination(web(), dest);
    let e = refused(&add_dest, 3);
    assert_eq!(e.kind, ErrorKind::NoSuchService);
    assert_eq!(
        e.to_string(),
        "cannot add destination 10.1.0.1:80 of service tcp 10.0.0.1:80: no such service"
    );
    let edit_dest = Command::EditDestination(web(), dest);
    assert_eq!(
        refused(&edit_dest, 2).to_string(),
        "cannot edit destination 10.1.0.1:80 of service tcp 10.0.0.1:80: no such destination"
    );
}

#[test]
fn invalid_argument_carries_the_extended_ack() {
    let e = KernelError::new(
        Action::Add,
        Target::Service(web()),
        22,
        Some("Attribute failed policy validation".into()),
    );
    assert_eq!(
        e.to_string(),
        "cannot add service tcp 10.0.0.1:80: invalid argument (Attribute failed policy validation)"
    );
    let e = KernelError::new(Action::Set, Target::Timeouts, 95, None);
    assert_eq!(e.kind, ErrorKind::Other);
    assert_eq!(
        e.to_string(),
        "cannot set connection timeouts: operation not supported (os error 95)"
    );
}
