//! Kernel tests: links, addresses and sysctls changed through the library, checked with
//! `ip`. Run by `cargo xtask vm-test` inside the guest (the host kernel has no dummy
//! interfaces); every test unshares a fresh network namespace on its own thread.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use lvs_host::{Fou, FouPort, Rtnl, Sysctl};
use lvs_testkit::{fresh_netns, run};

fn addresses_of(link: &str) -> String {
    run("ip", &["-o", "addr", "show", "dev", link])
}

#[test]
fn a_dummy_link_is_created_up_found_by_name_and_deleted() {
    fresh_netns();
    let mut rtnl = Rtnl::open().unwrap();
    assert_eq!(rtnl.link("lvs0").unwrap(), None, "no such link yet");
    rtnl.add_dummy("lvs0").unwrap();
    let link = rtnl.link("lvs0").unwrap().expect("created");
    assert_eq!(
        (link.name.as_str(), link.kind.as_deref()),
        ("lvs0", Some("dummy"))
    );
    assert!(link.up, "created up");
    assert!(run("ip", &["-o", "link", "show", "lvs0"]).contains("UP"));

    let again = rtnl.add_dummy("lvs0").expect_err("exists");
    assert_eq!(again.errno(), Some(17), "{again}");
    assert!(
        again.to_string().starts_with("create dummy link lvs0: "),
        "{again}"
    );

    let lo = rtnl.link("lo").unwrap().expect("lo");
    assert_eq!(lo.kind, None, "lo has no link kind");
    // A new namespace may also hold the fallback devices of loaded tunnel modules (tunl0).
    let names: Vec<String> = rtnl.links().unwrap().into_iter().map(|l| l.name).collect();
    assert!(
        names.contains(&"lo".to_owned()) && names.contains(&"lvs0".to_owned()),
        "{names:?}"
    );

    rtnl.delete_link(link.index, "lvs0").unwrap();
    assert_eq!(rtnl.link("lvs0").unwrap(), None);
}

#[test]
fn host_addresses_are_added_listed_and_deleted_in_both_families() {
    fresh_netns();
    let mut rtnl = Rtnl::open().unwrap();
    rtnl.add_dummy("lvs0").unwrap();
    let link = rtnl.link("lvs0").unwrap().unwrap();
    let v4: IpAddr = "10.20.0.1".parse().unwrap();
    let v6: IpAddr = "2001:db8:20::1".parse().unwrap();
    rtnl.add_address(link.index, v4, "lvs0").unwrap();
    rtnl.add_address(link.index, v6, "lvs0").unwrap();
    let shown = addresses_of("lvs0");
    assert!(shown.contains("inet 10.20.0.1/32"), "{shown}");
    assert!(shown.contains("inet6 2001:db8:20::1/128"), "{shown}");
    assert!(
        !shown.contains("tentative"),
        "no duplicate address detection: {shown}"
    );

    let listed = rtnl.addresses().unwrap();
    for ip in [v4, v6] {
        let found = listed.iter().find(|a| a.ip == ip).expect("listed");
        assert_eq!(found.link, link.index);
        assert_eq!(found.prefix, if ip.is_ipv4() { 32 } else { 128 });
    }

    let twice = rtnl
        .add_address(link.index, v4, "lvs0")
        .expect_err("exists");
    assert_eq!(twice.errno(), Some(17), "{twice}");

    rtnl.delete_address(link.index, v4, "lvs0").unwrap();
    rtnl.delete_address(link.index, v6, "lvs0").unwrap();
    let shown = addresses_of("lvs0");
    assert!(
        !shown.contains("10.20.0.1") && !shown.contains("2001:db8:20::1"),
        "{shown}"
    );
    let gone = rtnl
        .delete_address(link.index, v4, "lvs0")
        .expect_err("gone");
    assert_eq!(gone.errno(), Some(99), "EADDRNOTAVAIL: {gone}");
}

#[test]
fn a_down_link_is_brought_up() {
    fresh_netns();
    run("ip", &["link", "add", "d1", "type", "dummy"]);
    let mut rtnl = Rtnl::open().unwrap();
    let link = rtnl.link("d1").unwrap().unwrap();
    assert!(!link.up);
    rtnl.set_up(link.index, "d1").unwrap();
    assert!(rtnl.link("d1").unwrap().unwrap().up);
}

