//! The way home through the controller cluster, as an operator runs it
//! with the API: a failover, the old primary fenced when its region
//! answers again, a reprotect (dry run, then confirmed) after which every
//! node reads the policy reversed, then a failback; and a leader killed in
//! the middle of a reprotect.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster_support::Cluster;
use drctl::controller::self_fence;
use drctl::execute::{ExecutionStatus, StepStatus};
use serde_json::json;

/// The shipped fencing policy with short timeouts, on a fast simulated cloud.
async fn cluster() -> Cluster {
    let mut policy = (*crate::cluster_support::fencing_policy()).clone();
    // us-east-1 cannot take part in the cache failover: disassociate soon.
    policy.tiers.cache.as_mut().unwrap().failover_timeout = Duration::from_secs(1);
    policy.detection.probe_interval = Duration::from_secs(1);
    policy.detection.probe_timeout = Duration::from_millis(500);
    policy.detection.consecutive_failures = 10;
    let f = policy.fencing.as_mut().unwrap();
    f.self_fence_after = Duration::from_secs(4);
    f.max_clock_skew = Duration::from_secs(1);
    let policy = Arc::new(policy);
    let cloud = crate::cluster_support::sim_cloud(&policy, 0.005);
    Cluster::start_with(policy, cloud).await
}

