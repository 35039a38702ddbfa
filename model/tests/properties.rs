//! Properties of every valid value: JSON round trips, canonical specs, deterministic
//! serialisation, and diffs that turn one state into another exactly.
//!
//! Inputs are generated as "recipes" of random choices that are rendered against a service
//! key into a spec inside the valid domain, so one recipe fits any service (which is what
//! lets mutations add a real server to whatever service they pick).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lvs_model::spec::{
    DesiredStateSpec, HostSpec, IpvsSysctlsSpec, Netmask, RealServerSpec, ServiceSpec,
    TimeoutsSpec, VipsSpec,
};
use lvs_model::{
    ApplyError, DesiredService, DesiredState, Diff, DiffSpec, DiffSummary, Family,
    ForwardingMethod, Fwmark, Persistence, Port, Protocol, RealServer, RealServerChange,
    RealServerKey, RealServerState, SchedulerName, ServiceChange, ServiceKey, Thresholds, Timeouts,
    TunnelChecksum, TunnelType,
};
use proptest::prelude::*;
use proptest::sample::{select, Index};

const CASES: u32 = 256;

// ---------------------------------------------------------------------------------------
// Addresses and numbers
// ---------------------------------------------------------------------------------------

/// Unicast IPv4 addresses, usable as virtual addresses and real servers.
fn ipv4_unicast() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        4 => (1u8..=223, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d)),
        // A small range, so services and real servers collide and mutations meet them.
        2 => (0u8..2, 0u8..4).prop_map(|(c, d)| Ipv4Addr::new(10, 0, c, d)),
        1 => select(vec![
            Ipv4Addr::new(1, 0, 0, 0),
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::new(192, 0, 2, 255),
            Ipv4Addr::new(223, 255, 255, 255),
        ]),
    ]
}

/// Unicast IPv6 addresses that are not link-local: global, unique-local, site-local,
/// loopback.
fn ipv6_unicast() -> impl Strategy<Value = Ipv6Addr> {
    let first = prop_oneof![0x2000u16..=0x3fff, 0xfc00u16..=0xfdff, 0xfec0u16..=0xfeff];
    prop_oneof![
        4 => (first, any::<[u16; 7]>()).prop_map(|(first, rest)| {
            let mut segments = [first, 0, 0, 0, 0, 0, 0, 0];
            segments[1..].copy_from_slice(&rest);
            Ipv6Addr::from(segments)
        }),
        2 => (0u16..2, 0u16..4).prop_map(|(c, d)| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, c, d)),
        1 => Just(Ipv6Addr::LOCALHOST),
    ]
}

/// An address in one of its accepted spellings: canonical, fully expanded, upper case.
fn spell(address: IpAddr, style: u8) -> String {
    match address {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => match style % 3 {
            0 => a.to_string(),
            1 => a.segments().map(|s| format!("{s:x}")).join(":"),
            _ => a.to_string().to_uppercase(),
        },
    }
}

fn other_family(family: Family) -> Family {
    match family {
        Family::Ipv4 => Family::Ipv6,
        Family::Ipv6 => Family::Ipv4,
    }
}

fn port_number() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(1u16),
        Just(65535),
        select(vec![53u16, 80, 443]),
        1u16..=65535
    ]
}

fn text_label() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        2 => "[a-z0-9 ()-]{1,12}",
        2 => r"\PC{1,16}",
        1 => Just("é".repeat(100)),
    ]
}

fn text_description() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        2 => r"[\PC\n\t]{1,30}",
        1 => "[a-zäöü漢字🦀 \n\t]{1,30}",
    ]
}

/// Host settings in their canonical form (every default written out), as the server
/// stores them and the document shows them.
fn host_spec() -> BoxedStrategy<HostSpec> {
    let flag = || prop_oneof![2 => Just(None), 1 => any::<bool>().prop_map(Some)];
    let vips = prop_oneof![
        2 => Just(None),
        1 => ("[a-z][a-z0-9.-]{0,14}", any::<bool>()).prop_map(|(name, create)| Some(VipsSpec {
            interface: Some(name),
            create: Some(create),
        })),
    ];
    let sysctls = (
        prop_oneof![2 => Just(None), 1 => (0..=3i64).prop_map(Some)],
        flag(),
        flag(),
        flag(),
        flag(),
    )
        .prop_map(
            |(conn_reuse_mode, expire_nodest_conn, sloppy_tcp, conntrack, snat_reroute)| {
                IpvsSysctlsSpec {
                    conn_reuse_mode,
                    expire_nodest_conn,
                    sloppy_tcp,
                    conntrack,
                    snat_reroute,
                    ..IpvsSysctlsSpec::default()
                }
            },
        );
    (vips, sysctls)
        .prop_map(|(vips, sysctls)| HostSpec {
            vips,
            sysctls,
            sync: None,
        })
        .boxed()
}

fn timeouts_spec() -> impl Strategy<Value = TimeoutsSpec> {
    let seconds = || {
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(1)),
            1 => Just(Some(i64::from(Timeouts::MAX_SECONDS))),
            3 => (1..=i64::from(Timeouts::MAX_SECONDS)).prop_map(Some),
        ]
    };
    (seconds(), seconds(), seconds()).prop_map(|(tcp, tcpfin, udp)| TimeoutsSpec {
        tcp,
        tcpfin,
        udp,
    })
}

// ---------------------------------------------------------------------------------------
// Recipes
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum KeyRecipe {
    Address {
        protocol: Protocol,
        address: IpAddr,
        port: u16,
        style: u8,
    },
    Fwmark {
        mark: u32,
        family: Family,
    },
}

impl KeyRecipe {
    fn key(&self) -> ServiceKey {
        match *self {
            KeyRecipe::Address {
                protocol,
                address,
                port,
                ..
            } => ServiceKey::Address {
                protocol,
                address,
                port: Port::parse(i64::from(port)).expect("generated port"),
            },
            KeyRecipe::Fwmark { mark, family } => ServiceKey::Fwmark {
                fwmark: Fwmark::parse(i64::from(mark)).expect("generated fwmark"),
                family,
            },
        }
    }
}

fn key_recipe() -> impl Strategy<Value = KeyRecipe> {
    let address = prop_oneof![
        ipv4_unicast().prop_map(IpAddr::V4),
        ipv6_unicast().prop_map(IpAddr::V6),
    ];
    let mark = prop_oneof![Just(1u32), Just(u32::MAX), 1u32..4, 1u32..=u32::MAX];
    prop_oneof![
        3 => (select(Protocol::ALL), address, port_number(), any::<u8>()).prop_map(
            |(protocol, address, port, style)| KeyRecipe::Address { protocol, address, port, style }
        ),
        1 => (mark, select(Family::ALL)).prop_map(|(mark, family)| KeyRecipe::Fwmark { mark, family }),
    ]
}

