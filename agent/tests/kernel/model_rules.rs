//! The model and the kernel agree.
//!
//! - Everything the model accepts, the kernel accepts: valid model services across the whole
//!   domain go through `kernel_map` into a fresh director, every command is acknowledged, and
//!   the table read back converts to the same model values (cross-checked with
//!   `ipvsadm -S -n` on a sample).
//! - Every model rule that claims to mirror a kernel rule is checked against the kernel: the
//!   raw command the model would refuse, sent with the library directly, is refused with the
//!   errno the rule names. Rules that are the data plane's (or ours) are documented by the
//!   kernel *accepting* the command, so the rule is known to be the model's own.
//!
//! Run with `--nocapture` to print the evidence table.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use lvs_agent::kernel_map::{self, observed_service};
use lvs_ipvs::{
    Command, Destination, Error, ErrorKind, Family, ForwardMethod, Ipvs, Netmask, Protocol,
    Scheduler, Service, ServiceFlags, ServiceKey, Timeouts, TunnelFlags, TunnelType,
};
use lvs_model::spec::{Netmask as SpecNetmask, RealServerSpec, ServiceSpec, TimeoutsSpec};
use lvs_model::{
    parse_real_server_address, parse_virtual_address, DesiredService, DesiredState, Persistence,
    SchedulerName, Thresholds,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;

use crate::save::assert_same_as_ipvsadm;
use crate::{director, ipvsadm, run};

const EINVAL: i32 = 22;
const ERANGE: i32 = 34;

/// `CONFIG_HZ` of the guest kernel (Debian's `linux-image-amd64`, `/boot/config-*`).
const HZ: u32 = 250;

// ---------------------------------------------------------------------------------------
// Valid model services across the whole domain
// ---------------------------------------------------------------------------------------

/// Any IPv4 address, with the corners of the address space over-represented.
fn any_ipv4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        3 => any::<u32>().prop_map(Ipv4Addr::from),
        1 => select(vec![
            Ipv4Addr::new(0, 0, 0, 1),
            Ipv4Addr::new(0, 255, 255, 254),
            Ipv4Addr::new(1, 0, 0, 0),
            Ipv4Addr::new(127, 0, 0, 2),
            Ipv4Addr::new(169, 254, 1, 1),
            Ipv4Addr::new(192, 0, 2, 255),
            Ipv4Addr::new(223, 255, 255, 255),
            Ipv4Addr::new(240, 0, 0, 1),
            Ipv4Addr::new(255, 255, 255, 254),
        ]),
    ]
}

/// Any IPv6 address, with the special ranges over-represented.
fn any_ipv6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        3 => any::<u128>().prop_map(Ipv6Addr::from),
        1 => select(vec![
            Ipv6Addr::LOCALHOST,
            "::2".parse().unwrap(),
            "::10.1.2.3".parse().unwrap(),
            "64:ff9b::a01:203".parse().unwrap(),
            "100::1".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "fc00::1".parse().unwrap(),
            "fe7f:ffff::1".parse().unwrap(),
            "fec0::1".parse().unwrap(),
            "e000::1".parse().unwrap(),
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        ]),
    ]
}

fn any_address(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any_ipv6().prop_map(IpAddr::V6).boxed()
    } else {
        any_ipv4().prop_map(IpAddr::V4).boxed()
    }
}

/// Every address the model accepts as a virtual address.
fn virtual_address() -> impl Strategy<Value = IpAddr> {
    any::<bool>()
        .prop_flat_map(any_address)
        .prop_filter("the model accepts it as a VIP", |a| {
            parse_virtual_address(&a.to_string()).is_ok()
        })
}

/// Every address of one family the model accepts as a real server.
fn real_server_address(v6: bool) -> impl Strategy<Value = IpAddr> {
    any_address(v6).prop_filter("the model accepts it as a real server", |a| {
        parse_real_server_address(&a.to_string()).is_ok()
    })
}

fn u16_edges(low: u16) -> impl Strategy<Value = u16> {
    prop_oneof![3 => low..=u16::MAX, 1 => select(vec![low, u16::MAX])]
}

/// A connection threshold the model accepts.
fn threshold() -> impl Strategy<Value = u32> {
    let max = Thresholds::MAX;
    prop_oneof![3 => 0..=max, 1 => select(vec![0, 1, max - 1, max])]
}

fn service_key() -> impl Strategy<Value = lvs_model::ServiceKey> {
    let address = (
        select(vec![
            lvs_model::Protocol::Tcp,
            lvs_model::Protocol::Udp,
            lvs_model::Protocol::Sctp,
        ]),
        virtual_address(),
        u16_edges(1),
    )
        .prop_map(|(protocol, address, port)| lvs_model::ServiceKey::Address {
            protocol,
            address,
            port: lvs_model::Port::parse(i64::from(port)).unwrap(),
        });
    let fwmark = (
        prop_oneof![3 => 1..=u32::MAX, 1 => select(vec![1, u32::MAX])],
        select(vec![lvs_model::Family::Ipv4, lvs_model::Family::Ipv6]),
    )
        .prop_map(|(mark, family)| lvs_model::ServiceKey::Fwmark {
            fwmark: lvs_model::Fwmark::parse(i64::from(mark)).unwrap(),
            family,
        });
    prop_oneof![3 => address, 1 => fwmark]
}

