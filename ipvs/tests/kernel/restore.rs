//! The reverse direction: a table loaded by `ipvsadm -R` reads back through the library
//! exactly as ipvsadm shows it.

use lvs_ipvs::{ForwardMethod, Ipvs};

use crate::save::{assert_same_as_ipvsadm, library_rules, parse_save};
use crate::{director, ipvsadm, ipvsadm_restore};

const RULES: &str = "\
-A -t 10.0.0.1:80 -s wlc -p 300 -M 255.255.255.0
-a -t 10.0.0.1:80 -r 10.0.0.60:8080 -m -w 5 -x 100 -y 20
-a -t 10.0.0.1:80 -r 10.0.0.61:80 -g -w 0
-a -t 10.0.0.1:80 -r 10.0.0.62:80 -i -w 65535 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t 10.0.0.1:80 -r 10.0.0.63:80 -i -w 1 --tun-type gre --tun-csum
-A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port -o
-a -u 10.0.0.1:53 -r 10.0.0.64:53 -m -w 1
-A --sctp-service 10.0.0.1:3868 -s mh -b mh-port
-a --sctp-service 10.0.0.1:3868 -r 10.0.0.65:3868 -g -w 1
-A -t [2001:db8::1]:443 -s lc -p 60 -M 64
-a -t [2001:db8::1]:443 -r [2001:db8::60]:443 -g -w 7
-A -u [2001:db8::1]:5060 -s rr -p 120 --pe sip
-a -u [2001:db8::1]:5060 -r [2001:db8::61]:5060 -m -w 1
-A -f 42 -s dh
-a -f 42 -r 10.0.0.66:0 -g -w 1
-A -f 43 -6 -s sed
-a -f 43 -6 -r [2001:db8::62]:0 -i -w 1
";

fn restored() -> Ipvs {
    let mut ipvs = director();
    ipvsadm_restore(RULES);
    assert!(!ipvs.table().unwrap().is_empty());
    ipvs
}

#[test]
fn ipvsadm_restore_reads_back_as_ipvsadm_shows_it() {
    let mut ipvs = restored();
    assert_same_as_ipvsadm(&mut ipvs);
    // And as the rules were written, modulo normalization.
    assert_eq!(library_rules(&mut ipvs), parse_save(RULES));
}

#[test]
fn list_exact_matches_the_library() {
    let mut ipvs = restored();
    let listing = ipvsadm(&["-L", "-n", "--exact"]);
    let table = ipvs.table().unwrap();
    let dest_lines: Vec<&str> = listing
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .collect();
    let dests: usize = table.iter().map(|e| e.destinations.len()).sum();
    assert_eq!(dest_lines.len(), dests, "{listing}");
    for entry in &table {
        for d in &entry.destinations {
            let dest = d.destination;
            let name = match dest.addr {
                std::net::SocketAddr::V4(a) => a.to_string(),
                std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
            };
            let line = dest_lines
                .iter()
                .find(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{name} not in\n{listing}"));
            let cols: Vec<&str> = line.split_whitespace().collect();
            let fwd = match dest.forward {
                ForwardMethod::Masq => "Masq",
                ForwardMethod::Tunnel => "Tunnel",
                ForwardMethod::Local => "Local",
                _ => "Route",
            };
            assert_eq!(cols[2], fwd, "{line}");
            assert_eq!(cols[3], dest.weight.to_string(), "{line}");
            assert_eq!(cols[4], d.active_conns.to_string(), "{line}");
            assert_eq!(cols[5], d.inactive_conns.to_string(), "{line}");
        }
    }
}
