//! The release `lvs-server` as a process of its own, as the API and metrics benchmarks
//! run it, and the admin API token they authenticate with.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::Result;

/// An admin API token, from `lvs-server tokens add` beside the running server: every
/// request of the benchmark is authenticated, as in production.
pub fn api_token(data: &std::path::Path) -> Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_lvs-server"))
        .env("LVS_DATA_DIR", data)
        .args([
            "tokens",
            "add",
            "bench",
            "--service-account",
            "bench",
            "--role",
            "admin",
        ])
        .output()?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned().into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The release server binary, on its own data directory.
pub struct Server {
    child: Child,
    pub address: String,
}

/// A benchmark that fails half-way leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    pub fn start(data: &std::path::Path) -> Result<Server> {
        Server::start_with(data, &[])
    }

    /// A server with these environment variables (`LVS_*` options) set.
    pub fn start_with(data: &std::path::Path, env: &[(&str, &str)]) -> Result<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lvs-server"))
            .envs(env.iter().copied())
            .env("LVS_LISTEN", "127.0.0.1:0")
            .env("LVS_DATA_DIR", data)
            .env("LVS_LOG", "warn,lvs_server=info")
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines.next().ok_or("the server exited before listening")??;
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, address })
    }

    pub fn peak_rss_mb(&self) -> Result<f64> {
        self.rss_mb("VmHWM")
    }

    /// A memory figure of `/proc/<pid>/status` (`VmHWM`: the peak, `VmRSS`: now), in MB.
    pub fn rss_mb(&self, field: &str) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no {field} in /proc"))?;
        Ok(kb / 1024.0)
    }

    pub fn stop(&mut self) -> Result<()> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("the server exited with {status}").into());
        }
        Ok(())
    }
}
