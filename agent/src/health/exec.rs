//! `exec` checks: a program on the director, run without a shell, as an unprivileged user,
//! with the real server in its environment. The server sends the command; this host
//! decides what may run: only programs inside `--check-scripts-dir` (nothing without it)
//! that no one but their owner can change. Anything else is a refused check, never run.

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use lvs_model::ExecProbe;
use tokio::process::Command;

use super::Failure;

/// Which programs `exec` checks may run, and as whom.
#[derive(Debug, Clone, Default)]
pub struct ExecPolicy {
    /// The directory that holds the allowed programs; `None` allows none.
    pub scripts_dir: Option<PathBuf>,
    /// The user and group the programs run as, when the agent runs as root.
    pub run_as: Option<(u32, u32)>,
}

pub async fn run(
    policy: &ExecPolicy,
    program: &ExecProbe,
    target: SocketAddr,
) -> Result<(), Failure> {
    let path = policy
        .allowed(Path::new(&program.command))
        .map_err(Failure::NotRun)?;
    let mut command = Command::new(&path);
    command
        .args(&program.args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LVS_RS_ADDRESS", target.ip().to_string())
        .env("LVS_RS_PORT", target.port().to_string())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // The check's timeout drops this future: the program goes with it.
        .kill_on_drop(true);
    if let Some((uid, gid)) = policy.run_as {
        command.uid(uid).gid(gid);
    }
    let status = command
        .status()
        .await
        .map_err(|e| Failure::NotRun(format!("cannot start {}: {e}", path.display())))?;
    match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure::Exit(code)),
        (None, Some(signal)) => Err(Failure::Signal(signal)),
        (None, None) => Err(Failure::Io("the program ended without a status".into())),
    }
}

impl ExecPolicy {
    /// The program's real path if this host allows it, or why not.
    pub fn allowed(&self, command: &Path) -> Result<PathBuf, String> {
        let Some(dir) = &self.scripts_dir else {
            return Err("exec checks are off on this director (no --check-scripts-dir)".into());
        };
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("--check-scripts-dir {}: {e}", dir.display()))?;
        // Links resolved first, so a link inside the directory cannot lead out of it.
        let path = command
            .canonicalize()
            .map_err(|e| format!("{}: {e}", command.display()))?;
        if path.parent() != Some(dir.as_path()) {
            return Err(format!(
                "{} is not in {} (--check-scripts-dir)",
                path.display(),
                dir.display()
            ));
        }
        for (what, checked) in [("directory", dir.as_path()), ("program", path.as_path())] {
            let meta =
                std::fs::metadata(checked).map_err(|e| format!("{}: {e}", checked.display()))?;
            // Only the owner may change what runs, as keepalived's script security asks.
            if meta.mode() & 0o022 != 0 {
                return Err(format!(
                    "the {what} {} is writable by its group or others",
                    checked.display()
                ));
            }
            if what == "program" && (!meta.is_file() || meta.permissions().mode() & 0o111 == 0) {
                return Err(format!("{} is not an executable file", checked.display()));
            }
        }
        Ok(path)
    }
}
