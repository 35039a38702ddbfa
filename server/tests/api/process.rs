//! The `lvs-server` binary itself: configuration from the environment, logs, and a
//! graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lvs-server");
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `lvs-server` and its JSON log lines.
struct Process {
    child: Child,
    addr: SocketAddr,
    logs: mpsc::Receiver<String>,
    seen: Vec<Value>,
    /// An admin API token, issued by `lvs-server tokens add` while the server runs.
    token: String,
}

impl Process {
    /// Starts the binary with nothing but `LVS_*` variables in its environment.
    fn start(data_dir: &Path, extra: &[(&str, &str)]) -> Process {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("LVS_LISTEN", "127.0.0.1:0")
            .env("LVS_DATA_DIR", data_dir)
            .env("LVS_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start lvs-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Process {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            logs,
            seen: Vec::new(),
            token: String::new(),
        };
        let line = process.wait_for_log("listening on ");
        let message = line["fields"]["message"].as_str().expect("a message");
        let address = message
            .strip_prefix("listening on http://")
            .or_else(|| message.strip_prefix("listening on https://"))
            .expect("the listening line");
        process.addr = address.parse().expect("a socket address");
        assert_ne!(process.addr.port(), 0, "the bound port is logged");
        process.token = issue_token(data_dir, extra);
        process
    }

    /// Waits for a log line whose message contains `text`; every line must be JSON.
    fn wait_for_log(&mut self, text: &str) -> Value {
        if let Some(line) = self.seen.iter().find(|l| message(l).contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .logs
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no log line with {text:?} ({e}); saw {:?}", self.seen));
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            assert!(value["level"].is_string(), "a level: {line}");
            assert!(value["timestamp"].is_string(), "a timestamp: {line}");
            self.seen.push(value.clone());
            if message(&value).contains(text) {
                return value;
            }
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "lvs-server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request on its own connection; returns the status and body.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {}\r\n",
            self.token
        );
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        stream.write_all(request.as_bytes()).expect("send");
        response(&mut stream)
    }
}

/// An admin token from `lvs-server tokens add`, run beside the server on its database, as
/// a setup script would.
fn issue_token(data_dir: &Path, extra: &[(&str, &str)]) -> String {
    // Unique per start: a restart on the same database issues another.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("tests-{}-{nanos}", std::process::id());
    let mut command = Command::new(BIN);
    command.env_clear().env("LVS_DATA_DIR", data_dir).args([
        "tokens",
        "add",
        &name,
        "--service-account",
        "tests",
        "--role",
        "admin",
    ]);
    for (key, value) in extra.iter().filter(|(k, _)| *k == "LVS_DATABASE_URL") {
        command.env(key, value);
    }
    let output = command.output().expect("run lvs-server tokens add");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tokens add: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = stdout.trim().to_owned();
    assert!(
        token.starts_with("lvst_"),
        "only the token on stdout: {stdout}"
    );
    token
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or("")
}

