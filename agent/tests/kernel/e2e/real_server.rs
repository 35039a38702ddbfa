//! The real-server role with real traffic: direct routing on one L2 segment (after a
//! negative control that shows the ARP problem it solves) and tunnels across routed
//! subnets. Each lab is only namespaces, links and "physical" addresses; the VIPs, ARP
//! settings, tunnel devices and reverse-path filtering are the agents' doing, configured
//! through the API.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use lvs_testkit::fleet::Fleet;
use lvs_testkit::{bridge, bridge_port, veth, Netns};
use serde_json::{json, Value};

use super::nat::{http_server_on, real_server_id, requests};
use super::{wait_rules, wait_until, CLUSTER};
use crate::run;

fn read_sysctl(ns: &Netns, name: &str) -> String {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    ns.enter(|| std::fs::read_to_string(&path).unwrap().trim().to_owned())
}

fn write_sysctl(ns: &Netns, name: &str, value: &str) {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    ns.enter(|| std::fs::write(&path, value).unwrap());
}

fn addresses(ns: &Netns, link: &str) -> String {
    ns.enter(|| run("ip", &["-o", "addr", "show", "dev", link]))
}

fn link_up(ns: &Netns, link: &str) -> bool {
    ns.enter(|| run("ip", &["-o", "link", "show", "dev", link]))
        .contains(",UP")
}

/// The link's MAC, as `ip` shows it (sysfs shows the namespace it was mounted in).
fn mac(ns: &Netns, link: &str) -> String {
    let shown = ns.enter(|| run("ip", &["-o", "link", "show", "dev", link]));
    shown
        .split_whitespace()
        .skip_while(|word| *word != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {shown:?}"))
        .to_owned()
}

/// The MAC the client's neighbour table holds for `ip`, after asking for it by opening
/// (and dropping) a connection to `ip:80`.
fn resolved_mac(client: &Netns, ip: &str) -> String {
    client.enter(|| {
        run("ip", &["neigh", "flush", "all"]);
        let target: SocketAddr = format!("{ip}:80").parse().unwrap();
        let _ = TcpStream::connect_timeout(&target, Duration::from_secs(2));
        let shown = run("ip", &["neigh", "show", ip]);
        shown
            .split_whitespace()
            .skip_while(|word| *word != "lladdr")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC for {ip}: {shown:?}"))
            .to_owned()
    })
}

/// Waits until real-server host `name` reports the state `state`; returns the host.
fn wait_host(fleet: &Fleet, name: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let host = fleet.call(
            "GET",
            &format!("/api/v1/real-server-hosts/{name}"),
            None,
            200,
        );
        if host["status"]["state"] == state {
            return host;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not {state} within 20 s: {host:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A service with two real servers of weights 1 and 2, each `(address, forwarding)`.
fn create_service(fleet: &Fleet, vip: &str, servers: &[(&str, Value); 2]) -> i64 {
    let real_servers: Vec<Value> = servers
        .iter()
        .zip([1, 2])
        .map(|((address, forwarding), weight)| {
            let mut server = json!({"address": address, "port": 80, "weight": weight});
            for (key, value) in forwarding.as_object().unwrap() {
                server[key] = value.clone();
            }
            server
        })
        .collect();
    let service = fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "protocol": "tcp", "address": vip, "port": 80, "scheduler": "wrr",
            "real_servers": real_servers
        })),
        201,
    );
    service["id"].as_i64().unwrap()
}

fn delete_service(fleet: &Fleet, id: i64) {
    let path = format!("/api/v1/clusters/{CLUSTER}/services/{id}");
    fleet.call("DELETE", &path, None, 204);
}

/// 300 requests, split about 100/200 by the weights (as in the NAT lab).
#[track_caller]
fn split_by_weight(client: &Netns, vip: &str) {
    let answers = requests(client, format!("{vip}:80").parse().unwrap(), 300);
    eprintln!("{vip}: weights 1 and 2: {answers:?}");
    let share = |name: &str| answers.get(name).copied().unwrap_or(0);
    assert_eq!(share("rs1") + share("rs2"), 300, "{answers:?}");
    assert!(share("rs1").abs_diff(100) <= 5, "{answers:?}");
    assert!(share("rs2").abs_diff(200) <= 10, "{answers:?}");
}

const DR_VIP: &str = "192.168.10.10";

/// Directors drain, and real servers keep a VIP no longer needed, for 2 s.
fn fleet(test: &str) -> Fleet {
    super::fleet_with(test, 1, &[("--drain-timeout", "2s")])
}

