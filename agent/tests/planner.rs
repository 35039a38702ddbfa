//! The planner on the host, without a kernel: kernel tables are built from model states with
//! the same `kernel_map` conversions the kernel round trip uses.

use std::time::{Duration, Instant};

use lvs_agent::drain::Drains;
use lvs_agent::kernel_map;
use lvs_agent::observed::Observed;
use lvs_agent::planner::{plan, Context, Plan};
use lvs_ipvs::{Command, Scheduler, TableEntry, Timeouts};
use lvs_model::DesiredState;
use lvs_testkit::fixtures::{desired_state, CLUSTER};

const TIMEOUT: Duration = Duration::from_secs(300);

/// The kernel table that holds `state` exactly, as the kernel would report it.
fn kernel_of(state: &DesiredState) -> Vec<TableEntry> {
    state.services().map(kernel_map::table_entry).collect()
}

fn kernel_timeouts(state: &DesiredState) -> Timeouts {
    kernel_map::timeouts(&state.timeouts)
}

/// Sets the active connections of one destination.
fn with_connections(table: &mut [TableEntry], addr: &str, active: u32) {
    for entry in table {
        for dest in &mut entry.destinations {
            if dest.destination.addr.ip().to_string() == addr {
                dest.active_conns = active;
            }
        }
    }
}

struct Harness {
    drains: Drains,
    applied: Option<u64>,
    start: Instant,
}

impl Harness {
    fn new(applied: Option<u64>) -> Self {
        Harness {
            drains: Drains::default(),
            applied,
            start: Instant::now(),
        }
    }

    fn plan_at(
        &mut self,
        table: &[TableEntry],
        timeouts: Timeouts,
        desired: &DesiredState,
        after: Duration,
    ) -> Plan {
        let observed = Observed::from_table(table, timeouts);
        let context = Context {
            applied_generation: self.applied,
            drain_timeout: TIMEOUT,
            now: self.start + after,
        };
        plan(&observed, desired, &context, &mut self.drains)
    }

    /// A plan `after` the start, with the kernel's timeouts as desired.
    fn plan_after(
        &mut self,
        table: &[TableEntry],
        desired: &DesiredState,
        after: Duration,
    ) -> Plan {
        self.plan_at(table, kernel_timeouts(desired), desired, after)
    }

    fn plan(&mut self, table: &[TableEntry], desired: &DesiredState) -> Plan {
        self.plan_after(table, desired, Duration::ZERO)
    }
}

fn actions(plan: &Plan) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .map(|s| (s.outcome.action.clone(), s.outcome.object.clone()))
        .collect()
}

fn pair(action: &str, object: &str) -> (String, String) {
    (action.to_owned(), object.to_owned())
}

/// Replaces `from` by `to` in the cluster document, checking it occurs.
fn edited(from: &str, to: &str) -> DesiredState {
    assert!(CLUSTER.contains(from), "{from} is not in the cluster");
    desired_state(&CLUSTER.replacen(from, to, 1))
}

#[test]
fn a_matching_kernel_gives_an_empty_plan() {
    let desired = desired_state(CLUSTER);
    let table = kernel_of(&desired);
    // Whether or not the agent applied this generation before (a restart).
    for applied in [None, Some(4), Some(5)] {
        let plan = Harness::new(applied).plan(&table, &desired);
        assert!(plan.is_empty(), "{plan:?}");
        assert!(
            plan.drift.is_empty() && plan.unmanaged.is_empty(),
            "{plan:?}"
        );
    }
}

