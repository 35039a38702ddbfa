//! `ipvsadm -S -n` (the rules `ipvsadm -R` reads) to and from desired-state documents.
//!
//! Every option `ipvsadm -S` writes is read: `-t/-u/--sctp-service/-f` with `-6`, `-s`,
//! `-b`, `-p`, `-M`, `-o`, `--pe`; `-r`, `-g/-i/-m`, `-w`, `-x`, `-y`, `--tun-type`,
//! `--tun-port`, `--tun-nocsum/--tun-csum/--tun-remcsum`; also `--set` (timeouts), which
//! `-S` does not write but `-R` reads. Addresses must be numeric (`-n`).

use std::collections::HashMap;
use std::fmt::Write;

use lvs_model::spec::{DesiredStateSpec, Netmask, RealServerSpec, ServiceSpec, TimeoutsSpec};

use super::{Exported, Imported, Note, Unreadable};
use crate::keys::{real_server_key, service_key, try_service_key};

/// Reads rules into a document (with no cluster and, unless `--set` appears, no timeouts).
pub fn import(text: &str) -> Result<Imported, Unreadable> {
    let mut services: Vec<ServiceSpec> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut timeouts: Option<TimeoutsSpec> = None;
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let number = n + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(command) = words.first() else {
            continue;
        };
        if command.starts_with('#') {
            continue;
        }
        let result = match *command {
            "-A" | "--add-service" => read_service(&words[1..]).and_then(|service| {
                let key = try_service_key(&service)?;
                if index.contains_key(&key) {
                    return Err(format!("service {key} is added twice"));
                }
                index.insert(key, services.len());
                services.push(service);
                Ok(())
            }),
            "-a" | "--add-server" => {
                read_real_server(&words[1..]).and_then(|(key, real_server)| {
                    let service = index.get(&key).map(|&i| &mut services[i]).ok_or_else(|| {
                        format!("real server of service {key}, which no -A line added")
                    })?;
                    service
                        .real_servers
                        .get_or_insert_with(Vec::new)
                        .push(real_server);
                    Ok(())
                })
            }
            "--set" => read_timeouts(&words[1..]).map(|t| timeouts = Some(t)),
            other => Err(format!(
                "{other}: only -A, -a and --set lines are read (write them with ipvsadm -S -n)"
            )),
        };
        if let Err(message) = result {
            errors.push(Note::at(number, message));
        }
    }
    if !errors.is_empty() {
        return Err(Unreadable(errors));
    }
    for service in &mut services {
        service.real_servers.get_or_insert_with(Vec::new);
    }
    Ok(Imported {
        document: DesiredStateSpec {
            cluster: None,
            generation: None,
            timeouts,
            host: None,
            services: Some(services),
        },
        notes: Vec::new(),
    })
}

