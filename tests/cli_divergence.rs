//! `drctl divergence` as a user runs it, against a file journal.

use std::path::Path;
use std::sync::Arc;

use assert_cmd::Command;
use predicates::prelude::*;

use drctl::cloud::sim::{SimCloud, SimOptions};
use drctl::execute::fork::ForkPositions;
use drctl::execute::{execute, FileJournal, Journal, MemoryJournal, RunOptions, StepStatus};
use drctl::fence::{DatabasePosition, Divergence};
use drctl::plan::DataTier;

fn drctl() -> Command {
    let mut c = Command::cargo_bin("drctl").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("DRCTL_JOURNAL_DIR");
    c
}

/// 2026-12-01 12:00:05 UTC in Unix ms.
const NOON_05: u64 = 1_796_126_405_000;

/// A journal holding one finished execution of the shipped policy whose old
/// primary was fenced and measured: 2 heartbeat rows and 48 KiB of WAL.
fn journal_with_a_measured_divergence(dir: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    let policy = Arc::new(drctl::policy::load(&path).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    let options = RunOptions {
        execution_id: Some("x-fork-1".into()),
        ..RunOptions::default()
    };
    let mut record = rt
        .block_on(execute(sim, policy, &mut MemoryJournal::default(), options))
        .unwrap();
    let fork = ForkPositions {
        database: Some(DatabasePosition {
            lsn: "0/3000148".into(),
            newest_heartbeat_ms: Some(NOON_05),
            at_ms: NOON_05 + 1,
        }),
        cache: None,
        errors: vec!["cache: redis replica cache-dr:6379: unreachable: refused".into()],
    };
    let fence = record.fence_old_primary.as_mut().expect("fenced on return");
    fence.status = StepStatus::Done;
    fence.waiting_for = None;
    fence.fork = Some(fork.clone());
    fence.divergence = vec![Divergence {
        tier: DataTier::Database,
        bytes: 48 * 1024,
        heartbeat_rows: 2,
        window_start_ms: Some(NOON_05),
        window_end_ms: Some(NOON_05 + 62_000),
        measured_at_ms: NOON_05 + 120_000,
    }];
    record.fork = Some(fork);
    rt.block_on(FileJournal::new(dir).save(&record)).unwrap();
}

#[test]
fn divergence_prints_the_fork_and_what_the_old_primary_took_after_it() {
    let dir = tempfile::tempdir().unwrap();
    journal_with_a_measured_divergence(dir.path());
    let journal = dir.path().to_str().unwrap();
    drctl()
        .args(["divergence", "x-fork-1", "--journal-dir", journal])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "divergence of execution x-fork-1 of policy emr-platform (old primary in us-east-1)\n\
             database: at the fork, replica at WAL 0/3000148, newest heartbeat 2026-12-01T12:00:05Z\n\
             database: 48 KiB of WAL and 2 heartbeat rows written on the old primary after the fork, \
             12:00:05–12:01:07 UTC; the fenced old primary keeps these writes",
        ))
        .stdout(predicate::str::contains(
            "cache: position not read at the fork (redis replica cache-dr:6379: unreachable: refused)",
        ));
    let out = drctl()
        .args(["divergence", "x-fork-1", "--output", "json"])
        .args(["--journal-dir", journal])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["tiers"][0]["tier"], "database");
    assert_eq!(v["tiers"][0]["measured"]["heartbeat_rows"], 2);
    assert_eq!(v["tiers"][0]["measured"]["bytes"], 48 * 1024);
    assert_eq!(v["fork"]["database"]["lsn"], "0/3000148");
}

#[test]
fn divergence_of_an_unknown_execution_names_it_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    journal_with_a_measured_divergence(dir.path());
    let journal = dir.path().to_str().unwrap();
    drctl()
        .args(["divergence", "x-nope", "--journal-dir", journal])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "error: no execution \"x-nope\" in the journal {journal}"
        )));
    let missing = dir.path().join("absent");
    drctl()
        .args(["divergence", "x-fork-1", "--journal-dir"])
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the directory does not exist"));
}
