//! A leader whose execution stops in its own term (its lease lapsed for a
//! moment) runs it again as the same owner: no claim, no "new leader".

use std::time::Duration;

use crate::cluster_support::Cluster;
use drctl::execute::{ExecutionStatus, StepStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_lapses_briefly_restarts_its_execution_without_taking_it_over() {
    let c = Cluster::start(0.01).await;
    let id = c.failover(c.leader().await).await;
    let leader = c.leader().await;
    let before = c
        .wait_for(leader, &id, Duration::from_secs(20), |v| {
            v.steps
                .iter()
                .any(|s| s.id == "promote-database" && s.status == StepStatus::Running)
        })
        .await;
    let term = before.summary.owner_term;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while c.mutations("rds:PromoteReadReplica") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "promotion never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Cut off for longer than two of the leader's leases (2 × 600 ms
    // without a majority: its execution stops; one lost round only holds
    // its calls) and shorter than a follower's wait before it campaigns
    // (its lease of 1200 ms plus at least 600 ms): the same leader, same term.
    c.isolate(leader);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.links.heal();
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    assert_eq!(c.leader().await, leader);
    assert_eq!(done.summary.owner_term, term, "no other leader owned it");
    assert_eq!(done.summary.resumed, 0, "{:?}", done.summary);
    assert!(done.summary.restarted >= 1, "{:?}", done.summary);
    c.assert_each_acted_once();
    let audit = c.state(leader).audit;
    assert!(
        !audit.iter().any(|a| a.what.contains("took over")),
        "{audit:#?}"
    );
    let page = c.text(leader, "/").await;
    assert!(
        page.contains("by the same leader after its run stopped"),
        "{page}"
    );
    assert!(!page.contains("by a new leader"), "{page}");
    c.stop().await;
}
