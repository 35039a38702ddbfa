//! `GET /metrics`: what Prometheus scrapes, with a viewer's API token like any read.
//!
//! The handler only gathers: short reads of the database and of the agents' in-memory
//! state, each lock held for a copy of an `Arc`. Formatting, whose cost grows with the
//! series, runs on a low-priority thread of its own, so a scrape of a big fleet never
//! delays the API; its text streams out piece by piece as it is written, so the scraper
//! reads while the server writes and the whole text is never held at once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use tokio_stream::wrappers::ReceiverStream;

use super::error::{ApiError, ApiResult};
use crate::db::{clusters, director_status, directors, now_millis, real_servers, Tx};
use crate::metrics::weights::StoredWeight;
use crate::metrics::{self, DirectorSample, Flow, Reported, Scrape, Weights};
use crate::resources::directors::Director;
use crate::state::AppState;

/// Scrape the server's and the fleet's metrics for Prometheus.
///
/// In the Prometheus text format (0.0.4): API requests by route, each director's sync
/// state and generations, and the agents' IPVS statistics under node_exporter's names
/// (`node_ipvs_*`) with `cluster` and `director` labels, broken down no finer than the
/// server's `--metrics-detail`. Needs a viewer's API token.
#[utoipa::path(get, operation_id = "scrapeMetrics", path = "/metrics", tag = "metrics",
    responses((status = 200, description = "The metrics, in the Prometheus text format",
        content_type = "text/plain", body = String)))]
pub async fn scrape(State(state): State<AppState>) -> ApiResult<Response> {
    let scrape = gather(&state).await?;
    // A few pieces in flight: the text is written as fast as the scraper reads it.
    let (pieces, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let sent = pieces.clone();
        let renderer = metrics.clone();
        let rendered = metrics
            .off_api(move || {
                renderer.render(scrape, &mut |piece| match sent
                    .blocking_send(Ok(Bytes::from(piece)))
                {
                    Ok(()) => Flow::Continue(()),
                    Err(_) => Flow::Break(()),
                })
            })
            .await;
        let error = match rendered {
            Ok(Ok(())) => return,
            Ok(Err(error)) => anyhow::Error::new(error).context("formatting the metrics"),
            Err(error) => error.context("rendering the metrics"),
        };
        tracing::error!(error = format!("{error:#}"), "a scrape of /metrics failed");
        // The answer is cut short with an error, not ended as if it were whole.
        let _ = pieces
            .send(Err(std::io::Error::other(
                "the metrics could not be rendered",
            )))
            .await;
    });
    let body = Body::from_stream(ReceiverStream::new(body));
    Ok(([(CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response())
}

/// Every director with its status, and the latest statistics of those online.
async fn gather(state: &AppState) -> ApiResult<Scrape> {
    let now = now_millis();
    let fresh_within = state.agents.options.online_within_millis();
    let mut tx = state.db.read().await?;
    let mut scrape = Scrape::default();
    let listed = clusters::list(&mut tx, None, None, -1).await?;
    state
        .metrics
        .weights
        .keep_only(&listed.iter().map(|c| c.id).collect::<Vec<_>>());
    for cluster in listed {
        let statuses: HashMap<i64, _> = director_status::of_cluster(&mut tx, cluster.id, None)
            .await?
            .into_iter()
            .map(|s| (s.director_id, s))
            .collect();
        let name: Arc<str> = Arc::from(cluster.name.as_str());
        let mut weights: Option<Arc<Weights>> = None;
        for row in directors::list(&mut tx, cluster.id, None, None, -1).await? {
            let status = statuses.get(&row.id);
            let director = Director::new(&row, &cluster, status, &state.agents, now);
            scrape.directors.push(DirectorSample {
                cluster: cluster.name.clone(),
                director: row.name.clone(),
                sync: director.status.sync.as_str(),
                online: director.status.online,
                applied_generation: director.status.applied_generation,
                desired_generation: cluster.generation(),
                last_seen: status
                    .and_then(|s| s.last_seen)
                    .max(state.agents.last_seen(row.id)),
            });
            let Some(latest) = state
                .agents
                .stats
                .latest(row.id)
                .filter(|l| l.cluster_id == cluster.id && now - l.received_at <= fresh_within)
            else {
                continue;
            };
            let weights = match &weights {
                Some(weights) => weights.clone(),
                None => {
                    let read =
                        cluster_weights(state, &mut tx, cluster.id, cluster.generation()).await?;
                    weights.insert(read).clone()
                }
            };
            scrape.reported.push(Reported {
                cluster: name.clone(),
                director: row.name,
                report: latest.report,
                weights,
            });
        }
    }
    Ok(scrape)
}

/// The cluster's weights at `generation`: cached, or read and cached.
async fn cluster_weights(
    state: &AppState,
    tx: &mut Tx,
    cluster_id: i64,
    generation: u64,
) -> ApiResult<Arc<Weights>> {
    if let Some(weights) = state.metrics.weights.get(cluster_id, generation) {
        return Ok(weights);
    }
    let rows = real_servers::kernel_weights(tx, cluster_id).await?;
    // Indexing 100,000 real servers is bulk work, like a statistics report's.
    let weights = state
        .metrics
        .off_api(move || {
            Arc::new(Weights::new(rows.into_iter().map(
                |(service_key, address, port, weight)| StoredWeight {
                    service_key,
                    address,
                    port,
                    weight,
                },
            )))
        })
        .await
        .map_err(ApiError::Internal)?;
    state
        .metrics
        .weights
        .put(cluster_id, generation, weights.clone());
    Ok(weights)
}
