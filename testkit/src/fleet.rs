//! A fleet inside one guest: the real `lvs-server` in the calling thread's (fresh) network
//! namespace, the hub, and directors wired to it by veth pairs (10.200.N.1 on the hub,
//! 10.200.N.2 on director N), each in a namespace of its own (so with its own IPVS table)
//! running the real `lvs-agent`. Shared by the agent's end-to-end tests and its benchmark.
//! [`Fleet::with_tls`] serves HTTPS with a certificate of a CA of its own, which the agents
//! get as `--ca-file`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::netns::{fresh_netns, veth, Netns};
use crate::tls::{PairFiles, TestCa};

/// Where the server listens, in the hub namespace.
const SERVER_PORT: u16 = 8080;

/// The names the server answers to: the loopback the tests use and the hub address each
/// director's agent reaches it by (`http://10.200.<n>.1`).
fn allowed_hosts() -> String {
    let mut hosts = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    hosts.extend((0..=255).map(|n| format!("10.200.{n}.1")));
    hosts.join(",")
}

/// The server's and the agent's executables.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub server: PathBuf,
    pub agent: PathBuf,
}

impl Binaries {
    /// Copies both to a new directory on the guest's tmpfs: executables on the 9p root are
    /// read from the host on every start, which costs seconds for binaries of this size.
    pub fn copied(server: &Path, agent: &Path) -> Binaries {
        let dir = std::env::temp_dir().join(format!("lvs-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let copy = |from: &Path, name: &str| {
            let to = dir.join(name);
            std::fs::copy(from, &to)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
            to
        };
        Binaries {
            server: copy(server, "lvs-server"),
            agent: copy(agent, "lvs-agent"),
        }
    }
}

/// A host with an agent: a director, or a real server's host (`--role real-server`);
/// its namespace, token and agent.
#[derive(Debug)]
pub struct AgentHost {
    pub name: String,
    pub ns: Netns,
    /// The state directory and the token file.
    dir: tempfile::TempDir,
    /// The server as the agent reaches it, over its veth.
    pub url: String,
    agent: Option<Child>,
    /// Log file of each start of the agent, oldest first.
    pub logs: Vec<PathBuf>,
}

/// The server's certificate and its CA's file, in a directory of their own.
#[derive(Debug)]
struct FleetTls {
    _dir: tempfile::TempDir,
    pair: PairFiles,
    ca_file: PathBuf,
}

impl FleetTls {
    /// A certificate for every address the server is reached by.
    fn new() -> FleetTls {
        let dir = tempfile::tempdir().expect("a certificate directory");
        let ca = TestCa::new();
        let ca_file = ca.write(dir.path());
        let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        names.extend((1..=254).map(|n| format!("10.200.{n}.1")));
        let pair = ca.write_pair(dir.path(), "server", &names);
        FleetTls {
            _dir: dir,
            pair,
            ca_file,
        }
    }
}

/// How a fleet starts.
#[derive(Debug, Clone, Copy, Default)]
struct Setup {
    local_logs: bool,
    tls: bool,
}

impl AgentHost {
    fn new(name: &str, ns: Netns, url: String) -> AgentHost {
        AgentHost {
            name: name.to_owned(),
            ns,
            dir: tempfile::tempdir().expect("a host directory"),
            url,
            agent: None,
            logs: Vec::new(),
        }
    }