#[test]
fn the_kernel_read_round_trips_to_the_same_kernel_settings() {
    let desired = desired_state(CLUSTER);
    let observed = Observed::from_table(&kernel_of(&desired), Timeouts::default());
    assert!(observed.foreign.is_empty(), "{:?}", observed.foreign);
    for (seen, wanted) in observed.services().zip(desired.services()) {
        assert!(!seen.service().kernel_settings_differ(wanted.service()));
        for (a, b) in seen.real_servers().zip(wanted.real_servers()) {
            assert!(!a.kernel_settings_differ(b), "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn an_empty_kernel_is_loaded_without_drift() {
    let desired = desired_state(CLUSTER);
    let plan = Harness::new(None).plan_at(&[], Timeouts::default(), &desired, Duration::ZERO);
    let commands = plan.commands();
    assert_eq!(commands[0], Command::SetTimeouts(kernel_timeouts(&desired)));
    let adds = commands
        .iter()
        .filter(|c| matches!(c, Command::AddService(_)))
        .count();
    let dests = commands
        .iter()
        .filter(|c| matches!(c, Command::AddDestination(..)))
        .count();
    assert_eq!((adds, dests, commands.len()), (4, 7, 12));
    assert_eq!(commands[1..], kernel_map::load_commands(&desired)[1..]);
    assert!(plan.drift.is_empty(), "a new generation is not drift");
}

#[test]
fn a_weight_change_is_one_destination_edit() {
    let old = desired_state(CLUSTER);
    let new = edited(r#""weight": 7"#, r#""weight": 9"#);
    let plan = Harness::new(Some(5)).plan(&kernel_of(&old), &new);
    assert_eq!(
        actions(&plan),
        [pair(
            "edit",
            "real server [2001:db8::31]:443 of tcp:[2001:db8::10]:443"
        )]
    );
    let Command::EditDestination(_, dest) = &plan.steps[0].command else {
        panic!("{plan:?}")
    };
    assert_eq!(dest.weight, 9);
}

#[test]
fn a_scheduler_or_flag_change_is_one_service_edit() {
    let old = desired_state(CLUSTER);
    for new in [
        edited(r#""scheduler": "wrr""#, r#""scheduler": "wlc""#),
        edited(r#"["sh-port", "sh-fallback"]"#, r#"["sh-port"]"#),
        edited(
            r#""persistence_timeout": 300"#,
            r#""persistence_timeout": 301"#,
        ),
    ] {
        let plan = Harness::new(Some(5)).plan(&kernel_of(&old), &new);
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        assert!(
            matches!(plan.steps[0].command, Command::EditService(_)),
            "{plan:?}"
        );
    }
}

#[test]
fn labels_and_remembered_weights_do_not_reach_the_kernel() {
    let old = desired_state(CLUSTER);
    for new in [
        edited(
            r#""description": "front door""#,
            r#""description": "back door""#,
        ),
        edited(r#""name": "web""#, r#""name": "www""#),
        edited(r#""weight": 5"#, r#""weight": 6"#), // drained: still weight 0
    ] {
        let plan = Harness::new(Some(5)).plan(&kernel_of(&old), &new);
        assert!(plan.is_empty(), "{plan:?}");
    }
}

#[test]
fn draining_and_restoring_are_weight_edits() {
    let old = desired_state(CLUSTER);
    let restored = edited(r#""state": "drained""#, r#""state": "active""#);
    let plan = Harness::new(Some(5)).plan(&kernel_of(&old), &restored);
    let [step] = &plan.steps[..] else {
        panic!("{plan:?}")
    };
    assert!(matches!(&step.command, Command::EditDestination(_, d) if d.weight == 5));
    let plan = Harness::new(Some(5)).plan(&kernel_of(&restored), &old);
    let [step] = &plan.steps[..] else {
        panic!("{plan:?}")
    };
    assert!(matches!(&step.command, Command::EditDestination(_, d) if d.weight == 0));
}

#[test]
fn a_removed_real_server_drains_until_its_connections_are_gone() {
    let old = desired_state(CLUSTER);
    let new = edited(
        r#"{"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,
         "description": "first"},"#,
        "",
    );
    assert_ne!(old, new);
    let mut table = kernel_of(&old);
    with_connections(&mut table, "10.0.0.11", 2);
    // The removal is new to the agent: it applied generation 4 before.
    let mut h = Harness::new(Some(4));
    let object = "real server 10.0.0.11:8080 of tcp:192.0.2.10:80";

    // First: weight 0, not deleted.
    let plan = h.plan(&table, &new);
    assert_eq!(actions(&plan), [pair("drain", object)]);
    assert!(matches!(&plan.steps[0].command, Command::EditDestination(_, d) if d.weight == 0));
    assert!(
        plan.drift.is_empty(),
        "a removal from a new generation is not drift"
    );
    for entry in &mut table {
        for dest in &mut entry.destinations {
            if dest.destination.addr.ip().to_string() == "10.0.0.11" {
                dest.destination.weight = 0;
            }
        }
    }
    // While connections remain: nothing, not even drift, at the applied generation.
    h.applied = Some(5);
    let plan = h.plan_after(&table, &new, Duration::from_secs(10));
    assert!(plan.is_empty() && plan.drift.is_empty(), "{plan:?}");
    assert_eq!(h.drains.len(), 1);
    // Connections gone: deleted.
    with_connections(&mut table, "10.0.0.11", 0);
    let plan = h.plan_after(&table, &new, Duration::from_secs(20));
    assert_eq!(actions(&plan), [pair("delete", object)]);
    assert!(plan.drift.is_empty(), "{plan:?}");
    assert!(h.drains.is_empty());
}

#[test]
fn a_drain_ends_at_the_timeout_even_with_connections() {
    let old = desired_state(CLUSTER);
    let new = edited(
        r#",
        {"address": "10.0.0.13", "port": 80, "forwarding": "tunnel", "tunnel_type": "gue",
         "tunnel_port": 6080, "tunnel_checksum": "csum", "upper_threshold": 100,
         "lower_threshold": 10}"#,
        "",
    );
    assert_ne!(old, new);
    let mut table = kernel_of(&old);
    with_connections(&mut table, "10.0.0.13", 1);
    let mut h = Harness::new(Some(5));
    let object = "real server 10.0.0.13:80 of tcp:192.0.2.10:80";
    assert_eq!(actions(&h.plan(&table, &new)), [pair("drain", object)]);
    let before = h.plan_after(&table, &new, TIMEOUT - Duration::from_secs(1));
    assert!(before.is_empty(), "{before:?}");
    let at = h.plan_after(&table, &new, TIMEOUT);
    assert_eq!(actions(&at), [pair("delete", object)]);
}

#[test]
fn a_udp_real_server_goes_at_once() {
    let old = desired_state(CLUSTER);
    let new = edited(
        r#",
        {"address": "10.0.0.22", "forwarding": "route"}"#,
        "",
    );
    assert_ne!(old, new);
    let mut table = kernel_of(&old);
    with_connections(&mut table, "10.0.0.22", 5);
    let plan = Harness::new(Some(5)).plan(&table, &new);
    assert_eq!(
        actions(&plan),
        [pair(
            "delete",
            "real server 10.0.0.22:53 of udp:192.0.2.10:53"
        )]
    );
}

#[test]
fn a_removed_service_drains_all_its_servers_then_goes() {
    let old = desired_state(CLUSTER);
    let new = desired_state(
        r#"{"generation": 6, "timeouts": {"tcp": 900}, "services": [
            {"fwmark": 42, "family": "ipv4", "scheduler": "rr",
             "real_servers": [{"address": "10.0.0.41", "forwarding": "route"}]}]}"#,
    );
    let mut table = kernel_of(&old);
    with_connections(&mut table, "10.0.0.11", 1);
    let mut h = Harness::new(Some(5));
    let plan = h.plan(&table, &new);
    // The idle IPv6 service and the UDP one go at once; the busy one drains its two
    // servers that still take connections (the third is drained already).
    assert_eq!(
        actions(&plan),
        [
            pair("drain", "real server 10.0.0.11:8080 of tcp:192.0.2.10:80"),
            pair("drain", "real server 10.0.0.13:80 of tcp:192.0.2.10:80"),
            pair("delete", "service tcp:[2001:db8::10]:443"),
            pair("delete", "service udp:192.0.2.10:53"),
        ]
    );
    with_connections(&mut table, "10.0.0.11", 0);
    table.retain(|e| e.service.service.key.to_string().starts_with("tcp 192"));
    table.extend(kernel_of(&new));
    let plan = h.plan_after(&table, &new, Duration::from_secs(5));
    assert_eq!(
        actions(&plan),
        [pair("delete", "service tcp:192.0.2.10:80")]
    );
}

#[test]
fn generation_zero_keeps_and_reports_what_it_finds() {
    let found = desired_state(CLUSTER);
    let mut table = kernel_of(&found);
    // Also a service the model cannot read (its scheduler module is gone).
    let mut odd = table[3].clone();
    odd.service.service.key = lvs_ipvs::ServiceKey::Fwmark {
        family: lvs_ipvs::Family::Inet,
        mark: 7,
    };
    odd.service.service.scheduler = Scheduler::Other("none".into());
    table.push(odd);
    let never_set = DesiredState::default();
    let plan = Harness::new(None).plan_at(&table, Timeouts::default(), &never_set, Duration::ZERO);
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.unmanaged.len(), 5, "{:?}", plan.unmanaged);
    // Reported as the model writes them, ready for an import.
    let spec = &plan.unmanaged[0];
    assert_eq!(spec.address.as_deref(), Some("192.0.2.10"));
    assert!(spec.real_servers.as_ref().is_some_and(|r| r.len() == 3));
    assert_eq!(plan.unmanaged[4].fwmark, Some(7));
}

#[test]
fn a_set_generation_removes_unknown_services() {
    let found = desired_state(CLUSTER);
    let desired = desired_state(r#"{"generation": 1, "timeouts": {}, "services": []}"#);
    let plan = Harness::new(None).plan_at(
        &kernel_of(&found),
        Timeouts::default(),
        &desired,
        Duration::ZERO,
    );
    assert_eq!(plan.steps.len(), 4, "{plan:?}");
    assert!(plan
        .steps
        .iter()
        .all(|s| matches!(s.command, Command::DeleteService(_))));
    assert!(plan.unmanaged.is_empty());
}

#[test]
fn changes_at_the_applied_generation_are_drift() {
    let desired = desired_state(CLUSTER);
    let mut table = kernel_of(&desired);
    table[1].destinations[0].destination.weight = 3; // the IPv6 service's server, weight 7
    table.remove(3); // ipvsadm -D of the fwmark service
    let mut extra = table[0].clone(); // an extra service by hand
    extra.service.service.key = lvs_ipvs::ServiceKey::Inet {
        protocol: lvs_ipvs::Protocol::Tcp,
        addr: "192.0.2.99".parse().unwrap(),
        port: 80,
    };
    extra.destinations.clear();
    table.push(extra);
    let mut timeouts = kernel_timeouts(&desired);
    timeouts.tcp = 100;

    let plan = Harness::new(Some(5)).plan_at(&table, timeouts, &desired, Duration::ZERO);
    let drift: Vec<(String, String)> = plan
        .drift
        .iter()
        .map(|d| (d.object.clone(), d.found.clone()))
        .collect();
    assert_eq!(
        drift,
        [
            pair("timeouts", "tcp 100 instead of 900"),
            pair("service tcp:192.0.2.99:80", "unexpected"),
            pair(
                "real server [2001:db8::31]:443 of tcp:[2001:db8::10]:443",
                "weight 3 instead of 7"
            ),
            pair("service fwmark:42:ipv4", "missing"),
            pair("real server 10.0.0.41:0 of fwmark:42:ipv4", "missing"),
        ]
    );
    assert_eq!(
        actions(&plan),
        [
            pair("set", "timeouts"),
            pair("delete", "service tcp:192.0.2.99:80"),
            pair(
                "edit",
                "real server [2001:db8::31]:443 of tcp:[2001:db8::10]:443"
            ),
            pair("add", "service fwmark:42:ipv4"),
            pair("add", "real server 10.0.0.41:0 of fwmark:42:ipv4"),
        ]
    );

    // The same kernel against a generation not applied yet: the same commands, no drift.
    let plan = Harness::new(Some(4)).plan_at(&table, timeouts, &desired, Duration::ZERO);
    assert_eq!(plan.steps.len(), 5);
    assert!(plan.drift.is_empty(), "{plan:?}");
}

#[test]
fn a_flushed_table_is_drift_of_every_service_and_real_server() {
    let desired = desired_state(CLUSTER);
    // `ipvsadm -C` after the agent applied generation 5.
    let plan = Harness::new(Some(5)).plan(&[], &desired);
    let missing: Vec<&str> = plan
        .drift
        .iter()
        .inspect(|d| assert_eq!(d.found, "missing", "{d:?}"))
        .map(|d| d.object.as_str())
        .collect();
    let added: Vec<&str> = plan
        .steps
        .iter()
        .map(|s| s.outcome.object.as_str())
        .collect();
    assert_eq!(missing, added, "every object added was missing");
    assert_eq!(missing.len(), 4 + 7, "{missing:?}");
    assert!(
        missing.contains(&"real server 10.0.0.12:8080 of tcp:192.0.2.10:80"),
        "{missing:?}"
    );
}

#[test]
fn generation_zero_reports_the_kernel_timeouts_the_cluster_leaves_alone() {
    let kernel = Timeouts {
        tcp: 1800,
        tcp_fin: 60,
        udp: 120,
    };
    let never_set = DesiredState::default();
    let plan = Harness::new(None).plan_at(&[], kernel, &never_set, Duration::ZERO);
    assert!(plan.is_empty(), "{plan:?}");
    let found = plan.unmanaged_timeouts.expect("reported at generation 0");
    assert_eq!(
        (found.tcp, found.tcpfin, found.udp),
        (Some(1800), Some(60), Some(120))
    );

    // A timeout the cluster sets (at its creation) is the cluster's: set, not reported.
    let sets_udp = desired_state(r#"{"generation": 0, "timeouts": {"udp": 30}, "services": []}"#);
    let plan = Harness::new(None).plan_at(&[], kernel, &sets_udp, Duration::ZERO);
    assert_eq!(actions(&plan), [pair("set", "timeouts")]);
    let found = plan.unmanaged_timeouts.expect("reported at generation 0");
    assert_eq!(
        (found.tcp, found.tcpfin, found.udp),
        (Some(1800), Some(60), None)
    );

    // Once the desired state is set, nothing is unmanaged.
    let desired = desired_state(CLUSTER);
    let plan = Harness::new(Some(5)).plan(&kernel_of(&desired), &desired);
    assert_eq!(plan.unmanaged_timeouts, None);
}

#[test]
fn unset_timeouts_are_left_as_the_kernel_has_them() {
    // Only tcp set; the kernel's tcp_fin and udp are its own.
    let desired = edited(r#", "udp": 120"#, "");
    let table = kernel_of(&desired);
    let kernel = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    let plan = Harness::new(Some(5)).plan_at(&table, kernel, &desired, Duration::ZERO);
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn a_key_change_is_a_delete_and_an_add() {
    let old = desired_state(CLUSTER);
    let new = edited(r#""port": 53"#, r#""port": 5353"#);
    let plan = Harness::new(Some(5)).plan(&kernel_of(&old), &new);
    let commands = plan.commands();
    assert!(matches!(commands[0], Command::DeleteService(_)), "{plan:?}");
    assert!(matches!(commands[1], Command::AddService(_)), "{plan:?}");
    assert_eq!(
        commands.len(),
        4,
        "the service and its two servers: {plan:?}"
    );
}

#[test]
fn a_service_the_model_cannot_read_is_edited_into_shape() {
    let desired = desired_state(CLUSTER);
    let mut table = kernel_of(&desired);
    table[3].service.service.scheduler = Scheduler::Other("none".into());
    let plan = Harness::new(Some(5)).plan(&table, &desired);
    let commands = plan.commands();
    assert_eq!(commands.len(), 2, "{plan:?}");
    assert!(
        matches!(&commands[0], Command::EditService(s) if s.scheduler == Scheduler::RoundRobin)
    );
    assert!(matches!(commands[1], Command::EditDestination(..)));
    assert_eq!(plan.drift.len(), 1);
}

#[test]
fn a_real_server_back_in_the_desired_state_stops_draining() {
    let old = desired_state(CLUSTER);
    let without = edited(
        r#"{"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,
         "description": "first"},"#,
        "",
    );
    let mut table = kernel_of(&old);
    with_connections(&mut table, "10.0.0.11", 2);
    let mut h = Harness::new(Some(5));
    assert_eq!(h.plan(&table, &without).steps.len(), 1);
    assert_eq!(h.drains.len(), 1);
    table[0].destinations[0].destination.weight = 0;
    let plan = h.plan(&table, &old);
    assert!(matches!(&plan.commands()[..], [Command::EditDestination(_, d)] if d.weight == 1));
    assert!(h.drains.is_empty());
}
