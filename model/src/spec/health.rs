//! `HealthCheckSpec`: a health check as written in JSON, and its validation.

use std::num::{NonZeroU16, NonZeroU32};

use serde::{Deserialize, Serialize};

use crate::health::{
    BodyMatch, CheckKind, DnsProbe, DnsRcode, DnsType, ExecProbe, Health, HealthCheck, HttpMethod,
    HttpProbe, OnFailure, Probe, Tls, TlsVerify,
};
use crate::service::Port;
use crate::validation::ValidationErrors;

/// A health check as JSON. `kind` is required; each other field has a default or applies
/// only to some kinds, and setting one that does not apply is an error, so a check never
/// quietly ignores what was asked of it. Output carries every field that applies, except
/// the flags `insecure` and `reuse_connection` while they are off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthCheckSpec {
    /// `tcp`, `http`, `https`, `udp-dns`, `exec` or `none`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<CheckKind>))]
    pub kind: Option<String>,
    /// The port to check; default: the real server's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: Option<i64>,
    /// Milliseconds from one check to the next; default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 3600000))]
    pub interval_ms: Option<i64>,
    /// Milliseconds a check may take; default 1000, and always below `interval_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3599999))]
    pub timeout_ms: Option<i64>,
    /// Consecutive successes that bring a down real server up; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub rise: Option<i64>,
    /// Consecutive failures that take an up real server down; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub fall: Option<i64>,
    /// `quiesce` (default: weight 0, established connections finish) or `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<OnFailure>))]
    pub on_failure: Option<String>,
    /// `up` (default) or `down`: a new real server's health until its first result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Health>))]
    pub initial: Option<String>,
    /// `GET` (default) or `HEAD`; http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<HttpMethod>))]
    pub method: Option<String>,
    /// Default `/`; http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The `Host` header; default: the real server's address. http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Accepted status codes: numbers and ranges (`[200, "300-399"]`); default
    /// `["200-399"]`. http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<Vec<StatusSpec>>,
    /// Text the body must contain; http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// A regular expression the body must match; http and https, not with `expect_body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body_regex: Option<String>,
    /// Keep the connection open from one check to the next (HTTP/1.1 keep-alive); default
    /// false. Cheaper, but a reused connection does not prove that the real server still
    /// accepts new connections. http and https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_connection: Option<bool>,
    /// The TLS server name; default: `host`. https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// A PEM file of CAs on the director to verify the certificate with. https only; this
    /// or `insecure` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any certificate. https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// The name to query; udp-dns only, required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// The query type; default `A`. udp-dns only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DnsType>))]
    pub dns_type: Option<String>,
    /// The rcode that means up; default `NOERROR`. udp-dns only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DnsRcode>))]
    pub dns_rcode: Option<String>,
    /// The absolute path of the program to run; exec only, required. The agent runs it
    /// only from the directory its own host allows (`--check-scripts-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments, passed without a shell; exec only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// One accepted HTTP status code (`204`) or an inclusive range (`"200-299"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StatusSpec {
    Code(i64),
    Range(String),
}

/// Limits on free-form check values, so a check stays a small, valid request.
const PATH_MAX: usize = 1024;
const HOST_MAX: usize = 255;
const BODY_MAX: usize = 1024;
const REGEX_MAX: usize = 1024;
/// A compiled pattern's size cap: one check may not cost a director megabytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const FILE_PATH_MAX: usize = 4096;
const ARGS_MAX: usize = 32;
const ARG_MAX: usize = 1024;

/// Which kinds each kind-specific field applies to, to name them when they are misplaced.
const FIELDS: [(&str, &[CheckKind], &str); 14] = {
    use CheckKind::{Exec, Http, Https, UdpDns};
    const WEB: &[CheckKind] = &[Http, Https];
    [
        ("method", WEB, "http and https"),
        ("path", WEB, "http and https"),
        ("host", WEB, "http and https"),
        ("expect_status", WEB, "http and https"),
        ("expect_body", WEB, "http and https"),
        ("expect_body_regex", WEB, "http and https"),
        ("reuse_connection", WEB, "http and https"),
        ("sni", &[Https], "https"),
        ("ca_file", &[Https], "https"),
        ("insecure", &[Https], "https"),
        ("dns_name", &[UdpDns], "udp-dns"),
        ("dns_type", &[UdpDns], "udp-dns"),
        ("dns_rcode", &[UdpDns], "udp-dns"),
        ("command", &[Exec], "exec"),
    ]
};

