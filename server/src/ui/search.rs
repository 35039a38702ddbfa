//! The fleet-wide search (`GET /search?q=...`, the box in every page's header): services,
//! real servers, real-server hosts, directors and clusters across every cluster, grouped
//! by kind, each linking to its page. What a query may be is `search_query`'s.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use sqlx::SqliteConnection;

use super::error::UiResult;
use super::page::{path_segment, Chrome};
use super::search_query::{self, Query};
use super::session::Browser;
use crate::db::search::{self, AddressRange, Found, HostHit, RealServerHit, ServiceHit};
use crate::db::search_names::{self, ClusterHit, DirectorHit};
use crate::state::AppState;

/// Rows shown per kind; the rest are counted ("and N more"), never read.
const PER_KIND: i64 = 100;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    /// What the query was read as, when it was understood.
    read_as: Option<String>,
    /// Why the query could not be searched.
    error: Option<String>,
    results: Results,
}

/// What matched, by kind.
#[derive(Default)]
struct Results {
    services: Section<ServiceHit>,
    real_servers: Section<RealServerHit>,
    hosts: Section<HostHit>,
    directors: Section<DirectorHit>,
    clusters: Section<ClusterHit>,
}

impl Results {
    fn is_empty(&self) -> bool {
        self.services.total == 0
            && self.real_servers.total == 0
            && self.hosts.total == 0
            && self.directors.total == 0
            && self.clusters.total == 0
    }
}

/// One kind's rows and how many more matched.
struct Section<T> {
    rows: Vec<T>,
    total: i64,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Section {
            rows: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Section<T> {
    fn more(&self) -> i64 {
        self.total - i64::try_from(self.rows.len()).unwrap_or(i64::MAX)
    }
}

impl<T> From<Found<T>> for Section<T> {
    fn from(found: Found<T>) -> Self {
        Section {
            rows: found.rows,
            total: found.total,
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let q = pairs
        .into_iter()
        .find(|(name, _)| name == "q")
        .map(|(_, value)| value)
        .unwrap_or_default();
    let (read_as, error, results) = match search_query::parse(&q) {
        Ok(Query::Empty) => (None, None, Results::default()),
        Ok(query) => {
            let mut tx = state.db.read().await?;
            let results = run(&mut tx, &query).await?;
            (Some(read_as(&query)), None, results)
        }
        Err(why) => (None, Some(why), Results::default()),
    };
    let title = if q.trim().is_empty() {
        "Search".to_owned()
    } else {
        format!("Search: {}", q.trim())
    };
    let page = SearchPage {
        chrome: Chrome::new(&browser, title).crumb("Fleet", "/"),
        q,
        read_as,
        error,
        results,
    };
    Ok(Html(page.render()?))
}

/// The reads a query needs, each an index search or (names) one scan of a small table.
async fn run(conn: &mut SqliteConnection, query: &Query) -> Result<Results, sqlx::Error> {
    let mut results = Results::default();
    match query {
        Query::Empty => {}
        Query::Address { address, port } => {
            let at = [AddressRange::exact(
                &address.to_string(),
                port.map(i64::from),
            )];
            results.services = search::services_at(conn, &at, PER_KIND).await?.into();
            results.real_servers = search::real_servers_at(conn, &at, PER_KIND).await?.into();
            if port.is_none() {
                results.hosts = search::hosts_at(conn, &at, PER_KIND).await?.into();
            }
        }
        Query::Prefix { ranges, .. } => {
            results.services = search::services_at(conn, ranges, PER_KIND).await?.into();
            results.real_servers = search::real_servers_at(conn, ranges, PER_KIND)
                .await?
                .into();
            results.hosts = search::hosts_at(conn, ranges, PER_KIND).await?.into();
        }
        Query::Service(key) => {
            let key = key.to_string();
            results.services = search::services_keyed(conn, &key, PER_KIND).await?.into();
        }
        Query::Fwmark(mark) => {
            let mark = i64::from(mark.get());
            results.services = search::services_marked(conn, mark, None, PER_KIND)
                .await?
                .into();
        }
        Query::Name(fragment) => {
            results.clusters = search_names::clusters(conn, fragment, PER_KIND)
                .await?
                .into();
            results.directors = search_names::directors(conn, fragment, PER_KIND)
                .await?
                .into();
            results.services = search_names::services(conn, fragment, PER_KIND)
                .await?
                .into();
            results.hosts = search_names::hosts(conn, fragment, PER_KIND).await?.into();
        }
    }
    Ok(results)
}

/// What the page says it searched for.
fn read_as(query: &Query) -> String {
    match query {
        Query::Empty => String::new(),
        Query::Address {
            address,
            port: None,
        } => format!("the address {address}: VIPs, real servers and real-server hosts"),
        Query::Address {
            address,
            port: Some(port),
        } => format!(
            "{}: VIPs and real servers at that address and port",
            std::net::SocketAddr::new(*address, *port)
        ),
        Query::Service(key) => format!("the service {key} in every cluster"),
        Query::Fwmark(mark) => format!(
            "firewall-mark services of mark {} (IPv4 and IPv6)",
            mark.get()
        ),
        Query::Prefix { shown, .. } => {
            format!("addresses in {shown}: VIPs, real servers and real-server hosts")
        }
        Query::Name(fragment) => format!(
            "names containing {fragment:?}: clusters, directors, services (and their \
             descriptions) and real-server hosts"
        ),
    }
}

/// Where each result links, for the template.
impl SearchPage {
    fn cluster_href(&self, cluster: &str) -> String {
        format!("/clusters/{}", path_segment(cluster))
    }

    fn service_href(&self, cluster: &str, id: &i64) -> String {
        format!("{}/services/{id}", self.cluster_href(cluster))
    }

    /// The real server's row on its service's page.
    fn real_server_href(&self, hit: &RealServerHit) -> String {
        format!(
            "{}#rs-{}",
            self.service_href(&hit.cluster, &hit.service_id),
            hit.id
        )
    }

    fn director_href(&self, hit: &DirectorHit) -> String {
        format!(
            "{}/directors#director-{}",
            self.cluster_href(&hit.cluster),
            path_segment(&hit.name)
        )
    }

    fn host_href(&self, hit: &HostHit) -> String {
        format!("/real-server-hosts#host-{}", path_segment(&hit.name))
    }

    /// `10.1.0.11:8080` or `[2001:db8::11]:80`.
    fn socket(&self, hit: &RealServerHit) -> String {
        if hit.address.contains(':') {
            format!("[{}]:{}", hit.address, hit.port)
        } else {
            format!("{}:{}", hit.address, hit.port)
        }
    }
}
