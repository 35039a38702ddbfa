//! A cluster's health events a page at a time, in the UI (`?before=`, as the Changes page
//! pages) and the API (`?cursor=`): every event once, newest first, and the last page
//! without a way further.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::*;
use crate::ui_browser::*;
use crate::ui_health::{fresh_pulse, AGENT_HEALTH};
use crate::ui_pages::row_heads;

/// The UI's page size (server/src/ui/health_events.rs).
const PAGE: usize = 50;

/// When the first event happened; each next one a second later, so each row's time
/// (shown to the second) tells it apart.
const FIRST_AT_MS: u64 = 1_700_000_000_000;

/// Real servers reported together: each report carries one change of each.
const SERVERS: u64 = 4;

/// One change of health as lb1 reported it.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    at_ms: u64,
    real_server: String,
    down: bool,
}

impl Event {
    fn health(&self) -> &'static str {
        if self.down {
            "down"
        } else {
            "up"
        }
    }

    /// The row as the UI shows it, its time to the second (the `<time>`'s title) first.
    fn row(&self) -> String {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.at_ms) * 1_000_000)
            .expect("a time");
        let shown =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
        let reason = if self.down { " status 503" } else { "" };
        format!(
            "{} lb1 tcp:10.0.0.1:80 {} {}{reason}",
            at.format(&shown).expect("formatted"),
            self.real_server,
            self.health()
        )
    }
}

/// Reports `rounds` (from round `from` on) in which every real server goes down (even
/// rounds) or comes back up (odd ones), one partial report a round; returns the events
/// they make, oldest first.
async fn report_rounds(app: &TestApp, token: &str, from: u64, rounds: u64) -> Vec<Event> {
    let mut events = Vec::new();
    for round in from..from + rounds {
        let entries: Vec<Value> = (0..SERVERS)
            .map(|k| {
                let event = Event {
                    at_ms: FIRST_AT_MS + (round * SERVERS + k) * 1000,
                    real_server: format!("10.1.0.{}:80", k + 1),
                    down: round % 2 == 0,
                };
                let mut entry = json!({"service": "tcp:10.0.0.1:80",
                                       "real_server": event.real_server,
                                       "health": event.health(), "since_ms": event.at_ms});
                if event.down {
                    entry["reason"] = json!("status 503");
                }
                events.push(event);
                entry
            })
            .collect();
        let report = json!({"full": false, "real_servers": entries, "checker": fresh_pulse()});
        app.agent_post(AGENT_HEALTH, token, &report)
            .await
            .expect(204);
    }
    events
}

/// Cluster web with service tcp:10.0.0.1:80, HTTP-checked, and its four real servers
/// (10.1.0.1-4), and the token of its director lb1.
async fn checked_cluster(app: &TestApp) -> String {
    let service = cluster_with_service(app, "web").await;
    let check = json!({"health_check": {"kind": "http", "path": "/up"}});
    app.patch_ok(&service_path("web", service), &check).await;
    for host in [3, 4] {
        app.create_real_server("web", service, &masq_server(host, 80))
            .await;
    }
    app.create_agent("web", "lb1").await
}

/// The newest-first list the pages must show, whole.
fn newest_first(events: &[Event]) -> Vec<Event> {
    events.iter().rev().cloned().collect()
}

/// Each row of the health events table: its time's title, then the rest of its text
/// (without the "… ago", which moves with the clock).
fn event_rows(html: &str) -> Vec<String> {
    let Some(start) = html.find("<tbody>") else {
        return Vec::new();
    };
    let end = html[start..].find("</tbody>").expect("a closed tbody") + start;
    html[start..end]
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let title = tags(row, "time")
                .find_map(|t| attr(t, "title"))
                .expect("a row's time has a title");
            let shown = text(row);
            let (_, rest) = shown
                .split_once(" ago ")
                .expect("the row starts with its age");
            format!("{title} {rest}")
        })
        .collect()
}

/// Follows the "Older" links from the newest page; each page's rows, in order.
async fn ui_pages(browser: &mut Browser) -> Vec<Vec<String>> {
    let newest = "/clusters/web/health-events".to_owned();
    let mut pages = Vec::new();
    let mut path = newest.clone();
    loop {
        assert!(pages.len() < 10, "the Older links go on: {path}");
        let page = browser.page(&path).await;
        let newest_link = link_labelled(&page.text, "Newest");
        if pages.is_empty() {
            assert_eq!(newest_link, None, "the newest page links to no newer one");
        } else {
            assert_eq!(newest_link.as_deref(), Some(newest.as_str()), "{path}");
        }
        pages.push(event_rows(&page.text));
        match link_labelled(&page.text, "Older") {
            Some(older) => path = older,
            None => return pages,
        }
    }
}

fn sizes(pages: &[Vec<String>]) -> Vec<usize> {
    pages.iter().map(Vec::len).collect()
}

