//! Model <-> kernel mapping: a model service survives the trip through the kernel's view.

use lvs_model::spec::{Netmask as SpecNetmask, RealServerSpec, ServiceSpec};
use lvs_model::DesiredService;

use lvs_ipvs::{ForwardMethod, Netmask, Scheduler, ServiceFlags, TunnelFlags, TunnelType};

use crate::kernel_map;

fn real_server(address: &str, forwarding: &str) -> RealServerSpec {
    RealServerSpec {
        address: Some(address.into()),
        forwarding: Some(forwarding.into()),
        ..RealServerSpec::default()
    }
}

fn desired() -> DesiredService {
    let spec = ServiceSpec {
        protocol: Some("tcp".into()),
        address: Some("192.0.2.10".into()),
        port: Some(443),
        scheduler: Some("sh".into()),
        scheduler_flags: vec!["sh-port".into()],
        persistence_timeout: 600,
        persistence_netmask: Some(SpecNetmask::Text("255.255.255.0".into())),
        real_servers: Some(vec![
            RealServerSpec {
                weight: Some(65535),
                upper_threshold: Some(100),
                lower_threshold: Some(50),
                ..real_server("10.1.0.1", "masq")
            },
            RealServerSpec {
                tunnel_type: Some("gue".into()),
                tunnel_port: Some(6080),
                tunnel_checksum: Some("remcsum".into()),
                port: Some(443),
                ..real_server("2001:db8::7", "tunnel")
            },
            RealServerSpec {
                state: Some("drained".into()),
                port: Some(443),
                ..real_server("10.1.0.3", "route")
            },
        ]),
        ..ServiceSpec::default()
    };
    DesiredService::parse(&spec).unwrap()
}

#[test]
fn model_service_to_kernel() {
    let desired = desired();
    let svc = kernel_map::service(desired.service());
    assert_eq!(svc.scheduler, Scheduler::SourceHashing);
    assert_eq!(svc.flags, ServiceFlags::PERSISTENT | ServiceFlags::SCHED2);
    assert_eq!((svc.timeout, svc.netmask), (600, Netmask::Prefix(24)));
    let dests: Vec<_> = desired
        .real_servers()
        .map(kernel_map::destination)
        .collect();
    let gue = dests
        .iter()
        .find(|d| d.forward == ForwardMethod::Tunnel)
        .unwrap();
    assert_eq!(
        (gue.tunnel_type, gue.tunnel_port, gue.tunnel_flags),
        (TunnelType::Gue, 6080, TunnelFlags::REMCSUM)
    );
    let drained = dests
        .iter()
        .find(|d| d.forward == ForwardMethod::Route)
        .unwrap();
    assert_eq!(drained.weight, 0);
}

#[test]
fn kernel_table_back_to_model() {
    let desired = desired();
    let entry = kernel_map::table_entry(&desired);
    let observed = kernel_map::observed_service(&entry).unwrap();
    assert_eq!(observed.service(), desired.service());
    // The kernel cannot tell a drained server from one of weight 0: only that differs.
    for (seen, want) in observed.real_servers().zip(desired.real_servers()) {
        assert_eq!(seen.key(), want.key());
        assert_eq!(seen.forwarding(), want.forwarding());
        assert_eq!(seen.effective_weight(), want.effective_weight());
        assert_eq!(seen.thresholds(), want.thresholds());
    }
    let commands = kernel_map::load_commands(
        &lvs_model::DesiredState::new(1, lvs_model::Timeouts::default(), [desired]).unwrap(),
    );
    assert_eq!(commands.len(), 4);
}
