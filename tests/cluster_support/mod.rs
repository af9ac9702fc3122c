//! A three-node controller cluster in one test process, on 127.0.0.1, over
//! one shared simulated cloud: nodes can be killed, restarted from their
//! disk, and cut off from each other.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use drctl::api::views::ExecutionView;
use drctl::cloud::sim::{LatencyModel, SimCloud, SimOptions};
use drctl::consensus::auth::{NodeKey, PublicKey, CLOCK_SKEW_DEFAULT};
use drctl::consensus::network::Links;
use drctl::consensus::{ClusterState, Member};
use drctl::controller::{self, CloudConfig, NodeConfig, NodeHandle};
use drctl::execute::ExecutionStatus;
use drctl::policy::{self, Policy};
use openraft::ServerState;

pub const TOKEN: &str = "test-token-0123456789";
pub const SECRET: &str = "test-secret-0123456789";

/// Cluster tests share two cores: one cluster at a time keeps raft's timers honest.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shipped policy with a short poll interval, so steps notice their
/// postcondition within 100 ms on the scaled simulated cloud.
pub fn test_policy() -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(policy::DEFAULT_POLICY);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("poll_interval: 1s", "poll_interval: 100ms");
    let mut p = policy::parse(&path, &text).unwrap();
    // The shipped heartbeats name production databases.
    p.detection.heartbeats = Default::default();
    // Fencing has tests of its own (`fencing_policy`).
    p.fencing = None;
    Arc::new(p)
}

/// The test policy with the shipped fencing section.
pub fn fencing_policy() -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(policy::DEFAULT_POLICY);
    let shipped = policy::load(&path).unwrap();
    let mut p = (*test_policy()).clone();
    p.fencing = shipped.fencing;
    Arc::new(p)
}

/// The simulated platform of `policy`, `scale` times as fast as AWS.
pub fn sim_cloud(policy: &Policy, scale: f64) -> SimCloud {
    SimCloud::new(
        policy,
        SimOptions {
            seed: 7,
            latency: LatencyModel::default().scaled(scale),
            ..SimOptions::default()
        },
    )
    .unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Three node configurations on free ports, with their stores in `dir`.
fn node_configs(policy: &Arc<Policy>, dir: &Path) -> BTreeMap<u64, NodeConfig> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let sites = ["us-east-1", "us-west-2", "us-east-2"];
    let members: BTreeMap<u64, Member> = (1..=3u64)
        .map(|i| {
            (
                i,
                Member {
                    site: sites[i as usize - 1].into(),
                    addr: format!("http://127.0.0.1:{}", ports[i as usize - 1]),
                    witness: i == 3,
                },
            )
        })
        .collect();
    let keys: BTreeMap<u64, Arc<NodeKey>> = (1..=3u64)
        .map(|i| (i, Arc::new(NodeKey::generate().unwrap().0)))
        .collect();
    let member_keys: BTreeMap<u64, Vec<PublicKey>> = keys
        .iter()
        .map(|(i, k)| (*i, vec![k.public_key()]))
        .collect();
    (1..=3u64)
        .map(|i| {
            let cfg = NodeConfig {
                source: "test".into(),
                id: i,
                listen: format!("127.0.0.1:{}", ports[i as usize - 1])
                    .parse()
                    .unwrap(),
                data_dir: dir.join(format!("node-{i}")),
                members: members.clone(),
                policies: BTreeMap::from([(policy.name.clone(), policy.clone())]),
                cloud: CloudConfig::Aws,
                secret: SECRET.into(),
                accepted_secrets: vec![SECRET.into()],
                node_key: keys[&i].clone(),
                member_keys: member_keys.clone(),
                max_clock_skew: CLOCK_SKEW_DEFAULT,
                token: TOKEN.into(),
                heartbeat: Duration::from_millis(100),
                election_timeout: [Duration::from_millis(600), Duration::from_millis(1200)],
                rpc_timeout: Duration::from_millis(300),
                allow_other_credentials: false,
                notifications: Default::default(),
            };
            (i, cfg)
        })
        .collect()
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub cloud: Arc<SimCloud>,
    pub links: Links,
    pub nodes: BTreeMap<u64, Option<NodeHandle>>,
    pub configs: BTreeMap<u64, NodeConfig>,
    pub http: reqwest::Client,
    _serial: MutexGuard<'static, ()>,
}

impl Cluster {
    /// Starts nodes 1 (us-east-1), 2 (us-west-2) and 3 (witness, us-east-2).
    /// `scale` speeds the simulated cloud up (0.01: promotion takes 2–3 s).
    pub async fn start(scale: f64) -> Self {
        let policy = test_policy();
        let cloud = sim_cloud(&policy, scale);
        Self::start_with(policy, cloud).await
    }

    /// Starts the three nodes with `policy` over `cloud`.
    pub async fn start_with(policy: Arc<Policy>, cloud: SimCloud) -> Self {
        Self::start_configured(policy, cloud, |_| {}).await
    }

