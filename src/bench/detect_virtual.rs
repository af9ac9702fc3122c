//! The detector on a paused clock, in one process: three sites probe one
//! simulated cloud, each on its own interval with a random phase; the
//! primary goes down at a random moment; after every round the pure
//! detector judges all rounds so far. Minutes of probing take milliseconds,
//! so the shipped policy's 60 s × 3 can be measured over many seeds.
//!
//! Rounds are stamped with the virtual clock (a prober stamps the wall
//! clock, which barely moves while the tokio clock is paused).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::cloud::sim::{Outage, SimCloud, SimOptions};
use crate::detect::{self, Health, Observation, Situation, ROUNDS_KEPT};
use crate::policy::Policy;
use crate::probe::Prober;

/// The three sites of the shipped policy and of the local cluster.
pub(super) const SITES: [&str; 3] = ["us-east-1", "us-west-2", "us-east-2"];

/// Virtual time zero, as Unix milliseconds (only differences count).
const ORIGIN_MS: u64 = 1_800_000_000_000;

/// One seeded run.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualRun {
    /// The seed (phases, fault time, simulated API latencies).
    pub seed: u64,
    /// Fault → `confirmed_at_ms`: the start of the round that completed
    /// the majority.
    pub confirmed_ms: u64,
    /// Fault → the detector first answered `down` (that round ended: one
    /// probe timeout after it started).
    pub known_ms: u64,
}

/// One detection setting over many seeds.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualSetting {
    /// Where the setting comes from.
    pub source: String,
    /// Probe interval, ms.
    pub interval_ms: u64,
    /// Probe timeout, ms.
    pub timeout_ms: u64,
    /// Failed rounds in a row a site needs.
    pub consecutive_failures: u32,
    /// Every run.
    pub runs: Vec<VirtualRun>,
}

/// Measures `policy`'s detection settings (its heartbeats cleared: they
/// need real servers) over seeds `1..=seeds`.
pub(super) fn measure(policy: &Policy, seeds: u64) -> Result<VirtualSetting, String> {
    let mut policy = policy.clone();
    policy.detection.heartbeats = Default::default();
    let policy = Arc::new(policy);
    let mut runs = Vec::new();
    for seed in 1..=seeds {
        let rt = super::modeled_runtime();
        runs.push(rt.block_on(one_run(policy.clone(), seed))?);
    }
    let d = &policy.detection;
    Ok(VirtualSetting {
        source: policy.source.display().to_string(),
        interval_ms: d.probe_interval.as_millis() as u64,
        timeout_ms: d.probe_timeout.as_millis() as u64,
        consecutive_failures: d.consecutive_failures,
        runs,
    })
}

async fn one_run(policy: Arc<Policy>, seed: u64) -> Result<VirtualRun, String> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let options = SimOptions {
        seed,
        ..SimOptions::default()
    };
    let sim = Arc::new(SimCloud::new(&policy, options)?);
    let interval = policy.detection.probe_interval;
    let every = interval.as_millis() as u64;
    let start = Instant::now();
    let vnow = move || ORIGIN_MS + start.elapsed().as_millis() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel::<Observation>();
    let mut tasks = Vec::new();
    for (i, site) in SITES.iter().enumerate() {
        let mut prober = Prober::new(site, i as u64 + 1, policy.clone(), sim.clone())?;
        let phase = Duration::from_millis(rng.random_range(0..every));
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            // As the controller's probe loop does.
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let at_ms = vnow();
                let mut o = prober.round().await;
                o.at_ms = at_ms;
                if tx.send(o).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);
    // A few healthy rounds first, then the fault at a random moment of an
    // interval.
    let fault_after = 4 * every + rng.random_range(0..every);
    let fault_ms = ORIGIN_MS + fault_after;
    let down = sim.clone();
    tasks.push(tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(fault_after)).await;
        down.set_outage(Outage {
            primary_down: true,
            ..Outage::default()
        });
    }));
    let sites: Vec<String> = SITES.iter().map(|s| s.to_string()).collect();
    let mut rounds: BTreeMap<String, VecDeque<Observation>> = BTreeMap::new();
    let give_up = fault_ms + 20 * every;
    let result = loop {
        let Some(o) = rx.recv().await else {
            break Err("the probes stopped".to_string());
        };
        let q = rounds.entry(o.site.clone()).or_default();
        q.push_back(o);
        if q.len() > ROUNDS_KEPT {
            q.pop_front();
        }
        let now_ms = vnow();
        let situation = Situation {
            now_ms,
            sites: &sites,
            observations: Some(&rounds),
            ..Situation::default()
        };
        let v = detect::evaluate(&policy, &situation);
        if v.health == Health::Down && now_ms < fault_ms {
            break Err(format!("seed {seed}: down before the fault: {}", v.reason));
        }
        if let Some(at) = v.confirmed_at_ms {
            break Ok(VirtualRun {
                seed,
                confirmed_ms: at.saturating_sub(fault_ms),
                known_ms: now_ms - fault_ms,
            });
        }
        if now_ms > give_up {
            break Err(format!("seed {seed}: not confirmed: {}", v.reason));
        }
    };
    for t in tasks {
        t.abort();
    }
    result
}

/// (min, mean, max) of some figure over the runs.
pub(super) fn stats(v: impl Iterator<Item = u64>) -> Option<(u64, u64, u64)> {
    let v: Vec<u64> = v.collect();
    let min = *v.iter().min()?;
    let max = *v.iter().max()?;
    Some((min, v.iter().sum::<u64>() / v.len() as u64, max))
}
