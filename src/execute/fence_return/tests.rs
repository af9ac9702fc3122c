//! Fencing the old primary on return, against the simulated cloud.

use std::path::Path;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::cloud::{Database, NodeGroups};
use crate::model::Epoch;
use crate::model::Op;

fn shipped() -> Policy {
    crate::policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"))
        .unwrap()
}

fn fence() -> Fence {
    Fence {
        execution_id: "emr-platform-20261201T120000Z-1a2b".into(),
        epoch: Epoch { term: 3, index: 41 },
    }
}

#[tokio::test(start_paused = true)]
async fn the_old_primary_stays_pending_while_its_region_is_out_then_is_fenced_once_it_answers() {
    let policy = shipped();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_region_outage(["us-east-1".to_string()]);
    let mut state = planned(&policy).expect("the shipped policy fences on return");
    try_fence(&sim, &policy, &fence(), &mut state, "t1".into()).await;
    assert_eq!(state.status, StepStatus::Pending);
    assert!(
        state
            .waiting_for
            .as_deref()
            .unwrap()
            .contains("us-east-1 to answer: simulated us-east-1 database writers emr_app, emr_batch, drctl_heartbeat: no answer within 10s"),
        "{state:?}"
    );
    assert!(
        state.line().contains("tries again every 30s"),
        "{}",
        state.line()
    );
    assert_eq!(sim.mutations().get(Op::ModifyDbInstance.as_str()), None);

    sim.set_region_outage(Vec::<String>::new());
    try_fence(&sim, &policy, &fence(), &mut state, "t2".into()).await;
    assert_eq!(state.status, StepStatus::Done, "{state:?}");
    assert_eq!(state.attempts, 2);
    assert_eq!(state.finished_at.as_deref(), Some("t2"));
    let renamed = fenced_identifier("emr-platform-prod", &fence().execution_id);
    assert!(
        renamed.starts_with("emr-platform-prod-fenced-"),
        "{renamed}"
    );
    assert!(sim
        .get_database("us-east-1", "emr-platform-prod")
        .await
        .unwrap()
        .is_none());
    let db = sim
        .get_database("us-east-1", &renamed)
        .await
        .unwrap()
        .expect("renamed");
    assert_eq!(
        db.tags.get(FENCED_BY_TAG).map(String::as_str),
        Some("emr-platform-20261201T120000Z-1a2b")
    );
    assert_eq!(
        db.tags.get(FENCED_EPOCH_TAG).map(String::as_str),
        Some("3.41")
    );
    let ng = sim
        .get_node_group("us-east-1", "emr-integration", "app-nodes")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ng.scaling.min, ng.scaling.desired), (0, 0));
    assert!(
        state
            .outcome
            .iter()
            .any(|l| l.contains("renamed to emr-platform-prod-fenced")),
        "{state:?}"
    );
    assert_eq!(
        state.outcome[0], "database: emr_app, emr_batch, drctl_heartbeat can no longer write",
        "the writers first, before the rename: {state:?}"
    );
    assert!(sim.writers_fenced("us-east-1", "cache").await.unwrap());

    // Trying again changes nothing.
    let before = sim.mutations();
    try_fence(&sim, &policy, &fence(), &mut state, "t3".into()).await;
    assert_eq!(state.status, StepStatus::AlreadyDone, "{state:?}");
    assert_eq!(sim.mutations(), before);
    assert_eq!(before.get(Op::AddTagsToResource.as_str()), Some(&1));
}

#[test]
fn fenced_names_stay_within_rds_limits() {
    let long = "a".repeat(63);
    let n = fenced_identifier(&long, "x-20261201T120000Z-1a2b");
    assert_eq!(n.len(), 63);
    assert!(n.contains("-fenced-"), "{n}");
    assert_ne!(n, fenced_identifier(&long, "another execution"));
    assert_eq!(n, fenced_identifier(&long, "x-20261201T120000Z-1a2b"));
}

#[test]
fn a_policy_without_fencing_plans_no_fence_on_return() {
    let mut policy = shipped();
    policy.fencing = None;
    assert!(planned(&policy).is_none());
}
