//! Recorded executions as `drctl report` and `drctl divergence` read them:
//! every record in the local journal, or one execution from a controller
//! cluster (`GET /v1/executions/{id}`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Exit;
use crate::api::client::{ClientError, Controllers, FailureKind};
use crate::api::views::ExecutionView;
use crate::execute::ExecutionRecord;

/// How long the controller may take to answer a read.
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a recorded execution cannot be shown: the exit code and the message.
pub(super) struct Failure(pub Exit, pub String);

/// Every record of every policy's file in the journal `dir`, file by file
/// in name order; `None` when the directory does not exist.
pub(super) fn journal_records(dir: &Path) -> Result<Option<Vec<ExecutionRecord>>, Failure> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Failure(Exit::Io, format!("{}: {e}", dir.display()))),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)
            .map_err(|e| Failure(Exit::Io, format!("{}: {e}", path.display())))?;
        let records: Vec<ExecutionRecord> = serde_json::from_slice(&bytes).map_err(|e| {
            let shown = path.display();
            Failure(Exit::Io, format!("{shown}: not a drctl journal: {e}"))
        })?;
        all.extend(records);
    }
    Ok(Some(all))
}

/// How many of the newest execution ids an unknown id's message lists.
pub(super) const KNOWN_SHOWN: usize = 5;

/// The end of an unknown id's message: the newest ids known where drctl
/// looked (newest first), or that none are.
pub(super) fn known_ids(newest: &[String]) -> String {
    if newest.is_empty() {
        return "; no execution is recorded there".into();
    }
    let shown: Vec<&str> = newest
        .iter()
        .take(KNOWN_SHOWN)
        .map(String::as_str)
        .collect();
    format!("; the newest known: {}", shown.join(", "))
}

/// The ids of `records`, newest first by start time, each once.
pub(super) fn newest_ids<'a>(records: impl Iterator<Item = &'a ExecutionRecord>) -> Vec<String> {
    let mut all: Vec<(&str, &str)> = records
        .map(|r| (r.started_at.as_str(), r.id.as_str()))
        .collect();
    all.sort_by(|a, b| b.cmp(a));
    let mut ids: Vec<String> = Vec::new();
    for (_, id) in all {
        if !ids.iter().any(|k| k == id) {
            ids.push(id.to_string());
        }
        if ids.len() == KNOWN_SHOWN {
            break;
        }
    }
    ids
}

/// The newest execution ids the controller at `url` keeps (`None` when
/// it cannot say).
pub(super) async fn controller_newest(url: &str) -> Option<Vec<String>> {
    let (_, list) = controller(url).executions(Some(KNOWN_SHOWN)).await.ok()?;
    Some(list.executions.into_iter().map(|e| e.id).collect())
}

/// The typed client for the controller at `url` alone.
pub(super) fn controller(url: &str) -> Controllers {
    Controllers::new(&[url.to_string()], CONTROLLER_TIMEOUT)
}

/// A failed read from one controller as the exit code and message:
/// `not_found` when it answered 404.
pub(super) fn failure(e: ClientError, not_found: String) -> Failure {
    match e.kind {
        FailureKind::NotFound => Failure(Exit::NotFound, not_found),
        FailureKind::NotController => Failure(Exit::Io, e.message),
        FailureKind::Unavailable => Failure(Exit::Unavailable, e.message),
    }
}

pub(super) async fn controller_execution(url: &str, id: &str) -> Result<ExecutionView, Failure> {
    match controller(url).execution(id).await {
        Ok((_, view)) => Ok(view),
        Err(e) if e.kind == FailureKind::NotFound => {
            let newest = controller_newest(url).await;
            let known = newest.map(|ids| known_ids(&ids)).unwrap_or_default();
            let why = format!("no execution {id:?} on the controller {url}{known}");
            Err(Failure(Exit::NotFound, why))
        }
        Err(e) => Err(failure(e, String::new())),
    }
}