/// Reads a whole HTTP/1.1 response from a connection the server closes after it.
fn response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("a response");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {raw:?}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn starts_from_the_environment_and_creates_its_data_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("var").join("lvs-fleet");
    assert!(!data.exists());
    let mut server = Process::start(&data, &[]);
    assert!(data.is_dir(), "the data directory is created");
    assert!(data.join("fleet.db").is_file(), "the database is created");

    assert_eq!(server.request("GET", "/readyz", None).0, 200);
    let (status, body) = server.request("POST", "/api/v1/clusters", Some(r#"{"name":"web"}"#));
    assert_eq!(status, 201, "{body}");
    let listening = server.wait_for_log("listening on http://");
    assert!(listening["fields"]["database"]
        .as_str()
        .is_some_and(|d| d.ends_with("fleet.db")));

    server.terminate();
    assert_eq!(server.wait_for_exit().code(), Some(0));
    server.wait_for_log("SIGTERM received");
    server.wait_for_log("stopped");

    // The next start finds the same database.
    let server = Process::start(&data, &[]);
    let (status, body) = server.request("GET", "/api/v1/clusters/web", None);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn help_lists_every_option() {
    let output = Command::new(BIN)
        .arg("--help")
        .env_clear()
        .output()
        .expect("run lvs-server --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8");
    for option in [
        "--listen",
        "--database-url",
        "--data-dir",
        "--log-format",
        "--log ",
        "--max-body-bytes",
        "LVS_LISTEN",
        "LVS_DATABASE_URL",
        "LVS_DATA_DIR",
        "LVS_LOG_FORMAT",
        "LVS_LOG=]",
        "LVS_MAX_BODY_BYTES",
        "--tls-cert",
        "--tls-key",
        "LVS_TLS_CERT",
        "LVS_TLS_KEY",
        "--help",
        "--version",
    ] {
        assert!(help.contains(option), "--help mentions {option}:\n{help}");
    }

    let output = Command::new(BIN)
        .arg("--no-such-option")
        .env_clear()
        .output()
        .expect("run lvs-server");
    assert!(!output.status.success());
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Debug logs of tower-http say when a request has reached the router.
    let mut server = Process::start(dir.path(), &[("LVS_LOG", "info,tower_http=debug")]);

    let body = br#"{"name": "graceful", "description": "sent in two halves"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let headers = format!(
        "POST /api/v1/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        server.token,
        body.len()
    );
    stream.write_all(headers.as_bytes()).expect("send headers");
    stream.write_all(first).expect("send half the body");
    stream.flush().expect("flush");
    server.wait_for_log("started processing request");

    server.terminate();
    server.wait_for_log("SIGTERM received");
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "the server waits for the request in flight"
    );
    stream.write_all(rest).expect("send the rest of the body");
    let (status, answer) = response(&mut stream);
    assert_eq!(status, 201, "{answer}");
    let created: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(created["name"], "graceful");

    let exit = server.wait_for_exit();
    assert!(exit.success(), "exit status {exit}");
    assert_eq!(exit.code(), Some(0));
    server.wait_for_log("stopped");
    let refused = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5));
    assert!(refused.is_err(), "no connections after shutdown");

    // What the request wrote was committed.
    let server = Process::start(dir.path(), &[]);
    let (status, answer) = server.request("GET", "/api/v1/clusters/graceful", None);
    assert_eq!(status, 200, "{answer}");
}

/// Starts the binary expecting it to refuse: returns its exit status and error output.
fn refused_start(
    data_dir: &Path,
    extra: &[(&str, &str)],
    user: Option<u32>,
) -> (ExitStatus, String) {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("LVS_LISTEN", "127.0.0.1:0")
        .env("LVS_DATA_DIR", data_dir)
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(uid) = user {
        std::os::unix::process::CommandExt::uid(&mut command, uid);
    }
    let mut child = command.spawn().expect("start lvs-server");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read its errors");
    let status = child.wait().expect("wait");
    assert!(
        !stderr.contains("listening on"),
        "a server that cannot work must not listen: {stderr}"
    );
    (status, stderr)
}

/// A database made by a server that stopped, with its WAL folded into the file.
fn stopped_database(data: &Path) -> std::path::PathBuf {
    let mut server = Process::start(data, &[]);
    let (status, body) = server.request("POST", "/api/v1/clusters", Some(r#"{"name":"web"}"#));
    assert_eq!(status, 201, "{body}");
    server.terminate();
    assert_eq!(server.wait_for_exit().code(), Some(0));
    let file = data.join("fleet.db");
    let checkpoint = Command::new("sqlite3")
        .arg(&file)
        .arg("PRAGMA wal_checkpoint(TRUNCATE);")
        .output()
        .expect("run sqlite3");
    assert!(checkpoint.status.success(), "{checkpoint:?}");
    file
}

#[test]
fn a_database_opened_read_only_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = stopped_database(dir.path());
    let url = format!("sqlite://{}?mode=ro", file.display());
    let (status, errors) = refused_start(dir.path(), &[("LVS_DATABASE_URL", &url)], None);
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(errors.contains("cannot be written"), "{errors}");
    assert!(
        errors.contains(&file.display().to_string()),
        "names the file: {errors}"
    );
}

#[test]
fn a_database_file_the_server_may_not_write_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = stopped_database(dir.path());
    let read_only = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    read_only(&file, 0o444);
    read_only(dir.path(), 0o555);
    // Root writes whatever the mode says: then the server runs as nobody, as it would under
    // a service manager's own user.
    let user = rustix::process::geteuid().is_root().then_some(65534);
    let (status, errors) = refused_start(dir.path(), &[], user);
    read_only(dir.path(), 0o755);
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(errors.contains("cannot be written"), "{errors}");
}

