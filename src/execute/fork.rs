//! The fork: where each data tier's replica stood right before promotion.
//!
//! The RPO gate is the last step before the replicas are promoted, so it
//! reads, for each data tier with a heartbeat target, the replica's
//! position ([`record_postgres`], [`record_redis`]) and the execution keeps
//! it. Once the old primary answers again, what it accepted after that
//! position is the divergence (see `fence_return::divergence`). A position
//! that cannot be read becomes an error line: it never holds the gate, and
//! each read is bounded by `detection.probe_timeout`.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fence::{record_postgres, record_redis, CachePosition, DatabasePosition, FenceError};
use crate::model::DataTier;
use crate::policy::{HeartbeatTarget, Policy};

/// The replicas' positions at the fork, as the execution records them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkPositions {
    /// The PostgreSQL replica's position (`None`: no heartbeat target, or
    /// it could not be read: see `errors`).
    #[serde(default)]
    pub database: Option<DatabasePosition>,
    /// The Redis replica's position.
    #[serde(default)]
    pub cache: Option<CachePosition>,
    /// Why a tier's position could not be read, a line per tier:
    /// `database: postgres replica db-dr:5432: unreachable: …`.
    #[serde(default)]
    pub errors: Vec<String>,
}

impl ForkPositions {
    /// The error line of `tier`, when its position could not be read.
    pub fn error_of(&self, tier: DataTier) -> Option<&str> {
        let prefix = format!("{}: ", tier.name());
        self.errors
            .iter()
            .find(|e| e.starts_with(&prefix))
            .map(String::as_str)
    }

    /// The recorded position of `tier` as a sentence, when there is one:
    /// `replica at WAL 0/3000148, newest heartbeat 2026-12-01T12:00:05Z`.
    pub fn position_of(&self, tier: DataTier) -> Option<String> {
        let (at, beat) = match tier {
            DataTier::Database => {
                let p = self.database.as_ref()?;
                (format!("WAL {}", p.lsn), p.newest_heartbeat_ms)
            }
            DataTier::Cache => {
                let p = self.cache.as_ref()?;
                (
                    format!("replication offset {}", p.offset),
                    p.newest_heartbeat_ms,
                )
            }
            _ => return None,
        };
        let beat = beat.map_or_else(
            || "no heartbeat".to_string(),
            |ms| format!("newest heartbeat {}", utc(ms)),
        );
        Some(format!("replica at {at}, {beat}"))
    }
}

/// Reads every tier's replica position, the tiers at once. `None` when the
/// policy has no heartbeat target (there is no server to read: the
/// simulated cloud's own tiers). Never fails: a tier that cannot be read
/// is an error line.
pub async fn record(policy: &Policy) -> Option<ForkPositions> {
    let hb = &policy.detection.heartbeats;
    if hb.database.is_none() && hb.cache.is_none() {
        return None;
    }
    let timeout = policy.detection.probe_timeout;
    let database = async {
        let t = hb.database.as_ref()?;
        let read = |pw: Option<String>| async move {
            record_postgres(&t.replica, pw.as_deref(), t.ca_file.as_deref(), timeout).await
        };
        Some(read_bounded(DataTier::Database, (t, HB_DATABASE_PASSWORD), timeout, read).await)
    };
    let cache = async {
        let t = hb.cache.as_ref()?;
        let read = |pw: Option<String>| async move {
            record_redis(&t.replica, pw.as_deref(), timeout).await
        };
        Some(read_bounded(DataTier::Cache, (t, HB_CACHE_PASSWORD), timeout, read).await)
    };
    let (database, cache) = tokio::join!(database, cache);
    let mut fork = ForkPositions::default();
    match database {
        Some(Ok(p)) => fork.database = Some(p),
        Some(Err(e)) => fork.errors.push(e),
        None => {}
    }
    match cache {
        Some(Ok(p)) => fork.cache = Some(p),
        Some(Err(e)) => fork.errors.push(e),
        None => {}
    }
    Some(fork)
}

/// Where the database heartbeat's password is set, for errors.
pub(super) const HB_DATABASE_PASSWORD: &str = "detection.heartbeats.database.password";
/// Where the cache heartbeat's password is set, for errors.
pub(super) const HB_CACHE_PASSWORD: &str = "detection.heartbeats.cache.password";

