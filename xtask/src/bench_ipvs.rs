//! `cargo xtask bench ipvs`: the IPVS library against `ipvsadm`, inside the guest kernel.
//!
//! Builds `lvs-ipvs`'s `bench` example in release mode and runs it in one guest boot (see
//! `vm::run`). The example prints its own figures and ratios against the goals: bulk load
//! at least 5x faster than `ipvsadm -R`, a full dump no slower than `ipvsadm -Ln`, and a
//! weight edit on a 5,000-service table as fast as on a one-service table. Emulation makes
//! absolute times meaningless; the ratios come from the same guest run.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::vm::{self, GuestCommand, GuestRun};

/// Service counts to benchmark, each with 10 destinations.
const SIZES: [&str; 2] = ["1000", "5000"];

pub fn run() -> Result<()> {
    crate::cmd::cargo(&[
        "build",
        "--release",
        "--locked",
        "-p",
        "lvs-ipvs",
        "--example",
        "bench",
    ])?;
    let binary = crate::cmd::workspace_root().join("target/release/examples/bench");
    let guest = GuestRun {
        commands: vec![GuestCommand::new(binary, SIZES)],
        env: Vec::new(),
        timeout: Duration::from_secs(30 * 60),
        cpus: GuestRun::DEFAULT_CPUS,
    };
    let outcome = vm::run(&guest)?;
    if !outcome.success() {
        bail!(
            "the IPVS benchmark missed a goal or failed (exit codes {:?}); kernel log {}",
            outcome.exit_codes,
            outcome.run_dir.join("kernel.log").display()
        );
    }
    Ok(())
}
