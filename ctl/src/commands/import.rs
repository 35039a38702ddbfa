//! `lvsctl import ipvsadm|keepalived FILE`: a document on standard output, or applied to
//! `--cluster`.

use lvs_model::spec::TimeoutsSpec;

use super::apply::apply_document;
use super::resources::Cluster;
use super::Context;
use crate::cli::{Import, ImportArgs, Output};
use crate::client::encode;
use crate::document::{read_text, render, DocumentFormat};
use crate::exit::{Exit, Failure, Outcome};
use crate::formats::{ipvsadm, keepalived, Imported};

impl Import {
    pub fn args(&self) -> &ImportArgs {
        match self {
            Import::Ipvsadm(args) | Import::Keepalived(args) => args,
        }
    }
}

/// Reads the input and reports every note; `--strict` makes any note a failure.
fn translate(import: &Import) -> Outcome<Imported> {
    let args = import.args();
    let text = read_text(&args.file)?;
    let name = if args.file.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        args.file.display().to_string()
    };
    let imported = match import {
        Import::Ipvsadm(_) => ipvsadm::import(&text),
        Import::Keepalived(_) => keepalived::import(&text),
    }
    .map_err(|unreadable| {
        Failure::new(
            Exit::Invalid,
            format!("{name}: cannot be imported:\n{unreadable}"),
        )
    })?;
    for note in &imported.notes {
        eprintln!("{name}: {note}");
    }
    if args.strict && !imported.notes.is_empty() {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "{name}: {} statements not translated (--strict)",
                imported.notes.len()
            ),
        ));
    }
    Ok(imported)
}

/// Prints the document (JSON, or YAML with `-o yaml`).
pub fn to_document(import: &Import, output: Output) -> Outcome<Exit> {
    let mut imported = translate(import)?;
    // A document needs its timeouts; `{}` here sets none, and is only written out.
    imported
        .document
        .timeouts
        .get_or_insert_with(TimeoutsSpec::default);
    let format = match output {
        Output::Yaml => DocumentFormat::Yaml,
        Output::Json | Output::Table => DocumentFormat::Json,
    };
    print!("{}", render(&imported.document, format)?);
    Ok(Exit::Ok)
}

/// Applies the document to `--cluster`: its services replace the cluster's, and what the
/// input does not say (timeouts it does not set, host settings) stays as the cluster has it.
pub async fn to_cluster(context: &Context, import: Import) -> Outcome<Exit> {
    let mut imported = translate(&import)?;
    let args = import.args();
    let cluster = args
        .cluster
        .as_deref()
        .ok_or_else(|| Failure::new(Exit::Usage, "--cluster is required here"))?;
    if imported.document.timeouts.is_none() {
        let current: Cluster = context
            .api
            .get(&format!("/clusters/{}", encode(cluster)))
            .await?;
        imported.document.timeouts = Some(current.timeouts);
    }
    apply_document(
        context,
        cluster,
        &imported.document,
        args.dry_run,
        args.wait,
    )
    .await
}
