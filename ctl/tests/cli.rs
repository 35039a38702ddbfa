//! `lvsctl` as scripts run it: the real binary against the real server (in this process,
//! on a fresh SQLite file), with agents played by the test through the agent API.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use lvs_testkit::server::{client_with_token, InProcessServer};
use serde_json::{json, Value};

struct Fleet {
    server: InProcessServer,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

/// What one run of `lvsctl` did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().expect("lvsctl exits, not killed"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8"),
        }
    }
}

impl Fleet {
    async fn start() -> Fleet {
        let server = InProcessServer::start(Default::default()).await;
        let http = client_with_token(&server.admin_token)
            .build()
            .expect("a client");
        Fleet {
            server,
            http,
            dir: tempfile::tempdir().expect("a directory"),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lvsctl"));
        command
            .args(args)
            .env("LVS_SERVER", self.server.base())
            .env("LVS_API_TOKEN", &self.server.admin_token)
            .kill_on_drop(true);
        command
    }

    async fn lvsctl(&self, args: &[&str]) -> Run {
        self.command(args)
            .output()
            .await
            .expect("lvsctl runs")
            .into()
    }

    async fn lvsctl_stdin(&self, args: &[&str], input: &str) -> Run {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("lvsctl starts");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write stdin");
        drop(stdin);
        child.wait_with_output().await.expect("lvsctl runs").into()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write the file");
        path.display().to_string()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.base()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn cluster(&self, name: &str) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/clusters",
            Some(json!({"name": name, "timeouts": {"tcp": 900}})),
        )
        .await;
    }

    /// A director and its agent's token.
    async fn director(&self, cluster: &str, name: &str) -> String {
        let path = format!("/api/v1/clusters/{cluster}/directors");
        self.call(reqwest::Method::POST, &path, Some(json!({"name": name})))
            .await;
        let token = self
            .call(reqwest::Method::POST, &format!("{path}/{name}/token"), None)
            .await;
        token["token"].as_str().expect("a token").to_owned()
    }

