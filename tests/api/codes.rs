//! The status HTTP API on a three-node cluster: every status code, the
//! token checks, forwarding from followers, health, readiness, metrics.

use std::time::Duration;

use crate::cluster_support::{assert_matches_openapi as spec, Cluster, TOKEN};
use drctl::execute::ExecutionStatus;
use drctl::model::DataTier;
use drctl::model::Exposure;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_requests_are_authenticated_validated_and_gated() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let follower = c.other_executor(leader);
    let url = format!("{}/v1/failover", c.url(follower));
    let body = json!({"confirm": true});

    // No token: 401 with a challenge; a wrong one: 403. Nothing recorded.
    let r = c.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = c
        .http
        .post(&url)
        .bearer_auth("wrong-token-but-long")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .http
        .post(&url)
        .header("authorization", TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a token without the Bearer scheme is not accepted"
    );

    // Malformed requests: 400 naming the field; an unknown policy: 404.
    let r = c
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (code, b) = c
        .post(follower, "/v1/failover", json!({"confirm": false}))
        .await;
    assert_eq!(code, 400);
    spec("post", "/v1/failover", 400, &b);
    assert!(b["error"].as_str().unwrap().starts_with("confirm"), "{b}");
    let (code, b) = c
        .post(
            follower,
            "/v1/failover",
            json!({"confirm": true, "accept_data_loss": "soon"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        b["error"].as_str().unwrap().starts_with("accept_data_loss"),
        "{b}"
    );
    let (code, b) = c
        .post(
            follower,
            "/v1/failover",
            json!({"confirm": true, "bogus": 1}),
        )
        .await;
    assert_eq!(code, 400, "{b}");
    let (code, b) = c
        .post(
            follower,
            "/v1/failover",
            json!({"confirm": true, "policy": "nope"}),
        )
        .await;
    assert_eq!(code, 404);
    spec("post", "/v1/failover", 404, &b);
    assert!(c.state(leader).executions.is_empty());

    // Exposure above the RPO: 412, recorded as refused, nothing changed.
    c.cloud.set_lag(
        DataTier::Database,
        Exposure::Known(Duration::from_secs(40 * 60)),
    );
    let (code, b) = c
        .post(follower, "/v1/failover", json!({"confirm": true}))
        .await;
    assert_eq!(code, 412, "{b}");
    spec("post", "/v1/failover", 412, &b);
    assert!(b["rpo"]["tiers"].is_array(), "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .starts_with("RPO gate refused, nothing changed: the database tier's"),
        "{b}"
    );
    let refused = b["execution_id"].as_str().unwrap().to_string();
    let v = c
        .wait_for(leader, &refused, Duration::from_secs(5), |_| true)
        .await;
    assert_eq!(v.summary.status, ExecutionStatus::Refused);
    let summary = v.summary.summary.clone().unwrap_or_default();
    assert!(!summary.contains("refused:"), "{summary}");
    assert!(c.cloud.mutations().is_empty());

    // Accepting the loss, through a follower: forwarded, 202, run by the leader.
    let (code, b) = c
        .post(follower, "/v1/failover", json!({"confirm": true, "accept_data_loss": "45m", "reason": "region down", "operator": "alice"}))
        .await;
    assert_eq!(code, 202, "{b}");
    spec("post", "/v1/failover", 202, &b);
    // Executed from the region being activated: us-west-2's node leads
    // now, whichever node led before.
    assert_eq!(b["leader"], 2);
    let id = b["execution_id"].as_str().unwrap().to_string();

    // A second request while it runs: 409 naming the running execution.
    let (code, b) = c
        .post(leader, "/v1/failover", json!({"confirm": true}))
        .await;
    assert_eq!(code, 409, "{b}");
    spec("post", "/v1/failover", 409, &b);
    assert_eq!(b["execution_id"], id.as_str());

    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed);
    assert_eq!(done.overrides.len(), 1);
    assert_eq!(done.overrides[0].by, "alice");
    assert_eq!(done.overrides[0].reason.as_deref(), Some("region down"));
    c.assert_each_acted_once();

    // Once failed over, a new request changes nothing: 200 already_complete.
    let (code, b) = c.post(3, "/v1/failover", json!({"confirm": true})).await;
    assert_eq!(code, 200, "{b}");
    spec("post", "/v1/failover", 200, &b);
    assert_eq!(b["status"], "already_complete");
    c.assert_each_acted_once();

    // The journal through the API, newest first; unknown ids are 404.
    let (code, list) = c.get(3, "/v1/executions").await;
    assert_eq!(code, 200);
    spec("get", "/v1/executions", 200, &list);
    let ids: Vec<&str> = list["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{list}");
    assert!(ids.contains(&id.as_str()) && ids.contains(&refused.as_str()));
    let (code, one) = c.get(3, &format!("/v1/executions/{id}")).await;
    assert_eq!(code, 200);
    spec("get", "/v1/executions/{id}", 200, &one);
    assert_eq!(one["steps"].as_array().unwrap().len(), done.steps.len());
    assert!(one["steps"][2]["epoch"]["term"].is_u64(), "{one}");
    let (code, b) = c.get(3, "/v1/executions/nope").await;
    assert_eq!(code, 404);
    spec("get", "/v1/executions/{id}", 404, &b);
    assert!(b["error"].is_string());

    // The replicated summaries, on any node without a token, oldest first.
    let (code, h) = c.get(3, "/v1/history?policy=emr-platform").await;
    assert_eq!(code, 200, "{h}");
    spec("get", "/v1/history", 200, &h);
    let runs: Vec<&str> = h["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(h["kept"], runs.len());
    let (at_refused, at_done) = (
        runs.iter().position(|r| *r == refused).unwrap(),
        runs.iter().position(|r| *r == id).unwrap(),
    );
    assert!(at_refused < at_done, "{runs:?}");
    let promote = h["runs"][at_done]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "promote-database")
        .unwrap()
        .clone();
    assert!(promote["waiting_ms"].as_u64().unwrap() > 0, "{promote}");
    let (code, last) = c.get(1, "/v1/history?limit=1").await;
    assert_eq!(code, 200, "{last}");
    assert_eq!(last["runs"].as_array().unwrap().len(), 1);
    assert_eq!(last["runs"][0]["id"], *runs.last().unwrap());
    let (code, b) = c.get(2, "/v1/history?limit=0").await;
    assert_eq!(code, 400, "{b}");
    spec("get", "/v1/history", 400, &b);
    assert!(b["error"].as_str().unwrap().starts_with("limit:"), "{b}");
    let (code, b) = c.get(2, "/v1/history?policy=nope").await;
    assert_eq!(code, 404, "{b}");
    spec("get", "/v1/history", 404, &b);
    c.stop().await;
}