#[test]
fn direct_routing_real_servers_hold_the_vip_on_lo_and_leave_arp_to_the_director() {
    let mut fleet = fleet("real-server-dr");
    // One segment: the director 192.168.10.1, the client .100, the real servers .11, .12.
    let lan = Netns::new();
    bridge(&lan, "br0");
    let client = Netns::new();
    let rs = [Netns::new(), Netns::new()];
    let director = &fleet.directors[0].ns;
    bridge_port(&lan, "br0", "p-lb1", director, "lan0", "192.168.10.1/24");
    bridge_port(&lan, "br0", "p-cl", &client, "eth0", "192.168.10.100/24");
    bridge_port(&lan, "br0", "p-rs1", &rs[0], "eth0", "192.168.10.11/24");
    bridge_port(&lan, "br0", "p-rs2", &rs[1], "eth0", "192.168.10.12/24");
    http_server_on(&rs[0], "rs1", 80);
    http_server_on(&rs[1], "rs2", 80);
    let director_mac = mac(director, "lan0");
    let rs1_mac = mac(&rs[0], "eth0");

    // The negative control: a real server holding the VIP on lo as the host comes, ARP
    // unchanged, answers ARP for it, and the client sends it the VIP's traffic directly.
    let vip32 = format!("{DR_VIP}/32");
    rs[0].enter(|| run("ip", &["addr", "add", &vip32, "dev", "lo"]));
    assert_eq!(read_sysctl(&rs[0], "net.ipv4.conf.all.arp_ignore"), "0");
    assert_eq!(resolved_mac(&client, DR_VIP), rs1_mac, "the ARP problem");
    rs[0].enter(|| run("ip", &["addr", "del", &vip32, "dev", "lo"]));
    // An address of someone else's on lo, which the agent must leave alone.
    rs[1].enter(|| run("ip", &["addr", "add", "198.51.100.7/32", "dev", "lo"]));

    fleet.call(
        "PATCH",
        &fleet.cluster_path(""),
        Some(json!({"host": {"vips": {}}})),
        200,
    );
    let route = json!({"forwarding": "route"});
    let service = create_service(
        &fleet,
        DR_VIP,
        &[("192.168.10.11", route.clone()), ("192.168.10.12", route)],
    );
    let [rs1, rs2] = rs;
    fleet.add_real_server_host("rs1", rs1, &["192.168.10.11"]);
    fleet.add_real_server_host("rs2", rs2, &["192.168.10.12", "2001:db8:10::12"]);
    fleet.start_agents();
    fleet.start_real_server_agent(0);
    fleet.start_real_server_agent(1);
    wait_rules(
        &fleet.directors,
        "-A -t 192.168.10.10:80 -s wrr\n\
         -a -t 192.168.10.10:80 -r 192.168.10.11:80 -g -w 1\n\
         -a -t 192.168.10.10:80 -r 192.168.10.12:80 -g -w 2\n",
        Duration::from_secs(20),
    );
    for name in ["rs1", "rs2"] {
        let host = wait_host(&fleet, name, "prepared");
        assert_eq!(host["needs"]["vips"][0]["address"], DR_VIP, "{host:#}");
        assert_eq!(host["needs"]["vips"][0]["arrival"], "route", "{host:#}");
        assert_eq!(host["status"]["errors"], json!([]), "{host:#}");
    }
    for host in &fleet.real_server_hosts {
        assert!(addresses(&host.ns, "lo").contains(&format!("inet {vip32}")));
        for scope in ["all", "lo"] {
            let ignore = format!("net.ipv4.conf.{scope}.arp_ignore");
            let announce = format!("net.ipv4.conf.{scope}.arp_announce");
            assert_eq!(read_sysctl(&host.ns, &ignore), "1", "{}", host.name);
            assert_eq!(read_sysctl(&host.ns, &announce), "2", "{}", host.name);
        }
    }

    // Only the director answers ARP for the VIP now, and the real servers share the
    // traffic by weight, answering the client themselves.
    assert_eq!(resolved_mac(&client, DR_VIP), director_mac);
    split_by_weight(&client, DR_VIP);

    // Without the service the real servers give back the VIP and the ARP settings, and
    // keep what the agent did not add.
    delete_service(&fleet, service);
    for host in &fleet.real_server_hosts {
        wait_until(&format!("{} without the VIP", host.name), || {
            !addresses(&host.ns, "lo").contains(DR_VIP)
        });
        wait_until(&format!("{} ARP settings given back", host.name), || {
            read_sysctl(&host.ns, "net.ipv4.conf.all.arp_ignore") == "0"
                && read_sysctl(&host.ns, "net.ipv4.conf.lo.arp_announce") == "0"
        });
    }
    let rs2_lo = addresses(&fleet.real_server_hosts[1].ns, "lo");
    assert!(rs2_lo.contains("198.51.100.7/32"), "{rs2_lo}");
    wait_host(&fleet, "rs1", "prepared");
}

