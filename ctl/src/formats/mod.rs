//! Other tools' configuration, to and from desired-state documents.
//!
//! Imports report what they could not translate as [`Note`]s with their line, and refuse
//! (with every bad line) what they cannot read at all; exports write what the other tool
//! can hold and note the rest.

pub mod ipvsadm;
pub mod keepalived;

use std::fmt;

use lvs_model::spec::DesiredStateSpec;
use lvs_model::HostSettings;

/// Something of the input or the cluster the other format cannot say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The input's line (1-based), for imports.
    pub line: Option<usize>,
    pub text: String,
}

impl Note {
    pub fn at(line: usize, text: impl Into<String>) -> Note {
        Note {
            line: Some(line),
            text: text.into(),
        }
    }

    pub fn general(text: impl Into<String>) -> Note {
        Note {
            line: None,
            text: text.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// An import's document and what it left out.
#[derive(Debug)]
pub struct Imported {
    /// `timeouts` is set only when the input sets them (`ipvsadm --set`, keepalived's
    /// `lvs_timeouts`); applied to a cluster, an absent one keeps the cluster's.
    pub document: DesiredStateSpec,
    pub notes: Vec<Note>,
}

/// An export's text and what it left out.
#[derive(Debug)]
pub struct Exported {
    pub text: String,
    pub notes: Vec<Note>,
}

/// Lines the input could not be read at all for, each with its line number.
#[derive(Debug)]
pub struct Unreadable(pub Vec<Note>);

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, note) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{note}")?;
        }
        Ok(())
    }
}

/// The note for a cluster whose host settings (which no other format holds) are set.
fn host_note(document: &DesiredStateSpec, format: &str) -> Option<Note> {
    let settings = document.host.as_ref().and_then(|host| host.parse().ok())?;
    (settings != HostSettings::default()).then(|| {
        Note::general(format!(
            "host settings (VIPs, sysctls, connection sync) are not in {format}: left out"
        ))
    })
}