/// Reads `target`'s password, then runs `read` within `timeout`; every
/// failure is a line naming the tier (and the policy field for a password
/// that cannot be read). Shared with the measurement on return.
pub(super) async fn read_bounded<T, F, Fut>(
    tier: DataTier,
    (target, field): (&HeartbeatTarget, &str),
    timeout: Duration,
    read: F,
) -> Result<T, String>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<T, FenceError>>,
{
    let name = tier.name();
    let password = target
        .password
        .read()
        .map_err(|e| format!("{name}: {field}: {e}"))?;
    match tokio::time::timeout(timeout, read(password)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{name}: {e}")),
        Err(_) => Err(format!(
            "{name}: no answer within {} (detection.probe_timeout)",
            crate::duration::fmt(timeout)
        )),
    }
}

/// `ms` (Unix ms) as RFC 3339 UTC, to the second.
pub(crate) fn utc(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// 2026-12-01 12:00:05 UTC in Unix ms, the tests' fork time.
#[cfg(test)]
pub(super) const NOON_05: u64 = 1_796_126_405_000;

/// A fork the tests share: the database's position recorded, the cache's
/// replica unreachable.
#[cfg(test)]
pub(super) fn sample() -> ForkPositions {
    ForkPositions {
        database: Some(DatabasePosition {
            lsn: "0/3000148".into(),
            newest_heartbeat_ms: Some(NOON_05),
            at_ms: NOON_05 + 1,
        }),
        cache: None,
        errors: vec!["cache: redis replica cache-dr:6379: unreachable: refused".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::sample as fork;
    use super::*;
    use crate::policy::SecretSource;

    #[test]
    fn positions_and_errors_are_read_per_tier() {
        let f = fork();
        assert_eq!(
            f.position_of(DataTier::Database).as_deref(),
            Some("replica at WAL 0/3000148, newest heartbeat 2026-12-01T12:00:05Z")
        );
        assert_eq!(f.position_of(DataTier::Cache), None);
        assert_eq!(f.error_of(DataTier::Database), None);
        assert_eq!(
            f.error_of(DataTier::Cache),
            Some("cache: redis replica cache-dr:6379: unreachable: refused")
        );
    }

    #[test]
    fn fork_positions_round_trip_and_default_when_absent() {
        let f = fork();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<ForkPositions>(&json).unwrap(), f);
        assert_eq!(
            serde_json::from_str::<ForkPositions>("{}").unwrap(),
            ForkPositions::default()
        );
    }

    #[tokio::test]
    async fn no_heartbeat_target_records_nothing() {
        let core = include_str!("../../policies/emr-platform-core.yaml");
        let policy = crate::policy::parse(std::path::Path::new("core.yaml"), core).unwrap();
        assert_eq!(record(&policy).await, None);
    }

    #[tokio::test]
    async fn a_password_that_cannot_be_read_is_an_error_line_naming_the_field() {
        let target = HeartbeatTarget {
            primary: "host=127.0.0.1 port=1".into(),
            replica: "host=127.0.0.1 port=1".into(),
            password: SecretSource::File("/nonexistent/drctl-hb".into()),
            ca_file: None,
        };
        let called = std::sync::atomic::AtomicBool::new(false);
        let r: Result<(), String> = read_bounded(
            DataTier::Database,
            (&target, HB_DATABASE_PASSWORD),
            Duration::from_secs(1),
            |_| {
                called.store(true, std::sync::atomic::Ordering::Relaxed);
                async { Ok(()) }
            },
        )
        .await;
        let e = r.unwrap_err();
        assert!(
            e.starts_with("database: detection.heartbeats.database.password: cannot read /nonexistent/drctl-hb"),
            "{e}"
        );
        assert!(!called.into_inner());
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_that_does_not_answer_is_bounded_by_the_probe_timeout() {
        let target = HeartbeatTarget {
            primary: String::new(),
            replica: String::new(),
            password: SecretSource::None,
            ca_file: None,
        };
        let r: Result<(), String> = read_bounded(
            DataTier::Cache,
            (&target, HB_CACHE_PASSWORD),
            Duration::from_secs(3),
            |_| std::future::pending(),
        )
        .await;
        assert_eq!(
            r.unwrap_err(),
            "cache: no answer within 3s (detection.probe_timeout)"
        );
    }
}
