//! Fencing and bookkeeping of the replicated state, command by command.

use std::path::Path;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{new_record, observe, RunOptions};
use crate::plan;
use crate::policy;

pub(super) async fn record(id: &str) -> ExecutionRecord {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(policy::DEFAULT_POLICY);
    let p = policy::load(&path).unwrap();
    let cloud = SimCloud::new(&p, SimOptions::default()).unwrap();
    let plan = plan::build(
        &p,
        &observe(&cloud, &cloud, &p, &crate::execute::no_notes).await,
        crate::plan::Acceptance::default(),
    );
    new_record(
        &plan,
        &RunOptions {
            execution_id: Some(id.into()),
            ..RunOptions::default()
        },
    )
}

pub(super) fn start(r: &ExecutionRecord) -> Command {
    Command::Start {
        execution: Box::new(Execution {
            record: r.clone(),
            owner_term: 0,
            requested_by: "alice".into(),
            reason: Some("us-east-1 is down".into()),
            accept_data_loss_ms: None,
            accept_unknown: Vec::new(),
            placement: None,
            orientation: Default::default(),
            names: Default::default(),
        }),
        at: "2026-11-22T08:00:00Z".into(),
    }
}

fn intent(id: &str, step: &str) -> Command {
    Command::Intent {
        execution_id: id.into(),
        step: step.into(),
        at: "t".into(),
    }
}

pub(super) fn save(r: &ExecutionRecord) -> Command {
    Command::save(r, "t".into())
}

#[tokio::test(start_paused = true)]
async fn one_execution_per_policy_at_a_time() {
    let mut s = ClusterState::default();
    let a = record("a").await;
    assert_eq!(s.apply(start(&a), 2, 10), Reply::Ok);
    assert_eq!(s.executions["a"].owner_term, 2);
    assert_eq!(s.running("emr-platform").unwrap().record.id, "a");
    let b = record("b").await;
    assert_eq!(
        s.apply(start(&b), 2, 11),
        Reply::Conflict {
            running: "a".into()
        }
    );
    assert!(!s.executions.contains_key("b"));
}

