//! `lvs-agent`'s command line; every option is also an `LVS_*` environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
pub use lvs_telemetry::LogFormat;

use crate::health::probe::TcpChecks;
use crate::health::ExecPolicy;
use crate::token::Token;

/// LVS Fleet agent: keeps this director's IPVS table in sync with its cluster's desired
/// state on lvs-server, and reports back.
#[derive(Debug, Clone, Parser)]
#[command(name = "lvs-agent", version)]
pub struct Config {
    /// What this host is: a `director` programs IPVS and prepares itself for its cluster;
    /// a `real-server` prepares itself for the direct-routing and tunnel services that use
    /// it (VIPs on `lo` or tunnel devices, ARP and reverse-path filtering), with a
    /// real-server host token.
    #[arg(long, env = "LVS_ROLE", value_enum, default_value_t = Role::Director)]
    pub role: Role,

    /// Base URL of lvs-server, e.g. https://lvs-server:8443; an https:// server's
    /// certificate must be signed by one of the system's CAs, or by --ca-file.
    #[arg(long, env = "LVS_SERVER")]
    pub server: String,

    /// Trust only the CAs in this PEM file (one or more certificates) for an https://
    /// --server, instead of the system's.
    #[arg(long, env = "LVS_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// This director's agent token.
    #[arg(
        long,
        env = "LVS_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,

    /// A file holding this director's agent token (surrounding whitespace is ignored).
    #[arg(long, env = "LVS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Where the last desired state is kept, for starts without the server.
    #[arg(long, env = "LVS_STATE_DIR", default_value = "/var/lib/lvs-agent")]
    pub state_dir: PathBuf,

    /// Apply the current desired state once and exit (non-zero if any change failed).
    #[arg(long, env = "LVS_ONCE")]
    pub once: bool,

    /// How long the server may hold a desired-state request before answering "no change"
    /// (e.g. 60s).
    #[arg(long, env = "LVS_POLL_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub poll_timeout: Duration,

    /// Time limit of every other request to the server.
    #[arg(long, env = "LVS_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How often the kernel is compared with the desired state to repair drift.
    #[arg(long, env = "LVS_RECONCILE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub reconcile_interval: Duration,

    /// How long a removed real server or service may keep its connections before it is
    /// deleted anyway; with `--role real-server`, how long a VIP no service needs any more
    /// stays, for the connections the directors still drain to this host.
    #[arg(long, env = "LVS_DRAIN_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// How often draining objects are checked for their last connection.
    #[arg(long, env = "LVS_DRAIN_CHECK_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub drain_check_interval: Duration,

    /// How often statistics are sent.
    #[arg(long, env = "LVS_STATS_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub stats_interval: Duration,

    /// How often the health checks' state goes to the server (in full every sixth time),
    /// besides a report soon after each change.
    #[arg(long, env = "LVS_HEALTH_REPORT_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub health_report_interval: Duration,

    /// How long a pass's report waits before it is sent; the reports of passes made
    /// meanwhile go with it, as one.
    #[arg(long, env = "LVS_REPORT_DELAY", default_value = "500ms", value_parser = parse_duration)]
    pub report_delay: Duration,

    /// Longest wait between reconnection attempts (the backoff starts at 0.5 s, doubles and
    /// is jittered).
    #[arg(long, env = "LVS_MAX_BACKOFF", default_value = "30s", value_parser = parse_duration)]
    pub max_backoff: Duration,

    /// The directory of the programs `exec` health checks may run (only those directly in
    /// it, writable by their owner alone); without it, exec checks are refused, never run.
    #[arg(long, env = "LVS_CHECK_SCRIPTS_DIR")]
    pub check_scripts_dir: Option<PathBuf>,

    /// The user `exec` health checks run as when the agent runs as root.
    #[arg(long, env = "LVS_CHECK_USER", default_value = "nobody")]
    pub check_user: String,