#[test]
fn every_route_is_described_in_the_openapi_file_and_only_those() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let code = std::fs::read_to_string(root.join("src/api/mod.rs")).unwrap();
    let mut routes: Vec<&str> = code
        .split(".route(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
        .filter(|r| !r.starts_with("/raft"))
        .collect();
    routes.sort();
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("docs/openapi.yaml")).unwrap())
            .unwrap();
    let mut described: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    described.sort();
    assert_eq!(
        routes, described,
        "src/api/mod.rs routes vs docs/openapi.yaml paths"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_health_metrics_and_maintenance() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    for n in 1..=3 {
        assert_eq!(c.get(n, "/healthz").await.0, 200);
        let (code, b) = c.ready(n).await;
        assert_eq!(code, 200, "{b}");
        spec("get", "/readyz", 200, &b);
        assert_eq!(b["leader"], leader);
    }
    let (code, s) = c.get(3, "/v1/status").await;
    assert_eq!(code, 200);
    spec("get", "/v1/status", 200, &s);
    assert_eq!(s["node"]["id"], 3);
    assert_eq!(s["node"]["witness"], true);
    assert_eq!(s["leader"]["id"], leader);
    assert_eq!(s["members"].as_array().unwrap().len(), 3);
    assert!(
        s["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["healthy"] == true),
        "{s}"
    );
    assert_eq!(s["policies"][0]["active_region"], "us-east-1");

    // Maintenance through the witness: forwarded to the leader, replicated everywhere.
    let r = c
        .http
        .post(format!("{}/v1/maintenance", c.url(3)))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (code, b) = c
        .post(
            3,
            "/v1/maintenance",
            json!({"on": true, "reason": "patching", "operator": "bob"}),
        )
        .await;
    assert_eq!(code, 200, "{b}");
    spec("post", "/v1/maintenance", 200, &b);
    assert_eq!(b["maintenance"]["on"], true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(1..=3).all(|n| c.state(n).maintenance.on) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "maintenance not replicated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit = c.state(1).audit;
    assert!(
        audit
            .iter()
            .any(|e| e.who == "bob" && e.what == "maintenance on: patching"),
        "{audit:?}"
    );

    let m = c.text(leader, "/metrics").await;
    for line in [
        "drctl_raft_term ",
        "drctl_raft_is_leader 1",
        "drctl_maintenance 1",
        "drctl_active_region{",
    ] {
        assert!(m.contains(line), "{line} missing from:\n{m}");
    }
    let spec = c.text(2, "/v1/openapi.yaml").await;
    assert!(spec.contains("/v1/failover"));

    // Raft RPC without the cluster secret is refused.
    let r = c
        .http
        .post(format!("{}/raft/vote", c.url(2)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dr_resource_is_a_422_and_nothing_changes() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    c.cloud
        .remove("eks:us-west-2/emr-integration-dr/app-nodes")
        .unwrap();
    let (code, b) = c
        .post(leader, "/v1/failover", json!({"confirm": true}))
        .await;
    assert_eq!(code, 422, "{b}");
    spec("post", "/v1/failover", 422, &b);
    assert!(
        b["problems"][0].as_str().unwrap().contains("app-nodes"),
        "{b}"
    );
    let v = c
        .wait_for(
            leader,
            b["execution_id"].as_str().unwrap(),
            Duration::from_secs(5),
            |_| true,
        )
        .await;
    assert_eq!(v.summary.status, ExecutionStatus::PreflightFailed);
    assert!(c.cloud.mutations().is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_round_quoting_a_connection_string_is_never_served_with_its_secret() {
    use drctl::detect::{Observation, ProbeResult, TierReading};
    let c = Cluster::start(0.005).await;
    let policy = crate::cluster_support::test_policy();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // As a site running an older version, or a client library quoting its
    // connection string, might report it.
    let round = Observation {
        policy: policy.name.clone(),
        site: "us-west-2".into(),
        node: 2,
        round: 1,
        at_ms: now_ms,
        probes: vec![ProbeResult {
            target: "http https://probe:hunter2@lb.example.com/health".into(),
            ok: false,
            inconclusive: false,
            latency_ms: 3,
            detail: Some("connect postgresql://drctl:hunter2@db/app: refused".into()),
        }],
        tiers: vec![TierReading {
            tier: DataTier::Cache,
            exposure: Exposure::Unknown,
            source: "heartbeat".into(),
            detail: Some("replica redis://:hunter2@cache:6379 password=hunter2".into()),
            source_reachable: None,
        }],
    };
    // Node 2 (us-west-2) sends its own round, signed with its key.
    let r = c.configs[&2]
        .signer()
        .post(
            &c.http,
            &c.url(1),
            "/raft/observe",
            serde_json::to_vec(&round).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (code, s) = c.get(1, "/v1/status").await;
    assert_eq!(code, 200);
    let text = s.to_string();
    assert!(text.contains("probe:***@lb.example.com"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let metrics = c.text(1, "/metrics").await;
    assert!(!metrics.contains("hunter2"), "{metrics}");
    c.stop().await;
}

/// How many executions node `id` holds.
fn executions_held(c: &Cluster, id: u64) -> usize {
    c.node(id)
        .ctx
        .applied
        .read()
        .unwrap()
        .state
        .executions
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprotect_and_failback_follow_the_replicated_roles() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let follower = c.other_executor(leader);

    // Before any failover neither applies: 409 naming the state, nothing recorded.
    for (path, word) in [
        ("/v1/reprotect", "reprotect applies after a failover"),
        ("/v1/failback", "failback applies after a reprotect"),
    ] {
        let (code, b) = c.post(follower, path, json!({"confirm": true})).await;
        assert_eq!(code, 409, "{path}: {b}");
        spec("post", path, 409, &b);
        let e = b["error"].as_str().unwrap();
        assert!(
            e.contains(word) && e.contains("us-east-1, protected"),
            "{e}"
        );
        assert!(b.get("execution_id").is_none(), "{b}");
    }
    assert_eq!(executions_held(&c, leader), 0);
    // Input rules as for failover: the field is named.
    let (code, b) = c
        .post(
            follower,
            "/v1/failback",
            json!({"divergence_reviewed": "not an id!"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .starts_with("divergence_reviewed"),
        "{b}"
    );
    let (code, b) = c
        .post(follower, "/v1/reprotect", json!({"accept_data_loss": "1m"}))
        .await;
    assert_eq!(code, 400, "a reprotect accepts no data loss: {b}");

    // After a failover the platform is unprotected: a failback is refused.
    let id = c.failover(follower).await;
    let done = c.wait_finished(leader, &id).await;
    assert_eq!(done.summary.status, ExecutionStatus::Completed);
    // Every node applies the execution's end in turn: ask each until it has.
    let leader = c.leader().await;
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = c.get(leader, "/v1/status").await.1;
        if status["policies"][0]["execution"]["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spec("get", "/v1/status", 200, &status);
    let p = &status["policies"][0];
    assert_eq!(
        (
            p["active_region"].as_str(),
            p["protection"].as_str(),
            p["orientation"].as_str()
        ),
        (Some("us-west-2"), Some("unprotected"), Some("as_written")),
        "{p}"
    );
    let (code, b) = c
        .post(follower, "/v1/failback", json!({"confirm": true}))
        .await;
    assert_eq!(code, 409, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .contains("us-west-2, unprotected"),
        "{b}"
    );
    c.stop().await;
}
