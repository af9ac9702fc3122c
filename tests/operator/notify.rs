//! Notifications delivered to local receivers that fail, hang and answer
//! slowly: retried with backoff, failures counted, a hanging receiver
//! delays nobody, PagerDuty's trigger and resolve share a dedup key, and a
//! new leader sends only what the old one had not delivered.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::notify_support::{Behaviour, Local, MemOutbox};
use drctl::consensus::Command;
use drctl::notify::config::{Receiver, ReceiverKind, Secret};
use drctl::notify::{Event, EventKind, Notifier, NotifyConfig, NotifyMetrics};

fn receiver(name: &str, kind: ReceiverKind, url: &str, timeout_ms: u64, retries: u32) -> Receiver {
    Receiver {
        name: name.into(),
        kind,
        url: Secret(url.into()),
        events: None,
        timeout: Duration::from_millis(timeout_ms),
        retries,
    }
}

fn config(receivers: Vec<Receiver>) -> NotifyConfig {
    NotifyConfig {
        queue: 16,
        receivers,
        backoff: Duration::from_millis(50),
    }
}

/// A notifier over `outbox`, its tasks started.
fn start(
    cfg: &NotifyConfig,
    outbox: &MemOutbox,
) -> (Notifier, NotifyMetrics, Vec<tokio::task::JoinHandle<()>>) {
    let metrics = NotifyMetrics::default();
    let n = Notifier::new(cfg, metrics.clone());
    let tasks = n.spawn(cfg, Arc::new(outbox.clone()), "us-west-2");
    (n, metrics, tasks)
}

fn started(execution: &str) -> Event {
    Event::execution(
        EventKind::FailoverStarted,
        "emr-platform",
        execution,
        None,
        format!("failover {execution} started"),
        2,
    )
}

async fn eventually(within: Duration, what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_until_it_answers_and_failures_are_counted() {
    let flaky = Local::start(Behaviour::FailFirst(2)).await;
    let cfg = config(vec![receiver(
        "flaky",
        ReceiverKind::Json,
        &flaky.url,
        1000,
        5,
    )]);
    let outbox = MemOutbox::leader();
    let (n, metrics, _tasks) = start(&cfg, &outbox);
    let t0 = tokio::time::Instant::now();
    n.emit(started("x1"));
    let bodies = flaky.wait_for(3, Duration::from_secs(5)).await;
    // Backoff: 50 ms then 100 ms between the three attempts.
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        bodies.iter().all(|b| b["id"] == "x1/failover_started"),
        "{bodies:?}"
    );
    assert_eq!(bodies[0]["sentence"], "failover x1 started");
    assert_eq!(bodies[0]["dedup_key"], "drctl/emr-platform/execution-x1");
    eventually(Duration::from_secs(2), "delivery recorded", || {
        outbox
            .state
            .lock()
            .unwrap()
            .notifications
            .settled("x1/failover_started", "flaky")
    })
    .await;
    assert_eq!(metrics.failed_total("flaky", "status_5xx"), 2);
    assert_eq!(metrics.sent_total("flaky"), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(flaky.bodies().len(), 3, "nothing sent after the delivery");
}

#[tokio::test]
async fn a_hanging_receiver_delays_neither_the_emitter_nor_the_other_receivers() {
    let hang = Local::start(Behaviour::Hang).await;
    let slow = Local::start(Behaviour::Slow(Duration::from_millis(200))).await;
    let ok = Local::start(Behaviour::Ok).await;
    let cfg = config(vec![
        receiver("hang", ReceiverKind::Json, &hang.url, 400, 1),
        receiver("slow", ReceiverKind::Slack, &slow.url, 2000, 0),
        receiver("ok", ReceiverKind::Json, &ok.url, 2000, 0),
    ]);
    let outbox = MemOutbox::leader();
    let (n, metrics, _tasks) = start(&cfg, &outbox);
    let t0 = tokio::time::Instant::now();
    for i in 0..3 {
        n.emit(started(&format!("x{i}")));
    }
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "emitting waited: {:?}",
        t0.elapsed()
    );
    let got = ok.wait_for(3, Duration::from_secs(2)).await;
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "the hanging receiver's first timeout held the others: {:?}",
        t0.elapsed()
    );
    assert_eq!(got[2]["id"], "x2/failover_started");
    let slack = slow.wait_for(3, Duration::from_secs(3)).await;
    assert_eq!(
        slack[0]["text"],
        ":rotating_light: drctl [emr-platform] failover_started: failover x0 started"
    );
    // Each attempt at the hanging receiver is cut by its timeout; after
    // its one retry the event is given up, and the next one tried.
    eventually(Duration::from_secs(5), "two timeouts and a give-up", || {
        metrics.failed_total("hang", "timeout") >= 2 && metrics.failed_total("hang", "gave_up") >= 1
    })
    .await;
    assert_eq!(metrics.sent_total("hang"), 0);
    assert!(outbox
        .state
        .lock()
        .unwrap()
        .notifications
        .settled("x0/failover_started", "hang"));
}

