//! The IPVS benchmark, run inside the guest by `cargo xtask bench ipvs` (it needs a kernel
//! with IPVS and root). For each table size: bulk load with the library and with
//! `ipvsadm -R`, a full dump with the library and with `ipvsadm -Ln`, and a single weight
//! edit on that table and on a table of one service. Every measurement runs in a fresh
//! network namespace, so each starts from an empty table.
//!
//! Usage: `bench [SERVICES...]` (default `1000 5000`), 10 destinations per service.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use lvs_ipvs::{
    Command, Destination, ForwardMethod, Ipvs, Protocol, Scheduler, Service, ServiceKey,
};
use nix::sched::{unshare, CloneFlags};

const DESTS: usize = 10;
const EDITS: u32 = 100;
/// Rounds of `EDITS` edits on each table, taking turns.
const ROUNDS: usize = 11;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a service count"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 5000]
    } else {
        sizes
    };
    let mut failed = false;
    for services in sizes {
        failed |= !bench(services);
    }
    if failed {
        println!("RESULT: some goals missed");
        std::process::exit(1);
    }
    println!("RESULT: all goals met");
}

fn bench(services: usize) -> bool {
    println!(
        "== {services} services x {DESTS} destinations ({} rules)",
        services * (DESTS + 1)
    );
    let commands = rules(services);

    // Bulk load with ipvsadm -R, then its listing.
    let mut ipvs = fresh_director();
    let text = restore_text(&commands);
    let restore = time(|| ipvsadm_restore(&text));
    let ipvsadm_list = time(|| {
        let out = Process::new("ipvsadm")
            .args(["-L", "-n"])
            .stdout(Stdio::null())
            .status();
        assert!(out.expect("ipvsadm -Ln").success());
    });
    assert_eq!(
        ipvs.services().expect("dump").len(),
        services,
        "ipvsadm -R loaded everything"
    );

    // Bulk load with the library, then its dump and edits, in a new empty namespace.
    let mut ipvs = fresh_director();
    let mut report = None;
    let load = time(|| report = Some(ipvs.apply(&commands).expect("batch")));
    let report = report.expect("report");
    assert!(
        report.is_ok(),
        "bulk load failed: {:?}",
        report.failures().next()
    );
    let mut table = Vec::new();
    let dump = time(|| table = ipvs.table().expect("dump"));
    assert_eq!(table.len(), services);
    assert_eq!(
        table.iter().map(|e| e.destinations.len()).sum::<usize>(),
        services * DESTS
    );
    let mut small = fresh_director();
    let first: Vec<Command> = commands.iter().take(1 + DESTS).cloned().collect();
    assert!(small.apply(&first).expect("small load").is_ok());
    // Emulation speed drifts, so the two tables take turns and each round is compared with
    // its neighbour; the median round is the figure.
    let mut rounds: Vec<(Duration, Duration)> = (0..ROUNDS)
        .map(|_| {
            (
                edit_time(&mut ipvs, &commands),
                edit_time(&mut small, &first),
            )
        })
        .collect();
    rounds.sort_by(|a, b| {
        let ratio = |(full, empty): &(Duration, Duration)| full.as_secs_f64() / empty.as_secs_f64();
        ratio(a).total_cmp(&ratio(b))
    });
    let (edit_full, edit_empty) = rounds[rounds.len() / 2];

    let load_ratio = restore.as_secs_f64() / load.as_secs_f64();
    let dump_ratio = dump.as_secs_f64() / ipvsadm_list.as_secs_f64();
    let edit_ratio = edit_full.as_secs_f64() / edit_empty.as_secs_f64();
    println!("bulk load   library {:>9.3} s   ipvsadm -R  {:>9.3} s   library is {load_ratio:.1}x faster (goal >= 5x)", load.as_secs_f64(), restore.as_secs_f64());
    println!("full dump   library {:>9.3} s   ipvsadm -Ln {:>9.3} s   library takes {dump_ratio:.2}x the time (goal <= 1x)", dump.as_secs_f64(), ipvsadm_list.as_secs_f64());
    println!("weight edit {services}-service table {:>9.1} us   1-service table {:>9.1} us   ratio {edit_ratio:.2} (goal <= 1.2)", micros(edit_full), micros(edit_empty));
    load_ratio >= 5.0 && dump_ratio <= 1.0 && edit_ratio <= 1.2
}

/// Average time of one destination weight edit (the last service's first destination).
fn edit_time(ipvs: &mut Ipvs, commands: &[Command]) -> Duration {
    let Some(Command::AddDestination(key, dest)) = commands
        .iter()
        .rev()
        .find(|c| matches!(c, Command::AddDestination(..)))
    else {
        panic!("no destination to edit");
    };
    let (key, mut dest) = (*key, *dest);
    let start = Instant::now();
    for i in 0..EDITS {
        dest.weight = 1 + i % 100;
        ipvs.edit_destination(&key, &dest).expect("weight edit");
    }
    start.elapsed() / EDITS
}

/// `services` TCP services on 10.0.0.1, each with `DESTS` NAT destinations.
fn rules(services: usize) -> Vec<Command> {
    let mut commands = Vec::with_capacity(services * (DESTS + 1));
    for s in 0..services {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, (s / 250) as u8, (s % 250 + 1) as u8)),
            port: 80,
        };
        commands.push(Command::AddService(Service::new(
            key,
            Scheduler::WeightedRoundRobin,
        )));
        for d in 0..DESTS {
            let addr = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(10, 100, d as u8, (s % 250 + 1) as u8)),
                8080,
            );
            let mut dest = Destination::new(addr, ForwardMethod::Masq);
            dest.weight = 1 + d as u32;
            commands.push(Command::AddDestination(key, dest));
        }
    }
    commands
}

/// The same rules as `ipvsadm -R` input.
fn restore_text(commands: &[Command]) -> String {
    let mut text = String::new();
    for command in commands {
        match command {
            Command::AddService(svc) => {
                writeln!(text, "-A -t {} -s {}", vip(&svc.key), svc.scheduler).expect("write");
            }
            Command::AddDestination(key, d) => {
                writeln!(text, "-a -t {} -r {} -m -w {}", vip(key), d.addr, d.weight)
                    .expect("write");
            }
            _ => {}
        }
    }
    text
}

fn vip(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Inet { addr, port, .. } => format!("{addr}:{port}"),
        ServiceKey::Fwmark { .. } => unreachable!("only inet services here"),
    }
}

/// A new empty network namespace for this thread, with an address for NAT destinations.
fn fresh_director() -> Ipvs {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    for args in [
        &["link", "set", "lo", "up"][..],
        &["link", "add", "d0", "type", "dummy"],
        &["link", "set", "d0", "up"],
        &["addr", "add", "10.255.0.1/16", "dev", "d0"],
    ] {
        assert!(Process::new("ip")
            .args(args)
            .status()
            .expect("ip")
            .success());
    }
    Ipvs::connect().expect("IPVS must be reachable")
}

fn ipvsadm_restore(text: &str) {
    let mut child = Process::new("ipvsadm")
        .arg("-R")
        .stdin(Stdio::piped())
        .spawn()
        .expect("ipvsadm -R");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write rules");
    assert!(child.wait().expect("wait").success(), "ipvsadm -R failed");
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
