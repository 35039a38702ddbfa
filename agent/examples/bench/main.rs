//! The agent benchmark, run inside the guest by `cargo xtask bench agent` (it needs a
//! kernel with IPVS and root), in one boot:
//!
//! (a) propagation from an API change to every director's kernel, with 10 and 50 agents;
//! (b) the agent's cost of one weight change on a 5,000-service table against a
//!     10-service one;
//! (c) an agent restart against a matching 5,000-service table.
//!
//! Prints every figure with its goal and exits non-zero when a goal is missed (or, by
//! panicking, when something fails). Emulation makes absolute times meaningless: the goals
//! are ratios or were set for this guest.
//!
//! Usage: `agent-bench --server PATH --agent PATH [--label NAME]`, release builds of
//! `lvs-server` and `lvs-agent`.

// A benchmark's setup fails loudly, like a test's.
#![allow(clippy::unwrap_used)]

mod apply_cost;
mod cpu;
mod figures;
mod health;
mod inside;
mod memory;
mod priority;
mod propagation;
mod restart;
mod tables;
mod threads;
mod watcher;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lvs_testkit::fleet::Binaries;

use crate::figures::Figures;

#[derive(Debug, Parser)]
struct Args {
    /// The `lvs-server` binary.
    #[arg(long)]
    server: PathBuf,
    /// The `lvs-agent` binary.
    #[arg(long)]
    agent: PathBuf,
    /// Only these parts (repeatable); all of them by default.
    #[arg(long, value_enum)]
    part: Vec<Part>,
    /// Which build this is, for the output (`cargo xtask bench agent --baseline`).
    #[arg(long)]
    label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Propagation,
    Apply,
    Restart,
    /// Health checks beside keepalived; only when asked for.
    Health,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let binaries = Binaries::copied(&args.server, &args.agent);
    let mut figures = Figures::default();
    let label = args.label.as_deref().unwrap_or("this build");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "== lvs-agent benchmark, {label}: {} (release binaries; {cpus} emulated CPU(s) shared \
         by the server and every agent: compare ratios)",
        args.agent.display()
    );
    let runs = |part| (args.part.is_empty() && part != Part::Health) || args.part.contains(&part);
    // Each part on a thread of its own: a fleet moves its thread into the hub namespace.
    if runs(Part::Propagation) {
        on_own_thread(|| propagation::measure(&binaries, &mut figures));
    }
    if runs(Part::Apply) {
        settle(&mut figures);
        apply_cost::measure(&mut figures);
    }
    if runs(Part::Restart) {
        settle(&mut figures);
        on_own_thread(|| restart::measure(&binaries, &mut figures));
    }
    if runs(Part::Health) {
        settle(&mut figures);
        on_own_thread(|| health::measure(&binaries, &mut figures));
    }
    figures.print();
    match figures.missed() {
        0 => {
            println!("RESULT: all goals met");
            ExitCode::SUCCESS
        }
        missed => {
            println!("RESULT: {missed} goal(s) missed");
            ExitCode::FAILURE
        }
    }
}

fn on_own_thread(part: impl FnOnce() + Send) {
    std::thread::scope(|scope| {
        scope
            .spawn(part)
            .join()
            .expect("a part of the benchmark failed");
    });
}

/// Waits for the guest to finish what the previous part left (namespaces being torn down).
fn settle(figures: &mut Figures) {
    let waited = cpu::settle(25.0, Duration::from_secs(300));
    figures.info(
        "waited for the guest's CPU to settle",
        figures::show(waited),
    );
}
