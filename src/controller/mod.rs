//! One always-on controller node: its raft, the leader-only executor and
//! the HTTP server (status API and raft RPC on one port).
//!
//! [`start`] opens the node's store, starts raft with timeouts fit for links
//! between regions, serves HTTP, joins the cluster (initializing it with the
//! configured members when the store is empty: idempotent, as every node
//! proposes the same membership and a node that is already a member changes
//! nothing) and, unless the node is the witness, runs the executor.
//!
//! The witness never executes, so it does not campaign on its own timer;
//! but it may hold the only complete log (the leader replicated an entry to
//! it alone before dying), and then no executing site can win an election
//! without it. So when it refuses a candidate whose log is behind its own
//! while no leader answers, it campaigns at once, lets the executors catch
//! up and hands leadership on (see `witness.rs`).
//!
//! A failover executes from the region being activated: the node of the
//! region being left hands leadership there before it would act (see
//! `placement.rs`); both hand-offs share one mechanism (`handoff.rs`).
//!
//! A node asked to stop (SIGTERM) stops gracefully: no new work, a bounded
//! drain of its running executions, leadership handed on, then the HTTP
//! server closed (`shutdown.rs`). [`NodeHandle::kill`] is the crash.

pub mod config;
mod detection;
mod execution;
mod fence_return;
mod handoff;
mod journal;
mod lease;
mod measured;
mod metrics;
pub mod metrics_format;
mod metrics_readiness;
mod notify;
mod old_primary;
mod placement;
mod readiness;
mod request;
mod roles;
mod runner;
pub mod self_fence;
mod shutdown;
mod witness;

pub use config::{load, CloudConfig, NodeConfig};
pub use detection::Detection;
pub use metrics::Metrics;
pub use request::{FailoverAnswer, FailoverRequest};
pub use roles::orient;
pub use shutdown::Stopped;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::{Config, SnapshotPolicy};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::cloud::{Capacity, Cloud, DrHealth, Permissions};
use crate::consensus::mem_transport::MemNet;
use crate::consensus::network::{Links, Network};
use crate::consensus::store::{self, Applied};
use crate::consensus::transport::{Call, HttpTransport, SharedTransport};
use crate::consensus::{Member, NodeId, Raft};
use crate::policy::Policy;
use crate::probe::Reach;

/// What the API and the executor share about this node.
#[derive(Clone)]
pub struct Context {
    /// This node's id.
    pub id: NodeId,
    /// The raft handle.
    pub raft: Raft,
    /// The applied replicated state.
    pub applied: Arc<RwLock<Applied>>,
    /// Every voter as configured.
    pub members: BTreeMap<NodeId, Member>,
    /// The policies the cluster owns, by name.
    pub policies: BTreeMap<String, Arc<Policy>>,
    /// The API bearer token.
    pub token: Arc<str>,
    /// Where failover requests go on this node (`None` on the witness).
    pub requests: Option<mpsc::Sender<FailoverRequest>>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// How this node calls the others (forwarding to the leader, health
    /// checks, shared probe rounds, hand-offs).
    pub transport: SharedTransport,
    /// Link switchboard (tests cut links to partition the cluster).
    pub links: Links,
    /// Every site's probe rounds this node holds.
    pub detection: Arc<RwLock<Detection>>,
    /// Where events are emitted for the webhooks (see [`crate::notify`]).
    pub notifier: crate::notify::Notifier,
}

impl Context {
    /// This node as configured.
    pub fn me(&self) -> &Member {
        &self.members[&self.id]
    }

    /// Whether member `id` answers its health check within `timeout` (a
    /// cut link counts as no answer).
    pub async fn peer_answers(&self, id: NodeId, timeout: std::time::Duration) -> bool {
        let Some(m) = self.members.get(&id) else {
            return false;
        };
        if !self.links.up(self.id, id) {
            return false;
        }
        let call = Call::get(&m.addr, "/healthz", timeout);
        matches!(self.transport.send(self.id, call).await, Ok(r) if r.is_success())
    }

    /// The current leader, as this node knows it.
    pub fn leader(&self) -> Option<(NodeId, Member)> {
        let id = self.raft.metrics().borrow().current_leader?;
        let m = self.members.get(&id)?.clone();
        Some((id, m))
    }
}

/// A running node.
pub struct NodeHandle {
    /// What it shares with its API.
    pub ctx: Context,
    /// The address it listens on.
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    /// The in-memory network it answers on, and at which address.
    mem: Option<(MemNet, String)>,
    /// The executor, which returns what its drain did.
    runner: Option<JoinHandle<runner::Drained>>,
    /// The HTTP server (TCP wiring).
    server: Option<JoinHandle<()>>,
    /// Asks the executor to stop, with the drain.
    stop: tokio::sync::watch::Sender<Option<Duration>>,
    /// Asks the HTTP server to close.
    close: tokio::sync::watch::Sender<bool>,
    /// Signs the request that asks a member to campaign, and how long the
    /// voters' lease on a leader lasts (see `handoff.rs`).
    hand_off: (crate::consensus::auth::Signer, Duration),
}

