//! What happens to the world during one seed's run, drawn from the seed
//! alone: the primary region's outage, the network's faults, partitions,
//! node crashes and restarts, replication lag, maintenance, cloud faults,
//! an operator's failover request (accepting the data loss when the lag is
//! above the RPO), a site whose policy file lacks a tier, and each node's
//! clock skew.
//!
//! The draws added after the first ones (the operator, the differing site,
//! the skews) come from a second generator seeded from the same seed, so
//! the earlier draws, and the events they make, stay what they were.

use std::fmt;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::cloud::sim::{Fault, FaultKind};
use crate::cloud::ErrorKind;
use crate::consensus::mem_transport::NetFaults;

/// One thing done to the world at a moment of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The primary region goes dark (APIs, probes) for the rest of the run.
    RegionOutage,
    /// Node `0` is cut off from the others until [`Event::Heal`].
    Isolate(u64),
    /// Whichever node leads at that moment is cut off from the others
    /// until [`Event::Heal`]: in the middle of an execution, its owner is
    /// deposed while its steps may be waiting or retrying.
    IsolateLeader,
    /// Every link is restored.
    Heal,
    /// Node `0` crashes (its tasks stop; its store keeps what it wrote).
    Crash(u64),
    /// Node `0` starts again from its store.
    Restart(u64),
    /// Node `0` is stopped gracefully (SIGTERM), its running executions
    /// given `1` to end, then leadership handed on (see
    /// `controller/shutdown.rs`).
    Stop(u64, Duration),
    /// The network's faults change.
    Network(NetFaults),
    /// A cloud fault switches on.
    CloudFault(Fault),
    /// An operator turns maintenance on (no automatic failover).
    MaintenanceOn,
    /// An operator asks for a failover through the node API, as
    /// `drctl failover --controller ... --confirm` sends it, accepting this
    /// much data loss (`--accept-data-loss`) when it is `Some`.
    OperatorFailover(Option<Duration>),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegionOutage => f.write_str("the primary region goes dark"),
            Self::Isolate(n) => write!(f, "node {n} is cut off"),
            Self::IsolateLeader => f.write_str("the leader is cut off"),
            Self::Heal => f.write_str("every link is restored"),
            Self::Crash(n) => write!(f, "node {n} crashes"),
            Self::Restart(n) => write!(f, "node {n} restarts from its store"),
            Self::Stop(n, drain) => write!(
                f,
                "node {n} is stopped gracefully (drain {})",
                crate::duration::fmt(*drain)
            ),
            Self::Network(n) => write!(
                f,
                "network: {:.0}% loss, {:.0}% duplicates, {}–{} ms each way",
                n.loss * 100.0,
                n.duplicate * 100.0,
                n.delay.0.as_millis(),
                n.delay.1.as_millis()
            ),
            Self::CloudFault(x) => write!(f, "cloud fault {:?} on {}", x.fault, x.op),
            Self::MaintenanceOn => f.write_str("maintenance is switched on"),
            Self::OperatorFailover(None) => f.write_str("an operator asks for a failover"),
            Self::OperatorFailover(Some(a)) => write!(
                f,
                "an operator asks for a failover, accepting {} of data loss",
                crate::duration::fmt(*a)
            ),
        }
    }
}

/// A seed's run: events at virtual times from the start, and what the
/// world is like from the beginning.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Events in time order.
    pub events: Vec<(Duration, Event)>,
    /// When the primary region goes dark (`None`: it never does).
    pub outage_at: Option<Duration>,
    /// The database replica's lag for the whole run.
    pub database_lag: Duration,
    /// Whether the lag is above the policy's RPO (the gate must refuse).
    pub lag_above_rpo: bool,
    /// Each node's election timeout (a fixed draw per node).
    pub election_ms: [u64; 3],
    /// When the run ends at the latest.
    pub horizon: Duration,
    /// Each node's wall clock, ahead (positive) or behind the virtual one,
    /// in milliseconds: at most [`SKEW_MAX_MS`] either way, so two nodes'
    /// clocks differ by less than the documented bound.
    pub skew_ms: [i64; 3],
    /// A node whose policy file has no stream tier, unlike the others'.
    pub stream_less: Option<u64>,
}

