//! The installed daemons tried as their units run them: the server serving as its user, and
//! the agent's user doing, with only its unit's capabilities, what the agent does to a host.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::cmd::output;

const SERVER_STATE: &str = "/var/lib/lvs-server";

/// Where systemd runs, the postinst started `lvs-server.service`: it must be active and
/// answer `/healthz`. Elsewhere (CI's containers) the server is started as the unit would
/// start it: as `lvs-fleet`, in its state directory, umask 077, no capabilities; it must
/// answer, write its files there privately, and stop cleanly on SIGTERM.
pub fn server() -> Result<()> {
    if Path::new("/run/systemd/system").exists() {
        let state = output(Command::new("systemctl").args(["is-active", "lvs-server"]))?;
        ensure!(state == "active", "lvs-server.service is {state}");
        wait_healthy("127.0.0.1:8080", None)?;
        eprintln!("dist: lvs-server.service is active and answers /healthz");
        return Ok(());
    }
    eprintln!("dist: systemd is not running here: lvs-server runs as its unit would run it");
    let address = format!(
        "127.0.0.1:{}",
        TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()
    );
    let mut server = Command::new("sh")
        .args([
            "-c",
            "umask 077 && exec setpriv --reuid=lvs-fleet --regid=lvs-fleet --clear-groups \
             --inh-caps=-all --bounding-set=-all /usr/bin/lvs-server --listen \"$1\"",
            "sh",
            &address,
        ])
        .current_dir(SERVER_STATE)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LVS_DATA_DIR", SERVER_STATE)
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start /usr/bin/lvs-server")?;
    let served = wait_healthy(&address, Some(&mut server)).and_then(|()| {
        for file in ["fleet.db", "initial-admin-password"] {
            let path = format!("{SERVER_STATE}/{file}");
            let stat = output(Command::new("stat").args(["-c", "%U %a", &path]))?;
            ensure!(
                stat == "lvs-fleet 600",
                "{path} is {stat}, not lvs-fleet 600"
            );
        }
        Ok(())
    });
    let stopped = stop(&mut server);
    served?;
    stopped?;
    eprintln!("dist: lvs-server served as lvs-fleet and stopped cleanly on SIGTERM");
    Ok(())
}

/// As `lvs-agent` with exactly the capabilities of its installed unit's
/// `AmbientCapabilities=`, in network and UTS namespaces of their own (nothing of this
/// machine changes): a net sysctl is written and a link brought up and a VIP added over
/// rtnetlink, while a kernel sysctl stays refused; without the capabilities the same net
/// sysctl is refused too, so the check shows the capabilities are what makes it work.
pub fn agent_capabilities() -> Result<()> {
    let unit = std::fs::read_to_string("/lib/systemd/system/lvs-agent.service")
        .context("cannot read the installed lvs-agent.service")?;
    let granted = unit
        .lines()
        .find_map(|line| line.strip_prefix("AmbientCapabilities="))
        .context("lvs-agent.service sets no AmbientCapabilities=")?;
    let caps: Vec<String> = granted
        .split_whitespace()
        .map(|cap| format!("+{}", cap.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let caps = caps.join(",");
    let as_agent = |caps: &str, script: &str| {
        Command::new("unshare")
            .args(["--net", "--uts", "--", "setpriv", "--reuid=lvs-agent"])
            .args(["--regid=lvs-agent", "--clear-groups"])
            .arg(format!("--inh-caps=-all{caps}"))
            .arg(format!("--ambient-caps=-all{caps}"))
            .arg(format!("--bounding-set=-all{caps}"))
            .args(["sh", "-euc", script])
            .stdin(Stdio::null())
            .output()
    };
    let with = as_agent(
        &format!(",{caps}"),
        "echo 1 > /proc/sys/net/ipv4/conf/lo/arp_ignore
         test \"$(cat /proc/sys/net/ipv4/conf/lo/arp_ignore)\" = 1
         ip link set lo up
         ip address add 192.0.2.1/32 dev lo
         if echo x > /proc/sys/kernel/domainname 2>/dev/null; then exit 3; fi",
    )
    .context("cannot run unshare/setpriv")?;
    ensure!(
        with.status.success(),
        "as lvs-agent with {granted} the host changes failed ({}): {}",
        with.status,
        String::from_utf8_lossy(&with.stderr).trim()
    );
    let without = as_agent(
        "",
        "echo 1 > /proc/sys/net/ipv4/conf/lo/arp_ignore 2>/dev/null",
    )
    .context("cannot run unshare/setpriv")?;
    ensure!(
        !without.status.success(),
        "as lvs-agent without capabilities a net sysctl could be written: the check proves nothing"
    );
    eprintln!(
        "dist: as lvs-agent with {granted} only: net sysctl written, lo up with a VIP, \
         kernel sysctl refused; without them the net sysctl is refused"
    );
    Ok(())
}

/// Waits up to 20 s for `GET /healthz` to answer 200; fails early if `server` exits.
fn wait_healthy(address: &str, mut server: Option<&mut Child>) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match healthz(address) {
            Ok(status) if status.starts_with("HTTP/1.1 200") => return Ok(()),
            answer if Instant::now() >= deadline => {
                bail!("http://{address}/healthz did not answer 200 within 20 s: {answer:?}")
            }
            _ => {}
        }
        if let Some(server) = server.as_deref_mut() {
            if let Some(status) = server.try_wait()? {
                bail!("lvs-server exited with {status} before it answered");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The status line of `GET /healthz`.
fn healthz(address: &str) -> Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

/// SIGTERM, as systemd stops it; it must exit 0 within 10 s (or is killed and fails).
fn stop(server: &mut Child) -> Result<()> {
    crate::cmd::run(Command::new("kill").args(["-TERM", &server.id().to_string()]))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait()? {
            ensure!(
                status.success(),
                "lvs-server exited with {status} on SIGTERM"
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill()?;
    server.wait()?;
    bail!("lvs-server did not stop within 10 s of SIGTERM")
}