    /// Runs `command` in the host's namespace as its agent.
    fn spawn(&mut self, mut command: Command, log: PathBuf) {
        let child = self.ns.enter(|| command.spawn().expect("start lvs-agent"));
        self.agent = Some(child);
        self.logs.push(log);
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The file the agent reads its token from (`--token-file`).
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// Replaces the token file's contents.
    pub fn write_token(&self, token: &str) {
        std::fs::write(self.token_file(), token).expect("write the token file");
    }

    /// The running agent, if any.
    pub fn agent(&mut self) -> Option<&mut Child> {
        self.agent.as_mut()
    }

    /// The newest agent log.
    pub fn log(&self) -> &Path {
        self.logs.last().expect("the agent was started")
    }

    /// SIGTERM, and waits for the agent to exit.
    pub fn stop_agent(&mut self) {
        if let Some(agent) = self.agent.take() {
            terminate(agent);
        }
    }
}

/// The server, its cluster and the directors.
#[derive(Debug)]
pub struct Fleet {
    pub cluster: String,
    /// Where the server's and the agents' logs go.
    pub logs: PathBuf,
    pub directors: Vec<AgentHost>,
    /// Real servers' hosts, whose agents run with `--role real-server`.
    pub real_server_hosts: Vec<AgentHost>,
    /// Veth pairs to the hub made so far: each host has its own subnet.
    links: usize,
    binaries: Binaries,
    agent_args: Vec<String>,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    data: tempfile::TempDir,
    server: Option<Child>,
    server_starts: usize,
    /// The temporary log directory and where its files are copied at the end.
    local_logs: Option<(tempfile::TempDir, PathBuf)>,
    /// With HTTPS: the server's certificate and the agents' CA file.
    tls: Option<FleetTls>,
    /// An admin API token, for [`Fleet::call`].
    api_token: String,
}

impl Fleet {
    /// Moves the calling thread into a fresh namespace (the hub), starts the server there
    /// and creates `cluster`. Logs go to `$LVS_VM_ARTIFACTS/<name>`. Every agent started
    /// later gets `--server`, `--token-file`, `--state-dir` and `agent_args`.
    pub fn new(name: &str, cluster: &str, binaries: &Binaries, agent_args: &[&str]) -> Fleet {
        Fleet::start(name, cluster, binaries, agent_args, Setup::default())
    }

    /// Like [`Fleet::new`], but the server serves HTTPS (`--tls-cert`) and every agent
    /// verifies it with `--ca-file`.
    pub fn with_tls(name: &str, cluster: &str, binaries: &Binaries, agent_args: &[&str]) -> Fleet {
        let setup = Setup {
            tls: true,
            ..Setup::default()
        };
        Fleet::start(name, cluster, binaries, agent_args, setup)
    }

    /// Like [`Fleet::new`], but the logs are written to a temporary directory and copied to
    /// `$LVS_VM_ARTIFACTS/<name>` when the fleet is dropped. For benchmarks: the artifacts
    /// directory is the host's, over 9p, and a log line written there costs the writer a
    /// round trip through QEMU.
    pub fn with_local_logs(
        name: &str,
        cluster: &str,
        binaries: &Binaries,
        agent_args: &[&str],
    ) -> Fleet {
        let setup = Setup {
            local_logs: true,
            ..Setup::default()
        };
        Fleet::start(name, cluster, binaries, agent_args, setup)
    }