/// The largest offset of one node's clock, in milliseconds: two nodes are
/// at most twice this apart, which stays under the documented bound on the
/// skew between sites (`max_clock_skew`, 5 s) by the network's largest
/// one-way delay and some margin, as a signed call's stamp is checked
/// against the receiver's clock when it arrives.
pub const SKEW_MAX_MS: i64 = 2_400;

impl Schedule {
    /// Draws the run of `seed` for a policy with `rpo`.
    pub fn draw(seed: u64, rpo: Duration) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut events = Vec::new();
        let s = |x: u64| Duration::from_secs(x);
        let outage_at = rng.random_bool(0.85).then(|| s(rng.random_range(20..120)));
        if let Some(t) = outage_at {
            events.push((t, Event::RegionOutage));
        }
        let lag_above_rpo = rng.random_bool(0.1);
        let database_lag = if lag_above_rpo {
            rpo + s(rng.random_range(60..1800))
        } else {
            Duration::from_millis(rng.random_range(0..30_000))
        };
        // Network quality: clean, lossy, or bad, with occasional duplicates.
        let net = match rng.random_range(0..4) {
            0 => NetFaults::default(),
            1 => NetFaults {
                loss: 0.01,
                duplicate: 0.01,
                ..NetFaults::default()
            },
            2 => NetFaults {
                loss: 0.05,
                duplicate: 0.02,
                delay: (Duration::from_millis(15), Duration::from_millis(70)),
            },
            _ => NetFaults {
                loss: 0.15,
                duplicate: 0.05,
                delay: (Duration::from_millis(20), Duration::from_millis(120)),
            },
        };
        events.push((Duration::ZERO, Event::Network(net)));
        let around = |rng: &mut SmallRng| {
            let base = outage_at.unwrap_or(s(60)).as_secs();
            s(rng.random_range(base.saturating_sub(30)..base + 240))
        };
        // Partitions and crashes, each node alike.
        for _ in 0..rng.random_range(0..3) {
            let node = rng.random_range(1..=3);
            let at = around(&mut rng);
            let length = s(rng.random_range(2..60));
            events.push((at, Event::Isolate(node)));
            events.push((at + length, Event::Heal));
        }
        for _ in 0..rng.random_range(0..3) {
            let node = rng.random_range(1..=3);
            let at = around(&mut rng);
            let down = Duration::from_millis(rng.random_range(200..45_000));
            events.push((at, Event::Crash(node)));
            events.push((at + down, Event::Restart(node)));
        }
        if rng.random_bool(0.3) {
            let at = around(&mut rng);
            // A stuck read is not a fault the chaos format has: such a
            // draw makes no event (the simulated cloud would refuse it).
            let fault = cloud_fault(&mut rng);
            if fault.validate().is_ok() {
                events.push((at, Event::CloudFault(fault)));
            }
        }
        if rng.random_bool(0.08) {
            let at = s(rng.random_range(5..outage_at.map_or(60, |t| t.as_secs()).max(6)));
            events.push((at, Event::MaintenanceOn));
        }
        let election_ms = [(); 3].map(|()| rng.random_range(1500..3000));
        let mut schedule = Self {
            seed,
            events,
            outage_at,
            database_lag,
            lag_above_rpo,
            election_ms,
            horizon: s(1500),
            skew_ms: [0; 3],
            stream_less: None,
        };
        schedule.draw_more(&mut SmallRng::seed_from_u64(seed ^ 0x0FE2_A70D_5EED));
        schedule.draw_deposed(&mut SmallRng::seed_from_u64(seed ^ 0xDE90_5ED1_EAD0));
        schedule.draw_stops(&mut SmallRng::seed_from_u64(seed ^ 0x570F_6E47_1E00));
        schedule.events.sort_by_key(|(t, _)| *t);
        schedule
    }

    /// The draws of the second generator: clock skews, the operator's
    /// request, and a site whose policy differs.
    fn draw_more(&mut self, rng: &mut SmallRng) {
        let s = |x: u64| Duration::from_secs(x);
        self.skew_ms = [(); 3].map(|()| rng.random_range(-SKEW_MAX_MS..=SKEW_MAX_MS));
        // The operator accepts the drawn lag, rounded up to the minute,
        // and five minutes more (a known exposure within it is accepted).
        let accept = self
            .lag_above_rpo
            .then(|| s((self.database_lag.as_secs() / 60 + 6) * 60));
        if rng.random_bool(0.08) {
            // A planned failover while the secondary's node is down: the
            // primary's node plans and executes it with its stream tier,
            // then hands it to node 2 when it is back, whose policy file
            // has no stream tier. No outage in such a run.
            self.events.retain(|(_, e)| *e != Event::RegionOutage);
            self.outage_at = None;
            self.stream_less = Some(2);
            let at = s(rng.random_range(20..60));
            let back = Duration::from_millis(rng.random_range(3_000..12_000));
            self.events.push((at - s(1), Event::Crash(2)));
            self.events.push((at, Event::OperatorFailover(accept)));
            self.events.push((at + back, Event::Restart(2)));
        } else if let Some(out) = self.outage_at.filter(|_| self.lag_above_rpo) {
            // The gate refused the detector's failover: an operator
            // accepts the loss, most of the time.
            if rng.random_bool(0.7) {
                let at = out + s(rng.random_range(90..300));
                self.events.push((at, Event::OperatorFailover(accept)));
            }
        }
    }

    /// The draws of the third generator: a leader deposed while it runs an
    /// execution. Only a run without the outage can elect another leader
    /// (the outage cuts the primary's node off for good, and the witness
    /// never leads), so it is drawn beside a planned failover: in about a
    /// tenth of the runs without an outage an operator asks for one, and in
    /// most runs with an operator's planned failover the leader is cut off
    /// a few seconds after the request, for a few seconds to half a minute.
    fn draw_deposed(&mut self, rng: &mut SmallRng) {
        let s = |x: u64| Duration::from_secs(x);
        if self.outage_at.is_some() {
            return;
        }
        let asked = match self.operator_at() {
            Some(t) => t,
            None if rng.random_bool(0.6) => {
                let at = s(rng.random_range(20..60));
                self.events.push((at, Event::OperatorFailover(None)));
                at
            }
            None => return,
        };
        if rng.random_bool(0.75) {
            let at = asked + Duration::from_millis(rng.random_range(500..20_000));
            let length = Duration::from_millis(rng.random_range(3_000..30_000));
            self.events.push((at, Event::IsolateLeader));
            self.events.push((at + length, Event::Heal));
            // A step makes its mutating call when it starts, so a deposed
            // leader acts once more only if its step is still waiting when
            // the next leader takes over: in most such runs the replica is
            // backing up from the request until well after the cut.
            if rng.random_bool(0.7) {
                let busy = at - asked + Duration::from_secs(rng.random_range(5..40));
                self.events
                    .push((asked, Event::CloudFault(replica_busy(busy))));
            }
        }
    }

    /// The draws of the fourth generator: in about a fifth of the runs a
    /// node is stopped gracefully (a rolling restart, a pod evicted),
    /// around the outage or the operator's request, and started again once
    /// it has had time to stop.
    fn draw_stops(&mut self, rng: &mut SmallRng) {
        if !rng.random_bool(0.2) {
            return;
        }
        let base = self
            .outage_at
            .or_else(|| self.operator_at())
            .unwrap_or(Duration::from_secs(60))
            .as_millis() as u64;
        let node = rng.random_range(1..=3);
        let at =
            Duration::from_millis(rng.random_range(base.saturating_sub(10_000)..base + 60_000));
        let drain = Duration::from_millis(rng.random_range(0..10_000));
        let back = drain + Duration::from_millis(rng.random_range(12_000..30_000));
        self.events.push((at, Event::Stop(node, drain)));
        self.events.push((at + back, Event::Restart(node)));
    }

    /// When the operator asks for a failover, if they do.
    pub fn operator_at(&self) -> Option<Duration> {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, Event::OperatorFailover(_)))
            .map(|(t, _)| *t)
    }

    /// Whether the operator accepts the data loss the lag means.
    pub fn operator_accepts(&self) -> bool {
        self.events
            .iter()
            .any(|(_, e)| matches!(e, Event::OperatorFailover(Some(_))))
    }

    /// When the last partition or crash of the run has ended.
    pub fn calm_from(&self) -> Duration {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Heal | Event::Restart(_)))
            .map(|(t, _)| *t)
            .max()
            .unwrap_or_default()
    }

    /// Whether maintenance is switched on during the run.
    pub fn maintenance(&self) -> bool {
        self.events.iter().any(|(_, e)| *e == Event::MaintenanceOn)
    }
}

