//! Notifications from the replicated controller: a failover completes
//! while a receiver hangs, and a leader killed mid-failover makes the next
//! one send what is left, nothing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cluster_support::{sim_cloud, test_policy, Cluster};
use crate::notify_support::{Behaviour, Local};
use drctl::execute::{ExecutionStatus, StepStatus};
use drctl::notify::config::{Receiver, ReceiverKind, Secret};
use drctl::notify::NotifyConfig;

fn receiver(name: &str, url: &str, timeout: Duration) -> Receiver {
    Receiver {
        name: name.into(),
        kind: ReceiverKind::Json,
        url: Secret(url.into()),
        events: None,
        timeout,
        retries: 10,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_completes_while_a_receiver_hangs_and_a_new_leader_repeats_nothing() {
    let hang = Local::start(Behaviour::Hang).await;
    let ok = Local::start(Behaviour::Ok).await;
    let notifications = NotifyConfig {
        queue: 64,
        receivers: vec![
            receiver("hang", &hang.url, Duration::from_secs(1)),
            receiver("ok", &ok.url, Duration::from_secs(2)),
        ],
        backoff: Duration::from_millis(200),
    };
    let policy = test_policy();
    let cloud = sim_cloud(&policy, 0.01);
    let mut c = Cluster::start_configured(policy, cloud, |cfg| {
        cfg.notifications = notifications.clone();
    })
    .await;
    let id = c.failover(c.leader().await).await;
    let first = c.leader().await;
    c.wait_for(first, &id, Duration::from_secs(20), |v| {
        v.steps
            .iter()
            .any(|s| s.id == "promote-database" && s.status == StepStatus::Running)
    })
    .await;
    let started = format!("{id}/failover_started");
    ok.wait_for(1, Duration::from_secs(5)).await;
    c.kill(first).await;
    let next = c
        .leader_among(&[c.other_executor(first), 3], Duration::from_secs(15))
        .await;
    let done = c.wait_finished(next, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed, "{done:#?}");
    let completed = format!("{id}/failover_completed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !ok.bodies().iter().any(|b| b["id"] == completed.as_str()) {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", ok.bodies());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for b in ok.bodies() {
        *seen
            .entry(b["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(seen.get(&started), Some(&1), "{seen:?}");
    assert_eq!(seen.get(&completed), Some(&1), "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "an event sent twice: {seen:?}"
    );
    let completed_body = ok
        .bodies()
        .into_iter()
        .find(|b| b["id"] == completed.as_str())
        .unwrap();
    assert_eq!(completed_body["node"], next);
    assert_eq!(completed_body["policy"], "emr-platform");
    // The hanging receiver's attempts time out on the leader, counted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = c.text(next, "/metrics").await;
        if m.contains("drctl_notifications_failed_total{receiver=\"hang\",reason=\"timeout\"}") {
            assert!(m.contains("drctl_notifications_sent_total{receiver=\"ok\",event=\"failover_completed\"} 1"), "{m}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!hang.bodies().is_empty());
    // The newest readiness verdict, as the readiness evaluation gives it.
    let ctx = &c.node(next).ctx;
    ctx.readiness_verdict("emr-platform", Some("the DR replica is missing".into()));
    ctx.readiness_verdict("emr-platform", Some("the DR replica is missing".into()));
    ctx.readiness_verdict("emr-platform", None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let readiness = loop {
        let r: Vec<_> = ok
            .bodies()
            .into_iter()
            .filter(|b| b["incident"] == "readiness-1")
            .collect();
        if r.len() >= 2 {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", ok.bodies());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(readiness[0]["kind"], "readiness_failing");
    assert_eq!(readiness[0]["sentence"], "the DR replica is missing");
    assert_eq!(readiness[1]["kind"], "readiness_recovered");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = ok
        .bodies()
        .iter()
        .filter(|b| b["incident"] == "readiness-1")
        .count();
    assert_eq!(n, 2, "the repeated failing verdict is not sent again");
    c.stop().await;
}
