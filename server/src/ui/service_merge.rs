//! The settings form merged with what others changed since it was loaded: fields only I
//! changed are saved, fields only they changed keep theirs, and a field where mine would
//! undo or overwrite theirs is marked on the form, saved only once I choose, field by
//! field, to keep theirs or use mine.

use lvs_model::merge;
use lvs_model::spec::ServiceSpec;
use serde_json::{Map, Value};

use super::error::UiResult;
use super::form::FormState;
use super::pool_merge::{link, ChangeLink};
use super::service_form::{self, FIELDS};
use crate::edit::since::{self, Base};
use crate::edit::EditError;
use crate::state::AppState;

/// The prefix of each marked field's choice: `choose_scheduler` is `theirs` or `mine`.
pub const CHOOSE: &str = "choose_";

/// What to do with a submitted settings form.
#[derive(Debug)]
pub enum Merged {
    /// Save this spec; the form's `etag` is set to the service's ETag it was merged
    /// against, so a change made since is refused.
    Save(Box<ServiceSpec>),
    /// Show the form again with these fields to choose.
    Choose(SettingsMerge),
}

/// The marked fields of a settings form, for the service page.
#[derive(Debug)]
pub struct SettingsMerge {
    /// The generation the form was loaded at, and the cluster's now.
    pub from: u64,
    pub generation: u64,
    /// Why the settings as loaded are not known, when they are not.
    pub unknown: Option<String>,
    /// The newest change to the settings since, when known.
    pub change: Option<ChangeLink>,
    pub fields: Vec<FieldChoice>,
}

/// A field both changed: theirs and mine as the form shows them.
#[derive(Debug)]
pub struct FieldChoice {
    pub field: String,
    pub label: String,
    pub theirs: String,
    pub mine: String,
    /// `theirs`, `mine`, or empty while not chosen.
    pub chosen: String,
}

impl FieldChoice {
    pub fn input(&self) -> String {
        format!("{CHOOSE}{}", self.field)
    }
}

/// Merges `mine` (the form's spec, read without errors) with what changed since the
/// form's generation. A form that does not say its generation is saved as submitted,
/// under its own ETag.
pub async fn resolve(
    state: &AppState,
    cluster: &str,
    id: i64,
    form: &mut FormState,
    mine: ServiceSpec,
) -> UiResult<Merged> {
    let Ok(from) = form.value("generation").parse::<u64>() else {
        return Ok(Merged::Save(Box::new(mine)));
    };
    let since = since::service(state, cluster, id, from).await?;
    form.set("etag", &since.service_etag);
    let Ok(parsed) = mine.parse() else {
        // The model names the problems when it is saved.
        return Ok(Merged::Save(Box::new(mine)));
    };
    let theirs = ServiceSpec::from(since.current.service());
    let base = since.base().map(|b| ServiceSpec::from(b.service()));
    let shown = |spec: &ServiceSpec| -> Map<String, Value> {
        let Ok(Value::Object(all)) = serde_json::to_value(spec) else {
            return Map::new();
        };
        all.into_iter()
            .filter(|(name, _)| FIELDS.contains(&name.as_str()))
            .collect()
    };
    let normalized = ServiceSpec::from(&parsed);
    let merged = merge::fields(
        base.as_ref().map(shown).as_ref(),
        &shown(&theirs),
        &shown(&normalized),
    );
    let mut spec = match serde_json::to_value(&theirs) {
        Ok(Value::Object(all)) => all,
        _ => Map::new(),
    };
    for name in FIELDS {
        spec.remove(*name);
    }
    let mut choices = Vec::new();
    let mut unchosen = false;
    let mut result = merged.kept.clone();
    for conflict in &merged.conflicts {
        let name = conflict.field.as_str();
        let chosen = form.value(&format!("{CHOOSE}{name}")).to_owned();
        match chosen.as_str() {
            "mine" => match merged.chosen.get(name) {
                Some(value) => result.insert(name.to_owned(), value.clone()),
                None => result.remove(name),
            },
            "theirs" => None,
            _ => {
                unchosen = true;
                None
            }
        };
        choices.push(FieldChoice {
            field: name.to_owned(),
            label: name.replace('_', " "),
            theirs: shown_value(&theirs, name),
            mine: shown_value(&normalized, name),
            chosen: if matches!(chosen.as_str(), "theirs" | "mine") {
                chosen
            } else {
                String::new()
            },
        });
    }
    if unchosen {
        for choice in &choices {
            if choice.chosen.is_empty() {
                form.invalid(
                    &choice.field,
                    "changed by someone else since you loaded this form: choose below to keep \
                     theirs or use yours",
                );
            }
        }
        form.conflict = true;
        form.problem = Some(
            "Someone changed these settings after you loaded them, so nothing was saved. \
             Fields only you changed will be saved and fields only they changed keep theirs; \
             for each marked field, choose whether to keep their value or use yours, then save \
             again."
                .to_owned(),
        );
        return Ok(Merged::Choose(SettingsMerge {
            from,
            generation: since.generation,
            unknown: match &since.base {
                Base::Unknown(why) => Some(why.clone()),
                Base::Rebuilt(_) => None,
            },
            change: since.settings.as_ref().map(|by| link(&since.cluster, by)),
            fields: choices,
        }));
    }
    spec.extend(result);
    let spec: ServiceSpec = serde_json::from_value(Value::Object(spec)).map_err(|e| {
        EditError::Internal(anyhow::anyhow!("merged settings of service {id}: {e}"))
    })?;
    Ok(Merged::Save(Box::new(spec)))
}

/// A field's value as the form shows it: `wrr`, `sh-port, sh-fallback`, `none`.
fn shown_value(spec: &ServiceSpec, field: &str) -> String {
    let form = service_form::filled(spec);
    let values = form.values(field);
    match (field, values) {
        ("one_packet", []) => "off".to_owned(),
        (_, []) => "none".to_owned(),
        (_, values) if values.iter().all(String::is_empty) => "none".to_owned(),
        (_, values) => values.join(", "),
    }
}
