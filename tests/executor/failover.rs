//! The executor on the simulated cloud: a full failover, a re-run that
//! changes nothing, and resuming after an interruption without acting twice.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drctl::cloud::sim::{SimCloud, SimOptions};
use drctl::cloud::{Database, Resolver};
use drctl::execute::{
    self, Event, ExecutionStatus, FileJournal, Journal, MemoryJournal, RunOptions, StepStatus,
};
use drctl::policy::{self, Policy};
use tokio::sync::mpsc;

fn policy(name: &str) -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(name);
    Arc::new(policy::load(&path).unwrap())
}

fn sim(policy: &Policy, seed: u64) -> Arc<SimCloud> {
    let options = SimOptions {
        seed,
        ..SimOptions::default()
    };
    Arc::new(SimCloud::new(policy, options).unwrap())
}

fn opts() -> RunOptions {
    RunOptions {
        operator: "test".into(),
        reason: None,
        ..RunOptions::default()
    }
}

fn count(sim: &SimCloud, op: &str) -> u32 {
    sim.mutations().get(op).copied().unwrap_or(0)
}

fn assert_each_acted_once(sim: &SimCloud) {
    let m = sim.mutations();
    assert_eq!(count(sim, "rds:PromoteReadReplica"), 1, "{m:?}");
    assert_eq!(count(sim, "eks:UpdateNodegroupConfig"), 3, "{m:?}");
    assert_eq!(
        count(sim, "elasticache:FailoverGlobalReplicationGroup"),
        1,
        "{m:?}"
    );
    // switch-stream and flip-dns: one routing-control update each, and no
    // call to Route 53's control plane.
    assert_eq!(
        count(sim, "route53-recovery-cluster:UpdateRoutingControlStates"),
        2,
        "{m:?}"
    );
    assert_eq!(count(sim, "route53:ChangeResourceRecordSets"), 0, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn a_full_failover_moves_every_tier_to_the_dr_region() {
    let p = policy("emr-platform.yaml");
    let cloud = sim(&p, 3);
    let mut journal = MemoryJournal::default();
    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:?}", r.summary);
    assert!(
        r.steps.iter().all(|s| s.status == StepStatus::Done),
        "{:#?}",
        r.steps
    );
    assert_each_acted_once(&cloud);
    let db = cloud
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap();
    assert!(db.is_promoted());
    // Clients resolving the public name now reach the DR load balancer.
    let answer = cloud.resolve("api.emr-platform.com").await.unwrap();
    assert!(
        answer.names.iter().any(|n| n.contains("alb-dr")),
        "{answer:?}"
    );
    // Steps ran in parallel: every tier step started when the gate ended.
    let gate_end = r.step("rpo-gate").unwrap().ended_ms.unwrap();
    for id in [
        "promote-database",
        "scale-node-group:app-nodes",
        "failover-cache",
        "switch-stream",
    ] {
        assert_eq!(r.step(id).unwrap().started_ms, Some(gate_end), "{id}");
    }
    // The flip waited for the slowest thing it needs, and no longer.
    let flip = r.step("flip-dns").unwrap();
    let needed = r.steps.iter().filter(|s| flip.after.contains(&s.id));
    assert_eq!(needed.filter_map(|s| s.ended_ms).max(), flip.started_ms);
    assert_eq!(journal.records.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn rerunning_a_finished_failover_changes_nothing_and_says_so() {
    let p = policy("emr-platform.yaml");
    let cloud = sim(&p, 4);
    let mut journal = MemoryJournal::default();
    execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    let before = cloud.mutations();
    let calls_before = cloud.calls();
    let again = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(again.status, ExecutionStatus::AlreadyComplete);
    assert!(again
        .summary
        .as_deref()
        .unwrap()
        .contains("nothing changed"));
    assert_eq!(cloud.mutations(), before);
    let calls = cloud.calls();
    for op in [
        "rds:PromoteReadReplica",
        "eks:UpdateNodegroupConfig",
        "elasticache:FailoverGlobalReplicationGroup",
        "route53:ChangeResourceRecordSets",
    ] {
        assert_eq!(calls.get(op), calls_before.get(op), "{op} was called again");
    }
}

/// Runs the execution until `stop` sees the event it waits for, waits
/// `after`, then drops it mid-flight, as a killed process would stop.
async fn interrupt(
    cloud: Arc<SimCloud>,
    p: Arc<Policy>,
    journal: &mut FileJournal,
    stop: impl Fn(&Event) -> bool,
    after: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = execute::execute(
        cloud,
        p,
        journal,
        RunOptions {
            events: Some(tx),
            ..opts()
        },
    );
    let watch = async {
        while let Some(e) = rx.recv().await {
            if stop(&e) {
                tokio::time::sleep(after).await;
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        r = run => panic!("the execution ended before the interruption: {r:?}"),
        () = watch => {}
    }
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_failover_resumes_without_acting_twice() {
    let p = policy("emr-platform.yaml");
    let cloud = sim(&p, 5);
    let dir = tempfile::tempdir().unwrap();
    let mut journal = FileJournal::new(dir.path());
    let promoting =
        |e: &Event| matches!(e, Event::StepStarted { id, .. } if id == "promote-database");
    interrupt(
        cloud.clone(),
        p.clone(),
        &mut journal,
        promoting,
        Duration::from_secs(90),
    )
    .await;

    let left = journal.last(&p.name).await.unwrap().unwrap();
    assert_eq!(left.status, ExecutionStatus::Running);
    assert_eq!(
        left.step("promote-database").unwrap().status,
        StepStatus::Running
    );
    assert_eq!(left.step("flip-dns").unwrap().status, StepStatus::Pending);
    assert_eq!(count(&cloud, "rds:PromoteReadReplica"), 1);

    // A new process: a new journal handle on the same directory.
    let mut journal = FileJournal::new(dir.path());
    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(r.id, left.id, "the same execution is resumed");
    assert_eq!(r.resumed, 1);
    assert_eq!(r.status, ExecutionStatus::Completed, "{:?}", r.summary);
    assert_each_acted_once(&cloud);
    // The resumed run continues the execution's time axis.
    assert!(r.step("flip-dns").unwrap().started_ms.unwrap() > left.last_ms());
}

#[tokio::test(start_paused = true)]
async fn an_interruption_while_waiting_for_insync_waits_for_the_same_change() {
    let p = policy("emr-platform-core.yaml");
    let cloud = sim(&p, 6);
    let dir = tempfile::tempdir().unwrap();
    let mut journal = FileJournal::new(dir.path());
    let flipping = |e: &Event| matches!(e, Event::StepStarted { id, .. } if id == "flip-dns");
    interrupt(
        cloud.clone(),
        p.clone(),
        &mut journal,
        flipping,
        Duration::from_secs(5),
    )
    .await;

    let left = journal.last(&p.name).await.unwrap().unwrap();
    let flip = left.step("flip-dns").unwrap();
    assert_eq!(flip.status, StepStatus::Running);
    let change = flip
        .change_id
        .clone()
        .expect("the change id is journaled as soon as it exists");

    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:?}", r.summary);
    assert_eq!(
        r.step("flip-dns").unwrap().change_id.as_deref(),
        Some(change.as_str())
    );
    assert_eq!(count(&cloud, "route53:ChangeResourceRecordSets"), 1);
}

#[tokio::test(start_paused = true)]
async fn the_dag_beats_the_sequential_procedure_on_the_same_world() {
    let p = policy("emr-platform.yaml");
    let rto =
        |r: &execute::ExecutionRecord| r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap();
    let mut j = MemoryJournal::default();
    let dag = execute::execute(sim(&p, 7), p.clone(), &mut j, opts())
        .await
        .unwrap();
    let seq_opts = RunOptions {
        sequential: true,
        ..opts()
    };
    let mut j = MemoryJournal::default();
    let seq = execute::execute(sim(&p, 7), p.clone(), &mut j, seq_opts)
        .await
        .unwrap();
    assert_eq!(dag.status, ExecutionStatus::Completed);
    assert_eq!(seq.status, ExecutionStatus::Completed);
    assert!(
        rto(&seq) > 2 * rto(&dag),
        "sequential {} vs DAG {}",
        rto(&seq),
        rto(&dag)
    );
    // Sequentially, no two steps overlap.
    let mut spans: Vec<(u64, u64)> = seq
        .steps
        .iter()
        .map(|s| (s.started_ms.unwrap(), s.ended_ms.unwrap()))
        .collect();
    spans.sort();
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
}

#[tokio::test(start_paused = true)]
async fn the_override_is_recorded_with_who_and_what_the_gate_saw() {
    let p = policy("emr-platform-core.yaml");
    let cloud = sim(&p, 8);
    let forty_minutes = drctl::model::Exposure::Known(Duration::from_secs(40 * 60));
    cloud.set_lag(drctl::model::DataTier::Database, forty_minutes);
    let mut journal = MemoryJournal::default();
    let refused = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(refused.status, ExecutionStatus::Refused);
    assert!(refused.overrides.is_empty());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
    let accept = RunOptions {
        accept: drctl::plan::Acceptance::up_to(Some(Duration::from_secs(3600))),
        operator: "alice".into(),
        reason: None,
        ..opts()
    };
    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, accept)
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed);
    assert_eq!(r.overrides.len(), 1);
    assert_eq!(r.overrides[0].by, "alice");
    assert_eq!(r.overrides[0].accepted_ms, 3_600_000);
    assert_eq!(r.overrides[0].gate.tiers[0].exposure, forty_minutes);
    assert_eq!(
        journal.records.len(),
        2,
        "the refusal and the execution are both journaled"
    );
}
