use super::*;
use crate::execute::StepStatus;
use crate::fence::CachePosition;

use crate::execute::fork::{sample as fork, NOON_05};

fn fenced(divergence: Vec<Divergence>, errors: Vec<String>) -> FenceOldPrimary {
    let mut f = FenceOldPrimary::pending("us-east-1");
    f.status = StepStatus::Done;
    f.waiting_for = None;
    f.fork = Some(fork());
    f.divergence = divergence;
    f.divergence_errors = errors;
    f
}

fn report(fork: Option<&ForkPositions>, fence: Option<&FenceOldPrimary>) -> Vec<String> {
    DivergenceReport::new("x-1", "emr", "us-east-1", fork, fence).lines()
}

#[test]
fn a_measured_divergence_says_the_fenced_primary_keeps_it() {
    let d = Divergence {
        tier: DataTier::Database,
        bytes: 2048,
        heartbeat_rows: 2,
        window_start_ms: Some(NOON_05),
        window_end_ms: Some(NOON_05 + 62_000),
        measured_at_ms: NOON_05 + 120_000,
    };
    let f = fork();
    let fence = fenced(vec![d.clone()], vec![]);
    let r = DivergenceReport::new("x-1", "emr", "us-east-1", Some(&f), Some(&fence));
    assert_eq!(r.tiers[0].measured, Some(d));
    assert_eq!(
        r.lines(),
        vec![
            "database: at the fork, replica at WAL 0/3000148, newest heartbeat 2026-12-01T12:00:05Z",
            "database: 2 KiB of WAL and 2 heartbeat rows written on the old primary after the fork, \
             12:00:05–12:01:07 UTC; the fenced old primary keeps these writes: recover them from it \
             before rebuilding us-east-1 from the new primary",
            "cache: position not read at the fork (redis replica cache-dr:6379: unreachable: refused): \
             nothing to measure",
        ]
    );
}

#[test]
fn a_pending_fence_is_not_measured_yet() {
    let f = fork();
    let mut fence = FenceOldPrimary::pending("us-east-1");
    fence.fork = Some(f.clone());
    assert_eq!(
        report(Some(&f), Some(&fence))[1],
        "database: not measured yet: us-east-1 has not answered since the failover"
    );
}

#[test]
fn every_reason_for_no_measurement_is_named() {
    assert_eq!(
        report(None, None),
        vec![
            "database: no position recorded at the fork (no heartbeat target for database, or the \
             execution ran on the simulated cloud): nothing to measure",
            "cache: no position recorded at the fork (no heartbeat target for cache, or the \
             execution ran on the simulated cloud): nothing to measure",
        ]
    );
    let only_db = ForkPositions {
        errors: vec![],
        ..fork()
    };
    let lines = report(Some(&only_db), None);
    assert_eq!(
        lines[1],
        "database: not measured: the policy does not fence the old primary on return (fencing.on_return)"
    );
    assert_eq!(
        lines[2],
        "cache: no heartbeat target for cache: nothing to measure"
    );
    let failed = fenced(
        vec![],
        vec!["database: postgres old primary db:5432: unreachable: timeout".into()],
    );
    assert_eq!(
        report(Some(&only_db), Some(&failed))[1],
        "database: not measured: postgres old primary db:5432: unreachable: timeout"
    );
}

#[test]
fn an_empty_divergence_says_nothing_was_written() {
    let cache = CachePosition {
        offset: 10,
        newest_heartbeat_ms: None,
        at_ms: NOON_05,
    };
    let f = ForkPositions {
        database: None,
        cache: Some(cache),
        errors: vec![],
    };
    let d = Divergence {
        tier: DataTier::Cache,
        bytes: 0,
        heartbeat_rows: 0,
        window_start_ms: None,
        window_end_ms: None,
        measured_at_ms: NOON_05,
    };
    let lines = report(Some(&f), Some(&fenced(vec![d], vec![])));
    assert_eq!(
        lines,
        vec![
            "database: no heartbeat target for database: nothing to measure",
            "cache: at the fork, replica at replication offset 10, no heartbeat",
            "cache: nothing written on the old primary after the fork",
        ]
    );
}
