//! A quiesce of writers whose fence keeps no state of its own (ElastiCache
//! users): the access strings it replaced are journaled and given back by
//! the undo, also after the execution was saved and run again.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::quiesce::{act, Restore, StepRestore};
use super::quiesce_fake::AccessStrings;
use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::model::{DataTier, Exposure, Orientation};
use crate::plan::{failback, Action};

const APP: &str = "emr-app";
const BEFORE: &str = "on ~app:* &* +@all -flushall";

/// The shipped policy read after a failover and a reprotect: us-west-2
/// active, a failback quiesces there.
fn reversed() -> Policy {
    crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
    .oriented(Orientation::Reversed)
}

fn fence() -> Fence {
    Fence {
        execution_id: "fb-1".into(),
        epoch: Epoch::default(),
    }
}

#[tokio::test]
async fn a_quiesce_returns_the_access_strings_it_replaced_and_an_undo_needs_them() {
    let policy = reversed();
    let writers = AccessStrings::new(&policy, APP, BEFORE);
    let region = "us-west-2".to_string();
    let quiesce = Action::QuiesceWriters {
        region: region.clone(),
    };
    let undo = Action::UndoQuiesce {
        region: region.clone(),
    };
    let step = StepRestore::default();
    act(&writers, &policy, &quiesce, &fence(), &step)
        .await
        .unwrap()
        .unwrap();
    let recorded = step.recorded();
    let expected: Restore = [(APP.to_string(), BEFORE.to_string())].into();
    assert_eq!(recorded, expected);
    assert_eq!(writers.access(&region, APP), format!("{BEFORE} -@write"));
    // Fenced again: nothing new to record, never the fenced string.
    let again = StepRestore::default();
    act(&writers, &policy, &quiesce, &fence(), &again)
        .await
        .unwrap()
        .unwrap();
    assert!(again.recorded().is_empty(), "{again:?}");
    // Without what the quiesce recorded, the undo refuses and names why.
    let refused = act(&writers, &policy, &undo, &fence(), &StepRestore::default())
        .await
        .unwrap()
        .unwrap_err();
    assert!(refused.message.contains("restore it by hand"), "{refused}");
    let given = StepRestore {
        given: recorded,
        ..Default::default()
    };
    act(&writers, &policy, &undo, &fence(), &given)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(writers.access(&region, APP), BEFORE);
}

#[tokio::test(start_paused = true)]
async fn a_failback_resumed_from_its_journal_undoes_its_quiesce_with_the_recorded_access_strings() {
    let written = crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap();
    let policy = written.oriented(Orientation::Reversed);
    let ctx = failback::Context::after_one_reprotect("fb-1");
    let plan = failback::build(&policy, &Default::default(), &ctx);
    let writers = Arc::new(AccessStrings::new(&policy, APP, BEFORE));
    // The replica stays 40 s behind: the drain never ends by itself.
    let lag = [
        (DataTier::Database, Exposure::Known(Duration::from_secs(40))),
        (DataTier::Cache, Exposure::Known(Duration::ZERO)),
        (DataTier::Stream, Exposure::Known(Duration::ZERO)),
    ];
    let options = SimOptions {
        lag: lag.into_iter().collect(),
        ..SimOptions::default()
    };
    let sim = SimCloud::new(&written, options)
        .unwrap()
        .with_writers(writers.clone());
    let sim = Arc::new(sim);
    let policy = Arc::new(policy);
    let run = RunOptions::default();
    let mut record = new_record(&plan, &run);
    for s in &mut record.steps {
        if s.kind == StepKind::PreflightFailback {
            s.status = StepStatus::Done;
        }
    }
    let mut journal = MemoryJournal::default();
    journal.save(&record).await.unwrap();

    // The executor stops while the drain waits, after the quiesce.
    let first = run_record(
        sim.clone(),
        policy.clone(),
        &mut journal,
        &mut record,
        &run,
        Instant::now(),
    );
    let stopped = tokio::time::timeout(Duration::from_secs(60), first).await;
    assert!(stopped.is_err(), "the drain waits for the replica");
    assert_eq!(
        writers.access("us-west-2", APP),
        format!("{BEFORE} -@write")
    );

    // Saved, read back and run again: the drain gives up, the undo gives
    // the users the access strings they had before the quiesce.
    let saved = serde_json::to_string(journal.records.last().unwrap()).unwrap();
    let mut resumed: ExecutionRecord = serde_json::from_str(&saved).unwrap();
    assert_eq!(
        resumed.step("quiesce-writers").map(|s| s.status),
        Some(StepStatus::Done)
    );
    prepare_resume(&mut resumed);
    run_record(
        sim,
        policy,
        &mut journal,
        &mut resumed,
        &run,
        Instant::now(),
    )
    .await
    .unwrap();
    let undo = resumed.step("undo-quiesce").expect("the quiesce is undone");
    assert_eq!(undo.status, StepStatus::Done, "{undo:#?}");
    assert_eq!(writers.access("us-west-2", APP), BEFORE);
}
