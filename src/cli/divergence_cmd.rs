//! `drctl divergence EXECUTION`: what the old primary accepted after the
//! fork, per data tier, read from the local journal or a controller
//! cluster (see `execute::fence_return::view`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::{live_runtime, Exit, Output};
use crate::api::views::ExecutionView;
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

/// Why the report cannot be shown.
struct Failure(Exit, String);

/// Prints the divergence report of one execution; an unknown execution
/// exits 2 naming it.
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
    let unknown = |why: &str| {
        let d = dir.display();
        Failure(
            Exit::Usage,
            format!("no execution {id:?} in the journal {d}{why}"),
        )
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unknown(
                " (the directory does not exist; --journal-dir names another)",
            ))
        }
        Err(e) => return Err(Failure(Exit::Io, format!("{}: {e}", dir.display()))),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path)
            .map_err(|e| Failure(Exit::Io, format!("{}: {e}", path.display())))?;
        let records: Vec<ExecutionRecord> = serde_json::from_slice(&bytes).map_err(|e| {
            Failure(
                Exit::Io,
                format!("{}: not a drctl journal: {e}", path.display()),
            )
        })?;
        if let Some(r) = records.into_iter().find(|r| r.id == id) {
            return Ok(r);
        }
    }
    Err(unknown(""))
}

/// The execution `id` from the controller at `url` (`GET /v1/executions/{id}`).
async fn from_controller(url: &str, id: &str) -> Result<DivergenceReport, Failure> {
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client with only timeouts set always builds");
    let resp = http
        .get(format!("{base}/v1/executions/{id}"))
        .send()
        .await
        .map_err(|e| Failure(Exit::Unavailable, format!("{url}: {e}")))?;
    match resp.status().as_u16() {
        404 => {
            return Err(Failure(
                Exit::Usage,
                format!("no execution {id:?} on the controller {url}"),
            ))
        }
        c if !(200..300).contains(&c) => {
            return Err(Failure(Exit::Unavailable, format!("{url}: HTTP {c}")))
        }
        _ => {}
    }
    let v: ExecutionView = resp
        .json()
        .await
        .map_err(|e| Failure(Exit::Io, format!("{url}: not a drctl controller: {e}")))?;
    Ok(DivergenceReport::new(
        &v.summary.id,
        &v.summary.policy,
        &v.from_region,
        v.fork.as_ref(),
        v.fence_old_primary.as_ref(),
    ))
}