/// One cloud fault of the chaos format, on a step's operation.
/// The replica reports `backing-up` for `length` and refuses promotion
/// meanwhile (the promotion step waits and promotes once it can).
fn replica_busy(length: Duration) -> Fault {
    Fault {
        fault: FaultKind::Busy,
        op: crate::model::Op::PromoteReadReplica.to_string(),
        resource: None,
        times: None,
        error: None,
        extra: Some(format!("{}s", length.as_secs())),
        status: Some("backing-up".into()),
    }
}

fn cloud_fault(rng: &mut SmallRng) -> Fault {
    use crate::model::Op;
    let ops = [
        Op::PromoteReadReplica,
        Op::UpdateNodegroupConfig,
        Op::FailoverGlobalReplicationGroup,
        Op::DescribeDbInstances,
        Op::UpdateRoutingControlStates,
    ];
    let op = ops[rng.random_range(0..ops.len())].to_string();
    let (fault, extra) = match rng.random_range(0..3) {
        0 => (FaultKind::Fail, None),
        1 => (FaultKind::Throttle, None),
        _ => (
            FaultKind::Stuck,
            Some(format!("{}s", rng.random_range(5..120))),
        ),
    };
    Fault {
        fault,
        op,
        resource: None,
        times: matches!(fault, FaultKind::Fail | FaultKind::Throttle)
            .then(|| rng.random_range(1..4)),
        error: (fault == FaultKind::Fail).then_some(ErrorKind::Retryable),
        extra,
        status: None,
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: database lag {}{}; election timeouts {:?} ms",
            self.seed,
            crate::duration::fmt(self.database_lag),
            if self.lag_above_rpo {
                " (above the RPO)"
            } else {
                ""
            },
            self.election_ms
        )?;
        write!(f, "; clock skews {:?} ms", self.skew_ms)?;
        if let Some(n) = self.stream_less {
            write!(f, "; node {n}'s policy has no stream tier")?;
        }
        for (t, e) in &self.events {
            write!(f, "\n  at {:>6.1}s  {e}", t.as_secs_f64())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_draws_one_schedule_and_seeds_differ() {
        let rpo = Duration::from_secs(900);
        let a = Schedule::draw(42, rpo).to_string();
        assert_eq!(a, Schedule::draw(42, rpo).to_string());
        let distinct: std::collections::BTreeSet<String> = (0..50)
            .map(|s| Schedule::draw(s, rpo).to_string())
            .collect();
        assert_eq!(distinct.len(), 50);
    }

    #[test]
    fn a_leader_is_deposed_during_a_planned_failover_in_some_runs_only_without_the_outage() {
        let rpo = Duration::from_secs(900);
        let deposed: Vec<Schedule> = (0..500)
            .map(|seed| Schedule::draw(seed, rpo))
            .filter(|s| s.events.iter().any(|(_, e)| *e == Event::IsolateLeader))
            .collect();
        assert!((20..120).contains(&deposed.len()), "{} runs", deposed.len());
        for s in &deposed {
            assert!(s.outage_at.is_none(), "seed {}", s.seed);
            let asked = s.operator_at().expect("an operator's failover");
            let cut = s.events.iter().find(|(_, e)| *e == Event::IsolateLeader);
            assert!(cut.is_some_and(|(t, _)| *t > asked), "seed {}", s.seed);
        }
        let busy = deposed
            .iter()
            .filter(|s| {
                s.events.iter().any(|(_, e)| {
                    matches!(e, Event::CloudFault(f) if f.fault == FaultKind::Busy && f.validate().is_ok())
                })
            })
            .count();
        assert!(busy * 3 > deposed.len(), "{busy} of {} runs", deposed.len());
    }

    #[test]
    fn every_drawn_cloud_fault_is_valid_in_the_chaos_format() {
        for seed in 0..500 {
            for (_, e) in Schedule::draw(seed, Duration::from_secs(900)).events {
                if let Event::CloudFault(f) = e {
                    f.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                }
            }
        }
    }
}
