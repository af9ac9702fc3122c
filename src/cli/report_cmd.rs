//! `drctl report EXECUTION`: the report of a recorded drill or execution
//! as text, JSON or a self-contained HTML page, read from the local
//! history, the local journal, or a controller cluster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::recorded::{
    controller, controller_execution, failure, journal_records, known_ids, newest_ids, Failure,
};
use super::{live_runtime, Exit, PolicyArg};
use crate::execute::ExecutionRecord;
use crate::history::{HistoryStore, DEFAULT_HISTORY_DIR};
use crate::report::Report;

/// The formats of `drctl report` and `drctl history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Text,
    /// JSON for tools.
    Json,
    /// One self-contained HTML file (inline CSS and SVG, nothing fetched).
    Html,
}

/// `drctl report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The execution's id (a drill prints it), or `latest`.
    pub execution: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The history drills and failovers record into.
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = DEFAULT_HISTORY_DIR)]
    pub history_dir: PathBuf,
    /// The journal, read when the history does not hold the execution.
    #[arg(long, env = "DRCTL_JOURNAL_DIR", default_value = ".drctl/journal")]
    pub journal_dir: PathBuf,
    /// Read the execution from this controller cluster (any member's URL)
    /// instead of the local history and journal.
    #[arg(long)]
    pub controller: Option<String>,
    /// The policy whose RTO the execution is held to, when the record does
    /// not carry it (a journal or a controller).
    #[command(flatten)]
    pub policy: PolicyArg,
}

/// Prints or writes the report of one execution; an unknown execution
/// exits 66 (not found) naming where it was looked for and the newest ids
/// recorded there.
pub(super) fn run(args: ReportArgs) -> Exit {
    let found = match &args.controller {
        Some(url) => match live_runtime() {
            Ok(rt) => rt.block_on(from_controller(url, &args.execution)),
            Err(e) => return e,
        },
        None => from_local(&args),
    };
    let report = found.and_then(|(record, target, rto, audit)| {
        let rto = match rto {
            Some(rto) => rto,
            None => objective_from(&args.policy, &record)?,
        };
        let rpo = Duration::from_millis(record.plan.rpo.rpo_ms);
        Ok(Report::with_objectives(&record, (rto, rpo), &target).with_audit(audit))
    });
    let report = match report {
        Ok(r) => r,
        Err(Failure(exit, why)) => {
            eprintln!("error: {why}");
            return exit;
        }
    };
    let text = match args.format {
        Format::Text => report.render_text(),
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        Format::Html => crate::report::render_html(&report),
    };
    emit(&text, args.out.as_deref())
}

/// Writes `text` to `out`, or stdout.
pub(super) fn emit(text: &str, out: Option<&Path>) -> Exit {
    match out {
        None => {
            print!("{text}");
            Exit::Ok
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => {
                eprintln!("wrote {}", path.display());
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: --out {}: {e}", path.display());
                Exit::Io
            }
        },
    }
}

/// A record, where it ran, its RTO objective when known, its audit lines.
type Found = (ExecutionRecord, String, Option<Duration>, Vec<String>);

fn from_local(args: &ReportArgs) -> Result<Found, Failure> {
    let store = HistoryStore::new(&args.history_dir);
    let entry = store
        .find(&args.execution)
        .map_err(|e| Failure(Exit::Io, e.to_string()))?;
    if let Some(e) = entry {
        let rto = Duration::from_millis(e.rto_objective_ms);
        return Ok((e.record, e.target, Some(rto), Vec::new()));
    }
    let journal = journal_records(&args.journal_dir)?.unwrap_or_default();
    match from_journal(&journal, &args.execution) {
        Some(r) => Ok((r, "aws".into(), None, Vec::new())),
        None => {
            let history = store.all().map_err(|e| Failure(Exit::Io, e.to_string()))?;
            let records = history.iter().map(|e| &e.record).chain(journal.iter());
            Err(Failure(
                Exit::NotFound,
                format!(
                    "no execution {:?} in the history {} or the journal {}{} \
                     (run `drctl drill` first, or name the directories with --history-dir, --journal-dir)",
                    args.execution,
                    args.history_dir.display(),
                    args.journal_dir.display(),
                    known_ids(&newest_ids(records))
                ),
            ))
        }
    }
}

/// The execution `id` (or the newest, for `latest`) among the journal's
/// records.
fn from_journal(records: &[ExecutionRecord], id: &str) -> Option<ExecutionRecord> {
    let mut all: Vec<&ExecutionRecord> = records.iter().collect();
    all.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    all.into_iter()
        .rev()
        .find(|r| id == "latest" || r.id == id)
        .cloned()
}

/// The RTO of the policy file, which must be the record's policy.
fn objective_from(arg: &PolicyArg, record: &ExecutionRecord) -> Result<Duration, Failure> {
    let policy = arg.load().map_err(|e| {
        let why = "(the RTO objective comes from it; name it with --policy)";
        Failure(e, format!("--policy {}: {why}", arg.policy.display()))
    })?;
    if policy.name != record.policy {
        return Err(Failure(
            Exit::Usage,
            format!(
                "--policy {}: is policy {:?}, but execution {} is of policy {:?}",
                arg.policy.display(),
                policy.name,
                record.id,
                record.policy
            ),
        ));
    }
    Ok(policy.rto)
}

/// The execution `id` (or the newest, for `latest`) from the controller
/// at `url` (`GET /v1/executions/{id}`).
async fn from_controller(url: &str, id: &str) -> Result<Found, Failure> {
    let id = if id == "latest" {
        let (_, list) = controller(url)
            .executions(Some(1))
            .await
            .map_err(|e| failure(e, String::new()))?;
        match list.executions.into_iter().next() {
            Some(newest) => newest.id,
            None => {
                return Err(Failure(
                    Exit::NotFound,
                    format!("no execution on the controller {url}"),
                ))
            }
        }
    } else {
        id.to_string()
    };
    let v = controller_execution(url, &id).await?;
    let audit = v
        .audit
        .iter()
        .map(|a| format!("{} {}: {}", a.at, a.who, a.what))
        .collect();
    Ok((v.into_record(), format!("controller {url}"), None, audit))
}
