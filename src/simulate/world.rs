//! The simulated world of one seed: three controller nodes (us-east-1,
//! us-west-2, and the witness in us-east-2) on the in-memory network, each
//! with its own store and its own view of one simulated cloud.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cloud::sim::SimCloud;
use crate::consensus::auth::{NodeKey, PublicKey, CLOCK_SKEW_DEFAULT};
use crate::consensus::mem_transport::MemNet;
use crate::consensus::network::Links;
use crate::consensus::store::Applied;
use crate::consensus::Member;
use crate::controller::{self, CloudConfig, NodeConfig, NodeHandle, Wiring};
use crate::policy::Policy;

/// The API token of the simulated cluster.
pub const TOKEN: &str = "simulation-token-0123456789";
const SECRET: &str = "simulation-secret-0123456789";

/// The three nodes and what they share.
pub struct World {
    /// The simulated cloud (every node calls it from its own site).
    pub cloud: SimCloud,
    /// The network between the nodes.
    pub net: MemNet,
    /// Cut links.
    pub links: Links,
    /// Each node's configuration.
    pub configs: BTreeMap<u64, NodeConfig>,
    /// The running nodes (`None`: crashed).
    pub nodes: BTreeMap<u64, Option<NodeHandle>>,
    /// Each node's replicated state, kept across its restarts.
    pub applied: BTreeMap<u64, Arc<std::sync::RwLock<Applied>>>,
    /// Each node's clock offset in milliseconds (node 1 first).
    pub skew_ms: [i64; 3],
    /// Nodes stopping gracefully, until they have stopped.
    pub stopping: BTreeMap<u64, tokio::task::JoinHandle<controller::Stopped>>,
}

/// The node configurations: stores under `dir`, election timeouts as drawn.
pub fn configs(
    policy: &Arc<Policy>,
    dir: &Path,
    election_ms: [u64; 3],
) -> BTreeMap<u64, NodeConfig> {
    let sites = [
        policy.regions.primary.clone(),
        policy.regions.secondary.clone(),
        policy.regions.witness.clone(),
    ];
    let members: BTreeMap<u64, Member> = (1..=3u64)
        .map(|i| {
            let m = Member {
                site: sites[i as usize - 1].clone(),
                addr: format!("http://node-{i}.sim"),
                witness: i == 3,
            };
            (i, m)
        })
        .collect();
    let keys: BTreeMap<u64, Arc<NodeKey>> = (1..=3u64)
        .map(|i| {
            let (key, _) = NodeKey::generate().expect("the system has randomness");
            (i, Arc::new(key))
        })
        .collect();
    let member_keys: BTreeMap<u64, Vec<PublicKey>> = keys
        .iter()
        .map(|(i, k)| (*i, vec![k.public_key()]))
        .collect();
    (1..=3u64)
        .map(|i| {
            let e = Duration::from_millis(election_ms[i as usize - 1]);
            let cfg = NodeConfig {
                source: "simulation".into(),
                id: i,
                listen: ([127, 0, 0, 1], 7100 + i as u16).into(),
                data_dir: dir.join(format!("node-{i}")),
                members: members.clone(),
                policies: BTreeMap::from([(policy.name.clone(), policy.clone())]),
                cloud: CloudConfig::Sim(Default::default()),
                secret: SECRET.into(),
                accepted_secrets: vec![SECRET.into()],
                node_key: keys[&i].clone(),
                member_keys: member_keys.clone(),
                max_clock_skew: CLOCK_SKEW_DEFAULT,
                token: TOKEN.into(),
                heartbeat: Duration::from_millis(500),
                // A fixed draw per node: openraft draws within the range
                // from its own generator, so the range is one millisecond.
                election_timeout: [e, e + Duration::from_millis(1)],
                rpc_timeout: Duration::from_millis(1000),
                allow_other_credentials: false,
                notifications: Default::default(),
            };
            (i, cfg)
        })
        .collect()
}

impl World {
    /// A world of `configs` on `cloud` with no node started yet; the
    /// network's faults are drawn from `seed`, each node's clock is off by
    /// `skew_ms`.
    pub fn new(
        cloud: SimCloud,
        configs: BTreeMap<u64, NodeConfig>,
        seed: u64,
        skew_ms: [i64; 3],
    ) -> Self {
        Self {
            cloud,
            net: MemNet::new(
                seed ^ 0x005E_ED0F_D2C7,
                crate::consensus::mem_transport::NetFaults::default(),
            ),
            links: Links::default(),
            configs,
            nodes: BTreeMap::new(),
            applied: BTreeMap::new(),
            skew_ms,
            stopping: BTreeMap::new(),
        }
    }