const TUN_VIP: &str = "172.16.100.10";

/// The tunnel lab: a router between the client (172.16.0.2), the director (10.1.0.2) and
/// the real servers (10.2.1.2, 10.2.2.2), each on its own subnet; the router sends the
/// VIP to the director. Replies leave the real servers by their default route, the router.
struct TunnelLab {
    fleet: Fleet,
    client: Netns,
    _router: Netns,
}

fn tunnel_lab(test: &str) -> TunnelLab {
    let fleet = fleet(test);
    let router = Netns::new();
    let client = Netns::new();
    let rs = [Netns::new(), Netns::new()];
    let director = &fleet.directors[0].ns;
    // The router passes the real servers' replies, whose source is the VIP it routes to
    // the director: no reverse-path filtering there.
    for scope in ["all", "default"] {
        write_sysctl(&router, &format!("net.ipv4.conf.{scope}.rp_filter"), "0");
    }
    veth(
        &router,
        "cl0",
        "172.16.0.1/24",
        &client,
        "eth0",
        "172.16.0.2/24",
    );
    veth(
        &router,
        "lb0",
        "10.1.0.1/24",
        director,
        "wan0",
        "10.1.0.2/24",
    );
    veth(&router, "rs1", "10.2.1.1/24", &rs[0], "eth0", "10.2.1.2/24");
    veth(&router, "rs2", "10.2.2.1/24", &rs[1], "eth0", "10.2.2.2/24");
    write_sysctl(&router, "net.ipv4.ip_forward", "1");
    let vip32 = format!("{TUN_VIP}/32");
    router.enter(|| run("ip", &["route", "add", &vip32, "via", "10.1.0.2"]));
    client.enter(|| run("ip", &["route", "add", "default", "via", "172.16.0.1"]));
    director.enter(|| run("ip", &["route", "add", "10.2.0.0/16", "via", "10.1.0.1"]));
    director.enter(|| run("ip", &["route", "add", "172.16.0.0/24", "via", "10.1.0.1"]));
    rs[0].enter(|| run("ip", &["route", "add", "default", "via", "10.2.1.1"]));
    rs[1].enter(|| run("ip", &["route", "add", "default", "via", "10.2.2.1"]));
    http_server_on(&rs[0], "rs1", 80);
    http_server_on(&rs[1], "rs2", 80);
    let mut lab = TunnelLab {
        fleet,
        client,
        _router: router,
    };
    let [rs1, rs2] = rs;
    lab.fleet.add_real_server_host("rs1", rs1, &["10.2.1.2"]);
    lab.fleet.add_real_server_host("rs2", rs2, &["10.2.2.2"]);
    lab
}