#[test]
fn sysctls_belong_to_the_namespace() {
    fresh_netns();
    let forward = Sysctl::dotted("net.ipv4.ip_forward");
    assert_eq!(
        forward.read().unwrap(),
        "0",
        "a new namespace does not forward"
    );
    forward.write("1").unwrap();
    assert_eq!(run("sysctl", &["-n", "net.ipv4.ip_forward"]).trim(), "1");
    let error = Sysctl::dotted("net.ipv4.conf.nope.rp_filter")
        .write("0")
        .expect_err("no such interface");
    assert!(
        error.to_string().contains("net.ipv4.conf.nope.rp_filter"),
        "{error}"
    );
}

#[test]
fn the_own_table_is_replaced_whole_and_other_tables_are_left_alone() {
    use lvs_host::NftTable;
    fresh_netns();
    run("nft", &["add", "table", "ip", "someone_else"]);
    let table = NftTable::new("inet", "lvs_test");
    assert!(!table.exists().unwrap());
    let chain = |rule: &str| {
        format!(
            "chain prerouting {{\ntype filter hook prerouting priority mangle; policy accept;\n{rule}\n}}\n"
        )
    };
    table
        .replace(&chain(
            "ip daddr 192.0.2.10 tcp dport { 80, 443 } meta mark set 0x7",
        ))
        .unwrap();
    let listed = table.list().unwrap();
    assert!(
        listed.contains("tcp dport { 80, 443 } meta mark set 0x00000007"),
        "{listed}"
    );
    table
        .replace(&chain(
            "ip daddr 192.0.2.10 udp dport 5060-5061 meta mark set 0x8",
        ))
        .unwrap();
    let listed = table.list().unwrap();
    assert!(
        !listed.contains("tcp dport"),
        "replaced, not added to: {listed}"
    );
    assert!(listed.contains("udp dport 5060-5061"), "{listed}");

    // A refused script changes nothing.
    let refused = table
        .replace(&chain("ip daddr 192.0.2.10 tcp dport nonsense"))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("nft refused table inet lvs_test: "),
        "{refused}"
    );
    assert!(table.list().unwrap().contains("udp dport 5060-5061"));

    assert!(table.delete().unwrap());
    assert!(!table.delete().unwrap(), "already gone");
    assert!(run("nft", &["list", "tables"]).contains("table ip someone_else"));
}

#[test]
fn a_tunnel_fallback_device_is_found_or_brought_by_its_driver_and_goes_down_again() {
    fresh_netns();
    let mut rtnl = Rtnl::open().unwrap();
    for (kind, name) in [("ipip", "tunl0"), ("gre", "gre0")] {
        rtnl.ensure_fallback_tunnel(kind, name).unwrap();
        // Asking again is no error: the device is there.
        rtnl.ensure_fallback_tunnel(kind, name).unwrap();
        let link = rtnl.link(name).unwrap().expect("the fallback device");
        assert_eq!(link.kind.as_deref(), Some(kind), "{link:?}");
        rtnl.set_up(link.index, name).unwrap();
        assert!(rtnl.link(name).unwrap().expect("there").up);
        rtnl.set_down(link.index, name).unwrap();
        assert!(!rtnl.link(name).unwrap().expect("there").up);
    }
    let unknown = rtnl
        .ensure_fallback_tunnel("no-such-kind", "nst0")
        .expect_err("no such driver");
    assert!(
        unknown
            .to_string()
            .contains("is the no-such-kind driver available?"),
        "{unknown}"
    );
}

#[test]
fn gue_ports_are_opened_listed_and_closed_per_family() {
    fresh_netns();
    let mut fou = Fou::open().unwrap();
    assert_eq!(fou.ports().unwrap(), []);
    fou.add_gue(6080, false).unwrap();
    fou.add_gue(6080, true).unwrap();
    let shown = run("ip", &["fou", "show"]);
    assert!(shown.contains("port 6080 gue"), "{shown}");
    let mut ports = fou.ports().unwrap();
    ports.sort();
    let expected = [
        FouPort {
            port: 6080,
            ipv6: false,
            gue: true,
        },
        FouPort {
            port: 6080,
            ipv6: true,
            gue: true,
        },
    ];
    assert_eq!(ports, expected);
    let again = fou.add_gue(6080, false).expect_err("open already");
    assert!(
        again.to_string().starts_with("open GUE port 6080: "),
        "{again}"
    );
    fou.delete(6080, true).unwrap();
    fou.delete(6080, false).unwrap();
    assert_eq!(fou.ports().unwrap(), []);
}