#[tokio::test(start_paused = true)]
async fn intents_carry_the_epoch_and_only_the_owner_may_write() {
    let mut s = ClusterState::default();
    let mut a = record("a").await;
    s.apply(start(&a), 2, 10);
    let epoch = Epoch { term: 2, index: 11 };
    assert_eq!(
        s.apply(intent("a", "promote-database"), 2, 11),
        Reply::Epoch { epoch }
    );
    let step = s.executions["a"].record.step("promote-database").unwrap();
    assert_eq!(
        (step.status, step.epoch),
        (StepStatus::Running, Some(epoch))
    );

    // A new leader claims it; the old leader's late intent and results are refused.
    let claim = Command::Claim {
        execution_id: "a".into(),
        node: 2,
        at: "t".into(),
        placement: None,
    };
    assert_eq!(s.apply(claim, 3, 12), Reply::Ok);
    assert!(matches!(
        s.apply(intent("a", "flip-dns"), 2, 13),
        Reply::Fenced { .. }
    ));
    a.summary = Some("late".into());
    assert!(matches!(s.apply(save(&a), 2, 14), Reply::Fenced { .. }));
    assert_eq!(s.executions["a"].record.summary, None);
    // An old term cannot claim back.
    let back = Command::Claim {
        execution_id: "a".into(),
        node: 1,
        at: "t".into(),
        placement: None,
    };
    assert!(matches!(s.apply(back, 2, 15), Reply::Fenced { .. }));
    // A leader of a later term that has not claimed it cannot write either.
    assert!(matches!(s.apply(save(&a), 4, 16), Reply::Fenced { .. }));
    assert_eq!(s.apply(save(&a), 3, 17), Reply::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_finished_execution_moves_the_active_region_and_frees_the_policy() {
    let mut s = ClusterState::default();
    let mut a = record("a").await;
    s.apply(start(&a), 1, 5);
    a.status = ExecutionStatus::Completed;
    a.summary = Some("failed over".into());
    assert_eq!(s.apply(save(&a), 1, 6), Reply::Ok);
    let p = &s.policies["emr-platform"];
    assert_eq!(p.active_region.as_deref(), Some("us-west-2"));
    assert_eq!(p.running, None);
    // Finished is final: nothing may rewrite it.
    assert!(matches!(s.apply(save(&a), 1, 7), Reply::Fenced { .. }));
    let b = record("b").await;
    assert_eq!(s.apply(start(&b), 1, 8), Reply::Ok);
    assert!(s.audit.iter().any(|e| e.what.contains("ended Completed")));
}

#[tokio::test(start_paused = true)]
async fn old_finished_executions_are_trimmed_and_audit_is_bounded() {
    let mut s = ClusterState::default();
    let base = record("x").await;
    for i in 0..(EXECUTIONS_KEPT + 5) {
        let mut r = base.clone();
        r.id = format!("e{i}");
        r.status = ExecutionStatus::AlreadyComplete;
        assert_eq!(s.apply(start(&r), 1, i as u64), Reply::Ok);
    }
    assert_eq!(s.executions.len(), EXECUTIONS_KEPT);
    assert!(!s.executions.contains_key("e0"));
    assert_eq!(s.latest("emr-platform").unwrap().record.id, "e24");
    for i in 0..(AUDIT_KEPT + 3) {
        s.apply(
            Command::Maintenance {
                on: i % 2 == 0,
                by: "bob".into(),
                reason: None,
                at: "t".into(),
            },
            1,
            100 + i as u64,
        );
    }
    assert_eq!(s.audit.len(), AUDIT_KEPT);
    assert!(s.maintenance.on);
}

#[tokio::test(start_paused = true)]
async fn hand_offs_and_executions_run_from_the_region_being_left_are_audited() {
    let mut s = ClusterState::default();
    let hand = Command::HandOff {
        from: 1,
        from_site: "us-east-1".into(),
        to: 2,
        to_site: "us-west-2".into(),
        reason: "to fail emr-platform over".into(),
        at: "t".into(),
    };
    assert_eq!(s.apply(hand, 4, 20), Reply::Ok);
    let last = s.audit.back().unwrap();
    assert_eq!(
        (last.who.as_str(), last.what.as_str()),
        (
            "node-1",
            "node 1 (us-east-1) hands leadership to node 2 (us-west-2): to fail emr-platform over"
        )
    );

    // Started from the region being left: the execution and the log say why.
    let why = "executing from us-east-1 because us-west-2's node (node 2) does not answer";
    let a = record("a").await;
    let Command::Start { mut execution, at } = start(&a) else {
        unreachable!()
    };
    execution.placement = Some(why.into());
    assert_eq!(s.apply(Command::Start { execution, at }, 4, 21), Reply::Ok);
    assert_eq!(s.executions["a"].placement.as_deref(), Some(why));
    assert_eq!(s.audit.back().unwrap().what, format!("execution a: {why}"));

    // Claimed by the region being activated: no reason left to give.
    let claim = Command::Claim {
        execution_id: "a".into(),
        node: 2,
        at: "t".into(),
        placement: None,
    };
    assert_eq!(s.apply(claim, 5, 22), Reply::Ok);
    assert_eq!(s.executions["a"].placement, None);
    assert!(s.audit.back().unwrap().what.starts_with("node 2 took over"));
}

#[tokio::test(start_paused = true)]
async fn the_divergence_measured_with_the_fence_is_audited() {
    use crate::execute::fence_return::FenceOldPrimary;
    use crate::fence::Divergence;
    let mut s = ClusterState::default();
    let mut a = record("a").await;
    s.apply(start(&a), 1, 5);
    a.status = ExecutionStatus::Completed;
    a.fence_old_primary = Some(FenceOldPrimary::pending("us-east-1"));
    assert_eq!(s.apply(save(&a), 1, 6), Reply::Ok);
    let mut done = FenceOldPrimary::pending("us-east-1");
    done.status = StepStatus::Done;
    done.outcome = vec!["old primary renamed".into()];
    done.divergence = vec![Divergence {
        tier: crate::model::DataTier::Database,
        bytes: 2048,
        heartbeat_rows: 1,
        window_start_ms: None,
        window_end_ms: None,
        measured_at_ms: 1,
    }];
    done.divergence_errors = vec!["cache: redis old primary c:6379: unreachable: refused".into()];
    let cmd = Command::FenceOldPrimary {
        execution_id: "a".into(),
        state: done,
        at: "t".into(),
    };
    assert!(matches!(s.apply(cmd, 1, 7), Reply::Epoch { .. }));
    assert_eq!(
        s.audit.back().unwrap().what,
        "execution a: fence-old-primary done: old primary renamed; divergence: database: 2 KiB \
         of WAL and 1 heartbeat row written on the old primary after the fork; cache: redis old \
         primary c:6379: unreachable: refused"
    );
}

#[tokio::test(start_paused = true)]
async fn finished_executions_leave_a_bounded_summary_beyond_the_kept_records() {
    let mut s = ClusterState::default();
    let runs = crate::history::HISTORY_KEPT + 2;
    let base = record("e").await;
    for i in 0..runs {
        let mut r = base.clone();
        r.id = format!("e{i}");
        assert_eq!(s.apply(start(&r), 2, 10 + 2 * i as u64), Reply::Ok);
        assert!(s
            .runs
            .get("emr-platform")
            .is_none_or(|k| k.len() == i.min(crate::history::HISTORY_KEPT)));
        for (n, step) in r.steps.iter_mut().enumerate() {
            step.status = StepStatus::Done;
            step.started_ms = Some(n as u64 * 10);
            step.ended_ms = Some(n as u64 * 10 + 7);
        }
        r.status = crate::execute::ExecutionStatus::Completed;
        assert_eq!(s.apply(save(&r), 2, 11 + 2 * i as u64), Reply::Ok);
    }
    let kept = &s.runs["emr-platform"];
    assert_eq!(kept.len(), crate::history::HISTORY_KEPT);
    assert_eq!(kept.front().unwrap().id, "e2");
    assert_eq!(kept.back().unwrap().id, format!("e{}", runs - 1));
    let last = kept.back().unwrap();
    assert!(last.steps.iter().all(|t| t.duration_ms == Some(7)));
    assert!(last.rto_ms.is_some());
    assert_eq!(s.executions.len(), EXECUTIONS_KEPT);
    let stats = crate::history::step_percentiles(&kept.iter().cloned().collect::<Vec<_>>());
    assert_eq!(stats["verify"].count, crate::history::HISTORY_KEPT);
}

#[tokio::test(start_paused = true)]
async fn an_audit_line_carries_the_time_of_its_event_not_of_its_replay() {
    let a = record("a").await;
    let (subscriber, log) = crate::test_log::capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A node catching up applies an entry written long before.
    ClusterState::default().apply(start(&a), 2, 10);
    let lines = log.lines_with("drctl::audit");
    assert!(!lines.is_empty(), "{}", log.text());
    for l in &lines {
        assert!(
            l.contains("at=\"2026-11-22T08:00:00Z\"") || l.contains("at=2026-11-22T08:00:00Z"),
            "{l}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn requests_that_change_nothing_never_evict_the_failover_that_did() {
    let mut s = ClusterState::default();
    let mut failover = record("real").await;
    assert_eq!(s.apply(start(&failover), 1, 1), Reply::Ok);
    failover.status = ExecutionStatus::Completed;
    assert_eq!(s.apply(save(&failover), 1, 2), Reply::Ok);
    let base = record("x").await;
    for i in 0..25 {
        let mut r = base.clone();
        r.id = format!("noop{i}");
        r.status = if i % 5 == 0 {
            ExecutionStatus::Refused
        } else {
            ExecutionStatus::AlreadyComplete
        };
        assert_eq!(s.apply(start(&r), 1, 10 + i), Reply::Ok);
    }
    assert!(
        s.executions.contains_key("real"),
        "the failover was evicted"
    );
    let history = &s.policies["emr-platform"].history;
    assert!(history.contains(&"real".to_string()));
    assert_eq!(history.len(), NOOP_EXECUTIONS_KEPT + 1);
    assert_eq!(s.executions.len(), NOOP_EXECUTIONS_KEPT + 1);
    assert!(!s.executions.contains_key("noop0"));
    assert_eq!(s.latest("emr-platform").unwrap().record.id, "noop24");
}

#[tokio::test(start_paused = true)]
async fn changing_executions_are_kept_to_their_own_bound() {
    let mut s = ClusterState::default();
    let base = record("x").await;
    for i in 0..(EXECUTIONS_KEPT + 3) {
        let mut r = base.clone();
        r.id = format!("c{i}");
        r.status = ExecutionStatus::Failed;
        assert_eq!(s.apply(start(&r), 1, i as u64), Reply::Ok);
        let mut n = base.clone();
        n.id = format!("n{i}");
        n.status = ExecutionStatus::AlreadyComplete;
        assert_eq!(s.apply(start(&n), 1, 100 + i as u64), Reply::Ok);
    }
    let kept = |p: &str| s.executions.keys().filter(|k| k.starts_with(p)).count();
    assert_eq!(kept("c"), EXECUTIONS_KEPT);
    assert_eq!(kept("n"), NOOP_EXECUTIONS_KEPT);
    assert!(!s.executions.contains_key("c2") && s.executions.contains_key("c3"));
}
