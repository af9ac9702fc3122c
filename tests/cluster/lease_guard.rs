//! A leader's lease is checked before every mutating cloud call, not only
//! when a step begins: a leader cut off in the middle of a step's retries
//! sends nothing more once its lease has lapsed.

use std::time::Duration;

use crate::cluster_support::{sim_cloud, test_policy, Cluster, TOKEN};
use drctl::cloud::sim::{is_mutating, Fault, FaultKind};
use drctl::cloud::ErrorKind;

/// Every mutating call the simulated cloud received, accepted or not.
fn mutating_calls(c: &Cluster) -> u32 {
    c.cloud
        .calls()
        .iter()
        .filter(|(op, _)| op.parse().is_ok_and(is_mutating))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_deposed_during_a_steps_retries_makes_no_further_mutating_call() {
    let policy = test_policy();
    let mut c = Cluster::start_with(policy.clone(), sim_cloud(&policy, 0.005)).await;
    // us-west-2 leads (a failover executes from the region it activates),
    // with the witness alone beside it: once it is cut off, nobody leads.
    c.make_leader(2).await;
    c.kill(1).await;
    let promote = "rds:PromoteReadReplica";
    c.cloud
        .inject(Fault {
            fault: FaultKind::Fail,
            op: promote.into(),
            resource: None,
            times: None,
            error: Some(ErrorKind::Retryable),
            extra: None,
            status: None,
        })
        .unwrap();
    let id = c.failover(2).await;
    // The promotion fails and is retried (after 1 s, then 2 s, 4 s, ...).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while c.cloud.calls().get(promote).copied().unwrap_or(0) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "{id}: no retry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.isolate(2);
    // A request arriving meanwhile (the runner's loop then confirms its
    // leadership) must not delay the stop.
    let busy = {
        let http = c.http.clone();
        let url = format!("{}/v1/failover", c.url(2));
        tokio::spawn(async move {
            let _ = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"confirm": true, "reason": "busy"}))
                .send()
                .await;
        })
    };
    // The lease (the shortest election timeout) runs out.
    let lease = c.configs[&2].election_timeout[0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let ack = c
            .node(2)
            .ctx
            .raft
            .metrics()
            .borrow()
            .millis_since_quorum_ack;
        if ack.is_some_and(|ms| u128::from(ms) > lease.as_millis()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lease never lapsed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_deposition = mutating_calls(&c);
    // The step's next retries (2 s and 4 s later) fall in this window.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        mutating_calls(&c),
        at_deposition,
        "the deposed leader went on calling: {:?}",
        c.cloud.calls()
    );
    busy.abort();
    c.stop().await;
}
