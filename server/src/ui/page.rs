//! What every page's layout needs (`web/templates/base.html`): title, assets, CSRF token,
//! breadcrumbs, the cluster's tabs and the flash message.

use askama::Template;

use std::sync::Arc;

use lvs_model::access::Role;

use super::session::{Browser, Flash};
use super::ASSETS;
use crate::db::credentials::Principal;

/// The layout's context; each page template has it as `chrome`.
#[derive(Debug)]
pub struct Chrome {
    pub title: String,
    pub css: &'static str,
    pub htmx: &'static str,
    pub app_js: &'static str,
    /// Empty on error pages, which have no forms.
    pub csrf: String,
    pub crumbs: Vec<Crumb>,
    pub flash: Option<Flash>,
    pub tabs: Option<ClusterTabs>,
    /// Who is signed in; the server decides what each may do, pages only leave out the
    /// controls it may not use.
    pub principal: Option<Arc<Principal>>,
}

/// One step of the breadcrumb trail; the last has no link.
#[derive(Debug)]
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

/// The tabs of a cluster's pages.
#[derive(Debug)]
pub struct ClusterTabs {
    pub cluster: String,
    pub active: Tab,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Services,
    Directors,
    Changes,
    Health,
    Settings,
}

impl ClusterTabs {
    /// Whether `name` (`"services"`, `"directors"`, `"changes"`, `"health"`, `"settings"`)
    /// is the current tab.
    pub fn is(&self, name: &str) -> bool {
        let active = match self.active {
            Tab::Services => "services",
            Tab::Directors => "directors",
            Tab::Changes => "changes",
            Tab::Health => "health",
            Tab::Settings => "settings",
        };
        active == name
    }
}

impl Chrome {
    /// `alice (operator)`, for the top bar.
    pub fn signed_in(&self) -> Option<String> {
        self.principal
            .as_ref()
            .map(|p| format!("{} ({})", p.actor, p.role))
    }

    /// Whether the signed-in user may edit services and real servers of `cluster`.
    pub fn may_operate(&self, cluster: &str) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.may_operate(cluster))
    }

    /// Whether the signed-in user may edit services and real servers of the cluster whose
    /// page this is.
    pub fn may_operate_here(&self) -> bool {
        self.tabs
            .as_ref()
            .is_some_and(|tabs| self.may_operate(&tabs.cluster))
    }

    /// Whether the signed-in user is an admin (clusters, directors, tokens).
    pub fn may_admin(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.role == Role::Admin)
    }

    /// A page's layout for this browser.
    pub fn new(browser: &Browser, title: impl Into<String>) -> Chrome {
        Chrome {
            csrf: browser.csrf.clone(),
            flash: browser.flash.clone(),
            principal: browser.principal.clone(),
            ..Chrome::bare(title)
        }
    }

    /// The layout of a page without forms (error pages).
    pub fn bare(title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            css: ASSETS.url("app.css"),
            htmx: ASSETS.url("vendor/htmx/htmx.min.js"),
            app_js: ASSETS.url("app.js"),
            csrf: String::new(),
            crumbs: Vec::new(),
            flash: None,
            tabs: None,
            principal: None,
        }
    }

    /// Adds a linked breadcrumb.
    pub fn crumb(mut self, label: impl Into<String>, href: impl Into<String>) -> Chrome {
        self.crumbs.push(Crumb {
            label: label.into(),
            href: Some(href.into()),
        });
        self
    }

    /// The breadcrumbs of a page inside a cluster, with the cluster's tabs.
    pub fn in_cluster(self, cluster: &str, tab: Tab) -> Chrome {
        self.crumb("Fleet", "/")
            .crumb(cluster, format!("/clusters/{}", path_segment(cluster)))
            .tabs(cluster, tab)
    }

    /// Shows the cluster's tabs, `tab` current.
    pub fn tabs(mut self, cluster: &str, tab: Tab) -> Chrome {
        self.tabs = Some(ClusterTabs {
            cluster: cluster.to_owned(),
            active: tab,
        });
        self
    }
}

/// `text` made safe as one segment of a URL path (cluster and director names are
/// restricted to URL-safe characters by the model, but a link must never depend on it).
pub fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "Are you sure?" before a destructive action: a POST form with the CSRF token and the
/// ETag of what is shown, so a concurrent change is refused rather than destroyed (empty
/// when the action does not depend on it, as replacing a token).
#[derive(Debug, Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub question: String,
    pub detail: String,
    pub action: String,
    pub etag: String,
    pub button: &'static str,
    pub cancel: String,
}