/// Reads the words after `-A`.
fn read_service(words: &[&str]) -> Result<ServiceSpec, String> {
    let mut selector = Selector::default();
    let mut words = Options::new(words);
    while let Some(option) = words.next() {
        if selector.read(option, &mut words)? {
            continue;
        }
        let service = &mut selector.service;
        match option {
            "-s" | "--scheduler" => service.scheduler = Some(words.value(option)?.to_owned()),
            "-b" | "--sched-flags" => {
                service.scheduler_flags = words
                    .value(option)?
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "-p" | "--persistent" => {
                // ipvsadm's own default when -p has no value.
                service.persistence_timeout = match words.peek_value() {
                    Some(_) => number(option, words.value(option)?)?,
                    None => 300,
                };
            }
            "-M" | "--netmask" => {
                let mask = words.value(option)?;
                service.persistence_netmask = Some(if mask.contains('.') {
                    Netmask::Text(mask.to_owned())
                } else {
                    Netmask::Prefix(number(option, mask)?)
                });
            }
            "-o" | "--ops" => service.one_packet = true,
            "--pe" => service.persistence_engine = Some(words.value(option)?.to_owned()),
            other => return Err(unknown(other)),
        }
    }
    selector.finish()
}

/// Reads the words after `-a`: the service's key and the real server.
fn read_real_server(words: &[&str]) -> Result<(String, RealServerSpec), String> {
    let mut selector = Selector::default();
    let mut real_server = RealServerSpec {
        forwarding: Some("route".into()),
        weight: Some(1),
        ..RealServerSpec::default()
    };
    let mut seen_address = false;
    let mut words = Options::new(words);
    while let Some(option) = words.next() {
        if selector.read(option, &mut words)? {
            continue;
        }
        match option {
            "-r" | "--real-server" => {
                let text = words.value(option)?;
                let (address, port) = split_address(text)
                    .ok_or_else(|| format!("-r {text}: not a numeric address[:port]"))?;
                real_server.address = Some(address);
                real_server.port = port;
                seen_address = true;
            }
            "-g" | "--gatewaying" => real_server.forwarding = Some("route".into()),
            "-i" | "--ipip" => real_server.forwarding = Some("tunnel".into()),
            "-m" | "--masquerading" => real_server.forwarding = Some("masq".into()),
            "-w" | "--weight" => real_server.weight = Some(number(option, words.value(option)?)?),
            "-x" | "--u-threshold" => {
                real_server.upper_threshold = Some(number(option, words.value(option)?)?);
            }
            "-y" | "--l-threshold" => {
                real_server.lower_threshold = Some(number(option, words.value(option)?)?);
            }
            "--tun-type" => real_server.tunnel_type = Some(words.value(option)?.to_owned()),
            "--tun-port" => real_server.tunnel_port = Some(number(option, words.value(option)?)?),
            "--tun-nocsum" => real_server.tunnel_checksum = Some("nocsum".into()),
            "--tun-csum" => real_server.tunnel_checksum = Some("csum".into()),
            "--tun-remcsum" => real_server.tunnel_checksum = Some("remcsum".into()),
            other => return Err(unknown(other)),
        }
    }
    if !seen_address {
        return Err("no real server: give -r address[:port]".into());
    }
    let service = selector.finish()?;
    // ipvsadm writes the real server's port always; a missing one is the service's.
    if real_server.port.is_none() {
        real_server.port = Some(service.port.unwrap_or(0));
    }
    // The tunnel type ipvsadm leaves out is ipip; its checksum option only with gue/gre.
    if real_server.forwarding.as_deref() == Some("tunnel") && real_server.tunnel_type.is_none() {
        real_server.tunnel_type = Some("ipip".into());
    }
    Ok((try_service_key(&service)?, real_server))
}

/// The service a line names: `-t`, `-u` or `--sctp-service` with `address:port`, or `-f`
/// with a mark and `-6` for IPv6.
#[derive(Debug, Default)]
struct Selector {
    service: ServiceSpec,
    ipv6: bool,
}

impl Selector {
    /// Takes `option` (and its value) when it names the service.
    fn read(&mut self, option: &str, words: &mut Options<'_>) -> Result<bool, String> {
        match option {
            "-t" | "--tcp-service" | "-u" | "--udp-service" | "--sctp-service" | "-f"
            | "--fwmark-service" => {
                set_service_key(&mut self.service, option, words.value(option)?)?;
            }
            "-6" | "--ipv6" => self.ipv6 = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(mut self) -> Result<ServiceSpec, String> {
        if self.service.fwmark.is_some() {
            self.service.family = Some(if self.ipv6 { "ipv6" } else { "ipv4" }.into());
        } else if self.service.address.is_none() {
            return Err("no service: give -t, -u, --sctp-service or -f".into());
        }
        Ok(self.service)
    }
}

/// `--set tcp tcpfin udp`: seconds, 0 leaving that one as it is.
fn read_timeouts(words: &[&str]) -> Result<TimeoutsSpec, String> {
    let [tcp, tcpfin, udp] = words else {
        return Err("--set takes three timeouts: tcp tcpfin udp".into());
    };
    let seconds = |name: &str, text: &str| -> Result<Option<i64>, String> {
        let value: i64 = number(name, text)?;
        Ok((value != 0).then_some(value))
    };
    Ok(TimeoutsSpec {
        tcp: seconds("--set tcp", tcp)?,
        tcpfin: seconds("--set tcpfin", tcpfin)?,
        udp: seconds("--set udp", udp)?,
    })
}

fn set_service_key(service: &mut ServiceSpec, option: &str, value: &str) -> Result<(), String> {
    if option == "-f" || option == "--fwmark-service" {
        service.fwmark = Some(number(option, value)?);
        return Ok(());
    }
    let protocol = match option {
        "-t" | "--tcp-service" => "tcp",
        "-u" | "--udp-service" => "udp",
        _ => "sctp",
    };
    let (address, port) = split_address(value)
        .ok_or_else(|| format!("{option} {value}: not a numeric address:port"))?;
    service.protocol = Some(protocol.into());
    service.address = Some(address);
    service.port = Some(port.ok_or_else(|| format!("{option} {value}: no port"))?);
    Ok(())
}

/// `10.0.0.1:80`, `[2001:db8::1]:80`, `10.0.0.1` into address and port; `None` when the
/// address is not numeric (a host name, from `ipvsadm -S` without `-n`).
fn split_address(text: &str) -> Option<(String, Option<i64>)> {
    let (address, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((address, "")) => (address, None),
            Some((address, port)) => (address, Some(port.strip_prefix(':')?)),
            None => return None,
        }
    } else {
        match text.split_once(':') {
            Some((address, port)) => (address, Some(port)),
            None => (text, None),
        }
    };
    address.parse::<std::net::IpAddr>().ok()?;
    let port = match port {
        None => None,
        Some(port) => Some(port.parse().ok()?),
    };
    Some((address.to_owned(), port))
}

fn number<T: std::str::FromStr>(option: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{option} {text}: not a number in range"))
}

fn unknown(option: &str) -> String {
    format!("{option}: not an option ipvsadm -S writes")
}

/// The words of a line, option by option.
struct Options<'a> {
    words: &'a [&'a str],
    at: usize,
}

