//! Real-server hosts: add, edit the description and addresses, remove. Fleet-wide and
//! outside every desired state, so none of it changes a generation; new addresses wake the
//! host's long-polls, which read its needs again.

use std::net::IpAddr;

use lvs_model::spec::RealServerHostSpec;
use serde_json::Value;

use super::{audit, lookup, patch, unique, Author, EditError, EditResult, IfMatch};
use crate::db::real_server_hosts::{self, HostRow};
use crate::db::{now_millis, Tx};
use crate::resources::real_server_host_etag;
use crate::state::AppState;

/// Adds a host.
pub async fn create(
    state: &AppState,
    spec: &RealServerHostSpec,
    author: &Author,
) -> EditResult<HostRow> {
    let settings = spec.parse()?;
    let mut tx = state.db.write().await?;
    // A repeated create is told the host exists, before its addresses are found taken.
    let what = || format!("real-server host {}", settings.name);
    if real_server_hosts::get(&mut tx, settings.name.as_str())
        .await?
        .is_some()
    {
        return Err(EditError::already_exists(what()));
    }
    check_unclaimed(&mut tx, spec, &settings.addresses, None).await?;
    let inserted = real_server_hosts::insert(&mut tx, &settings, now_millis()).await;
    unique(inserted, what)?;
    let row = lookup::real_server_host(&mut tx, settings.name.as_str()).await?;
    let detail = addresses_text(&row.addresses);
    audit(
        &mut tx,
        author,
        "real_server_host_added",
        target(&row),
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Applies a JSON merge patch to a host's description and addresses; an absent field
/// keeps its value, and the name cannot change.
pub async fn merge_patch(
    state: &AppState,
    name: &str,
    changes: &Value,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<HostRow> {
    let mut tx = state.db.write().await?;
    let row = lookup::real_server_host(&mut tx, name).await?;
    if_match.check(&real_server_host_etag(&row))?;
    let current = RealServerHostSpec {
        name: Some(row.name.clone()),
        description: row.description.clone(),
        addresses: row.addresses.iter().map(IpAddr::to_string).collect(),
    };
    let mut spec: RealServerHostSpec = patch::merge(&current, changes)?;
    spec.name = Some(patch::same_name(spec.name, &row.name)?);
    let settings = spec.parse()?;
    let mut changed = Vec::new();
    if settings.description.as_str() != row.description {
        changed.push("description");
    }
    if settings.addresses != row.addresses {
        changed.push("addresses");
    }
    if changed.is_empty() {
        return Ok(row);
    }
    check_unclaimed(&mut tx, &spec, &settings.addresses, Some(row.id)).await?;
    let updated = real_server_hosts::update(&mut tx, &row, &settings, now_millis()).await;
    unique(updated, || {
        format!("an address of real-server host {}", row.name)
    })?;
    let detail = if changed.contains(&"addresses") {
        format!(
            "{}: {}",
            changed.join(", "),
            addresses_text(&settings.addresses)
        )
    } else {
        changed.join(", ")
    };
    audit(
        &mut tx,
        author,
        "real_server_host_edited",
        target(&row),
        detail,
    )
    .await?;
    let row = lookup::real_server_host(&mut tx, name).await?;
    tx.commit().await?;
    Ok(row)
}

/// Removes a host, its token with it: its agent is refused from then on.
pub async fn delete(
    state: &AppState,
    name: &str,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<()> {
    let mut tx = state.db.write().await?;
    let row = lookup::real_server_host(&mut tx, name).await?;
    if_match.check(&real_server_host_etag(&row))?;
    real_server_hosts::delete(&mut tx, row.id).await?;
    audit(
        &mut tx,
        author,
        "real_server_host_deleted",
        target(&row),
        String::new(),
    )
    .await?;
    tx.commit().await?;
    state.agents.forget_host(row.id);
    Ok(())
}

/// How the audit log names a host.
pub(super) fn target(row: &HostRow) -> String {
    format!("real-server host {}", row.name)
}

fn addresses_text(addresses: &[IpAddr]) -> String {
    let texts: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
    texts.join(", ")
}

/// Refuses addresses another host (than `except`) has, naming it: an address belongs to
/// one host at most, or two agents would answer for it.
async fn check_unclaimed(
    tx: &mut Tx,
    spec: &RealServerHostSpec,
    addresses: &[IpAddr],
    except: Option<i64>,
) -> EditResult<()> {
    let claimed = real_server_hosts::claiming(tx, addresses).await?;
    let Some((address, other)) = claimed.iter().find(|(_, h)| Some(h.id) != except) else {
        return Ok(());
    };
    // Named as the caller wrote it: the parsed list is sorted.
    let field = spec
        .addresses
        .iter()
        .position(|text| text.parse::<IpAddr>().ok() == Some(*address))
        .map_or_else(|| "addresses".to_owned(), |i| format!("addresses[{i}]"));
    Err(EditError::Conflict {
        code: "address_claimed",
        detail: format!(
            "{field}: {address} belongs to real-server host {}; an address belongs to one \
             host at most",
            other.name
        ),
    })
}
