//! Applying a desired state, restarting against a matching table, and adopting a director.

use std::sync::Arc;

use lvs_model::DesiredState;

use crate::{
    director_netns, ipvsadm_restore, reconciler, saved, saved_form_of, state, CLUSTER,
    CLUSTER_RULES,
};

#[test]
fn a_desired_state_is_applied_into_an_empty_table_as_ipvsadm_would_load_it() {
    director_netns();
    let expected = saved_form_of(CLUSTER_RULES);
    let desired = state(CLUSTER);
    let mut agent = reconciler(None);
    let result = agent.pass(&desired).unwrap();
    assert!(result.succeeded(), "{:#?}", result.report);
    assert_eq!(result.commands, 1 + 4 + 7, "timeouts, services, servers");
    assert!(result.report.drift_repaired.is_empty());
    assert_eq!(result.report.applied_generation, 5);
    assert!(!result.report.kernel_version.is_empty());
    assert_eq!(saved(), expected);
    let timeouts = agent.ipvs().timeouts().unwrap();
    assert_eq!((timeouts.tcp, timeouts.udp), (900, 120), "{timeouts:?}");

    // The next pass finds nothing to do.
    let again = agent.pass(&desired).unwrap();
    assert_eq!(again.commands, 0, "{:#?}", again.report);
    assert!(again.report.outcomes.is_empty() && again.report.drift_repaired.is_empty());
}

#[test]
fn a_restarted_agent_makes_no_kernel_writes_against_a_matching_table() {
    director_netns();
    let desired = state(CLUSTER);
    let first = reconciler(None).pass(&desired).unwrap();
    assert!(first.succeeded(), "{:#?}", first.report);
    let before = saved();
    // A new process: no drains in memory, with or without the cached applied generation.
    for applied in [None, Some(5)] {
        let result = reconciler(applied).pass(&desired).unwrap();
        assert_eq!(result.commands, 0, "{:#?}", result.report);
        assert!(result.report.outcomes.is_empty());
        assert!(result.report.drift_repaired.is_empty());
        assert!(result.succeeded());
    }
    assert_eq!(saved(), before);
}

#[test]
fn rules_found_at_generation_zero_are_kept_and_reported() {
    director_netns();
    ipvsadm_restore(CLUSTER_RULES);
    let before = saved();
    let never_set = Arc::new(DesiredState::default());
    let result = reconciler(None).pass(&never_set).unwrap();
    assert_eq!(result.commands, 0, "{:#?}", result.report);
    assert_eq!(saved(), before, "nothing was deleted");
    let unmanaged = &result.report.unmanaged_services;
    assert_eq!(unmanaged.len(), 4, "{unmanaged:#?}");
    // Reported in the model's own form: they parse back into the same kernel state.
    let adopted = lvs_model::spec::DesiredStateSpec {
        generation: Some(1),
        timeouts: Some(Default::default()),
        services: Some(unmanaged.clone()),
        ..Default::default()
    }
    .parse()
    .map(Arc::new)
    .expect("unmanaged services are valid specs");
    let mut agent = reconciler(None);
    let result = agent.pass(&adopted).unwrap();
    assert_eq!(
        result.commands, 0,
        "importing them changes nothing: {:#?}",
        result.report
    );
}