/// The director's (connections, packets in, packets out) of the service at `vip`.
fn service_packets(fleet: &Fleet, vip: &str) -> (u64, u64, u64) {
    let shown = fleet.directors[0]
        .ns
        .enter(|| run("ipvsadm", &["-Ln", "--stats", "--exact"]));
    let line = shown
        .lines()
        .find(|line| line.starts_with("TCP") && line.contains(&format!("{vip}:80")))
        .unwrap_or_else(|| panic!("no service {vip}:80 in\n{shown}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .skip(2)
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

#[test]
fn tunnel_real_servers_decapsulate_the_vip_and_answer_the_client_directly() {
    let mut lab = tunnel_lab("real-server-tun");
    let fleet = &mut lab.fleet;
    // A hardened host: strict reverse-path filtering drops decapsulated packets.
    let rs1 = &fleet.real_server_hosts[0].ns;
    write_sysctl(rs1, "net.ipv4.conf.all.rp_filter", "1");
    fleet.call(
        "PATCH",
        &fleet.cluster_path(""),
        Some(json!({"host": {"vips": {}}})),
        200,
    );
    let service = create_service(
        fleet,
        TUN_VIP,
        &[
            (
                "10.2.1.2",
                json!({"forwarding": "tunnel", "tunnel_type": "ipip"}),
            ),
            (
                "10.2.2.2",
                json!({"forwarding": "tunnel", "tunnel_type": "gre"}),
            ),
        ],
    );
    fleet.start_agents();
    fleet.start_real_server_agent(0);
    fleet.start_real_server_agent(1);
    wait_rules(
        &fleet.directors,
        "-A -t 172.16.100.10:80 -s wrr\n\
         -a -t 172.16.100.10:80 -r 10.2.1.2:80 -i -w 1 --tun-type ipip\n\
         -a -t 172.16.100.10:80 -r 10.2.2.2:80 -i -w 2 --tun-type gre --tun-nocsum\n",
        Duration::from_secs(20),
    );
    let vip32 = format!("inet {TUN_VIP}/32");
    for (index, (name, device)) in [("rs1", "tunl0"), ("rs2", "gre0")].into_iter().enumerate() {
        let host = wait_host(fleet, name, "prepared");
        assert_eq!(host["status"]["errors"], json!([]), "{host:#}");
        let ns = &fleet.real_server_hosts[index].ns;
        assert!(addresses(ns, device).contains(&vip32), "{name}: {device}");
        assert!(link_up(ns, device), "{name}: {device} up");
        let device_filter = format!("net.ipv4.conf.{device}.rp_filter");
        assert_eq!(read_sysctl(ns, &device_filter), "0", "{name}");
    }
    let rs1 = &fleet.real_server_hosts[0].ns;
    assert_eq!(
        read_sysctl(rs1, "net.ipv4.conf.all.rp_filter"),
        "2",
        "loosened"
    );

    split_by_weight(&lab.client, TUN_VIP);

    // rs2 switches to GUE: its host opens the receive port and takes the VIP on tunl0.
    let fleet = &lab.fleet;
    let rs2_id = real_server_id(fleet, service, "10.2.2.2");
    fleet.call(
        "PATCH",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers/{rs2_id}"),
        Some(json!({"tunnel_type": "gue", "tunnel_port": 6080})),
        200,
    );
    wait_rules(
        &fleet.directors,
        "-A -t 172.16.100.10:80 -s wrr\n\
         -a -t 172.16.100.10:80 -r 10.2.1.2:80 -i -w 1 --tun-type ipip\n\
         -a -t 172.16.100.10:80 -r 10.2.2.2:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-nocsum\n",
        Duration::from_secs(20),
    );
    let rs2 = &fleet.real_server_hosts[1].ns;
    wait_until("rs2 receives GUE on tunl0", || {
        addresses(rs2, "tunl0").contains(&vip32)
            && link_up(rs2, "tunl0")
            && rs2
                .enter(|| run("ip", &["fou", "show"]))
                .contains("port 6080 gue")
    });
    wait_until("rs2 gives gre0 back", || {
        !addresses(rs2, "gre0").contains(TUN_VIP) && !link_up(rs2, "gre0")
    });
    let host = wait_host(fleet, "rs2", "prepared");
    assert_eq!(
        host["needs"]["vips"][0]["arrival"],
        json!({"gue": {"port": 6080}})
    );
    split_by_weight(&lab.client, TUN_VIP);

    // Every reply went from a real server to the client past the director.
    // (A new connection from a client port the director still has an entry for counts as
    // that entry's, so fewer than 600 may be counted.)
    let (connections, packets_in, packets_out) = service_packets(&lab.fleet, TUN_VIP);
    eprintln!("{connections} connections, {packets_in} packets in, {packets_out} out");
    assert!(
        packets_in >= 1800,
        "{packets_in} packets in from 600 requests"
    );
    assert_eq!(packets_out, 0, "no reply crossed the director");

    // Without the service: the VIPs go, the devices go down, the GUE port closes and
    // rp_filter is strict again.
    let fleet = &lab.fleet;
    delete_service(fleet, service);
    for host in &fleet.real_server_hosts {
        wait_until(
            &format!("{}: tunl0 down without the VIP", host.name),
            || !addresses(&host.ns, "tunl0").contains(TUN_VIP) && !link_up(&host.ns, "tunl0"),
        );
    }
    let rs2 = &fleet.real_server_hosts[1].ns;
    wait_until("the GUE port closed", || {
        !rs2.enter(|| run("ip", &["fou", "show"])).contains("6080")
    });
    let rs1 = &fleet.real_server_hosts[0].ns;
    wait_until("rp_filter strict again", || {
        read_sysctl(rs1, "net.ipv4.conf.all.rp_filter") == "1"
    });
}
