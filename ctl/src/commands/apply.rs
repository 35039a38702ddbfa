//! `lvsctl apply` and `lvsctl diff`: a document's plan, then exactly that plan applied.

use lvs_model::spec::DesiredStateSpec;
use lvs_model::DiffSpec;
use reqwest::Method;

use super::{wait, Context};
use crate::cli::{ApplyArgs, DocumentArgs, WaitArgs};
use crate::client::encode;
use crate::document::read_document;
use crate::exit::{Exit, Failure, Outcome};
use crate::plan;

pub async fn apply(context: &Context, args: ApplyArgs) -> Outcome<Exit> {
    let (cluster, document) = cluster_document(&args.document)?;
    apply_document(context, &cluster, &document, args.dry_run, args.wait).await
}

pub async fn diff(context: &Context, args: DocumentArgs) -> Outcome<Exit> {
    let (cluster, document) = cluster_document(&args)?;
    let plan = plan(context, &cluster, &document).await?;
    show_plan(context, &plan)?;
    Ok(if plan.summary == Default::default() {
        Exit::Ok
    } else {
        Exit::Differs
    })
}

/// Prints the plan, then (unless `dry_run`) applies it on the condition that the cluster
/// is still at the generation the plan was made from, so what is applied is what was shown.
pub async fn apply_document(
    context: &Context,
    cluster: &str,
    document: &DesiredStateSpec,
    dry_run: bool,
    wait: WaitArgs,
) -> Outcome<Exit> {
    let plan = plan(context, cluster, document).await?;
    show_plan(context, &plan)?;
    if dry_run {
        return Ok(Exit::Ok);
    }
    let generation = if plan.summary == Default::default() {
        plan.from_generation
    } else {
        // The desired state's ETag is `"gen-<generation>"`.
        let if_match = format!("\"gen-{}\"", plan.from_generation);
        let committed: DiffSpec = context
            .api
            .send(
                Method::PUT,
                &path(cluster, false),
                Some(document),
                Some(&if_match),
            )
            .await
            .map_err(|failure| match failure.exit {
                Exit::Conflict => Failure::new(
                    Exit::Conflict,
                    format!(
                        "cluster {cluster} changed after the plan was made (at generation {}): \
                         nothing was applied; run the command again to see the new plan",
                        plan.from_generation
                    ),
                ),
                _ => failure,
            })?;
        eprintln!(
            "applied as generation {} of cluster {cluster}",
            committed.to_generation
        );
        committed.to_generation
    };
    if wait.wait {
        return wait::until_applied(context, cluster, generation, wait.timeout).await;
    }
    Ok(Exit::Ok)
}

/// What applying `document` would change now.
async fn plan(context: &Context, cluster: &str, document: &DesiredStateSpec) -> Outcome<DiffSpec> {
    context
        .api
        .send(Method::PUT, &path(cluster, true), Some(document), None)
        .await
}

fn show_plan(context: &Context, plan: &DiffSpec) -> Outcome {
    if context.tables() {
        print!("{}", plan::render(plan));
        Ok(())
    } else {
        context.print_data(plan)
    }
}

fn path(cluster: &str, dry_run: bool) -> String {
    let query = if dry_run { "?dry_run=true" } else { "" };
    format!("/clusters/{}/desired-state{query}", encode(cluster))
}

/// The document and the cluster it goes to: `--cluster`, or the one it names.
fn cluster_document(args: &DocumentArgs) -> Outcome<(String, DesiredStateSpec)> {
    let mut document = read_document(&args.file)?;
    let cluster = match (&args.cluster, &document.cluster) {
        (Some(cluster), _) => cluster.clone(),
        (None, Some(named)) => named.clone(),
        (None, None) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{}: the document names no cluster: give --cluster",
                    args.file.display()
                ),
            ))
        }
    };
    // A document exported from one cluster may be applied to another.
    document.cluster = None;
    Ok((cluster, document))
}
