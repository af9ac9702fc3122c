//! `drctl history`: RTO and per-step durations over every recorded drill
//! and execution of a policy, with p50/p95 per step against its budget.

use std::path::PathBuf;

use clap::Args;

use super::report_cmd::{emit, Format};
use super::{Exit, PolicyArg};
use crate::history::{HistoryReport, HistoryStore, DEFAULT_HISTORY_DIR};

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
}

/// Prints or writes the history of the policy.
pub(super) fn run(args: HistoryArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let runs = match HistoryStore::new(&args.history_dir).runs(&policy.name) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
    };
    let report = HistoryReport::new(&policy, &runs);
    let text = match args.format {
        Format::Text => report.render_text(),
        Format::Json => serde_json::to_string_pretty(&report).expect("history serializes") + "\n",
        Format::Html => crate::report::render_history_html(&report),
    };
    emit(&text, args.out.as_deref())
}
