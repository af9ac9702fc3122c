//! A failover executes from the region being activated: three nodes on
//! loopback over one simulated cloud, with the us-east-1 node (node 1)
//! leading when the failover is asked for. It hands leadership to the
//! us-west-2 node (node 2) first, and executes itself only when that node
//! cannot lead, saying why.

use std::time::Duration;

use crate::cluster_support::{assert_matches_openapi, Cluster};
use drctl::consensus::AuditEntry;
use drctl::execute::{ExecutionStatus, StepStatus};
use drctl::plan::StepKind;
use serde_json::json;
use tokio::time::Instant;

/// The audit line of `c`'s node `n` whose text contains `needle`.
fn audit_line(c: &Cluster, n: u64, needle: &str) -> Option<AuditEntry> {
    c.state(n)
        .audit
        .into_iter()
        .find(|e| e.what.contains(needle))
}

/// Asks node `n` for a failover through the API, as an operator would;
/// returns the execution id, the answering leader and how long it took.
async fn ask(c: &Cluster, n: u64) -> (String, u64, Duration) {
    let asked = Instant::now();
    let (status, body) = c
        .post(
            n,
            "/v1/failover",
            json!({"confirm": true, "reason": "us-east-1 is failing", "operator": "alice"}),
        )
        .await;
    let took = asked.elapsed();
    assert_eq!(status, 202, "{body}");
    let id = body["execution_id"].as_str().unwrap().to_string();
    (id, body["leader"].as_u64().unwrap(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_regions_leader_hands_a_failover_to_the_region_being_activated() {
    let mut c = Cluster::start(0.005).await;
    c.make_leader(1).await;
    let before = c.node(1).ctx.raft.metrics().borrow().current_term;
    // When node 2 starts leading, measured from the request.
    let mut m2 = c.node(2).ctx.raft.metrics();
    let asked = Instant::now();
    let leads = tokio::spawn(async move {
        m2.wait_for(|m| m.state == openraft::ServerState::Leader)
            .await
            .unwrap();
        asked.elapsed()
    });
    let (id, answered_by, took) = ask(&c, 1).await;
    let leads = leads.await.unwrap();
    eprintln!("POST /v1/failover to node 1: node 2 leads after {leads:?}, answered by node {answered_by} after {took:?}");
    // The request was forwarded to the new leader, which decided and
    // answered: the CLI follows the execution from there.
    assert_eq!(answered_by, 2);
    assert!(took < Duration::from_secs(5), "hand-off took {took:?}");
    let done = c.wait_finished(2, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.assert_each_acted_once();
    // Node 2 started it under its own term and owns it: every step intent
    // is recorded under that term, and nothing needed claiming.
    let m = c.node(2).ctx.raft.metrics().borrow().clone();
    let term = done.summary.owner_term;
    assert!(term > before, "owner term {term}, node 1 led term {before}");
    assert_eq!((m.current_leader, m.current_term), (Some(2), term));
    assert_eq!(done.summary.resumed, 0);
    for s in done.steps.iter().filter(|s| s.kind.mutates()) {
        assert_eq!(
            s.epoch.expect("acted under an epoch").term,
            term,
            "{}",
            s.id
        );
    }
    let audit = c.state(2).audit;
    let intents: Vec<&AuditEntry> = audit
        .iter()
        .filter(|e| {
            e.what.starts_with(&format!("execution {id}: step")) && e.what.contains("may act")
        })
        .collect();
    assert!(!intents.is_empty());
    assert!(intents.iter().all(|e| e.term == term), "{intents:#?}");
    // The audit log names the hand-off, recorded by node 1 before it let go.
    let hand = audit_line(&c, 2, "hands leadership to node 2 (us-west-2)")
        .expect("the hand-off is audited");
    assert_eq!((hand.who.as_str(), hand.term), ("node-1", before));
    assert!(
        hand.what
            .contains("executes from the region being activated"),
        "{hand:?}"
    );
    let started = audit_line(&c, 2, &format!("execution {id} of emr-platform started")).unwrap();
    assert_eq!((started.who.as_str(), started.term), ("alice", term));
    assert!(audit_line(&c, 2, "executing from").is_none());
    assert_eq!(c.state(2).executions[&id].placement, None);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_region_being_activated_cut_off_the_primary_regions_leader_executes_and_says_why()
{
    let c = Cluster::start(0.005).await;
    c.leader().await;
    c.isolate(2);
    let leader = c.leader_among(&[1, 3], Duration::from_secs(15)).await;
    assert_eq!(leader, 1);
    let (id, answered_by, took) = ask(&c, 1).await;
    eprintln!("POST /v1/failover to node 1 answered by node {answered_by} after {took:?}");
    assert_eq!(answered_by, 1);
    let done = c.wait_finished(1, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    c.assert_each_acted_once();
    let term = c.node(1).ctx.raft.metrics().borrow().current_term;
    assert_eq!(done.summary.owner_term, term);
    let why = "executing from us-east-1 because us-west-2's node (node 2) does not answer";
    let s = c.state(1);
    assert_eq!(s.executions[&id].placement.as_deref(), Some(why));
    let line = audit_line(&c, 1, why).expect("why is audited");
    assert_eq!(line.what, format!("execution {id}: {why}"));
    assert_eq!(line.term, term);
    assert!(audit_line(&c, 1, "hands leadership").is_none());
    // The API shows it with the execution.
    let (code, v) = c.get(3, &format!("/v1/executions/{id}")).await;
    assert_eq!(code, 200);
    assert_matches_openapi("get", "/v1/executions/{id}", 200, &v);
    assert_eq!(v["placement"], why);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_execution_moves_to_the_region_being_activated_once_it_answers() {
    // Promotion takes 3.6–6 s here: long enough to move it mid-flight.
    let mut c = Cluster::start(0.02).await;
    c.leader().await;
    c.kill(2).await;
    let leader = c.leader_among(&[1, 3], Duration::from_secs(15)).await;
    assert_eq!(leader, 1);
    let (id, answered_by, _) = ask(&c, 1).await;
    assert_eq!(answered_by, 1, "node 2 is down: node 1 executes");
    let before = c
        .wait_for(1, &id, Duration::from_secs(20), |v| {
            v.steps
                .iter()
                .any(|s| s.id == "promote-database" && s.status == StepStatus::Running)
        })
        .await;
    let old_term = before.summary.owner_term;
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.mutations("rds:PromoteReadReplica") == 0 {
        assert!(Instant::now() < deadline, "promotion never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Node 2 comes back mid-promotion: node 1 stops and hands it over.
    let back = Instant::now();
    c.restart(2).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    // (A node restarted with its own committed vote may briefly call
    // itself leader of its old term: wait until node 1 follows it.)
    while c.node(1).ctx.raft.metrics().borrow().current_leader != Some(2) {
        assert!(Instant::now() < deadline, "node 2 never took over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("node 2 leads {:?} after it came back", back.elapsed());
    let done = c.wait_finished(2, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    assert!(done.summary.resumed >= 1);
    assert!(done.summary.owner_term > old_term);
    // The promotion node 1 sent was waited for, not sent again.
    c.assert_each_acted_once();
    let flip = done
        .steps
        .iter()
        .find(|s| s.kind == StepKind::FlipDns)
        .unwrap();
    assert_eq!(
        flip.epoch.unwrap().term,
        done.summary.owner_term,
        "{flip:?}"
    );
    let why = "executing from us-east-1 because us-west-2's node (node 2) does not answer";
    let started = audit_line(&c, 2, why).expect("why node 1 executed is audited");
    assert_eq!(started.term, old_term);
    let hand = audit_line(&c, 2, "hands leadership to node 2 (us-west-2)").unwrap();
    assert!(hand.what.contains(&id), "{hand:?}");
    let claim = audit_line(&c, 2, &format!("node 2 took over execution {id}")).unwrap();
    assert_eq!(claim.term, done.summary.owner_term);
    assert_eq!(c.state(2).executions[&id].placement, None);
    c.stop().await;
}
