//! Drift: changes made by hand at a generation the agent applied are repaired and reported.

use crate::{director_netns, ipvsadm, reconciler, saved, state, CLUSTER};

fn drift_of(result: &lvs_agent::PassResult) -> Vec<(String, String)> {
    result
        .report
        .drift_repaired
        .iter()
        .map(|d| (d.object.clone(), d.found.clone()))
        .collect()
}

#[test]
fn a_flushed_table_is_restored_and_reported() {
    director_netns();
    let desired = state(CLUSTER);
    let mut agent = reconciler(None);
    assert!(agent.pass(&desired).unwrap().succeeded());
    let applied = saved();

    ipvsadm(&["-C"]);
    let result = agent.pass(&desired).unwrap();
    assert!(result.succeeded(), "{:#?}", result.report);
    assert_eq!(result.commands, 4 + 7, "{:#?}", result.report);
    // Every service and every real server was missing, and is reported.
    let drift = drift_of(&result);
    assert_eq!(drift.len(), 4 + 7, "{drift:?}");
    assert!(
        drift.iter().all(|(_, found)| found == "missing"),
        "{drift:?}"
    );
    assert!(drift.contains(&("service fwmark:42:ipv4".into(), "missing".into())));
    assert!(drift.contains(&(
        "real server 10.0.0.41:0 of fwmark:42:ipv4".into(),
        "missing".into()
    )));
    assert_eq!(saved(), applied);
}

#[test]
fn an_edited_weight_and_an_extra_service_are_repaired_and_reported() {
    director_netns();
    let desired = state(CLUSTER);
    let mut agent = reconciler(None);
    assert!(agent.pass(&desired).unwrap().succeeded());
    let applied = saved();

    ipvsadm(&[
        "-e",
        "-t",
        "[2001:db8::10]:443",
        "-r",
        "[2001:db8::31]:443",
        "-g",
        "-w",
        "3",
    ]);
    ipvsadm(&["-A", "-t", "192.0.2.77:80", "-s", "rr"]);
    ipvsadm(&["-E", "-f", "42", "-s", "wlc"]);
    let result = agent.pass(&desired).unwrap();
    assert!(result.succeeded(), "{:#?}", result.report);
    assert_eq!(result.commands, 3, "{:#?}", result.report);
    let mut drift = drift_of(&result);
    drift.sort();
    assert_eq!(
        drift,
        [
            (
                "real server [2001:db8::31]:443 of tcp:[2001:db8::10]:443".to_owned(),
                "weight 3 instead of 7".to_owned()
            ),
            (
                "service fwmark:42:ipv4".to_owned(),
                "scheduler wlc instead of rr".to_owned()
            ),
            (
                "service tcp:192.0.2.77:80".to_owned(),
                "unexpected".to_owned()
            ),
        ]
    );
    assert_eq!(saved(), applied);
    let actions: Vec<&str> = result
        .report
        .outcomes
        .iter()
        .map(|o| o.action.as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "edit").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "delete").count(),
        1,
        "{actions:?}"
    );

    // A changed timeout too.
    ipvsadm(&["--set", "100", "0", "0"]);
    let result = agent.pass(&desired).unwrap();
    assert_eq!(
        drift_of(&result),
        [("timeouts".to_owned(), "tcp 100 instead of 900".to_owned())]
    );
    assert_eq!(agent.ipvs().timeouts().unwrap().tcp, 900);
}
