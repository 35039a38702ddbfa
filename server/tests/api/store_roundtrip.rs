//! Property: any valid desired state, PUT through the API and read back with GET, is the
//! canonical form of what was sent. The strategies are this file's own, independent of the
//! model crate's.

use std::collections::BTreeSet;

use lvs_model::spec::{
    DesiredStateSpec, HealthCheckSpec, Netmask, RealServerSpec, ServiceSpec, TimeoutsSpec,
};
use lvs_model::{Family, Persistence, SchedulerName, Timeouts};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use crate::helpers::*;

const CASES: u32 = 32;

fn v4_address() -> impl Strategy<Value = String> {
    prop_oneof![
        // Few addresses, so successive states share services and real servers.
        2 => (0u8..2, 1u8..4).prop_map(|(c, d)| format!("10.0.{c}.{d}")),
        1 => (1u8..=223, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| format!("{a}.{b}.{c}.{d}")),
    ]
}

fn v6_address() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (1u16..4).prop_map(|d| format!("2001:db8::{d:x}")),
        // Non-canonical spellings of the same addresses.
        1 => (1u16..4).prop_map(|d| format!("2001:DB8:0:0:0:0:0:{d:X}")),
        1 => (0x2000u16..=0x3fff, any::<[u16; 7]>()).prop_map(|(first, rest)| {
            let mut segments = [first; 8];
            segments[1..].copy_from_slice(&rest);
            std::net::Ipv6Addr::from(segments).to_string()
        }),
    ]
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-zA-Z0-9 ._()-]{1,20}", "\\PC{0,10}"]
}

fn description() -> impl Strategy<Value = String> {
    prop_oneof![label(), "[a-z ]{0,8}\n[a-z\t]{0,8}"]
}

#[derive(Debug, Clone)]
enum KeyRecipe {
    Address {
        protocol: &'static str,
        v6: bool,
        address: String,
        port: u16,
    },
    Fwmark {
        fwmark: u32,
        v6: bool,
    },
}

fn key_recipe() -> impl Strategy<Value = KeyRecipe> {
    let port = prop_oneof![select(vec![80u16, 443, 53]), 1u16..=u16::MAX];
    prop_oneof![
        3 => (select(vec!["tcp", "udp", "sctp"]), v4_address(), port.clone()).prop_map(
            |(protocol, address, port)| KeyRecipe::Address { protocol, v6: false, address, port }
        ),
        2 => (select(vec!["tcp", "udp", "sctp"]), v6_address(), port).prop_map(
            |(protocol, address, port)| KeyRecipe::Address { protocol, v6: true, address, port }
        ),
        1 => (prop_oneof![1u32..4, 1u32..=u32::MAX], any::<bool>())
            .prop_map(|(fwmark, v6)| KeyRecipe::Fwmark { fwmark, v6 }),
    ]
}

/// Random choices that become a real server once the service is known.
#[derive(Debug, Clone)]
struct ServerRecipe {
    other_family: bool,
    host: u16,
    forwarding: usize,
    port: Option<u16>,
    tunnel_type: usize,
    tunnel_port: u16,
    checksum: usize,
    weight: Option<u16>,
    upper: Option<u32>,
    lower: Option<u32>,
    state: usize,
    description: String,
    /// An index into [`sample_check`]; most have none.
    check: usize,
}

/// Health checks of every kind, each with a port so that fwmark services take it too.
fn sample_check(index: usize) -> Option<HealthCheckSpec> {
    let value = match index {
        0 => json!({"kind": "tcp", "port": 8080}),
        1 => json!({"kind": "http", "port": 80, "path": "/healthz", "host": "web.example",
                    "expect_status": [200, "300-302"], "expect_body": "ok",
                    "on_failure": "remove", "initial": "down"}),
        2 => json!({"kind": "https", "port": 443, "insecure": true, "sni": "web.internal",
                    "expect_body_regex": "^ok$", "method": "HEAD", "reuse_connection": true}),
        3 => json!({"kind": "https", "port": 8443, "ca_file": "/etc/lvs/ca.pem"}),
        4 => json!({"kind": "udp-dns", "port": 53, "dns_name": "health.example",
                    "dns_type": "AAAA", "interval_ms": 500, "timeout_ms": 200, "rise": 1,
                    "fall": 5}),
        5 => json!({"kind": "exec", "command": "/usr/lib/lvs-checks/probe", "args": ["-q"]}),
        6 => json!({"kind": "none"}),
        _ => return None,
    };
    Some(serde_json::from_value(value).expect("a sample check"))
}

