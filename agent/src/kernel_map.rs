//! The one place where `lvs_model`'s domain meets the kernel's view (`lvs_ipvs`): domain
//! values become kernel structs and commands, and the kernel's table becomes model specs,
//! which the model then validates (`ServiceSpec::parse`, `DesiredService::parse`).

use std::net::SocketAddr;

use lvs_model::spec::{Netmask as SpecNetmask, RealServerSpec, ServiceSpec};
use lvs_model::{
    DesiredService, DesiredState, Diff, Forwarding, PersistenceEngine, RealServer,
    RealServerChange, Scheduler as ModelScheduler, ServiceChange, Tunnel, TunnelChecksum,
    ValidationErrors, VirtualService,
};

use lvs_ipvs::{
    Command, Destination, DestinationEntry, Family, ForwardMethod, Netmask, Protocol, Scheduler,
    Service, ServiceEntry, ServiceFlags, ServiceKey, Stats, TableEntry, Timeouts, TunnelFlags,
    TunnelType,
};

/// The kernel key of a model service key.
pub fn service_key(key: &lvs_model::ServiceKey) -> ServiceKey {
    match *key {
        lvs_model::ServiceKey::Address {
            protocol,
            address,
            port,
        } => ServiceKey::Inet {
            protocol: match protocol {
                lvs_model::Protocol::Tcp => Protocol::Tcp,
                lvs_model::Protocol::Udp => Protocol::Udp,
                lvs_model::Protocol::Sctp => Protocol::Sctp,
            },
            addr: address,
            port: port.get(),
        },
        lvs_model::ServiceKey::Fwmark { fwmark, family } => ServiceKey::Fwmark {
            family: match family {
                lvs_model::Family::Ipv4 => Family::Inet,
                lvs_model::Family::Ipv6 => Family::Inet6,
            },
            mark: fwmark.get(),
        },
    }
}

/// The kernel settings of a model service.
pub fn service(svc: &VirtualService) -> Service {
    let key = service_key(svc.key());
    let mut out = Service::new(key, Scheduler::from_name(svc.scheduler().name().as_str()));
    if let ModelScheduler::Sh(hash) | ModelScheduler::Mh(hash) = svc.scheduler() {
        out.flags = out
            .flags
            .with(ServiceFlags::SCHED1, hash.fallback)
            .with(ServiceFlags::SCHED2, hash.port);
    }
    if let Some(persistence) = svc.persistence() {
        out.flags = out.flags | ServiceFlags::PERSISTENT;
        out.timeout = persistence.timeout();
        out.netmask = Netmask::Prefix(persistence.prefix_len());
    }
    out.flags = out.flags.with(ServiceFlags::ONE_PACKET, svc.one_packet());
    out.persistence_engine = svc.persistence_engine().map(|pe| match pe {
        PersistenceEngine::Sip => "sip".to_owned(),
    });
    out
}

/// The kernel settings of a model real server; a drained server gets weight 0.
pub fn destination(server: &RealServer) -> Destination {
    let (forward, tunnel) = match server.forwarding() {
        Forwarding::Masq => (ForwardMethod::Masq, None),
        Forwarding::Route => (ForwardMethod::Route, None),
        Forwarding::Local => (ForwardMethod::Local, None),
        Forwarding::Tunnel(tunnel) => (ForwardMethod::Tunnel, Some(tunnel)),
    };
    let mut dest = Destination::new(SocketAddr::new(server.address(), server.port()), forward);
    dest.weight = u32::from(server.effective_weight().get());
    dest.upper_threshold = server.thresholds().upper();
    dest.lower_threshold = server.thresholds().lower();
    let checksum = |c: TunnelChecksum| match c {
        TunnelChecksum::Nocsum => TunnelFlags::NOCSUM,
        TunnelChecksum::Csum => TunnelFlags::CSUM,
        TunnelChecksum::Remcsum => TunnelFlags::REMCSUM,
    };
    match tunnel {
        None | Some(Tunnel::Ipip) => {}
        Some(Tunnel::Gue { port, checksum: c }) => {
            dest.tunnel_type = TunnelType::Gue;
            dest.tunnel_port = port.get();
            dest.tunnel_flags = checksum(c);
        }
        Some(Tunnel::Gre { checksum: c }) => {
            dest.tunnel_type = TunnelType::Gre;
            dest.tunnel_flags = checksum(c);
        }
    }
    dest
}

