//! The raft log, the vote and the state machine on disk, in one redb file.
//!
//! redb is a maintained, pure-Rust embedded store with ACID transactions
//! and crash safety by copy-on-write B-trees: every write below commits
//! durably (fsync) before openraft is told it is done. One file per node
//! (`<data_dir>/raft.redb`) holds four things: the log entries by index, the
//! vote, the applied state machine (with its last applied log id and
//! membership) and the latest snapshot. The state machine is small (the
//! executions kept and the audit log), so it is written whole after each
//! applied batch; snapshots let openraft purge the log behind them.

// openraft fixes `StorageError` (large) as the error of every storage call, and redb errors are as large; boxing them at each call would only move the allocation.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, RwLock};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership, Vote,
};
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ClusterState, Member, NodeId, Reply, TypeConfig};

const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "last_purged";
const APPLIED: &str = "state_machine";
const SNAPSHOT: &str = "snapshot";

type Err = StorageError<NodeId>;

/// Opens (or creates) a node's store in `dir`, returning the log store and
/// the state machine that share it.
///
/// # Errors
///
/// The directory or the file cannot be created or opened, or the file is
/// not a drctl store.
pub fn open(dir: &Path) -> Result<(LogStore, StateMachine), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
    let path = dir.join("raft.redb");
    let db = Database::create(&path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    let db = Arc::new(db);
    let init = || -> Result<(), redb::Error> {
        let tx = db.begin_write()?;
        tx.open_table(LOGS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(())
    };
    init().map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    let applied = read_meta::<Applied>(&db, APPLIED)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?
        .unwrap_or_default();
    let sm = StateMachine {
        db: db.clone(),
        applied: Arc::new(RwLock::new(applied)),
    };
    Ok((
        LogStore {
            db,
            recent: Default::default(),
        },
        sm,
    ))
}

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("raft store: {0}")]
pub struct StoreError(String);

/// The raft log and vote.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// The newest entries as appended, shared by the readers: the leader
    /// reads what a follower lacks on every try to send it, and decoding
    /// entries from the file on each try cost more than anything else.
    recent: Arc<std::sync::Mutex<Recent>>,
}

/// The newest log entries, at most [`RECENT_ENTRIES`], always a contiguous
/// run of indexes that the file holds too (appended after their write,
/// dropped before a truncate or a purge).
#[derive(Default)]
struct Recent(std::collections::BTreeMap<u64, Entry<TypeConfig>>);

/// How many of the newest entries the log store keeps decoded.
const RECENT_ENTRIES: usize = 512;

impl Recent {
    /// The entries `start..end`, when every one of them is kept.
    fn get(&self, start: u64, end: u64) -> Option<Vec<Entry<TypeConfig>>> {
        let (first, last) = (*self.0.keys().next()?, *self.0.keys().next_back()?);
        (start < end && first <= start && end - 1 <= last)
            .then(|| self.0.range(start..end).map(|(_, e)| e.clone()).collect())
    }

    fn append(&mut self, entries: Vec<Entry<TypeConfig>>) {
        for e in entries {
            // An index not right after the newest breaks the run: start anew.
            if self
                .0
                .keys()
                .next_back()
                .is_some_and(|l| *l + 1 != e.log_id.index)
            {
                self.0.clear();
            }
            self.0.insert(e.log_id.index, e);
        }
        while self.0.len() > RECENT_ENTRIES {
            self.0.pop_first();
        }
    }

    /// Drops the entries from `index` on.
    fn truncate(&mut self, index: u64) {
        self.0.retain(|i, _| *i < index);
    }

    /// Drops the entries up to `index`.
    fn purge(&mut self, index: u64) {
        self.0.retain(|i, _| *i > index);
    }
}

/// The applied state, as persisted and shared with the API.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    /// The last log entry applied.
    pub last_applied: Option<LogId<NodeId>>,
    /// The membership as of that entry.
    pub membership: StoredMembership<NodeId, Member>,
    /// The replicated state.
    pub state: ClusterState,
}

/// The state machine; cloning shares it.
#[derive(Clone)]
pub struct StateMachine {
    db: Arc<Database>,
    applied: Arc<RwLock<Applied>>,
}

