//! `drctl history`: RTO and per-step durations over every recorded drill
//! and execution of a policy, with p50/p95 per step against its budget.

use std::path::PathBuf;

use clap::Args;

use super::recorded::{controller, failure, Failure};
use super::report_cmd::{emit, Format};
use super::{Exit, PolicyArg};
use crate::history::{HistoryReport, HistoryRun, HistoryStore, DEFAULT_HISTORY_DIR, HISTORY_KEPT};

/// `drctl history` arguments.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The policy whose runs to show (its name picks the file, its
    /// `execution.step_budgets` the budgets).
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The history drills and failovers record into.
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = DEFAULT_HISTORY_DIR)]
    pub history_dir: PathBuf,
    /// Read the runs from this controller cluster (any member's URL,
    /// `GET /v1/history`) instead of the local history.
    #[arg(long)]
    pub controller: Option<String>,
}

/// Prints or writes the history of the policy.
pub(super) fn run(args: HistoryArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let report = match &args.controller {
        Some(url) => {
            let fetched = match super::live_runtime() {
                Ok(rt) => rt.block_on(from_controller(url, &policy.name)),
                Err(e) => return e,
            };
            match fetched {
                Ok(runs) => HistoryReport::from_runs(&policy, runs),
                Err(Failure(exit, why)) => {
                    eprintln!("error: {why}");
                    return exit;
                }
            }
        }
        None => match HistoryStore::new(&args.history_dir).runs(&policy.name) {
            Ok(runs) => HistoryReport::new(&policy, &runs),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Io;
            }
        },
    };
    let text = match args.format {
        Format::Text => report.render_text(),
        Format::Json => serde_json::to_string_pretty(&report).expect("history serializes") + "\n",
        Format::Html => crate::report::render_history_html(&report),
    };
    emit(&text, args.out.as_deref())
}

/// Every run of `policy` the controller at `url` keeps, oldest first
/// (`GET /v1/history`).
async fn from_controller(url: &str, policy: &str) -> Result<Vec<HistoryRun>, Failure> {
    let not_found = format!("no policy {policy:?} on the controller {url} (GET /v1/history)");
    let (_, view) = controller(url)
        .history(policy, HISTORY_KEPT)
        .await
        .map_err(|e| failure(e, not_found))?;
    let target = format!("controller {url}");
    Ok(view
        .runs
        .into_iter()
        .map(|summary| HistoryRun {
            recorded_at: summary.started_at.clone(),
            target: target.clone(),
            summary,
        })
        .collect())
}
