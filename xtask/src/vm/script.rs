//! The shell script the guest runs in its chroot of the host: one `GuestRun`, spelled out.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};

use super::GuestRun;

/// Where the script records one exit code per line, relative to the run directory.
pub const EXIT_CODES: &str = "exit-codes";

/// `guest.sh` for `guest`, whose run directory is `run_dir` on both sides of the 9p share.
pub fn guest_script(guest: &GuestRun, run_dir: &Path, artifacts: &Path) -> Result<String> {
    let exit_codes = quote(&run_dir.join(EXIT_CODES).to_string_lossy());
    let mut script = String::from("#!/bin/sh\n# Written by `cargo xtask` for one guest run.\n");
    let defaults = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/root"),
        ("TMPDIR", "/tmp"),
        ("LVS_VM_ARTIFACTS", &artifacts.to_string_lossy()),
    ];
    let extra = guest
        .env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()));
    for (name, value) in defaults.into_iter().chain(extra) {
        if !is_variable_name(name) {
            bail!("not a valid environment variable name for the guest: {name:?}");
        }
        writeln!(script, "export {name}={}", quote(value))?;
    }
    writeln!(script, ": > {exit_codes}")?;
    for command in &guest.commands {
        let mut line = quote(&command.program.to_string_lossy());
        for arg in &command.args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        writeln!(script, "echo {}", quote(&format!("vm: $ {line}")))?;
        // A subshell, so a failing `cd` is that command's failure and the next one still runs.
        writeln!(
            script,
            "(cd {} && exec {line})",
            quote(&command.cwd.to_string_lossy())
        )?;
        writeln!(script, "echo $? >> {exit_codes}")?;
    }
    Ok(script)
}

/// Single quotes keep everything literal; a single quote itself is closed, escaped and reopened.
/// Plain words stay as they are, so the command lines the guest echoes read naturally.
fn quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::vm::GuestCommand;

    fn run(env: &[(&str, &str)]) -> GuestRun {
        let mut command = GuestCommand::new("/bin/echo", ["it's", "two words"]);
        command.cwd = "/work".into();
        GuestRun {
            commands: vec![command],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            timeout: Duration::from_secs(1),
            cpus: GuestRun::DEFAULT_CPUS,
        }
    }

    #[test]
    fn commands_are_quoted_and_report_exit_codes() {
        let script = guest_script(
            &run(&[("RUST_LOG", "debug"), ("EMPTY", "")]),
            Path::new("/r"),
            Path::new("/r/a"),
        )
        .unwrap();
        assert!(script.contains("export RUST_LOG=debug\n"));
        assert!(script.contains("export LVS_VM_ARTIFACTS=/r/a\n"));
        assert!(script.contains(r"(cd /work && exec /bin/echo 'it'\''s' 'two words')"));
        assert!(script.contains("echo $? >> /r/exit-codes\n"));
        assert!(script.contains("export EMPTY=''\n"));
    }

    #[test]
    fn bad_variable_names_are_refused() {
        assert!(guest_script(&run(&[("A B", "x")]), Path::new("/r"), Path::new("/r/a")).is_err());
        assert!(guest_script(&run(&[("1X", "x")]), Path::new("/r"), Path::new("/r/a")).is_err());
    }
}
