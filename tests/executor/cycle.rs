//! The way home on the simulated cloud: a failover, then a reprotect that
//! builds replicas of the new primary in the old primary's region, each
//! call in the right region, resumable from its journal.

use std::path::Path;
use std::sync::Arc;

use drctl::cloud::sim::{SimCloud, SimOptions};
use drctl::cloud::{Cache, Database};
use drctl::execute::{self, ExecutionStatus, Journal, MemoryJournal, RunOptions, StepStatus};
use drctl::model::{Epoch, Fence, Orientation, Protection};
use drctl::plan::reprotect::{self, Context};
use drctl::policy::{self, Policy};

fn shipped() -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    Arc::new(policy::load(&path).unwrap())
}

fn opts() -> RunOptions {
    RunOptions {
        operator: "test".into(),
        ..RunOptions::default()
    }
}

fn ctx() -> Context {
    Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Unprotected,
        reprotects: 0,
    }
}

/// A completed failover with the old primary fenced on return.
async fn failed_over(p: &Arc<Policy>, seed: u64) -> Arc<SimCloud> {
    let options = SimOptions {
        seed,
        ..SimOptions::default()
    };
    let cloud = Arc::new(SimCloud::new(p, options).unwrap());
    let mut journal = MemoryJournal::default();
    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:?}", r.summary);
    let mut state = r
        .fence_old_primary
        .clone()
        .expect("the policy fences on return");
    let fence = Fence {
        execution_id: r.id.clone(),
        epoch: Epoch::default(),
    };
    execute::fence_return::try_fence(cloud.as_ref(), p, &fence, &mut state, "now".into()).await;
    assert!(state.status.succeeded(), "{:?}", state.outcome);
    cloud
}

async fn reprotect_plan(cloud: &SimCloud, p: &Policy) -> drctl::plan::Plan {
    let observed = execute::observe_reprotect(cloud, p).await;
    let plan = reprotect::build(p, &observed, &ctx());
    assert!(
        plan.preflight_problems.is_empty(),
        "{:?}",
        plan.preflight_problems
    );
    plan
}

