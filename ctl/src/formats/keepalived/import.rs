//! keepalived.conf into a desired-state document.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use lvs_model::spec::{
    DesiredStateSpec, HealthCheckSpec, Netmask, RealServerSpec, ServiceSpec, StatusSpec,
    TimeoutsSpec,
};

use super::syntax::{parse, Statement};
use crate::formats::{Imported, Note, Unreadable};
use crate::keys::try_service_key;

/// keepalived's defaults where ours differ: `delay_loop` 60 s, `connect_timeout` 5 s,
/// `retry` 1 (`misc_timeout` is `delay_loop`); a virtual server without `protocol` is UDP.
const DELAY_LOOP_S: f64 = 60.0;
const CONNECT_TIMEOUT_S: f64 = 5.0;
const RETRY: i64 = 1;
/// keepalived's persistence timeout when none is given (`IPVS_SVC_PERSISTENT_TIMEOUT`).
const PERSISTENCE_TIMEOUT_S: i64 = 360;

/// Reads a keepalived.conf; what it cannot translate becomes a note with its line.
pub fn import(text: &str) -> Result<Imported, Unreadable> {
    let statements = parse(text)?;
    let mut importer = Importer::default();
    for statement in &statements {
        if statement.keyword() == "virtual_server_group" {
            importer.group(statement);
        }
    }
    for statement in &statements {
        match statement.keyword() {
            "virtual_server_group" => {}
            "virtual_server" => importer.virtual_server(statement),
            "global_defs" => importer.global_defs(statement),
            "include" => importer.note(statement, "include is not followed: import each file"),
            keyword if keyword.starts_with("vrrp_") || keyword.starts_with("static_") => {
                importer.note(
                    statement,
                    "not translated: LVS Fleet runs no VRRP; directors' VIPs come from the \
                     cluster's host settings",
                );
            }
            _ => importer.not_translated(statement),
        }
    }
    // Notes in the file's order, whichever pass found them.
    importer.notes.sort_by_key(|note| note.line);
    Ok(Imported {
        document: DesiredStateSpec {
            cluster: None,
            generation: None,
            timeouts: importer.timeouts,
            host: None,
            services: Some(importer.services),
        },
        notes: importer.notes,
    })
}

/// One member of a `virtual_server_group`.
#[derive(Debug, Clone)]
enum Member {
    Address(IpAddr, i64),
    Fwmark(i64),
}

#[derive(Debug, Default)]
struct Importer {
    groups: HashMap<String, Vec<Member>>,
    services: Vec<ServiceSpec>,
    /// The keys of `services`, to find one defined twice.
    keys: HashSet<String>,
    timeouts: Option<TimeoutsSpec>,
    notes: Vec<Note>,
}

/// Checker settings a virtual or real server gives its checkers.
#[derive(Debug, Clone, Default)]
struct CheckDefaults {
    delay_loop: Option<f64>,
    connect_timeout: Option<f64>,
    retry: Option<i64>,
    virtualhost: Option<String>,
    inhibit_on_failure: bool,
    alpha: bool,
}

/// How a virtual server's real servers are reached.
#[derive(Debug, Clone, Default)]
struct Method {
    forwarding: Option<String>,
    tunnel_type: Option<String>,
    tunnel_port: Option<i64>,
    tunnel_checksum: Option<String>,
}

impl Importer {
    fn note(&mut self, statement: &Statement, text: impl Into<String>) {
        self.notes.push(Note::at(
            statement.line,
            format!("{}: {}", statement.keyword(), text.into()),
        ));
    }

    fn not_translated(&mut self, statement: &Statement) {
        self.note(statement, "not translated");
    }

    fn global_defs(&mut self, statement: &Statement) {
        for inner in statement.body() {
            match inner.keyword() {
                "lvs_timeouts" => match timeouts(inner.args()) {
                    Ok(timeouts) => self.timeouts = Some(timeouts),
                    Err(why) => self.note(inner, why),
                },
                _ => self.not_translated(inner),
            }
        }
    }