/// A service's settings; rendered against its key, so they always apply.
#[derive(Debug, Clone)]
struct SettingsRecipe {
    scheduler: Option<SchedulerName>,
    fallback: bool,
    hash_port: bool,
    flags_reversed: bool,
    timeout: u32,
    /// A raw prefix length and how to write it.
    netmask: Option<(u8, u8)>,
    one_packet: bool,
    sip: bool,
    name: String,
    description: String,
}

fn settings_recipe() -> impl Strategy<Value = SettingsRecipe> {
    let scheduler = prop_oneof![
        1 => Just(None),
        3 => select(SchedulerName::ALL).prop_map(Some),
        2 => select(vec![SchedulerName::Sh, SchedulerName::Mh]).prop_map(Some),
    ];
    let timeout = prop_oneof![
        2 => Just(0u32),
        1 => Just(1),
        1 => Just(Persistence::MAX_TIMEOUT),
        3 => 1..=Persistence::MAX_TIMEOUT,
    ];
    (
        (scheduler, any::<bool>(), any::<bool>(), any::<bool>()),
        (timeout, proptest::option::of((any::<u8>(), any::<u8>()))),
        (any::<bool>(), any::<bool>()),
        (text_label(), text_description()),
    )
        .prop_map(
            |(
                (scheduler, fallback, hash_port, flags_reversed),
                (timeout, netmask),
                (one_packet, sip),
                (name, description),
            )| SettingsRecipe {
                scheduler,
                fallback,
                hash_port,
                flags_reversed,
                timeout,
                netmask,
                one_packet,
                sip,
                name,
                description,
            },
        )
}

impl SettingsRecipe {
    /// The settings fields of a spec for `key`; the caller sets the key fields.
    fn render(&self, key: &ServiceKey) -> ServiceSpec {
        let family = key.family();
        let mut flags = match self.scheduler {
            Some(SchedulerName::Sh) => {
                [(self.fallback, "sh-fallback"), (self.hash_port, "sh-port")]
            }
            Some(SchedulerName::Mh) => {
                [(self.fallback, "mh-fallback"), (self.hash_port, "mh-port")]
            }
            _ => [(false, ""), (false, "")],
        }
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, flag)| flag.to_owned())
        .collect::<Vec<_>>();
        if self.flags_reversed {
            flags.reverse();
        }
        let udp_or_fwmark = matches!(key.protocol(), None | Some(Protocol::Udp));
        let persistent = self.timeout > 0;
        let netmask = self
            .netmask
            .filter(|_| persistent)
            .map(|(raw, style)| match family {
                Family::Ipv4 => {
                    let prefix = raw % 33;
                    if style % 2 == 0 {
                        let bits = if prefix == 0 {
                            0
                        } else {
                            u32::MAX << (32 - prefix)
                        };
                        Netmask::Text(Ipv4Addr::from(bits).to_string())
                    } else {
                        Netmask::Prefix(i64::from(prefix))
                    }
                }
                Family::Ipv6 => {
                    let prefix = raw % 128 + 1;
                    match style % 3 {
                        0 => Netmask::Prefix(i64::from(prefix)),
                        1 => Netmask::Text(prefix.to_string()),
                        _ => Netmask::Text(format!("/{prefix}")),
                    }
                }
            });
        ServiceSpec {
            scheduler: self.scheduler.map(|s| s.as_str().to_owned()),
            scheduler_flags: flags,
            persistence_timeout: i64::from(self.timeout),
            persistence_netmask: netmask,
            one_packet: self.one_packet && udp_or_fwmark,
            persistence_engine: (self.sip && udp_or_fwmark && persistent).then(|| "sip".to_owned()),
            name: self.name.clone(),
            description: self.description.clone(),
            ..ServiceSpec::default()
        }
    }

    /// The whole spec for `key`, its real servers left out.
    fn render_for(&self, recipe: &KeyRecipe) -> ServiceSpec {
        let key = recipe.key();
        let mut spec = self.render(&key);
        match *recipe {
            KeyRecipe::Address {
                protocol,
                address,
                port,
                style,
            } => {
                spec.protocol = Some(protocol.as_str().to_owned());
                spec.address = Some(spell(address, style));
                spec.port = Some(i64::from(port));
                if style % 4 == 3 {
                    spec.family = Some(Family::of(address).as_str().to_owned());
                }
            }
            KeyRecipe::Fwmark { mark, family } => {
                spec.fwmark = Some(i64::from(mark));
                spec.family = Some(family.as_str().to_owned());
            }
        }
        spec
    }
}

#[derive(Debug, Clone, Copy)]
enum PortChoice {
    /// Left out: the service's port (0 in fwmark services).
    Default,
    /// The service's port, written out.
    Explicit,
    /// Another port, which only masq can map to.
    Mapped(u16),
}

#[derive(Debug, Clone)]
struct RealServerRecipe {
    forwarding: ForwardingMethod,
    /// Tunnels only: a real server of the other address family.
    cross_family: bool,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    style: u8,
    port: PortChoice,
    tunnel: TunnelType,
    explicit_ipip: bool,
    gue_port: u16,
    checksum: Option<TunnelChecksum>,
    weight: Option<u16>,
    upper: Option<u32>,
    lower: Option<u32>,
    state: Option<RealServerState>,
    description: String,
}