impl<'a> Options<'a> {
    fn new(words: &'a [&'a str]) -> Options<'a> {
        Options { words, at: 0 }
    }

    fn next(&mut self) -> Option<&'a str> {
        let word = self.words.get(self.at)?;
        self.at += 1;
        Some(word)
    }

    /// The value of `option`: the next word.
    fn value(&mut self, option: &str) -> Result<&'a str, String> {
        self.next().ok_or_else(|| format!("{option} needs a value"))
    }

    /// The next word, when it is a value rather than another option.
    fn peek_value(&self) -> Option<&'a str> {
        self.words
            .get(self.at)
            .copied()
            .filter(|w| !w.starts_with('-'))
    }
}

/// Writes the document as `ipvsadm -R` rules, in the order and form `ipvsadm -S -n` uses.
pub fn export(document: &DesiredStateSpec) -> Exported {
    let mut text = String::new();
    let mut notes = Vec::new();
    if let Some(timeouts) = document.timeouts.filter(|t| *t != TimeoutsSpec::default()) {
        let _ = writeln!(
            text,
            "--set {} {} {}",
            timeouts.tcp.unwrap_or(0),
            timeouts.tcpfin.unwrap_or(0),
            timeouts.udp.unwrap_or(0)
        );
    }
    notes.extend(super::host_note(document, "ipvsadm rules"));
    for service in document.services.iter().flatten() {
        let key = service_key(service);
        let selector = selector(service);
        let mut line = format!("-A {selector}");
        let _ = write!(
            line,
            " -s {}",
            service.scheduler.as_deref().unwrap_or("wlc")
        );
        if service.persistence_timeout > 0 {
            let _ = write!(line, " -p {}", service.persistence_timeout);
            // ipvsadm leaves out the netmask of a single address.
            match &service.persistence_netmask {
                Some(Netmask::Text(mask)) if mask != "255.255.255.255" => {
                    let _ = write!(line, " -M {mask}");
                }
                Some(Netmask::Prefix(bits)) if *bits != 128 => {
                    let _ = write!(line, " -M {bits}");
                }
                _ => {}
            }
        }
        if let Some(engine) = &service.persistence_engine {
            let _ = write!(line, " --pe {engine}");
        }
        if service.one_packet {
            line.push_str(" -o");
        }
        if !service.scheduler_flags.is_empty() {
            let _ = write!(line, " -b {}", service.scheduler_flags.join(","));
        }
        let _ = writeln!(text, "{line}");
        note_service(service, &key, &mut notes);
        for real_server in service.real_servers.iter().flatten() {
            let _ = writeln!(text, "{}", real_server_line(&selector, real_server));
            note_real_server(real_server, &key, &mut notes);
        }
    }
    Exported { text, notes }
}

