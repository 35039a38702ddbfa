//! The check engine on the host, against responders on loopback: each kind of check, each
//! way it fails, kept-alive HTTP connections, rise and fall, shared targets, and checks
//! spread over their interval.

#![allow(clippy::unwrap_used)]

mod book;
mod engine;
mod probes;
mod reuse;
mod support;
