//! `cargo xtask schemathesis`: fuzzes the API against its own OpenAPI document with a
//! pinned schemathesis, on a debug `lvs-server` loaded with seed data, and fails on any
//! finding. Its settings are in `xtask/schemathesis.toml`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{apt, cmd};

/// Pinned so that a new release's new checks never turn CI red on their own.
const VERSION: &str = "4.32.5";

/// The agent's long-poll waits up to a minute for a change that never comes: it would
/// only slow the run. Its answers are covered by `server/tests/api/schema_conformance.rs`.
const EXCLUDED_PATH: &str = "/api/v1/agent/desired-state";

pub fn run() -> Result<()> {
    let root = cmd::workspace_root();
    let work = root.join("target/schemathesis");
    let schemathesis = install(&work)?;
    cmd::cargo(&[
        "build",
        "--locked",
        "-p",
        "lvs-server",
        "--bin",
        "lvs-server",
    ])?;

    let port = free_port()?;
    let data_dir = work.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("cannot remove {}", data_dir.display()))?;
    }
    let binary = root.join("target/debug/lvs-server");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    // Issued first, as a setup script would before starting the server (the server opening
    // the same new database at once is tested in `process.rs`).
    let token = admin_token(&binary, &data_dir)?;
    let _server = Server::start(&binary, port, &data_dir, &work)?;
    let api = Api { port, token };
    api.wait_until_ready()?;
    let token = seed(&api)?;

    let started = Instant::now();
    let result = cmd::run(
        Command::new(schemathesis)
            .arg("--config-file")
            .arg(root.join("xtask/schemathesis.toml"))
            .arg("run")
            .arg(format!("http://127.0.0.1:{port}/api/openapi.json"))
            .args(["--checks", "all", "--exclude-path", EXCLUDED_PATH])
            .args([
                "--seed",
                "20251204",
                "--max-examples",
                "25",
                "--max-time",
                "180",
            ])
            .args(["--workers", "2", "--report", "junit", "--report-dir"])
            .arg(work.join("report"))
            // The tokens are this run's throwaway server's: the seeded director's agent token,
            // and an admin API token.
            .env("LVS_AGENT_TOKEN", token)
            .env("LVS_API_TOKEN", &api.token)
            .current_dir(&work),
    );
    eprintln!("schemathesis ran for {:.0?}", started.elapsed());
    result
}

/// schemathesis `VERSION` in a virtualenv under `target/`, installed once.
fn install(work: &Path) -> Result<PathBuf> {
    let venv = work.join("venv");
    let schemathesis = venv.join("bin/schemathesis");
    let installed = Command::new(&schemathesis)
        .arg("--version")
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .ends_with(VERSION)
        });
    if !installed {
        apt::ensure(&[("python3", "python3")])?;
        let create = || {
            cmd::run(
                Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
            )
        };
        // Debian's python3 makes virtualenvs only with python3-venv.
        if create().is_err() {
            apt::install(&["python3-venv"])?;
            create()?;
        }
        cmd::run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet"])
                .arg(format!("schemathesis=={VERSION}")),
        )?;
    }
    Ok(schemathesis)
}

/// A port nobody listens on now: the server cannot print the one `:0` would give it.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a port")?;
    Ok(listener.local_addr()?.port())
}

/// The server under test, stopped when dropped.
/// An admin API token (id 1 on the fresh database), issued with `lvs-server tokens add` as
/// a setup script would.
fn admin_token(binary: &Path, data_dir: &Path) -> Result<String> {
    let output = Command::new(binary)
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "tokens",
            "add",
            "fuzzing",
            "--service-account",
            "schemathesis",
            "--role",
            "admin",
        ])
        .output()
        .context("running lvs-server tokens add")?;
    if !output.status.success() {
        bail!(
            "lvs-server tokens add failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

struct Server(Child);

impl Server {
    fn start(binary: &Path, port: u16, data_dir: &Path, work: &Path) -> Result<Self> {
        let log_path = work.join("server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(binary)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--log", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        eprintln!(
            "lvs-server on 127.0.0.1:{port}, log in {}",
            log_path.display()
        );
        Ok(Server(child))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Clusters, a director with a token, and services of every kind with real servers, so
/// operations on existing resources are exercised. Returns the director's agent token.
fn seed(api: &Api) -> Result<String> {
    api.post(
        "/api/v1/clusters",
        &json!({"name": "prod", "timeouts": {"tcp": 900}}),
    )?;
    api.post("/api/v1/clusters", &json!({"name": "staging"}))?;
    // The users the users' operations act on (the run's token is a service account's, which
    // no change to a user reaches): `fuzz` stays, `fuzz-removed` is the one to delete.
    api.post(
        "/api/v1/users",
        &json!({"name": "fuzz", "role": "operator", "clusters": ["prod"]}),
    )?;
    api.post(
        "/api/v1/users",
        &json!({"name": "fuzz-removed", "role": "viewer"}),
    )?;
    api.post("/api/v1/clusters/prod/directors", &json!({"name": "lb1"}))?;
    api.post(
        "/api/v1/clusters/staging/directors",
        &json!({"name": "lb2"}),
    )?;
    let services = [
        json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80, "name": "web",
               "scheduler": "sh", "scheduler_flags": ["sh-port"],
               "real_servers": [
                   {"address": "10.1.0.11", "port": 8080, "forwarding": "masq"},
                   {"address": "10.1.0.12", "port": 8080, "forwarding": "masq", "weight": 0}]}),
        json!({"protocol": "udp", "address": "2001:db8::53", "port": 53, "name": "dns6",
               "persistence_timeout": 300, "persistence_netmask": 64,
               "real_servers": [{"address": "2001:db8:1::1", "forwarding": "route"}]}),
        json!({"fwmark": 42, "family": "ipv4", "name": "marked",
               "real_servers": [{"address": "10.1.0.21", "forwarding": "tunnel",
                                 "tunnel_type": "gue", "tunnel_port": 6080}]}),
        json!({"fwmark": 43, "family": "ipv6",
               "real_servers": [{"address": "2001:db8:2::1", "forwarding": "route"}]}),
        json!({"protocol": "sctp", "address": "192.0.2.11", "port": 3868,
               "real_servers": [{"address": "10.1.0.31", "forwarding": "route"}]}),
    ];
    for service in &services {
        api.post("/api/v1/clusters/prod/services", service)?;
    }
    // Token 2, the one revoking may revoke (`xtask/schemathesis.toml`): not the run's own.
    let revocable = json!({"name": "revocable", "role": "viewer", "service_account": "ci"});
    api.post("/api/v1/api-tokens", &revocable)?;
    let token = api.post("/api/v1/clusters/prod/directors/lb1/token", &json!({}))?;
    token["token"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no token")
}

/// A bare HTTP/1.1 client for the seed: a handful of requests need no client library.
struct Api {
    port: u16,
    /// Sent on every request.
    token: String,
}

impl Api {
    fn wait_until_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.request("GET", "/readyz", None) {
                Ok((200, _)) => return Ok(()),
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Ok((status, body)) => bail!("lvs-server is not ready: {status} {body}"),
                Err(error) => return Err(error.context("lvs-server did not start")),
            }
        }
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        match self.request("POST", path, Some(body))? {
            (200..=299, answer) => Ok(answer),
            (status, answer) => bail!("seeding: POST {path} answered {status}: {answer}"),
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\
             Connection: close\r\n\r\n{body}",
            port = self.port,
            token = self.token,
            length = body.len(),
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("{method} {path}: no HTTP status in {answer:?}"))?;
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        Ok((status, json))
    }
}