fn real_server_recipe() -> impl Strategy<Value = RealServerRecipe> {
    let port = prop_oneof![
        2 => Just(PortChoice::Default),
        1 => Just(PortChoice::Explicit),
        1 => prop_oneof![Just(0u16), Just(65535), any::<u16>()].prop_map(PortChoice::Mapped),
    ];
    let weight = prop_oneof![
        2 => Just(None),
        1 => Just(Some(0u16)),
        1 => Just(Some(65535)),
        3 => any::<u16>().prop_map(Some),
    ];
    let threshold = || {
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(0u32)),
            1 => Just(Some(Thresholds::MAX)),
            2 => (0u32..100).prop_map(Some),
            1 => (0..=Thresholds::MAX).prop_map(Some),
        ]
    };
    (
        (
            select(ForwardingMethod::ALL),
            any::<bool>(),
            ipv4_unicast(),
            ipv6_unicast(),
            any::<u8>(),
            port,
        ),
        (
            select(TunnelType::ALL),
            any::<bool>(),
            port_number(),
            proptest::option::of(select(TunnelChecksum::ALL)),
        ),
        (
            weight,
            threshold(),
            threshold(),
            proptest::option::of(select(RealServerState::ALL)),
        ),
        text_description(),
    )
        .prop_map(
            |(
                (forwarding, cross_family, v4, v6, style, port),
                (tunnel, explicit_ipip, gue_port, checksum),
                (weight, upper, lower, state),
                description,
            )| RealServerRecipe {
                forwarding,
                cross_family,
                v4,
                v6,
                style,
                port,
                tunnel,
                explicit_ipip,
                gue_port,
                checksum,
                weight,
                upper,
                lower,
                state,
                description,
            },
        )
}

impl RealServerRecipe {
    /// A valid spec for a real server of `service`, with the key it will have.
    fn render(&self, service: &ServiceKey) -> (RealServerKey, RealServerSpec) {
        let tunnel = self.forwarding == ForwardingMethod::Tunnel;
        let family = if tunnel && self.cross_family {
            other_family(service.family())
        } else {
            service.family()
        };
        let address = match family {
            Family::Ipv4 => IpAddr::V4(self.v4),
            Family::Ipv6 => IpAddr::V6(self.v6),
        };
        let default = service.port().map_or(0, Port::get);
        let (port_field, port) = match self.port {
            PortChoice::Default => (None, default),
            PortChoice::Mapped(mapped)
                if self.forwarding == ForwardingMethod::Masq
                    && (mapped != 0 || service.is_fwmark()) =>
            {
                (Some(mapped), mapped)
            }
            PortChoice::Explicit | PortChoice::Mapped(_) => (Some(default), default),
        };
        let mut spec = RealServerSpec {
            address: Some(spell(address, self.style)),
            port: port_field.map(i64::from),
            forwarding: Some(self.forwarding.as_str().to_owned()),
            weight: self.weight.map(i64::from),
            state: self.state.map(|s| s.as_str().to_owned()),
            description: self.description.clone(),
            ..RealServerSpec::default()
        };
        if tunnel {
            self.render_tunnel(&mut spec);
        }
        let upper = self.upper.unwrap_or(0);
        spec.upper_threshold = self.upper.map(i64::from);
        spec.lower_threshold = self.lower.map(|lower| {
            if lower <= upper {
                i64::from(lower)
            } else {
                i64::from(lower) % (i64::from(upper) + 1)
            }
        });
        ((address, port), spec)
    }

    fn render_tunnel(&self, spec: &mut RealServerSpec) {
        match self.tunnel {
            TunnelType::Ipip => {
                spec.tunnel_type = self.explicit_ipip.then(|| "ipip".to_owned());
            }
            TunnelType::Gue => {
                spec.tunnel_type = Some("gue".to_owned());
                spec.tunnel_port = Some(i64::from(self.gue_port));
                spec.tunnel_checksum = self.checksum.map(|c| c.as_str().to_owned());
            }
            TunnelType::Gre => {
                spec.tunnel_type = Some("gre".to_owned());
                spec.tunnel_checksum = self.checksum.map(|c| match c {
                    TunnelChecksum::Remcsum => "csum".to_owned(),
                    other => other.as_str().to_owned(),
                });
            }
        }
    }
}

#[derive(Debug, Clone)]
struct ServiceRecipe {
    key: KeyRecipe,
    settings: SettingsRecipe,
    servers: Vec<RealServerRecipe>,
}

fn service_recipe() -> impl Strategy<Value = ServiceRecipe> {
    (
        key_recipe(),
        settings_recipe(),
        prop::collection::vec(real_server_recipe(), 0..5),
    )
        .prop_map(|(key, settings, servers)| ServiceRecipe {
            key,
            settings,
            servers,
        })
}

// ---------------------------------------------------------------------------------------
// Rendered inputs
// ---------------------------------------------------------------------------------------

/// A service spec with its real servers and the keys they must parse to.
#[derive(Debug, Clone)]
struct InputService {
    key: ServiceKey,
    spec: ServiceSpec,
    servers: Vec<(RealServerKey, RealServerSpec)>,
}

impl InputService {
    fn from_recipe(recipe: &ServiceRecipe) -> Self {
        let key = recipe.key.key();
        let mut service = InputService {
            key,
            spec: recipe.settings.render_for(&recipe.key),
            servers: Vec::new(),
        };
        for server in &recipe.servers {
            service.add_server(server);
        }
        service
    }

    /// Adds a real server unless one with its key is there already.
    fn add_server(&mut self, recipe: &RealServerRecipe) {
        let (key, spec) = recipe.render(&self.key);
        if self.servers.iter().all(|(k, _)| *k != key) {
            self.servers.push((key, spec));
        }
    }

    fn to_spec(&self) -> ServiceSpec {
        ServiceSpec {
            real_servers: Some(self.servers.iter().map(|(_, s)| s.clone()).collect()),
            ..self.spec.clone()
        }
    }
}

/// A desired-state document with every key it must parse to.
#[derive(Debug, Clone)]
struct Input {
    generation: Option<u64>,
    timeouts: TimeoutsSpec,
    host: HostSpec,
    services: Vec<InputService>,
}

impl Input {
    fn add_service(&mut self, recipe: &ServiceRecipe) {
        let service = InputService::from_recipe(recipe);
        if self.services.iter().all(|s| s.key != service.key) {
            self.services.push(service);
        }
    }

    fn to_spec(&self) -> DesiredStateSpec {
        DesiredStateSpec {
            cluster: None,
            generation: self.generation,
            timeouts: Some(self.timeouts),
            host: Some(self.host.clone()),
            services: Some(self.services.iter().map(InputService::to_spec).collect()),
        }
    }

    fn parse(&self) -> DesiredState {
        let spec = self.to_spec();
        spec.parse().unwrap_or_else(|errors| {
            panic!("a generated valid state was rejected: {errors}\n{spec:#?}")
        })
    }

    /// The same document with services, real servers and flags in another order.
    fn shuffled(&self, seed: u64) -> Input {
        let mut seed = seed | 1;
        let mut copy = self.clone();
        shuffle(&mut copy.services, &mut seed);
        for service in &mut copy.services {
            shuffle(&mut service.servers, &mut seed);
            shuffle(&mut service.spec.scheduler_flags, &mut seed);
        }
        copy
    }
}

fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = usize::try_from(*seed % (i as u64 + 1)).expect("small index");
        items.swap(i, j);
    }
}

fn generation() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(u64::MAX)),
        4 => (0u64..1000).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        generation(),
        timeouts_spec(),
        host_spec(),
        prop::collection::vec(service_recipe(), 0..6),
    )
        .prop_map(|(generation, timeouts, host, recipes)| {
            let mut input = Input {
                generation,
                timeouts,
                host,
                services: Vec::new(),
            };
            for recipe in &recipes {
                input.add_service(recipe);
            }
            input
        })
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    AddService(ServiceRecipe),
    RemoveService(Index),
    ChangeSettings(Index, SettingsRecipe),
    Relabel(Index, String),
    AddServer(Index, RealServerRecipe),
    RemoveServer(Index, Index),
    /// Everything but the address and port, which are the server's identity.
    ChangeServer(Index, Index, RealServerRecipe),
    DrainOrRestore(Index, Index),
    Timeouts(TimeoutsSpec),
    Host(HostSpec),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => service_recipe().prop_map(Mutation::AddService),
        2 => any::<Index>().prop_map(Mutation::RemoveService),
        2 => (any::<Index>(), settings_recipe()).prop_map(|(i, s)| Mutation::ChangeSettings(i, s)),
        1 => (any::<Index>(), text_description()).prop_map(|(i, d)| Mutation::Relabel(i, d)),
        3 => (any::<Index>(), real_server_recipe()).prop_map(|(i, r)| Mutation::AddServer(i, r)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::RemoveServer(i, j)),
        3 => (any::<Index>(), any::<Index>(), real_server_recipe())
            .prop_map(|(i, j, r)| Mutation::ChangeServer(i, j, r)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::DrainOrRestore(i, j)),
        1 => timeouts_spec().prop_map(Mutation::Timeouts),
        1 => host_spec().prop_map(Mutation::Host),
    ]
}

impl Input {
    fn service_mut(&mut self, i: &Index) -> Option<&mut InputService> {
        if self.services.is_empty() {
            return None;
        }
        let i = i.index(self.services.len());
        self.services.get_mut(i)
    }

    fn mutate(&mut self, mutation: &Mutation) {
        match mutation {
            Mutation::AddService(recipe) => self.add_service(recipe),
            Mutation::RemoveService(i) => {
                if !self.services.is_empty() {
                    self.services.remove(i.index(self.services.len()));
                }
            }
            Mutation::ChangeSettings(i, settings) => {
                if let Some(service) = self.service_mut(i) {
                    let key_fields = service.spec.clone();
                    service.spec = ServiceSpec {
                        protocol: key_fields.protocol,
                        address: key_fields.address,
                        port: key_fields.port,
                        fwmark: key_fields.fwmark,
                        family: key_fields.family,
                        ..settings.render(&service.key)
                    };
                }
            }
            Mutation::Relabel(i, description) => {
                if let Some(service) = self.service_mut(i) {
                    service.spec.description.clone_from(description);
                }
            }
            Mutation::AddServer(i, recipe) => {
                if let Some(service) = self.service_mut(i) {
                    service.add_server(recipe);
                }
            }
            Mutation::RemoveServer(i, j) => {
                if let Some(service) = self.service_mut(i) {
                    if !service.servers.is_empty() {
                        service.servers.remove(j.index(service.servers.len()));
                    }
                }
            }
            Mutation::ChangeServer(i, j, recipe) => {
                if let Some(service) = self.service_mut(i) {
                    if !service.servers.is_empty() {
                        let j = j.index(service.servers.len());
                        let replaced = same_identity(&service.key, &service.servers[j], recipe);
                        service.servers[j] = replaced;
                    }
                }
            }
            Mutation::DrainOrRestore(i, j) => {
                if let Some(service) = self.service_mut(i) {
                    if !service.servers.is_empty() {
                        let j = j.index(service.servers.len());
                        let spec = &mut service.servers[j].1;
                        spec.state = match spec.state.as_deref() {
                            Some("drained") => Some("active".to_owned()),
                            _ => Some("drained".to_owned()),
                        };
                    }
                }
            }
            Mutation::Timeouts(timeouts) => self.timeouts = *timeouts,
            Mutation::Host(host) => self.host = host.clone(),
        }
    }
}

/// A real server rendered from `recipe` but keeping the address and port of `old`, with
/// forwarding that can keep them: masq when the port is mapped, a tunnel when the address
/// is of the other family.
fn same_identity(
    service: &ServiceKey,
    old: &(RealServerKey, RealServerSpec),
    recipe: &RealServerRecipe,
) -> (RealServerKey, RealServerSpec) {
    let ((address, port), old_spec) = old;
    let mut recipe = recipe.clone();
    let default = service.port().map_or(0, Port::get);
    if Family::of(*address) != service.family() {
        recipe.forwarding = ForwardingMethod::Tunnel;
        recipe.cross_family = true;
    } else {
        recipe.cross_family = false;
        if *port != default {
            recipe.forwarding = ForwardingMethod::Masq;
        }
    }
    let (_, mut spec) = recipe.render(service);
    spec.address.clone_from(&old_spec.address);
    spec.port = Some(i64::from(*port));
    ((*address, *port), spec)
}

/// A state and another one: usually a mutation of it, sometimes an unrelated one or the
/// same one.
fn input_pair() -> impl Strategy<Value = (Input, Input)> {
    let delta = prop_oneof![Just(0u64), Just(1), any::<u64>()];
    prop_oneof![
        6 => (input(), prop::collection::vec(mutation(), 1..6), delta).prop_map(
            |(a, mutations, delta)| {
                let mut b = a.clone();
                for mutation in &mutations {
                    b.mutate(mutation);
                }
                b.generation = Some(a.generation.unwrap_or(0).wrapping_add(delta));
                (a, b)
            }
        ),
        1 => (input(), input()),
        1 => input().prop_map(|a| (a.clone(), a)),
    ]
}

// ---------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------

fn service_map(state: &DesiredState) -> BTreeMap<ServiceKey, &DesiredService> {
    state.services().map(|d| (*d.key(), d)).collect()
}