#[test]
fn a_damaged_database_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = stopped_database(dir.path());
    // The first page of the clusters table, overwritten as a failing disk would leave it.
    let query = Command::new("sqlite3")
        .arg(&file)
        .arg("SELECT rootpage FROM sqlite_schema WHERE name = 'clusters'; PRAGMA page_size;")
        .output()
        .expect("run sqlite3");
    let text = String::from_utf8(query.stdout).expect("UTF-8");
    let numbers: Vec<u64> = text.lines().map(|l| l.parse().expect("a number")).collect();
    let [page, page_size] = numbers[..] else {
        panic!("rootpage and page size: {text}")
    };
    let mut bytes = std::fs::read(&file).expect("read the database");
    let start = usize::try_from((page - 1) * page_size).expect("an offset");
    bytes[start..start + 64].fill(0xa5);
    std::fs::write(&file, bytes).expect("damage the database");

    let (status, errors) = refused_start(dir.path(), &[], None);
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(errors.contains("damaged"), "{errors}");
}

/// Setup scripts start the server and run `users`/`tokens` commands at once: each process
/// opens (and migrates) the new database, and none may fail because another was opening it.
#[test]
fn processes_opening_a_new_database_at_once_all_start() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Command::new(BIN)
            .env_clear()
            .env("LVS_DATA_DIR", dir.path())
            .env("LVS_LISTEN", format!("127.0.0.1:{port}"))
            .env("LVS_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lvs-server");
        let commands: Vec<Child> = (0..4)
            .map(|_| {
                Command::new(BIN)
                    .args(["tokens", "list"])
                    .env_clear()
                    .env("LVS_DATA_DIR", dir.path())
                    .env("LVS_LOG_FORMAT", "json")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run lvs-server tokens list")
            })
            .collect();
        for command in commands {
            let output = command.wait_with_output().expect("lvs-server tokens list");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.try_wait() {
                let mut errors = String::new();
                server
                    .stderr
                    .take()
                    .map(|mut e| e.read_to_string(&mut errors));
                panic!("the server exited ({status}): {errors}");
            }
            assert!(Instant::now() < deadline, "the server listens");
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// `lvs-server users ...` on `data_dir`'s database, `stdin` as its input: exit success,
/// standard output, standard error.
fn users(data_dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("users")
        .args(args)
        .env_clear()
        .env("LVS_DATA_DIR", data_dir)
        .env("LVS_LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lvs-server users");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("lvs-server users");
    (
        output.status.success(),
        String::from_utf8(output.stdout).expect("UTF-8"),
        String::from_utf8(output.stderr).expect("UTF-8"),
    )
}

/// The stored password hash of `name`, read from the database file.
fn stored_hash(data_dir: &Path, name: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", data_dir.join("fleet.db").display());
        let db = lvs_server::db::Db::open(&url).await.expect("the database");
        let user = lvs_server::db::users::get(&mut db.read().await.expect("a reader"), name)
            .await
            .expect("a read")
            .expect("the user");
        db.close().await;
        user.password_hash
    })
}

fn verifies(password: &str, hash: &str) -> bool {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(lvs_server::edit::passwords::verify(
            password.to_owned(),
            hash.to_owned(),
        ))
        .expect("a hash")
}

#[test]
fn the_first_start_adds_an_admin_whose_password_only_its_file_holds() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    let mut server = Process::start(&data, &[]);
    let line = server.wait_for_log("no user existed: added user admin");
    let file = data.join("initial-admin-password");
    assert_eq!(
        line["fields"]["password_file"].as_str(),
        Some(file.display().to_string().as_str())
    );
    let mode = std::fs::metadata(&file)
        .expect("the file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "readable by the server's user only");
    let password = std::fs::read_to_string(&file).expect("the password");
    let password = password.trim_end();
    assert!(
        !server.seen.iter().any(|l| l.to_string().contains(password)),
        "the password is never logged"
    );
    assert!(verifies(password, &stored_hash(&data, "admin")));
    drop(server);

    // A database with users gets no new admin, and the file is left alone.
    let written = std::fs::read_to_string(&file).expect("the password");
    let mut server = Process::start(&data, &[]);
    server.wait_for_log("listening on");
    assert!(!server
        .seen
        .iter()
        .any(|l| message(l).contains("no user existed")));
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), written);
}

