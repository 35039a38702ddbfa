//! `lvs-server`'s command line; every option is also an `LVS_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lvs_model::access::Role;
pub use lvs_telemetry::LogFormat;

/// LVS Fleet control-plane server: keeps the fleet's desired IPVS configuration and serves
/// it over a REST API (docs at /api/docs).
#[derive(Debug, Clone, Parser)]
#[command(name = "lvs-server", version)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LVS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database URL, e.g. sqlite:///var/lib/lvs-fleet/fleet.db. Default: fleet.db in the
    /// data directory.
    #[arg(long, env = "LVS_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory for the default database; created on first start.
    #[arg(long, env = "LVS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Log format.
    #[arg(long, env = "LVS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter: a level (info, debug) or per-module directives (lvs_server=debug,info).
    #[arg(long, env = "LVS_LOG", default_value = "info")]
    pub log: String,

    /// Largest request body accepted, in bytes; a whole-cluster desired-state document
    /// with 10,000 services of 10 real servers each is about 30 MB.
    #[arg(long, env = "LVS_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Host names (comma-separated, any port) the server answers to; a request for another
    /// `Host` is refused (421), so a hostile web page cannot reach it through DNS
    /// rebinding. Default: localhost, 127.0.0.1, [::1] and the --listen IP unless it is
    /// 0.0.0.0 or ::. /healthz and /readyz answer whatever the host.
    #[arg(long, env = "LVS_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key. Reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "LVS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "LVS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Reverse proxies (comma-separated addresses or networks, `10.0.0.0/8`) whose
    /// X-Forwarded-For names the client: the address sign-in throttling counts and changes
    /// record. Default: none, the TCP peer is the client.
    #[arg(long, env = "LVS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// A browser session unused this long ends (`90m`, `1h`).
    #[arg(long, env = "LVS_SESSION_IDLE_TIMEOUT", default_value = "1h", value_parser = lvs_model::duration::parse)]
    pub session_idle_timeout: std::time::Duration,

    /// No browser session lasts longer than this, however busy (`12h`, `7d`).
    #[arg(long, env = "LVS_SESSION_LIFETIME", default_value = "12h", value_parser = lvs_model::duration::parse)]
    pub session_lifetime: std::time::Duration,

    /// How finely GET /metrics breaks down the agents' IPVS statistics: `real-server`
    /// (node_exporter's backend series for every real server of every director),
    /// `service` (summed per virtual service) or `cluster` (summed per director). Bounds
    /// the series a scrape returns.
    #[arg(long, env = "LVS_METRICS_DETAIL", value_enum, default_value_t = MetricsDetail::RealServer)]
    pub metrics_detail: MetricsDetail,

    /// Without a command, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manages the users of the database that --database-url or --data-dir names (the
    /// server may be running). The first start of a server with no user adds `admin`,
    /// its password written to <data dir>/initial-admin-password.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manages API tokens (for CI and scripts) in the same database.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokensCommand {
    /// Issues an API token and prints it (only it, on standard output) once.
    Add {
        /// What it is for: lowercase letters, digits and '-', unique per owner.
        name: String,
        /// The user it acts as (never above that user's role).
        #[arg(long, conflicts_with = "service_account")]
        user: Option<String>,
        /// The service account it acts as (a name that signs in with tokens only).
        #[arg(long)]
        service_account: Option<String>,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: Role,
        /// A cluster an operator token may edit; repeat for several.
        #[arg(long = "cluster")]
        clusters: Vec<String>,
        /// It stops working this long from now (`30d`, `12h`); without it, when revoked.
        #[arg(long, value_parser = lvs_model::duration::parse)]
        expires_in: Option<std::time::Duration>,
    },
    /// Lists the API tokens (never their secrets).
    List,
    /// Revokes an API token by its id.
    Revoke { id: i64 },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UsersCommand {
    /// Adds a user. Its password is read from standard input with --password-stdin, or
    /// generated and printed once.
    Add {
        /// A name like a cluster's: lowercase letters, digits and '-'.
        name: String,
        /// viewer (reads everything), operator (edits services and real servers of its
        /// clusters) or admin (everything).
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: Role,
        /// A cluster an operator may edit; repeat for several.
        #[arg(long = "cluster")]
        clusters: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sets a user's password: from standard input with --password-stdin, or generated
    /// and printed once.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Removes a user (not the last admin).
    Remove { name: String },
    /// Lists the users with their roles and clusters.
    List,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// `--metrics-detail`: the finest breakdown of the IPVS series on GET /metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsDetail {
    /// A backend series per real server, service and director.
    #[default]
    RealServer,
    /// A backend series per virtual service and director.
    Service,
    /// A backend series per director.
    Cluster,
}

/// `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, PEM, the server's own first.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The default of `--max-body-bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 128 * 1024 * 1024;

impl Config {
    /// The certificate and key to serve HTTPS with; `None`: plain HTTP. One without the
    /// other is an error.
    pub fn tls_files(&self) -> anyhow::Result<Option<TlsFiles>> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (Some(_), None) => {
                anyhow::bail!("--tls-cert needs --tls-key (LVS_TLS_KEY), the certificate's key")
            }
            (None, Some(_)) => {
                anyhow::bail!("--tls-key needs --tls-cert (LVS_TLS_CERT), the key's certificate")
            }
        }
    }

    /// The database URL to open, creating the data directory when the default is used.
    pub fn database_url(&self) -> std::io::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)?;
        let path = std::path::absolute(self.data_dir.join("fleet.db"))?;
        Ok(format!("sqlite://{}", path.display()))
    }
}