/// The kernel timeouts of the model's; unset ones stay as the kernel has them (0).
pub fn timeouts(timeouts: &lvs_model::Timeouts) -> Timeouts {
    Timeouts {
        tcp: timeouts.tcp.map_or(0, |t| t.get()),
        tcp_fin: timeouts.tcpfin.map_or(0, |t| t.get()),
        udp: timeouts.udp.map_or(0, |t| t.get()),
    }
}

/// The commands that create `desired` in an empty table: each service, then its servers.
pub fn load_commands(desired: &DesiredState) -> Vec<Command> {
    let mut commands = Vec::with_capacity(desired.services().len() + desired.real_server_count());
    let t = timeouts(&desired.timeouts);
    if t != Timeouts::default() {
        commands.push(Command::SetTimeouts(t));
    }
    for svc in desired.services() {
        add_service_commands(svc, &mut commands);
    }
    commands
}

/// The commands that take a table from a diff's old state to its new one. Services and
/// servers are edited in place, so their connections survive.
pub fn diff_commands(diff: &Diff) -> Vec<Command> {
    let mut commands = Vec::new();
    if let Some(change) = &diff.timeouts {
        let t = timeouts(&change.new);
        if t != Timeouts::default() {
            commands.push(Command::SetTimeouts(t));
        }
    }
    for change in &diff.services {
        match change {
            ServiceChange::Removed(svc) => {
                commands.push(Command::DeleteService(service_key(svc.key())));
            }
            ServiceChange::Added(svc) => add_service_commands(svc, &mut commands),
            ServiceChange::Changed(update) => {
                let key = service_key(&update.key);
                if let Some(settings) = &update.settings {
                    commands.push(Command::EditService(service(&settings.new)));
                }
                // Removals first, so a server replaced under the same key cannot collide.
                for rs in &update.real_servers {
                    if let RealServerChange::Removed(server) = rs {
                        let addr = SocketAddr::new(server.address(), server.port());
                        commands.push(Command::DeleteDestination(key, addr));
                    }
                }
                for rs in &update.real_servers {
                    match rs {
                        RealServerChange::Added(server) => {
                            commands.push(Command::AddDestination(key, destination(server)));
                        }
                        RealServerChange::Changed(change) => {
                            commands.push(Command::EditDestination(key, destination(&change.new)));
                        }
                        RealServerChange::Removed(_) => {}
                    }
                }
            }
        }
    }
    commands
}

fn add_service_commands(svc: &DesiredService, commands: &mut Vec<Command>) {
    let key = service_key(svc.key());
    commands.push(Command::AddService(service(svc.service())));
    for server in svc.real_servers() {
        commands.push(Command::AddDestination(key, destination(server)));
    }
}

/// How the kernel lists `svc` once it is loaded, before any traffic: what
/// [`observed_service`] reads back as `svc` (a drained server reads as weight 0).
pub fn table_entry(svc: &DesiredService) -> TableEntry {
    TableEntry {
        service: ServiceEntry {
            service: service(svc.service()),
            stats: Stats::default(),
        },
        destinations: svc
            .real_servers()
            .map(|rs| DestinationEntry {
                destination: destination(rs),
                active_conns: 0,
                inactive_conns: 0,
                persistent_conns: 0,
                stats: Stats::default(),
            })
            .collect(),
    }
}