/// Waits until node `id`'s status satisfies `pred`; returns the policy's view.
async fn status_until(
    c: &Cluster,
    id: u64,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (code, status) = c.get(id, "/v1/status").await;
        let p = status["policies"][0].clone();
        if code == 200 && pred(&p) {
            crate::cluster_support::assert_matches_openapi("get", "/v1/status", code, &status);
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {id}: {what} not shown within 20s: {p:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A completed failover through the API with us-east-1 down, then us-east-1
/// answering again and its old primary fenced by the leader.
async fn failed_over_and_fenced(c: &Cluster) -> u64 {
    c.leader().await;
    c.cloud.set_region_outage(["us-east-1".to_string()]);
    let id = c.failover(3).await;
    let leader = c.leader_among(&[2], Duration::from_secs(20)).await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.cloud.set_region_outage(Vec::<String>::new());
    c.wait_for(leader, &id, Duration::from_secs(45), |v| {
        v.fence_old_primary
            .as_ref()
            .is_some_and(|f| f.status == StepStatus::Done)
    })
    .await;
    leader
}

/// How many times the audit log says the roles were switched.
fn role_switches(c: &Cluster, id: u64) -> usize {
    c.state(id)
        .audit
        .iter()
        .filter(|a| a.what.contains("roles of emr-platform switched"))
        .count()
}

/// Starts a confirmed `path` (reprotect or failback) through node `via`.
async fn confirmed(c: &Cluster, via: u64, path: &str, body: serde_json::Value) -> String {
    let (code, b) = c.post(via, path, body).await;
    assert_eq!(code, 202, "{path}: {b}");
    crate::cluster_support::assert_matches_openapi("post", path, code, &b);
    b["execution_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_a_reprotect_through_the_api_reverses_the_policy_on_every_node() {
    let c = cluster().await;
    let leader = failed_over_and_fenced(&c).await;
    let follower = c.other_executor(leader);

    // The dry run answers the plan, built by the leader; nothing recorded.
    let held = c.state(leader).executions.len();
    let (code, b) = c
        .post(follower, "/v1/reprotect", json!({"reason": "test"}))
        .await;
    assert_eq!(code, 200, "{b}");
    crate::cluster_support::assert_matches_openapi("post", "/v1/reprotect", code, &b);
    assert_eq!(b["plan"]["kind"], "reprotect", "{b:#}");
    assert_eq!(b["plan"]["from_region"], "us-west-2", "{b:#}");
    assert_eq!(b["plan"]["preflight_problems"], json!([]), "{b:#}");
    assert_eq!(c.state(leader).executions.len(), held);

    let id = confirmed(
        &c,
        follower,
        "/v1/reprotect",
        json!({"confirm": true, "reason": "test"}),
    )
    .await;
    let leader = c.leader().await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    // Every node, the witness included, reads the policy reversed: the
    // active region is the protected primary, its replicas in us-east-1.
    for n in 1..=3 {
        let p = status_until(&c, n, "the reversed policy", |p| {
            p["orientation"] == "reversed"
        })
        .await;
        assert_eq!(p["active_region"], "us-west-2", "node {n}: {p:#}");
        assert_eq!(p["protection"], "protected", "node {n}: {p:#}");
        assert_eq!(p["standby_region"], "us-east-1", "node {n}: {p:#}");
        assert_eq!(p["execution"]["id"], id.as_str(), "node {n}: {p:#}");
        // The detector judges the active region now: healthy, no action.
        let reason = p["verdict"]["reason"].as_str().unwrap_or_default();
        assert!(!reason.contains("ALARM"), "node {n}: {reason}");
        assert_eq!(role_switches(&c, n), 1, "node {n}");
    }
    // A second reprotect does not apply: the policy is protected.
    let (code, b) = c
        .post(follower, "/v1/reprotect", json!({"confirm": true}))
        .await;
    assert_eq!(code, 409, "{b}");

    // Self-fencing follows the roles: us-west-2's node guards the writers
    // now, us-east-1's (a replica region) has none to fence.
    let fences = |n: u64| -> Vec<String> {
        self_fence::fenced_here(&c.node(n).ctx)
            .iter()
            .map(|p| format!("{} in {}", p.name, p.regions.primary))
            .collect()
    };
    assert_eq!(fences(2), ["emr-platform in us-west-2"]);
    assert!(fences(1).is_empty(), "{:?}", fences(1));
    // Cut off for longer than its lease, us-east-1's node fences nothing.
    c.isolate(1);
    tokio::time::sleep(Duration::from_secs(7)).await;
    c.links.heal();
    let (_, status) = c.get(1, "/v1/status").await;
    assert!(
        status["policies"][0].get("self_fenced").is_none(),
        "the standby region's node fenced: {status:#}"
    );
    // Cut off in turn, us-west-2's node fences the active writers.
    c.isolate(2);
    let p = status_until(&c, 2, "the self-fence", |p| p["self_fenced"].is_object()).await;
    let fenced = &p["self_fenced"];
    assert_eq!(fenced["orientation"], "reversed", "{fenced:#}");
    assert!(
        fenced["because"]
            .as_str()
            .unwrap()
            .contains("cut off from the majority"),
        "{fenced:#}"
    );
    c.links.heal();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reprotect_a_failback_through_the_api_brings_the_policy_home() {
    let c = cluster().await;
    let leader = failed_over_and_fenced(&c).await;
    let id = confirmed(&c, leader, "/v1/reprotect", json!({"confirm": true})).await;
    let done = c.wait_finished(c.leader().await, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");

    let (code, b) = c.post(leader, "/v1/failback", json!({})).await;
    assert_eq!(code, 200, "{b}");
    let mut body = json!({"confirm": true, "reason": "test"});
    if let Some(d) = b["divergence"]["execution_id"].as_str() {
        body["divergence_reviewed"] = json!(d);
    }
    let back = confirmed(&c, leader, "/v1/failback", body).await;
    let done = c.wait_finished(c.leader().await, &back).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    for n in 1..=3 {
        let p = status_until(&c, n, "the policy as written", |p| {
            p["orientation"] == "as_written" && p["execution"]["id"] == back.as_str()
        })
        .await;
        assert_eq!(p["active_region"], "us-east-1", "node {n}: {p:#}");
        assert_eq!(p["protection"], "protected", "node {n}: {p:#}");
        assert_eq!(p["standby_region"], "us-west-2", "node {n}: {p:#}");
        assert_eq!(role_switches(&c, n), 2, "node {n}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_reprotect_is_replaced_and_nothing_is_created_twice() {
    let mut c = cluster().await;
    let first = c.leader().await;
    let id = c.failover(first).await;
    let leader = c.leader().await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.wait_for(leader, &id, Duration::from_secs(30), |v| {
        v.fence_old_primary
            .as_ref()
            .is_some_and(|f| f.status == StepStatus::Done)
    })
    .await;
    let before = c.cloud.mutation_log().len();
    let rp = confirmed(&c, leader, "/v1/reprotect", json!({"confirm": true})).await;
    let owner = c.leader().await;
    // Kill the leader once the replica's creation was sent and while the
    // reprotect waits for it to replicate.
    let running = c
        .wait_for(owner, &rp, Duration::from_secs(30), |v| {
            v.steps
                .iter()
                .any(|s| s.id == "wait-replication" && s.status == StepStatus::Running)
        })
        .await;
    let old_term = running.summary.owner_term;
    let created = |c: &Cluster| {
        c.cloud.mutation_log()[before..]
            .iter()
            .filter(|m| m.op == "rds:CreateDBInstanceReadReplica")
            .count()
    };
    assert_eq!(created(&c), 1, "{:?}", c.cloud.mutation_log());
    c.kill(owner).await;
    let survivors: Vec<u64> = [1, 2, 3].into_iter().filter(|n| *n != owner).collect();
    let next = c.leader_among(&survivors, Duration::from_secs(15)).await;
    assert_ne!(next, owner);
    let done = c.wait_finished(next, &rp).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    assert!(done.summary.resumed >= 1, "{:?}", done.summary);
    assert!(done.summary.owner_term > old_term);
    // Every creation was asked for once, by whichever leader asked.
    let ops: Vec<String> = c.cloud.mutation_log()[before..]
        .iter()
        .map(|m| m.op.clone())
        .collect();
    for op in ["rds:CreateDBInstanceReadReplica", "kafka:CreateReplicator"] {
        assert_eq!(
            ops.iter().filter(|o| *o == op).count(),
            1,
            "{op} in {ops:?}"
        );
    }
    // The roles were switched once, and every survivor reads them so.
    for n in &survivors {
        let p = status_until(&c, *n, "the reversed policy", |p| {
            p["orientation"] == "reversed"
        })
        .await;
        assert_eq!(p["protection"], "protected", "node {n}: {p:#}");
        assert_eq!(role_switches(&c, *n), 1, "node {n}");
    }
    c.stop().await;
}