    fn group(&mut self, statement: &Statement) {
        let Some(name) = statement.args().first() else {
            return self.note(statement, "no group name");
        };
        let mut members = Vec::new();
        for member in statement.body() {
            match member.words.as_slice() {
                [fwmark, mark] if fwmark == "fwmark" => match mark.parse() {
                    Ok(mark) => members.push(Member::Fwmark(mark)),
                    Err(_) => self.note(member, format!("{mark} is not a firewall mark")),
                },
                [address, port] => match (address_range(address), port.parse()) {
                    (Ok(addresses), Ok(port)) => {
                        members.extend(addresses.into_iter().map(|a| Member::Address(a, port)));
                    }
                    (Err(why), _) => self.note(member, why),
                    (_, Err(_)) => self.note(member, format!("{port} is not a port")),
                },
                _ => self.note(member, "not an address and port or fwmark of a group"),
            }
        }
        self.groups.insert(name.clone(), members);
    }

    fn virtual_server(&mut self, statement: &Statement) {
        let members = match statement.args() {
            [fwmark, mark] if fwmark == "fwmark" => match mark.parse() {
                Ok(mark) => vec![Member::Fwmark(mark)],
                Err(_) => return self.note(statement, format!("{mark} is not a firewall mark")),
            },
            [group, name] if group == "group" => match self.groups.get(name) {
                Some(members) => members.clone(),
                None => {
                    return self.note(statement, format!("no virtual_server_group {name}"));
                }
            },
            [address, port] => match (address.parse(), port.parse()) {
                (Ok(address), Ok(port)) => vec![Member::Address(address, port)],
                _ => {
                    return self.note(
                        statement,
                        format!("{address} {port} is not an address and port"),
                    )
                }
            },
            _ => return self.note(statement, "not an address and port, fwmark or group"),
        };
        let (template, real_servers, own_intervals) = self.service_body(statement);
        let by_address = members.iter().any(|m| matches!(m, Member::Address(..)));
        if by_address && template.protocol.is_none() {
            self.note(statement, "no protocol: UDP, as keepalived defaults to");
        }
        let grouped = statement.args().first().is_some_and(|w| w == "group");
        if grouped && template.persistence_netmask.is_some() {
            self.note(
                statement,
                "persistence_granularity is translated as written, but keepalived (2.2.7) \
                 does not apply it to a group's services",
            );
        }
        for member in members {
            let mut service = template.clone();
            match member {
                Member::Address(address, port) => {
                    service.address = Some(address.to_string());
                    service.port = Some(port);
                    service.family = None;
                    let protocol = service.protocol.get_or_insert_with(|| "udp".into());
                    if service.one_packet && protocol != "udp" {
                        // keepalived resets it: one-packet scheduling is for UDP.
                        service.one_packet = false;
                        self.note(
                            statement,
                            "ops applies to UDP only: left out, as keepalived does",
                        );
                    }
                }
                Member::Fwmark(mark) => {
                    service.fwmark = Some(mark);
                    service.protocol = None;
                    service.family.get_or_insert_with(|| "ipv4".into());
                }
            }
            let port = service.port.unwrap_or(0);
            service.real_servers = Some(
                real_servers
                    .iter()
                    .cloned()
                    .map(|mut r| {
                        r.port.get_or_insert(port);
                        r
                    })
                    .collect(),
            );
            if let Some(sorry) = &mut service.sorry_server {
                sorry.port.get_or_insert(port);
            }
            if !own_intervals {
                hoist_health_checks(&mut service);
            }
            let key = match try_service_key(&service) {
                Ok(key) => key,
                Err(why) => {
                    self.note(statement, format!("not translated: {why}"));
                    continue;
                }
            };
            if !self.keys.insert(key.clone()) {
                self.note(statement, format!("service {key} is defined twice"));
                continue;
            }
            self.services.push(service);
        }
    }