/// Every scheduler module this kernel ships (`twos` is not built: see
/// `twos_is_the_only_scheduler_missing`), with the flags of `sh` and `mh` in any order.
fn scheduler() -> impl Strategy<Value = (String, Vec<String>)> {
    let names: Vec<SchedulerName> = SchedulerName::ALL
        .iter()
        .copied()
        .filter(|n| *n != SchedulerName::Twos)
        .collect();
    (select(names), any::<(bool, bool, bool)>()).prop_map(|(name, (fallback, port, swap))| {
        let prefix = match name {
            SchedulerName::Sh => "sh",
            SchedulerName::Mh => "mh",
            _ => return (name.to_string(), Vec::new()),
        };
        let mut flags = Vec::new();
        if fallback {
            flags.push(format!("{prefix}-fallback"));
        }
        if port {
            flags.push(format!("{prefix}-port"));
        }
        if swap {
            flags.reverse();
        }
        (name.to_string(), flags)
    })
}

/// A persistence timeout (0 = off) and netmask in any accepted spelling.
fn persistence(family: lvs_model::Family) -> impl Strategy<Value = (i64, Option<SpecNetmask>)> {
    let max = Persistence::MAX_TIMEOUT;
    let timeout = prop_oneof![3 => 1..=max, 1 => select(vec![1, max])];
    let (min, max_prefix) = match family {
        lvs_model::Family::Ipv4 => (0u8, 32u8),
        lvs_model::Family::Ipv6 => (1, 128),
    };
    let netmask = proptest::option::of(
        (
            prop_oneof![3 => min..=max_prefix, 1 => select(vec![min, max_prefix])],
            0u8..3,
        )
            .prop_map(move |(len, style)| match (style, family) {
                (0, _) => SpecNetmask::Prefix(i64::from(len)),
                (_, lvs_model::Family::Ipv4) => SpecNetmask::from_prefix_len(len, family),
                (1, lvs_model::Family::Ipv6) => SpecNetmask::Text(len.to_string()),
                (_, lvs_model::Family::Ipv6) => SpecNetmask::Text(format!("/{len}")),
            }),
    );
    prop_oneof![
        1 => Just((0, None)),
        2 => (timeout, netmask).prop_map(|(t, mask)| (i64::from(t), mask)),
    ]
}

/// A tunnel: type, GUE port and checksum mode, each left to its default sometimes.
fn tunnel() -> impl Strategy<Value = (Option<String>, Option<i64>, Option<String>)> {
    let checksum =
        |modes: Vec<&'static str>| proptest::option::of(select(modes).prop_map(str::to_owned));
    prop_oneof![
        (any::<bool>()).prop_map(|explicit| (explicit.then(|| "ipip".to_owned()), None, None)),
        (u16_edges(1), checksum(vec!["nocsum", "csum", "remcsum"])).prop_map(|(port, c)| (
            Some("gue".to_owned()),
            Some(i64::from(port)),
            c
        )),
        checksum(vec!["nocsum", "csum"]).prop_map(|c| (Some("gre".to_owned()), None, c)),
    ]
}