#[tokio::test]
async fn pagerduty_trigger_and_resolve_share_a_dedup_key_per_incident() {
    let pd = Local::start(Behaviour::Ok).await;
    let kind = ReceiverKind::PagerDuty {
        routing_key: Secret("0123456789abcdef0123456789abcdef".into()),
    };
    let cfg = config(vec![receiver("pager", kind, &pd.url, 1000, 2)]);
    let outbox = MemOutbox::leader();
    let (n, _metrics, _tasks) = start(&cfg, &outbox);
    let cond = |k| Event::condition(k, "emr-platform", format!("{k}"), 2);
    for k in [
        EventKind::VerdictRecovered, // healthy at start: nothing to resolve
        EventKind::VerdictSuspect,
        EventKind::VerdictDown,
        EventKind::VerdictDown, // the same verdict again: not repeated
        EventKind::VerdictRecovered,
        EventKind::VerdictDown, // a new incident
    ] {
        n.emit(cond(k));
    }
    let b = pd.wait_for(4, Duration::from_secs(3)).await;
    let actions: Vec<_> = b
        .iter()
        .map(|b| {
            (
                b["event_action"].as_str().unwrap(),
                b["dedup_key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("trigger", "drctl/emr-platform/primary-1"),
            ("trigger", "drctl/emr-platform/primary-1"),
            ("resolve", "drctl/emr-platform/primary-1"),
            ("trigger", "drctl/emr-platform/primary-2"),
        ]
    );
    assert_eq!(b[0]["payload"]["severity"], "warning");
    assert_eq!(b[1]["payload"]["severity"], "critical");
    assert_eq!(b[1]["routing_key"], "0123456789abcdef0123456789abcdef");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pd.bodies().len(), 4);
}

#[tokio::test]
async fn a_new_leader_sends_what_the_old_one_had_not_delivered_and_nothing_twice() {
    let rx = Local::start(Behaviour::Ok).await;
    let cfg = config(vec![receiver("ops", ReceiverKind::Json, &rx.url, 1000, 2)]);
    let node1 = MemOutbox::leader();
    let node2 = node1.follower_of();
    let (n1, _, tasks1) = start(&cfg, &node1);
    let (n2, m2, _tasks2) = start(&cfg, &node2);
    n1.emit(started("x1"));
    rx.wait_for(1, Duration::from_secs(2)).await;
    eventually(Duration::from_secs(2), "x1 recorded", || {
        node1.settled_for("x1/failover_started", "ops")
    })
    .await;
    // Node 1 announces x2 and dies before sending it.
    node1.apply(Command::Notify {
        event: Box::new(started("x2")),
    });
    // An event announced long ago and never delivered is left alone.
    let mut stale = started("x0");
    stale.at = "2020-01-01T00:00:00Z".into();
    node1.apply(Command::Notify {
        event: Box::new(stale),
    });
    node1.leading.store(false, Ordering::SeqCst);
    for t in tasks1 {
        t.abort();
    }
    // A follower's events are not sent.
    n2.emit(started("x3"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(rx.bodies().len(), 1);
    // Node 2 leads in a new term, and sees x1 start again (a resumed execution).
    node2.term.store(2, Ordering::SeqCst);
    node2.leading.store(true, Ordering::SeqCst);
    n2.emit(started("x1"));
    n2.emit(started("x4"));
    let b = rx.wait_for(3, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<_> = rx
        .bodies()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "x1/failover_started",
            "x2/failover_started",
            "x4/failover_started"
        ],
        "{b:?}"
    );
    assert_eq!(m2.sent_total("ops"), 2);
}

impl MemOutbox {
    fn settled_for(&self, id: &str, receiver: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .notifications
            .settled(id, receiver)
    }
}