    /// The virtual server's settings (without its key), its real servers, and whether a
    /// checker has an interval of its own (not the virtual server's `delay_loop`).
    fn service_body(&mut self, statement: &Statement) -> (ServiceSpec, Vec<RealServerSpec>, bool) {
        let mut service = ServiceSpec::default();
        let mut method = Method::default();
        let mut sorry_method: Option<Method> = None;
        let mut defaults = CheckDefaults::default();
        let mut flag_numbers = Vec::new();
        let mut real_servers = Vec::new();
        let mut granularity = false;
        // Real servers are read after the settings they inherit, wherever they stand.
        for inner in statement.body() {
            let args = inner.args();
            match (inner.keyword(), args) {
                ("lb_algo" | "lvs_sched", [name]) => service.scheduler = Some(name.clone()),
                ("lb_kind" | "lvs_method", _) => match method_of(args) {
                    Ok(m) => method = m,
                    Err(why) => self.note(inner, why),
                },
                ("protocol", [name]) => service.protocol = Some(name.to_lowercase()),
                ("persistence_timeout", [seconds]) => match seconds.parse() {
                    Ok(seconds) => service.persistence_timeout = seconds,
                    Err(_) => self.note(inner, format!("{seconds} is not a number of seconds")),
                },
                ("persistence_timeout", []) => service.persistence_timeout = PERSISTENCE_TIMEOUT_S,
                ("persistence_granularity", [mask]) => {
                    service.persistence_netmask = Some(match mask.parse::<i64>() {
                        Ok(bits) => Netmask::Prefix(bits),
                        Err(_) => Netmask::Text(mask.clone()),
                    });
                    granularity = true;
                }
                ("persistence_engine", [name]) => service.persistence_engine = Some(name.clone()),
                ("ops", []) => service.one_packet = true,
                (flag @ ("sh-port" | "sh-fallback" | "mh-port" | "mh-fallback"), []) => {
                    service.scheduler_flags.push(flag.to_owned());
                }
                ("flag-1", []) => flag_numbers.push(1),
                ("flag-2", []) => flag_numbers.push(2),
                ("ip_family", [family]) => match family.as_str() {
                    "inet" => service.family = Some("ipv4".into()),
                    "inet6" => service.family = Some("ipv6".into()),
                    _ => self.note(inner, format!("{family} is not inet or inet6")),
                },
                ("delay_loop", [seconds]) => defaults.delay_loop = self.seconds(inner, seconds),
                ("connect_timeout", [seconds]) => {
                    defaults.connect_timeout = self.seconds(inner, seconds);
                }
                ("retry" | "nb_get_retry", [count]) => defaults.retry = self.count(inner, count),
                ("virtualhost", [host]) => defaults.virtualhost = Some(host.clone()),
                ("inhibit_on_failure", []) => defaults.inhibit_on_failure = true,
                ("alpha", []) => defaults.alpha = true,
                ("sorry_server", [address, port]) => {
                    service.sorry_server = Some(RealServerSpec {
                        address: Some(address.clone()),
                        port: port.parse().ok(),
                        ..RealServerSpec::default()
                    });
                }
                ("sorry_server", [address]) => {
                    service.sorry_server = Some(RealServerSpec {
                        address: Some(address.clone()),
                        ..RealServerSpec::default()
                    });
                }
                ("sorry_server_lvs_method", _) => match method_of(args) {
                    Ok(m) => sorry_method = Some(m),
                    Err(why) => self.note(inner, why),
                },
                ("real_server", _) => {}
                _ => self.not_translated(inner),
            }
        }
        // A granularity makes the service persistent, with keepalived's default timeout.
        if granularity && service.persistence_timeout == 0 {
            service.persistence_timeout = PERSISTENCE_TIMEOUT_S;
        }
        for number in flag_numbers {
            let scheduler = service.scheduler.as_deref().unwrap_or("wlc");
            let suffix = if number == 1 { "fallback" } else { "port" };
            if scheduler == "sh" || scheduler == "mh" {
                service
                    .scheduler_flags
                    .push(format!("{scheduler}-{suffix}"));
            } else {
                self.notes.push(Note::at(
                    statement.line,
                    format!(
                        "virtual_server: flag-{number} has no meaning for scheduler {scheduler}"
                    ),
                ));
            }
        }
        if let Some(sorry) = &mut service.sorry_server {
            apply_method(sorry, sorry_method.as_ref().unwrap_or(&method));
            sorry.weight = None;
        }
        let mut own_intervals = false;
        for inner in statement
            .body()
            .iter()
            .filter(|s| s.keyword() == "real_server")
        {
            if let Some((real_server, own)) = self.real_server(inner, &method, &defaults) {
                real_servers.push(real_server);
                own_intervals |= own;
            }
        }
        (service, real_servers, own_intervals)
    }