/// The summary a diff from `a` to `b` must have, counted from the states themselves.
fn expected_summary(a: &DesiredState, b: &DesiredState) -> DiffSummary {
    let (old, new) = (service_map(a), service_map(b));
    let mut summary = DiffSummary {
        timeouts_changed: a.timeouts != b.timeouts,
        host_changed: a.host != b.host,
        ..DiffSummary::default()
    };
    for (key, service) in &old {
        if !new.contains_key(key) {
            summary.services_removed += 1;
            summary.real_servers_removed += service.real_servers().len();
        }
    }
    for (key, service) in &new {
        let Some(before) = old.get(key) else {
            summary.services_added += 1;
            summary.real_servers_added += service.real_servers().len();
            continue;
        };
        summary.services_changed += usize::from(before.service() != service.service());
        let keys = |d: &DesiredService| -> BTreeSet<RealServerKey> {
            d.real_servers().map(RealServer::key).collect()
        };
        let (was, is) = (keys(before), keys(service));
        summary.real_servers_added += is.difference(&was).count();
        summary.real_servers_removed += was.difference(&is).count();
        summary.real_servers_changed += was
            .intersection(&is)
            .filter(|k| before.real_server(k) != service.real_server(k))
            .count();
    }
    summary
}

/// The summary counted from the diff's own contents.
fn counted_summary(diff: &Diff) -> DiffSummary {
    let mut summary = DiffSummary {
        timeouts_changed: diff.timeouts.is_some(),
        host_changed: diff.host.is_some(),
        ..DiffSummary::default()
    };
    for change in &diff.services {
        match change {
            ServiceChange::Added(s) => {
                summary.services_added += 1;
                summary.real_servers_added += s.real_servers().count();
            }
            ServiceChange::Removed(s) => {
                summary.services_removed += 1;
                summary.real_servers_removed += s.real_servers().count();
            }
            ServiceChange::Changed(update) => {
                if update.settings.is_some() {
                    summary.services_changed += 1;
                }
                for server in &update.real_servers {
                    let counter = match server {
                        RealServerChange::Added(_) => &mut summary.real_servers_added,
                        RealServerChange::Removed(_) => &mut summary.real_servers_removed,
                        RealServerChange::Changed(_) => &mut summary.real_servers_changed,
                    };
                    *counter += 1;
                }
            }
        }
    }
    summary
}

fn service_change_key(change: &ServiceChange) -> ServiceKey {
    match change {
        ServiceChange::Added(s) | ServiceChange::Removed(s) => *s.key(),
        ServiceChange::Changed(update) => update.key,
    }
}

fn server_change_key(change: &RealServerChange) -> RealServerKey {
    match change {
        RealServerChange::Added(s) | RealServerChange::Removed(s) => s.key(),
        RealServerChange::Changed(c) => c.old.key(),
    }
}

fn display((address, port): RealServerKey) -> String {
    SocketAddr::new(address, port).to_string()
}

/// Something in a description that was not there before.
fn perturb(description: &mut String) {
    description.push('†');
}

