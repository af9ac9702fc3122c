//! `drctl divergence EXECUTION`: what the old primary accepted after the
//! fork, per data tier, read from the local journal or a controller
//! cluster (see `execute::fence_return::view`).

use std::path::{Path, PathBuf};

use clap::Args;

use super::recorded::{controller_execution, journal_records, known_ids, newest_ids, Failure};
use super::{live_runtime, Exit, Output};
use crate::execute::fence_return::view::DivergenceReport;
use crate::execute::ExecutionRecord;

/// `drctl divergence` arguments.
#[derive(Debug, Args)]
pub struct DivergenceArgs {
    /// The execution's id.
    pub execution: String,
    /// Read it from this journal directory (the default, with
    /// `.drctl/journal`).
    #[arg(long, env = "DRCTL_JOURNAL_DIR", default_value = ".drctl/journal")]
    pub journal_dir: PathBuf,
    /// Read it from this controller cluster (any member's URL) instead of
    /// the local journal (--journal-dir is then not read).
    #[arg(long)]
    pub controller: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Prints the divergence report of one execution; an unknown execution
/// exits 66 (not found) naming it, where it looked and the newest ids
/// recorded there.
pub(super) fn run(args: DivergenceArgs) -> Exit {
    let report = match &args.controller {
        Some(url) => match live_runtime() {
            Ok(rt) => rt.block_on(from_controller(url, &args.execution)),
            Err(e) => return e,
        },
        None => from_journal(&args.journal_dir, &args.execution)
            .map(|r| DivergenceReport::of_record(&r)),
    };
    match report {
        Ok(r) => {
            match args.output {
                Output::Text => print!("{}", r.render_text()),
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&r).expect("reports serialize")
                ),
            }
            Exit::Ok
        }
        Err(Failure(exit, why)) => {
            eprintln!("error: {why}");
            exit
        }
    }
}

/// The execution `id` from any policy's file in the journal `dir`.
fn from_journal(dir: &Path, id: &str) -> Result<ExecutionRecord, Failure> {
    let unknown = |why: String| {
        let d = dir.display();
        Failure(
            Exit::NotFound,
            format!("no execution {id:?} in the journal {d}{why}"),
        )
    };
    let Some(records) = journal_records(dir)? else {
        return Err(unknown(
            " (the directory does not exist; --journal-dir names another)".into(),
        ));
    };
    let known = known_ids(&newest_ids(records.iter()));
    records
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| unknown(known))
}

/// The execution `id` from the controller at `url` (`GET /v1/executions/{id}`).
async fn from_controller(url: &str, id: &str) -> Result<DivergenceReport, Failure> {
    let v = controller_execution(url, id).await?;
    Ok(DivergenceReport::new(
        &v.summary.id,
        &v.summary.policy,
        &v.from_region,
        v.fork.as_ref(),
        v.fence_old_primary.as_ref(),
    ))
}