impl NodeHandle {
    /// Stops the node at once, as a crash would: the executor and the HTTP
    /// server are dropped mid-flight, raft stops. The store keeps what was
    /// committed to disk.
    pub async fn kill(self) {
        if let Some((net, addr)) = &self.mem {
            net.unregister(addr);
        }
        let tasks: Vec<_> = self.tasks.into_iter().chain(self.server).collect();
        if let Some(r) = &self.runner {
            r.abort();
        }
        for t in &tasks {
            t.abort();
        }
        if let Some(r) = self.runner {
            let _ = r.await;
        }
        for t in tasks {
            let _ = t.await;
        }
        let _ = self.ctx.raft.shutdown().await;
    }
}

/// The node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The raft store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Raft itself.
    #[error("raft: {0}")]
    Raft(String),
    /// A probe cannot be set up (heartbeat settings, passwords).
    #[error("probes: {0}")]
    Probe(String),
    /// The listening socket.
    #[error("listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// The raft configuration for links between regions.
pub fn raft_config(cfg: &NodeConfig) -> Result<Config, StartError> {
    // openraft: a follower that hears no heartbeat campaigns after its
    // leader lease (election_timeout_max) plus its own election timeout
    // (drawn once in the range), checked every 1.5 heartbeats; voters
    // refuse candidates until their lease has run out.
    let [emin, emax] = cfg.election_timeout;
    let (emin, emax) = (emin.as_millis() as u64, emax.as_millis() as u64);
    // The witness does not campaign on its own timer, so its range only sets
    // its lease: short, so that it hands leadership on quickly when it leads.
    let (emin, emax) = if cfg.me().witness {
        (witness_lease(cfg) / 2, witness_lease(cfg))
    } else {
        (emin, emax)
    };
    let config = Config {
        cluster_name: "drctl".into(),
        heartbeat_interval: cfg.heartbeat.as_millis() as u64,
        election_timeout_min: emin,
        election_timeout_max: emax,
        enable_elect: !cfg.me().witness,
        install_snapshot_timeout: 10_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(500),
        max_in_snapshot_log_to_keep: 100,
        snapshot_max_chunk_size: crate::consensus::network::SNAPSHOT_CHUNK,
        // A follower behind (cut off, or back from a crash) is sent this
        // many entries per call: the leader reads and decodes them from its
        // log on every try, and a cut-off follower is tried on each
        // heartbeat (openraft's default of 300 made that most of a
        // simulated seed's CPU time; docs/BENCHMARKS.md).
        max_payload_entries: MAX_PAYLOAD_ENTRIES,
        ..Config::default()
    };
    config
        .validate()
        .map_err(|e| StartError::Raft(e.to_string()))
}

/// Log entries sent to a follower per append call.
const MAX_PAYLOAD_ENTRIES: u64 = 32;

/// The witness's leader lease, in milliseconds: the executors' shortest
/// election timeout.
fn witness_lease(cfg: &NodeConfig) -> u64 {
    cfg.election_timeout[0].as_millis() as u64
}

/// How a node is reached by the others and by clients.
#[derive(Clone)]
pub enum Wiring {
    /// HTTP on `listen` (production, local clusters, cluster tests).
    Tcp,
    /// The in-memory network of the simulation: no socket; the node's
    /// router answers at its configured member address.
    Mem(MemNet),
}

/// Starts a node on HTTP. `cloud` is what the executor acts on (never on
/// the witness) and what every node probes the primary through; `None`
/// starts a node that neither probes nor executes. `links` is empty in
/// production.
///
/// # Errors
///
/// The store cannot be opened, the raft configuration is invalid, or the
/// address cannot be bound.
pub async fn start<C: Cloud + Capacity + Permissions + DrHealth + Reach + 'static>(
    cfg: NodeConfig,
    cloud: Option<Arc<C>>,
    links: Links,
) -> Result<NodeHandle, StartError> {
    start_wired(cfg, cloud, links, Wiring::Tcp).await
}