impl HealthCheckSpec {
    /// Validates the check on its own, reporting every bad field. Rules that depend on the
    /// service or the real server (a port to check) are the caller's.
    pub fn parse(&self) -> Result<HealthCheck, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let Some(kind) = (match &self.kind {
            None => errors.check(
                "kind",
                Err("required: one of tcp, http, https, udp-dns, exec, none".into()),
            ),
            Some(word) => errors.check("kind", word.parse::<CheckKind>()),
        }) else {
            return Err(errors);
        };
        self.check_fields_apply(kind, &mut errors);
        if kind == CheckKind::None {
            for (field, set) in [
                ("port", self.port.is_some()),
                ("interval_ms", self.interval_ms.is_some()),
                ("timeout_ms", self.timeout_ms.is_some()),
                ("rise", self.rise.is_some()),
                ("fall", self.fall.is_some()),
                ("on_failure", self.on_failure.is_some()),
                ("initial", self.initial.is_some()),
            ] {
                if set {
                    errors.add(field, "does not apply to a none check");
                }
            }
        }

        let port = match self.port {
            None => Some(None),
            Some(port) => errors.check("port", Port::parse(port).map(Some)),
        };
        let interval = errors.check(
            "interval_ms",
            bounded_ms(
                self.interval_ms,
                HealthCheck::DEFAULT_INTERVAL_MS,
                HealthCheck::MIN_INTERVAL_MS,
                HealthCheck::MAX_INTERVAL_MS,
            ),
        );
        let timeout = errors.check(
            "timeout_ms",
            bounded_ms(
                self.timeout_ms,
                HealthCheck::DEFAULT_TIMEOUT_MS,
                1,
                HealthCheck::MAX_INTERVAL_MS,
            ),
        );
        if let (Some(interval), Some(timeout)) = (interval, timeout) {
            if timeout >= interval {
                errors.add(
                    "timeout_ms",
                    format!(
                        "must be below interval_ms ({interval}), so one check ends before the \
                         next begins; not {timeout}"
                    ),
                );
            }
        }
        let rise = errors.check("rise", count(self.rise, HealthCheck::DEFAULT_RISE));
        let fall = errors.check("fall", count(self.fall, HealthCheck::DEFAULT_FALL));
        let on_failure = keyword(
            &mut errors,
            "on_failure",
            &self.on_failure,
            OnFailure::Quiesce,
        );
        let initial = keyword(&mut errors, "initial", &self.initial, Health::Up);
        let probe = match kind {
            CheckKind::Tcp => Some(Probe::Tcp),
            CheckKind::Http | CheckKind::Https => self
                .parse_http(kind == CheckKind::Https, &mut errors)
                .map(Probe::Http),
            CheckKind::UdpDns => self.parse_dns(&mut errors).map(Probe::UdpDns),
            CheckKind::Exec => self.parse_exec(&mut errors).map(Probe::Exec),
            CheckKind::None => Some(Probe::None),
        };
        let (
            Some(probe),
            Some(port),
            Some(interval),
            Some(timeout),
            Some(rise),
            Some(fall),
            Some(on_failure),
            Some(initial),
        ) = (
            probe, port, interval, timeout, rise, fall, on_failure, initial,
        )
        else {
            return Err(errors);
        };
        errors.into_result()?;
        Ok(HealthCheck {
            probe,
            port,
            interval_ms: interval,
            timeout_ms: timeout,
            rise,
            fall,
            on_failure,
            initial,
        })
    }

    fn check_fields_apply(&self, kind: CheckKind, errors: &mut ValidationErrors) {
        let set = |field: &str| match field {
            "method" => self.method.is_some(),
            "path" => self.path.is_some(),
            "host" => self.host.is_some(),
            "expect_status" => self.expect_status.is_some(),
            "expect_body" => self.expect_body.is_some(),
            "expect_body_regex" => self.expect_body_regex.is_some(),
            "reuse_connection" => self.reuse_connection.is_some(),
            "sni" => self.sni.is_some(),
            "ca_file" => self.ca_file.is_some(),
            "insecure" => self.insecure.is_some(),
            "dns_name" => self.dns_name.is_some(),
            "dns_type" => self.dns_type.is_some(),
            "dns_rcode" => self.dns_rcode.is_some(),
            "command" => self.command.is_some(),
            _ => false,
        };
        for (field, kinds, names) in FIELDS {
            if set(field) && !kinds.contains(&kind) {
                errors.add(field, format!("applies only to {names} checks, not {kind}"));
            }
        }
        if self.args.is_some() && kind != CheckKind::Exec {
            errors.add("args", format!("applies only to exec checks, not {kind}"));
        }
    }

    fn parse_http(&self, https: bool, errors: &mut ValidationErrors) -> Option<HttpProbe> {
        let method = keyword(errors, "method", &self.method, HttpMethod::Get);
        let path = errors.check("path", http_path(self.path.as_deref().unwrap_or("/")));
        let host = match &self.host {
            None => Some(None),
            Some(host) => errors.check("host", host_name(host, "host").map(Some)),
        };
        let expect_status = errors.check_nested(
            "expect_status",
            status_ranges(self.expect_status.as_deref()),
        );
        let expect_body = match (&self.expect_body, &self.expect_body_regex) {
            (Some(_), Some(_)) => {
                errors.add(
                    "expect_body_regex",
                    "set expect_body or expect_body_regex, not both",
                );
                None
            }
            (Some(text), None) => errors.check(
                "expect_body",
                body_text(text).map(|()| Some(BodyMatch::Contains(text.clone()))),
            ),
            (None, Some(pattern)) => errors.check(
                "expect_body_regex",
                regex(pattern).map(|()| Some(BodyMatch::Regex(pattern.clone()))),
            ),
            (None, None) => Some(None),
        };
        let tls = if https {
            self.parse_tls(errors).map(Some)
        } else {
            Some(None)
        };
        Some(HttpProbe {
            method: method?,
            path: path?,
            host: host?,
            expect_status: expect_status?,
            expect_body: expect_body?,
            tls: tls?,
            reuse_connection: self.reuse_connection.unwrap_or(false),
        })
    }

    fn parse_tls(&self, errors: &mut ValidationErrors) -> Option<Tls> {
        let sni = match &self.sni {
            None => Some(None),
            Some(name) => errors.check("sni", host_name(name, "sni").map(Some)),
        };
        let insecure = self.insecure.unwrap_or(false);
        let verify = match (&self.ca_file, insecure) {
            (Some(_), true) => errors.check(
                "insecure",
                Err("must not be true with a ca_file: verify or don't".into()),
            ),
            (Some(file), false) => errors.check(
                "ca_file",
                absolute_path(file).map(|()| TlsVerify::CaFile(file.clone())),
            ),
            (None, true) => Some(TlsVerify::Insecure),
            (None, false) => errors.check(
                "ca_file",
                Err(
                    "required for https checks: a PEM file of the CAs to verify with, or set \
                     insecure to true to accept any certificate"
                        .into(),
                ),
            ),
        };
        Some(Tls {
            sni: sni?,
            verify: verify?,
        })
    }

    fn parse_dns(&self, errors: &mut ValidationErrors) -> Option<DnsProbe> {
        let name = match &self.dns_name {
            None => errors.check("dns_name", Err("required for udp-dns checks".into())),
            Some(name) => errors.check("dns_name", dns_name(name)),
        };
        let kind = keyword(errors, "dns_type", &self.dns_type, DnsType::A);
        let rcode = keyword(errors, "dns_rcode", &self.dns_rcode, DnsRcode::NoError);
        Some(DnsProbe {
            name: name?,
            kind: kind?,
            rcode: rcode?,
        })
    }

    fn parse_exec(&self, errors: &mut ValidationErrors) -> Option<ExecProbe> {
        let command = match &self.command {
            None => errors.check(
                "command",
                Err("required for exec checks: the absolute path of a program".into()),
            ),
            Some(path) => errors.check("command", absolute_path(path).map(|()| path.clone())),
        };
        let args = self.args.clone().unwrap_or_default();
        if args.len() > ARGS_MAX {
            errors.add(
                "args",
                format!("at most {ARGS_MAX} arguments, not {}", args.len()),
            );
        }
        for (i, arg) in args.iter().enumerate() {
            if arg.len() > ARG_MAX || arg.contains('\0') {
                errors.add(
                    format!("args[{i}]"),
                    format!("must be at most {ARG_MAX} bytes without NUL characters"),
                );
            }
        }
        Some(ExecProbe {
            command: command?,
            args,
        })
    }
}

