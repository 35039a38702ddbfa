//! Reading a desired-state document (JSON or YAML) from a file or standard input, and
//! writing one out.

use std::io::Read;
use std::path::Path;

use lvs_model::spec::DesiredStateSpec;

use crate::exit::{Exit, Failure, Outcome};

/// The text of `path`, or of standard input for `-`.
pub fn read_text(path: &Path) -> Outcome<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::error(format!("standard input: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

/// A desired-state document from `path`: YAML for `.yaml`/`.yml`, JSON for `.json`, and
/// otherwise JSON when it starts with `{` (YAML is a superset, but JSON's errors are clearer).
pub fn read_document(path: &Path) -> Outcome<DesiredStateSpec> {
    let text = read_text(path)?;
    parse_document(&text, path)
}

pub fn parse_document(text: &str, path: &Path) -> Outcome<DesiredStateSpec> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let yaml = match extension {
        "yaml" | "yml" => true,
        "json" => false,
        _ => !text.trim_start().starts_with('{'),
    };
    let name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let invalid = |kind: &str, e: &dyn std::fmt::Display| {
        Failure::new(
            Exit::Invalid,
            format!("{name}: not a desired-state document ({kind}): {e}"),
        )
    };
    if yaml {
        serde_yaml::from_str(text).map_err(|e| invalid("YAML", &e))
    } else {
        serde_json::from_str(text).map_err(|e| invalid("JSON", &e))
    }
}

/// How documents are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocumentFormat {
    Json,
    Yaml,
}

/// `document` as pretty JSON or YAML, ending in a newline.
pub fn render(document: &DesiredStateSpec, format: DocumentFormat) -> Outcome<String> {
    let text = match format {
        DocumentFormat::Json => serde_json::to_string_pretty(document)
            .map(|t| t + "\n")
            .map_err(|e| Failure::error(format!("cannot write the document: {e}")))?,
        DocumentFormat::Yaml => serde_yaml::to_string(document)
            .map_err(|e| Failure::error(format!("cannot write the document: {e}")))?,
    };
    Ok(text)
}
