//! Updates: after a pass, a new desired state is applied by reading and writing only the
//! services that changed; drift elsewhere waits for the next full pass, and a failure
//! makes the next update a full pass.

use lvs_agent::touched::Touched;

use crate::{
    director_netns, ipvsadm, reconciler, saved, saved_form_of, state, CLUSTER, CLUSTER_RULES,
};

/// [`CLUSTER`] at generation 6 with the IPv6 real server at weight 9.
fn reweighted() -> String {
    CLUSTER
        .replace(r#""generation": 5"#, r#""generation": 6"#)
        .replace(r#""weight": 7"#, r#""weight": 9"#)
}

#[test]
fn an_update_reads_and_writes_only_the_changed_service() {
    director_netns();
    let expected = saved_form_of(&CLUSTER_RULES.replace("-w 7", "-w 9"));
    let mut agent = reconciler(None);
    let (old, new) = (state(CLUSTER), state(&reweighted()));
    let first = agent.update(&old, &Touched::none_since(0)).unwrap();
    assert!(!first.incremental, "nothing applied yet: a full pass");
    assert!(first.succeeded(), "{:#?}", first.report);

    let result = agent.update(&new, &Touched::between(&old, &new)).unwrap();
    assert!(result.succeeded(), "{:#?}", result.report);
    assert!(result.incremental);
    assert_eq!(result.services_read, 1);
    assert_eq!(result.commands, 1, "{:#?}", result.report);
    assert_eq!(result.report.applied_generation, 6);
    assert_eq!(saved(), expected);
}

#[test]
fn a_weight_change_in_a_service_deleted_by_hand_brings_the_service_back() {
    director_netns();
    let expected = saved_form_of(&CLUSTER_RULES.replace("-w 7", "-w 9"));
    let mut agent = reconciler(None);
    let old = state(CLUSTER);
    assert!(agent.pass(&old).unwrap().succeeded());
    ipvsadm(&["-D", "-t", "[2001:db8::10]:443"]);

    // Only a real server changes: the update reads the destinations alone, finds no
    // service, and adds it whole.
    let new = state(&reweighted());
    let changes = Touched::between(&old, &new);
    assert_eq!(changes.members_only.len(), 1, "{changes:?}");
    let result = agent.update(&new, &changes).unwrap();
    assert!(result.incremental && result.succeeded(), "{result:#?}");
    assert_eq!(result.services_read, 0);
    assert_eq!(saved(), expected);
}

#[test]
fn drift_in_other_services_waits_for_the_next_full_pass() {
    director_netns();
    let mut agent = reconciler(None);
    let old = state(CLUSTER);
    assert!(agent.pass(&old).unwrap().succeeded());
    ipvsadm(&["-E", "-f", "42", "-s", "wlc"]);

    let desired = state(&reweighted());
    let result = agent
        .update(&desired, &Touched::between(&old, &desired))
        .unwrap();
    assert!(result.incremental && result.succeeded(), "{result:#?}");
    assert!(
        saved().iter().any(|l| l.starts_with("-A -f 42 -s wlc")),
        "an update does not look at unchanged services: {:?}",
        saved()
    );

    let full = agent.pass(&desired).unwrap();
    assert!(!full.incremental);
    assert_eq!(full.commands, 1, "{:#?}", full.report);
    let drift: Vec<&str> = full
        .report
        .drift_repaired
        .iter()
        .map(|d| d.object.as_str())
        .collect();
    assert_eq!(drift, ["service fwmark:42:ipv4"]);
    assert!(saved().iter().any(|l| l.starts_with("-A -f 42 -s rr")));
}

#[test]
fn after_a_refused_command_the_next_update_is_a_full_pass() {
    director_netns();
    let mut agent = reconciler(None);
    let old = state(CLUSTER);
    assert!(agent.pass(&old).unwrap().succeeded());

    // 10.0.0.255 is the broadcast address of the director's 10.0.0.0/24: the kernel
    // refuses it as a NAT destination.
    let broadcast = reweighted().replace(
        r#"{"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,"#,
        r#"{"address": "10.0.0.255", "port": 8080, "forwarding": "masq"},
        {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,"#,
    );
    assert_ne!(broadcast, reweighted());
    let broadcast = state(&broadcast);
    let refused = agent
        .update(&broadcast, &Touched::between(&old, &broadcast))
        .unwrap();
    assert!(refused.incremental);
    assert!(!refused.succeeded(), "{:#?}", refused.report);

    let back = state(&CLUSTER.replace(r#""generation": 5"#, r#""generation": 7"#));
    let result = agent
        .update(&back, &Touched::between(&broadcast, &back))
        .unwrap();
    assert!(!result.incremental, "{result:#?}");
    assert!(result.succeeded(), "{:#?}", result.report);
    assert_eq!(result.services_read, 4);
}