fn keyword<T: std::str::FromStr<Err = String>>(
    errors: &mut ValidationErrors,
    field: &str,
    word: &Option<String>,
    default: T,
) -> Option<T> {
    match word {
        None => Some(default),
        Some(word) => errors.check(field, word.parse()),
    }
}

fn bounded_ms(raw: Option<i64>, default: u32, min: u32, max: u32) -> Result<NonZeroU32, String> {
    let raw = raw.unwrap_or(i64::from(default));
    u32::try_from(raw)
        .ok()
        .filter(|ms| (min..=max).contains(ms))
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("must be between {min} and {max} milliseconds, not {raw}"))
}

fn count(raw: Option<i64>, default: u16) -> Result<NonZeroU16, String> {
    let raw = raw.unwrap_or(i64::from(default));
    let max = HealthCheck::MAX_COUNT;
    u16::try_from(raw)
        .ok()
        .filter(|n| *n <= max)
        .and_then(NonZeroU16::new)
        .ok_or_else(|| format!("must be between 1 and {max} consecutive results, not {raw}"))
}

fn http_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!("must start with '/', not {path:?}"));
    }
    if path.len() > PATH_MAX {
        return Err(format!("must be at most {PATH_MAX} bytes"));
    }
    // It goes into the request line as it is: a space or a line break would end it.
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("may contain only visible ASCII characters; percent-encode the rest".into());
    }
    Ok(path.to_owned())
}