/// A kernel service and its destinations as a model spec, for the model to validate.
pub fn service_spec(entry: &TableEntry) -> ServiceSpec {
    let svc = &entry.service.service;
    let mut spec = ServiceSpec::default();
    let family = match svc.key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            spec.protocol = Some(protocol.to_string());
            spec.address = Some(addr.to_string());
            spec.port = Some(i64::from(port));
            svc.key.family()
        }
        ServiceKey::Fwmark { family, mark } => {
            spec.fwmark = Some(i64::from(mark));
            spec.family = Some(family_name(family));
            family
        }
    };
    spec.scheduler = Some(svc.scheduler.name().to_owned());
    let prefix = match svc.scheduler {
        Scheduler::SourceHashing => Some("sh"),
        Scheduler::MaglevHashing => Some("mh"),
        _ => None,
    };
    if let Some(prefix) = prefix {
        for (flag, name) in [
            (ServiceFlags::SCHED1, "fallback"),
            (ServiceFlags::SCHED2, "port"),
        ] {
            if svc.flags.contains(flag) {
                spec.scheduler_flags.push(format!("{prefix}-{name}"));
            }
        }
    }
    if svc.flags.contains(ServiceFlags::PERSISTENT) {
        spec.persistence_timeout = i64::from(svc.timeout);
        spec.persistence_netmask = Some(match (svc.netmask, family) {
            (Netmask::Prefix(len), Family::Inet6) => {
                SpecNetmask::from_prefix_len(len, lvs_model::Family::Ipv6)
            }
            (Netmask::Prefix(len), _) => SpecNetmask::from_prefix_len(len, lvs_model::Family::Ipv4),
            (Netmask::NonContiguous(mask), _) => SpecNetmask::Text(mask.to_string()),
        });
    }
    spec.one_packet = svc.flags.contains(ServiceFlags::ONE_PACKET);
    spec.persistence_engine.clone_from(&svc.persistence_engine);
    spec.real_servers = Some(entry.destinations.iter().map(real_server_spec).collect());
    spec
}

/// A kernel destination as a model spec.
pub fn real_server_spec(entry: &DestinationEntry) -> RealServerSpec {
    let dest = &entry.destination;
    let forwarding = match dest.forward {
        ForwardMethod::Masq => "masq".to_owned(),
        ForwardMethod::Local => "local".to_owned(),
        ForwardMethod::Tunnel => "tunnel".to_owned(),
        ForwardMethod::Route => "route".to_owned(),
        ForwardMethod::Other(raw) => format!("forwarding method {raw}"),
    };
    let mut spec = RealServerSpec {
        address: Some(dest.addr.ip().to_string()),
        port: Some(i64::from(dest.addr.port())),
        forwarding: Some(forwarding),
        weight: Some(i64::from(dest.weight)),
        upper_threshold: Some(i64::from(dest.upper_threshold)),
        lower_threshold: Some(i64::from(dest.lower_threshold)),
        ..RealServerSpec::default()
    };
    if dest.forward == ForwardMethod::Tunnel {
        let checksum = match dest.tunnel_flags {
            TunnelFlags::CSUM => "csum".to_owned(),
            TunnelFlags::REMCSUM => "remcsum".to_owned(),
            TunnelFlags::NOCSUM => "nocsum".to_owned(),
            other => format!("tunnel flags {:#x}", other.bits()),
        };
        match dest.tunnel_type {
            TunnelType::Ipip => spec.tunnel_type = Some("ipip".to_owned()),
            TunnelType::Gue => {
                spec.tunnel_type = Some("gue".to_owned());
                spec.tunnel_port = Some(i64::from(dest.tunnel_port));
                spec.tunnel_checksum = Some(checksum);
            }
            TunnelType::Gre => {
                spec.tunnel_type = Some("gre".to_owned());
                spec.tunnel_checksum = Some(checksum);
            }
            TunnelType::Other(raw) => spec.tunnel_type = Some(format!("tunnel type {raw}")),
        }
    }
    spec
}

/// A kernel service and its destinations as a validated model service.
pub fn observed_service(entry: &TableEntry) -> Result<DesiredService, ValidationErrors> {
    DesiredService::parse(&service_spec(entry))
}

fn family_name(family: Family) -> String {
    match family {
        Family::Inet => "ipv4".to_owned(),
        Family::Inet6 => "ipv6".to_owned(),
        Family::Other(raw) => format!("address family {raw}"),
    }
}

#[cfg(test)]
mod tests;
