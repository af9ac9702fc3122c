//! Recorded executions as `drctl report` and `drctl divergence` read them:
//! every record in the local journal, or one execution from a controller
//! cluster (`GET /v1/executions/{id}`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Exit;
use crate::api::views::ExecutionView;
use crate::execute::ExecutionRecord;

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
    let path = format!("/v1/executions?limit={KNOWN_SHOWN}");
    let list = controller_get(url, &path, String::new()).await.ok()?;
    let ids = list["executions"].as_array()?;
    Some(
        ids.iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect(),
    )
}

/// `GET {url}{path}` on a controller as JSON; a 404 is [`Exit::NotFound`]
/// with the message `not_found`.
pub(super) async fn controller_get(
    url: &str,
    path: &str,
    not_found: String,
) -> Result<serde_json::Value, Failure> {
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client with only timeouts set always builds");
    let resp = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| Failure(Exit::Unavailable, format!("{url}: {e}")))?;
    match resp.status().as_u16() {
        404 => Err(Failure(Exit::NotFound, not_found)),
        c if !(200..300).contains(&c) => {
            Err(Failure(Exit::Unavailable, format!("{url}: HTTP {c}")))
        }
        _ => resp
            .json::<serde_json::Value>()
            .await
            .map_err(|e| Failure(Exit::Io, format!("{url}: not a drctl controller: {e}"))),
    }
}

/// Execution `id` from the controller at `url`; an unknown id names the
/// controller and the newest ids it keeps.
pub(super) async fn controller_execution(url: &str, id: &str) -> Result<ExecutionView, Failure> {
    let path = format!("/v1/executions/{id}");
    let found = match controller_get(url, &path, String::new()).await {
        Err(Failure(Exit::NotFound, _)) => {
            let newest = controller_newest(url).await;
            let known = newest.map(|ids| known_ids(&ids)).unwrap_or_default();
            let why = format!("no execution {id:?} on the controller {url}{known}");
            return Err(Failure(Exit::NotFound, why));
        }
        other => other?,
    };
    serde_json::from_value(found)
        .map_err(|e| Failure(Exit::Io, format!("{url}: not a drctl controller: {e}")))
}