    fn start(
        name: &str,
        cluster: &str,
        binaries: &Binaries,
        agent_args: &[&str],
        setup: Setup,
    ) -> Fleet {
        fresh_netns();
        let artifacts = std::env::var_os("LVS_VM_ARTIFACTS")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(name);
        std::fs::create_dir_all(&artifacts)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", artifacts.display()));
        let (logs, local_logs) = if setup.local_logs {
            let local = tempfile::tempdir().expect("a log directory");
            (local.path().to_owned(), Some((local, artifacts)))
        } else {
            (artifacts, None)
        };
        let tls = setup.tls.then(FleetTls::new);
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            // Below the server's 10 s header timeout, which closes idle connections: a
            // request sent on one as it closes would fail.
            .pool_idle_timeout(Duration::from_secs(5));
        if let Some(tls) = &tls {
            let pem = std::fs::read(&tls.ca_file).expect("read the CA file");
            let ca = reqwest::Certificate::from_pem(&pem).expect("the CA certificate");
            http = http.tls_built_in_root_certs(false).add_root_certificate(ca);
        }
        let mut fleet = Fleet {
            cluster: cluster.to_owned(),
            logs,
            local_logs,
            directors: Vec::new(),
            real_server_hosts: Vec::new(),
            links: 0,
            binaries: binaries.clone(),
            agent_args: agent_args.iter().map(|&a| a.to_owned()).collect(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            http: http.build().expect("an HTTP client"),
            data: tempfile::tempdir().expect("a data directory"),
            server: None,
            server_starts: 0,
            tls,
            api_token: String::new(),
        };
        fleet.start_server();
        fleet.api_token = fleet.issue_api_token();
        fleet.call(
            "POST",
            "/api/v1/clusters",
            Some(json!({"name": cluster})),
            201,
        );
        fleet
    }

    /// `http` or `https`.
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// `/api/v1/clusters/<cluster><rest>`.
    pub fn cluster_path(&self, rest: &str) -> String {
        format!("/api/v1/clusters/{}{rest}", self.cluster)
    }

    /// A new director: its namespace, veth pair, API object and token (agent not started).
    pub fn add_director(&mut self, name: &str) {
        let ns = Netns::new();
        let url = self.link_to_hub(&ns);
        self.call(
            "POST",
            &self.cluster_path("/directors"),
            Some(json!({"name": name})),
            201,
        );
        let director = AgentHost::new(name, ns, url);
        director.write_token(&self.new_token(name));
        self.directors.push(director);
    }

    /// A real server's host in `ns`, which already holds `addresses`: a veth pair to the
    /// hub, the API object claiming the addresses and its token (agent not started).
    pub fn add_real_server_host(&mut self, name: &str, ns: Netns, addresses: &[&str]) {
        let url = self.link_to_hub(&ns);
        self.call(
            "POST",
            "/api/v1/real-server-hosts",
            Some(json!({"name": name, "addresses": addresses})),
            201,
        );
        let host = AgentHost::new(name, ns, url);
        let answer = self.call(
            "POST",
            &format!("/api/v1/real-server-hosts/{name}/token"),
            None,
            201,
        );
        host.write_token(answer["token"].as_str().expect("a token"));
        self.real_server_hosts.push(host);
    }

    /// A veth pair from the hub to `ns`, on a subnet of its own; the server's URL from
    /// `ns`.
    fn link_to_hub(&mut self, ns: &Netns) -> String {
        self.links += 1;
        let n = self.links;
        assert!(n < 255, "at most 254 hosts");
        veth(
            &Netns::current(),
            &format!("h{n}"),
            &format!("10.200.{n}.1/24"),
            ns,
            "up0",
            &format!("10.200.{n}.2/24"),
        );
        format!("{}://10.200.{n}.1:{SERVER_PORT}", self.scheme())
    }

    /// Creates (or replaces) a director's agent token; returns it.
    pub fn new_token(&self, director: &str) -> String {
        let answer = self.call(
            "POST",
            &self.cluster_path(&format!("/directors/{director}/token")),
            None,
            201,
        );
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// Starts director `index`'s agent, in its namespace, logging to a new file.
    pub fn start_agent(&mut self, index: usize) {
        let (command, log) = self.agent_command(&self.directors[index], &[]);
        self.directors[index].spawn(command, log);
    }

    /// Starts the agent of real-server host `index`, `--role real-server`.
    pub fn start_real_server_agent(&mut self, index: usize) {
        let host = &self.real_server_hosts[index];
        let (command, log) = self.agent_command(host, &["--role", "real-server"]);
        self.real_server_hosts[index].spawn(command, log);
    }

    /// The command that starts `host`'s agent, and its new log file.
    fn agent_command(&self, host: &AgentHost, role: &[&str]) -> (Command, PathBuf) {
        assert!(host.agent.is_none(), "{} runs already", host.name);
        let log = self
            .logs
            .join(format!("agent-{}-{}.log", host.name, host.logs.len()));
        let file = File::create(&log).expect("create the agent log");
        let mut command = Command::new(&self.binaries.agent);
        command
            .args(["--server", &host.url])
            .arg("--token-file")
            .arg(host.token_file())
            .arg("--state-dir")
            .arg(host.state_dir())
            .args(&self.agent_args)
            .args(role)
            .args(
                self.tls
                    .iter()
                    .flat_map(|tls| [std::ffi::OsStr::new("--ca-file"), tls.ca_file.as_os_str()]),
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("a log descriptor"))
            .stderr(file);
        (command, log)
    }

    pub fn start_agents(&mut self) {
        for index in 0..self.directors.len() {
            self.start_agent(index);
        }
    }

    /// Starts the server on the data directory it had before, waiting until it is ready.
    pub fn start_server(&mut self) {
        let log = self.logs.join(format!("server-{}.log", self.server_starts));
        self.server_starts += 1;
        let file = File::create(log).expect("create the server log");
        let mut command = Command::new(&self.binaries.server);
        if let Some(tls) = &self.tls {
            command
                .arg("--tls-cert")
                .arg(&tls.pair.cert)
                .arg("--tls-key")
                .arg(&tls.pair.key);
        }
        let child = command
            .args(["--listen", &format!("0.0.0.0:{SERVER_PORT}")])
            .args(["--allowed-hosts", &allowed_hosts()])
            .arg("--data-dir")
            .arg(self.data.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("a log descriptor"))
            .stderr(file)
            .spawn()
            .expect("start lvs-server");
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = format!("{}://127.0.0.1:{SERVER_PORT}/readyz", self.scheme());
        loop {
            let is_ready = self.rt.block_on(async {
                self.http
                    .get(&ready)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            if is_ready {
                return;
            }
            assert!(Instant::now() < deadline, "lvs-server did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            terminate(server);
        }
    }

    /// The server's process id.
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// An admin API token from `lvs-server tokens add`, beside the running server.
    fn issue_api_token(&self) -> String {
        let output = Command::new(&self.binaries.server)
            .arg("--data-dir")
            .arg(self.data.path())
            .args([
                "tokens",
                "add",
                "fleet",
                "--service-account",
                "tests",
                "--role",
                "admin",
            ])
            .output()
            .expect("run lvs-server tokens add");
        assert!(
            output.status.success(),
            "lvs-server tokens add: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// An API call that must answer `status`; returns the JSON body (Null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let url = format!("{}://127.0.0.1:{SERVER_PORT}{path}", self.scheme());
        let (got, text) = self.rt.block_on(async {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.api_token);
            if let Some(body) = body {
                let content_type = if method == reqwest::Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body.to_string());
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let got = response.status().as_u16();
            let text = response
                .text()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            (got, text)
        });
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
        }
    }

    /// Replaces the cluster's desired state with these services (each with its
    /// `real_servers`) and no timeouts; returns the new generation.
    pub fn put_state(&self, services: &Value) -> u64 {
        let diff = self.call(
            "PUT",
            &self.cluster_path("/desired-state"),
            Some(json!({"timeouts": {}, "services": services})),
            200,
        );
        diff["to_generation"].as_u64().expect("a generation")
    }

    /// A director's `status` as the API shows it.
    pub fn status(&self, director: &str) -> Value {
        self.call(
            "GET",
            &self.cluster_path(&format!("/directors/{director}")),
            None,
            200,
        )["status"]
            .clone()
    }

    /// Waits (up to 20 s) until `check` holds for the director's status, and returns it.
    pub fn wait_status(&self, director: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status(director);
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{director}: never {what}; status {status:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for host in self.directors.iter_mut().chain(&mut self.real_server_hosts) {
            if let Some(mut agent) = host.agent.take() {
                let _ = agent.kill();
                let _ = agent.wait();
            }
        }
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        if let Some((local, artifacts)) = &self.local_logs {
            copy_files(local.path(), artifacts);
        }
    }
}

/// Copies the files of `from` into `to`, reporting (not failing on) what cannot be copied.
fn copy_files(from: &Path, to: &Path) {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(error) => {
            eprintln!("cannot list the logs in {}: {error}", from.display());
            return;
        }
    };
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if let Err(error) = std::fs::copy(entry.path(), &target) {
            eprintln!("cannot copy a log to {}: {error}", target.display());
        }
    }
}

/// SIGTERM, then waits (up to 60 s, then SIGKILL and a failure) for the process to exit.
/// An agent finishes the pass it is in first, which on a large table under emulation takes
/// tens of seconds.
pub fn terminate(mut child: Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    kill(pid, Signal::SIGTERM).expect("send SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for a child").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {pid} ignored SIGTERM for 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON log lines (`--log-format json`) with this message, oldest first.
pub fn log_events(log: &Path, message: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", log.display()))
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["fields"]["message"] == message)
        .collect()
}
