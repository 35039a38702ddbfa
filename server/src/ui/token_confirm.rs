//! "Are you sure?" before replacing an agent's token, a director's or a real-server host's:
//! the running agent is refused from that moment until it is given the new one. The POST
//! to the same path (`directors::rotate_token`, `real_server_hosts::rotate_token`) acts.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::error::UiResult;
use super::extract::Path;
use super::page::{path_segment, Chrome, ConfirmPage, Tab};
use super::session::Browser;
use crate::db::director_status;
use crate::edit::lookup;
use crate::state::AppState;

/// What the page says, by whether the owner has a token to lose.
struct Wording {
    question: String,
    detail: String,
    button: &'static str,
}

fn wording(owner: &str, has_token: bool) -> Wording {
    if has_token {
        Wording {
            question: format!("Rotate the agent token of {owner}?"),
            detail: "Its current token stops working at once: the running agent is refused \
                     until it is given the new token, and meanwhile follows no change. The \
                     new token is shown once, on the next page."
                .to_owned(),
            button: "Rotate agent token",
        }
    } else {
        Wording {
            question: format!("Create an agent token for {owner}?"),
            detail: "The new token is shown once, on the next page.".to_owned(),
            button: "Create agent token",
        }
    }
}

pub async fn director(
    State(state): State<AppState>,
    Path((cluster, director)): Path<(String, String)>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &director).await?;
    let status = director_status::of_cluster(&mut tx, cluster.id, Some(row.id)).await?;
    drop(tx);
    let has_token = status.iter().any(|s| s.token_created_at.is_some());
    let owner = format!("director {} in {}", row.name, cluster.name);
    let Wording {
        question,
        detail,
        button,
    } = wording(&owner, has_token);
    let back = format!("/clusters/{}/directors", path_segment(&cluster.name));
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Agent token of {}", row.name))
            .in_cluster(&cluster.name, Tab::Directors),
        question,
        detail,
        action: format!("{back}/{}/token", path_segment(&row.name)),
        // A token is replaced whatever the director's settings: nothing to compare.
        etag: String::new(),
        button,
        cancel: back,
    };
    Ok(Html(page.render()?))
}

pub async fn real_server_host(
    State(state): State<AppState>,
    Path(host): Path<String>,
    browser: Browser,
) -> UiResult<Html<String>> {
    const PAGE: &str = "/real-server-hosts";
    let mut tx = state.db.read().await?;
    let row = lookup::real_server_host(&mut tx, &host).await?;
    drop(tx);
    let owner = format!("real-server host {}", row.name);
    let Wording {
        question,
        detail,
        button,
    } = wording(&owner, row.token_created_at.is_some());
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Agent token of {}", row.name))
            .crumb("Fleet", "/")
            .crumb("Real-server hosts", PAGE),
        question,
        detail,
        action: format!("{PAGE}/{}/token", path_segment(&row.name)),
        // A token is replaced whatever the host's settings: nothing to compare.
        etag: String::new(),
        button,
        cancel: PAGE.to_owned(),
    };
    Ok(Html(page.render()?))
}