    /// Starts the three nodes with `policy` over `cloud`, each node's
    /// configuration changed by `edit` first.
    pub async fn start_configured(
        policy: Arc<Policy>,
        cloud: SimCloud,
        edit: impl Fn(&mut NodeConfig),
    ) -> Self {
        let serial = serial();
        let cloud = Arc::new(cloud);
        let mut serial = Some(serial);
        for attempt in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let mut configs = node_configs(&policy, dir.path());
            configs.values_mut().for_each(&edit);
            let mut c = Self {
                dir,
                cloud: cloud.clone(),
                links: Links::default(),
                nodes: BTreeMap::new(),
                configs,
                http: reqwest::Client::new(),
                _serial: serial.take().expect("held until a cluster starts"),
            };
            let mut started = true;
            for i in 1..=3 {
                if let Err(e) = c.try_restart(i).await {
                    // A port found free was taken meanwhile (an outgoing
                    // connection's ephemeral port): start over on others.
                    assert!(e.contains("listen on") && attempt < 3, "node {i}: {e}");
                    started = false;
                    break;
                }
            }
            if started {
                return c;
            }
            for i in 1..=3 {
                c.kill(i).await;
            }
            serial = Some(c._serial);
        }
        unreachable!("the loop returns or panics")
    }

    /// Starts (or restarts, from its disk) node `id`.
    pub async fn restart(&mut self, id: u64) {
        if let Err(e) = self.try_restart(id).await {
            panic!("node {id}: {e}");
        }
    }

    async fn try_restart(&mut self, id: u64) -> Result<(), String> {
        let cfg = self.configs[&id].clone();
        let cloud = Some(self.cloud.clone());
        // A node killed in this process may take a moment to release its
        // store's file lock (its replication tasks end on their own).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let node = loop {
            match controller::start(cfg.clone(), cloud.clone(), self.links.clone()).await {
                Ok(n) => break n,
                Err(e) if e.to_string().contains("already open") => {
                    assert!(tokio::time::Instant::now() < deadline, "{e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        self.nodes.insert(id, Some(node));
        Ok(())
    }

    /// Kills node `id` as a crash would.
    pub async fn kill(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(&id).and_then(Option::take) {
            n.kill().await;
        }
    }

    /// Makes executing node `id` the leader, as a user would see it happen:
    /// the other executing node crashes, `id` wins with the witness's vote,
    /// and the crashed node comes back as a follower that has caught up.
    pub async fn make_leader(&mut self, id: u64) {
        let other = self.other_executor(id);
        if self.leader().await != id {
            self.kill(other).await;
            let l = self.leader_among(&[id, 3], Duration::from_secs(15)).await;
            assert_eq!(l, id);
            self.restart(other).await;
        }
        let l = self.leader_among(&[1, 2, 3], Duration::from_secs(15)).await;
        assert_eq!(l, id);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let last = |n: u64| self.node(n).ctx.raft.metrics().borrow().last_applied;
            if last(other) == last(id) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {other} never caught up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The executing site that is not `id`.
    pub fn other_executor(&self, id: u64) -> u64 {
        if id == 1 {
            2
        } else {
            1
        }
    }

    pub fn node(&self, id: u64) -> &NodeHandle {
        self.nodes[&id].as_ref().expect("node is running")
    }

    pub fn url(&self, id: u64) -> String {
        self.configs[&id].me().addr.clone()
    }

    /// Cuts node `id` off from every other node.
    pub fn isolate(&self, id: u64) {
        let others: Vec<u64> = (1..=3).filter(|o| *o != id).collect();
        self.links.isolate(id, &others);
    }

    /// The executing leader among running nodes, once one leads and, of
    /// `among`, all agree.
    pub async fn leader_among(&self, among: &[u64], within: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let views: Vec<_> = among
                .iter()
                .map(|i| self.node(*i).ctx.raft.metrics().borrow().clone())
                .collect();
            // Only an executing site's leadership counts: a witness that wins
            // an election hands leadership on at once.
            let executing = |id: u64| !self.configs[&id].members[&id].witness;
            if let Some(l) = views.iter().find(|m| m.state == ServerState::Leader) {
                if executing(l.id) && views.iter().all(|m| m.current_leader == Some(l.id)) {
                    return l.id;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no agreed leader among {among:?} within {within:?}: {:?}",
                views
                    .iter()
                    .map(|m| (
                        m.id,
                        m.state,
                        m.current_term,
                        m.current_leader,
                        m.last_log_index,
                        m.vote
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn leader(&self) -> u64 {
        let live: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.is_some())
            .map(|(i, _)| *i)
            .collect();
        self.leader_among(&live, Duration::from_secs(15)).await
    }

    /// The replicated state as node `id` has applied it, now.
    pub fn state(&self, id: u64) -> ClusterState {
        self.node(id).ctx.applied.read().unwrap().state.clone()
    }

    /// GETs `path` from node `id` as text (metrics, the OpenAPI document).
    pub async fn text(&self, id: u64, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.url(id)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// POSTs a JSON body with the test token to node `id`.
    pub async fn post(
        &self,
        id: u64,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url(id)))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Lifts node `id`'s self-fence (confirmed); returns what it gave back.
    pub async fn unfence(&self, id: u64) -> String {
        let body = serde_json::json!({"confirm": true, "reason": "test"});
        let (code, body) = self.post(id, "/v1/unfence", body).await;
        assert_eq!(code, 200, "{body}");
        assert_matches_openapi("post", "/v1/unfence", code, &body);
        body["unfenced"].to_string()
    }

    pub async fn get(&self, id: u64, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url(id)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `GET /readyz` on node `id`, asked again every 50 ms for up to 5 s
    /// until it answers 200: a follower that already follows the leader
    /// applies the cluster's membership one heartbeat later, and answers 503
    /// "not a member of a cluster yet" until then. The last answer.
    pub async fn ready(&self, id: u64) -> (u16, serde_json::Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let answer = self.get(id, "/readyz").await;
            if answer.0 == 200 || tokio::time::Instant::now() >= deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a confirmed failover through node `id`; returns the execution id.
    pub async fn failover(&self, id: u64) -> String {
        let (status, body) = self
            .post(
                id,
                "/v1/failover",
                serde_json::json!({"confirm": true, "reason": "test"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["execution_id"].as_str().unwrap().to_string()
    }

    /// The execution as node `id` holds it.
    pub fn execution(&self, id: u64, exec: &str) -> Option<ExecutionView> {
        let a = self.node(id).ctx.applied.read().unwrap();
        a.state.executions.get(exec).map(ExecutionView::of)
    }

    /// Waits until node `id` holds `exec` satisfying `pred`.
    pub async fn wait_for(
        &self,
        id: u64,
        exec: &str,
        within: Duration,
        pred: impl Fn(&ExecutionView) -> bool,
    ) -> ExecutionView {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(v) = self.execution(id, exec) {
                if pred(&v) {
                    return v;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {id}: execution {exec} not as expected within {within:?}: {:#?}",
                self.execution(id, exec).map(|v| (
                    v.summary,
                    v.steps
                        .iter()
                        .map(|s| (s.id.clone(), s.status))
                        .collect::<Vec<_>>()
                ))
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_finished(&self, id: u64, exec: &str) -> ExecutionView {
        self.wait_for(id, exec, Duration::from_secs(60), |v| {
            v.summary.status != ExecutionStatus::Running
        })
        .await
    }

    pub fn mutations(&self, op: &str) -> u32 {
        self.cloud.mutations().get(op).copied().unwrap_or(0)
    }

    /// Every mutating operation acted exactly once (one failover of the shipped policy).
    pub fn assert_each_acted_once(&self) {
        let m = self.cloud.mutations();
        assert_eq!(self.mutations("rds:PromoteReadReplica"), 1, "{m:?}");
        assert_eq!(self.mutations("eks:UpdateNodegroupConfig"), 3, "{m:?}");
        assert_eq!(
            self.mutations("elasticache:FailoverGlobalReplicationGroup"),
            1,
            "{m:?}"
        );
        // switch-stream and flip-dns: one routing-control update each.
        assert_eq!(
            self.mutations("route53-recovery-cluster:UpdateRoutingControlStates"),
            2,
            "{m:?}"
        );
        assert_eq!(
            self.mutations("route53:ChangeResourceRecordSets"),
            0,
            "{m:?}"
        );
    }

    pub async fn stop(mut self) {
        for i in 1..=3 {
            self.kill(i).await;
        }
    }
}

/// Checks `body`, answered with `status` by `method path` (the path as the
/// OpenAPI description writes it, like `/v1/executions/{id}`), against the
/// schema docs/openapi.yaml gives for it.
pub fn assert_matches_openapi(method: &str, path: &str, status: u16, body: &serde_json::Value) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut response = doc["paths"][path][method]["responses"][status.to_string()].clone();
    assert!(
        response.is_object(),
        "docs/openapi.yaml has no {status} for {method} {path}"
    );
    if let Some(r) = response["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        response = doc["components"]["responses"][name].clone();
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "no JSON schema for {status} of {method} {path}"
    );
    let mut components = doc["components"].clone();
    openapi_nullable(&mut components);
    let mut schema = schema;
    openapi_nullable(&mut schema);
    let root = serde_json::json!({
        "components": components,
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match docs/openapi.yaml:\n{}\n{body:#}",
        errors.join("\n")
    );
}

/// OpenAPI 3.0's `nullable: true` in JSON Schema terms: null is allowed.
pub fn openapi_nullable(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if map.get("nullable") == Some(&serde_json::Value::Bool(true)) {
                map.remove("nullable");
                if let Some(t) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(serde_json::Value::Array(e)) = map.get_mut("enum") {
                    if !e.contains(&serde_json::Value::Null) {
                        e.push(serde_json::Value::Null);
                    }
                }
            }
            map.values_mut().for_each(openapi_nullable);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(openapi_nullable),
        _ => {}
    }
}