    /// A real server, and whether its checker has an interval of its own.
    fn real_server(
        &mut self,
        statement: &Statement,
        method: &Method,
        defaults: &CheckDefaults,
    ) -> Option<(RealServerSpec, bool)> {
        let (address, port) = match statement.args() {
            [address] => (address.clone(), None),
            [address, port] => match port.parse() {
                Ok(port) => (address.clone(), Some(port)),
                Err(_) => {
                    self.note(statement, format!("{port} is not a port"));
                    return None;
                }
            },
            _ => {
                self.note(statement, "not an address and port");
                return None;
            }
        };
        let mut real_server = RealServerSpec {
            address: Some(address),
            port,
            ..RealServerSpec::default()
        };
        let mut method = method.clone();
        let inherited_delay_loop = defaults.delay_loop;
        let mut defaults = defaults.clone();
        let mut checks = Vec::new();
        for inner in statement.body() {
            let args = inner.args();
            match (inner.keyword(), args) {
                ("weight", [weight]) => real_server.weight = self.count(inner, weight),
                ("lvs_method" | "lb_kind", _) => match method_of(args) {
                    Ok(m) => method = m,
                    Err(why) => self.note(inner, why),
                },
                ("inhibit_on_failure", []) => defaults.inhibit_on_failure = true,
                ("alpha", []) => defaults.alpha = true,
                ("uthreshold", [n]) => real_server.upper_threshold = self.count(inner, n),
                ("lthreshold", [n]) => real_server.lower_threshold = self.count(inner, n),
                ("delay_loop", [seconds]) => defaults.delay_loop = self.seconds(inner, seconds),
                ("connect_timeout", [seconds]) => {
                    defaults.connect_timeout = self.seconds(inner, seconds);
                }
                ("retry" | "nb_get_retry", [count]) => defaults.retry = self.count(inner, count),
                ("virtualhost", [host]) => defaults.virtualhost = Some(host.clone()),
                (kind, _) if kind.ends_with("_CHECK") || kind.ends_with("_GET") => {
                    checks.push(inner);
                }
                _ => self.not_translated(inner),
            }
        }
        apply_method(&mut real_server, &method);
        let mut own_interval = defaults.delay_loop != inherited_delay_loop;
        if let Some((first, rest)) = checks.split_first() {
            own_interval |= first.body().iter().any(|s| s.keyword() == "delay_loop");
            real_server.health_check = self.checker(first, &defaults);
            for extra in rest {
                self.note(
                    extra,
                    "only the first checker of a real server is translated",
                );
            }
        }
        Some((real_server, own_interval))
    }

