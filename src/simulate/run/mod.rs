//! One seed's run, from the drawn schedule to the final checks.

mod finish;
mod observe;

use observe::completed;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::invariants::{self, liveness, Cut, Violation};
use super::operator::Operator;
use super::schedule::{Event, Schedule};
use super::world::{self, World, TOKEN};
use crate::cloud::sim::{LatencyModel, MutationRecord, SimCloud, SimOptions};
use crate::consensus::mem_transport::NetStats;
use crate::consensus::transport::{Call, Transport};
use crate::execute::ExecutionStatus;
use crate::model::{DataTier, Exposure};
use crate::policy::{self, Policy};

/// The virtual wall time every run starts at (2030-03-17T17:46:40Z).
const WALL_START: u64 = 1_900_000_000;
/// A call the simulated cloud logged, with the virtual time since the run
/// started.
type Timed = (Duration, MutationRecord);

/// How often the invariants are checked, in virtual time.
const TICK: Duration = Duration::from_millis(500);
/// How long the world runs on after the failover completed.
const SETTLE: Duration = Duration::from_secs(20);
/// The cloud's transitions (promotion, scale-up, propagation) take this
/// share of the latency model's times: the same steps and orders, in a
/// quarter of the virtual time.
const LATENCY_SCALE: f64 = 0.25;
/// The node whose site is in the primary region.
const PRIMARY_SITE_NODE: u64 = 1;
/// How long the nodes have to agree once everything healed.
const CONVERGE: Duration = Duration::from_secs(120);

/// What one seed's run found.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// What it did to the world.
    pub schedule: Schedule,
    /// The guarantees it broke (empty: it passed).
    pub violations: Vec<Violation>,
    /// Virtual time the run lasted.
    pub simulated: Duration,
    /// When the failover completed, if it did.
    pub completed_at: Option<Duration>,
    /// A digest of the mutations and the final state: equal for runs that
    /// went the same way.
    pub digest: u64,
    /// What the network did.
    pub net: NetStats,
    /// Mutations the cloud accepted.
    pub mutations: usize,
    /// The final status of each execution, by id, with its summary.
    pub executions: BTreeMap<String, (ExecutionStatus, String)>,
}

impl Outcome {
    /// Whether every guarantee held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The shipped policy as the simulation runs it: automatic mode, probes
/// every 10 s, the cache's fallback after 30 s (a quarter of its 2m, as the
/// cloud's transitions are), no heartbeats against real databases and no
/// fencing of real writers (the simulated cloud measures lag itself).
pub fn policy() -> Policy {
    let text = include_str!("../../../policies/emr-platform.yaml")
        .replace("mode: manual ", "mode: automatic ")
        .replace("failover_timeout: 2m ", "failover_timeout: 30s ")
        .replace("probe_interval: 60s", "probe_interval: 10s")
        .replace("probe_timeout: 10s", "probe_timeout: 3s")
        .replace("self_fence_after: 120s", "self_fence_after: 20s");
    // manual_timeout applies to manual mode only.
    let text: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("manual_timeout:")
                && !l.starts_with("  after: 15m")
                && !l.starts_with("  action: wait")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut p = policy::parse(Path::new(policy::DEFAULT_POLICY), &text)
        .expect("the shipped policy, made automatic, is valid");
    p.detection.heartbeats = Default::default();
    p.fencing = None;
    debug_assert!(
        p.tiers
            .cache
            .as_ref()
            .is_some_and(|c| c.failover_timeout == Duration::from_secs(30)),
        "the shipped policy's tiers.cache.failover_timeout line changed: update the simulation's"
    );
    p
}

/// How long a seed may go without its virtual clock advancing before the
/// run is declared stalled (a task that loops without ever waiting).
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `seed` on a fresh current-thread runtime with a paused clock.
///
/// A watchdog thread ends the process (exit 70) when the seed's virtual
/// clock stops advancing for [`STALL`] of wall time: a task that loops
/// without waiting starves the paused clock, and nothing else in the
/// runtime could stop it. It names the seed and its replay command.
pub fn run_seed(seed: u64) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (progress, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || watch(seed, &progress, &done))
    };
    let outcome = rt.block_on(run(seed, progress));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    outcome
}

fn watch(seed: u64, progress: &std::sync::atomic::AtomicU64, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::Relaxed;
    let (mut last, mut since) = (u64::MAX, std::time::Instant::now());
    while !done.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = progress.load(Relaxed);
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        } else if since.elapsed() > STALL {
            eprintln!(
                "seed {seed} stalled: virtual time stopped at {:.1}s for {}s of wall time (a task loops without waiting); replay: {}",
                last as f64 / 1000.0,
                STALL.as_secs(),
                super::replay_command(seed)
            );
            std::process::exit(70);
        }
    }
}

