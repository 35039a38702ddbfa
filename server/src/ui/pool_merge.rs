//! The bulk editor's text merged with what others changed since it was loaded: the pool
//! to plan, and the marked lines that would undo someone's change, each applied only when
//! its box is ticked.

use std::collections::HashSet;
use std::net::SocketAddr;

use lvs_model::merge::{self, LineConflict};
use lvs_model::spec::RealServerSpec;
use lvs_model::{RealServer, RealServerKey};

use super::format;
use super::page::path_segment;
use super::pool_text;
use crate::edit::since::{Base, ChangeBy, Since};

/// The name of the marked lines' checkboxes; each one's value is its line's address and port.
pub const USE_MINE: &str = "use_mine";

/// What the merge did, for the plan page.
#[derive(Debug)]
pub struct MergeView {
    /// The generation the text was loaded at, and the cluster's now.
    pub from: u64,
    pub generation: u64,
    /// Why the pool as it was loaded is not known, when it is not.
    pub unknown: Option<String>,
    pub marked: Vec<Marked>,
}

/// A line of mine that would undo or overwrite someone's change.
#[derive(Debug)]
pub struct Marked {
    /// `10.1.0.1:80`: the checkbox's value and label.
    pub key: String,
    /// What they did, in words (`weight 1 → 5`, `removed it`).
    pub theirs: String,
    /// Who and when, with the change's page; `None` when not known.
    pub change: Option<ChangeLink>,
    /// What ticking the line does, in words.
    pub mine: String,
    pub ticked: bool,
}

#[derive(Debug)]
pub struct ChangeLink {
    pub by: String,
    pub when: String,
    pub href: String,
    pub generation: u64,
}

/// The pool to plan from `mine` (the submitted text's servers) and what others changed,
/// with mine at each conflict whose key is in `ticked`; `None` when a server of `mine`
/// does not read (the plan names the problem).
pub fn resolve(
    since: &Since,
    mine: &[RealServerSpec],
    ticked: &[String],
) -> Option<(Vec<RealServerSpec>, MergeView)> {
    let key = since.current.key();
    let mine: Vec<RealServer> = mine
        .iter()
        .map(|s| s.parse(key).ok())
        .collect::<Option<_>>()?;
    let theirs: Vec<RealServer> = since.current.real_servers().cloned().collect();
    let base: Option<Vec<RealServer>> = since.base().map(|b| b.real_servers().cloned().collect());
    let merged = merge::pool(base.as_deref(), &theirs, &mine);
    let ticked: HashSet<RealServerKey> = ticked
        .iter()
        .filter_map(|t| t.parse::<SocketAddr>().ok())
        .map(|a| (a.ip(), a.port()))
        .collect();
    let pool = merged.with_chosen(|key| ticked.contains(key));
    let marked = merged
        .conflicts
        .iter()
        .map(|conflict| Marked {
            key: SocketAddr::from(conflict.key).to_string(),
            theirs: theirs_text(conflict),
            change: since
                .real_servers
                .get(&conflict.key)
                .map(|by| link(&since.cluster, by)),
            mine: mine_text(conflict),
            ticked: ticked.contains(&conflict.key),
        })
        .collect();
    let view = MergeView {
        from: since.from,
        generation: since.generation,
        unknown: match &since.base {
            Base::Unknown(why) => Some(why.clone()),
            Base::Rebuilt(_) => None,
        },
        marked,
    };
    Some((pool, view))
}

/// Who made the change that produced `by`, when, and its page.
pub fn link(cluster: &str, by: &ChangeBy) -> ChangeLink {
    ChangeLink {
        by: by.author.as_ref().map_or_else(
            || "someone (not recorded)".to_owned(),
            |a| a.actor.to_string(),
        ),
        when: format::utc(by.committed_at),
        href: format!(
            "/clusters/{}/changes/{}",
            path_segment(cluster),
            by.generation
        ),
        generation: by.generation,
    }
}

/// What they did to the line since it was loaded.
fn theirs_text(conflict: &LineConflict) -> String {
    match (&conflict.base, &conflict.theirs) {
        (_, None) => "removed it".to_owned(),
        (None, Some(theirs)) => format!("made it {}", line(theirs)),
        (Some(base), Some(theirs)) => changes(base, theirs),
    }
}

/// What choosing my line does to the pool as it is now.
fn mine_text(conflict: &LineConflict) -> String {
    match (&conflict.theirs, &conflict.chosen) {
        (Some(_), None) => "remove it".to_owned(),
        (None, Some(chosen)) => format!("add it back as {}", line(chosen)),
        (Some(theirs), Some(chosen)) => changes(theirs, chosen),
        (None, None) => "nothing".to_owned(),
    }
}

/// `weight 1 → 5, state active → drained`.
fn changes(old: &RealServerSpec, new: &RealServerSpec) -> String {
    let (old, new) = (json(old), json(new));
    let mut parts = Vec::new();
    for (name, value) in &new {
        let before = old.get(name).cloned().unwrap_or_default();
        if *value != before {
            parts.push(format!("{name} {} → {}", shown(&before), shown(value)));
        }
    }
    for (name, before) in &old {
        if !new.contains_key(name) {
            parts.push(format!("{name} {} → none", shown(before)));
        }
    }
    // By field name, whatever order the JSON map keeps.
    parts.sort();
    if parts.is_empty() {
        "no change".to_owned()
    } else {
        parts.join(", ")
    }
}

fn json(spec: &RealServerSpec) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(spec) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "none".to_owned(),
        serde_json::Value::String(text) if text.is_empty() => "\"\"".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A server as one line of the editor's text.
fn line(spec: &RealServerSpec) -> String {
    pool_text::format(std::slice::from_ref(spec))
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::spec::ServiceSpec;

    fn servers(lines: &str) -> Vec<RealServer> {
        let key = ServiceSpec {
            protocol: Some("tcp".into()),
            address: Some("192.0.2.1".into()),
            port: Some(80),
            ..ServiceSpec::default()
        }
        .parse_key()
        .expect("a key");
        pool_text::parse(lines)
            .expect("lines")
            .iter()
            .map(|(_, spec)| spec.parse(&key).expect("a server"))
            .collect()
    }

    #[test]
    fn marked_lines_say_what_they_did_and_what_mine_does() {
        let base =
            servers("10.1.0.1:80 weight=1 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq\n");
        let theirs = servers("10.1.0.1:80 weight=5 forwarding=masq state=drained\n");
        let mine =
            servers("10.1.0.1:80 weight=3 forwarding=masq\n10.1.0.2:80 weight=2 forwarding=masq\n");
        let merged = merge::pool(Some(&base), &theirs, &mine);
        let said: Vec<(String, String)> = merged
            .conflicts
            .iter()
            .map(|c| (theirs_text(c), mine_text(c)))
            .collect();
        assert_eq!(
            said,
            [
                (
                    "state active → drained, weight 1 → 5".to_owned(),
                    "weight 5 → 3".to_owned()
                ),
                (
                    "removed it".to_owned(),
                    "add it back as 10.1.0.2:80 weight=2 forwarding=masq".to_owned()
                ),
            ]
        );
    }
}