/// A real server the model accepts in a service with `key`.
fn real_server(key: lvs_model::ServiceKey) -> impl Strategy<Value = RealServerSpec> {
    let same_family = key.family() == lvs_model::Family::Ipv6;
    let methods = select(vec!["masq", "route", "local", "tunnel"]);
    (
        methods,
        any::<bool>(),
        any::<bool>(),
        real_server_address(same_family),
        real_server_address(!same_family),
        u16_edges(0),
        tunnel(),
        prop_oneof![2 => 0..=65535i64, 1 => select(vec![0i64, 65535])],
        (threshold(), threshold()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(
                method,
                cross_family,
                default_port,
                same,
                other,
                port,
                (tunnel_type, tunnel_port, tunnel_checksum),
                weight,
                (a, b),
                drained,
                omit_defaults,
            )| {
                let tunnelled = method == "tunnel";
                let address = if tunnelled && cross_family {
                    other
                } else {
                    same
                };
                let service_port = key.port().map_or(0, |p| p.get());
                let port = match (method, key.port()) {
                    // Only NAT maps ports; port 0 only in fwmark services.
                    ("masq", Some(_)) => port.max(1),
                    ("masq", None) => port,
                    _ => service_port,
                };
                let mut spec = RealServerSpec {
                    address: Some(address.to_string()),
                    port: (!default_port || method == "masq").then_some(i64::from(port)),
                    forwarding: Some(method.to_owned()),
                    weight: Some(weight),
                    upper_threshold: Some(i64::from(a.max(b))),
                    lower_threshold: Some(i64::from(a.min(b))),
                    state: drained.then(|| "drained".to_owned()),
                    ..RealServerSpec::default()
                };
                if tunnelled {
                    spec.tunnel_type = tunnel_type;
                    spec.tunnel_port = tunnel_port;
                    spec.tunnel_checksum = tunnel_checksum;
                }
                if omit_defaults {
                    spec.weight = None;
                    spec.upper_threshold = None;
                    spec.lower_threshold = None;
                }
                spec
            },
        )
}

/// A valid model service with up to four real servers.
fn desired_service() -> impl Strategy<Value = DesiredService> {
    service_key()
        .prop_flat_map(|key| {
            (
                Just(key),
                scheduler(),
                persistence(key.family()),
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(real_server(key), 0..=4),
            )
        })
        .prop_map(
            |(key, (scheduler, flags), (timeout, netmask), one_packet, sip, servers)| {
                let udp_or_fwmark = matches!(key.protocol(), None | Some(lvs_model::Protocol::Udp));
                let mut spec = ServiceSpec::from(&key);
                spec.scheduler = Some(scheduler);
                spec.scheduler_flags = flags;
                spec.persistence_timeout = timeout;
                spec.persistence_netmask = netmask;
                spec.one_packet = one_packet && udp_or_fwmark;
                if sip && udp_or_fwmark && timeout > 0 {
                    spec.persistence_engine = Some("sip".to_owned());
                }
                let mut seen = BTreeSet::new();
                let default_port = key.port().map_or(0, |p| i64::from(p.get()));
                let servers: Vec<RealServerSpec> = servers
                    .into_iter()
                    .filter(|rs| {
                        let address: IpAddr = rs.address.as_deref().unwrap().parse().unwrap();
                        seen.insert((address, rs.port.unwrap_or(default_port)))
                    })
                    .collect();
                spec.real_servers = Some(servers);
                DesiredService::parse(&spec).unwrap_or_else(|e| {
                    panic!("the generator made an invalid service: {e}\n{spec:?}")
                })
            },
        )
}

fn timeouts_spec() -> impl Strategy<Value = TimeoutsSpec> {
    let max = lvs_model::Timeouts::MAX_SECONDS;
    let seconds = || {
        proptest::option::of(
            prop_oneof![3 => 1..=max, 1 => select(vec![1, max])].prop_map(i64::from),
        )
    };
    (seconds(), seconds(), seconds()).prop_map(|(tcp, tcpfin, udp)| TimeoutsSpec {
        tcp,
        tcpfin,
        udp,
    })
}

/// What the kernel can hold of a model service: no labels, and a drained server is a
/// server of weight 0.
fn kernel_view(service: &DesiredService) -> DesiredService {
    let mut spec = service.to_spec();
    spec.name.clear();
    spec.description.clear();
    for rs in spec.real_servers.iter_mut().flatten() {
        if rs.state.as_deref() == Some("drained") {
            rs.weight = Some(0);
        }
        rs.state = None;
        rs.description.clear();
    }
    DesiredService::parse(&spec).expect("the kernel view of a valid service is valid")
}

/// Panics with the command and the error of every refused command of a batch.
fn assert_all_applied(ipvs: &mut Ipvs, commands: &[Command]) {
    let report = ipvs.apply(commands).expect("the netlink connection works");
    let failures: Vec<String> = report
        .failures()
        .map(|(i, e)| {
            format!(
                "{:?}\n  -> {e} (errno {:?})",
                commands[i],
                e.kernel().map(|k| k.errno)
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "the kernel refused what the model accepts:\n{}",
        failures.join("\n")
    );
}

static CASE: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        // The source tree is read-only in the guest; failures print their seed instead.
        failure_persistence: None,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    /// Everything the model accepts, the kernel accepts, and gives back unchanged.
    #[test]
    fn the_kernel_accepts_and_returns_every_valid_model_service(
        services in proptest::collection::vec(desired_service(), 1..=3),
        timeouts in timeouts_spec(),
    ) {
        let mut ipvs = director();
        let mut seen = BTreeSet::new();
        let services: Vec<DesiredService> =
            services.into_iter().filter(|s| seen.insert(*s.key())).collect();
        let timeouts = timeouts.parse().expect("valid timeouts");
        let state = DesiredState::new(0, timeouts, services).expect("distinct keys");

        assert_all_applied(&mut ipvs, &kernel_map::load_commands(&state));

        let mut observed = Vec::new();
        for entry in ipvs.table().unwrap() {
            let service = observed_service(&entry).unwrap_or_else(|e| {
                panic!("the model refuses what the kernel holds: {e}\n{entry:?}")
            });
            observed.push(service);
        }
        observed.sort_by_key(|s| *s.key());
        let expected: Vec<DesiredService> = state.services().map(kernel_view).collect();
        prop_assert_eq!(observed, expected);

        let kernel = ipvs.timeouts().unwrap();
        let set = kernel_map::timeouts(&state.timeouts);
        let or = |set: u32, default: u32| if set == 0 { default } else { set };
        prop_assert_eq!(
            kernel,
            Timeouts { tcp: or(set.tcp, 900), tcp_fin: or(set.tcp_fin, 120), udp: or(set.udp, 300) }
        );

        if CASE.fetch_add(1, Ordering::Relaxed) % 4 == 0 {
            assert_same_as_ipvsadm(&mut ipvs);
        }
    }
}

#[test]
fn twos_is_the_only_scheduler_missing() {
    let mut ipvs = director();
    let modules = crate::scheduler_modules();
    for (i, name) in SchedulerName::ALL.iter().enumerate() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 1000 + i as u16,
        };
        let result = ipvs.add_service(&Service::new(key, Scheduler::from_name(name.as_str())));
        if *name == SchedulerName::Twos {
            let err = result.expect_err("this kernel has no ip_vs_twos");
            assert_eq!(
                err.kernel().map(|k| k.kind.clone()),
                Some(ErrorKind::ModuleUnavailable {
                    scheduler: "twos".into(),
                    engine: None
                }),
                "{err}"
            );
            assert!(!modules.iter().any(|m| m == "twos"), "{modules:?}");
        } else {
            result.unwrap_or_else(|e| panic!("scheduler {name}: {e}"));
            assert!(modules.iter().any(|m| m == name.as_str()), "{modules:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Each model rule against the kernel
// ---------------------------------------------------------------------------------------

/// Whose rule a row documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The model refuses because the kernel does: the kernel must refuse with this errno.
    Kernel(i32),
    /// The model refuses for the data plane's sake (or ours): the kernel accepts.
    DataPlane,
    /// The model cannot know (it depends on the director): the model accepts, the kernel
    /// refuses with this errno. The agent must expect it at apply time.
    Director(i32),
    /// Both accept: no rule, though one might expect it.
    Neither,
}

struct Row {
    rule: &'static str,
    class: Class,
    /// The model's verdict on the same configuration.
    model: Result<(), String>,
    /// `ip` commands preparing the director.
    prep: Vec<Vec<&'static str>>,
    /// Commands that must succeed first.
    setup: Vec<Command>,
    command: Command,
}

fn key(text: &str) -> ServiceKey {
    kernel_map::service_key(&lvs_model::ServiceKey::parse(text).unwrap())
}

fn web() -> ServiceKey {
    key("tcp:10.0.0.1:80")
}

fn dest(addr: &str, forward: ForwardMethod) -> Destination {
    Destination::new(addr.parse::<SocketAddr>().unwrap(), forward)
}

fn add_svc(key: ServiceKey) -> Command {
    Command::AddService(Service::new(key, Scheduler::RoundRobin))
}

/// The model's verdict on a real server `spec` in the service `service` (a key's text form).
fn model_rs(service: &str, spec: &RealServerSpec) -> Result<(), String> {
    let key = lvs_model::ServiceKey::parse(service).unwrap();
    spec.parse(&key).map(drop).map_err(|e| e.to_string())
}

fn rs(address: &str, port: i64, forwarding: &str) -> RealServerSpec {
    RealServerSpec {
        address: Some(address.to_owned()),
        port: Some(port),
        forwarding: Some(forwarding.to_owned()),
        ..RealServerSpec::default()
    }
}

fn model_svc(spec: &ServiceSpec) -> Result<(), String> {
    spec.parse().map(drop).map_err(|e| e.to_string())
}

fn svc_spec(protocol: &str, address: &str, port: i64) -> ServiceSpec {
    ServiceSpec {
        protocol: Some(protocol.to_owned()),
        address: Some(address.to_owned()),
        port: Some(port),
        ..ServiceSpec::default()
    }
}

fn model_timeouts(spec: TimeoutsSpec) -> Result<(), String> {
    spec.parse().map(drop).map_err(|e| e.to_string())
}

fn row(
    rule: &'static str,
    class: Class,
    model: Result<(), String>,
    setup: Vec<Command>,
    command: Command,
) -> Row {
    Row {
        rule,
        class,
        model,
        prep: Vec::new(),
        setup,
        command,
    }
}

fn rows() -> Vec<Row> {
    let int_max_over_hz = i32::MAX as u32 / HZ;
    let mut rows = Vec::new();
    let with_web = || vec![add_svc(web())];
    let v6web = key("tcp:[2001:db8::1]:80");

    // Thresholds.
    let mut thresholds = dest("10.0.0.53:80", ForwardMethod::Masq);
    thresholds.upper_threshold = 10;
    thresholds.lower_threshold = 20;
    let spec = RealServerSpec {
        upper_threshold: Some(10),
        lower_threshold: Some(20),
        ..rs("10.0.0.53", 80, "masq")
    };
    rows.push(row(
        "lower_threshold > upper_threshold (add)",
        Class::Kernel(ERANGE),
        model_rs("tcp:10.0.0.1:80", &spec),
        with_web(),
        Command::AddDestination(web(), thresholds),
    ));
    rows.push(row(
        "lower_threshold > upper_threshold (edit)",
        Class::Kernel(ERANGE),
        model_rs("tcp:10.0.0.1:80", &spec),
        vec![
            add_svc(web()),
            Command::AddDestination(web(), dest("10.0.0.53:80", ForwardMethod::Masq)),
        ],
        Command::EditDestination(web(), thresholds),
    ));
    let mut no_limit = dest("10.0.0.53:80", ForwardMethod::Masq);
    no_limit.lower_threshold = 5;
    rows.push(row(
        "lower_threshold > 0 with upper_threshold 0 (no limit)",
        Class::Kernel(ERANGE),
        model_rs(
            "tcp:10.0.0.1:80",
            &RealServerSpec {
                lower_threshold: Some(5),
                ..rs("10.0.0.53", 80, "masq")
            },
        ),
        with_web(),
        Command::AddDestination(web(), no_limit),
    ));

    let mut huge = dest("10.0.0.54:80", ForwardMethod::Masq);
    huge.upper_threshold = Thresholds::MAX + 1;
    rows.push(row(
        "upper_threshold above INT_MAX",
        Class::Kernel(EINVAL),
        model_rs(
            "tcp:10.0.0.1:80",
            &RealServerSpec {
                upper_threshold: Some(i64::from(Thresholds::MAX) + 1),
                ..rs("10.0.0.54", 80, "masq")
            },
        ),
        with_web(),
        Command::AddDestination(web(), huge),
    ));

    // Tunnels.
    let mut gue = dest("10.0.0.52:80", ForwardMethod::Tunnel);
    gue.tunnel_type = TunnelType::Gue;
    let gue_spec = RealServerSpec {
        tunnel_type: Some("gue".into()),
        tunnel_port: Some(0),
        ..rs("10.0.0.52", 80, "tunnel")
    };
    rows.push(row(
        "GUE tunnel port 0 (add)",
        Class::Kernel(EINVAL),
        model_rs("tcp:10.0.0.1:80", &gue_spec),
        with_web(),
        Command::AddDestination(web(), gue),
    ));
    rows.push(row(
        "GUE tunnel port 0 (edit)",
        Class::Kernel(EINVAL),
        model_rs("tcp:10.0.0.1:80", &gue_spec),
        vec![
            add_svc(web()),
            Command::AddDestination(web(), dest("10.0.0.52:80", ForwardMethod::Tunnel)),
        ],
        Command::EditDestination(web(), gue),
    ));

    // Address families.
    for (method, forward) in [
        ("masq", ForwardMethod::Masq),
        ("route", ForwardMethod::Route),
        ("local", ForwardMethod::Local),
    ] {
        rows.push(row(
            match method {
                "masq" => "IPv6 real server in an IPv4 service, masq",
                "route" => "IPv6 real server in an IPv4 service, route",
                _ => "IPv6 real server in an IPv4 service, local",
            },
            Class::Kernel(EINVAL),
            model_rs("tcp:10.0.0.1:80", &rs("2001:db8::52", 80, method)),
            with_web(),
            Command::AddDestination(web(), dest("[2001:db8::52]:80", forward)),
        ));
    }
    rows.push(row(
        "IPv4 real server in an IPv6 service, masq",
        Class::Kernel(EINVAL),
        model_rs("tcp:[2001:db8::1]:80", &rs("10.0.0.52", 80, "masq")),
        vec![add_svc(v6web)],
        Command::AddDestination(v6web, dest("10.0.0.52:80", ForwardMethod::Masq)),
    ));

    // IPv6 persistence netmask.
    for (rule, prefix) in [
        ("IPv6 persistence prefix length 0", 0u8),
        ("IPv6 persistence prefix length 129", 129),
    ] {
        let mut svc = Service::new(v6web, Scheduler::RoundRobin);
        svc.flags = ServiceFlags::PERSISTENT;
        svc.timeout = 60;
        svc.netmask = Netmask::Prefix(prefix);
        let spec = ServiceSpec {
            persistence_timeout: 60,
            persistence_netmask: Some(SpecNetmask::Prefix(i64::from(prefix))),
            ..svc_spec("tcp", "2001:db8::1", 80)
        };
        rows.push(row(
            rule,
            Class::Kernel(EINVAL),
            model_svc(&spec),
            Vec::new(),
            Command::AddService(svc.clone()),
        ));
        let edit_rule = if prefix == 0 {
            "IPv6 persistence prefix length 0 (edit)"
        } else {
            "IPv6 persistence prefix length 129 (edit)"
        };
        rows.push(row(
            edit_rule,
            Class::Kernel(EINVAL),
            model_svc(&spec),
            vec![add_svc(v6web)],
            Command::EditService(svc),
        ));
    }

    // Real server addresses.
    for (rule, address, forward) in [
        (
            "real server 224.0.0.9 (IPv4 multicast)",
            "224.0.0.9:80",
            ForwardMethod::Route,
        ),
        (
            "real server 239.255.255.255 (IPv4 multicast)",
            "239.255.255.255:80",
            ForwardMethod::Masq,
        ),
        (
            "real server 255.255.255.255 (limited broadcast)",
            "255.255.255.255:80",
            ForwardMethod::Route,
        ),
        ("real server 0.0.0.0", "0.0.0.0:80", ForwardMethod::Masq),
    ] {
        let addr: SocketAddr = address.parse().unwrap();
        rows.push(row(
            rule,
            Class::Kernel(EINVAL),
            model_rs("tcp:10.0.0.1:80", &rs(&addr.ip().to_string(), 80, "masq")),
            with_web(),
            Command::AddDestination(web(), Destination::new(addr, forward)),
        ));
    }
    for (rule, address) in [
        ("real server ff02::1 (IPv6 multicast)", "[ff02::1]:80"),
        ("real server :: (unspecified)", "[::]:80"),
        ("real server fe80::1 (link-local)", "[fe80::1]:80"),
        (
            "real server febf::1 (link-local, end of fe80::/10)",
            "[febf::1]:80",
        ),
        (
            "real server ::ffff:10.0.0.60 (IPv4-mapped)",
            "[::ffff:10.0.0.60]:80",
        ),
    ] {
        let addr: SocketAddr = address.parse().unwrap();
        rows.push(row(
            rule,
            Class::Kernel(EINVAL),
            model_rs(
                "tcp:[2001:db8::1]:80",
                &rs(&addr.ip().to_string(), 80, "masq"),
            ),
            vec![add_svc(v6web)],
            Command::AddDestination(v6web, Destination::new(addr, ForwardMethod::Masq)),
        ));
    }

    // Connection timeouts: INT_MAX / HZ.
    for (rule, timeouts, spec) in [
        (
            "tcp timeout INT_MAX/HZ + 1",
            Timeouts {
                tcp: int_max_over_hz + 1,
                ..Timeouts::default()
            },
            TimeoutsSpec {
                tcp: Some(i64::from(int_max_over_hz + 1)),
                ..TimeoutsSpec::default()
            },
        ),
        (
            "tcpfin timeout INT_MAX/HZ + 1",
            Timeouts {
                tcp_fin: int_max_over_hz + 1,
                ..Timeouts::default()
            },
            TimeoutsSpec {
                tcpfin: Some(i64::from(int_max_over_hz + 1)),
                ..TimeoutsSpec::default()
            },
        ),
        (
            "udp timeout INT_MAX/HZ + 1",
            Timeouts {
                udp: int_max_over_hz + 1,
                ..Timeouts::default()
            },
            TimeoutsSpec {
                udp: Some(i64::from(int_max_over_hz + 1)),
                ..TimeoutsSpec::default()
            },
        ),
    ] {
        rows.push(row(
            rule,
            Class::Kernel(EINVAL),
            model_timeouts(spec),
            Vec::new(),
            Command::SetTimeouts(timeouts),
        ));
    }

    // ----- Rules the kernel does not have -----
    for (rule, method, forward) in [
        (
            "route real server port != service port",
            "route",
            ForwardMethod::Route,
        ),
        (
            "tunnel real server port != service port",
            "tunnel",
            ForwardMethod::Tunnel,
        ),
        (
            "local real server port != service port",
            "local",
            ForwardMethod::Local,
        ),
    ] {
        rows.push(row(
            rule,
            Class::DataPlane,
            model_rs("tcp:10.0.0.1:80", &rs("10.0.0.61", 8080, method)),
            with_web(),
            Command::AddDestination(web(), dest("10.0.0.61:8080", forward)),
        ));
    }
    let mark = key("fwmark:7:ipv4");
    rows.push(row(
        "fwmark service, route real server port != 0",
        Class::DataPlane,
        model_rs("fwmark:7:ipv4", &rs("10.0.0.62", 80, "route")),
        vec![add_svc(mark)],
        Command::AddDestination(mark, dest("10.0.0.62:80", ForwardMethod::Route)),
    ));
    rows.push(row(
        "fwmark service, tunnel real server port != 0",
        Class::DataPlane,
        model_rs("fwmark:7:ipv4", &rs("10.0.0.62", 80, "tunnel")),
        vec![add_svc(mark)],
        Command::AddDestination(mark, dest("10.0.0.62:80", ForwardMethod::Tunnel)),
    ));
    rows.push(row(
        "address service, real server port 0",
        Class::DataPlane,
        model_rs("tcp:10.0.0.1:80", &rs("10.0.0.63", 0, "masq")),
        with_web(),
        Command::AddDestination(web(), dest("10.0.0.63:0", ForwardMethod::Masq)),
    ));
    for (rule, protocol) in [("one_packet on tcp", "tcp"), ("one_packet on sctp", "sctp")] {
        let key = key(&format!("{protocol}:10.0.0.1:80"));
        let mut svc = Service::new(key, Scheduler::RoundRobin);
        svc.flags = ServiceFlags::ONE_PACKET;
        rows.push(row(
            rule,
            Class::DataPlane,
            model_svc(&ServiceSpec {
                one_packet: true,
                ..svc_spec(protocol, "10.0.0.1", 80)
            }),
            Vec::new(),
            Command::AddService(svc),
        ));
    }
    let mut sip_tcp = Service::new(web(), Scheduler::RoundRobin);
    sip_tcp.flags = ServiceFlags::PERSISTENT;
    sip_tcp.timeout = 60;
    sip_tcp.persistence_engine = Some("sip".into());
    rows.push(row(
        "sip persistence engine on tcp",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            persistence_timeout: 60,
            persistence_engine: Some("sip".into()),
            ..svc_spec("tcp", "10.0.0.1", 80)
        }),
        Vec::new(),
        Command::AddService(sip_tcp),
    ));
    let udp = key("udp:10.0.0.1:5060");
    let mut sip_no_persistence = Service::new(udp, Scheduler::RoundRobin);
    sip_no_persistence.persistence_engine = Some("sip".into());
    rows.push(row(
        "sip persistence engine without persistence",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            persistence_engine: Some("sip".into()),
            ..svc_spec("udp", "10.0.0.1", 5060)
        }),
        Vec::new(),
        Command::AddService(sip_no_persistence),
    ));
    for (rule, vip) in [
        ("VIP 255.255.255.255 (broadcast)", "255.255.255.255"),
        ("VIP 224.0.0.1 (IPv4 multicast)", "224.0.0.1"),
        ("VIP 0.0.0.0", "0.0.0.0"),
        ("VIP ff02::1 (IPv6 multicast)", "ff02::1"),
        ("VIP :: (unspecified)", "::"),
    ] {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: vip.parse().unwrap(),
            port: 80,
        };
        rows.push(row(
            rule,
            Class::DataPlane,
            model_svc(&svc_spec("tcp", vip, 80)),
            Vec::new(),
            add_svc(key),
        ));
    }
    let mut gre_remcsum = dest("10.0.0.64:80", ForwardMethod::Tunnel);
    gre_remcsum.tunnel_type = TunnelType::Gre;
    gre_remcsum.tunnel_flags = TunnelFlags::REMCSUM;
    rows.push(row(
        "remcsum on a GRE tunnel",
        Class::DataPlane,
        model_rs(
            "tcp:10.0.0.1:80",
            &RealServerSpec {
                tunnel_type: Some("gre".into()),
                tunnel_checksum: Some("remcsum".into()),
                ..rs("10.0.0.64", 80, "tunnel")
            },
        ),
        with_web(),
        Command::AddDestination(web(), gre_remcsum),
    ));
    let mut rr_flag = Service::new(web(), Scheduler::RoundRobin);
    rr_flag.flags = ServiceFlags::SCHED1;
    rows.push(row(
        "scheduler flag 1 (sh-fallback) on rr",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            scheduler: Some("rr".into()),
            scheduler_flags: vec!["sh-fallback".into()],
            ..svc_spec("tcp", "10.0.0.1", 80)
        }),
        Vec::new(),
        Command::AddService(rr_flag),
    ));
    let mut odd_mask = Service::new(web(), Scheduler::RoundRobin);
    odd_mask.flags = ServiceFlags::PERSISTENT;
    odd_mask.timeout = 60;
    odd_mask.netmask = Netmask::NonContiguous(Ipv4Addr::new(255, 0, 255, 0));
    rows.push(row(
        "non-contiguous IPv4 persistence netmask 255.0.255.0",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            persistence_timeout: 60,
            persistence_netmask: Some(SpecNetmask::Text("255.0.255.0".into())),
            ..svc_spec("tcp", "10.0.0.1", 80)
        }),
        Vec::new(),
        Command::AddService(odd_mask),
    ));
    let mut heavy = dest("10.0.0.65:80", ForwardMethod::Masq);
    heavy.weight = 65536;
    rows.push(row(
        "weight 65536 (the model keeps ipvsadm's 0-65535)",
        Class::DataPlane,
        model_rs(
            "tcp:10.0.0.1:80",
            &RealServerSpec {
                weight: Some(65536),
                ..rs("10.0.0.65", 80, "masq")
            },
        ),
        with_web(),
        Command::AddDestination(web(), heavy),
    ));
    let mut all_ports = Service::new(key_port0(), Scheduler::RoundRobin);
    all_ports.flags = ServiceFlags::PERSISTENT;
    all_ports.timeout = 60;
    rows.push(row(
        "service port 0 (ipvsadm's persistent all-ports service)",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            persistence_timeout: 60,
            ..svc_spec("tcp", "10.0.0.1", 0)
        }),
        Vec::new(),
        Command::AddService(all_ports),
    ));
    let model_max = lvs_model::Timeouts::MAX_SECONDS;
    rows.push(row(
        "tcp timeout above the model's INT_MAX/1000 but within INT_MAX/HZ (HZ=250)",
        Class::DataPlane,
        model_timeouts(TimeoutsSpec {
            tcp: Some(i64::from(model_max + 1)),
            ..TimeoutsSpec::default()
        }),
        Vec::new(),
        Command::SetTimeouts(Timeouts {
            tcp: int_max_over_hz,
            tcp_fin: int_max_over_hz,
            udp: int_max_over_hz,
        }),
    ));
    let mut long = Service::new(web(), Scheduler::RoundRobin);
    long.flags = ServiceFlags::PERSISTENT;
    long.timeout = Persistence::MAX_TIMEOUT + 1;
    rows.push(row(
        "persistence timeout above the model's u32::MAX/1000 (HZ=250 does not wrap yet)",
        Class::DataPlane,
        model_svc(&ServiceSpec {
            persistence_timeout: i64::from(Persistence::MAX_TIMEOUT + 1),
            ..svc_spec("tcp", "10.0.0.1", 80)
        }),
        Vec::new(),
        Command::AddService(long),
    ));
    let mut local_ll = row(
        "real server at a link-local address the director holds",
        Class::DataPlane,
        model_rs("tcp:[2001:db8::1]:80", &rs("fe80::1234", 80, "masq")),
        vec![add_svc(v6web)],
        Command::AddDestination(v6web, dest("[fe80::1234]:80", ForwardMethod::Masq)),
    );
    local_ll.prep = vec![vec![
        "-6",
        "addr",
        "add",
        "fe80::1234/64",
        "dev",
        "d0",
        "nodad",
    ]];
    rows.push(local_ll);

    // ----- No rule on either side -----
    // Linux 6.1 refuses 0.0.0.0 itself but not the rest of 0.0.0.0/8, nor class E.
    rows.push(row(
        "real server 0.1.2.3 (in 0.0.0.0/8)",
        Class::Neither,
        model_rs("tcp:10.0.0.1:80", &rs("0.1.2.3", 80, "masq")),
        with_web(),
        Command::AddDestination(web(), dest("0.1.2.3:80", ForwardMethod::Masq)),
    ));
    rows.push(row(
        "real server 240.0.0.1 (class E)",
        Class::Neither,
        model_rs("tcp:10.0.0.1:80", &rs("240.0.0.1", 80, "masq")),
        with_web(),
        Command::AddDestination(web(), dest("240.0.0.1:80", ForwardMethod::Masq)),
    ));

    // ----- Refusals that depend on the director -----
    rows.push(row(
        "real server at a broadcast address of the director's subnets (10.0.0.255)",
        Class::Director(EINVAL),
        model_rs("tcp:10.0.0.1:80", &rs("10.0.0.255", 80, "masq")),
        with_web(),
        Command::AddDestination(web(), dest("10.0.0.255:80", ForwardMethod::Masq)),
    ));
    rows
}

