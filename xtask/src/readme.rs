//! The README's quick start, API tour and lvsctl block, run as they are written, so the
//! README cannot drift from the code: the first quick-start command must start a server that
//! answers, the tours must work against that server, and the second command is what `.ci/run`
//! runs.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::cmd::workspace_root;

/// How long the server command may take to answer: it compiles the release build first.
const START_PATIENCE: Duration = Duration::from_secs(30 * 60);
/// How long the server may take to stop after SIGTERM.
const STOP_PATIENCE: Duration = Duration::from_secs(30);
/// The address the README's tour speaks to; the check points it at the server it started.
const TOUR_ADDRESS: &str = "http://127.0.0.1:8080";

/// The two commands of the README's quick start.
#[derive(Debug, PartialEq, Eq)]
pub struct QuickStart {
    /// Runs the server with every default.
    pub server: String,
    /// Runs every test; `.ci/run` runs it.
    pub test: String,
}

/// Starts the README's server command as written (on a free port, in a scratch data
/// directory), checks that it answers `/healthz` and `/`, runs the API tour against it and
/// checks what the tour made, then stops it with SIGTERM and checks that it exits cleanly.
pub fn check() -> Result<()> {
    crate::apt::ensure(&[("curl", "curl"), ("jq", "jq")])?;
    let readme =
        fs::read_to_string(workspace_root().join("README.md")).context("reading README.md")?;
    let commands = quick_start(&readme)?;
    ensure!(
        commands.test == "cargo xtask test",
        "README.md's test command is {:?}; `.ci/run` runs it, and it must run this check",
        commands.test
    );
    let tour = tour(&readme)?;

    let scratch = workspace_root().join("target/readme-check");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).context("removing the previous README check")?;
    }
    fs::create_dir_all(&scratch).context("creating target/readme-check")?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    eprintln!("$ {} (LVS_LISTEN=127.0.0.1:{port})", commands.server);
    let mut server = Server(
        Command::new("bash")
            .arg("-c")
            .arg(&commands.server)
            .current_dir(workspace_root())
            .env("LVS_LISTEN", format!("127.0.0.1:{port}"))
            .env("LVS_DATA_DIR", scratch.join("data"))
            .stdin(Stdio::null())
            // Its own process group, so that SIGTERM reaches the server whatever the shell
            // and cargo do with it.
            .process_group(0)
            .spawn()
            .context("starting the README's server command")?,
    );

    wait_until_ready(&mut server.0, &format!("{base}/healthz"))?;
    let home = get(&format!("{base}/login"), None)?;
    ensure!(
        home.status == 200 && home.body.contains("LVS Fleet"),
        "GET /login answered {} without the product name",
        home.status
    );

    let tour_dir = scratch.join("tour");
    fs::create_dir_all(&tour_dir)?;
    run_tour(&tour, &base, &tour_dir, &scratch.join("data"), None)?;
    let token = viewer_token(&scratch.join("data"))?;
    check_tour_result(&base, &token)?;
    // The lvsctl block continues from where the API tour left the server, with the lvsctl
    // `cargo test` builds (a release build of it would cost CI minutes and prove no more).
    crate::cmd::cargo(&["build", "--locked", "-p", "lvsctl"])?;
    let bin = scratch.join("bin");
    fs::create_dir_all(&bin)?;
    std::os::unix::fs::symlink(
        workspace_root().join("target/debug/lvsctl"),
        bin.join("lvsctl"),
    )
    .context("linking lvsctl into the tour's PATH")?;
    let lvsctl_tour = lvsctl_tour(&readme)?;
    run_tour(
        &lvsctl_tour,
        &base,
        &tour_dir,
        &scratch.join("data"),
        Some(&bin),
    )?;
    check_lvsctl_result(&base, &token)?;

    let status = server.stop()?;
    ensure!(
        status.success(),
        "the server exited with {status} after SIGTERM"
    );
    eprintln!("README quick start and tour: ok");
    Ok(())
}