    /// A checker block as a health check, or `None` (noted) for kinds with no equivalent.
    fn checker(
        &mut self,
        statement: &Statement,
        defaults: &CheckDefaults,
    ) -> Option<HealthCheckSpec> {
        let kind = match statement.keyword() {
            "TCP_CHECK" => "tcp",
            "HTTP_GET" => "http",
            "SSL_GET" => "https",
            "MISC_CHECK" => "exec",
            "DNS_CHECK" => "udp-dns",
            _ => {
                self.note(statement, "no equivalent health check: not translated");
                return None;
            }
        };
        let mut defaults = defaults.clone();
        let mut check = HealthCheckSpec {
            kind: Some(kind.into()),
            ..HealthCheckSpec::default()
        };
        let mut misc_timeout = None;
        let mut urls = 0;
        for inner in statement.body() {
            let args = inner.args();
            match (inner.keyword(), args) {
                ("connect_port", [port]) => check.port = port.parse().ok(),
                ("connect_timeout", [seconds]) => {
                    defaults.connect_timeout = self.seconds(inner, seconds);
                }
                ("retry" | "nb_get_retry", [count]) => defaults.retry = self.count(inner, count),
                ("delay_loop", [seconds]) => defaults.delay_loop = self.seconds(inner, seconds),
                ("virtualhost", [host]) if kind.starts_with("http") => {
                    defaults.virtualhost = Some(host.clone());
                }
                ("url", []) if kind.starts_with("http") => {
                    urls += 1;
                    if urls == 1 {
                        self.url(inner, &mut check);
                    } else {
                        self.note(inner, "only the first url of a checker is translated");
                    }
                }
                ("misc_path", [path]) if kind == "exec" => {
                    let mut words = path.split_whitespace().map(str::to_owned);
                    check.command = words.next();
                    let args: Vec<String> = words.collect();
                    check.args = (!args.is_empty()).then_some(args);
                }
                ("misc_timeout", [seconds]) if kind == "exec" => {
                    misc_timeout = self.seconds(inner, seconds);
                }
                ("type", [name]) if kind == "udp-dns" => check.dns_type = Some(name.to_uppercase()),
                ("name", [name]) if kind == "udp-dns" => check.dns_name = Some(name.clone()),
                _ => self.not_translated(inner),
            }
        }
        let interval = defaults.delay_loop.unwrap_or(DELAY_LOOP_S);
        let timeout = match kind {
            "exec" => misc_timeout.unwrap_or(interval),
            _ => defaults.connect_timeout.unwrap_or(CONNECT_TIMEOUT_S),
        };
        check.interval_ms = Some(millis(interval));
        check.timeout_ms = Some(millis(timeout));
        check.fall = Some(defaults.retry.unwrap_or(RETRY) + 1);
        check.rise = Some(1);
        check.on_failure = Some(
            if defaults.inhibit_on_failure {
                "quiesce"
            } else {
                "remove"
            }
            .into(),
        );
        check.initial = Some(if defaults.alpha { "down" } else { "up" }.into());
        match kind {
            "http" | "https" => {
                check.host = defaults.virtualhost;
                check.path.get_or_insert_with(|| "/".into());
                check
                    .expect_status
                    .get_or_insert_with(|| vec![StatusSpec::Range("200-299".into())]);
                if kind == "https" {
                    check.insecure = Some(true);
                    self.note(
                        statement,
                        "keepalived does not verify the certificate: translated with \
                         insecure: true (set ca_file to verify)",
                    );
                }
            }
            "udp-dns" => {
                // keepalived's defaults: the root zone's SOA.
                check.dns_name.get_or_insert_with(|| ".".into());
                check.dns_type.get_or_insert_with(|| "SOA".into());
            }
            _ => {}
        }
        Some(check)
    }

    fn url(&mut self, statement: &Statement, check: &mut HealthCheckSpec) {
        let mut codes = Vec::new();
        for inner in statement.body() {
            match (inner.keyword(), inner.args()) {
                ("path", [path]) => check.path = Some(path.clone()),
                ("status_code", list) if !list.is_empty() => {
                    for code in list {
                        codes.push(match code.parse() {
                            Ok(code) => StatusSpec::Code(code),
                            Err(_) => StatusSpec::Range(code.clone()),
                        });
                    }
                }
                ("regex", [pattern]) => check.expect_body_regex = Some(pattern.clone()),
                ("virtualhost", [host]) => check.host = Some(host.clone()),
                ("digest", _) => self.note(
                    inner,
                    "not translated: health checks match a status, text or regex, not a digest",
                ),
                _ => self.not_translated(inner),
            }
        }
        if !codes.is_empty() {
            check.expect_status = Some(codes);
        }
    }