impl StateMachine {
    /// A read handle on the applied state, for the API and the executor.
    pub fn shared(&self) -> Arc<RwLock<Applied>> {
        self.applied.clone()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Member>,
    data: Vec<u8>,
}

fn io(e: impl std::error::Error + 'static) -> openraft::AnyError {
    openraft::AnyError::new(&e)
}

fn read_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, redb::Error> {
    let tx = db.begin_read()?;
    let t = tx.open_table(META)?;
    match t.get(key)? {
        Some(v) => Ok(Some(
            serde_json::from_slice(v.value()).map_err(|e| redb::Error::Corrupted(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

fn write_meta(db: &Database, pairs: &[(&str, Vec<u8>)]) -> Result<(), redb::Error> {
    let tx = db.begin_write()?;
    {
        let mut t = tx.open_table(META)?;
        for (k, v) in pairs {
            t.insert(*k, v.as_slice())?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Runs blocking store work off the async workers. Under the simulation
/// (a virtual clock on this thread) it runs inline: the run stays on one
/// thread, in one order, and no store write waits for another thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Err> + Send + 'static,
) -> Result<T, Err> {
    if crate::clock::is_virtual() {
        return f();
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageIOError::write(io(e)).into())
        .and_then(|r| r)
}

fn bounds(range: impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, Err> {
        let (start, end) = bounds(range);
        if let Some(kept) = self
            .recent
            .lock()
            .expect("recent entries lock")
            .get(start, end)
        {
            return Ok(kept);
        }
        let db = self.db.clone();
        blocking(move || {
            let read = || -> Result<Vec<Entry<TypeConfig>>, redb::Error> {
                let tx = db.begin_read()?;
                let t = tx.open_table(LOGS)?;
                let mut out = Vec::new();
                if start >= end {
                    return Ok(out);
                }
                for row in t.range(start..end)? {
                    let (_, v) = row?;
                    out.push(
                        serde_json::from_slice(v.value())
                            .map_err(|e| redb::Error::Corrupted(e.to_string()))?,
                    );
                }
                Ok(out)
            };
            read().map_err(|e| StorageIOError::read_logs(io(e)).into())
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, Err> {
        let db = self.db.clone();
        blocking(move || {
            let read = || -> Result<LogState<TypeConfig>, redb::Error> {
                let purged: Option<LogId<NodeId>> = read_meta(&db, PURGED)?;
                let tx = db.begin_read()?;
                let t = tx.open_table(LOGS)?;
                let last = match t.last()? {
                    Some((_, v)) => {
                        let e: Entry<TypeConfig> = serde_json::from_slice(v.value())
                            .map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                        Some(e.log_id)
                    }
                    None => purged,
                };
                Ok(LogState {
                    last_purged_log_id: purged,
                    last_log_id: last,
                })
            };
            read().map_err(|e| StorageIOError::read_logs(io(e)).into())
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), Err> {
        let db = self.db.clone();
        let bytes = serde_json::to_vec(vote).expect("votes serialize");
        blocking(move || {
            write_meta(&db, &[(VOTE, bytes)]).map_err(|e| StorageIOError::write_vote(io(e)).into())
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, Err> {
        let db = self.db.clone();
        blocking(move || read_meta(&db, VOTE).map_err(|e| StorageIOError::read_vote(io(e)).into()))
            .await
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), Err> {
        let db = self.db.clone();
        let bytes = serde_json::to_vec(&committed).expect("log ids serialize");
        blocking(move || {
            write_meta(&db, &[(COMMITTED, bytes)])
                .map_err(|e| StorageIOError::write_logs(io(e)).into())
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, Err> {
        let db = self.db.clone();
        blocking(move || {
            read_meta::<Option<LogId<NodeId>>>(&db, COMMITTED)
                .map(Option::flatten)
                .map_err(|e| StorageIOError::read_logs(io(e)).into())
        })
        .await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), Err>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let rows: Vec<(u64, Vec<u8>)> = entries
            .iter()
            .map(|e| {
                let bytes = serde_json::to_vec(e).expect("entries serialize");
                (e.log_id.index, bytes)
            })
            .collect();
        let db = self.db.clone();
        let result = blocking(move || {
            let write = || -> Result<(), redb::Error> {
                let tx = db.begin_write()?;
                {
                    let mut t = tx.open_table(LOGS)?;
                    for (i, bytes) in &rows {
                        t.insert(*i, bytes.as_slice())?;
                    }
                }
                tx.commit()?;
                Ok(())
            };
            write().map_err(|e| StorageIOError::write_logs(io(e)).into())
        })
        .await;
        if result.is_ok() {
            self.recent
                .lock()
                .expect("recent entries lock")
                .append(entries);
        }
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), Err> {
        self.recent
            .lock()
            .expect("recent entries lock")
            .truncate(log_id.index);
        let db = self.db.clone();
        blocking(move || {
            let write = || -> Result<(), redb::Error> {
                let tx = db.begin_write()?;
                {
                    let mut t = tx.open_table(LOGS)?;
                    t.retain_in(log_id.index.., |_, _| false)?;
                }
                tx.commit()?;
                Ok(())
            };
            write().map_err(|e| StorageIOError::write_logs(io(e)).into())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), Err> {
        self.recent
            .lock()
            .expect("recent entries lock")
            .purge(log_id.index);
        let db = self.db.clone();
        let bytes = serde_json::to_vec(&Some(log_id)).expect("log ids serialize");
        blocking(move || {
            let write = || -> Result<(), redb::Error> {
                let tx = db.begin_write()?;
                {
                    let mut m = tx.open_table(META)?;
                    m.insert(PURGED, bytes.as_slice())?;
                    let mut t = tx.open_table(LOGS)?;
                    t.retain_in(..=log_id.index, |_, _| false)?;
                }
                tx.commit()?;
                Ok(())
            };
            write().map_err(|e| StorageIOError::write_logs(io(e)).into())
        })
        .await
    }
}

impl StateMachine {
    async fn persist(&self, snapshot: Option<&StoredSnapshot>) -> Result<(), Err> {
        let applied = serde_json::to_vec(&*self.applied.read().expect("state lock"))
            .expect("state serializes");
        let snap = snapshot.map(|s| serde_json::to_vec(s).expect("snapshots serialize"));
        let db = self.db.clone();
        blocking(move || {
            let mut pairs = vec![(APPLIED, applied)];
            if let Some(s) = snap {
                pairs.push((SNAPSHOT, s));
            }
            write_meta(&db, &pairs).map_err(|e| StorageIOError::write_state_machine(io(e)).into())
        })
        .await
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, Err> {
        let (data, last, membership) = {
            let a = self.applied.read().expect("state lock");
            (
                serde_json::to_vec(&a.state).expect("state serializes"),
                a.last_applied,
                a.membership.clone(),
            )
        };
        let snapshot_id = match last {
            Some(l) => format!("{}-{}", l.leader_id.term, l.index),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: membership,
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.persist(Some(&stored)).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Member>), Err> {
        let a = self.applied.read().expect("state lock");
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, Err>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        {
            let mut a = self.applied.write().expect("state lock");
            for e in entries {
                a.last_applied = Some(e.log_id);
                let reply = match e.payload {
                    EntryPayload::Blank => Reply::Ok,
                    EntryPayload::Normal(cmd) => {
                        a.state.apply(cmd, e.log_id.leader_id.term, e.log_id.index)
                    }
                    EntryPayload::Membership(m) => {
                        a.membership = StoredMembership::new(Some(e.log_id), m);
                        Reply::Ok
                    }
                };
                replies.push(reply);
            }
        }
        self.persist(None).await?;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, Err> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Member>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), Err> {
        let data = snapshot.into_inner();
        let state: ClusterState = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), io(e)))?;
        {
            let mut a = self.applied.write().expect("state lock");
            *a = Applied {
                last_applied: meta.last_log_id,
                membership: meta.last_membership.clone(),
                state,
            };
        }
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.persist(Some(&stored)).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, Err> {
        let db = self.db.clone();
        let stored: Option<StoredSnapshot> = blocking(move || {
            read_meta(&db, SNAPSHOT).map_err(|e| StorageIOError::read_snapshot(None, io(e)).into())
        })
        .await?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests;
