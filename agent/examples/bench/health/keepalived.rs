//! Debian's keepalived, its checker alone (`--check`), in a director namespace.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lvs_testkit::Netns;

/// keepalived's parent and checker processes; stopped when dropped.
pub struct Keepalived {
    child: Child,
    checker_pid_file: PathBuf,
}

impl Keepalived {
    /// Starts keepalived with `conf`; its files go to `dir`.
    pub fn start(ns: &Netns, dir: &Path, conf: &str) -> Keepalived {
        let file = dir.join("keepalived.conf");
        std::fs::write(&file, conf).unwrap();
        let checker_pid_file = dir.join("checkers.pid");
        let _ = std::fs::remove_file(&checker_pid_file);
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join("keepalived.log"))
            .unwrap();
        let child = ns.enter(|| {
            Command::new("keepalived")
                .args(["--dont-fork", "--check", "--use-file"])
                .arg(&file)
                .arg("--pid")
                .arg(dir.join("keepalived.pid"))
                .arg("--checkers_pid")
                .arg(&checker_pid_file)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("keepalived (Debian package keepalived) runs")
        });
        Keepalived {
            child,
            checker_pid_file,
        }
    }

    /// The parent, and the checker once it has started.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        if let Some(pid) = std::fs::read_to_string(&self.checker_pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            pids.push(pid);
        }
        pids
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        // SIGTERM: keepalived stops its checker child and clears its table.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}