    fn seconds(&mut self, statement: &Statement, text: &str) -> Option<f64> {
        match text.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Some(seconds),
            _ => {
                self.note(statement, format!("{text} is not a number of seconds"));
                None
            }
        }
    }

    fn count(&mut self, statement: &Statement, text: &str) -> Option<i64> {
        match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.note(statement, format!("{text} is not a whole number"));
                None
            }
        }
    }
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// `NAT`, `DR`, `TUN [type ipip|gue port N [csum|nocsum|remcsum]|gre [csum|nocsum]]`.
fn method_of(args: &[String]) -> Result<Method, String> {
    let (kind, rest) = args.split_first().ok_or("needs NAT, DR or TUN")?;
    let forwarding = match kind.to_uppercase().as_str() {
        "NAT" => "masq",
        "DR" => "route",
        "TUN" => "tunnel",
        _ => return Err(format!("{kind} is not NAT, DR or TUN")),
    };
    let mut method = Method {
        forwarding: Some(forwarding.into()),
        ..Method::default()
    };
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "type" if forwarding == "tunnel" => {
                method.tunnel_type =
                    Some(words.next().ok_or("type needs ipip, gue or gre")?.clone());
            }
            "port" if forwarding == "tunnel" => {
                let port = words.next().ok_or("port needs a number")?;
                method.tunnel_port =
                    Some(port.parse().map_err(|_| format!("{port} is not a port"))?);
            }
            "csum" | "nocsum" | "remcsum" if forwarding == "tunnel" => {
                method.tunnel_checksum = Some(word.clone());
            }
            other => return Err(format!("{other}: not a {kind} option")),
        }
    }
    if forwarding == "tunnel" && method.tunnel_type.is_none() {
        method.tunnel_type = Some("ipip".into());
    }
    Ok(method)
}

fn apply_method(real_server: &mut RealServerSpec, method: &Method) {
    // keepalived's default method is NAT.
    real_server.forwarding = Some(method.forwarding.clone().unwrap_or_else(|| "masq".into()));
    real_server.tunnel_type = method.tunnel_type.clone();
    real_server.tunnel_port = method.tunnel_port;
    real_server.tunnel_checksum = method.tunnel_checksum.clone();
}

/// `tcp N tcpfin N udp N`, each optional.
fn timeouts(args: &[String]) -> Result<TimeoutsSpec, String> {
    let mut timeouts = TimeoutsSpec::default();
    let mut words = args.iter();
    while let Some(name) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("{name} needs seconds"))?;
        let seconds = Some(
            value
                .parse()
                .map_err(|_| format!("{value} is not a number of seconds"))?,
        );
        match name.as_str() {
            "tcp" => timeouts.tcp = seconds,
            "tcpfin" => timeouts.tcpfin = seconds,
            "udp" => timeouts.udp = seconds,
            _ => return Err(format!("{name} is not tcp, tcpfin or udp")),
        }
    }
    Ok(timeouts)
}

/// `10.0.0.1`, or keepalived's range of the last part: `10.0.0.1-10`, `2001:db8::1-ff`.
fn address_range(text: &str) -> Result<Vec<IpAddr>, String> {
    let bad = || format!("{text} is not an address or an address range");
    let Some((first, last)) = text.rsplit_once('-') else {
        return Ok(vec![text.parse().map_err(|_| bad())?]);
    };
    let first: IpAddr = first.parse().map_err(|_| bad())?;
    let range: Vec<IpAddr> = match first {
        IpAddr::V4(v4) => {
            let last: u8 = last.parse().map_err(|_| bad())?;
            let [a, b, c, start] = v4.octets();
            (start..=last).map(|d| IpAddr::from([a, b, c, d])).collect()
        }
        IpAddr::V6(v6) => {
            let last = u16::from_str_radix(last, 16).map_err(|_| bad())?;
            let mut segments = v6.segments();
            let start = segments[7];
            (start..=last)
                .map(|s| {
                    segments[7] = s;
                    IpAddr::from(segments)
                })
                .collect()
        }
    };
    if range.is_empty() {
        return Err(format!("{text}: the range ends before it starts"));
    }
    Ok(range)
}

/// One health check on the service instead of the same one on each real server (when the
/// virtual server's `delay_loop` paces them all).
fn hoist_health_checks(service: &mut ServiceSpec) {
    let Some(real_servers) = &mut service.real_servers else {
        return;
    };
    let Some(first) = real_servers.first().and_then(|r| r.health_check.clone()) else {
        return;
    };
    if real_servers
        .iter()
        .all(|r| r.health_check.as_ref() == Some(&first))
    {
        for real_server in real_servers.iter_mut() {
            real_server.health_check = None;
        }
        service.health_check = Some(first);
    }
}
