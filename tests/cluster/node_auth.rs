//! Node-to-node calls are signed per node: a node speaks only for its own
//! site, with fresh timestamps, for known policies and sites; keys rotate
//! while two are listed. Three in-process nodes over one simulated cloud.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster_support::{Cluster, SECRET};
use drctl::clock::now_ms;
use drctl::consensus::auth::{NodeKey, Signer};
use drctl::detect::Observation;

/// A round numbered apart from the nodes' own.
const FORGED_ROUND: u64 = 999_999;

fn round(policy: &str, site: &str, node: u64, at_ms: u64) -> Observation {
    Observation {
        policy: policy.into(),
        site: site.into(),
        node,
        round: FORGED_ROUND,
        at_ms,
        probes: Vec::new(),
        tiers: Vec::new(),
    }
}

async fn send(c: &Cluster, to: u64, signer: &Signer, o: &Observation) -> u16 {
    let body = serde_json::to_vec(o).unwrap();
    signer
        .post(&c.http, &c.url(to), "/raft/observe", body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether node `at` holds the forged round as `site`'s.
fn holds(c: &Cluster, at: u64, policy: &str, site: &str) -> bool {
    let d = c.node(at).ctx.detection.read().unwrap();
    d.rounds
        .get(policy)
        .and_then(|s| s.get(site))
        .is_some_and(|r| r.iter().any(|o| o.round == FORGED_ROUND))
}

async fn refused(c: &Cluster, at: u64, reason: &str) -> u64 {
    let text = c.text(at, "/metrics").await;
    let line = format!("drctl_rounds_refused_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_cannot_send_a_round_as_another_site() {
    let c = Cluster::start(0.005).await;
    let policy = c.configs[&1].policies.keys().next().unwrap().clone();
    let witness = c.configs[&3].signer();
    let now = now_ms();
    // As us-east-1, under its own node id and under node 1's.
    let as_east = round(&policy, "us-east-1", 3, now);
    assert_eq!(send(&c, 1, &witness, &as_east).await, 403);
    let as_node_1 = round(&policy, "us-east-1", 1, now);
    assert_eq!(send(&c, 2, &witness, &as_node_1).await, 403);
    assert!(!holds(&c, 1, &policy, "us-east-1"));
    assert!(!holds(&c, 2, &policy, "us-east-1"));
    assert_eq!(refused(&c, 1, "wrong_site").await, 1);
    assert_eq!(refused(&c, 2, "wrong_site").await, 1);
    // Its own site's round is taken.
    let own = round(&policy, "us-east-2", 3, now);
    assert_eq!(send(&c, 1, &witness, &own).await, 204);
    assert!(holds(&c, 1, &policy, "us-east-2"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_rounds_and_rounds_of_unknown_policies_or_sites_are_refused() {
    let c = Cluster::start(0.005).await;
    let policy = c.configs[&1].policies.keys().next().unwrap().clone();
    let two = c.configs[&2].signer();
    let now = now_ms();
    let future = round(&policy, "us-west-2", 2, now + 60_000);
    assert_eq!(send(&c, 1, &two, &future).await, 422);
    assert!(!holds(&c, 1, &policy, "us-west-2"));
    assert_eq!(refused(&c, 1, "future").await, 1);
    let unknown_policy = round("no-such-policy", "us-west-2", 2, now);
    assert_eq!(send(&c, 1, &two, &unknown_policy).await, 422);
    assert_eq!(refused(&c, 1, "unknown_policy").await, 1);
    let unknown_site = round(&policy, "eu-west-1", 2, now);
    assert_eq!(send(&c, 1, &two, &unknown_site).await, 422);
    assert_eq!(refused(&c, 1, "unknown_site").await, 1);
    // Within the skew bound, a round slightly ahead is fine.
    let ahead = round(&policy, "us-west-2", 2, now + 2_000);
    assert_eq!(send(&c, 1, &two, &ahead).await, 204);
    assert!(holds(&c, 1, &policy, "us-west-2"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_signed_with_an_unlisted_key_or_stale_are_refused() {
    let c = Cluster::start(0.005).await;
    let policy = c.configs[&1].policies.keys().next().unwrap().clone();
    let impostor = Signer {
        id: 3,
        key: Arc::new(NodeKey::generate().unwrap().0),
        secret: SECRET.into(),
    };
    let own = round(&policy, "us-east-2", 3, now_ms());
    assert_eq!(send(&c, 1, &impostor, &own).await, 401);
    assert!(!holds(&c, 1, &policy, "us-east-2"));
    assert_eq!(refused(&c, 1, "unauthenticated").await, 1);
    // Raft RPC too: the cluster secret alone no longer lets anyone vote.
    let vote = impostor
        .post(&c.http, &c.url(1), "/raft/vote", b"{}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status().as_u16(), 401);
    // A genuine call stamped a minute ago (a replay) is refused.
    let witness = c.configs[&3].signer();
    let body = serde_json::to_vec(&own).unwrap();
    let mut rb = c
        .http
        .post(format!("{}/raft/observe", c.url(1)))
        .header("content-type", "application/json");
    for (k, v) in witness.headers("POST", "/raft/observe", &body, now_ms() - 60_000) {
        rb = rb.header(k, v);
    }
    let r = rb.body(body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let text = r.text().await.unwrap();
    assert!(text.contains("away from this node's clock"), "{text}");
    assert_eq!(refused(&c, 1, "unauthenticated").await, 2);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_while_both_keys_are_listed() {
    let mut c = Cluster::start(0.005).await;
    c.leader().await;
    let old = c.configs[&3].node_key.public_key();
    let new = Arc::new(NodeKey::generate().unwrap().0);
    // First every node lists the witness's next key beside its current one,
    for n in [1, 2, 3] {
        c.kill(n).await;
        let cfg = c.configs.get_mut(&n).unwrap();
        cfg.member_keys.insert(3, vec![old, new.public_key()]);
        c.restart(n).await;
        c.leader().await;
    }
    // then the witness signs with the next key.
    c.kill(3).await;
    c.configs.get_mut(&3).unwrap().node_key = new.clone();
    c.restart(3).await;
    let leader = c.leader().await;
    let (status, b) = c
        .post(leader, "/v1/maintenance", serde_json::json!({"on": true}))
        .await;
    assert_eq!(status, 200, "{b}");
    // The witness, on its new key, keeps up with the log,
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let applied = |n: u64| c.node(n).ctx.raft.metrics().borrow().last_applied;
        if applied(3) == applied(leader) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the witness fell behind"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // and its rounds are taken.
    let policy = c.configs[&1].policies.keys().next().unwrap().clone();
    let own = round(&policy, "us-east-2", 3, now_ms());
    assert_eq!(send(&c, 1, &c.configs[&3].signer(), &own).await, 204);
    c.stop().await;
}
