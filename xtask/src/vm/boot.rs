//! Booting QEMU for one `GuestRun`: the run directory, the console stream and the timeout.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::script::{self, EXIT_CODES};
use super::{GuestOutcome, GuestRun};

const MEMORY: &str = "2G";
/// Quiet boot: kernel messages go to `kernel.log`, not between the test output lines. `panic=-1`
/// with `-no-reboot` turns a crashed init into QEMU exiting instead of hanging until the timeout.
const KERNEL_CMDLINE: &str = "console=ttyS0 quiet loglevel=3 panic=-1";
/// Old run directories kept for looking at after the fact.
const KEEP_RUNS: usize = 10;

/// Boots `kernel` with `initramfs` and runs `guest`, streaming its console to stdout.
pub fn run(qemu: &Path, kernel: &Path, initramfs: &Path, guest: &GuestRun) -> Result<GuestOutcome> {
    let run_dir = new_run_dir()?;
    let artifacts = run_dir.join("artifacts");
    fs::create_dir_all(&artifacts)
        .with_context(|| format!("cannot create {}", artifacts.display()))?;
    let run_path = run_dir
        .to_str()
        .context("the run directory's path is not UTF-8")?;
    fs::write(run_dir.join("run-dir"), run_path).context("cannot write the run directory")?;
    fs::write(
        run_dir.join("guest.sh"),
        script::guest_script(guest, &run_dir, &artifacts)?,
    )
    .context("cannot write the guest script")?;

    let qemu_log = run_dir.join("qemu.log");
    let mut command = qemu_command(qemu, kernel, initramfs, &run_dir, cpus(guest.cpus)?);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(
        File::create(&qemu_log).with_context(|| format!("cannot create {}", qemu_log.display()))?,
    );
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", qemu.display()))?;
    let stdout = child.stdout.take().context("qemu has no stdout")?;
    let console_log = run_dir.join("console.log");
    let console = File::create(&console_log)
        .with_context(|| format!("cannot create {}", console_log.display()))?;
    let reader = thread::spawn(move || stream_console(stdout, console, started));

    let status = wait(&mut child, guest.timeout);
    // The reader ends at QEMU's end of output, which a killed QEMU reaches too.
    let console = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the console reader panicked"))?;
    let total_time = started.elapsed();
    let logs = format!(
        "console log {}, kernel log {}, qemu log {}",
        console_log.display(),
        run_dir.join("kernel.log").display(),
        qemu_log.display()
    );
    let status = match status? {
        Some(status) => status.to_string(),
        None => format!("timed out after {} s", guest.timeout.as_secs()),
    };
    let Some(boot_time) = console.ready_after else {
        // QEMU's own complaints (a bad option, a missing file) explain an empty console.
        let qemu_said = fs::read_to_string(&qemu_log).unwrap_or_default();
        let said = [console.early.join("\n"), qemu_said].join("\n");
        bail!(
            "guest did not boot ({status}); it said:\n{}\n{logs}",
            said.trim()
        );
    };
    let exit_codes = read_exit_codes(&run_dir.join(EXIT_CODES))?;
    if exit_codes.len() != guest.commands.len() {
        bail!(
            "guest stopped after {} of {} commands ({status}); {logs}",
            exit_codes.len(),
            guest.commands.len()
        );
    }
    prune_runs(&run_dir);
    Ok(GuestOutcome {
        exit_codes,
        run_dir,
        artifacts,
        boot_time,
        total_time,
    })
}

fn qemu_command(
    qemu: &Path,
    kernel: &Path,
    initramfs: &Path,
    run_dir: &Path,
    cpus: u32,
) -> Command {
    // QEMU option values escape a comma by doubling it.
    let option_path = |path: &Path| path.to_string_lossy().replace(',', ",,");
    let mut command = Command::new(qemu);
    // KVM hangs with Debian's kernel on these machines; TCG with `-cpu max` works everywhere.
    command.args(["-accel", "tcg", "-cpu", "max", "-m", MEMORY]);
    command.arg("-smp").arg(cpus.to_string());
    command.args([
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
    ]);
    command
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initramfs);
    command.args(["-append", KERNEL_CMDLINE]);
    command.args([
        "-virtfs",
        "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
    ]);
    command.arg("-virtfs").arg(format!(
        "local,path={},mount_tag=out,security_model=none,multidevs=remap",
        option_path(run_dir)
    ));
    command
}

/// `LVS_VM_CPUS`, or the run's own count as far as the host has cores: under TCG each vCPU is
/// a host thread, and more of them than cores would only take turns.
fn cpus(wanted: u32) -> Result<u32> {
    match std::env::var("LVS_VM_CPUS") {
        Ok(cpus) => match cpus.parse() {
            Ok(cpus) if cpus > 0 => Ok(cpus),
            _ => bail!("LVS_VM_CPUS must be a positive number of vCPUs, not {cpus:?}"),
        },
        Err(_) => {
            let cores = thread::available_parallelism().map_or(1, |n| n.get());
            let cpus = wanted.min(u32::try_from(cores).unwrap_or(u32::MAX)).max(1);
            if cpus < wanted {
                eprintln!("vm: {cpus} vCPU(s), not {wanted}: the host has {cores} core(s)");
            }
            Ok(cpus)
        }
    }
}

/// What the console showed, beyond what was streamed.
struct Console {
    /// When init announced that the commands are about to start.
    ready_after: Option<Duration>,
    /// Everything before that, shown only when the guest never got there.
    early: Vec<String>,
    /// Whether the commands are over; the power-off message that follows is not shown.
    done: bool,
}

/// Copies QEMU's output to `log` and, once the guest is ready, to stdout line by line.
fn stream_console(stdout: impl Read, mut log: File, started: Instant) -> Console {
    let mut console = Console {
        ready_after: None,
        early: Vec::new(),
        done: false,
    };
    let mut lines = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return console,
            Ok(_) => {}
        }
        // Logging is best effort: a full disk must not stop the guest's output from streaming.
        let _ = log.write_all(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(marker) = text.strip_prefix("@@lvs-vm ") {
            match marker {
                "ready" => console.ready_after = Some(started.elapsed()),
                "done" => console.done = true,
                _ => {}
            }
        } else if console.ready_after.is_some() && !console.done {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        } else if console.ready_after.is_none() {
            console.early.push(text.to_owned());
        }
    }
}

/// Waits for QEMU to exit; `Ok(None)` when it had to be killed at `timeout`.
fn wait(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("cannot wait for qemu")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            child.kill().context("cannot kill qemu")?;
            child.wait().context("cannot wait for qemu")?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn read_exit_codes(path: &Path) -> Result<Vec<i32>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .map(|line| {
            line.trim()
                .parse()
                .with_context(|| format!("bad exit code {line:?} in {}", path.display()))
        })
        .collect()
}

/// `target/vm/run-<unix ms>-<pid>`: unique, and sorted oldest first by name.
fn new_run_dir() -> Result<PathBuf> {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|time| time.as_millis())
        .unwrap_or(0);
    let dir = super::vm_dir().join(format!("run-{millis:013}-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // An absolute path without symlinks, since the guest mounts it at exactly this path.
    fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Removes all but the newest `KEEP_RUNS` run directories; failures only cost disk space.
fn prune_runs(current: &Path) {
    let Some(parent) = current.parent() else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let mut runs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("run-"))
        })
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(KEEP_RUNS);
    for old in runs.into_iter().take(excess).filter(|old| old != current) {
        let _ = fs::remove_dir_all(old);
    }
}
