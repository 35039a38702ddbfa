//! The API's resources, as far as the commands read them; unknown fields are ignored, so
//! a newer server still works.

use lvs_model::agent::ObjectOutcome;
use lvs_model::spec::TimeoutsSpec;
use lvs_model::DiffSummary;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Cluster {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub generation: u64,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Director {
    pub name: String,
    pub status: DirectorStatus,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DirectorStatus {
    pub online: bool,
    pub last_seen: Option<String>,
    pub applied_generation: Option<u64>,
    /// `in_sync`, `behind`, `error`, `unmanaged`, `never_seen`.
    pub sync: String,
    #[serde(default)]
    pub last_errors: Vec<ObjectOutcome>,
    #[serde(default)]
    pub agent_version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    pub generation: u64,
    pub committed_at: String,
    pub source: String,
    pub summary: DiffSummary,
    #[serde(default)]
    pub author: Option<Author>,
}

#[derive(Debug, Deserialize)]
pub struct Author {
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A service or real server of the list endpoints: its id and key.
#[derive(Debug, Deserialize)]
pub struct Keyed {
    pub id: u64,
    pub key: String,
}

/// `in 3 of 3`, `error`, ... : a director's state in a few words.
pub fn director_state(status: &DirectorStatus) -> String {
    let mut words = status.sync.replace('_', " ");
    if !status.online && status.sync != "never_seen" {
        words.push_str(", offline");
    }
    words
}

/// A change summary in a few words: `+1 service, ~2 real servers`.
pub fn summary_words(summary: &DiffSummary) -> String {
    let mut parts = Vec::new();
    let mut count = |sign: &str, n: usize, what: &str| {
        if n > 0 {
            let plural = if n == 1 { "" } else { "s" };
            parts.push(format!("{sign}{n} {what}{plural}"));
        }
    };
    count("+", summary.services_added, "service");
    count("-", summary.services_removed, "service");
    count("~", summary.services_changed, "service");
    count("+", summary.real_servers_added, "real server");
    count("-", summary.real_servers_removed, "real server");
    count("~", summary.real_servers_changed, "real server");
    if summary.timeouts_changed {
        parts.push("timeouts".into());
    }
    if summary.host_changed {
        parts.push("host settings".into());
    }
    if parts.is_empty() {
        "no change".into()
    } else {
        parts.join(", ")
    }
}
