//! Detection on a three-node cluster over the simulated cloud: a real
//! outage is confirmed and failed over once; a site cut off, flapping,
//! maintenance and the hold-down never start a failover.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster_support::{sim_cloud, test_policy, Cluster};
use drctl::clock::now_ms;
use drctl::cloud::sim::{Fault, FaultKind, Outage};
use drctl::cloud::ErrorKind;
use drctl::consensus::DETECTOR;
use drctl::detect::{Action, Health, Verdict};
use drctl::execute::ExecutionStatus;
use drctl::model::DataTier;
use drctl::model::Exposure;
use drctl::policy::{Mode, Policy};

/// Probe interval of the tests' policy.
const INTERVAL: Duration = Duration::from_millis(400);
const FAILURES: u64 = 3;

/// The shipped policy (as the cluster tests use it: no heartbeats, which
/// name production hosts), probed every 400 ms (300 ms timeout: the
/// simulated RDS API answers in 40–250 ms), 3 failures, in `mode`, with
/// `hold_down`.
fn policy(mode: Mode, hold_down: Option<Duration>) -> Arc<Policy> {
    let mut p = (*test_policy()).clone();
    p.detection.probe_interval = INTERVAL;
    p.detection.probe_timeout = Duration::from_millis(300);
    p.detection.hold_down = hold_down;
    p.mode = mode;
    p.manual_timeout = None;
    Arc::new(p)
}

async fn start(mode: Mode) -> Cluster {
    start_policy(policy(mode, None)).await
}

async fn start_policy(p: Arc<Policy>) -> Cluster {
    let cloud = sim_cloud(&p, 0.01);
    let c = Cluster::start_with(p, cloud).await;
    c.leader().await;
    c
}

fn verdict(c: &Cluster, id: u64) -> Verdict {
    let ctx = &c.node(id).ctx;
    ctx.verdict(ctx.policies.values().next().unwrap())
}

