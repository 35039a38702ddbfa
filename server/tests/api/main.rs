//! Integration tests of `lvs-server`: the real server on a real SQLite file, over HTTP.
//!
//! One test binary, so the server is compiled and linked once for all of them.

mod access;
mod agent_changes;
mod agent_hot_path;
mod agent_longpoll;
mod agents;
mod bulk_writes;
mod changes;
mod clusters;
mod concurrency;
mod desired_state;
mod directors;
mod edit;
mod errors;
mod health_checks;
mod health_event_paging;
mod helpers;
mod host_settings;
mod import;
mod layers;
mod openapi;
mod persistence;
mod process;
mod readiness;
mod real_servers;
mod revert;
mod schema_conformance;
mod security;
mod services;
mod stats;
mod store_roundtrip;
mod tls;
mod ui_account;
mod ui_browser;
mod ui_cluster_settings;
mod ui_forms;
mod ui_health;
mod ui_health_form;
mod ui_mark_rules;
mod ui_pages;
mod ui_pool;
mod ui_revert;
mod ui_security;
mod users;
