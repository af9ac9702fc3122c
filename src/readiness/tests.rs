//! Unit tests of the readiness evaluation on the simulated cloud.

use super::*;
use crate::cloud::sim::{is_mutating, SimCloud, SimOptions};
use crate::execute::{ExecutionRecord, ExecutionStatus, StepRecord, StepStatus};
use crate::model::Op;

fn policy() -> Policy {
    crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
        .expect("the shipped policy is valid")
}

fn fresh_sites(policy: &Policy, now_ms: u64) -> Vec<SiteBeat> {
    let r = &policy.regions;
    [&r.primary, &r.secondary, &r.witness]
        .into_iter()
        .map(|s| SiteBeat {
            site: s.clone(),
            last_at_ms: Some(now_ms - 1_000),
            received_at_ms: Some(now_ms - 500),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_shipped_policy_on_the_simulated_cloud_is_ready_and_nothing_changes() {
    let policy = policy();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    let inputs = Inputs {
        sites: Some(fresh_sites(&policy, 10_000_000)),
        now_ms: 10_000_000,
        ..Inputs::default()
    };
    let r = evaluate(&sim, &policy, &inputs).await;
    assert_eq!(r.verdict, Verdict::Ready, "{}", r.render_text());
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CHECKS);
    assert!(sim.mutations().is_empty(), "{:?}", sim.mutations());
    let writes: Vec<String> = sim
        .calls()
        .into_keys()
        .filter(|op| op.parse().is_ok_and(is_mutating))
        .collect();
    assert!(writes.is_empty(), "mutating calls made: {writes:?}");
    assert!(sim
        .calls()
        .contains_key(Op::SimulatePrincipalPolicy.as_str()));
}

#[test]
fn the_verdict_is_the_worst_status() {
    let c = |s| Check::new("x", s, "");
    assert_eq!(Verdict::of(&[c(Status::Pass)]), Verdict::Ready);
    assert_eq!(
        Verdict::of(&[c(Status::Pass), c(Status::Warn)]),
        Verdict::Warnings
    );
    assert_eq!(
        Verdict::of(&[c(Status::Fail), c(Status::Warn)]),
        Verdict::NotReady
    );
    assert_eq!(
        [
            Status::Pass.gauge(),
            Status::Warn.gauge(),
            Status::Fail.gauge()
        ],
        [0, 1, 2]
    );
}

#[test]
fn only_failing_checks_make_the_failing_sentence_that_notifications_carry() {
    let r = |checks: Vec<Check>| Readiness {
        policy: "p".into(),
        checked_at: String::new(),
        verdict: Verdict::of(&checks),
        checks,
        predicted_rto: PredictedRto {
            p50_ms: 0,
            p95_ms: 0,
            critical_path: vec![],
            basis: String::new(),
        },
    };
    let warned = r(vec![
        Check::new("dns", Status::Pass, "fine"),
        Check::new("heartbeats", Status::Warn, "not known here"),
    ]);
    assert_eq!(warned.failing(), None);
    let failed = r(vec![
        Check::new("dr-resources", Status::Fail, "the replica is missing"),
        Check::new("heartbeats", Status::Warn, "not known here"),
        Check::new("vcpu-quota", Status::Fail, "the quota is too low"),
    ]);
    assert_eq!(
        failed.failing().as_deref(),
        Some("dr-resources: the replica is missing; vcpu-quota: the quota is too low")
    );
}

/// A past execution of `policy`'s plan in which every step took `ms`.
fn past(policy: &Policy, plan: &Plan, ms: u64) -> ExecutionRecord {
    let steps = plan
        .steps
        .iter()
        .map(|s| StepRecord {
            id: s.id.clone(),
            kind: s.kind,
            after: s.after.clone(),
            resource: None,
            status: StepStatus::Done,
            attempts: 1,
            started_ms: Some(0),
            ended_ms: Some(ms),
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        })
        .collect();
    ExecutionRecord {
        id: format!("past-{ms}"),
        policy: policy.name.clone(),
        started_at: String::new(),
        status: ExecutionStatus::Completed,
        plan: plan.clone(),
        steps,
        rpo: None,
        overrides: vec![],
        resumed: 0,
        restarted: 0,
        summary: None,
        decisions: vec![],
        time_basis: Default::default(),
        fence_old_primary: None,
        fork: None,
        phases: None,
        roles: None,
        writer_restore: Default::default(),
    }
}

#[test]
fn the_predicted_rto_follows_the_history_of_the_policy_along_its_critical_path() {
    let policy = policy();
    let plan = crate::plan::build(&policy, &Observed::default(), Acceptance::default());
    // preflight → rpo-gate → (tier steps) → flip-dns → verify: five steps
    // on the longest path, each taking its history's quantile.
    let history: Vec<RunSummary> = (1..=20)
        .map(|i| RunSummary::of(&past(&policy, &plan, i * 1000)))
        .collect();
    let p = predict_rto(&plan, &policy, &history);
    assert_eq!(p.p50_ms, 5 * 10_000, "{p:?}");
    assert_eq!(p.p95_ms, 5 * 19_000, "{p:?}");
    assert_eq!(
        p.critical_path.first().map(String::as_str),
        Some("preflight")
    );
    assert_eq!(p.critical_path.last().map(String::as_str), Some("verify"));
    assert!(p.basis.starts_with("20 past executions"), "{}", p.basis);
    // Another policy's history is not used.
    let mut other = history.clone();
    for r in &mut other {
        r.policy = "someone-else".into();
    }
    let modeled = predict_rto(&plan, &policy, &other);
    assert!(modeled.basis.contains("latency model"), "{}", modeled.basis);
    // Without history: the slowest tier step (promotion, 180–300 s)
    // dominates, and p95 is above p50.
    assert!(modeled.p50_ms >= 240_000 && modeled.p95_ms > modeled.p50_ms);
    assert!(modeled
        .critical_path
        .contains(&"promote-database".to_string()));
}

#[test]
fn a_reprotect_is_predicted_with_the_creation_times_of_what_it_makes() {
    use crate::plan::reprotect;
    let policy = policy();
    let ctx = reprotect::Context {
        orientation: crate::model::Orientation::AsWritten,
        protection: crate::model::Protection::Unprotected,
        reprotects: 0,
    };
    let plan = reprotect::build(&policy, &Default::default(), &ctx);
    let p = predict_rto(&plan, &policy, &[]);
    // A cross-region read replica takes 20–45 minutes to be made: the
    // prediction is not a promotion's few minutes.
    let m = crate::cloud::sim::LatencyModel::default();
    assert!(p.p50_ms >= m.database_replica_creation.min_ms, "{p:?}");
    assert!(
        p.critical_path
            .contains(&"create-replica-database".to_string())
            || p.critical_path.contains(&"add-cache-secondary".to_string()),
        "{p:?}"
    );
}
