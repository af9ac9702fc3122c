//! Measured against reported data loss on a real PostgreSQL pair.
//!
//! For each stall of the replication stream (0, 1, 2 and 5 s, three runs
//! each): a PostgreSQL 15 primary and its streaming standby (through a
//! proxy that can stall the stream), a steady write load every 10 ms, and a
//! prober whose policy points the database heartbeat at the pair, taking a
//! round every 200 ms. The stream is stalled, the primary killed, rounds go
//! on for a second (so the exposure is read after the kill, as the RPO gate
//! would read it), then the standby is promoted and the rows it lacks are
//! counted. The loss span (newest acknowledged write minus the newest the
//! promoted standby has) is set against the exposure of the newest round.
//!
//! Run: `DRCTL_PG_BIN=/usr/lib/postgresql/15/bin cargo bench --bench real_loss`

#[path = "../tests/real_support/mod.rs"]
mod real_support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drctl::cloud::sim::{SimCloud, SimOptions};
use drctl::model::DataTier;
use drctl::model::Exposure;
use drctl::policy::Policy;
use drctl::probe::{promote_postgres, Observation, Prober};
use real_support::{missing_postgres, PgPair, WriteLoad};
use tokio::time::MissedTickBehavior;

/// The probe interval (and heartbeat period).
const INTERVAL: Duration = Duration::from_millis(200);
/// The write load's period.
const LOAD: Duration = Duration::from_millis(10);
/// Stalls of the replication stream before the kill, in seconds.
const STALLS: [u64; 4] = [0, 1, 2, 5];
/// Runs per stall.
const RUNS: u32 = 3;

/// One run's figures.
struct Run {
    stall_s: u64,
    /// Stream stalled → primary killed (the stall plus a random phase).
    stall_ms: u64,
    acked: usize,
    lost: usize,
    span_ms: u64,
    exposure_ms: Option<u64>,
}

fn policy(pair: &PgPair) -> Policy {
    let text = format!(
        "name: real-loss
regions: {{primary: us-east-1, secondary: us-west-2, witness: us-east-2}}
objectives: {{rto: 4h, rpo: 15m}}
detection:
  probe_interval: 200ms
  probe_timeout: 200ms
  consecutive_failures: 3
  probes:
    database_status: false
  heartbeats:
    database:
      primary: {}
      replica: {}
mode: manual
tiers:
  database:
    primary: pg-primary
    replica: pg-standby
",
        pair.primary_conninfo(),
        pair.standby_conninfo()
    );
    drctl::policy::parse(Path::new("(real_loss)"), &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The database tier's exposure in a round.
fn exposure(o: &Observation) -> Option<u64> {
    o.tiers
        .iter()
        .find(|r| r.tier == DataTier::Database)
        .and_then(|r| match r.exposure {
            Exposure::Known(d) => Some(d.as_millis() as u64),
            Exposure::Unknown => None,
        })
}

async fn one(stall: Duration) -> Run {
    let mut pair = PgPair::start();
    let load = WriteLoad::postgres(&pair.primary_conninfo(), LOAD).await;
    let policy = Arc::new(policy(&pair));
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    let mut prober = Prober::new("us-west-2", 2, policy, sim).unwrap();
    let newest: Arc<Mutex<Option<Observation>>> = Arc::default();
    let shared = newest.clone();
    let rounds = tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let o = prober.round().await;
            *shared.lock().unwrap() = Some(o);
        }
    });
    // Until the standby shows a heartbeat, then a second of steady state.
    for _ in 0..100 {
        let known = newest.lock().unwrap().as_ref().and_then(exposure);
        if known.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Random phases against the rounds: a stall of whole seconds would
    // otherwise end at the same point of a round as it began, and the
    // heartbeat's error (up to one interval) would never show.
    let phase = || Duration::from_millis(rand::random_range(0..INTERVAL.as_millis() as u64));
    tokio::time::sleep(Duration::from_secs(1) + phase()).await;
    let stalled = std::time::Instant::now();
    if !stall.is_zero() {
        pair.proxy().stall();
    }
    tokio::time::sleep(stall + phase()).await;
    pair.kill_primary();
    let stall_ms = stalled.elapsed().as_millis() as u64;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rounds.abort();
    let acked = load.stop().await;
    let reported = newest.lock().unwrap().as_ref().and_then(exposure);
    promote_postgres(&pair.standby_conninfo(), None, Duration::from_secs(60))
        .await
        .unwrap();
    let lost = missing_postgres(&pair.standby_conninfo(), &acked).await;
    drop(pair);
    Run {
        stall_s: stall.as_secs(),
        stall_ms,
        acked: acked.len(),
        lost: lost.count,
        span_ms: lost.span.as_millis() as u64,
        exposure_ms: reported,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runs = Vec::new();
    for stall in STALLS {
        for i in 1..=RUNS {
            let r = rt.block_on(one(Duration::from_secs(stall)));
            eprintln!(
                "stall {stall}s run {i}/{RUNS}: {} of {} rows lost over {} ms, exposure {:?} ms",
                r.lost, r.acked, r.span_ms, r.exposure_ms
            );
            runs.push(r);
        }
    }
    let interval = INTERVAL.as_millis() as i64;
    println!(
        "\nPostgreSQL 15 pair, writes every {} ms, heartbeat round every {interval} ms; primary killed after the stall and a random phase (0-{interval} ms; for 0 s without a stall), standby promoted\n",
        LOAD.as_millis()
    );
    println!(
        "{:>6} {:>9} {:>10} {:>10} {:>15} {:>14} {:>11} {:>16}",
        "stall",
        "→ kill",
        "rows lost",
        "of acked",
        "loss span",
        "reported",
        "difference",
        "within interval"
    );
    for r in &runs {
        let (reported, diff, within) = match r.exposure_ms {
            Some(e) => {
                let d = e as i64 - r.span_ms as i64;
                (
                    format!("{e} ms"),
                    format!("{d:+} ms"),
                    if d.abs() <= interval { "yes" } else { "no" },
                )
            }
            None => ("unknown".into(), "-".into(), "no"),
        };
        println!(
            "{:>5}s {:>6} ms {:>10} {:>10} {:>12} ms {:>14} {:>11} {:>16}",
            r.stall_s, r.stall_ms, r.lost, r.acked, r.span_ms, reported, diff, within
        );
    }
}
