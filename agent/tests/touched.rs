//! What an update must read: the services a change names, and which of them changed only
//! in their real servers (their settings are taken as set, so only destinations are read).

use lvs_agent::touched::Touched;
use lvs_model::DesiredState;
use lvs_testkit::fixtures::desired_state;

fn state(generation: u64, web: &str, dns_weight: u32) -> DesiredState {
    let json = format!(
        r#"{{"generation": {generation}, "timeouts": {{}}, "services": [
            {{"protocol": "tcp", "address": "192.0.2.10", "port": 80, {web},
              "real_servers": [{{"address": "10.1.0.11", "forwarding": "masq"}}]}},
            {{"protocol": "udp", "address": "192.0.2.10", "port": 53, "scheduler": "rr",
              "real_servers": [{{"address": "10.1.0.21", "forwarding": "route",
                                 "weight": {dns_weight}}}]}}]}}"#
    );
    desired_state(&json)
}

fn names(keys: &std::collections::BTreeSet<lvs_model::ServiceKey>) -> Vec<String> {
    keys.iter().map(ToString::to_string).collect()
}

const WRR: &str = r#""scheduler": "wrr""#;
const WLC: &str = r#""scheduler": "wlc""#;

#[test]
fn a_weight_change_is_members_only_and_a_scheduler_change_is_not() {
    let old = state(1, WRR, 1);
    let new = state(2, WLC, 5);
    let touched = Touched::between(&old, &new);
    assert_eq!(touched.from_generation, 1);
    assert_eq!(names(&touched.services).len(), 2);
    assert_eq!(names(&touched.members_only), ["udp:192.0.2.10:53"]);
}

#[test]
fn a_service_stays_members_only_only_while_every_change_to_it_is() {
    let (first, second, third) = (state(1, WRR, 1), state(2, WRR, 2), state(3, WLC, 3));
    let mut touched = Touched::between(&first, &second);
    assert_eq!(names(&touched.members_only), ["udp:192.0.2.10:53"]);
    touched.extend(&Touched::between(&second, &third));
    assert_eq!(names(&touched.members_only), ["udp:192.0.2.10:53"]);
    assert_eq!(touched.services.len(), 2);

    // The other way round: a settings change first, then a weight change.
    let mut touched = Touched::between(&second, &third);
    let fourth = state(4, WLC, 4);
    touched.extend(&Touched::between(&third, &fourth));
    assert_eq!(names(&touched.members_only), ["udp:192.0.2.10:53"]);
    let web_settings = Touched::between(&third, &state(5, WRR, 4));
    touched.extend(&web_settings);
    assert!(touched
        .members_only
        .iter()
        .all(|k| k.to_string() != "tcp:192.0.2.10:80"));
}

#[test]
fn added_and_removed_services_are_read_whole() {
    let old = state(1, WRR, 1);
    let new = desired_state(
        r#"{"generation": 2, "timeouts": {}, "services": [
            {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
             "real_servers": [{"address": "10.1.0.11", "forwarding": "masq"}]}]}"#,
    );
    let touched = Touched::between(&old, &new);
    assert_eq!(names(&touched.services), ["udp:192.0.2.10:53"]);
    assert!(touched.members_only.is_empty());

    let back = Touched::between(&new, &state(3, WRR, 1));
    assert_eq!(names(&back.services), ["udp:192.0.2.10:53"]);
    assert!(back.members_only.is_empty());
}
