//! The replicated controller: three nodes on loopback over one simulated
//! cloud. Election, execution by the leader only, a leader killed in the
//! middle of a failover, a node restarted from its disk, partitions.

use std::time::Duration;

use crate::cluster_support::Cluster;
use drctl::execute::{ExecutionStatus, StepStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_sent_to_the_witness_is_executed_by_the_leader() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    assert_ne!(leader, 3, "an executing site wins while its log allows it");
    let id = c.failover(3).await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.assert_each_acted_once();
    let term = c.node(leader).ctx.raft.metrics().borrow().current_term;
    for s in done.steps.iter().filter(|s| s.kind.mutates()) {
        let epoch = s.epoch.expect("every mutating step has an epoch");
        assert_eq!(epoch.term, term, "{}", s.id);
    }
    // Every node, the witness included, holds the same journal.
    for n in 1..=3 {
        let v = c.wait_finished(n, &id).await;
        assert_eq!(v.steps, done.steps, "node {n}");
        let a = c.node(n).ctx.applied.read().unwrap();
        assert_eq!(
            a.state.policies["emr-platform"].active_region.as_deref(),
            Some("us-west-2")
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_primary_is_fenced_by_the_leader_when_its_region_returns() {
    let mut policy = (*crate::cluster_support::fencing_policy()).clone();
    // us-east-1 cannot take part in the cache failover: disassociate soon.
    policy.tiers.cache.as_mut().unwrap().failover_timeout = Duration::from_secs(1);
    // Every site checks the old primary each round: once a second.
    policy.detection.probe_interval = Duration::from_secs(1);
    policy.detection.probe_timeout = Duration::from_millis(500);
    let policy = std::sync::Arc::new(policy);
    let cloud = crate::cluster_support::sim_cloud(&policy, 0.005);
    let c = Cluster::start_with(policy, cloud).await;
    c.leader().await;
    c.cloud.set_region_outage(["us-east-1".to_string()]);
    let id = c.failover(3).await;
    let leader = c.leader_among(&[2], Duration::from_secs(20)).await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    // us-east-1 does not answer: the fence waits, and nothing was renamed.
    let pending = c
        .wait_for(leader, &id, Duration::from_secs(30), |v| {
            v.fence_old_primary
                .as_ref()
                .is_some_and(|f| f.attempts >= 1 && f.status == StepStatus::Pending)
        })
        .await;
    let f = pending.fence_old_primary.unwrap();
    assert!(f.waiting_for.unwrap().contains("us-east-1 to answer"));
    assert_eq!(c.mutations("rds:ModifyDBInstance"), 0);

    // us-east-1 returns: its old primary takes writes beside the promoted
    // replica until fenced, and every site raises the alarm...
    c.cloud.set_region_outage(Vec::<String>::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, status) = c.get(3, "/v1/status").await;
        let p = &status["policies"][0];
        if let Some(why) = p["old_primary_writable"].as_str() {
            // The leader's retry may already have fenced the database
            // writers (it fences them first): the cache writers remain.
            assert!(
                why.contains("database writers emr_app, emr_batch, drctl_heartbeat")
                    || why.contains("cache writers emr-app"),
                "{why}"
            );
            let reason = p["verdict"]["reason"].as_str().unwrap();
            assert!(reason.contains("ALARM old primary writable"), "{reason}");
            let metrics = c.text(3, "/metrics").await;
            assert!(
                metrics.contains("drctl_old_primary_writable{policy=\"emr-platform\"} 1"),
                "{metrics}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no alarm while the old primary is writable: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...and the leader fences it without an operator.
    let fenced = c
        .wait_for(leader, &id, Duration::from_secs(45), |v| {
            v.fence_old_primary
                .as_ref()
                .is_some_and(|f| f.status == StepStatus::Done)
        })
        .await;
    let outcome = fenced.fence_old_primary.unwrap().outcome.join("; ");
    assert!(
        outcome.contains("renamed to emr-platform-prod-fenced-"),
        "{outcome}"
    );
    assert!(outcome.contains("app-nodes scaled from"), "{outcome}");
    assert_eq!(c.mutations("rds:ModifyDBInstance"), 1);
    // The alarm ends once it is fenced.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.get(3, "/v1/status").await.1["policies"][0]
        .get("old_primary_writable")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alarm stays after the fence"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.mutations("rds:AddTagsToResource"), 1);
    // Every node holds it, and the audit says so.
    let witness = c
        .wait_for(3, &id, Duration::from_secs(5), |v| {
            v.fence_old_primary
                .as_ref()
                .is_some_and(|f| f.status == StepStatus::Done)
        })
        .await;
    assert!(witness.fence_old_primary.is_some());
    let audit: Vec<String> = c
        .state(leader)
        .audit
        .iter()
        .map(|a| a.what.clone())
        .collect();
    assert!(
        audit.iter().any(|a| a.contains("fence-old-primary done")),
        "{audit:#?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_failover_is_replaced_and_no_step_acts_twice() {
    let mut c = Cluster::start(0.01).await;
    let id = c.failover(c.leader().await).await;
    // The leader executes it (us-west-2's node when us-east-1's led: it
    // hands leadership over first).
    let first = c.leader().await;
    // Kill the leader while the database promotion (2–3 s here) is in flight.
    let before = c
        .wait_for(first, &id, Duration::from_secs(20), |v| {
            v.steps
                .iter()
                .any(|s| s.id == "promote-database" && s.status == StepStatus::Running)
        })
        .await;
    let old_term = before.summary.owner_term;
    // The intent is journaled before the call: wait for the call itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while c.mutations("rds:PromoteReadReplica") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "promotion never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.kill(first).await;
    let next = c
        .leader_among(
            &[1, 2]
                .into_iter()
                .filter(|n| *n != first)
                .chain([3])
                .collect::<Vec<_>>(),
            Duration::from_secs(15),
        )
        .await;
    assert_ne!(next, first);
    let done = c.wait_finished(next, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    assert!(done.summary.resumed >= 1);
    assert!(done.summary.owner_term > old_term);
    // The promotion the old leader started was waited for, not sent again.
    c.assert_each_acted_once();
    let promote = done
        .steps
        .iter()
        .find(|s| s.id == "promote-database")
        .unwrap();
    assert!(promote.epoch.unwrap().term > old_term, "{promote:?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_from_its_disk_catches_up() {
    let mut c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let follower = c.other_executor(leader);
    c.kill(follower).await;
    let id = c.failover(leader).await;
    c.wait_finished(leader, &id).await;
    let (status, _) = c
        .post(
            leader,
            "/v1/maintenance",
            serde_json::json!({"on": true, "reason": "patching"}),
        )
        .await;
    assert_eq!(status, 200);
    c.restart(follower).await;
    let v = c.wait_finished(follower, &id).await;
    assert_eq!(v.summary.status, ExecutionStatus::Completed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let on = c.state(follower).maintenance.on;
        if on {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "maintenance flag never replicated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.assert_each_acted_once();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_witness_cut_off_the_two_regions_still_execute() {
    let c = Cluster::start(0.005).await;
    c.leader().await;
    c.isolate(3);
    let leader = c.leader_among(&[1, 2], Duration::from_secs(15)).await;
    let id = c.failover(leader).await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed);
    c.assert_each_acted_once();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_alone_executes_nothing() {
    let c = Cluster::start(0.005).await;
    let cut = c.leader().await;
    c.isolate(cut);
    // What a cut-off leader fences itself on while executing: the time
    // since a majority last acknowledged it grows past the lease (600 ms
    // here, the shortest election timeout), long before followers campaign.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let m = c.node(cut).ctx.raft.metrics().borrow().clone();
    assert!(
        m.state != openraft::ServerState::Leader
            || m.millis_since_quorum_ack.unwrap_or(u64::MAX) > 600,
        "{:?} {:?}",
        m.state,
        m.millis_since_quorum_ack
    );
    // The cut-off node cannot confirm its leadership: it refuses and acts on nothing.
    let (status, body) = c
        .post(cut, "/v1/failover", serde_json::json!({"confirm": true}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(c.cloud.mutations().is_empty(), "{:?}", c.cloud.mutations());
    // The majority side elects a leader of its own and can act.
    let others: Vec<u64> = (1..=3).filter(|n| *n != cut).collect();
    let leader = c.leader_among(&others, Duration::from_secs(15)).await;
    assert_ne!(leader, 3);
    let id = c.failover(leader).await;
    c.wait_finished(leader, &id).await;
    c.assert_each_acted_once();
    // Nothing the cut-off node tried was recorded.
    let recorded = c.state(leader).executions.len();
    assert_eq!(recorded, 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_mid_failover_stops_acting_and_the_majority_finishes() {
    let c = Cluster::start(0.01).await;
    let id = c.failover(c.leader().await).await;
    let first = c.leader().await;
    c.wait_for(first, &id, Duration::from_secs(20), |v| {
        v.steps
            .iter()
            .any(|s| s.id == "promote-database" && s.status == StepStatus::Running)
    })
    .await;
    c.isolate(first);
    // Within its lease the cut-off leader stops: no mutation after that.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let frozen = c.cloud.mutations();
    let others: Vec<u64> = (1..=3).filter(|n| *n != first).collect();
    let next = c.leader_among(&others, Duration::from_secs(15)).await;
    let done = c.wait_finished(next, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.assert_each_acted_once();
    // flip-dns waits for the promotion, so it could only act after the cut,
    // under the new leader's term.
    assert!(
        frozen
            .get("route53-recovery-cluster:UpdateRoutingControlStates")
            .copied()
            .unwrap_or(0)
            <= 1,
        "{frozen:?}"
    );
    let flip = done
        .steps
        .iter()
        .find(|s| s.kind == drctl::plan::StepKind::FlipDns)
        .unwrap();
    assert_eq!(
        flip.epoch.unwrap().term,
        done.summary.owner_term,
        "{flip:?}"
    );
    // The cut-off node never writes the journal again: its view is stale.
    let stale = c.execution(first, &id).unwrap();
    assert_eq!(stale.summary.status, ExecutionStatus::Running);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_only_the_witness_holds_the_latest_entries_it_hands_them_to_an_executing_site() {
    let mut c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let other = c.other_executor(leader);
    c.kill(other).await;
    // Committed by the leader and the witness alone.
    let (status, b) = c
        .post(
            leader,
            "/v1/maintenance",
            serde_json::json!({"on": true, "reason": "only two sites know"}),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    c.kill(leader).await;
    // The restarted site's log is behind the witness's: it cannot win alone.
    c.restart(other).await;
    let next = c.leader_among(&[other, 3], Duration::from_secs(30)).await;
    assert_eq!(next, other);
    let on = c.state(other).maintenance.on;
    assert!(on, "the committed entry survived through the witness");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_the_purged_log_catches_up_from_a_snapshot() {
    let c = catch_up_through_snapshot(700, "").await;
    let a = c.state(c.other_executor(c.leader().await)).maintenance;
    assert_eq!(a.reason.as_deref(), Some("write 699"));
    assert!(!a.on);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_installs_a_snapshot_larger_than_the_api_body_limit() {
    let long = format!(" {}", "x".repeat(1500));
    let c = catch_up_through_snapshot(520, &long).await;
    let leader = c.leader().await;
    let state = serde_json::to_vec(&c.state(leader)).unwrap().len();
    assert!(state > 700_000, "the state is only {state} bytes");
    let a = c.state(c.other_executor(leader)).maintenance;
    assert!(a.reason.unwrap().starts_with("write 519 "));
    c.stop().await;
}

/// Kills the executing node that does not lead, makes `writes` more
/// writes (each reason padded with `pad`) than the log keeps so that the
/// leader snapshots and purges, restarts it and waits until it has caught
/// up, through a snapshot.
async fn catch_up_through_snapshot(writes: u32, pad: &str) -> Cluster {
    let mut c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let behind = c.other_executor(leader);
    c.kill(behind).await;
    let raft = c.node(leader).ctx.raft.clone();
    for i in 0..writes {
        let cmd = drctl::consensus::Command::Maintenance {
            on: i % 2 == 0,
            by: "load".into(),
            reason: Some(format!("write {i}{pad}")),
            at: "t".into(),
        };
        raft.client_write(cmd).await.unwrap();
    }
    let m = raft.metrics().borrow().clone();
    let purged = m.purged.map(|l| l.index).unwrap_or(0);
    assert!(
        m.snapshot.is_some() && purged > 0,
        "snapshot {:?}, purged {:?}",
        m.snapshot,
        m.purged
    );
    c.restart(behind).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let f = c.node(behind).ctx.raft.metrics().borrow().clone();
        let l = raft.metrics().borrow().clone();
        if f.last_applied.is_some() && f.last_applied == l.last_applied {
            assert!(f.snapshot.is_some(), "caught up through a snapshot");
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lagging node never caught up: {:?} vs {:?}",
            f.last_applied,
            l.last_applied
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_secret_rotates_without_losing_the_majority() {
    let mut c = Cluster::start(0.005).await;
    c.leader().await;
    let old: std::sync::Arc<str> = crate::cluster_support::SECRET.into();
    let new: std::sync::Arc<str> = "the-next-cluster-secret".into();
    // The runbook's three passes, one node at a time; after each restart a
    // write must still commit.
    let passes = [
        (old.clone(), vec![old.clone(), new.clone()]),
        (new.clone(), vec![new.clone(), old.clone()]),
        (new.clone(), vec![new.clone()]),
    ];
    let mut writes = 0;
    for (send, accept) in passes {
        for n in [3, 1, 2] {
            c.kill(n).await;
            let cfg = c.configs.get_mut(&n).unwrap();
            cfg.secret = send.clone();
            cfg.accepted_secrets = accept.clone();
            c.restart(n).await;
            let leader = c.leader().await;
            let (status, b) = c
                .post(
                    leader,
                    "/v1/maintenance",
                    serde_json::json!({"on": writes % 2 == 0}),
                )
                .await;
            assert_eq!(status, 200, "after restarting node {n}: {b}");
            writes += 1;
            // Every node, not just a majority, keeps talking to the others.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let applied: Vec<_> = (1..=3)
                    .map(|i| c.node(i).ctx.raft.metrics().borrow().last_applied)
                    .collect();
                if applied.iter().all(|a| *a == applied[0]) {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "node {n} restarted with a new secret setting: {applied:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    c.stop().await;
}

/// The shipped fencing on a fast cluster: rounds every second, ten failed
/// rounds to confirm, a 4 s self-fence lease and 1 s of clock skew.
fn fast_fencing_policy() -> std::sync::Arc<drctl::policy::Policy> {
    let mut p = (*crate::cluster_support::fencing_policy()).clone();
    p.detection.probe_interval = Duration::from_secs(1);
    p.detection.probe_timeout = Duration::from_millis(500);
    p.detection.consecutive_failures = 10;
    let f = p.fencing.as_mut().unwrap();
    f.self_fence_after = Duration::from_secs(4);
    f.max_clock_skew = Duration::from_secs(1);
    std::sync::Arc::new(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_primary_fences_itself_and_the_majority_promotes_only_after_its_lease() {
    let policy = fast_fencing_policy();
    let cloud = crate::cluster_support::sim_cloud(&policy, 0.005);
    let c = Cluster::start_with(policy, cloud).await;
    c.leader().await;
    // Let every site hear node 1's rounds, then cut it off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.isolate(1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let leader = c.leader_among(&[2, 3], Duration::from_secs(20)).await;
    let id = c.failover(leader).await;
    let promoting = c
        .wait_for(leader, &id, Duration::from_secs(30), |v| {
            v.steps
                .iter()
                .any(|s| s.id == "promote-database" && s.status != StepStatus::Pending)
        })
        .await;
    // By the time the promotion started, node 1 had fenced its writers.
    let (_, status) = c.get(1, "/v1/status").await;
    let fenced = &status["policies"][0]["self_fenced"];
    assert!(
        fenced.is_object(),
        "node 1 had not fenced itself when the promotion started: {status:#}\n{promoting:#?}"
    );
    assert!(
        fenced["because"]
            .as_str()
            .unwrap()
            .contains("cut off from the majority"),
        "{fenced}"
    );
    let outcome = fenced["outcome"].to_string();
    assert!(
        outcome.contains("database: emr_app, emr_batch, drctl_heartbeat can no longer write"),
        "{outcome}"
    );
    assert!(
        outcome.contains("cache: emr-app can no longer write"),
        "{outcome}"
    );
    let ng = c
        .cloud
        .node_group_scaling("us-east-1", "emr-integration", "app-nodes")
        .unwrap();
    assert_eq!(ng.desired, 0);
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    let record = c.node(leader).ctx.applied.read().unwrap().state.executions[&id]
        .record
        .clone();
    let lease = record
        .decisions
        .iter()
        .find(|d| d.what.contains("self-fence lease"))
        .expect("the journal records the lease");
    assert!(
        lease.what.contains("last heard at") && lease.what.contains("ended at"),
        "{}",
        lease.what
    );
    assert!(
        record.rpo.as_ref().unwrap().basis.bounded,
        "{:?}",
        record.rpo
    );
    let view: drctl::api::views::StatusView = serde_json::from_value(status.clone()).unwrap();
    let shown = drctl::cli::remote::render_status(&view);
    assert!(
        shown.contains("SELF-FENCED at ") && shown.contains("because cut off from the majority"),
        "{shown}"
    );
    let metrics = c.text(1, "/metrics").await;
    assert!(
        metrics.contains("drctl_self_fenced{policy=\"emr-platform\"} 1"),
        "{metrics}"
    );

    // The majority comes back: the fence holds until an operator lifts it.
    c.links.heal();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, status) = c.get(1, "/v1/status").await;
    assert!(
        status["policies"][0]["self_fenced"].is_object(),
        "{status:#}"
    );
    let (code, body) = c.post(1, "/v1/unfence", serde_json::json!({})).await;
    assert_eq!(code, 400, "{body}");
    crate::cluster_support::assert_matches_openapi("post", "/v1/unfence", code, &body);
    let unfenced = c.unfence(1).await;
    assert!(
        unfenced.contains("database: emr_app, emr_batch, drctl_heartbeat can write again"),
        "{unfenced}"
    );
    assert!(unfenced.contains("app-nodes back to"), "{unfenced}");
    let (_, status) = c.get(1, "/v1/status").await;
    assert!(
        status["policies"][0].get("self_fenced").is_none(),
        "{status:#}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_s_readiness_reaches_every_node_s_status_and_metrics() {
    let mut policy = (*crate::cluster_support::test_policy()).clone();
    // Below the policy's 30 s minimum, which the validator enforces; the
    // loop itself takes any interval.
    policy.readiness.interval = Duration::from_secs(3);
    let policy = std::sync::Arc::new(policy);
    let cloud = crate::cluster_support::sim_cloud(&policy, 0.005);
    let c = Cluster::start_with(policy, cloud.clone()).await;
    let leader = c.leader().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for n in 1..=3 {
        loop {
            if c.state(n).readiness.contains_key("emr-platform") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {n} holds no readiness"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let r = c.state(3).readiness["emr-platform"].clone();
    let resources = r.check("dr-resources").expect("every check is reported");
    assert_eq!(resources.status, drctl::readiness::Status::Pass, "{r:#?}");
    // The policy's witness role is checked on the controllers too.
    let permissions = r.check("permissions").expect("every check is reported");
    assert!(
        permissions.sentence.contains(
            "the witness role arn:aws:iam::123456789012:role/drctl-witness may call none"
        ),
        "{permissions:#?}"
    );
    assert!(cloud.mutations().is_empty(), "readiness changed the world");
    // The witness, a follower, serves it in its status and metrics.
    let (code, status) = c.get(3, "/v1/status").await;
    crate::cluster_support::assert_matches_openapi("get", "/v1/status", code, &status);
    let shown = &status["policies"][0]["readiness"];
    assert_eq!(shown["policy"], "emr-platform", "{status:#}");
    let metrics = c.text(3, "/metrics").await;
    assert!(
        metrics.contains(r#"drctl_readiness{policy="emr-platform",check="dr-resources"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("drctl_predicted_rto_seconds{"),
        "{metrics}"
    );
    assert_ne!(leader, 3);
    c.stop().await;
}
