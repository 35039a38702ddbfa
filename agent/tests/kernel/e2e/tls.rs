//! Over HTTPS: the server with `--tls-cert`, the agent with `--ca-file`.

use std::time::Duration;

use super::{fleet_with_tls, wait_all_in_sync, wait_rules, web, web_rules};

/// An agent that verifies the server's certificate against its CA file follows the API as
/// over plain HTTP.
#[test]
fn an_agent_with_the_servers_ca_follows_it_over_https() {
    let mut fleet = fleet_with_tls("tls", 1);
    fleet.start_agents();
    let generation = fleet.put_state(&web([1, 1]));
    wait_rules(
        &fleet.directors,
        &web_rules([1, 1]),
        Duration::from_secs(20),
    );
    wait_all_in_sync(&fleet, generation);
    let generation = fleet.put_state(&web([1, 3]));
    wait_rules(
        &fleet.directors,
        &web_rules([1, 3]),
        Duration::from_secs(20),
    );
    wait_all_in_sync(&fleet, generation);
}