/// The quick start's two commands: its first two `sh` blocks, one line each.
pub fn quick_start(readme: &str) -> Result<QuickStart> {
    let blocks = sh_blocks(&section(readme, "## Quick start")?);
    let [server, test] = blocks.as_slice() else {
        bail!(
            "README.md's quick start must have exactly two sh blocks (run the server, run every \
             test), not {}",
            blocks.len()
        );
    };
    let one_line = |block: &str, what: &str| -> Result<String> {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        match lines.as_slice() {
            [line] => Ok(line.trim().to_owned()),
            _ => bail!("README.md's {what} command must be one line, not {block:?}"),
        }
    };
    Ok(QuickStart {
        server: one_line(server, "server")?,
        test: one_line(test, "test")?,
    })
}

/// The API tour: the first `sh` block of its section.
fn tour(readme: &str) -> Result<String> {
    sh_blocks(&section(readme, "## A tour of the API")?)
        .into_iter()
        .next()
        .context("README.md's API tour has no sh block")
}

/// The lvsctl tour: the first `sh` block of its section.
fn lvsctl_tour(readme: &str) -> Result<String> {
    sh_blocks(&section(readme, "## The command line: lvsctl")?)
        .into_iter()
        .next()
        .context("README.md's lvsctl section has no sh block")
}

/// The lines from `heading` to the next heading of the same level.
fn section(readme: &str, heading: &str) -> Result<String> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != heading);
    ensure!(
        lines.next().is_some(),
        "README.md has no {heading:?} section"
    );
    Ok(lines
        .take_while(|l| !l.starts_with("## "))
        .map(|l| format!("{l}\n"))
        .collect())
}

/// The contents of the fenced code blocks marked `sh`.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The tour in bash with `-euo pipefail`, every curl failing on an HTTP error, against `base`.
/// With `bin`, its programs come first on the PATH.
fn run_tour(tour: &str, base: &str, dir: &Path, data_dir: &Path, bin: Option<&Path>) -> Result<()> {
    ensure!(
        tour.contains(TOUR_ADDRESS),
        "README.md's API tour no longer speaks to {TOUR_ADDRESS}"
    );
    let script = format!(
        "set -euo pipefail\ncurl() {{ command curl --fail-with-body \"$@\"; }}\n{}",
        tour.replace(TOUR_ADDRESS, base)
    );
    eprintln!("$ bash <README.md's API tour> (against {base})");
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        // `lvs-server tokens add` as the README runs it: the release build the quick start
        // made, on the server's data directory.
        .env("PATH", {
            let path = path_with(&workspace_root().join("target/release"));
            match bin {
                Some(bin) => format!("{}:{path}", bin.display()),
                None => path,
            }
        })
        .env("LVS_DATA_DIR", data_dir)
        .stdin(Stdio::null())
        .output()
        .context("running the API tour")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "README.md's API tour failed with {}:\n{stdout}\n{stderr}",
        output.status
    );
    Ok(())
}

/// `$PATH` with `dir` first.
fn path_with(dir: &Path) -> String {
    match std::env::var("PATH") {
        Ok(path) if !path.is_empty() => format!("{}:{path}", dir.display()),
        _ => dir.display().to_string(),
    }
}

/// What the tour built: one service with an HTTP health check whose second real server has
/// weight 3, restored, in a cluster whose TCP timeout is 900 s.
fn check_tour_result(base: &str, token: &str) -> Result<()> {
    let url = format!("{base}/api/v1/clusters/prod-web/desired-state");
    let answer = get(&url, Some(token))?;
    ensure!(answer.status == 200, "the tour's cluster: {}", answer.body);
    let document: Value = serde_json::from_str(&answer.body)?;
    ensure!(
        document["timeouts"]["tcp"] == 900,
        "the tour's cluster timeouts: {}",
        document["timeouts"]
    );
    let services = document["services"].as_array().context("services")?;
    ensure!(services.len() == 1, "the tour made one service: {document}");
    let weights: Vec<(String, i64, String)> = services[0]["real_servers"]
        .as_array()
        .context("real_servers")?
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or_default().to_owned(),
                r["weight"].as_i64().unwrap_or(-1),
                r["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ensure!(
        weights
            == [
                ("10.1.0.11".to_owned(), 1, "active".to_owned()),
                ("10.1.0.12".to_owned(), 3, "active".to_owned())
            ],
        "the tour's real servers (address, weight, state): {weights:?}"
    );
    let check = &services[0]["health_check"];
    ensure!(
        check["kind"] == "http" && check["path"] == "/healthz" && check["fall"] == 3,
        "the tour's health check: {check}"
    );
    Ok(())
}