    /// Starts (or restarts from its store) node `id`.
    ///
    /// # Errors
    ///
    /// The node cannot start (other than its store still being released).
    pub async fn start(&mut self, id: u64) -> Result<(), String> {
        self.stopped(id).await;
        let cfg = self.configs[&id].clone();
        let cloud = Arc::new(self.cloud.as_site(&cfg.me().site));
        // A crashed node's tasks may hold its store a moment longer.
        for _ in 0..100 {
            let wiring = Wiring::Mem(self.net.clone());
            let started = controller::start_wired(
                cfg.clone(),
                Some(cloud.clone()),
                self.links.clone(),
                wiring,
            );
            // The node's tasks inherit its clock from the start.
            let skew = self.skew_ms[id as usize - 1];
            match crate::clock::skewed(skew, started).await {
                Ok(n) => {
                    self.applied.insert(id, n.ctx.applied.clone());
                    self.nodes.insert(id, Some(n));
                    return Ok(());
                }
                Err(e) if e.to_string().contains("already open") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("node {id}: {e}")),
            }
        }
        Err(format!("node {id}: its store stayed open after it crashed"))
    }

    /// Stops node `id` gracefully in the background (nothing happens when
    /// it is down already): its executions get `drain` to end.
    pub fn stop_gracefully(&mut self, id: u64, drain: Duration) {
        if let Some(n) = self.nodes.get_mut(&id).and_then(Option::take) {
            let skew = self.skew_ms[id as usize - 1];
            let stopping = crate::clock::skewed(skew, n.shutdown(drain));
            self.stopping.insert(id, tokio::spawn(stopping));
        }
    }

    /// Waits until node `id` has stopped, if it was stopping gracefully.
    async fn stopped(&mut self, id: u64) {
        if let Some(s) = self.stopping.remove(&id) {
            let _ = s.await;
        }
    }

    /// Crashes node `id` (nothing happens when it is down already).
    pub async fn crash(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(&id).and_then(Option::take) {
            n.kill().await;
        }
    }

    /// Whether node `id` runs.
    pub fn up(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(Option::is_some)
    }

    /// The running node that leads in the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.leading().map(|(_, id)| id)
    }

    /// The region of node `n`'s site.
    pub fn site_region(&self, n: u64) -> String {
        self.configs
            .get(&n)
            .map(|c| c.me().site.clone())
            .unwrap_or_default()
    }

    /// The highest term a running node leads in, if any.
    pub fn leader_term(&self) -> Option<u64> {
        self.leading().map(|(term, _)| term)
    }

    /// The highest term a running node leads in, and that node.
    fn leading(&self) -> Option<(u64, u64)> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| {
                let metrics = n.as_ref()?.ctx.raft.metrics();
                let m = metrics.borrow();
                (m.state == openraft::ServerState::Leader).then_some((m.current_term, *id))
            })
            .max()
    }

    /// A running node, if any, preferring `id`.
    pub fn any_node(&self, id: u64) -> Option<&NodeHandle> {
        self.nodes
            .get(&id)
            .and_then(Option::as_ref)
            .or_else(|| self.nodes.values().flatten().next())
    }

    /// Stops every node.
    pub async fn stop(&mut self) {
        for id in 1..=3 {
            self.stopped(id).await;
            self.crash(id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::SimOptions;

    /// Runs `test` on three nodes on virtual time (every election timeout
    /// 1.5 s) once the cluster has settled, with the executing node that
    /// leads; stops every node of the world it gives back.
    fn on_a_settled_world<F>(test: impl FnOnce(World, u64) -> F)
    where
        F: std::future::Future<Output = World>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(async {
            let _clock = crate::clock::use_virtual(std::time::UNIX_EPOCH);
            let dir = tempfile::tempdir().expect("temp dir");
            let (w, leader) = settled_world(dir.path()).await;
            test(w, leader).await.stop().await;
        });
    }

    /// The world and the executing node that leads once it has settled.
    async fn settled_world(dir: &Path) -> (World, u64) {
        let policy = Arc::new(crate::simulate::run::policy());
        let cloud = SimCloud::new(&policy, SimOptions::default()).expect("the policy simulates");
        let configs = configs(&policy, dir, [1500; 3]);
        let mut w = World::new(cloud, configs, 7, [0; 3]);
        for id in 1..=3 {
            w.start(id).await.expect("starts");
        }
        for _ in 0..300 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(leader @ (1 | 2)) = w.leader() {
                // Let every member catch up before anything stops.
                tokio::time::sleep(Duration::from_secs(5)).await;
                if w.leader() == Some(leader) {
                    return (w, leader);
                }
            }
        }
        panic!("no executing node led within 30 s");
    }

    /// Takes node `id` out of the world, running.
    fn take(w: &mut World, id: u64) -> NodeHandle {
        w.nodes.get_mut(&id).and_then(Option::take).expect("runs")
    }

    #[test]
    fn a_leader_stopping_gracefully_hands_leadership_on_sooner_than_an_election_would() {
        on_a_settled_world(|mut w, leader| async move {
            let other = 3 - leader;
            let node = take(&mut w, leader);
            let began = tokio::time::Instant::now();
            let stopped = node.shutdown(Duration::from_secs(5)).await;
            while w.leader() != Some(other) && began.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // After a crash the others wait out their lease on the leader
            // and an election timeout: 3 s here at the least.
            assert!(
                began.elapsed() < Duration::from_millis(2_500),
                "node {other} led {:?} after node {leader} began to stop",
                began.elapsed()
            );
            assert!(stopped.led, "{stopped:?}");
            assert_eq!(stopped.handed_to, Some(other), "{stopped}");
            w
        });
    }

    #[test]
    fn a_follower_stopping_gracefully_leaves_the_leader_leading() {
        on_a_settled_world(|mut w, leader| async move {
            let stopped = take(&mut w, 3 - leader)
                .shutdown(Duration::from_secs(5))
                .await;
            assert_eq!(stopped, crate::controller::Stopped::default());
            assert_eq!(w.leader(), Some(leader));
            w
        });
    }
}
