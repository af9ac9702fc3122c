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

/// `GET {url}{path}` on a controller as JSON; a 404 is execution `id`
/// unknown there.
pub(super) async fn controller_get(
    url: &str,
    path: &str,
    id: &str,
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
        404 => Err(Failure(
            Exit::Usage,
            format!("no execution {id:?} on the controller {url}"),
        )),
        c if !(200..300).contains(&c) => {
            Err(Failure(Exit::Unavailable, format!("{url}: HTTP {c}")))
        }
        _ => resp
            .json::<serde_json::Value>()
            .await
            .map_err(|e| Failure(Exit::Io, format!("{url}: not a drctl controller: {e}"))),
    }
}

/// Execution `id` from the controller at `url`.
pub(super) async fn controller_execution(url: &str, id: &str) -> Result<ExecutionView, Failure> {
    serde_json::from_value(controller_get(url, &format!("/v1/executions/{id}"), id).await?)
        .map_err(|e| Failure(Exit::Io, format!("{url}: not a drctl controller: {e}")))
}
