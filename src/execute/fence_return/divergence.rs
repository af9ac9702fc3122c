//! Measuring, once the old primary is fenced, what it accepted after the
//! fork: for each tier whose replica position the RPO gate recorded, the
//! old primary named by the tier's heartbeat target (`primary`; for the
//! database, the fencing role's connection when the policy fences it) is
//! read with [`measure_postgres`] or [`measure_redis`]. The fenced instance
//! keeps those writes; the report says so, so that a person recovers them
//! before the old region is rebuilt from the new primary.

use crate::execute::fork::{read_bounded, ForkPositions, HB_CACHE_PASSWORD, HB_DATABASE_PASSWORD};
use crate::fence::{measure_postgres, measure_redis, Divergence};
use crate::model::DataTier;
use crate::policy::Policy;

use super::FenceOldPrimary;

/// What the old primary accepted after the fork, per tier, and the tiers
/// that could not be measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    /// One per tier measured.
    pub divergence: Vec<Divergence>,
    /// Why a tier could not be measured, a line per tier
    /// (`database: postgres old primary db:5432: unreachable: …`).
    pub errors: Vec<String>,
}

/// Measures every tier of `fork` on the old primaries, the tiers at once,
/// each bounded by `detection.probe_timeout`. A tier with a position but no
/// heartbeat target any more (the policy changed) is an error line.
pub async fn measure(policy: &Policy, fork: &ForkPositions) -> Measured {
    let hb = &policy.detection.heartbeats;
    let timeout = policy.detection.probe_timeout;
    let missing = |tier: DataTier| {
        let name = tier.name();
        Err(format!(
            "{name}: no heartbeat target (detection.heartbeats.{name}) to reach the old primary"
        ))
    };
    // The database is read as the fencing role when the policy fences it:
    // the heartbeat role may be among the roles it fenced.
    let fencing_role = policy
        .fencing
        .as_ref()
        .and_then(|f| f.database.as_ref())
        .map(|d| crate::policy::HeartbeatTarget {
            primary: d.connection.clone(),
            replica: d.connection.clone(),
            password: d.password.clone(),
            ca_file: d.ca_file.clone(),
        });
    let database = async {
        let since = fork.database.as_ref()?;
        let (t, field) = match (fencing_role.as_ref(), hb.database.as_ref()) {
            (Some(t), _) => (t, "fencing.database.password"),
            (None, Some(t)) => (t, HB_DATABASE_PASSWORD),
            (None, None) => return Some(missing(DataTier::Database)),
        };
        let read = |pw: Option<String>| async move {
            let ca = t.ca_file.as_deref();
            measure_postgres(&t.primary, pw.as_deref(), ca, timeout, since).await
        };
        Some(read_bounded(DataTier::Database, (t, field), timeout, read).await)
    };
    let cache = async {
        let since = fork.cache.as_ref()?;
        let Some(t) = hb.cache.as_ref() else {
            return Some(missing(DataTier::Cache));
        };
        let read = |pw: Option<String>| async move {
            measure_redis(&t.primary, pw.as_deref(), timeout, since).await
        };
        Some(read_bounded(DataTier::Cache, (t, HB_CACHE_PASSWORD), timeout, read).await)
    };
    let (database, cache) = tokio::join!(database, cache);
    let mut out = Measured::default();
    for r in [database, cache].into_iter().flatten() {
        match r {
            Ok(d) => out.divergence.push(d),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// Measures the divergence once the writers are fenced, before the rename,
/// and keeps it on `state`; nothing to do without a recorded fork position.
pub(super) async fn measure_after_fence(policy: &Policy, state: &mut FenceOldPrimary) {
    let Some(fork) = state.fork.as_ref() else {
        return;
    };
    if fork.database.is_none() && fork.cache.is_none() {
        return;
    }
    let m = measure(policy, fork).await;
    state.divergence = m.divergence;
    state.divergence_errors = m.errors;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fence::DatabasePosition;

    fn policy_with_database_heartbeat(primary: &str) -> Policy {
        let core = include_str!("../../../policies/emr-platform-core.yaml");
        let text = core.replace(
            "detection:\n",
            &format!(
                "detection:\n  heartbeats:\n    database:\n      primary: {primary}\n      replica: host=127.0.0.1 port=1\n"
            ),
        );
        crate::policy::parse(std::path::Path::new("test.yaml"), &text).unwrap()
    }

    fn fork() -> ForkPositions {
        ForkPositions {
            database: Some(DatabasePosition {
                lsn: "0/3000148".into(),
                newest_heartbeat_ms: None,
                at_ms: 1,
            }),
            ..ForkPositions::default()
        }
    }

    #[tokio::test]
    async fn a_tier_without_a_heartbeat_target_any_more_is_an_error_line() {
        let core = include_str!("../../../policies/emr-platform-core.yaml");
        let policy = crate::policy::parse(std::path::Path::new("core.yaml"), core).unwrap();
        let m = measure(&policy, &fork()).await;
        assert_eq!(m.divergence, vec![]);
        assert_eq!(
            m.errors,
            vec![
                "database: no heartbeat target (detection.heartbeats.database) to reach the old primary"
                    .to_string()
            ]
        );
    }

    #[tokio::test]
    async fn an_old_primary_that_refuses_connections_is_an_error_line_naming_it() {
        // Port 1 on loopback refuses at once.
        let policy = policy_with_database_heartbeat("host=127.0.0.1 port=1 user=drctl");
        let mut state = FenceOldPrimary::pending("us-east-1");
        state.fork = Some(fork());
        measure_after_fence(&policy, &mut state).await;
        assert!(state.divergence.is_empty());
        assert_eq!(
            state.divergence_errors.len(),
            1,
            "{:?}",
            state.divergence_errors
        );
        let e = &state.divergence_errors[0];
        assert!(
            e.starts_with("database: postgres old primary 127.0.0.1:1"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn without_a_fork_position_nothing_is_measured() {
        let policy = policy_with_database_heartbeat("host=127.0.0.1 port=1");
        let mut state = FenceOldPrimary::pending("us-east-1");
        measure_after_fence(&policy, &mut state).await;
        state.fork = Some(ForkPositions {
            errors: vec!["database: unreachable".into()],
            ..ForkPositions::default()
        });
        measure_after_fence(&policy, &mut state).await;
        assert!(state.divergence.is_empty() && state.divergence_errors.is_empty());
    }
}
