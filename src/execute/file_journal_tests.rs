use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{execute, MemoryJournal, RunOptions};

/// A finished execution of the shipped policy on the simulated cloud.
async fn a_record() -> ExecutionRecord {
    let policy = crate::policy::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap();
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    execute(
        sim,
        Arc::new(policy),
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap()
}

#[test]
fn a_second_run_on_the_same_journal_is_refused_until_the_first_ends() {
    let dir = tempfile::tempdir().unwrap();
    let first = FileJournal::open_exclusive(dir.path()).unwrap();
    assert!(first.is_locked());
    let held = first.clone();
    drop(first);
    let e = FileJournal::open_exclusive(dir.path()).unwrap_err();
    let lock = dir.path().join(LOCK_FILE);
    assert!(
        e.to_string().contains(&lock.display().to_string()),
        "the error names the lock file: {e}"
    );
    assert!(e.to_string().contains("another drctl failover"), "{e}");
    // The lock goes with the last clone of the journal that holds it.
    drop(held);
    FileJournal::open_exclusive(dir.path()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_save_leaves_a_complete_journal_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = FileJournal::open_exclusive(dir.path()).unwrap();
    let mut record = a_record().await;
    let path = journal.path(&record.policy).unwrap();
    for n in 0..5 {
        record.id = format!("run-{n}");
        journal.save(&record).await.unwrap();
        let on_disk: Vec<ExecutionRecord> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk.len(), n + 1);
        assert_eq!(on_disk.last().unwrap().id, record.id);
        assert!(!path.with_extension("json.tmp").exists());
    }
    let last = journal.last(&record.policy).await.unwrap().unwrap();
    assert_eq!(last.id, "run-4");
}

#[tokio::test(start_paused = true)]
async fn access_strings_fences_replaced_are_read_back_newest_first_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = FileJournal::new(dir.path());
    let mut first = a_record().await;
    first.id = "failover".into();
    let mut fence = crate::execute::fence_return::FenceOldPrimary::pending("us-east-1");
    fence.writer_restore = [(
        "us-east-1".into(),
        [("app".into(), "on +@all".into())].into(),
    )]
    .into();
    first.fence_old_primary = Some(fence);
    journal.save(&first).await.unwrap();
    let mut second = a_record().await;
    second.id = "failback".into();
    second.writer_restore = [
        (
            "us-west-2".into(),
            [("app".into(), "on +@all".into())].into(),
        ),
        (
            "us-east-1".into(),
            [("app".into(), "on ~app:* +@all".into())].into(),
        ),
    ]
    .into();
    journal.save(&second).await.unwrap();
    let known = FileJournal::new(dir.path())
        .writer_restore(&first.policy)
        .await
        .unwrap();
    assert_eq!(known["us-east-1"]["app"], "on ~app:* +@all");
    assert_eq!(known["us-west-2"]["app"], "on +@all");
    assert!(FileJournal::new(dir.path())
        .writer_restore("another-policy")
        .await
        .unwrap()
        .is_empty());
}