fn key_port0() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 0,
    }
}

fn outcome(result: &Result<(), Error>) -> String {
    match result {
        Ok(()) => "kernel accepts".to_owned(),
        Err(e) => match e.kernel() {
            Some(k) => match &k.message {
                Some(message) => format!("kernel refuses, errno {} ({message})", k.errno),
                None => format!("kernel refuses, errno {}", k.errno),
            },
            None => format!("not sent: {e}"),
        },
    }
}

/// Every model rule that names the kernel is the kernel's, with the errno it names; every
/// other rule is the model's own. Prints the evidence table.
#[test]
fn each_model_rule_against_the_kernel() {
    let mut failures = Vec::new();
    let mut ipvs = director();
    println!("| rule | model | kernel |\n|---|---|---|");
    for row in rows() {
        // A fresh, empty director for each row.
        ipvs.flush().unwrap();
        ipvs.set_timeouts(&Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        })
        .unwrap();
        for args in &row.prep {
            run("ip", args);
        }
        assert_all_applied(&mut ipvs, &row.setup);
        let result = ipvs.execute(&row.command);
        let errno = result
            .as_ref()
            .err()
            .and_then(|e| e.kernel())
            .map(|k| k.errno);
        let model = match &row.model {
            Ok(()) => "accepts".to_owned(),
            Err(message) => format!("refuses: {}", message.replace('\n', "; ")),
        };
        println!("| {} | {model} | {} |", row.rule, outcome(&result));
        let ok = match row.class {
            Class::Kernel(expected) => row.model.is_err() && errno == Some(expected),
            Class::DataPlane => row.model.is_err() && result.is_ok(),
            Class::Director(expected) => row.model.is_ok() && errno == Some(expected),
            Class::Neither => row.model.is_ok() && result.is_ok(),
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, model {model}, {}",
                row.rule,
                row.class,
                outcome(&result)
            ));
        }
        for args in &row.prep {
            // Undo `ip addr add` preparations.
            let mut undo: Vec<&str> = args.to_vec();
            if let Some(add) = undo.iter_mut().find(|a| **a == "add") {
                *add = "del";
            }
            run("ip", &undo);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The bounds of the rules above: the largest values the model accepts, the kernel takes
/// and gives back.
#[test]
fn the_model_limits_are_within_the_kernel_limits() {
    let mut ipvs = director();
    let int_max_over_hz = i32::MAX as u32 / HZ;
    // Timeouts: INT_MAX/HZ is the kernel's largest; the model's stays below it.
    let max = Timeouts {
        tcp: int_max_over_hz,
        tcp_fin: int_max_over_hz,
        udp: int_max_over_hz,
    };
    ipvs.set_timeouts(&max).unwrap();
    assert_eq!(ipvs.timeouts().unwrap(), max);
    assert!(lvs_model::Timeouts::MAX_SECONDS <= int_max_over_hz);

    // Persistence: the kernel multiplies by HZ in 32 bits without a check, so above
    // u32::MAX / HZ the timeout silently wraps. The model's bound is u32::MAX / 1000.
    let mut svc = Service::new(web(), Scheduler::RoundRobin);
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = Persistence::MAX_TIMEOUT;
    ipvs.add_service(&svc).unwrap();
    assert_eq!(
        ipvs.service(&web()).unwrap().service.timeout,
        Persistence::MAX_TIMEOUT
    );
    let wrapping = u32::MAX / HZ + 1;
    svc.timeout = wrapping;
    ipvs.edit_service(&svc)
        .expect("the kernel does not check the persistence timeout");
    let read = ipvs.service(&web()).unwrap().service.timeout;
    assert_eq!(
        read,
        wrapping.wrapping_mul(HZ) / HZ,
        "the timeout wraps in jiffies"
    );
    assert_ne!(read, wrapping);

    // Thresholds: INT_MAX is the largest the kernel takes.
    let mut d = dest("10.0.0.70:80", ForwardMethod::Masq);
    d.upper_threshold = Thresholds::MAX;
    d.lower_threshold = Thresholds::MAX;
    ipvs.add_destination(&web(), &d).unwrap();
    assert_eq!(ipvs.destinations(&web()).unwrap()[0].destination, d);

    // IPv6 prefix lengths 1 and 128 are the kernel's bounds too.
    let v6 = key("tcp:[2001:db8::1]:80");
    for prefix in [1, 128] {
        let mut svc = Service::new(v6, Scheduler::RoundRobin);
        svc.flags = ServiceFlags::PERSISTENT;
        svc.timeout = 60;
        svc.netmask = Netmask::Prefix(prefix);
        ipvs.add_service(&svc).unwrap();
        assert_eq!(
            ipvs.service(&v6).unwrap().service.netmask,
            Netmask::Prefix(prefix)
        );
        ipvs.delete_service(&v6).unwrap();
    }
    // A non-persistent IPv6 service is checked too: the library always sends /128.
    assert_eq!(Netmask::host(Family::Inet6), Netmask::Prefix(128));
}

/// `local` forwarding (`IP_VS_CONN_F_LOCALNODE`) from the model to the kernel and back, on
/// both families and a fwmark service; `ipvsadm` shows it as `Local` (and saves it as `-g`).
#[test]
fn local_forwarding_round_trips() {
    let mut ipvs = director();
    let local = |address: &str, port: i64| RealServerSpec {
        address: Some(address.to_owned()),
        port: Some(port),
        forwarding: Some("local".to_owned()),
        weight: Some(3),
        ..RealServerSpec::default()
    };
    let inet = |protocol: &str, address: &str, servers: Vec<RealServerSpec>| ServiceSpec {
        protocol: Some(protocol.to_owned()),
        address: Some(address.to_owned()),
        port: Some(80),
        real_servers: Some(servers),
        ..ServiceSpec::default()
    };
    let specs = [
        inet(
            "tcp",
            "10.0.0.1",
            vec![local("10.0.0.254", 80), local("127.0.0.1", 80)],
        ),
        inet("udp", "2001:db8::1", vec![local("2001:db8::fe", 80)]),
        ServiceSpec {
            fwmark: Some(9),
            family: Some("ipv4".to_owned()),
            real_servers: Some(vec![local("10.0.0.254", 0)]),
            ..ServiceSpec::default()
        },
    ];
    let services: Vec<DesiredService> = specs
        .iter()
        .map(|s| DesiredService::parse(s).unwrap())
        .collect();
    let state = DesiredState::new(0, lvs_model::Timeouts::default(), services).unwrap();
    let report = ipvs.apply(&kernel_map::load_commands(&state)).unwrap();
    assert!(report.is_ok(), "{:?}", report.failures().next());

    let table = ipvs.table().unwrap();
    assert_eq!(table.len(), 3);
    for entry in &table {
        for d in &entry.destinations {
            assert_eq!(d.destination.forward, ForwardMethod::Local, "{d:?}");
        }
        let observed = kernel_map::observed_service(entry).unwrap();
        assert_eq!(Some(&observed), state.service(observed.key()));
    }
    let listing = ipvsadm(&["-L", "-n"]);
    assert_eq!(listing.matches(" Local ").count(), 4, "{listing}");
    assert_same_as_ipvsadm(&mut ipvs);

    // Linux 6.1 keeps the method it is given: NAT to one of the director's own addresses
    // stays NAT (old kernels turned it into `local`).
    let nat = inet("tcp", "10.0.0.2", Vec::new());
    let key = kernel_map::service_key(nat.parse().unwrap().key());
    ipvs.add_service(&Service::new(key, Scheduler::RoundRobin))
        .unwrap();
    let own = dest("10.0.0.254:8080", ForwardMethod::Masq);
    ipvs.add_destination(&key, &own).unwrap();
    assert_eq!(ipvs.destinations(&key).unwrap()[0].destination, own);
}
