//! A revoked token: the agent is refused, says so, leaves the kernel as it is, and carries
//! on without a restart once its token file holds a new token.

use std::time::Duration;

use lvs_testkit::fleet::log_events;

use super::{
    fleet_with, put_web_and_wait, wait_for_event, wait_rules, web, web_rules, RECONCILE_INTERVAL,
};

#[test]
fn a_revoked_token_leaves_the_kernel_alone_until_the_token_file_holds_a_new_one() {
    // Short long-polls, so the revocation shows within a second.
    let mut fleet = fleet_with("revoked", 1, &[("--poll-timeout", "1s")]);
    fleet.start_agents();
    put_web_and_wait(&fleet, [1, 2]);

    fleet.call(
        "DELETE",
        &fleet.cluster_path("/directors/lb1/token"),
        None,
        204,
    );
    let log = fleet.directors[0].log().to_owned();
    let refused = wait_for_event(
        &log,
        "fix the token (--token / --token-file); retrying",
        Duration::from_secs(10),
    );
    assert_eq!(refused["level"], "ERROR", "{refused}");
    let error = refused["fields"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("401"), "{refused}");
    assert!(
        !error.contains("lvsa_"),
        "the token is never logged: {refused}"
    );

    // A change the agent cannot see: through several reconcile periods the kernel keeps
    // what it has (nothing is flushed because of the server).
    let next = fleet.put_state(&web([1, 5]));
    std::thread::sleep(RECONCILE_INTERVAL * 2 + Duration::from_millis(500));
    assert_eq!(fleet.directors[0].ns.rules(), web_rules([1, 2]));
    assert!(
        fleet.directors[0]
            .agent()
            .is_some_and(|a| a.try_wait().unwrap().is_none()),
        "the agent exited on a 401"
    );

    // A new token in the file: read at the next refused attempt, and the change arrives.
    let token = fleet.new_token("lb1");
    fleet.directors[0].write_token(&token);
    let took = wait_rules(
        &fleet.directors,
        &web_rules([1, 5]),
        Duration::from_secs(10),
    );
    eprintln!("revoked: the new token file was used within {took:?}");
    assert_eq!(
        log_events(&log, "read a new token from the token file").len(),
        1,
        "{}",
        log.display()
    );
    fleet.wait_status("lb1", "in sync with the new token", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == next
    });
    assert_eq!(fleet.directors[0].logs.len(), 1, "no restart");
}