/// Starts a node reached as `wiring` says (see [`start`]).
///
/// # Errors
///
/// As [`start`].
pub async fn start_wired<C: Cloud + Capacity + Permissions + DrHealth + Reach + 'static>(
    cfg: NodeConfig,
    cloud: Option<Arc<C>>,
    links: Links,
    wiring: Wiring,
) -> Result<NodeHandle, StartError> {
    let transport: SharedTransport = match &wiring {
        Wiring::Tcp => Arc::new(HttpTransport::new(cfg.rpc_timeout)),
        Wiring::Mem(net) => Arc::new(net.clone()),
    };
    let (log, sm) = store::open(&cfg.data_dir)?;
    let applied = sm.shared();
    let network = Network::new(
        cfg.signer(),
        cfg.rpc_timeout,
        links.clone(),
        transport.clone(),
    );
    let raft = Raft::new(cfg.id, Arc::new(raft_config(&cfg)?), network, log, sm)
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
    let (listener, addr) = match &wiring {
        Wiring::Tcp => {
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .map_err(|error| StartError::Listen {
                    addr: cfg.listen,
                    error,
                })?;
            let addr = listener.local_addr().map_err(|error| StartError::Listen {
                addr: cfg.listen,
                error,
            })?;
            (Some(listener), addr)
        }
        Wiring::Mem(_) => (None, cfg.listen),
    };
    let metrics = Arc::new(Metrics::default());
    let executes = !cfg.me().witness && cloud.is_some();
    let (tx, rx) = mpsc::channel(16);
    let ctx = Context {
        id: cfg.id,
        raft: raft.clone(),
        applied,
        members: cfg.members.clone(),
        policies: cfg.policies.clone(),
        token: cfg.token.clone(),
        requests: executes.then_some(tx),
        metrics: metrics.clone(),
        transport,
        links,
        detection: Arc::default(),
        notifier: crate::notify::Notifier::new(&cfg.notifications, metrics.notify.clone()),
    };
    let mut tasks = notify::spawn(&ctx, &cfg.notifications);
    if let (true, Some(cloud)) = (executes, &cloud) {
        tasks.extend(self_fence::spawn(&ctx, cloud.clone(), cfg.data_dir.clone()));
        tasks.extend(readiness::spawn(&ctx, cloud.clone()));
    }
    if let Some(cloud) = &cloud {
        let probes = detection::spawn_probes(&ctx, cloud.clone(), cfg.signer(), cfg.rpc_timeout)
            .map_err(StartError::Probe)?;
        tasks.extend(probes);
    }
    let refused_behind = cfg
        .me()
        .witness
        .then(|| Arc::new(tokio::sync::Notify::new()));
    let app = crate::api::router(
        ctx.clone(),
        Arc::new(cfg.verifier()),
        refused_behind.clone(),
    );
    let (close, mut closing) = tokio::sync::watch::channel(false);
    let mut server = None;
    let mem = match (&wiring, listener) {
        (Wiring::Mem(net), _) => {
            net.register(cfg.id, &cfg.me().addr, app);
            Some((net.clone(), cfg.me().addr.clone()))
        }
        (Wiring::Tcp, listener) => {
            if let Some(listener) = listener {
                server = Some(crate::clock::spawn(async move {
                    // The peer's address is kept for the API's refusal log and limits.
                    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
                    let closed = async move {
                        let _ = closing.wait_for(|c| *c).await;
                    };
                    let serving = axum::serve(listener, app).with_graceful_shutdown(closed);
                    if let Err(e) = serving.await {
                        warn!(error = %e, "HTTP server stopped");
                    }
                }));
            }
            None
        }
    };
    join(&raft, &cfg).await;
    if cfg.me().witness {
        let w = witness::Witness {
            ctx: ctx.clone(),
            signer: cfg.signer(),
            stuck_after: cfg.election_timeout[1] * 2,
            lease: Duration::from_millis(witness_lease(&cfg)),
            refused_behind: refused_behind.expect("made for the witness"),
        };
        tasks.push(crate::clock::spawn(w.guard()));
    }
    let (stop, stopping) = tokio::sync::watch::channel(None);
    let mut runner = None;
    if let (true, Some(cloud)) = (executes, cloud) {
        let exposures = Arc::new(measured::Measured {
            inner: cloud.clone(),
            ctx: ctx.clone(),
        });
        let mut r = runner::Runner::new(
            ctx.clone(),
            cloud,
            exposures,
            rx,
            cfg.election_timeout[0],
            cfg.signer(),
        );
        // Against AWS, an execution's times are measured wall time; against
        // the simulated cloud they follow its latency model.
        if matches!(cfg.cloud, config::CloudConfig::Aws) {
            r.time_basis = crate::execute::TimeBasis::Wall;
        }
        r.stopping = stopping;
        runner = Some(crate::clock::spawn(r.run()));
    }
    info!(node = cfg.id, site = %cfg.me().site, %addr, witness = cfg.me().witness, "controller node started");
    Ok(NodeHandle {
        ctx,
        addr,
        tasks,
        mem,
        runner,
        server,
        stop,
        close,
        hand_off: (cfg.signer(), Duration::from_millis(witness_lease(&cfg))),
    })
}

/// Initializes the cluster with the configured members when this node's
/// store is empty. Every executing node proposes the same membership, so
/// whichever gets there first, they agree; a node with state changes
/// nothing.
async fn join(raft: &Raft, cfg: &NodeConfig) {
    match raft.is_initialized().await {
        Ok(true) => info!("store holds cluster state: rejoining"),
        // Initializing starts an election at once, and the witness should
        // not lead: it waits for an executing member to initialize.
        Ok(false) if cfg.me().witness => {
            info!("empty store: waiting for an executing member to initialize the cluster")
        }
        Ok(false) => {
            let members: BTreeMap<NodeId, Member> = cfg.members.clone();
            match raft.initialize(members).await {
                Ok(()) => info!("initialized the cluster with {} members", cfg.members.len()),
                // Another member got there first and already replicated to us.
                Err(e) => info!(error = %e, "cluster already initialized"),
            }
        }
        Err(e) => warn!(error = %e, "cannot read raft state"),
    }
}
