//! The application's write pause during a failback, measured on real
//! PostgreSQL 15 and Redis servers.
//!
//! Each run is the scenario of tests/real/failback.rs, on fresh servers: a
//! primary/standby pair and a Redis pair behind the simulated cloud, rows
//! inserted every 10 ms; the primary is killed and the platform fails over,
//! a reprotect builds a new standby with `pg_basebackup` (and a Redis
//! replica), then the product's failback runs: its plan, built in the roles
//! the reprotect left, run by the executor (quiesce through the policy's
//! fencing method, drain until the replica holds everything, promote, lift
//! the quiesce on the new primary, then the reprotect the other way), and
//! the application moves to the new primary once the quiesce is lifted
//! there. The pause is the time from the last write the old primary
//! acknowledged to the first the new one did; the rows acknowledged before
//! the quiesce that the new primary lacks are counted. The step times are
//! the execution record's.
//!
//! Run: `DRCTL_PG_BIN=/usr/lib/postgresql/15/bin DRCTL_REDIS_SERVER=/usr/bin/redis-server
//! cargo bench --bench failback_pause [-- RUNS]` (10 runs by default).

#[path = "../tests/real_support/mod.rs"]
mod real_support;

use std::time::Duration;

use real_support::failback::{self, Home, StepTimes, LOAD, SCALE};

/// One run's figures.
struct Run {
    pause: Duration,
    steps: StepTimes,
    rows: usize,
    missing: usize,
    reprotect_modeled_ms: u64,
}

async fn one() -> Run {
    let mut home = Home::start().await;
    failback::fail_over(&mut home).await;
    let reprotected = failback::reprotect(&mut home).await;
    assert!(reprotected.row_replicated && reprotected.key_replicated);
    let f = failback::fail_back(&mut home, &reprotected).await;
    assert_eq!(
        f.record.status,
        drctl::execute::ExecutionStatus::Completed,
        "{:#?}",
        f.record.steps
    );
    Run {
        pause: f.pause,
        steps: f.steps,
        rows: f.before_quiesce.len(),
        missing: f.missing.count,
        reprotect_modeled_ms: reprotected.rto_ms,
    }
}

/// The `pct`th percentile of sorted `v` by nearest rank.
fn nearest_rank(v: &[Duration], pct: usize) -> Duration {
    let rank = (pct * v.len()).div_ceil(100).max(1);
    v[rank.min(v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut all = Vec::new();
    for i in 1..=runs {
        let r = rt.block_on(one());
        eprintln!(
            "run {i}/{runs}: pause {} ms, {} rows before the quiesce, {} missing",
            r.pause.as_millis(),
            r.rows,
            r.missing
        );
        all.push(r);
    }
    println!(
        "\nfailback on PostgreSQL 15 + Redis, writes every {} ms, simulated cloud latencies x{SCALE}; {runs} run(s)\n",
        LOAD.as_millis()
    );
    println!(
        "{:>4} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>14} {:>8}",
        "run", "pause", "quiesce", "drain", "promote", "lift", "failback", "rows before", "missing"
    );
    for (i, r) in all.iter().enumerate() {
        println!(
            "{:>4} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>14} {:>8}",
            i + 1,
            ms(r.pause),
            ms(r.steps.quiesce),
            ms(r.steps.drain),
            ms(r.steps.promote),
            ms(r.steps.lift),
            ms(r.steps.total),
            r.rows,
            r.missing
        );
    }
    let mut pauses: Vec<Duration> = all.iter().map(|r| r.pause).collect();
    pauses.sort_unstable();
    println!(
        "\nwrite pause: min {}, median {}, p95 {}, max {} (nearest rank); rows missing on the new primary: {}",
        ms(pauses[0]),
        ms(nearest_rank(&pauses, 50)),
        ms(nearest_rank(&pauses, 95)),
        ms(pauses[pauses.len() - 1]),
        all.iter().map(|r| r.missing).sum::<usize>()
    );
    println!(
        "reprotect, modeled at x{SCALE} (real pg_basebackup inside): {:?} ms per run",
        all.iter()
            .map(|r| r.reprotect_modeled_ms)
            .collect::<Vec<_>>()
    );
}
