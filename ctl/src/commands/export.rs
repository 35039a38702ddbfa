//! `lvsctl export --format ipvsadm|json|yaml|keepalived CLUSTER`.

use super::get::document;
use super::Context;
use crate::cli::{ExportArgs, ExportFormat};
use crate::document::{render, DocumentFormat};
use crate::exit::{Exit, Outcome};
use crate::formats::{ipvsadm, keepalived};

pub async fn run(context: &Context, args: ExportArgs) -> Outcome<Exit> {
    let mut document = document(context, &args.cluster).await?;
    // A file to keep and apply later: applying it must not depend on the generation it
    // was exported at (`lvsctl apply` already applies exactly the plan it shows).
    document.generation = None;
    let (text, notes) = match args.format {
        ExportFormat::Json => (render(&document, DocumentFormat::Json)?, Vec::new()),
        ExportFormat::Yaml => (render(&document, DocumentFormat::Yaml)?, Vec::new()),
        ExportFormat::Ipvsadm => {
            let exported = ipvsadm::export(&document);
            (exported.text, exported.notes)
        }
        ExportFormat::Keepalived => {
            let exported = keepalived::export(&document);
            (exported.text, exported.notes)
        }
    };
    print!("{text}");
    // Notes go to stderr, so the output stays what the other tool reads.
    for note in notes {
        eprintln!("lvsctl: {note}");
    }
    Ok(Exit::Ok)
}