#[test]
fn users_are_added_given_passwords_listed_and_removed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    // A running server, whose cluster an operator is granted: the commands share its file.
    let server = Process::start(&data, &[]);
    let (status, body) = server.request("POST", "/api/v1/clusters", Some(r#"{"name":"web"}"#));
    assert_eq!(status, 201, "{body}");

    let (ok, out, err) = users(
        &data,
        &[
            "add",
            "alice",
            "--role",
            "operator",
            "--cluster",
            "web",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(ok, "{out}{err}");
    assert_eq!(out, "added user alice (operator)\n");
    assert!(verifies(
        "correct horse battery",
        &stored_hash(&data, "alice")
    ));

    // Generated, printed once.
    let (ok, out, err) = users(&data, &["add", "bob"], "");
    assert!(ok, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the generated password");
    assert!(verifies(password, &stored_hash(&data, "bob")));

    let (ok, out, err) = users(
        &data,
        &["passwd", "bob", "--password-stdin"],
        "a new long passphrase\n",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "changed the password of user bob\n");
    assert!(verifies(
        "a new long passphrase",
        &stored_hash(&data, "bob")
    ));
    assert!(!verifies(password, &stored_hash(&data, "bob")));

    let (ok, out, _) = users(&data, &["list"], "");
    assert!(ok);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "ROLE", "CLUSTERS"],
            vec!["admin", "admin", "(all)"],
            vec!["alice", "operator", "web"],
            vec!["bob", "viewer", "(all)"],
        ]
    );

    // Each refusal names what is wrong, and changes nothing.
    for (args, stdin, says) in [
        (
            &["add", "carol", "--password-stdin"][..],
            "short\n",
            "password: must be at least 12 characters",
        ),
        (
            &["add", "Carol!"][..],
            "",
            "name: may contain only lowercase letters",
        ),
        (&["add", "alice"][..], "", "user alice already exists"),
        (
            &["add", "dave", "--cluster", "web"][..],
            "",
            "clusters: only operators are granted clusters",
        ),
        (
            &["add", "erin", "--role", "operator", "--cluster", "nope"][..],
            "",
            "cluster nope does not exist",
        ),
        (
            &["add", "frank", "--role", "root"][..],
            "",
            "expected viewer, operator or admin",
        ),
        (&["passwd", "nobody"][..], "", "user nobody does not exist"),
        (&["remove", "admin"][..], "", "user admin is the last admin"),
    ] {
        let (ok, out, err) = users(&data, args, stdin);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (_, out, _) = users(&data, &["list"], "");
    assert_eq!(out.lines().count(), 4, "{out}");

    let (ok, out, err) = users(&data, &["remove", "alice"], "");
    assert!(ok, "{err}");
    assert_eq!(out, "removed user alice\n");
    let (_, out, _) = users(&data, &["list"], "");
    assert!(!out.contains("alice"), "{out}");
    drop(server);
}

#[test]
fn with_a_certificate_it_serves_https_and_reloads_it_on_sighup() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = lvs_testkit::tls::TestCa::new();
    let pair = ca.write_pair(dir.path(), "server", &["127.0.0.1".to_owned()]);
    let (cert, key) = (
        pair.cert.display().to_string(),
        pair.key.display().to_string(),
    );
    let mut server = Process::start(
        dir.path(),
        &[("LVS_TLS_CERT", &cert), ("LVS_TLS_KEY", &key)],
    );
    server.wait_for_log("listening on https://");

    let pid = server.pid();
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP");
    };
    // The files have not changed: only the signal reloads them.
    hangup();
    let reloaded = server.wait_for_log("TLS certificate and key reloaded");
    assert_eq!(reloaded["fields"]["reason"], "SIGHUP");

    std::fs::write(&pair.key, "not a key").expect("break the key");
    hangup();
    let refused = server.wait_for_log("cannot reload the TLS certificate and key");
    let error = refused["fields"]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&format!("--tls-key {key}: ")), "{error}");
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "still serving"
    );
    server.terminate();
    assert_eq!(server.wait_for_exit().code(), Some(0));
}

#[test]
fn a_certificate_without_its_key_or_that_cannot_be_read_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (status, errors) = refused_start(dir.path(), &[("LVS_TLS_CERT", "/x.pem")], None);
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(errors.contains("--tls-cert needs --tls-key"), "{errors}");
    let (status, errors) = refused_start(dir.path(), &[("LVS_TLS_KEY", "/x.key")], None);
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(errors.contains("--tls-key needs --tls-cert"), "{errors}");

    let missing = dir.path().join("missing.pem");
    let missing = missing.display().to_string();
    let (status, errors) = refused_start(
        dir.path(),
        &[("LVS_TLS_CERT", &missing), ("LVS_TLS_KEY", "/x.key")],
        None,
    );
    assert_eq!(status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(&format!("--tls-cert {missing}: cannot read it")),
        "{errors}"
    );
}
