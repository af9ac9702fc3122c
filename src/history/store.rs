//! The local history: one JSON-lines file per policy, newest last.
//!
//! `drctl drill` and `drctl failover --confirm` append every run they
//! finish; `drctl report` and `drctl history` read them. Each append
//! rewrites the file through a temporary one and a rename, keeping the
//! newest [`HISTORY_KEPT`] runs, so a crash leaves the old or the new file,
//! never half of one.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::HISTORY_KEPT;
use crate::execute::ExecutionRecord;

/// Where the command line keeps its history unless `--history-dir` or
/// `DRCTL_HISTORY_DIR` says otherwise (beside the journal, `.drctl/journal`).
pub const DEFAULT_HISTORY_DIR: &str = ".drctl/history";

/// One run as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it was recorded (RFC 3339, wall clock).
    pub recorded_at: String,
    /// Where it ran: `the simulated cloud (seed 1)` or `aws`.
    pub target: String,
    /// The policy's RTO when it ran, in milliseconds.
    pub rto_objective_ms: u64,
    /// The whole journal record.
    pub record: ExecutionRecord,
}

/// The history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A file or the directory cannot be read or written.
    #[error("history {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A line of a history file is not a run.
    #[error("history {path}: line {line} is not a drctl run: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What the parser said.
        why: String,
    },
    /// The policy's name would put the file outside the directory.
    #[error("history: policy name {0} would leave the history directory")]
    BadName(String),
}

/// The history kept in a directory.
#[derive(Debug, Clone)]
pub struct HistoryStore {
    dir: PathBuf,
}

impl HistoryStore {
    /// A history kept in `dir` (created on the first append).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `policy`'s runs.
    ///
    /// # Errors
    ///
    /// A name that is not a plain file name: nothing is ever written
    /// outside the directory.
    pub fn path(&self, policy: &str) -> Result<PathBuf, HistoryError> {
        if crate::policy::is_plain_file_name(policy) {
            Ok(self.dir.join(format!("{policy}.jsonl")))
        } else {
            Err(HistoryError::BadName(crate::policy::shown_name(policy)))
        }
    }

    /// Appends `entry` to its policy's file, dropping the oldest runs
    /// beyond [`HISTORY_KEPT`].
    ///
    /// # Errors
    ///
    /// The file cannot be read, parsed or written.
    pub fn append(&self, entry: &HistoryEntry) -> Result<(), HistoryError> {
        let path = self.path(&entry.record.policy)?;
        let io = |p: &Path| {
            let path = p.to_path_buf();
            move |source| HistoryError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let mut entries = read_file(&path)?;
        entries.push(entry.clone());
        let drop = entries.len().saturating_sub(HISTORY_KEPT);
        let mut text = String::new();
        for e in &entries[drop..] {
            text.push_str(&serde_json::to_string(e).expect("history entries always serialize"));
            text.push('\n');
        }
        let tmp = path.with_extension("jsonl.tmp");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// `policy`'s runs, oldest first (none when it has no file yet).
    ///
    /// # Errors
    ///
    /// The file cannot be read or parsed.
    pub fn runs(&self, policy: &str) -> Result<Vec<HistoryEntry>, HistoryError> {
        read_file(&self.path(policy)?)
    }

    /// Every policy's runs, oldest first by the time they were recorded.
    ///
    /// # Errors
    ///
    /// The directory or a file cannot be read or parsed.
    pub fn all(&self) -> Result<Vec<HistoryEntry>, HistoryError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(HistoryError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        let mut all = Vec::new();
        for f in files {
            all.extend(read_file(&f)?);
        }
        // Stable: runs recorded in the same instant keep their file order.
        all.sort_by(|a, b| a.recorded_at.cmp(&b.recorded_at));
        Ok(all)
    }

    /// The newest run with execution id `id`, or the newest of all for
    /// `latest`.
    ///
    /// # Errors
    ///
    /// The history cannot be read.
    pub fn find(&self, id: &str) -> Result<Option<HistoryEntry>, HistoryError> {
        let all = self.all()?;
        Ok(all
            .into_iter()
            .rev()
            .find(|e| id == "latest" || e.record.id == id))
    }
}

fn read_file(path: &Path) -> Result<Vec<HistoryEntry>, HistoryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| HistoryError::Corrupt {
                path: path.to_path_buf(),
                line: i + 1,
                why: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(id: &str, policy: &str, at: &str) -> HistoryEntry {
        let text = include_str!("../../policies/emr-platform-core.yaml");
        let p = crate::policy::parse(Path::new("p.yaml"), text).unwrap();
        let observed = crate::plan::Observed::default();
        let plan = crate::plan::build(&p, &observed, Default::default());
        let mut record = crate::execute::new_record(
            &plan,
            &crate::execute::RunOptions {
                execution_id: Some(id.into()),
                ..Default::default()
            },
        );
        record.policy = policy.into();
        HistoryEntry {
            recorded_at: at.into(),
            target: "test".into(),
            rto_objective_ms: 1,
            record,
        }
    }

    #[test]
    fn keeps_the_newest_runs_and_finds_by_id_or_latest() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path().join("h"));
        assert!(store.find("latest").unwrap().is_none());
        let mut base = entry("run", "a", "");
        // Only ids and times matter here: a small record keeps 200 rewrites quick.
        base.record.plan.steps.clear();
        base.record.steps.clear();
        for i in 0..HISTORY_KEPT + 3 {
            let mut e = base.clone();
            e.record.id = format!("run-{i}");
            e.recorded_at = format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60);
            store.append(&e).unwrap();
        }
        store
            .append(&entry("other", "b", "2026-01-01T00:00:00Z"))
            .unwrap();
        let a = store.runs("a").unwrap();
        assert_eq!(a.len(), HISTORY_KEPT);
        assert_eq!(a[0].record.id, "run-3");
        assert_eq!(store.all().unwrap().len(), HISTORY_KEPT + 1);
        let latest = store.find("latest").unwrap().unwrap();
        assert_eq!(latest.record.id, format!("run-{}", HISTORY_KEPT + 2));
        assert_eq!(store.find("other").unwrap().unwrap().record.policy, "b");
        assert!(store.find("run-0").unwrap().is_none());
    }

    #[test]
    fn a_corrupt_line_is_named_and_a_bad_policy_name_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        std::fs::write(dir.path().join("a.jsonl"), "\n{not json\n").unwrap();
        let err = store.runs("a").unwrap_err().to_string();
        assert!(err.contains("a.jsonl: line 2 is not a drctl run"), "{err}");
        let bad = entry("x", "../escape", "2026-01-01T00:00:00Z");
        assert!(matches!(store.append(&bad), Err(HistoryError::BadName(_))));
    }
}