    /// How TCP health checks are made: `syn` sends a SYN from a raw socket and makes no
    /// connection (the real server's application never sees the check; needs CAP_NET_RAW,
    /// connects without it); `connect` opens a connection and resets it.
    #[arg(long, env = "LVS_TCP_CHECKS", value_enum, default_value_t = TcpChecks::Syn)]
    pub tcp_checks: TcpChecks,

    /// Log format.
    #[arg(long, env = "LVS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter: a level (info, debug) or per-module directives (lvs_agent=debug,info).
    #[arg(long, env = "LVS_LOG", default_value = "info")]
    pub log: String,
}

/// See [`Config::role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Director,
    RealServer,
}

impl Config {
    /// Whom the server's certificate must be signed by.
    pub fn trust(&self) -> crate::client::Trust {
        match &self.ca_file {
            Some(path) => crate::client::Trust::CaFile(path.clone()),
            None => crate::client::Trust::SystemRoots,
        }
    }

    /// What `exec` health checks may run, and as whom: as `--check-user` when the agent
    /// runs as root (an unknown user is an error, not a check run as root).
    pub fn exec_policy(&self) -> anyhow::Result<ExecPolicy> {
        // Without a scripts directory nothing runs, whoever the user would be.
        let run_as = if self.check_scripts_dir.is_some() && rustix::process::geteuid().is_root() {
            let passwd = std::fs::read_to_string("/etc/passwd")
                .map_err(|e| anyhow::anyhow!("cannot read /etc/passwd for --check-user: {e}"))?;
            let ids = user_ids(&passwd, &self.check_user).ok_or_else(|| {
                anyhow::anyhow!(
                    "--check-user {}: no such user in /etc/passwd",
                    self.check_user
                )
            })?;
            Some(ids)
        } else {
            None
        };
        Ok(ExecPolicy {
            scripts_dir: self.check_scripts_dir.clone(),
            run_as,
        })
    }

    /// The token, from `--token` or read from `--token-file` (read again when the server
    /// refuses it).
    pub fn token(&self) -> anyhow::Result<Token> {
        match (&self.token, &self.token_file) {
            (Some(token), _) => Token::fixed(token),
            (None, Some(path)) => Token::from_file(path),
            (None, None) => anyhow::bail!(
                "no agent token: set --token/LVS_TOKEN or --token-file/LVS_TOKEN_FILE"
            ),
        }
    }
}

/// The user and group ids of `name` in an `/etc/passwd` text.
fn user_ids(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [user, _, uid, gid, ..] if *user == name => {
                Some((uid.parse().ok()?, gid.parse().ok()?))
            }
            _ => None,
        }
    })
}

pub use lvs_model::duration::parse as parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_env_names() {
        let config =
            Config::try_parse_from(["lvs-agent", "--server", "http://s", "--token", "t"]).unwrap();
        assert_eq!(config.reconcile_interval, Duration::from_secs(30));
        assert_eq!(config.drain_timeout, Duration::from_secs(300));
        assert_eq!(config.stats_interval, Duration::from_secs(10));
        assert_eq!(config.report_delay, Duration::from_millis(500));
        assert_eq!(config.state_dir, PathBuf::from("/var/lib/lvs-agent"));
        assert_eq!(&*config.token().unwrap().get(), "t");
        use clap::CommandFactory;
        for arg in Config::command().get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(
                env,
                Some(format!("LVS_{}", id.to_uppercase())),
                "--{id} has its LVS_* variable"
            );
        }
    }

    #[test]
    fn check_user_ids_come_from_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
        assert_eq!(user_ids(passwd, "nobody"), Some((65534, 65534)));
        assert_eq!(user_ids(passwd, "nobod"), None);
        assert_eq!(user_ids("broken:x:y:0::/:", "broken"), None);
    }

    #[test]
    fn token_file_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret\n").unwrap();
        let config = Config::try_parse_from([
            "lvs-agent",
            "--server",
            "http://s",
            "--token-file",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(&*config.token().unwrap().get(), "secret");
    }
}