/// Where the nodes' stores go: memory-backed when the machine has it.
fn store_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("drctl-sim-")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new().prefix("drctl-sim-").tempdir()
    };
    dir.expect("a temporary directory for the nodes' stores")
}

struct Run {
    /// Virtual milliseconds reached, read by the watchdog.
    progress: Arc<std::sync::atomic::AtomicU64>,
    seed: u64,
    schedule: Schedule,
    policy: Arc<Policy>,
    world: World,
    start: Instant,
    wall_start: SystemTime,
    maintenance_at: Option<Duration>,
    maintenance_pending: bool,
    operator: Operator,
    completed_at: Option<Duration>,
    /// Each term whose leader was seen, with when it was first seen.
    leaders: Vec<(Duration, u64)>,
    /// Each time a node was cut off from every other node.
    cuts: Vec<Cut>,
    violations: Vec<Violation>,
}

async fn run(seed: u64, progress: Arc<std::sync::atomic::AtomicU64>) -> Outcome {
    let wall_start = UNIX_EPOCH + Duration::from_secs(WALL_START);
    let _clock = crate::clock::use_virtual(wall_start);
    let policy = Arc::new(policy());
    let schedule = Schedule::draw(seed, policy.rpo);
    let options = SimOptions {
        seed,
        latency: LatencyModel::default().scaled(LATENCY_SCALE),
        ..SimOptions::default()
    };
    let cloud = SimCloud::new(&policy, options).expect("the shipped policy simulates");
    cloud.set_lag(DataTier::Database, Exposure::Known(schedule.database_lag));
    let dir = store_dir();
    let mut configs = world::configs(&policy, dir.path(), schedule.election_ms);
    if let Some(n) = schedule.stream_less {
        // That site's policy file has no stream tier.
        let mut lacking = (*policy).clone();
        lacking.tiers.stream = None;
        let cfg = configs.get_mut(&n).expect("nodes 1 to 3");
        cfg.policies = BTreeMap::from([(lacking.name.clone(), Arc::new(lacking))]);
    }
    let world = World::new(cloud, configs, seed, schedule.skew_ms);
    let mut r = Run {
        progress,
        seed,
        schedule,
        policy,
        world,
        start: Instant::now(),
        wall_start,
        maintenance_at: None,
        maintenance_pending: false,
        operator: Operator::default(),
        completed_at: None,
        leaders: Vec::new(),
        cuts: Vec::new(),
        violations: Vec::new(),
    };
    for id in 1..=3 {
        if let Err(e) = r.world.start(id).await {
            r.violations.push(Violation {
                invariant: "start",
                at: Duration::ZERO,
                what: e,
            });
        }
    }
    if r.violations.is_empty() {
        r.drive().await;
        r.finish().await;
    }
    let outcome = r.outcome();
    r.world.stop().await;
    outcome
}

impl Run {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The time by which the failover must have completed, when it must:
    /// the detector's, or the operator's that accepts the loss.
    fn deadline(&self) -> Option<Duration> {
        let s = &self.schedule;
        let accepted = s.operator_accepts();
        let out = s
            .outage_at
            .filter(|_| accepted || (!s.lag_above_rpo && !s.maintenance()))?;
        let from = match s.operator_at().filter(|_| accepted) {
            Some(asked) => out.max(asked),
            None => out,
        };
        Some(liveness::deadline(
            from,
            s.calm_from(),
            self.confirm_window(),
        ))
    }

    /// The time by which the operator's request must have ended.
    fn operator_deadline(&self) -> Option<Duration> {
        let asked = self.schedule.operator_at()?;
        let s = &self.schedule;
        Some(liveness::deadline(
            asked,
            s.calm_from(),
            self.confirm_window(),
        ))
    }

    /// How long the detector takes to confirm a failure: its consecutive
    /// failures times its probe interval, plus one probe timeout.
    fn confirm_window(&self) -> Duration {
        let d = &self.policy.detection;
        d.probe_interval * (d.consecutive_failures + 1) + d.probe_timeout
    }

    /// When the run may stop when no failover is expected to complete: two
    /// confirmation windows and the settle time after the outage and the
    /// last disturbance, time for the detector to act on it (a failover
    /// the gate refuses, or one that must not start) and to be checked.
    fn quiet_end(&self) -> Duration {
        let s = &self.schedule;
        s.outage_at
            .unwrap_or(Duration::from_secs(60))
            .max(s.calm_from())
            + self.confirm_window() * 2
            + SETTLE
    }

