//! The local journal of `drctl failover --confirm`: one JSON file per
//! policy in a directory, written durably, and locked for the run so that
//! two runs never act on the same journal at once.

use std::fs::{File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::journal::{upsert, ExecutionRecord, Journal, JournalError};

/// The lock file in a journal directory, held by the run that uses it.
pub const LOCK_FILE: &str = ".lock";

/// A journal in a directory: one JSON file per policy holding its executions.
/// Each save writes a temporary file, syncs it to disk, renames it over the
/// old one and syncs the directory, so a crash or a power loss leaves either
/// the old or the new journal, never half of one.
#[derive(Debug, Clone)]
pub struct FileJournal {
    dir: PathBuf,
    /// The exclusive lock on the directory's [`LOCK_FILE`], when taken with
    /// [`FileJournal::open_exclusive`]; released when the last clone drops.
    lock: Option<Arc<File>>,
}

impl FileJournal {
    /// A journal kept in `dir` (created on the first save), without a lock:
    /// for readers (reports) and tests.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock: None,
        }
    }

    /// A journal kept in `dir` that this process alone writes while it
    /// lives: it creates `dir` and takes an exclusive lock on its
    /// [`LOCK_FILE`], released when the journal (and every clone) drops.
    ///
    /// # Errors
    ///
    /// The directory or the lock file cannot be created, or another run
    /// holds the lock (the message names the lock file).
    pub fn open_exclusive(dir: impl Into<PathBuf>) -> Result<Self, JournalError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                dir,
                lock: Some(Arc::new(file)),
            }),
            Err(TryLockError::WouldBlock) => Err(JournalError::Io(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is locked: another drctl failover is running on this journal; wait for it to end",
                    path.display()
                ),
            ))),
            Err(TryLockError::Error(e)) => Err(JournalError::Io(io::Error::new(
                e.kind(),
                format!("{}: cannot lock: {e}", path.display()),
            ))),
        }
    }

    /// Whether this journal holds the directory's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// The file holding `policy`'s executions.
    ///
    /// # Errors
    ///
    /// A name that is not a plain file name ([`crate::policy::is_plain_file_name`]):
    /// nothing is ever written outside the journal directory.
    pub fn path(&self, policy: &str) -> io::Result<PathBuf> {
        if crate::policy::is_plain_file_name(policy) {
            return Ok(self.dir.join(format!("{policy}.json")));
        }
        let (name, dir) = (crate::policy::shown_name(policy), self.dir.display());
        let why = format!("journal: policy name {name} would leave the journal directory {dir}");
        Err(io::Error::new(io::ErrorKind::InvalidInput, why))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<ExecutionRecord>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a drctl journal: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }

    fn write(&self, record: &ExecutionRecord) -> io::Result<()> {
        // The name is checked before anything is created.
        let path = self.path(&record.policy)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.dir.display())))?;
        let mut records = self.read(&path)?;
        upsert(&mut records, record);
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&records).expect("journal records always serialize");
        let at = |p: &Path| {
            let p = p.display().to_string();
            move |e: io::Error| io::Error::new(e.kind(), format!("{p}: {e}"))
        };
        // The data is on disk before the rename makes it the journal, and
        // the rename is on disk (the directory synced) before the step acts.
        let mut file = File::create(&tmp).map_err(at(&tmp))?;
        file.write_all(&bytes).map_err(at(&tmp))?;
        file.sync_all().map_err(at(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(at(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(at(&self.dir))
    }
}

impl Journal for FileJournal {
    async fn last(&self, policy: &str) -> Result<Option<ExecutionRecord>, JournalError> {
        Ok(self.read(&self.path(policy)?)?.pop())
    }

    async fn save(&mut self, record: &ExecutionRecord) -> Result<(), JournalError> {
        self.write(record).map_err(JournalError::Io)
    }

    async fn writer_restore(&self, policy: &str) -> Result<super::WriterRestore, JournalError> {
        let records = self.read(&self.path(policy)?)?;
        Ok(super::known_writer_restore(&records))
    }
}

#[cfg(test)]
#[path = "file_journal_tests.rs"]
mod tests;