/// Waits until node `id`'s verdict satisfies `pred`; returns it.
async fn wait_verdict(
    c: &Cluster,
    id: u64,
    within: Duration,
    pred: impl Fn(&Verdict) -> bool,
) -> Verdict {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = verdict(c, id);
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {id}: verdict not as expected within {within:?}: {v:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every execution the cluster holds: (id, requested by, status).
fn executions(c: &Cluster, id: u64) -> Vec<(String, String, ExecutionStatus)> {
    let a = c.node(id).ctx.applied.read().unwrap();
    a.state
        .executions
        .values()
        .map(|e| (e.record.id.clone(), e.requested_by.clone(), e.record.status))
        .collect()
}

/// Every promotion fails for good: an execution fails and the platform
/// stays in the primary region.
fn fail_every_promotion(c: &Cluster) {
    c.cloud
        .inject(Fault {
            fault: FaultKind::Fail,
            op: "rds:PromoteReadReplica".into(),
            resource: None,
            times: None,
            error: Some(ErrorKind::Fatal),
            extra: None,
            status: None,
        })
        .unwrap();
}

/// The primary goes down and every promotion fails: the detector's
/// execution fails, and the verdict holds automatic failover down. Returns
/// the leader and that verdict.
async fn held_down_after_a_failed_execution(c: &Cluster) -> (u64, Verdict) {
    fail_every_promotion(c);
    primary_down(c);
    let leader = c.leader().await;
    let v = wait_verdict(c, leader, Duration::from_secs(30), |v| {
        v.action == Action::HeldDown
    })
    .await;
    (leader, v)
}

/// Waits until the leader holds a second execution.
async fn wait_second_execution(c: &Cluster, leader: u64, why: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while executions(c, leader).len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The simulated primary region stops answering every site.
fn primary_down(c: &Cluster) {
    c.cloud.set_outage(Outage {
        primary_down: true,
        ..Outage::default()
    });
}

async fn healthy(c: &Cluster) {
    for id in 1..=3 {
        wait_verdict(c, id, Duration::from_secs(10), |v| {
            v.health == Health::Healthy
        })
        .await;
    }
}

/// Watches for `span`, asserting at every look that nothing executes.
async fn watch_nothing_executes(c: &Cluster, span: Duration) -> Vec<Verdict> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + span;
    while tokio::time::Instant::now() < end {
        for id in 1..=3 {
            assert!(
                executions(c, id).is_empty(),
                "node {id}: {:?}",
                executions(c, id)
            );
        }
        seen.push(verdict(c, c.leader().await));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.mutations("rds:PromoteReadReplica"), 0);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_down_for_every_site_is_confirmed_in_time_and_failed_over_once() {
    let c = start(Mode::Automatic).await;
    healthy(&c).await;
    let fault_at = now_ms();
    primary_down(&c);
    let leader = c.leader().await;
    let v = wait_verdict(&c, leader, Duration::from_secs(10), |v| {
        v.health == Health::Down
    })
    .await;
    // Within (failures × interval) plus one interval of the fault: the
    // first failed round starts within an interval, the confirming one
    // (failures − 1) intervals later.
    let confirmed = v.confirmed_at_ms.expect("a confirmed verdict says when") - fault_at;
    let bound = (FAILURES + 1) * INTERVAL.as_millis() as u64;
    assert!(
        confirmed <= bound,
        "confirmed {confirmed} ms after the fault, bound {bound} ms"
    );
    assert!(
        v.reason.starts_with("primary down: ")
            && v.reason.contains("sites failed 3 consecutive probes"),
        "{}",
        v.reason
    );
    assert!(
        v.reason.contains("primary region down (simulated outage)"),
        "{}",
        v.reason
    );

    // The leader started the failover on its own, once, and finished it.
    let id = loop {
        let found = executions(&c, leader)
            .into_iter()
            .find(|(_, by, _)| by == DETECTOR);
        if let Some((id, _, _)) = found {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(
        done.summary.status,
        ExecutionStatus::Completed,
        "{:?}",
        done.summary.summary
    );
    assert!(done
        .summary
        .reason
        .as_deref()
        .unwrap()
        .starts_with("primary down"));
    // The execution carries when the fault was first seen and confirmed,
    // so its report shows fault → confirmed → decided → traffic on DR.
    let phases = done
        .phases
        .expect("an automatic execution records its phases");
    let (seen, confirmed) = (phases.fault_at_ms.unwrap(), phases.confirmed_at_ms.unwrap());
    assert!(seen + INTERVAL.as_millis() as u64 >= fault_at && seen <= confirmed);
    assert!(confirmed - seen <= bound, "{phases:?}");
    let (audited, runs) = {
        let a = c.node(leader).ctx.applied.read().unwrap();
        let view = drctl::api::views::ExecutionView::of(&a.state.executions[&id]);
        (
            view.with_audit(&a.state.audit),
            a.state.runs["emr-platform"].clone(),
        )
    };
    assert!(!audited.audit.is_empty() && audited.audit.iter().all(|a| a.what.contains(&id)));
    assert_eq!(
        runs.back().map(|r| (&r.id, r.detected)),
        Some((&id, Some(phases)))
    );
    let times = drctl::history::PhaseTimes::of(&done.clone().into_record());
    assert_eq!(times.detect_ms, Some(confirmed - seen));
    assert!(times.total_ms.unwrap() > times.traffic_on_dr_ms.unwrap());
    c.assert_each_acted_once();
    // The primary stays down; nothing else starts: the platform has moved.
    let v = wait_verdict(&c, leader, Duration::from_secs(5), |v| {
        v.action == Action::FailedOver
    })
    .await;
    assert!(
        v.reason.contains("runs in us-west-2, unprotected"),
        "{}",
        v.reason
    );
    tokio::time::sleep(INTERVAL * 6).await;
    assert_eq!(executions(&c, leader).len(), 1);
    c.assert_each_acted_once();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_site_cut_off_never_fails_over() {
    let c = start(Mode::Automatic).await;
    healthy(&c).await;
    for site in ["us-west-2", "us-east-2", "us-east-1"] {
        c.cloud.set_outage(Outage {
            cut_off: [site.to_string()].into(),
            ..Outage::default()
        });
        let seen = watch_nothing_executes(&c, INTERVAL * 12).await;
        assert!(
            seen.iter().all(|v| v.health != Health::Down),
            "{site}: {seen:#?}"
        );
        let last = seen.last().unwrap();
        assert_eq!(last.health, Health::Suspect, "{site}: {last:#?}");
        assert!(
            last.reason.contains("1 of 3 sites see it down, 2 needed"),
            "{}",
            last.reason
        );
        assert!(
            last.reason.contains(&format!("{site} cut off")),
            "{}",
            last.reason
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flapping_never_fails_over() {
    let c = start(Mode::Automatic).await;
    healthy(&c).await;
    // Down 700 ms, up 500 ms: a 400 ms round sees at most two failures in
    // a row, and every site sees failures.
    let flapper = {
        let cloud = c.cloud.clone();
        tokio::spawn(async move {
            loop {
                cloud.set_outage(Outage {
                    primary_down: true,
                    ..Outage::default()
                });
                tokio::time::sleep(Duration::from_millis(700)).await;
                cloud.set_outage(Outage::default());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let seen = watch_nothing_executes(&c, Duration::from_secs(8)).await;
    flapper.abort();
    assert!(seen.iter().all(|v| v.health != Health::Down), "{seen:#?}");
    assert!(
        seen.iter().any(|v| v.health == Health::Suspect),
        "the flapping was seen"
    );
    assert!(
        seen.iter().any(|v| v.reason.contains("flapping")),
        "{seen:#?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_suppresses_the_failover_but_not_the_observation() {
    let c = start(Mode::Automatic).await;
    healthy(&c).await;
    let (s, b) = c
        .post(
            1,
            "/v1/maintenance",
            serde_json::json!({"on": true, "reason": "game day"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    primary_down(&c);
    let leader = c.leader().await;
    let v = wait_verdict(&c, leader, Duration::from_secs(10), |v| {
        v.health == Health::Down
    })
    .await;
    assert_eq!(v.action, Action::Maintenance, "{}", v.reason);
    assert!(v.reason.contains("maintenance mode is on"), "{}", v.reason);
    watch_nothing_executes(&c, INTERVAL * 8).await;
    // Only suppressed: once maintenance ends, the confirmed failure acts.
    let (s, b) = c
        .post(2, "/v1/maintenance", serde_json::json!({"on": false}))
        .await;
    assert_eq!(s, 200, "{b}");
    let v = wait_verdict(&c, leader, Duration::from_secs(10), |v| {
        v.action == Action::Running || v.action == Action::FailedOver
    })
    .await;
    assert!(v.health == Health::Down, "{v:#?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_an_execution_automatic_failover_is_held_down_until_acknowledged() {
    let c = start(Mode::Automatic).await;
    healthy(&c).await;
    // The promotion fails for good, so the first execution fails and the
    // platform stays in the primary region, still down.
    let (leader, v) = held_down_after_a_failed_execution(&c).await;
    assert!(v.reason.contains("ended failed"), "{}", v.reason);
    assert!(v.reason.contains("drctl acknowledge"), "{}", v.reason);
    let first = executions(&c, leader);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].2, ExecutionStatus::Failed);
    // Held down: confirmed failure after confirmed failure, no second try.
    tokio::time::sleep(INTERVAL * 8).await;
    assert_eq!(executions(&c, leader).len(), 1);
    // An operator acknowledges: the detector may act again.
    let (s, b) = c
        .post(
            3,
            "/v1/acknowledge",
            serde_json::json!({"reason": "reviewed", "operator": "jdoe"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["acknowledged"], first[0].0.as_str());
    wait_second_execution(&c, leader, "no second execution after the acknowledgement").await;
    let audit = c.state(leader).audit;
    assert!(
        audit
            .iter()
            .any(|a| a.who == "jdoe" && a.what.starts_with("acknowledged execution")),
        "{audit:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn above_the_rpo_the_automatic_failover_refuses_and_says_why() {
    let c = start(Mode::Automatic).await;
    c.cloud.set_lag(
        DataTier::Database,
        Exposure::Known(Duration::from_secs(20 * 60)),
    );
    healthy(&c).await;
    primary_down(&c);
    let leader = c.leader().await;
    let v = wait_verdict(&c, leader, Duration::from_secs(10), |v| {
        v.action == Action::HeldDown
    })
    .await;
    assert!(v.reason.contains("ended refused"), "{}", v.reason);
    let ex = executions(&c, leader);
    assert_eq!(ex.len(), 1, "{ex:?}");
    let view = c.execution(leader, &ex[0].0).unwrap();
    assert_eq!(view.summary.status, ExecutionStatus::Refused);
    let summary = view.summary.summary.unwrap();
    assert!(
        summary.contains("database") && summary.contains("20m"),
        "{summary}"
    );
    assert_eq!(c.mutations("rds:PromoteReadReplica"), 0);
    // An operator accepts the loss: the failover proceeds and records it.
    let (s, b) = c
        .post(
            2,
            "/v1/failover",
            serde_json::json!({"confirm": true, "accept_data_loss": "25m", "reason": "accepting 20m of loss"}),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let id = b["execution_id"].as_str().unwrap().to_string();
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed);
    let e = c.state(leader).executions[&id].clone();
    assert_eq!(e.accept_data_loss_ms, Some(25 * 60 * 1000));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_mode_recommends_and_waits_for_an_operator() {
    let c = start(Mode::Manual).await;
    healthy(&c).await;
    primary_down(&c);
    let leader = c.leader().await;
    let v = wait_verdict(&c, leader, Duration::from_secs(10), |v| {
        v.health == Health::Down
    })
    .await;
    assert_eq!(v.action, Action::Recommend, "{}", v.reason);
    assert!(v.reason.contains("failover recommended"), "{}", v.reason);
    watch_nothing_executes(&c, INTERVAL * 8).await;
    let metrics = c.text(1, "/metrics").await;
    assert!(
        metrics.contains("drctl_failover_recommended{policy=\"emr-platform\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drctl_detector_health{policy=\"emr-platform\",health=\"down\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("drctl_probe_success{"), "{metrics}");
    // The status API shows it too, on any node, in the documented shape.
    let (s, body) = c.get(3, "/v1/status").await;
    assert_eq!(s, 200);
    crate::cluster_support::assert_matches_openapi("get", "/v1/status", 200, &body);
    let p = &body["policies"][0];
    assert_eq!(p["verdict"]["action"], "recommend");
    assert_eq!(p["probes"].as_array().unwrap().len(), 3, "{p}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_hold_down_ends_by_itself() {
    let c = start_policy(policy(Mode::Automatic, Some(Duration::from_secs(2)))).await;
    healthy(&c).await;
    let (leader, v) = held_down_after_a_failed_execution(&c).await;
    assert!(v.reason.contains("or 2s after it ended"), "{}", v.reason);
    // Nobody acknowledges; two seconds after the first execution ended, the
    // detector tries again.
    wait_second_execution(&c, leader, "the hold-down never ended").await;
    c.stop().await;
}