#[tokio::test(start_paused = true)]
async fn after_a_failover_a_reprotect_builds_replicas_of_the_new_primary_in_the_old_region() {
    let p = shipped();
    let cloud = failed_over(&p, 5).await;
    let before = cloud.mutation_log().len();
    let plan = reprotect_plan(&cloud, &p).await;
    let mut journal = MemoryJournal::default();
    let r = execute::execute_plan(cloud.clone(), p.clone(), &mut journal, &plan, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    assert!(
        r.summary.as_deref().unwrap().starts_with("reprotected"),
        "{:?}",
        r.summary
    );
    assert!(r.fence_old_primary.is_none(), "a reprotect fences nothing");
    assert_eq!(
        execute::switched_roles(&r).map(|s| (s.orientation, s.protection)),
        Some((Orientation::Reversed, Protection::Protected))
    );
    let db = p.tiers.database.as_ref().unwrap();
    let replica = cloud
        .get_database("us-east-1", &db.primary)
        .await
        .unwrap()
        .expect("the new replica exists under the policy's name");
    assert!(reprotect::replicates(&replica, &db.replica), "{replica:?}");
    // Every creation went to us-east-1, the old primary's region.
    let made: Vec<_> = cloud.mutation_log()[before..].to_vec();
    assert!(!made.is_empty());
    for m in &made {
        assert!(
            m.resource.contains("us-east-1"),
            "{} on {} is not in us-east-1",
            m.op,
            m.resource
        );
        assert_eq!(m.execution, r.id, "{m:?}");
    }
    let ops: Vec<&str> = made.iter().map(|m| m.op.as_str()).collect();
    for op in ["rds:CreateDBInstanceReadReplica", "kafka:CreateReplicator"] {
        assert_eq!(
            ops.iter().filter(|o| **o == op).count(),
            1,
            "{op} in {ops:?}"
        );
    }
    // The Global Datastore survived the failover: the old member rejoined
    // as its secondary, so nothing was created for the cache.
    let cache = r
        .steps
        .iter()
        .find(|s| s.id == "add-cache-secondary")
        .unwrap();
    assert_eq!(cache.status, StepStatus::AlreadyDone, "{cache:?}");
    // Once reprotected, a new reprotect finds everything in place.
    let again = reprotect::build(
        &p,
        &execute::observe_reprotect(cloud.as_ref(), &p).await,
        &ctx(),
    );
    assert!(
        again
            .steps
            .iter()
            .filter(|s| s.kind.mutates() && s.id != "switch-roles")
            .all(|s| s.already_done),
        "{:#?}",
        again.steps
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_reprotect_resumes_from_its_journal_and_no_step_acts_twice() {
    let p = shipped();
    let cloud = failed_over(&p, 6).await;
    let plan = reprotect_plan(&cloud, &p).await;
    let before = cloud.mutation_log().len();
    let mut journal = MemoryJournal::default();
    // The run stops (the process dies) a minute in: the creations were
    // asked for, the replicas are still being made.
    let run = execute::execute_plan(cloud.clone(), p.clone(), &mut journal, &plan, opts());
    let cut = tokio::time::timeout(std::time::Duration::from_secs(60), run).await;
    assert!(cut.is_err(), "the reprotect ended within a minute: {cut:?}");
    let left = journal.last(&p.name).await.unwrap().unwrap();
    assert_eq!(left.status, ExecutionStatus::Running);
    let waiting = left
        .steps
        .iter()
        .find(|s| s.id == "wait-replication")
        .unwrap();
    assert_ne!(waiting.status, StepStatus::Done, "{:#?}", left.steps);
    let asked = cloud.mutation_log().len() - before;
    assert!(asked > 0, "nothing was created before the cut");
    let r = execute::execute_plan(cloud.clone(), p.clone(), &mut journal, &plan, opts())
        .await
        .unwrap();
    assert_eq!(r.id, left.id);
    assert_eq!(r.resumed, 1);
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let ops: Vec<String> = cloud.mutation_log()[before..]
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
}

#[tokio::test(start_paused = true)]
async fn a_reprotect_after_a_disassociation_makes_a_new_global_datastore_then_its_secondary() {
    let p = shipped();
    let options = SimOptions {
        seed: 7,
        ..SimOptions::default()
    };
    let cloud = Arc::new(SimCloud::new(&p, options).unwrap());
    // us-east-1 is down during the failover: the cache step disassociates.
    cloud.set_region_outage(["us-east-1".to_string()]);
    let mut journal = MemoryJournal::default();
    let r = execute::execute(cloud.clone(), p.clone(), &mut journal, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:?}", r.summary);
    assert!(
        r.decisions.iter().any(|d| d.what.contains("disassociated")),
        "{:?}",
        r.decisions
    );
    cloud.set_region_outage(Vec::<String>::new());
    let mut state = r.fence_old_primary.clone().unwrap();
    let fence = Fence {
        execution_id: r.id.clone(),
        epoch: Epoch::default(),
    };
    execute::fence_return::try_fence(cloud.as_ref(), &p, &fence, &mut state, "now".into()).await;
    let plan = reprotect_plan(&cloud, &p).await;
    let before = cloud.mutation_log().len();
    let r = execute::execute_plan(cloud.clone(), p.clone(), &mut journal, &plan, opts())
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let made = &cloud.mutation_log()[before..];
    let of = |op: &str| -> Vec<&str> {
        made.iter()
            .filter(|m| m.op == op)
            .map(|m| m.resource.as_str())
            .collect()
    };
    // The datastore is made with the active member of us-west-2 as its
    // primary, the new secondary in us-east-1 beside the old member it
    // cannot reuse.
    let gds = of("elasticache:CreateGlobalReplicationGroup");
    assert_eq!(gds.len(), 1, "{made:?}");
    assert!(gds[0].ends_with("emr-platform-redis-r1"), "{gds:?}");
    let member = of("elasticache:CreateReplicationGroup");
    assert_eq!(member.len(), 1, "{made:?}");
    assert!(
        member[0].contains("us-east-1") && member[0].ends_with("-r1"),
        "{member:?}"
    );
    let id = gds[0].trim_start_matches("elasticache:");
    let new = cloud.get_global_datastore("us-west-2", id).await.unwrap();
    let new = new.expect("the new Global Datastore exists");
    let dr = &p.tiers.cache.as_ref().unwrap().dr_member;
    assert!(new.has_primary(dr), "{new:?}");
}

#[test]
fn drill_cycle_runs_failover_reprotect_failback_and_failover_again_carrying_the_roles() {
    let history = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("drctl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["drill", "--cycle", "--output", "json", "--seed", "3"])
        .arg("--history-dir")
        .arg(history.path())
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let phases = v.as_array().expect("one report per phase");
    let names: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["failover", "reprotect", "failback", "failover-again"],
        "{v:#}"
    );
    for p in phases {
        assert_eq!(p["execution"]["status"], "completed", "{p:#}");
    }
    let orientation = |i: usize, when: &str| phases[i][when]["orientation"].clone();
    let protection = |i: usize| phases[i]["roles_after"]["protection"]["protection"].clone();
    assert_eq!(orientation(0, "roles_after"), "as_written");
    assert_eq!(protection(0), "unprotected");
    for i in 1..4 {
        assert_eq!(
            orientation(i, "roles_before"),
            orientation(i - 1, "roles_after")
        );
    }
    assert_eq!(orientation(1, "roles_after"), "reversed");
    assert_eq!(protection(1), "protected");
    assert_eq!(phases[1]["execution"]["plan"]["kind"], "reprotect");
    assert_eq!(phases[1]["execution"]["plan"]["from_region"], "us-west-2");
    assert_eq!(phases[2]["execution"]["plan"]["kind"], "failback");
    assert_eq!(phases[2]["execution"]["plan"]["to_region"], "us-east-1");
    assert_eq!(orientation(2, "roles_after"), "as_written");
    assert_eq!(protection(2), "protected");
    assert_eq!(protection(3), "unprotected");
}
