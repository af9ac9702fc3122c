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
