//! Desired states that more than one suite starts from, so that the agent's planner (on the
//! host) and its reconciler (against the kernel) are tested on the same cluster.

use lvs_model::spec::DesiredStateSpec;
use lvs_model::DesiredState;

/// A cluster with labels, a drained server, persistence, scheduler flags, a tunnel,
/// thresholds, IPv6, fwmark and timeouts.
pub const CLUSTER: &str = r#"{"generation": 5, "timeouts": {"tcp": 900, "udp": 120},
  "services": [
    {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
     "name": "web", "description": "front door", "persistence_timeout": 300,
     "persistence_netmask": "255.255.255.0",
     "real_servers": [
        {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,
         "description": "first"},
        {"address": "10.0.0.12", "port": 8080, "forwarding": "masq", "weight": 5,
         "state": "drained"},
        {"address": "10.0.0.13", "port": 80, "forwarding": "tunnel", "tunnel_type": "gue",
         "tunnel_port": 6080, "tunnel_checksum": "csum", "upper_threshold": 100,
         "lower_threshold": 10}]},
    {"protocol": "udp", "address": "192.0.2.10", "port": 53, "scheduler": "sh",
     "scheduler_flags": ["sh-port", "sh-fallback"], "one_packet": true,
     "real_servers": [
        {"address": "10.0.0.21", "forwarding": "route"},
        {"address": "10.0.0.22", "forwarding": "route"}]},
    {"protocol": "tcp", "address": "2001:db8::10", "port": 443, "scheduler": "mh",
     "scheduler_flags": ["mh-port"], "persistence_timeout": 60, "persistence_netmask": 64,
     "real_servers": [{"address": "2001:db8::31", "forwarding": "route", "weight": 7}]},
    {"fwmark": 42, "family": "ipv4", "scheduler": "rr",
     "real_servers": [{"address": "10.0.0.41", "forwarding": "route"}]}
  ]}"#;

/// The rules [`CLUSTER`] should produce, in `ipvsadm -R` form.
pub const CLUSTER_RULES: &str = "\
-A -t 192.0.2.10:80 -s wrr -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.11:8080 -m -w 1
-a -t 192.0.2.10:80 -r 10.0.0.12:8080 -m -w 0
-a -t 192.0.2.10:80 -r 10.0.0.13:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum -x 100 -y 10
-A -u 192.0.2.10:53 -s sh -b sh-fallback,sh-port -o
-a -u 192.0.2.10:53 -r 10.0.0.21:53 -g -w 1
-a -u 192.0.2.10:53 -r 10.0.0.22:53 -g -w 1
-A -t [2001:db8::10]:443 -s mh -b mh-port -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::31]:443 -g -w 7
-A -f 42 -s rr
-a -f 42 -r 10.0.0.41:0 -g -w 1
";

/// A desired-state document, parsed and validated.
pub fn desired_state(json: &str) -> DesiredState {
    serde_json::from_str::<DesiredStateSpec>(json)
        .expect("a desired-state document")
        .parse()
        .expect("a valid desired state")
}