fn server_recipe() -> impl Strategy<Value = ServerRecipe> {
    (
        (
            any::<bool>(),
            prop_oneof![1u16..6, 1u16..=0xffff],
            0usize..4,
        ),
        (
            proptest::option::of(any::<u16>()),
            0usize..4,
            1u16..=u16::MAX,
            0usize..4,
        ),
        (
            proptest::option::of(prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()]),
            // The kernel refuses thresholds above i32::MAX.
            proptest::option::of(0u32..=i32::MAX as u32),
            proptest::option::of(0u32..=i32::MAX as u32),
            0usize..3,
        ),
        (description(), 0usize..14),
    )
        .prop_map(
            |(
                (other_family, host, forwarding),
                (port, tunnel_type, tunnel_port, checksum),
                (weight, upper, lower, state),
                (description, check),
            )| ServerRecipe {
                other_family,
                host,
                forwarding,
                port,
                tunnel_type,
                tunnel_port,
                checksum,
                weight,
                upper,
                lower,
                state,
                description,
                check,
            },
        )
}

impl ServerRecipe {
    fn render(&self, family: Family, service_port: Option<u16>) -> RealServerSpec {
        let forwarding = ["masq", "route", "local", "tunnel"][self.forwarding];
        let tunnel = forwarding == "tunnel";
        let v6 = (family == Family::Ipv6) != (tunnel && self.other_family);
        let address = if v6 {
            format!("2001:db8:1::{:x}", self.host)
        } else {
            format!("10.1.{}.{}", self.host >> 8, self.host & 0xff)
        };
        let port = match (service_port, forwarding) {
            (Some(_), "masq") => self.port.map(|p| i64::from(p.max(1))),
            (None, "masq") => self.port.map(i64::from),
            (Some(vport), _) => self.port.map(|_| i64::from(vport)),
            (None, _) => self.port.map(|_| 0),
        };
        let (mut tunnel_type, mut tunnel_port, mut tunnel_checksum) = (None, None, None);
        if tunnel {
            match self.tunnel_type {
                0 => {}
                1 => tunnel_type = Some("ipip".to_owned()),
                2 => {
                    tunnel_type = Some("gue".to_owned());
                    tunnel_port = Some(i64::from(self.tunnel_port));
                    tunnel_checksum =
                        [None, Some("nocsum"), Some("csum"), Some("remcsum")][self.checksum];
                }
                _ => {
                    tunnel_type = Some("gre".to_owned());
                    tunnel_checksum = [None, Some("nocsum"), Some("csum"), None][self.checksum];
                }
            }
        }
        let lower = match self.upper {
            Some(upper) => self.lower.map(|l| l % upper.saturating_add(1)),
            None => self.lower.map(|_| 0),
        };
        RealServerSpec {
            address: Some(address),
            port,
            forwarding: Some(forwarding.to_owned()),
            tunnel_type,
            tunnel_port,
            tunnel_checksum: tunnel_checksum.map(str::to_owned),
            weight: self.weight.map(i64::from),
            upper_threshold: self.upper.map(i64::from),
            lower_threshold: lower.map(i64::from),
            state: [None, Some("active"), Some("drained")][self.state].map(str::to_owned),
            description: self.description.clone(),
            health_check: sample_check(self.check),
        }
    }
}