/// A host name or address, optionally with a port: what a `Host` header or SNI carries.
fn host_name(name: &str, field: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > HOST_MAX {
        return Err(format!("must be 1 to {HOST_MAX} characters"));
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b);
    if !name.bytes().all(allowed) {
        return Err(format!(
            "{name:?} is not a host name: letters, digits, '.', '-', '_' only{}",
            if field == "host" {
                " (with ':port' or an [IPv6] address)"
            } else {
                ""
            }
        ));
    }
    Ok(name.to_owned())
}

fn dns_name(name: &str) -> Result<String, String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Ok(".".to_owned());
    }
    if bare.len() > 253 {
        return Err("must be at most 253 characters".into());
    }
    for label in bare.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "{name:?} is not a DNS name: each label is 1 to 63 characters"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "{name:?} is not a DNS name: letters, digits, '-' and '_' only"
            ));
        }
    }
    Ok(bare.to_owned())
}

fn body_text(text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > BODY_MAX {
        return Err(format!("must be 1 to {BODY_MAX} bytes"));
    }
    Ok(())
}

fn regex(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() || pattern.len() > REGEX_MAX {
        return Err(format!("must be 1 to {REGEX_MAX} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(drop)
        .map_err(|e| {
            format!(
                "is not a valid regular expression: {}",
                one_line(&e.to_string())
            )
        })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn absolute_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("must be an absolute path, not {path:?}"));
    }
    if path.len() > FILE_PATH_MAX || path.contains('\0') {
        return Err(format!(
            "must be at most {FILE_PATH_MAX} bytes without NUL characters"
        ));
    }
    if path.split('/').any(|part| part == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

/// Sorted, merged inclusive ranges; default 200-399.
fn status_ranges(specs: Option<&[StatusSpec]>) -> Result<Vec<(u16, u16)>, ValidationErrors> {
    let Some(specs) = specs else {
        return Ok(vec![(200, 399)]);
    };
    let mut errors = ValidationErrors::default();
    if specs.is_empty() {
        errors.add("", "must list at least one status code or range");
    }
    let mut ranges = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        if let Some(range) = errors.check(&format!("[{i}]"), status_range(spec)) {
            ranges.push(range);
        }
    }
    errors.into_result()?;
    ranges.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

fn status_range(spec: &StatusSpec) -> Result<(u16, u16), String> {
    let code = |raw: i64| -> Result<u16, String> {
        u16::try_from(raw)
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| format!("{raw} is not an HTTP status code (100-599)"))
    };
    match spec {
        StatusSpec::Code(raw) => code(*raw).map(|c| (c, c)),
        StatusSpec::Range(text) => {
            let invalid =
                || format!("{text:?} is not a status code or a range such as \"200-299\"");
            let number = |s: &str| -> Result<u16, String> {
                let s = s.trim();
                if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                code(s.parse().map_err(|_| invalid())?)
            };
            let (lo, hi) = match text.split_once('-') {
                Some((lo, hi)) => (number(lo)?, number(hi)?),
                None => {
                    let c = number(text)?;
                    (c, c)
                }
            };
            if lo > hi {
                return Err(format!(
                    "{text:?} runs backwards: write the lower code first"
                ));
            }
            Ok((lo, hi))
        }
    }
}

impl From<&HealthCheck> for HealthCheckSpec {
    fn from(check: &HealthCheck) -> Self {
        let kind = check.kind();
        let mut spec = HealthCheckSpec {
            kind: Some(kind.to_string()),
            ..HealthCheckSpec::default()
        };
        if kind == CheckKind::None {
            return spec;
        }
        spec.port = check.port().map(|p| i64::from(p.get()));
        spec.interval_ms = Some(i64::from(check.interval_ms()));
        spec.timeout_ms = Some(i64::from(check.timeout_ms()));
        spec.rise = Some(i64::from(check.rise()));
        spec.fall = Some(i64::from(check.fall()));
        spec.on_failure = Some(check.on_failure().to_string());
        spec.initial = Some(check.initial().to_string());
        match check.probe() {
            Probe::Http(http) => {
                spec.method = Some(http.method.to_string());
                spec.path = Some(http.path.clone());
                spec.host.clone_from(&http.host);
                spec.expect_status = Some(
                    http.expect_status
                        .iter()
                        .map(|&(lo, hi)| match lo == hi {
                            true => StatusSpec::Code(i64::from(lo)),
                            false => StatusSpec::Range(format!("{lo}-{hi}")),
                        })
                        .collect(),
                );
                match &http.expect_body {
                    Some(BodyMatch::Contains(text)) => spec.expect_body = Some(text.clone()),
                    Some(BodyMatch::Regex(pattern)) => {
                        spec.expect_body_regex = Some(pattern.clone());
                    }
                    None => {}
                }
                spec.reuse_connection = http.reuse_connection.then_some(true);
                if let Some(tls) = &http.tls {
                    spec.sni.clone_from(&tls.sni);
                    match &tls.verify {
                        TlsVerify::CaFile(file) => spec.ca_file = Some(file.clone()),
                        TlsVerify::Insecure => spec.insecure = Some(true),
                    }
                }
            }
            Probe::UdpDns(dns) => {
                spec.dns_name = Some(dns.name.clone());
                spec.dns_type = Some(dns.kind.to_string());
                spec.dns_rcode = Some(dns.rcode.to_string());
            }
            Probe::Exec(exec) => {
                spec.command = Some(exec.command.clone());
                spec.args = Some(exec.args.clone());
            }
            Probe::Tcp | Probe::None => {}
        }
        spec
    }
}