    async fn drive(&mut self) {
        let mut next = 0;
        loop {
            tokio::time::sleep(TICK).await;
            let now = self.now();
            self.progress
                .store(now.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
            while next < self.schedule.events.len() && self.schedule.events[next].0 <= now {
                let event = self.schedule.events[next].1.clone();
                self.apply(event).await;
                next += 1;
            }
            if self.maintenance_pending {
                self.ask_for_maintenance().await;
            }
            self.operator.poll(&self.world).await;
            self.see_leader(now);
            let states = self.states();
            let log = self.log();
            let refused = self.refused();
            if self.completed_at.is_none() && completed(&states) {
                self.completed_at = Some(now);
            }
            let found = invariants::check_always(&self.snapshot((&log, &refused), &states));
            if !found.is_empty() {
                self.violations.extend(found);
                return;
            }
            let all_applied = next == self.schedule.events.len();
            let done = match (self.deadline(), self.completed_at) {
                (Some(_), Some(t)) => all_applied && now >= t + SETTLE,
                (Some(deadline), None) => now > deadline,
                (None, _) => all_applied && now >= self.quiet_end(),
            };
            // An operator's request is followed until it ended.
            let waiting = self.operator_deadline().is_some_and(|d| {
                now <= d && (self.operator.pending() || liveness::ended(&states, now, d).is_err())
            });
            if (done && !waiting) || now >= self.schedule.horizon {
                return;
            }
        }
    }

    async fn apply(&mut self, event: Event) {
        let w = &mut self.world;
        match event {
            // The region's site goes dark with it: its node loses its links.
            Event::RegionOutage => {
                w.cloud
                    .set_region_outage([self.policy.regions.primary.clone()]);
                self.cut_off(PRIMARY_SITE_NODE);
            }
            Event::Isolate(n) => self.cut_off(n),
            Event::IsolateLeader => {
                if let Some(n) = w.leader() {
                    self.cut_off(n);
                }
            }
            Event::Heal => {
                w.links.heal();
                // The primary's site stays dark while its region is out:
                // its cut goes on.
                let outage = self
                    .schedule
                    .outage_at
                    .is_some_and(|t| t <= self.start.elapsed());
                let now = self.now();
                for c in self.cuts.iter_mut().filter(|c| c.until.is_none()) {
                    if !(outage && c.node == PRIMARY_SITE_NODE) {
                        c.until = Some(now);
                    }
                }
                if outage {
                    self.cut_off(PRIMARY_SITE_NODE);
                }
            }
            Event::Crash(n) => w.crash(n).await,
            Event::Stop(n, drain) => w.stop_gracefully(n, drain),
            Event::Restart(n) if !w.up(n) => {
                if let Err(e) = w.start(n).await {
                    self.violations.push(Violation {
                        invariant: "restart",
                        at: self.start.elapsed(),
                        what: e,
                    });
                }
            }
            Event::Restart(_) => {}
            Event::Network(f) => w.net.set_faults(f),
            Event::CloudFault(f) => {
                let _ = w.cloud.inject(f);
            }
            Event::MaintenanceOn => self.maintenance_pending = true,
            Event::OperatorFailover(accept) => self.operator.ask(self.now(), accept),
        }
    }

    /// Cuts node `n`'s links to every other node, and notes from when,
    /// unless it already was cut off.
    fn cut_off(&mut self, n: u64) {
        self.world.links.isolate(n, &[1, 2, 3]);
        if self.cuts.iter().any(|c| c.node == n && c.until.is_none()) {
            return;
        }
        let region = self.world.site_region(n);
        let from = self.now();
        self.cuts.push(Cut {
            node: n,
            region,
            from,
            until: None,
        });
    }

    /// Asks a running node to switch maintenance on, as an operator would.
    async fn ask_for_maintenance(&mut self) {
        let Some(node) = self.world.any_node(2) else {
            return;
        };
        let body = serde_json::json!({"on": true, "operator": "simulation", "reason": "seeded maintenance"});
        let call = Call::post(
            &node.ctx.me().addr,
            "/v1/maintenance",
            body.to_string(),
            Duration::from_secs(5),
        )
        .header("authorization", format!("Bearer {TOKEN}"));
        if let Ok(a) = self.world.net.send(0, call).await {
            if a.is_success() {
                self.maintenance_pending = false;
                self.maintenance_at = Some(self.now());
            }
        }
    }
}
