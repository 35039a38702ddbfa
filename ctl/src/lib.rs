//! `lvsctl`: LVS Fleet from the command line and CI. The binary is `main.rs`; the library
//! holds everything, so the formats' conversions are tested on their own.

pub mod cli;
pub mod client;
pub mod commands;
mod describe;
pub mod document;
pub mod exit;
pub mod formats;
pub mod keys;
mod plan;
mod table;