#[tokio::test]
async fn ui_health_events_pages_show_every_event_once_newest_first() {
    let app = TestApp::spawn().await;
    let lb1 = checked_cluster(&app).await;
    let mut browser = Browser::new(&app);

    // Exactly two pages' worth: the second is the last, with no Older link to an empty page.
    let mut events = report_rounds(&app, &lb1, 0, 25).await;
    assert_eq!(events.len(), 2 * PAGE);
    let pages = ui_pages(&mut browser).await;
    assert_eq!(sizes(&pages), [PAGE, PAGE]);
    let expected: Vec<String> = newest_first(&events).iter().map(Event::row).collect();
    assert_eq!(pages.concat(), expected);

    // Twenty more: three pages, the newest twenty on the first.
    events.extend(report_rounds(&app, &lb1, 25, 5).await);
    let pages = ui_pages(&mut browser).await;
    assert_eq!(sizes(&pages), [PAGE, PAGE, 20]);
    let expected: Vec<String> = newest_first(&events).iter().map(Event::row).collect();
    assert_eq!(pages.concat(), expected, "each event once, newest first");

    // The Older link carries the id of the page's last event, as the API names it.
    let api = app
        .get("/api/v1/clusters/web/health-events?limit=1000")
        .await
        .expect(200)
        .clone();
    let fiftieth = api["items"][PAGE - 1]["id"].as_i64().expect("an id");
    let first = browser.page("/clusters/web/health-events").await;
    assert_eq!(
        link_labelled(&first.text, "Older"),
        Some(format!("/clusters/web/health-events?before={fiftieth}"))
    );

    // A cursor that is no number shows the newest page, as the Changes page does.
    let changes = browser.page("/clusters/web/changes").await;
    let newest_changes = row_heads(&changes.text);
    for bad in ["abc", "", "1.5", "99999999999999999999"] {
        let page = browser
            .page(&format!("/clusters/web/health-events?before={bad}"))
            .await;
        assert_eq!(event_rows(&page.text), pages[0], "before={bad}");
        assert_eq!(link_labelled(&page.text, "Newest"), None, "before={bad}");
        let changes = browser
            .page(&format!("/clusters/web/changes?before={bad}"))
            .await;
        assert_eq!(row_heads(&changes.text), newest_changes, "before={bad}");
        assert_eq!(link_labelled(&changes.text, "Newest"), None, "before={bad}");
    }
    // One before every event: nothing older, and the way back.
    let past = browser.page("/clusters/web/health-events?before=1").await;
    assert!(text(&past.text).contains("No older events."));
    assert_eq!(link_labelled(&past.text, "Older"), None);
    assert!(link_labelled(&past.text, "Newest").is_some());
}

/// Every event through the API, following `next_cursor` with pages of `limit`; the
/// events, and how many pages it took.
async fn api_pages(app: &TestApp, limit: usize) -> (Vec<Value>, usize) {
    let base = format!("/api/v1/clusters/web/health-events?limit={limit}");
    let (mut items, mut pages) = (Vec::new(), 0);
    let mut path = base.clone();
    loop {
        assert!(pages <= 200, "the cursors go on: {path}");
        let page = app.get(&path).await.expect(200).clone();
        let got = page["items"].as_array().expect("items");
        assert!(got.len() <= limit, "limit {limit}: {} items", got.len());
        assert!(!got.is_empty(), "limit {limit}: an empty page at {path}");
        items.extend(got.iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{base}&cursor={cursor}"),
            None => return (items, pages),
        }
    }
}

/// An event as the API lists it, with its time read back to Unix ms.
fn api_event(item: &Value) -> Event {
    let at = OffsetDateTime::parse(item["at"].as_str().expect("at"), &Rfc3339).expect("RFC 3339");
    let down = item["health"] == "down";
    assert_eq!(item["director"], "lb1");
    assert_eq!(item["service"], "tcp:10.0.0.1:80");
    assert_eq!(
        item.get("reason"),
        down.then(|| json!("status 503")).as_ref(),
        "{item}"
    );
    Event {
        at_ms: u64::try_from(at.unix_timestamp_nanos() / 1_000_000).expect("after 1970"),
        real_server: item["real_server"]
            .as_str()
            .expect("real_server")
            .to_owned(),
        down,
    }
}

#[tokio::test]
async fn health_events_api_pages_every_event_once_newest_first() {
    let app = TestApp::spawn().await;
    let lb1 = checked_cluster(&app).await;
    let events = report_rounds(&app, &lb1, 0, 30).await;
    let expected = newest_first(&events);

    for limit in [1, 7, 40, 100, 120, 1000] {
        let (items, pages) = api_pages(&app, limit).await;
        assert_eq!(pages, expected.len().div_ceil(limit), "limit {limit}");
        let ids: Vec<i64> = items.iter().map(id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "limit {limit}: ids newest first, none twice: {ids:?}"
        );
        let got: Vec<Event> = items.iter().map(api_event).collect();
        assert_eq!(got, expected, "limit {limit}");
    }

    // Past the oldest event: an empty last page.
    let all = app
        .get("/api/v1/clusters/web/health-events?limit=1000")
        .await
        .expect(200)
        .clone();
    let oldest = id(all["items"]
        .as_array()
        .and_then(|a| a.last())
        .expect("events"));
    let past = app
        .get(&format!(
            "/api/v1/clusters/web/health-events?cursor={oldest}"
        ))
        .await;
    assert_eq!(past.expect(200)["items"], json!([]));
    assert!(past.body.get("next_cursor").is_none());

    // A bad cursor or limit is refused, as every list refuses it.
    for query in ["cursor=abc", "cursor=", "limit=0", "limit=1001"] {
        app.get(&format!("/api/v1/clusters/web/health-events?{query}"))
            .await
            .problem(400, "invalid_query");
    }
    app.get("/api/v1/clusters/nope/health-events")
        .await
        .problem(404, "not_found");
}