    async fn agent_post(&self, path: &str, token: &str, body: &Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.server.base()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// The agent's report of applying `generation`, with an error for each of `failed`.
    async fn report(&self, token: &str, generation: u64, failed: &[&str]) {
        let outcomes: Vec<Value> = failed
            .iter()
            .map(|object| json!({"object": object, "action": "add", "error": "File exists (EEXIST)"}))
            .collect();
        let report = json!({"applied_generation": generation, "outcomes": outcomes,
                            "agent_version": "0.1.0", "kernel_version": "6.1.0-test"});
        self.agent_post("/api/v1/agent/report", token, &report)
            .await;
    }

    async fn generation(&self, cluster: &str) -> u64 {
        self.get(&format!("/api/v1/clusters/{cluster}")).await["generation"]
            .as_u64()
            .expect("a generation")
    }

    /// Waits until the cluster reaches `generation` (a command running beside the test
    /// committed it).
    async fn until_generation(&self, cluster: &str, generation: u64) {
        for _ in 0..200 {
            if self.generation(cluster).await >= generation {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("cluster {cluster} never reached generation {generation}");
    }
}

const WEB: &str = r#"{"cluster": "web", "timeouts": {"tcp": 900}, "services": [
  {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
   "real_servers": [
     {"address": "10.1.0.11", "port": 8080, "forwarding": "masq"},
     {"address": "10.1.0.12", "port": 8080, "forwarding": "masq", "weight": 2},
     {"address": "10.1.0.12", "port": 8081, "forwarding": "masq"}]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_shows_the_plan_then_applies_it_and_diff_says_what_differs() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    let file = fleet.file("web.json", WEB);

    let diff = fleet.lvsctl(&["diff", "-f", &file]).await;
    diff.expect(8);
    assert!(
        diff.stdout.contains("+ service tcp:192.0.2.10:80\n"),
        "{}",
        diff.stdout
    );
    assert!(diff
        .stdout
        .contains("    + real server 10.1.0.12:8080 masq weight 2\n"));
    assert!(
        diff.stdout.contains("Plan: 1 service to add"),
        "{}",
        diff.stdout
    );

    fleet
        .lvsctl(&["apply", "-f", &file, "--dry-run"])
        .await
        .expect(0);
    assert_eq!(
        fleet.generation("web").await,
        0,
        "a dry run changes nothing"
    );

    let applied = fleet.lvsctl(&["apply", "-f", &file]).await;
    applied.expect(0);
    assert!(
        applied
            .stderr
            .contains("applied as generation 1 of cluster web"),
        "{}",
        applied.stderr
    );
    let no_change = fleet.lvsctl(&["diff", "-f", &file]).await;
    no_change.expect(0);
    assert!(
        no_change.stdout.contains("No changes"),
        "{}",
        no_change.stdout
    );

    // YAML, from standard input, for another cluster than the one it names.
    fleet.cluster("web2").await;
    let yaml = WEB.replace("\"weight\": 2", "\"weight\": 4");
    let yaml = serde_yaml::to_string(&serde_json::from_str::<Value>(&yaml).unwrap()).unwrap();
    let piped = fleet
        .lvsctl_stdin(
            &["apply", "-f", "-", "--cluster", "web2", "-o", "json"],
            &yaml,
        )
        .await;
    piped.expect(0);
    let plan: Value = serde_json::from_str(&piped.stdout).expect("the plan as JSON");
    assert_eq!(plan["summary"]["real_servers_added"], 3, "{plan}");
    let changed = fleet
        .lvsctl_stdin(&["apply", "-f", "-", "--cluster", "web"], &yaml)
        .await;
    changed.expect(0);
    assert!(
        changed
            .stdout
            .contains("~ real server 10.1.0.12:8080: weight 2 → 4\n"),
        "{}",
        changed.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_have_their_own_exit_codes_and_name_the_reason() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    let invalid = fleet.file("bad.json", &WEB.replace("\"port\": 80", "\"port\": 80000"));
    let run = fleet.lvsctl(&["apply", "-f", &invalid]).await;
    run.expect(3);
    assert!(run.stderr.contains("services[0].port"), "{}", run.stderr);

    let stale = fleet.file(
        "stale.json",
        &WEB.replace("\"timeouts\"", "\"generation\": 0, \"timeouts\""),
    );
    fleet.lvsctl(&["apply", "-f", &stale]).await.expect(0);
    let run = fleet.lvsctl(&["apply", "-f", &stale]).await;
    run.expect(4);
    assert!(run.stderr.contains("generation"), "{}", run.stderr);

    let not_a_document = fleet.file("notes.txt", "just: [words");
    let run = fleet.lvsctl(&["apply", "-f", &not_a_document]).await;
    run.expect(3);
    assert!(
        run.stderr
            .contains("notes.txt: not a desired-state document"),
        "{}",
        run.stderr
    );

    let run = fleet
        .lvsctl(&["apply", "-f", &stale, "--cluster", "nope"])
        .await;
    run.expect(9);
    let anonymous = fleet
        .command(&["get", "clusters"])
        .env_remove("LVS_API_TOKEN")
        .output()
        .await
        .expect("lvsctl runs");
    Run::from(anonymous).expect(7);
    let run = fleet
        .lvsctl(&["get", "clusters", "--server", "ftp://x"])
        .await;
    run.expect(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_when_every_director_applied_and_says_who_did_not() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    let lb1 = fleet.director("web", "lb1").await;
    let lb2 = fleet.director("web", "lb2").await;
    let file = fleet.file("web.json", WEB);

    let waiting = fleet
        .command(&["apply", "-f", &file, "--wait", "--timeout", "30s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lvsctl starts");
    fleet.until_generation("web", 1).await;
    fleet.report(&lb1, 1, &[]).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    fleet.report(&lb2, 1, &[]).await;
    let run = Run::from(waiting.wait_with_output().await.expect("lvsctl ends"));
    run.expect(0);
    assert!(
        run.stderr
            .contains("generation 1: 0 of 2 directors applied; lb1: never seen; lb2: never seen"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("generation 1: 2 of 2 directors applied\n"),
        "{}",
        run.stderr
    );

    // Nobody applies the next change.
    let run = fleet
        .lvsctl(&[
            "weight",
            "web",
            "tcp:192.0.2.10:80",
            "10.1.0.11",
            "9",
            "--wait",
            "--timeout",
            "1s",
        ])
        .await;
    run.expect(5);
    assert!(
        run.stderr.contains("timed out after 1s waiting for generation 2: 0 of 2 directors applied; lb1: at generation 1; lb2: at generation 1"),
        "{}",
        run.stderr
    );

    // One director fails a change.
    let waiting = fleet
        .command(&[
            "drain",
            "web",
            "tcp:192.0.2.10:80",
            "10.1.0.11:8080",
            "--wait",
            "--timeout",
            "30s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lvsctl starts");
    fleet.until_generation("web", 3).await;
    fleet
        .report(
            &lb1,
            3,
            &["real server 10.1.0.11:8080 of tcp:192.0.2.10:80"],
        )
        .await;
    fleet.report(&lb2, 3, &[]).await;
    let run = Run::from(waiting.wait_with_output().await.expect("lvsctl ends"));
    run.expect(6);
    assert!(
        run.stderr.contains("1 of 2 directors reported errors applying generation 3:\n  lb1:\n    add real server 10.1.0.11:8080 of tcp:192.0.2.10:80: File exists (EEXIST)"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_restore_and_weight_find_the_real_server_by_its_key() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    fleet
        .lvsctl(&["apply", "-f", &fleet.file("web.json", WEB)])
        .await
        .expect(0);
    let state = |fleet: &Fleet| {
        let base = fleet.server.base();
        let http = fleet.http.clone();
        async move {
            let document: Value = http
                .get(format!("{base}/api/v1/clusters/web/desired-state"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            document["services"][0]["real_servers"][0].clone()
        }
    };
    let run = fleet
        .lvsctl(&["drain", "web", "tcp:192.0.2.10:80", "10.1.0.11"])
        .await;
    run.expect(0);
    assert!(
        run.stdout.contains(
            "real server 10.1.0.11:8080 of tcp:192.0.2.10:80 drained (cluster web at generation 2)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(state(&fleet).await["state"], "drained");
    fleet
        .lvsctl(&["restore", "web", "tcp:192.0.2.10:80", "10.1.0.11:8080"])
        .await
        .expect(0);
    assert_eq!(state(&fleet).await["state"], "active");
    fleet
        .lvsctl(&["weight", "web", "tcp:192.0.2.10:80", "10.1.0.11", "7"])
        .await
        .expect(0);
    assert_eq!(state(&fleet).await["weight"], 7);

    let run = fleet
        .lvsctl(&["drain", "web", "tcp:192.0.2.10:80", "10.1.0.12"])
        .await;
    run.expect(2);
    assert!(
        run.stderr.contains("10.1.0.12:8080, 10.1.0.12:8081"),
        "{}",
        run.stderr
    );
    fleet
        .lvsctl(&["drain", "web", "tcp:192.0.2.10:80", "10.1.0.99"])
        .await
        .expect(9);
    fleet
        .lvsctl(&["drain", "web", "udp:192.0.2.10:80", "10.1.0.11"])
        .await
        .expect(9);
    fleet
        .lvsctl(&["drain", "web", "192.0.2.10:80", "10.1.0.11"])
        .await
        .expect(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_status_show_the_cluster_with_live_connections() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    let lb1 = fleet.director("web", "lb1").await;
    fleet
        .lvsctl(&["apply", "-f", &fleet.file("web.json", WEB)])
        .await
        .expect(0);
    fleet.report(&lb1, 1, &[]).await;
    let counters =
        json!({"connections": 9, "packets_in": 1, "packets_out": 1, "bytes_in": 1, "bytes_out": 1});
    let stats = json!({"services": [{"key": "tcp:192.0.2.10:80", "counters": counters, "rates": counters,
        "real_servers": [{"key": "10.1.0.11:8080", "active_connections": 3, "inactive_connections": 5,
                          "persistent_connections": 0, "counters": counters, "rates": counters}]}]});
    fleet.agent_post("/api/v1/agent/stats", &lb1, &stats).await;

    let run = fleet.lvsctl(&["get", "clusters"]).await;
    run.expect(0);
    assert!(
        run.stdout.starts_with("NAME  GENERATION  UPDATED"),
        "{}",
        run.stdout
    );
    let run = fleet
        .lvsctl(&["get", "real-servers", "web", "tcp:192.0.2.10:80"])
        .await;
    run.expect(0);
    assert!(
        run.stdout
            .contains("tcp:192.0.2.10:80  10.1.0.12:8081  masq        1       active"),
        "{}",
        run.stdout
    );
    let run = fleet
        .lvsctl(&["get", "services", "web", "-o", "json"])
        .await;
    let services: Value = serde_json::from_str(&run.expect(0).stdout).expect("JSON");
    assert_eq!(services[0]["scheduler"], "wrr");
    let run = fleet.lvsctl(&["get", "changes", "web", "-o", "yaml"]).await;
    let changes: Value = serde_yaml::from_str(&run.expect(0).stdout).expect("YAML");
    assert_eq!(changes[0]["generation"], 1);
    let run = fleet.lvsctl(&["get", "directors", "web"]).await;
    assert!(
        run.expect(0).stdout.contains("lb1       in sync  1"),
        "{}",
        run.stdout
    );

    let run = fleet.lvsctl(&["status"]).await;
    assert!(
        run.expect(0)
            .stdout
            .contains("web      1           lb1       in sync  1"),
        "{}",
        run.stdout
    );
    let run = fleet.lvsctl(&["status", "web"]).await;
    run.expect(0);
    assert!(
        run.stdout
            .contains("Desired table of web, generation 1 (connections from lb1)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("TCP  192.0.2.10:80 wrr\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  -> 10.1.0.11:8080               Masq    1      3          5\n"),
        "{}",
        run.stdout
    );
    let run = fleet.lvsctl(&["status", "web", "-o", "json"]).await;
    let status: Value = serde_json::from_str(&run.expect(0).stdout).expect("JSON");
    assert_eq!(
        status["services"][0]["real_servers"][0]["active_connections"],
        3
    );
    fleet
        .lvsctl(&["status", "web", "--director", "lb9"])
        .await
        .expect(9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_a_cluster_replaces_services_and_keeps_what_the_input_does_not_say() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    let rules = "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.1.0.11:80 -g -w 1\n";
    let run = fleet
        .lvsctl_stdin(&["import", "ipvsadm", "-", "--cluster", "web"], rules)
        .await;
    run.expect(0);
    assert!(
        run.stdout.contains("+ service tcp:192.0.2.10:80"),
        "{}",
        run.stdout
    );
    let cluster = fleet.get("/api/v1/clusters/web").await;
    assert_eq!(
        cluster["timeouts"]["tcp"], 900,
        "ipvsadm -S has no timeouts: kept"
    );
    let document = fleet.get("/api/v1/clusters/web/desired-state").await;
    assert_eq!(
        document["services"][0]["real_servers"][0]["forwarding"],
        "route"
    );

    let conf = fleet.file(
        "keepalived.conf",
        "virtual_server 192.0.2.20 53 {\n  protocol UDP\n  lb_algo rr\n  quorum 1\n  \
         real_server 10.1.0.21 53 {\n  }\n}\n",
    );
    let run = fleet.lvsctl(&["import", "keepalived", &conf]).await;
    run.expect(0);
    assert!(
        run.stderr
            .contains("keepalived.conf: line 4: quorum: not translated"),
        "{}",
        run.stderr
    );
    let document: Value = serde_json::from_str(&run.stdout).expect("a JSON document");
    assert_eq!(document["services"][0]["protocol"], "udp");
    assert_eq!(
        document["timeouts"],
        json!({"tcp": null, "tcpfin": null, "udp": null})
    );
    fleet
        .lvsctl(&["import", "keepalived", &conf, "--strict"])
        .await
        .expect(3);
    let broken = fleet.file("broken.conf", "virtual_server 1.2.3.4 80 {\n");
    let run = fleet.lvsctl(&["import", "keepalived", &broken]).await;
    run.expect(3);
    assert!(
        run.stderr
            .contains("line 1: the block opened here is not closed"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_each_format_and_a_json_export_applies_back_unchanged() {
    let fleet = Fleet::start().await;
    fleet.cluster("web").await;
    fleet
        .lvsctl(&["apply", "-f", &fleet.file("web.json", WEB)])
        .await
        .expect(0);
    let run = fleet
        .lvsctl(&["export", "web", "--format", "ipvsadm"])
        .await;
    assert_eq!(
        run.expect(0).stdout,
        "--set 900 0 0\n\
         -A -t 192.0.2.10:80 -s wrr\n\
         -a -t 192.0.2.10:80 -r 10.1.0.11:8080 -m -w 1\n\
         -a -t 192.0.2.10:80 -r 10.1.0.12:8080 -m -w 2\n\
         -a -t 192.0.2.10:80 -r 10.1.0.12:8081 -m -w 1\n"
    );
    assert_eq!(run.stderr, "", "nothing left out");
    let run = fleet
        .lvsctl(&["export", "web", "--format", "keepalived"])
        .await;
    assert!(
        run.expect(0)
            .stdout
            .contains("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    lvs_sched wrr\n"),
        "{}",
        run.stdout
    );
    let run = fleet.lvsctl(&["export", "web"]).await;
    let exported = fleet.file("export.json", &run.expect(0).stdout);
    let document: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        document.get("generation"),
        None,
        "an export applies at any generation"
    );
    fleet
        .lvsctl(&["weight", "web", "tcp:192.0.2.10:80", "10.1.0.11", "5"])
        .await
        .expect(0);
    let run = fleet.lvsctl(&["diff", "-f", &exported]).await;
    run.expect(8);
    assert!(
        run.stdout
            .contains("~ real server 10.1.0.11:8080: weight 5 → 1"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn completions_and_man_pages_come_from_the_command_line() {
    let fleet = Fleet::start().await;
    let run = fleet.lvsctl(&["completions", "bash"]).await;
    assert!(run.expect(0).stdout.contains("_lvsctl()"), "{}", run.stdout);
    let dir = fleet.dir.path().join("man");
    fleet
        .lvsctl(&["man", "--out-dir", &dir.display().to_string()])
        .await
        .expect(0);
    let page = std::fs::read_to_string(dir.join("lvsctl.1")).expect("lvsctl.1");
    assert!(
        page.contains("Exit codes"),
        "the exit codes are in the man page"
    );
    assert!(Path::new(&dir.join("lvsctl-apply.1")).is_file());
}
