//! The store against openraft's own storage conformance suite, and a
//! reopen from disk.

use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, LogId, RaftLogReader, Vote};

use super::*;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), Err> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (log, sm) = open(dir.path()).expect("store opens");
        Ok((dir, log, sm))
    }
}

#[test]
fn passes_the_openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

#[tokio::test]
async fn log_vote_and_state_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log_id = LogId::new(CommittedLeaderId::new(3, 1), 1);
    {
        let (mut log, mut sm) = open(dir.path()).unwrap();
        log.save_vote(&Vote::new(3, 1)).await.unwrap();
        let cmd = crate::consensus::Command::Maintenance {
            on: true,
            by: "alice".into(),
            reason: Some("patching".into()),
            at: "t".into(),
        };
        let entry = Entry {
            log_id,
            payload: EntryPayload::Normal(cmd),
        };
        sm.apply([entry.clone()]).await.unwrap();
        // Write the entry straight to the log table (the flush callback is
        // openraft-internal and covered by the suite above).
        let db = log.db.clone();
        let bytes = serde_json::to_vec(&entry).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(LOGS)
            .unwrap()
            .insert(1, bytes.as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    let (mut log, mut sm) = open(dir.path()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
    assert_eq!(log.get_log_state().await.unwrap().last_log_id, Some(log_id));
    assert_eq!(log.try_get_log_entries(1..2).await.unwrap().len(), 1);
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id));
    let shared = sm.shared();
    let a = shared.read().unwrap();
    assert!(a.state.maintenance.on);
    assert_eq!(a.state.maintenance.by.as_deref(), Some("alice"));
}

fn blank(index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Blank,
    }
}

fn indexes(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
    entries.map(|es| es.iter().map(|e| e.log_id.index).collect())
}

#[test]
fn the_kept_entries_answer_only_ranges_they_hold_whole() {
    let mut r = Recent::default();
    r.append((1..=10).map(blank).collect());
    assert_eq!(indexes(r.get(3, 6)), Some(vec![3, 4, 5]));
    assert_eq!(indexes(r.get(10, 12)), None, "index 11 is not kept");
    assert_eq!(indexes(r.get(5, 5)), None);
    // A truncate drops the tail, a purge the head: never served again.
    r.truncate(8);
    assert_eq!(indexes(r.get(7, 9)), None);
    r.purge(3);
    assert_eq!(indexes(r.get(3, 5)), None);
    assert_eq!(indexes(r.get(4, 8)), Some(vec![4, 5, 6, 7]));
    // Entries after a gap start a new run.
    r.append(vec![blank(20)]);
    assert_eq!(indexes(r.get(4, 5)), None);
    assert_eq!(indexes(r.get(20, 21)), Some(vec![20]));
    // At most RECENT_ENTRIES, the newest.
    r.append((21..21 + RECENT_ENTRIES as u64).map(blank).collect());
    assert_eq!(r.0.len(), RECENT_ENTRIES);
    assert_eq!(indexes(r.get(20, 21)), None);
}
