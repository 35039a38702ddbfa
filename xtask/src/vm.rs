//! Running commands inside a real Linux kernel with IPVS: Debian's stock kernel booted under QEMU.
//!
//! The host kernel has no IPVS, so everything that must talk to the kernel runs in a throwaway
//! guest. The guest boots a small busybox initramfs, loads the IPVS, tunnel and 9p modules, mounts
//! the host's `/` read-only over 9p and `chroot`s into it, so binaries built on the host (and the
//! host's `ipvsadm`, `ip`, `python3`) run unchanged at the same paths. A per-run directory under
//! `target/vm/` is shared writable at the same path, for exit codes, the kernel log and artifacts.
//!
//! `run` is the entry point for every command that needs the guest (`vm-test`, benchmarks, agent
//! end-to-end suites); `test` is `cargo xtask vm-test`. `LVS_VM_CPUS` overrides each run's vCPU
//! count.

mod boot;
mod cpio;
mod host;
mod initramfs;
mod kernel;
mod kernel_tests;
mod modules;
mod script;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

pub use kernel_tests::{test, VmTestArgs};

/// What to run in one guest boot: the commands run in order, as root in the guest's initial network
/// namespace, each whatever the previous one returned; their stdout and stderr are the console.
#[derive(Debug, Clone)]
pub struct GuestRun {
    pub commands: Vec<GuestCommand>,
    /// Variables set for every command, on top of a plain root environment (`PATH`, `HOME`, `TMPDIR`).
    pub env: Vec<(String, String)>,
    /// Boot plus all commands; QEMU is killed and the run fails when it runs out.
    pub timeout: Duration,
    /// Emulated CPUs, unless `LVS_VM_CPUS` says otherwise; never more than the host has.
    pub cpus: u32,
}

/// One program run inside the guest's `chroot` of the host, so host paths work as they are.
#[derive(Debug, Clone)]
pub struct GuestCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The working directory, a host path; the workspace root unless set.
    pub cwd: PathBuf,
}

/// What a guest run produced.
#[derive(Debug, Clone)]
pub struct GuestOutcome {
    /// One exit code per command, in order; a command killed by signal N reports 128 + N.
    pub exit_codes: Vec<i32>,
    /// The run's directory under `target/vm/`: `console.log`, `kernel.log`, and `artifacts/`.
    pub run_dir: PathBuf,
    /// Where commands may leave files for the host; also `$LVS_VM_ARTIFACTS` inside the guest.
    pub artifacts: PathBuf,
    /// From starting QEMU until the guest was ready to run the first command.
    pub boot_time: Duration,
    /// From starting QEMU until it exited.
    pub total_time: Duration,
}

impl GuestRun {
    /// The default budget for boot plus commands; emulation without KVM is slow.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
    /// Measured on these 2-core machines (busy with other builds): two vCPUs booted no faster
    /// and ran the same tests 1.5-2x slower under TCG.
    pub const DEFAULT_CPUS: u32 = 1;
}

impl GuestCommand {
    /// `program args..`, run from the workspace root.
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> GuestCommand {
        GuestCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: crate::cmd::workspace_root(),
        }
    }
}

impl GuestOutcome {
    /// Whether every command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_codes.iter().all(|&code| code == 0)
    }
}

/// Boots the guest, runs `guest.commands` in it with their output streamed live to stdout, and
/// reports their exit codes. Fails only when the guest itself fails (prerequisites, boot, timeout),
/// not when a command exits non-zero: check `GuestOutcome::success`.
pub fn run(guest: &GuestRun) -> Result<GuestOutcome> {
    let host = host::prepare()?;
    let kernel = kernel::image(&host);
    let initramfs = initramfs::build(&host)?;
    boot::run(&host.qemu, &kernel, &initramfs, guest)
}

/// `target/vm/`, where the initramfs and the per-run directories live.
fn vm_dir() -> PathBuf {
    crate::cmd::workspace_root().join("target").join("vm")
}
