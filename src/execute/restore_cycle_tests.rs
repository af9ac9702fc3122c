//! Writers whose fence keeps no state of its own (ElastiCache users) across
//! the whole way home: the access strings one execution's fence replaced
//! are given back by a later execution's lift of that region. The failover
//! fences the old primary's users on return; the failback lifts them at
//! home. The failback quiesces the DR side's users; the failover again
//! lifts them there.

use std::sync::Arc;
use std::time::Duration;

use super::cycle::{run_cycle, CyclePhase};
use super::quiesce_fake::AccessStrings;
use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::model::{DataTier, Exposure};

const APP: &str = "emr-app";
const BEFORE: &str = "on ~app:* &* +@all -flushall";
const FENCED: &str = "on ~app:* &* +@all -flushall -@write";

fn shipped() -> Policy {
    crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
}

/// A simulated cloud whose replicas never lag (the drain needs no
/// quiesce of the world's own writers) and whose writers are `writers`.
fn sim(policy: &Policy, writers: Arc<AccessStrings>) -> Arc<SimCloud> {
    let lag = DataTier::ALL.map(|t| (t, Exposure::Known(Duration::ZERO)));
    let options = SimOptions {
        lag: lag.into_iter().collect(),
        ..SimOptions::default()
    };
    Arc::new(
        SimCloud::new(policy, options)
            .unwrap()
            .with_writers(writers),
    )
}

fn options(phase: CyclePhase) -> RunOptions {
    RunOptions {
        execution_id: Some(format!("restore-{}", phase.name())),
        operator: "test".into(),
        ..RunOptions::default()
    }
}

fn failed_steps(record: &ExecutionRecord) -> Vec<(String, Option<String>)> {
    record
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .map(|s| (s.id.clone(), s.outcome.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn access_strings_a_fence_replaced_are_given_back_by_a_later_executions_lift() {
    let written = shipped();
    let writers = Arc::new(AccessStrings::new(&written, APP, BEFORE));
    let cloud = sim(&written, writers.clone());
    let mut journal = MemoryJournal::default();
    let check = |phase: CyclePhase| match phase {
        CyclePhase::Failover => {}
        // The failover's fence on return stopped the old primary's users.
        CyclePhase::Reprotect => {
            assert_eq!(writers.access("us-east-1", APP), FENCED);
            assert_eq!(writers.access("us-west-2", APP), BEFORE);
        }
        // The failback at home gave them back and quiesced the DR side.
        CyclePhase::FailoverAgain => {
            assert_eq!(writers.access("us-east-1", APP), BEFORE);
            assert_eq!(writers.access("us-west-2", APP), FENCED);
        }
        CyclePhase::Failback => {}
    };
    let phases = run_cycle(
        cloud,
        &written,
        &mut journal,
        CyclePhase::FailoverAgain,
        options,
        check,
    )
    .await
    .unwrap();
    for p in &phases {
        assert_eq!(
            p.execution.status,
            ExecutionStatus::Completed,
            "{}: {:?}",
            p.phase.name(),
            failed_steps(&p.execution)
        );
    }
    assert_eq!(phases.len(), 4);
    // The failover again lifted the quiesce the failback left in us-west-2
    // with the strings the failback's quiesce recorded.
    assert_eq!(writers.access("us-west-2", APP), BEFORE);
    let lift = phases[3].execution.step("lift-quiesce").expect("planned");
    assert_eq!(lift.status, StepStatus::Done, "{lift:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_fence_on_return_keeps_the_access_strings_it_replaced_in_its_record() {
    let written = shipped();
    let writers = Arc::new(AccessStrings::new(&written, APP, BEFORE));
    let cloud = sim(&written, writers.clone());
    let mut journal = MemoryJournal::default();
    let phases = run_cycle(
        cloud,
        &written,
        &mut journal,
        CyclePhase::Failover,
        options,
        |_| {},
    )
    .await
    .unwrap();
    let fence = phases[0]
        .execution
        .fence_old_primary
        .as_ref()
        .expect("planned");
    let expected: std::collections::BTreeMap<String, String> =
        [(APP.to_string(), BEFORE.to_string())].into();
    assert_eq!(fence.writer_restore.get("us-east-1"), Some(&expected));
    let known = journal.writer_restore(&written.name).await.unwrap();
    assert_eq!(known.get("us-east-1"), Some(&expected));
}
