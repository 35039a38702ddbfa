//! Adopting a director's existing IPVS services and connection timeouts as a cluster's
//! first desired state.

use lvs_model::spec::{DesiredStateSpec, ServiceSpec, TimeoutsSpec};
use lvs_model::{Diff, Timeouts};

use super::lookup;
use super::{Author, Source};
use super::{EditError, EditResult};
use crate::db::{clusters, desired_state, director_status, now_millis};
use crate::state::AppState;

/// The kernel's own timeouts, in seconds, before anyone sets them: TCP established
/// (`ip_vs_proto_tcp.c`, 15 min), TCP after a FIN (2 min) and UDP (`ip_vs_proto_udp.c`,
/// 5 min), as `ipvsadm -L --timeout` shows them on a fresh director.
const KERNEL_DEFAULTS: TimeoutsSpec = TimeoutsSpec {
    tcp: Some(900),
    tcpfin: Some(120),
    udp: Some(300),
};

/// What an import did: the diff it committed, and what it could not take from the
/// director, each with the reason.
#[derive(Debug)]
pub struct Imported {
    pub diff: Diff,
    pub not_imported: Vec<NotImported>,
}

/// Something of the director's that the import left out.
#[derive(Debug, Clone)]
pub struct NotImported {
    /// `timeouts`.
    pub what: &'static str,
    pub reason: String,
}

/// Takes the services `from_director`'s agent found in its kernel (and left alone, as the
/// cluster's desired state was never set) as the cluster's desired state, with the
/// connection timeouts it found there, and returns the diff (generation 0 to 1). Only
/// while the cluster is at generation 0: 409 `already_managed` afterwards, `not_reported`
/// before the agent's first report. Recorded as made through [`Source::Import`] by whoever asked.
pub async fn import(
    state: &AppState,
    cluster: &str,
    from_director: &str,
    author: &Author,
) -> EditResult<Imported> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, cluster).await?;
    if row.generation() != 0 {
        return Err(EditError::Conflict {
            code: "already_managed",
            detail: format!(
                "cluster {cluster} is at generation {}: its desired state is already managed \
                 here, and import only adopts a director's services before it ever was",
                row.generation()
            ),
        });
    }
    let director = lookup::director(&mut tx, &row, from_director).await?;
    let Some(unmanaged) = director_status::unmanaged(&mut tx, director.id).await? else {
        return Err(EditError::Conflict {
            code: "not_reported",
            detail: format!(
                "director {} has not reported yet; start its agent and try again",
                director.name
            ),
        });
    };
    let mut services: Vec<ServiceSpec> = serde_json::from_str(&unmanaged.services)
        .map_err(|e| anyhow::anyhow!("stored unmanaged services are unreadable: {e}"))?;
    // A report may leave out the pool of a service without real servers; the document
    // this builds must write it out.
    for service in &mut services {
        service.real_servers.get_or_insert_with(Vec::new);
    }
    let loaded = desired_state::load(&mut tx, &row).await?;
    let mut not_imported = Vec::new();
    let timeouts = match unmanaged.timeouts {
        Some(json) => {
            let found: TimeoutsSpec = serde_json::from_str(&json)
                .map_err(|e| anyhow::anyhow!("stored unmanaged timeouts are unreadable: {e}"))?;
            with_found_timeouts(loaded.state.timeouts, found)
        }
        None => {
            not_imported.push(NotImported {
                what: "timeouts",
                reason: format!(
                    "the agent of director {} did not report its kernel's connection \
                     timeouts (it predates reporting them), so the cluster's stay as they \
                     were; set them on cluster {} if the director's differ from them",
                    director.name, row.name
                ),
            });
            loaded.state.timeouts.into()
        }
    };
    let document = DesiredStateSpec {
        cluster: None,
        generation: None,
        timeouts: Some(timeouts),
        host: None,
        services: Some(services),
    };
    let mut wanted = document.parse()?;
    wanted.generation = 0;
    // An import brings services and timeouts; the host settings stay the cluster's.
    wanted.host = loaded.state.host.clone();
    let mut diff = Diff::between(&loaded.state, &wanted);
    let now = now_millis();
    desired_state::apply(&mut tx, &row, &loaded, &diff, now).await?;
    clusters::bump_generation(&mut tx, row.id, &mut diff, &author.via(Source::Import), now).await?;
    tx.commit().await?;
    tracing::info!(cluster = %row.name, director = %director.name,
        services = wanted.services().len(),
        "imported the director's services as the desired state");
    for left_out in &not_imported {
        tracing::warn!(cluster = %row.name, director = %director.name, what = left_out.what,
            reason = %left_out.reason, "not imported");
    }
    Ok(Imported { diff, not_imported })
}

/// The cluster's timeouts, each it leaves unset taken from those the director reported.
/// A reported value equal to the kernel's default stays unset (null: the kernel's
/// default): that is how a cluster says "the kernel's own value", which every director
/// nobody tuned by hand holds already, and pinning values nobody chose would make every
/// import of an untouched director a timeouts change written to every director. A value
/// the cluster sets is its own (its agent applies it even at generation 0, so the director
/// does not report it).
fn with_found_timeouts(cluster: Timeouts, found: TimeoutsSpec) -> TimeoutsSpec {
    let set = TimeoutsSpec::from(cluster);
    let pick = |set: Option<i64>, found: Option<i64>, default: Option<i64>| {
        set.or(found.filter(|&seconds| Some(seconds) != default))
    };
    TimeoutsSpec {
        tcp: pick(set.tcp, found.tcp, KERNEL_DEFAULTS.tcp),
        tcpfin: pick(set.tcpfin, found.tcpfin, KERNEL_DEFAULTS.tcpfin),
        udp: pick(set.udp, found.udp, KERNEL_DEFAULTS.udp),
    }
}
