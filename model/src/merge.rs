//! Three-way merge of an edit made from an older copy: `base` is what the editor started
//! from, `theirs` what is stored now, `mine` what the editor submitted. What only one side
//! changed is taken from that side; what both changed differently is a conflict, which
//! keeps theirs unless the editor explicitly chooses mine. Objects are compared field by
//! field in their canonical spec form, so a field is named as the API names it.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::real_server::{RealServer, RealServerKey};
use crate::spec::RealServerSpec;

/// A field both sides changed since the base, to different values (`Null` when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    pub field: String,
    pub base: Value,
    pub theirs: Value,
    pub mine: Value,
}

/// One object merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<T> {
    /// Every change of either side, with theirs at each conflict.
    pub kept: T,
    /// The same with mine at each conflict.
    pub chosen: T,
    pub conflicts: Vec<FieldConflict>,
}

/// Merges one object field by field; without a base (both sides added it, or it could not
/// be known), every field they set differently is a conflict.
pub fn fields<T>(base: Option<&T>, theirs: &T, mine: &T) -> Merged<T>
where
    T: Serialize + DeserializeOwned + Clone,
{
    let (Some(theirs_map), Some(mine_map)) = (object(Some(theirs)), object(Some(mine))) else {
        // Not an object: the whole value is the one field.
        return whole(base, theirs, mine);
    };
    let known = base.is_some();
    let base_map = object(base).unwrap_or_default();
    let names: Vec<&String> = {
        let mut names: Vec<&String> = base_map
            .keys()
            .chain(theirs_map.keys())
            .chain(mine_map.keys())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let (mut kept, mut chosen, mut conflicts) = (Map::new(), Map::new(), Vec::new());
    for name in names {
        let get = |map: &Map<String, Value>| map.get(name).cloned().unwrap_or(Value::Null);
        let (b, t, m) = (get(&base_map), get(&theirs_map), get(&mine_map));
        let (keep, choose) = if t == m || (known && m == b) {
            (t.clone(), t)
        } else if known && t == b {
            (m.clone(), m)
        } else {
            conflicts.push(FieldConflict {
                field: name.clone(),
                base: b,
                theirs: t.clone(),
                mine: m.clone(),
            });
            (t, m)
        };
        if !keep.is_null() {
            kept.insert(name.clone(), keep);
        }
        if !choose.is_null() {
            chosen.insert(name.clone(), choose);
        }
    }
    match (from_map(kept), from_map(chosen)) {
        (Some(kept), Some(chosen)) => Merged {
            kept,
            chosen,
            conflicts,
        },
        // A mix of the two sides that no longer reads as the type: the whole is one field.
        _ => whole(base, theirs, mine),
    }
}

/// Merges the value as one field.
fn whole<T: Serialize + Clone>(base: Option<&T>, theirs: &T, mine: &T) -> Merged<T> {
    let json = |value: Option<&T>| value.map_or(Value::Null, |v| to_value(v));
    let (b, t, m) = (json(base), json(Some(theirs)), json(Some(mine)));
    let pick = |value: &T| Merged {
        kept: value.clone(),
        chosen: value.clone(),
        conflicts: Vec::new(),
    };
    let known = base.is_some();
    if t == m || (known && m == b) {
        pick(theirs)
    } else if known && t == b {
        pick(mine)
    } else {
        Merged {
            kept: theirs.clone(),
            chosen: mine.clone(),
            conflicts: vec![FieldConflict {
                field: String::new(),
                base: b,
                theirs: t,
                mine: m,
            }],
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn object<T: Serialize>(value: Option<&T>) -> Option<Map<String, Value>> {
    match to_value(value?) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Option<T> {
    serde_json::from_value(Value::Object(map)).ok()
}

/// A real server both sides changed differently: its line in the merged pool keeps
/// theirs unless mine is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct LineConflict {
    pub key: RealServerKey,
    pub base: Option<RealServerSpec>,
    /// `None`: they removed it.
    pub theirs: Option<RealServerSpec>,
    /// `None`: mine removes it.
    pub mine: Option<RealServerSpec>,
    /// The line when mine is chosen: theirs with my value at each conflicting field, or
    /// `None` when mine removes it.
    pub chosen: Option<RealServerSpec>,
    /// The fields both changed; empty when one side removed the real server.
    pub fields: Vec<FieldConflict>,
}

/// A pool merged: the pool with theirs at every conflict, and the conflicts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolMerge {
    /// By address and port.
    pub kept: Vec<RealServerSpec>,
    pub conflicts: Vec<LineConflict>,
}

impl PoolMerge {
    /// The pool with mine chosen at the conflicts whose keys `choose` accepts.
    pub fn with_chosen(&self, choose: impl Fn(&RealServerKey) -> bool) -> Vec<RealServerSpec> {
        let mut pool: BTreeMap<RealServerKey, RealServerSpec> = self
            .kept
            .iter()
            .filter_map(|spec| Some((spec_key(spec)?, spec.clone())))
            .collect();
        for conflict in self.conflicts.iter().filter(|c| choose(&c.key)) {
            match &conflict.chosen {
                Some(chosen) => pool.insert(conflict.key, chosen.clone()),
                None => pool.remove(&conflict.key),
            };
        }
        pool.into_values().collect()
    }
}

/// The key of a spec made from a [`RealServer`].
fn spec_key(spec: &RealServerSpec) -> Option<RealServerKey> {
    let address = spec.address.as_deref()?.parse().ok()?;
    let port = u16::try_from(spec.port?).ok()?;
    Some((address, port))
}

/// Merges three versions of one service's pool, real server by real server (by address
/// and port), then field by field. Without a base (it could not be known), every real
/// server where mine and theirs differ is a conflict.
pub fn pool(base: Option<&[RealServer]>, theirs: &[RealServer], mine: &[RealServer]) -> PoolMerge {
    let by_key = |servers: &[RealServer]| {
        servers
            .iter()
            .map(|s| (s.key(), RealServerSpec::from(s)))
            .collect::<BTreeMap<_, _>>()
    };
    let known = base.is_some();
    let base = by_key(base.unwrap_or_default());
    let theirs = by_key(theirs);
    let mine = by_key(mine);
    let mut keys: Vec<RealServerKey> = base
        .keys()
        .chain(theirs.keys())
        .chain(mine.keys())
        .copied()
        .collect();
    keys.sort();
    keys.dedup();
    let mut merge = PoolMerge::default();
    for key in keys {
        let (b, t, m) = (base.get(&key), theirs.get(&key), mine.get(&key));
        let conflict = |chosen: Option<&RealServerSpec>, fields| LineConflict {
            key,
            base: b.cloned(),
            theirs: t.cloned(),
            mine: m.cloned(),
            chosen: chosen.cloned(),
            fields,
        };
        if t == m || (known && m == b) {
            merge.kept.extend(t.cloned());
        } else if known && t == b {
            merge.kept.extend(m.cloned());
        } else if let (Some(t), Some(m)) = (t, m) {
            let merged = fields(b.filter(|_| known), t, m);
            if !merged.conflicts.is_empty() {
                merge
                    .conflicts
                    .push(conflict(Some(&merged.chosen), merged.conflicts));
            }
            merge.kept.push(merged.kept);
        } else {
            // One side removed it, the other changed it.
            merge.kept.extend(t.cloned());
            merge.conflicts.push(conflict(m, Vec::new()));
        }
    }
    merge
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceKey;

    fn service() -> ServiceKey {
        crate::spec::ServiceSpec {
            protocol: Some("tcp".into()),
            address: Some("192.0.2.1".into()),
            port: Some(80),
            ..Default::default()
        }
        .parse_key()
        .expect("a key")
    }

    fn server(address: &str, weight: i64, state: &str) -> RealServer {
        RealServerSpec {
            address: Some(address.into()),
            port: Some(80),
            forwarding: Some("route".into()),
            weight: Some(weight),
            state: Some(state.into()),
            ..RealServerSpec::default()
        }
        .parse(&service())
        .expect("a real server")
    }

    fn weights(pool: &[RealServerSpec]) -> Vec<(String, i64, String)> {
        pool.iter()
            .map(|s| {
                (
                    s.address.clone().unwrap_or_default(),
                    s.weight.unwrap_or_default(),
                    s.state.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn unrelated_edits_merge_without_conflicts() {
        let base = [
            server("10.1.0.1", 1, "active"),
            server("10.1.0.2", 1, "active"),
        ];
        // They set .1's weight and added .3; I drained .2 and added .4.
        let theirs = [
            server("10.1.0.1", 5, "active"),
            server("10.1.0.2", 1, "active"),
            server("10.1.0.3", 1, "active"),
        ];
        let mine = [
            server("10.1.0.1", 1, "active"),
            server("10.1.0.2", 1, "drained"),
            server("10.1.0.4", 2, "active"),
        ];
        let merge = pool(Some(&base), &theirs, &mine);
        assert_eq!(merge.conflicts, []);
        assert_eq!(
            weights(&merge.kept),
            [
                ("10.1.0.1".into(), 5, "active".into()),
                ("10.1.0.2".into(), 1, "drained".into()),
                ("10.1.0.3".into(), 1, "active".into()),
                ("10.1.0.4".into(), 2, "active".into()),
            ]
        );
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_conflict() {
        let base = [server("10.1.0.1", 1, "active")];
        let both = [server("10.1.0.1", 3, "drained")];
        let merge = pool(Some(&base), &both, &both);
        assert_eq!(merge.conflicts, []);
        assert_eq!(
            weights(&merge.kept),
            [("10.1.0.1".into(), 3, "drained".into())]
        );
    }

    #[test]
    fn undoing_their_field_is_a_conflict_that_keeps_theirs_unless_chosen() {
        let base = [server("10.1.0.1", 1, "active")];
        let theirs = [server("10.1.0.1", 5, "drained")];
        // I changed the weight too, and left the state as it was: only the weight conflicts.
        let mine = [server("10.1.0.1", 3, "active")];
        let merge = pool(Some(&base), &theirs, &mine);
        assert_eq!(merge.conflicts.len(), 1);
        let conflict = &merge.conflicts[0];
        let fields: Vec<&str> = conflict.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["weight"]);
        assert_eq!(conflict.fields[0].theirs, Value::from(5));
        assert_eq!(conflict.fields[0].mine, Value::from(3));
        assert_eq!(
            weights(&merge.kept),
            [("10.1.0.1".into(), 5, "drained".into())]
        );
        let chosen = merge.with_chosen(|_| true);
        assert_eq!(weights(&chosen), [("10.1.0.1".into(), 3, "drained".into())]);
        assert_eq!(merge.with_chosen(|_| false), merge.kept);
    }

    #[test]
    fn removing_what_they_changed_and_changing_what_they_removed_conflict() {
        let base = [
            server("10.1.0.1", 1, "active"),
            server("10.1.0.2", 1, "active"),
        ];
        // They drained .1 and removed .2; my stale copy removes .1 and reweights .2.
        let theirs = [server("10.1.0.1", 1, "drained")];
        let mine = [server("10.1.0.2", 4, "active")];
        let merge = pool(Some(&base), &theirs, &mine);
        assert_eq!(
            weights(&merge.kept),
            [("10.1.0.1".into(), 1, "drained".into())]
        );
        let removed = &merge.conflicts[0];
        assert_eq!(
            (removed.mine.as_ref(), removed.chosen.as_ref()),
            (None, None)
        );
        let readded = &merge.conflicts[1];
        assert!(readded.theirs.is_none());
        assert_eq!(readded.chosen.as_ref().and_then(|s| s.weight), Some(4));
        let first = removed.key;
        assert_eq!(
            weights(&merge.with_chosen(|key| *key == first)),
            [],
            "choosing mine removes .1 and keeps .2 removed"
        );
        assert_eq!(
            weights(&merge.with_chosen(|_| true)),
            [("10.1.0.2".into(), 4, "active".into())]
        );
    }

    #[test]
    fn a_line_i_left_alone_follows_their_removal() {
        let base = [server("10.1.0.1", 1, "active")];
        let merge = pool(Some(&base), &[], &base);
        assert_eq!(merge, PoolMerge::default());
    }

    #[test]
    fn fields_without_a_base_conflict_where_they_differ() {
        let theirs = [server("10.1.0.1", 2, "active")];
        let mine = [server("10.1.0.1", 3, "active")];
        let merge = pool(Some(&[]), &theirs, &mine);
        let fields: Vec<&str> = merge.conflicts[0]
            .fields
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["weight"]);
    }

    #[test]
    fn without_a_base_every_difference_is_a_conflict() {
        let theirs = [
            server("10.1.0.1", 1, "active"),
            server("10.1.0.2", 1, "active"),
        ];
        let mine = [
            server("10.1.0.1", 1, "active"),
            server("10.1.0.3", 1, "active"),
        ];
        let merge = pool(None, &theirs, &mine);
        assert_eq!(merge.kept, merge.with_chosen(|_| false));
        assert_eq!(
            weights(&merge.kept),
            [
                ("10.1.0.1".into(), 1, "active".into()),
                ("10.1.0.2".into(), 1, "active".into()),
            ]
        );
        let keys: Vec<String> = merge
            .conflicts
            .iter()
            .map(|c| c.key.0.to_string())
            .collect();
        assert_eq!(keys, ["10.1.0.2", "10.1.0.3"]);
    }

    #[test]
    fn settings_merge_field_by_field() {
        use crate::spec::ServiceSpec;
        let service = |scheduler: &str, description: &str| ServiceSpec {
            protocol: Some("tcp".into()),
            address: Some("192.0.2.1".into()),
            port: Some(80),
            scheduler: Some(scheduler.into()),
            description: description.into(),
            ..ServiceSpec::default()
        };
        let base = service("wlc", "");
        let merged = fields(Some(&base), &service("sh", ""), &service("rr", "mine"));
        assert_eq!(merged.kept, service("sh", "mine"));
        assert_eq!(merged.chosen, service("rr", "mine"));
        let conflicts: Vec<(&str, Value, Value)> = merged
            .conflicts
            .iter()
            .map(|c| (c.field.as_str(), c.theirs.clone(), c.mine.clone()))
            .collect();
        assert_eq!(conflicts, [("scheduler", "sh".into(), "rr".into())]);
    }
}