/// A copy of `state` (same generation) in which the object that `diff.services[i]` (or its
/// `j`th real server change) touches is not what the diff expects, and the error applying
/// must give.
fn stale_copy(
    state: &DesiredState,
    diff: &Diff,
    i: &Index,
    j: &Index,
) -> (DesiredState, ApplyError) {
    let mut spec = DesiredStateSpec::from(state);
    let services = spec
        .services
        .as_mut()
        .expect("a canonical document has services");
    let change = &diff.services[i.index(diff.services.len())];
    let key = service_change_key(change);
    let position = state.services().position(|s| *s.key() == key);
    let error = match change {
        ServiceChange::Added(service) => {
            services.push(service.to_spec());
            ApplyError::Service(key)
        }
        ServiceChange::Removed(_) => {
            perturb(&mut services[position.expect("removed service exists")].description);
            ApplyError::Service(key)
        }
        ServiceChange::Changed(update) => {
            let service = &mut services[position.expect("changed service exists")];
            if update.real_servers.is_empty() || (update.settings.is_some() && j.index(2) == 0) {
                perturb(&mut service.description);
                ApplyError::Service(key)
            } else {
                let change = &update.real_servers[j.index(update.real_servers.len())];
                let server_key = server_change_key(change);
                let servers = service
                    .real_servers
                    .as_mut()
                    .expect("canonical spec has servers");
                match change {
                    RealServerChange::Added(server) => servers.push(RealServerSpec::from(server)),
                    RealServerChange::Removed(_) | RealServerChange::Changed(_) => {
                        let at = state
                            .service(&key)
                            .expect("changed service exists")
                            .real_servers()
                            .position(|s| s.key() == server_key)
                            .expect("changed real server exists");
                        perturb(&mut servers[at].description);
                    }
                }
                ApplyError::RealServer {
                    service: key,
                    server: display(server_key),
                }
            }
        }
    };
    let stale = spec
        .parse()
        .unwrap_or_else(|e| panic!("a perturbed state is valid: {e}"));
    (stale, error)
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Every generated value is accepted, parses to the keys it was built from, and
    /// survives JSON and the canonical spec unchanged.
    #[test]
    fn valid_values_round_trip(input in input(), seed in any::<u64>()) {
        let spec = input.to_spec();
        let state = input.parse();

        // The parsed state holds exactly the services and real servers of the input.
        prop_assert_eq!(state.generation, input.generation.unwrap_or(0));
        prop_assert_eq!(state.services().len(), input.services.len());
        for service in &input.services {
            let parsed = state.service(&service.key).expect("every input service is in the state");
            let keys: BTreeSet<_> = parsed.real_servers().map(RealServer::key).collect();
            let expected: BTreeSet<_> = service.servers.iter().map(|(k, _)| *k).collect();
            prop_assert_eq!(keys, expected);
            for (key, server) in &service.servers {
                let parsed = parsed.real_server(key).expect("real server");
                prop_assert_eq!(i64::from(parsed.weight().get()), server.weight.unwrap_or(1));
                let drained = server.state.as_deref() == Some("drained");
                prop_assert_eq!(parsed.effective_weight().get() == 0, drained || parsed.weight().get() == 0);
            }
        }

        // The spec as written survives JSON.
        let json = serde_json::to_string(&spec).expect("serialise spec");
        let back: DesiredStateSpec = serde_json::from_str(&json).expect("deserialise spec");
        prop_assert_eq!(&back, &spec);

        // DesiredState -> JSON -> DesiredState.
        let bytes = serde_json::to_string(&state).expect("serialise state");
        let again: DesiredState = serde_json::from_str(&bytes).expect("deserialise state");
        prop_assert_eq!(&again, &state);
        prop_assert_eq!(&serde_json::to_string(&again).expect("serialise"), &bytes);
        prop_assert_eq!(&serde_json::to_string(&state).expect("serialise twice"), &bytes);

        // spec -> parse -> canonical spec -> parse: the same value, and the canonical spec is
        // a fixed point with every default written out.
        let canonical = DesiredStateSpec::from(&state);
        prop_assert_eq!(canonical.parse(), Ok(state.clone()));
        prop_assert_eq!(&DesiredStateSpec::from(&canonical.parse().expect("canonical")), &canonical);
        prop_assert_eq!(canonical.generation, Some(state.generation));
        for service in canonical.services.iter().flatten() {
            prop_assert!(service.scheduler.is_some());
            for server in service.real_servers.iter().flatten() {
                prop_assert!(server.port.is_some() && server.weight.is_some() && server.state.is_some());
                prop_assert!(server.upper_threshold.is_some() && server.lower_threshold.is_some());
            }
        }
        // Each service alone parses to the same value as in the document.
        for service in state.services() {
            let alone = service.to_spec();
            prop_assert_eq!(alone.parse(), Ok(service.service().clone()));
            prop_assert_eq!(DesiredService::parse(&alone), Ok(service.clone()));
            for server in service.real_servers() {
                prop_assert_eq!(RealServerSpec::from(server).parse(service.key()), Ok(server.clone()));
            }
        }

        // Another input order gives the same state and the same bytes.
        let shuffled = input.shuffled(seed).parse();
        prop_assert_eq!(&shuffled, &state);
        prop_assert_eq!(serde_json::to_string(&shuffled).expect("serialise shuffled"), bytes);

        // Service keys print and parse back.
        for service in state.services() {
            let text = service.key().to_string();
            prop_assert_eq!(ServiceKey::parse(&text), Ok(*service.key()), "{}", text);
        }
    }

    /// `between(A, B).apply(A) == B`, the diff is minimal and ordered, and its summary
    /// counts what it holds.
    #[test]
    fn diffs_turn_one_state_into_another((a, b) in input_pair()) {
        let (a, b) = (a.parse(), b.parse());
        let diff = Diff::between(&a, &b);
        prop_assert_eq!(diff.apply(&a), Ok(b.clone()));
        prop_assert_eq!((diff.from_generation, diff.to_generation), (a.generation, b.generation));

        // Empty exactly when the states agree apart from the generation.
        let mut b_at_a = b.clone();
        b_at_a.generation = a.generation;
        prop_assert_eq!(diff.is_empty(), b_at_a == a);
        let same = Diff::between(&a, &a);
        prop_assert!(same.is_empty());
        prop_assert_eq!(same.summary(), DiffSummary::default());
        prop_assert_eq!(same.apply(&a), Ok(a.clone()));

        // The way back, also as the diff reversed.
        prop_assert_eq!(Diff::between(&b, &a).apply(&b), Ok(a.clone()));
        prop_assert_eq!(diff.reversed(), Diff::between(&b, &a));

        // Ordered by key, each change a real one.
        let keys: Vec<_> = diff.services.iter().map(service_change_key).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "services out of order: {:?}", keys);
        for change in &diff.services {
            if let ServiceChange::Changed(update) = change {
                prop_assert!(update.settings.is_some() || !update.real_servers.is_empty());
                if let Some(settings) = &update.settings {
                    prop_assert_ne!(&settings.old, &settings.new);
                }
                let servers: Vec<_> = update.real_servers.iter().map(server_change_key).collect();
                prop_assert!(servers.windows(2).all(|w| w[0] < w[1]), "servers out of order: {:?}", servers);
                for server in &update.real_servers {
                    if let RealServerChange::Changed(c) = server {
                        prop_assert_ne!(&c.old, &c.new);
                        prop_assert_eq!(c.old.key(), c.new.key());
                    }
                }
            }
        }
        if let Some(timeouts) = &diff.timeouts {
            prop_assert_ne!(timeouts.old, timeouts.new);
        }

        // Summary: from the diff's contents and from the states themselves.
        let summary = diff.summary();
        prop_assert_eq!(summary, counted_summary(&diff));
        prop_assert_eq!(summary, expected_summary(&a, &b));
        let json = serde_json::to_value(&diff).expect("serialise diff");
        prop_assert_eq!(&json["summary"], &serde_json::to_value(summary).expect("summary"));
        prop_assert_eq!(json["services"].as_array().map(Vec::len), Some(diff.services.len()));
        prop_assert_eq!(serde_json::to_value(&diff).expect("serialise twice"), json);
    }

    /// A diff applied to a state it was not computed from fails: another generation, an
    /// object it touches that differs, or the state it already produced.
    #[test]
    fn stale_diffs_do_not_apply((a, b) in input_pair(), i in any::<Index>(), j in any::<Index>()) {
        let (a, b) = (a.parse(), b.parse());
        let diff = Diff::between(&a, &b);

        let mut moved_on = a.clone();
        moved_on.generation = a.generation.wrapping_add(1);
        prop_assert_eq!(
            diff.apply(&moved_on),
            Err(ApplyError::Generation { expected: a.generation, actual: moved_on.generation })
        );

        if diff.is_empty() {
            return Ok(());
        }
        // Applying twice: the target state, at the diff's starting generation.
        let mut done = b;
        done.generation = a.generation;
        prop_assert!(diff.apply(&done).is_err());

        if let Some(timeouts) = &diff.timeouts {
            let mut other = moved_on;
            other.generation = a.generation;
            other.timeouts.udp = match timeouts.old.udp.map(|t| t.get()) {
                Some(7) => std::num::NonZeroU32::new(8),
                _ => std::num::NonZeroU32::new(7),
            };
            prop_assert_eq!(diff.apply(&other), Err(ApplyError::Timeouts));
        }
        if !diff.services.is_empty() {
            let (stale, error) = stale_copy(&a, &diff, &i, &j);
            prop_assert_eq!(stale.generation, a.generation);
            prop_assert_eq!(diff.apply(&stale), Err(error.clone()));
            // In place, a refused diff leaves the state exactly as it was.
            let mut in_place = stale.clone();
            prop_assert_eq!(diff.apply_in_place(&mut in_place), Err(error));
            prop_assert_eq!(in_place, stale);
        }
    }

    /// A complete diff survives its JSON form (what agents receive), and applied in place
    /// gives the target state; a truncated one is refused.
    #[test]
    fn diffs_survive_json((a, b) in input_pair(), max in 0_usize..40) {
        let a = a.parse();
        let mut b = b.parse();
        b.generation = a.generation.saturating_add(1).max(1);
        let mut a = a;
        a.generation = b.generation - 1;
        let diff = Diff::between(&a, &b);
        let json = serde_json::to_string(&diff).expect("serialise");
        let spec: DiffSpec = serde_json::from_str(&json).expect("deserialise");
        prop_assert_eq!(spec.parse(), Ok(diff.clone()));
        let mut state = a;
        prop_assert_eq!(diff.apply_in_place(&mut state), Ok(()));
        prop_assert_eq!(&state, &b);

        let (bounded, truncated) = DiffSpec::bounded(&diff, max);
        let reread: DiffSpec =
            serde_json::from_str(&serde_json::to_string(&bounded).expect("serialise"))
                .expect("deserialise");
        match reread.parse() {
            Ok(parsed) => {
                prop_assert!(!truncated);
                prop_assert_eq!(parsed, diff);
            }
            // Refused for its summary, or for a service cut down to nothing.
            Err(errors) => {
                prop_assert!(truncated, "{}", errors);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Each one-edit diff is what `between` finds for two states that differ by that edit
    /// alone.
    #[test]
    fn one_edit_diffs_are_what_between_finds(
        (a, b) in input_pair(), i in any::<Index>(), j in any::<Index>()
    ) {
        let (a, b) = (a.parse(), b.parse());
        let none = alone(Vec::new());
        for service in a.services() {
            let one = alone(vec![service.clone()]);
            prop_assert_eq!(Diff::service_removed(service.clone()), Diff::between(&one, &none));
            prop_assert_eq!(Diff::service_added(service.clone()), Diff::between(&none, &one));
        }
        // Any service of `a` edited into any of `b`: usually a new key, so another service.
        if a.services().len() > 0 && b.services().len() > 0 {
            let old = a.services().nth(i.index(a.services().len())).expect("in range");
            let new = b.services().nth(j.index(b.services().len())).expect("in range");
            let (before, after) = (alone(vec![old.clone()]), alone(vec![new.clone()]));
            prop_assert_eq!(
                Diff::service_changed(old.clone(), new.clone()),
                Diff::between(&before, &after)
            );
        }
        for new_service in b.services() {
            let Some(old_service) = a.service(new_service.key()) else { continue };
            let (before, after) = (alone(vec![old_service.clone()]), alone(vec![new_service.clone()]));
            prop_assert_eq!(
                Diff::service_changed(old_service.clone(), new_service.clone()),
                Diff::between(&before, &after)
            );

            // Its real servers, one at a time, under the old settings.
            let key = *old_service.key();
            let with = |servers: Vec<RealServer>| {
                let service = DesiredService::new(old_service.service().clone(), servers)
                    .expect("distinct real servers");
                alone(vec![service])
            };
            let empty = with(Vec::new());
            for old in old_service.real_servers() {
                let one = with(vec![old.clone()]);
                prop_assert_eq!(Diff::real_server_removed(key, old.clone()), Diff::between(&one, &empty));
                prop_assert_eq!(Diff::real_server_added(key, old.clone()), Diff::between(&empty, &one));
            }
            // Paired by position: the same server edited, or another address and port.
            for (old, new) in old_service.real_servers().zip(new_service.real_servers()) {
                let (before, after) = (with(vec![old.clone()]), with(vec![new.clone()]));
                prop_assert_eq!(
                    Diff::real_server_changed(key, old.clone(), new.clone()),
                    Diff::between(&before, &after)
                );
            }
        }
        let timeouts = |t| DesiredState::new(0, t, Vec::new()).expect("an empty state");
        prop_assert_eq!(
            Diff::timeouts_changed(a.timeouts, b.timeouts),
            Diff::between(&timeouts(a.timeouts), &timeouts(b.timeouts))
        );
    }

    /// A bounded diff keeps the first `max` entries (timeouts, services, real servers) of
    /// the whole one and its whole summary, and says whether it left any out.
    #[test]
    fn bounded_diffs_keep_the_first_entries((a, b) in input_pair(), max in 0_usize..40) {
        let diff = Diff::between(&a.parse(), &b.parse());
        let whole = serde_json::to_value(DiffSpec::from(&diff)).expect("serialise");
        let (bounded, truncated) = DiffSpec::bounded(&diff, max);
        let bounded = serde_json::to_value(bounded).expect("serialise");
        let total = entries(&whole);
        prop_assert_eq!(truncated, total > max);
        prop_assert_eq!(entries(&bounded), total.min(max));
        prop_assert_eq!(&bounded["summary"], &whole["summary"]);
        prop_assert!(is_prefix(&bounded, &whole), "{} is not a prefix of {}", bounded, whole);
        if !truncated {
            prop_assert_eq!(bounded, whole);
        }
    }
}

/// A state at generation 0 with default timeouts holding just `services`.
fn alone(services: Vec<DesiredService>) -> DesiredState {
    DesiredState::new(0, Timeouts::default(), services).expect("distinct services")
}

/// The real servers a diff's JSON lists under one service entry.
fn listed_servers(service: &serde_json::Value) -> &[serde_json::Value] {
    let servers = match service["change"].as_str() {
        Some("changed") => service.get("real_servers"),
        _ => service["service"].get("real_servers"),
    };
    servers
        .and_then(|s| s.as_array())
        .map_or(&[], Vec::as_slice)
}

/// Entries in a diff's JSON: the timeouts, the host settings, each service and each real
/// server.
fn entries(diff: &serde_json::Value) -> usize {
    let services = diff["services"].as_array().expect("services");
    usize::from(diff.get("timeouts").is_some())
        + usize::from(diff.get("host").is_some())
        + services
            .iter()
            .map(|s| 1 + listed_servers(s).len())
            .sum::<usize>()
}

/// Whether `part` lists the first entries of `whole`, in order, and nothing else.
fn is_prefix(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    let (kept, all) = (&part["services"], &whole["services"]);
    let (kept, all) = (
        kept.as_array().expect("services"),
        all.as_array().expect("services"),
    );
    let timeouts_ok = (part.get("timeouts").is_none()
        || part.get("timeouts") == whole.get("timeouts"))
        && (part.get("host").is_none() || part.get("host") == whole.get("host"));
    let Some((last, earlier)) = kept.split_last() else {
        return timeouts_ok;
    };
    let last_ok = {
        let whole_last = &all[earlier.len()];
        let (servers, whole_servers) = (listed_servers(last), listed_servers(whole_last));
        let strip = |s: &serde_json::Value| {
            let mut s = s.clone();
            s.as_object_mut().map(|o| o.remove("real_servers"));
            s.get_mut("service")
                .and_then(|v| v.as_object_mut())
                .map(|o| o.remove("real_servers"));
            s
        };
        whole_servers.starts_with(servers) && strip(last) == strip(whole_last)
    };
    timeouts_ok
        && kept.len() <= all.len()
        && earlier.iter().zip(all).all(|(a, b)| a == b)
        && last_ok
}

#[test]
fn shuffling_is_a_permutation() {
    let mut items: Vec<u32> = (0..20).collect();
    let mut seed = 12345;
    shuffle(&mut items, &mut seed);
    let mut sorted = items.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    assert_ne!(items, sorted, "a shuffle that moves nothing tests nothing");
}

/// The generators reach every corner the properties are about, so none holds vacuously.
#[test]
fn generators_cover_the_domain() {
    use lvs_model::{Forwarding, Scheduler, Tunnel};
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let pairs = input_pair();
    for _ in 0..1500 {
        let (a, b) = pairs.new_tree(&mut runner).expect("a value").current();
        let (a, b) = (a.parse(), b.parse());
        if a.host != b.host {
            seen.insert("host changed".into());
        }
        if a.host.vips.is_some() {
            seen.insert("host vips".into());
        }
        if a.host.sysctls.entries().iter().any(|(_, v)| v.is_some()) {
            seen.insert("host sysctls".into());
        }
        for service in a.services() {
            let key = service.key();
            let s = service.service();
            seen.insert(match key.protocol() {
                Some(p) => format!("{p} {}", key.family()),
                None => format!("fwmark {}", key.family()),
            });
            seen.insert(format!("scheduler {:?}", s.scheduler()));
            if let Some(p) = s.persistence() {
                seen.insert(format!("prefix {} {}", key.family(), p.prefix_len()));
                if p.timeout() == Persistence::MAX_TIMEOUT {
                    seen.insert("max persistence".into());
                }
            }
            if s.one_packet() {
                seen.insert(format!("one_packet {:?}", key.protocol()));
            }
            if s.persistence_engine().is_some() {
                seen.insert(format!("sip {:?}", key.protocol()));
            }
            if s.name().as_str().chars().count() == 100 {
                seen.insert("longest name".into());
            }
            if s.description().as_str().contains('\n') {
                seen.insert("multiline description".into());
            }
            for server in service.real_servers() {
                let forwarding = match server.forwarding() {
                    Forwarding::Tunnel(Tunnel::Gue { checksum, .. }) => format!("gue {checksum}"),
                    Forwarding::Tunnel(Tunnel::Gre { checksum }) => format!("gre {checksum}"),
                    Forwarding::Tunnel(Tunnel::Ipip) => "ipip".to_owned(),
                    other => other.method().to_string(),
                };
                seen.insert(forwarding);
                if Family::of(server.address()) != key.family() {
                    seen.insert(format!("cross-family {}", key.family()));
                }
                if server.port() != key.port().map_or(0, Port::get) {
                    seen.insert(format!("mapped port fwmark={}", key.is_fwmark()));
                }
                seen.insert(format!("weight {}", server.weight().get().min(2)));
                if server.weight().get() == u16::MAX {
                    seen.insert("weight max".into());
                }
                let t = server.thresholds();
                if t.lower() > 0 && t.lower() == t.upper() {
                    seen.insert("lower == upper".into());
                }
                if t.upper() == Thresholds::MAX {
                    seen.insert("upper max".into());
                }
                seen.insert(format!("state {}", server.state()));
            }
        }
        let diff = Diff::between(&a, &b);
        if diff.is_empty() {
            seen.insert("empty diff".into());
        }
        let summary = diff.summary();
        for (name, count) in [
            ("services added", summary.services_added),
            ("services removed", summary.services_removed),
            ("services changed", summary.services_changed),
            ("servers added", summary.real_servers_added),
            ("servers removed", summary.real_servers_removed),
            ("servers changed", summary.real_servers_changed),
        ] {
            if count > 0 {
                seen.insert(name.into());
            }
        }
        if summary.timeouts_changed {
            seen.insert("timeouts changed".into());
        }
        for change in &diff.services {
            if let ServiceChange::Changed(update) = change {
                if update.settings.is_none() {
                    seen.insert("only servers changed".into());
                }
            }
        }
    }
    let mut expected: Vec<String> = Vec::new();
    for protocol in Protocol::ALL {
        for family in Family::ALL {
            expected.push(format!("{protocol} {family}"));
        }
    }
    for family in Family::ALL {
        expected.push(format!("fwmark {family}"));
        expected.push(format!("cross-family {family}"));
    }
    for name in SchedulerName::ALL {
        match name {
            SchedulerName::Sh | SchedulerName::Mh => {
                for (fallback, port) in [(false, false), (true, false), (false, true), (true, true)]
                {
                    let flags = lvs_model::HashFlags { fallback, port };
                    let scheduler = if *name == SchedulerName::Sh {
                        Scheduler::Sh(flags)
                    } else {
                        Scheduler::Mh(flags)
                    };
                    expected.push(format!("scheduler {scheduler:?}"));
                }
            }
            _ => expected.push(format!("scheduler {:?}", Scheduler::Plain(*name))),
        }
    }
    for prefix in [
        "ipv4 0", "ipv4 24", "ipv4 32", "ipv6 1", "ipv6 64", "ipv6 128",
    ] {
        expected.push(format!("prefix {prefix}"));
    }
    for text in [
        "max persistence",
        "one_packet Some(Udp)",
        "one_packet None",
        "sip Some(Udp)",
        "sip None",
        "longest name",
        "multiline description",
        "masq",
        "route",
        "local",
        "ipip",
        "gue nocsum",
        "gue csum",
        "gue remcsum",
        "gre nocsum",
        "gre csum",
        "mapped port fwmark=false",
        "mapped port fwmark=true",
        "weight 0",
        "weight 1",
        "weight 2",
        "weight max",
        "lower == upper",
        "upper max",
        "state active",
        "state drained",
        "empty diff",
        "services added",
        "services removed",
        "services changed",
        "servers added",
        "servers removed",
        "servers changed",
        "timeouts changed",
        "host changed",
        "host vips",
        "host sysctls",
        "only servers changed",
    ] {
        expected.push(text.into());
    }
    let missing: Vec<_> = expected.iter().filter(|e| !seen.contains(*e)).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}