/// `-t 192.0.2.10:80`, `-f 42 -6`.
fn selector(service: &ServiceSpec) -> String {
    let key = service_key(service);
    match service.fwmark {
        Some(mark) if service.family.as_deref() == Some("ipv6") => format!("-f {mark} -6"),
        Some(mark) => format!("-f {mark}"),
        None => {
            let socket = key.split_once(':').map_or(key.as_str(), |(_, s)| s);
            let option = match service.protocol.as_deref() {
                Some("udp") => "-u",
                Some("sctp") => "--sctp-service",
                _ => "-t",
            };
            format!("{option} {socket}")
        }
    }
}

fn real_server_line(selector: &str, real_server: &RealServerSpec) -> String {
    let method = match real_server.forwarding.as_deref() {
        Some("masq") => "-m",
        Some("tunnel") => "-i",
        _ => "-g",
    };
    // A drained real server has weight 0 in the kernel.
    let weight = if real_server.state.as_deref() == Some("drained") {
        0
    } else {
        real_server.weight.unwrap_or(1)
    };
    let mut line = format!(
        "-a {selector} -r {} {method} -w {weight}",
        real_server_key(real_server)
    );
    if real_server.forwarding.as_deref() == Some("tunnel") {
        let kind = real_server.tunnel_type.as_deref().unwrap_or("ipip");
        let _ = write!(line, " --tun-type {kind}");
        if let Some(port) = real_server.tunnel_port {
            let _ = write!(line, " --tun-port {port}");
        }
        if kind != "ipip" {
            match real_server.tunnel_checksum.as_deref() {
                Some("csum") => line.push_str(" --tun-csum"),
                Some("remcsum") => line.push_str(" --tun-remcsum"),
                _ => line.push_str(" --tun-nocsum"),
            }
        }
    }
    let (upper, lower) = (
        real_server.upper_threshold.unwrap_or(0),
        real_server.lower_threshold.unwrap_or(0),
    );
    // `ipvsadm -S` does not write thresholds back; `-R` reads them.
    if upper != 0 || lower != 0 {
        let _ = write!(line, " -x {upper} -y {lower}");
    }
    line
}

fn note_service(service: &ServiceSpec, key: &str, notes: &mut Vec<Note>) {
    let mut left_out = Vec::new();
    if service.health_check.is_some() {
        left_out.push("health check");
    }
    if service.sorry_server.is_some() {
        left_out.push("sorry server");
    }
    if !service.mark_rules.is_empty() {
        left_out.push("marking rules");
    }
    if !service.name.is_empty() || !service.description.is_empty() {
        left_out.push("name and description");
    }
    if !left_out.is_empty() {
        notes.push(Note::general(format!(
            "service {key}: {} left out (ipvsadm has no such setting)",
            left_out.join(", ")
        )));
    }
}

fn note_real_server(real_server: &RealServerSpec, service: &str, notes: &mut Vec<Note>) {
    let key = real_server_key(real_server);
    if real_server.state.as_deref() == Some("drained") {
        notes.push(Note::general(format!(
            "real server {key} of {service} is drained: written with weight 0 (its weight {} is lost)",
            real_server.weight.unwrap_or(1)
        )));
    }
    if real_server.forwarding.as_deref() == Some("local") {
        notes.push(Note::general(format!(
            "real server {key} of {service}: local forwarding is written as -g, which ipvsadm \
             reads back as route"
        )));
    }
    if real_server.upper_threshold.unwrap_or(0) != 0
        || real_server.lower_threshold.unwrap_or(0) != 0
    {
        notes.push(Note::general(format!(
            "real server {key} of {service}: thresholds are written (-x, -y), but ipvsadm -S \
             does not save them back"
        )));
    }
    if real_server.health_check.is_some() || !real_server.description.is_empty() {
        notes.push(Note::general(format!(
            "real server {key} of {service}: health check and description left out"
        )));
    }
}