#[derive(Debug, Clone)]
struct ServiceRecipe {
    key: KeyRecipe,
    scheduler: Option<usize>,
    flags: (bool, bool, bool),
    timeout: u32,
    netmask: (u8, u8),
    one_packet: bool,
    sip: bool,
    name: String,
    description: String,
    /// The service's check (an index into [`sample_check`]), whether it has a sorry server,
    /// and its quorum.
    health: (usize, bool, Option<u16>),
    servers: Vec<ServerRecipe>,
}

fn service_recipe() -> impl Strategy<Value = ServiceRecipe> {
    (
        key_recipe(),
        proptest::option::of(0..SchedulerName::ALL.len()),
        any::<(bool, bool, bool)>(),
        prop_oneof![Just(0u32), 1..=Persistence::MAX_TIMEOUT],
        (0u8..3, any::<u8>()),
        any::<(bool, bool)>(),
        (label(), description()),
        (
            0usize..10,
            any::<bool>(),
            proptest::option::of(any::<u16>()),
        ),
        proptest::collection::vec(server_recipe(), 0..4),
    )
        .prop_map(
            |(
                key,
                scheduler,
                flags,
                timeout,
                netmask,
                (one_packet, sip),
                (name, description),
                health,
                servers,
            )| {
                ServiceRecipe {
                    key,
                    scheduler,
                    flags,
                    timeout,
                    netmask,
                    one_packet,
                    sip,
                    name,
                    description,
                    health,
                    servers,
                }
            },
        )
}

impl ServiceRecipe {
    fn render(&self) -> ServiceSpec {
        let mut spec = ServiceSpec::default();
        let (family, udp_or_fwmark, port) = match &self.key {
            KeyRecipe::Address {
                protocol,
                v6,
                address,
                port,
            } => {
                spec.protocol = Some((*protocol).to_owned());
                spec.address = Some(address.clone());
                spec.port = Some(i64::from(*port));
                let family = if *v6 { Family::Ipv6 } else { Family::Ipv4 };
                (family, *protocol == "udp", Some(*port))
            }
            KeyRecipe::Fwmark { fwmark, v6 } => {
                let family = if *v6 { Family::Ipv6 } else { Family::Ipv4 };
                spec.fwmark = Some(i64::from(*fwmark));
                spec.family = Some(family.to_string());
                (family, true, None)
            }
        };
        if let Some(index) = self.scheduler {
            let name = SchedulerName::ALL[index];
            spec.scheduler = Some(name.to_string());
            let (fallback, port_flag, reversed) = self.flags;
            let prefix = match name {
                SchedulerName::Sh => Some("sh"),
                SchedulerName::Mh => Some("mh"),
                _ => None,
            };
            if let Some(prefix) = prefix {
                let mut flags = Vec::new();
                if fallback {
                    flags.push(format!("{prefix}-fallback"));
                }
                if port_flag {
                    flags.push(format!("{prefix}-port"));
                }
                if reversed {
                    flags.reverse();
                }
                spec.scheduler_flags = flags;
            }
        }
        spec.persistence_timeout = i64::from(self.timeout);
        if self.timeout > 0 {
            let (style, seed) = self.netmask;
            spec.persistence_netmask = match (style, family) {
                (0, _) => None,
                (1, Family::Ipv4) => Some(Netmask::Prefix(i64::from(seed % 33))),
                (1, Family::Ipv6) => Some(Netmask::Prefix(i64::from(seed % 128) + 1)),
                (_, Family::Ipv4) => Some(Netmask::from_prefix_len(seed % 33, Family::Ipv4)),
                (_, Family::Ipv6) => {
                    let prefix = u16::from(seed % 128) + 1;
                    Some(Netmask::Text(if seed % 2 == 0 {
                        format!("/{prefix}")
                    } else {
                        prefix.to_string()
                    }))
                }
            };
        }
        spec.one_packet = self.one_packet && udp_or_fwmark;
        if self.sip && udp_or_fwmark && self.timeout > 0 {
            spec.persistence_engine = Some("sip".to_owned());
        }
        spec.name = self.name.clone();
        spec.description = self.description.clone();
        let (check, sorry, min_healthy) = self.health;
        spec.health_check = sample_check(check);
        if sorry {
            // Outside the real servers' addresses (10.1.x.x, 2001:db8:1::x).
            let address = match family {
                Family::Ipv4 => "10.9.9.9",
                Family::Ipv6 => "2001:db8:9::9",
            };
            spec.sorry_server = Some(RealServerSpec {
                address: Some(address.to_owned()),
                forwarding: Some("masq".to_owned()),
                ..RealServerSpec::default()
            });
        }
        spec.min_healthy = min_healthy.map(i64::from);

        // Real servers, one per address and port.
        let key = *spec
            .parse()
            .expect("the strategy makes valid services")
            .key();
        let mut seen = BTreeSet::new();
        let mut servers = Vec::new();
        for recipe in &self.servers {
            let server = recipe.render(family, port);
            let parsed = server
                .parse(&key)
                .unwrap_or_else(|e| panic!("the strategy made an invalid {server:?}: {e}"));
            if seen.insert(parsed.key()) {
                servers.push(server);
            }
        }
        // A document writes out every pool, even an empty one.
        spec.real_servers = Some(servers);
        spec
    }
}

