//! The executor against the simulated cloud, where a policy setting decides.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};

fn shipped() -> Policy {
    crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_short_call_timeout_still_leaves_time_to_try_every_routing_endpoint() {
    // Two of five endpoints do not answer, and each is tried for 3 s: with a
    // 2 s call timeout bounding the whole switch, it could never reach the
    // third.
    let mut policy = shipped();
    policy.execution.call_timeout = Duration::from_secs(2);
    policy.execution.connect_timeout = Duration::from_secs(1);
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_routing_endpoints_down(["us-west-2".to_string(), "eu-west-1".to_string()]);
    let sim = Arc::new(sim);
    let record = execute(
        sim.clone(),
        Arc::new(policy),
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        record.status,
        ExecutionStatus::Completed,
        "{:#?}",
        record.steps
    );
    let m = sim.mutations();
    assert_eq!(
        m.get("route53-recovery-cluster:UpdateRoutingControlStates"),
        Some(&2),
        "{m:?}"
    );
}
