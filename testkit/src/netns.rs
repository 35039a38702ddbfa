//! Network namespaces: IPVS tables are per namespace, so each one is an independent
//! director.

use std::fs::File;
use std::os::fd::AsRawFd;

use nix::sched::{setns, unshare, CloneFlags};

use crate::command::{add_addr, ip_batch, run};

/// Moves the calling thread into a new network namespace with `lo` up. IPVS tables are per
/// namespace, so each test gets a director of its own; programs started from this thread
/// afterwards run in it too.
pub fn fresh_netns() {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    run("ip", &["link", "set", "lo", "up"]);
}

/// A fresh namespace set up as a director: a dummy interface `d0` holding 10.0.0.254/24 and
/// 2001:db8::fe/64, since IPVS refuses NAT destinations on a director without a usable
/// address.
pub fn director_netns() {
    fresh_netns();
    run("ip", &["link", "add", "d0", "type", "dummy"]);
    run("ip", &["link", "set", "d0", "up"]);
    run("ip", &["addr", "add", "10.0.0.254/24", "dev", "d0"]);
    run(
        "ip",
        &["-6", "addr", "add", "2001:db8::fe/64", "dev", "d0", "nodad"],
    );
}

/// A network namespace kept alive by an open descriptor, which other threads can enter.
#[derive(Debug)]
pub struct Netns(File);

impl Netns {
    /// A new namespace with `lo` up.
    pub fn new() -> Netns {
        std::thread::spawn(|| {
            fresh_netns();
            Netns::current()
        })
        .join()
        .expect("the namespace thread panicked")
    }

    /// The calling thread's namespace.
    pub fn current() -> Netns {
        Netns(File::open("/proc/thread-self/ns/net").expect("open /proc/thread-self/ns/net"))
    }

    /// A path to this namespace usable by `ip ... netns PATH`.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.0.as_raw_fd())
    }

    /// Moves the calling thread into this namespace for good.
    pub fn join(&self) {
        setns(&self.0, CloneFlags::CLONE_NEWNET).expect("setns(CLONE_NEWNET)");
    }

    /// Runs `f` on a thread inside this namespace (processes it spawns and sockets it opens
    /// stay there).
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.join();
                    f()
                })
                .join()
                .expect("a thread in another namespace panicked")
        })
    }

    /// `ipvsadm -Sn` in this namespace.
    pub fn rules(&self) -> String {
        self.enter(|| run("ipvsadm", &["-Sn"]))
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

/// A veth pair: `a_name` with `a_cidr` in `a`, `b_name` with `b_cidr` in `b`, both up.
pub fn veth(a: &Netns, a_name: &str, a_cidr: &str, b: &Netns, b_name: &str, b_cidr: &str) {
    let b_path = b.path();
    a.enter(|| {
        ip_batch(&format!(
            "link add {a_name} type veth peer name {b_name} netns {b_path}\n\
             addr add {a_cidr} dev {a_name}\n\
             link set {a_name} up\n"
        ));
    });
    b.enter(|| {
        ip_batch(&format!(
            "addr add {b_cidr} dev {b_name}\nlink set {b_name} up\n"
        ));
    });
}

/// A bridge `name`, up, in `ns`: one L2 segment, for labs whose hosts share one.
pub fn bridge(ns: &Netns, name: &str) {
    ns.enter(|| {
        ip_batch(&format!(
            "link add {name} type bridge\nlink set {name} up\n"
        ));
    });
}

/// A veth pair from bridge `bridge` in `segment` (port `port`) to `host`, where it is
/// `dev`, up, holding `cidr`.
pub fn bridge_port(segment: &Netns, bridge: &str, port: &str, host: &Netns, dev: &str, cidr: &str) {
    let host_path = host.path();
    segment.enter(|| {
        ip_batch(&format!(
            "link add {port} type veth peer name {dev} netns {host_path}\n\
             link set {port} master {bridge}\n\
             link set {port} up\n"
        ));
    });
    host.enter(|| ip_batch(&format!("addr add {cidr} dev {dev}\nlink set {dev} up\n")));
}

/// The calling thread's id, which `ip link set DEV netns ID` takes to mean that thread's
/// namespace.
pub fn thread_id() -> String {
    nix::unistd::gettid().to_string()
}

/// A veth pair from the calling thread's namespace to that of thread `peer` (a
/// [`thread_id`]): `name` here, up and holding `cidr`; `peer_name` moved there, for that
/// thread to set up with [`veth_peer_end`].
pub fn veth_to_thread(name: &str, cidr: &str, peer_name: &str, peer: &str) {
    run(
        "ip",
        &[
            "link", "add", name, "type", "veth", "peer", "name", peer_name,
        ],
    );
    run("ip", &["link", "set", peer_name, "netns", peer]);
    add_addr(cidr, name);
    run("ip", &["link", "set", name, "up"]);
}

/// The far end `dev` of a [`veth_to_thread`] pair, from its own thread: up, holding `cidr`,
/// and the default route through `gateway`, the near end.
pub fn veth_peer_end(dev: &str, cidr: &str, gateway: &str) {
    run("ip", &["link", "set", dev, "up"]);
    add_addr(cidr, dev);
    run("ip", &["route", "add", "default", "via", gateway]);
}