fn desired_state_spec() -> impl Strategy<Value = DesiredStateSpec> {
    let timeout = || proptest::option::of(1..=i64::from(Timeouts::MAX_SECONDS));
    (
        (timeout(), timeout(), timeout()),
        proptest::collection::vec(service_recipe(), 0..6),
        any::<bool>(),
    )
        .prop_map(|((tcp, tcpfin, udp), recipes, named)| {
            let mut seen = BTreeSet::new();
            let mut services = Vec::new();
            for recipe in &recipes {
                let spec = recipe.render();
                let key = *spec.parse().expect("valid").key();
                if seen.insert(key) {
                    services.push(spec);
                }
            }
            DesiredStateSpec {
                cluster: named.then(|| "rt".to_owned()),
                generation: None,
                timeouts: Some(TimeoutsSpec { tcp, tcpfin, udp }),
                host: None,
                services: Some(services),
            }
        })
}

#[test]
fn any_valid_desired_state_reads_back_canonical() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(async {
        let app = TestApp::spawn().await;
        app.create_cluster("rt").await;
        app
    });
    let config = Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&desired_state_spec(), |spec| {
        runtime.block_on(check_round_trip(&app, &spec))
    });
    runtime.block_on(async move { app.stop().await });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Each case replaces whatever the previous one stored, so the diff is exercised between
/// unrelated states too.
async fn check_round_trip(app: &TestApp, spec: &DesiredStateSpec) -> Result<(), TestCaseError> {
    let sent = serde_json::to_value(spec).expect("JSON");
    let resp = app.put(&desired_state("rt"), &sent, None).await;
    prop_assert_eq!(resp.status, 200, "{}", resp.text);
    let to_generation = resp.body["to_generation"].as_u64().expect("to_generation");

    let (got, etag) = app.desired_state("rt").await;
    let mut got_spec: DesiredStateSpec = serde_json::from_value(got.clone()).expect("a document");
    prop_assert_eq!(got_spec.cluster.as_deref(), Some("rt"));
    prop_assert_eq!(got_spec.generation, Some(to_generation));
    prop_assert_eq!(etag, format!("\"gen-{to_generation}\""));
    got_spec.cluster = None;
    got_spec.generation = None;
    let mut expected = DesiredStateSpec::from(&spec.parse().expect("a valid document"));
    expected.generation = None;
    prop_assert_eq!(&got_spec, &expected);

    // What GET shows is already canonical: sending it back changes nothing.
    let again = app.put(&desired_state("rt"), &got, None).await;
    prop_assert_eq!(again.status, 200, "{}", again.text);
    prop_assert_eq!(&again.body["services"], &json!([]));
    prop_assert_eq!(again.body["to_generation"].as_u64(), Some(to_generation));
    Ok(())
}