/// What the lvsctl block did: the applied file's scheduler, the drained server restored, and
/// the imported rules in a cluster of their own, its timeouts kept.
fn check_lvsctl_result(base: &str, token: &str) -> Result<()> {
    let document = |cluster: &str| -> Result<Value> {
        let answer = get(
            &format!("{base}/api/v1/clusters/{cluster}/desired-state"),
            Some(token),
        )?;
        ensure!(answer.status == 200, "cluster {cluster}: {}", answer.body);
        Ok(serde_json::from_str(&answer.body)?)
    };
    let web = document("prod-web")?;
    let service = &web["services"][0];
    ensure!(
        service["scheduler"] == "wlc" && service["real_servers"][1]["state"] == "active",
        "prod-web after lvsctl: {service}"
    );
    let legacy = document("legacy")?;
    let services = legacy["services"].as_array().context("services")?;
    let keys: Vec<String> = services
        .iter()
        .map(|s| format!("{}:{}", s["address"], s["fwmark"]))
        .collect();
    ensure!(
        services.len() == 2 && legacy["timeouts"]["tcp"] == 900,
        "the imported cluster: {keys:?}, timeouts {}",
        legacy["timeouts"]
    );
    Ok(())
}

fn wait_until_ready(child: &mut Child, url: &str) -> Result<()> {
    let deadline = Instant::now() + START_PATIENCE;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the README's server command exited with {status} before answering");
        }
        if get(url, None).is_ok_and(|answer| answer.status == 200) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the README's server command did not answer {url} within {START_PATIENCE:?}"
        );
        sleep(Duration::from_millis(250));
    }
}

struct Answer {
    status: u16,
    body: String,
}

/// A viewer API token for the check's own reads.
fn viewer_token(data_dir: &Path) -> Result<String> {
    let output = Command::new(workspace_root().join("target/release/lvs-server"))
        .env("LVS_DATA_DIR", data_dir)
        .args([
            "tokens",
            "add",
            "readme-check",
            "--service-account",
            "readme-check",
        ])
        .output()
        .context("running lvs-server tokens add")?;
    ensure!(
        output.status.success(),
        "lvs-server tokens add: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn get(url: &str, token: Option<&str>) -> Result<Answer> {
    let mut command = Command::new("curl");
    if let Some(token) = token {
        command.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    let output = command
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", url])
        .stdin(Stdio::null())
        .output()
        .context("running curl")?;
    ensure!(
        output.status.success(),
        "curl {url} failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let (body, status) = text.rsplit_once('\n').context("curl printed no status")?;
    Ok(Answer {
        status: status.trim().parse().context("curl's status code")?,
        body: body.to_owned(),
    })
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The server's process group, sent SIGTERM when the check ends, however it ends.
struct Server(Child);

impl Server {
    fn stop(&mut self) -> Result<ExitStatus> {
        signal_group(self.0.id(), "TERM")?;
        let deadline = Instant::now() + STOP_PATIENCE;
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(status);
            }
            ensure!(
                Instant::now() < deadline,
                "the server did not stop within {STOP_PATIENCE:?} of SIGTERM"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = signal_group(self.0.id(), "KILL");
            let _ = self.0.wait();
        }
    }
}

fn signal_group(leader: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{leader}"))
        .status()
        .context("running kill")?;
    ensure!(status.success(), "kill -{signal} -{leader} failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_has_two_one_line_quick_start_commands() {
        let readme = fs::read_to_string(workspace_root().join("README.md")).expect("README");
        let commands = quick_start(&readme).expect("a quick start");
        assert_eq!(commands.server, "cargo run --release -p lvs-server");
        assert_eq!(commands.test, "cargo xtask test");
        assert!(tour(&readme).expect("a tour").contains("/desired-state"));
    }

    #[test]
    fn a_quick_start_with_a_third_block_or_a_second_line_is_refused() {
        let three = "## Quick start\n```sh\na\n```\n```sh\nb\n```\n```sh\nc\n```\n## Next\n";
        assert!(quick_start(three).is_err());
        let two_lines = "## Quick start\n```sh\na\nb\n```\n```sh\nc\n```\n";
        assert!(quick_start(two_lines).is_err());
        let later = "## Quick start\n```sh\na\n```\n## Next\n```sh\nb\n```\n";
        assert!(
            quick_start(later).is_err(),
            "blocks of the next section are not its own"
        );
    }
}
