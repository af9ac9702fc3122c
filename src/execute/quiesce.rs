//! The failback's quiesce: the policy's writer fences stop the
//! application's writes in the active region (`quiesce-writers`), and give
//! them back in a region (`lift-quiesce` on the new primary's side,
//! `undo-quiesce` on the old side when the promotion cannot follow).

use std::collections::BTreeMap;

use crate::cloud::{CloudError, CloudResult, ErrorKind, Writers};
use crate::fence::{FenceError, WriterFence};
use crate::model::{Fence, Op, Orientation};
use crate::plan::Action;
use crate::policy::Policy;

/// `policy` read with `region` as its primary region: the writer fences
/// are built for the policy's primary region.
fn policy_for(policy: &Policy, region: &str) -> Policy {
    if policy.regions.primary == region {
        policy.clone()
    } else {
        policy.oriented(Orientation::Reversed)
    }
}

/// What `unfence` restores that the servers do not keep themselves: the
/// ElastiCache access strings from before a quiesce (user id → access
/// string), per region, as its `fence` calls returned them.
pub type Restore = BTreeMap<String, String>;

/// The access strings a quiesce step hands on: `given`, recorded by this
/// execution's quiesce of the step's region (for a lift or an undo), and
/// `recorded`, what the step's own fence calls returned (to journal).
#[derive(Debug, Default)]
pub struct StepRestore {
    /// For an unfence: what the quiesce of the region recorded.
    pub given: Restore,
    /// What this step's fence calls returned so far.
    pub recorded: std::sync::Mutex<Restore>,
}

impl StepRestore {
    /// Keeps `more`, the first entry per user (a repeated fence never
    /// returns the fenced string as the one to restore).
    pub fn record(&self, more: Restore) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        for (user, access) in more {
            recorded.entry(user).or_insert(access);
        }
    }

    /// What the step's fence calls recorded.
    pub fn recorded(&self) -> Restore {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn fences<C: Writers + ?Sized>(
    cloud: &C,
    policy: &Policy,
    region: &str,
    restore: &Restore,
) -> CloudResult<Vec<Box<dyn WriterFence>>> {
    cloud
        .writer_fences(&policy_for(policy, region), restore)
        .map_err(|e| CloudError::new(ErrorKind::Fatal, Op::FenceWriters, region.to_string(), e))
}

fn cloud_error(region: &str, e: &FenceError) -> CloudError {
    let kind = match e {
        FenceError::Unreachable { .. } => ErrorKind::Retryable,
        _ => ErrorKind::Fatal,
    };
    CloudError::new(kind, Op::FenceWriters, region.to_string(), e.to_string())
}

/// The region and whether the step wants the writers fenced there; `None`
/// when `action` is not a quiesce step.
pub(super) fn target(action: &Action) -> Option<(&str, bool)> {
    match action {
        Action::QuiesceWriters { region } => Some((region, true)),
        Action::LiftQuiesce { region } | Action::UndoQuiesce { region } => Some((region, false)),
        _ => None,
    }
}

/// Whether every writer fence of the step's region is as the step wants
/// (fenced for a quiesce, open for a lift or an undo).
pub async fn postcondition<C: Writers + ?Sized>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
) -> Option<CloudResult<bool>> {
    let (region, fenced) = target(action)?;
    let check = async {
        for f in fences(cloud, policy, region, &Restore::new())? {
            let state = f.state().await.map_err(|e| cloud_error(region, &e))?;
            if state.is_fenced() != fenced {
                return Ok(false);
            }
        }
        Ok(true)
    };
    Some(check.await)
}

/// Whether any of the policy's writers in `region` is fenced: a failback
/// that left `region` quiesced them there.
pub(super) async fn any_fenced<C: Writers + ?Sized>(
    cloud: &C,
    policy: &Policy,
    region: &str,
) -> CloudResult<bool> {
    for f in fences(cloud, policy, region, &Restore::new())? {
        if f.state()
            .await
            .map_err(|e| cloud_error(region, &e))?
            .is_fenced()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Fences (quiesce) or unfences (lift, undo) every writer of the step's
/// region; each call is idempotent. An unfence is given `restore.given`,
/// what the quiesce of this region recorded; what each fence returns is
/// kept in `restore` as it returns, so a later fence that fails loses
/// nothing an earlier one changed.
pub async fn act<C: Writers + ?Sized>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
    _fence: &Fence,
    restore: &StepRestore,
) -> Option<CloudResult<()>> {
    let (region, fenced) = target(action)?;
    let run = async {
        for f in fences(cloud, policy, region, &restore.given)? {
            let done = if fenced {
                f.fence().await
            } else {
                f.unfence().await
            };
            let outcome = done.map_err(|e| cloud_error(region, &e))?;
            restore.record(outcome.restore);
        }
        Ok(())
    };
    Some(run.await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::Epoch;

    #[tokio::test(start_paused = true)]
    async fn a_quiesce_fences_the_active_writers_and_an_undo_gives_them_back() {
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
        let fence = Fence {
            execution_id: "fb-1".into(),
            epoch: Epoch::default(),
        };
        let quiesce = Action::QuiesceWriters {
            region: "us-east-1".into(),
        };
        let undo = Action::UndoQuiesce {
            region: "us-east-1".into(),
        };
        let holds = |a| postcondition(&sim, &policy, a);
        assert!(!holds(&quiesce).await.unwrap().unwrap());
        let none = StepRestore::default();
        act(&sim, &policy, &quiesce, &fence, &none)
            .await
            .unwrap()
            .unwrap();
        assert!(holds(&quiesce).await.unwrap().unwrap());
        assert!(sim.writers_fenced("us-east-1", "database").await.unwrap());
        assert!(!sim.writers_fenced("us-west-2", "database").await.unwrap());
        act(&sim, &policy, &undo, &fence, &none)
            .await
            .unwrap()
            .unwrap();
        assert!(holds(&undo).await.unwrap().unwrap());
        assert!(!sim.writers_fenced("us-east-1", "database").await.unwrap());
    }
}

/// Waits until every data tier's replica holds all the active primary
/// wrote (exposure measured 0), at most `timeout`; fails naming the tiers
/// still behind and by how much, so the quiesce can be undone.
pub async fn drain(
    exposures: &dyn crate::cloud::ExposureSource,
    policy: &Policy,
    timeout: std::time::Duration,
) -> Result<String, String> {
    use crate::model::{DataTier, Exposure};
    let started = tokio::time::Instant::now();
    let tiers: Vec<DataTier> = [
        (DataTier::Database, policy.tiers.database.is_some()),
        (DataTier::Cache, policy.tiers.cache.is_some()),
        (DataTier::Stream, policy.tiers.stream.is_some()),
    ]
    .into_iter()
    .filter_map(|(t, has)| has.then_some(t))
    .collect();
    loop {
        let mut behind = Vec::new();
        for &t in &tiers {
            let e = exposures.exposure(policy, t).await;
            match e.map(|m| m.exposure) {
                Ok(Exposure::Known(d)) if d.is_zero() => {}
                Ok(e) => behind.push(format!("{} {e} behind", t.name())),
                Err(e) => behind.push(format!("{} unreadable: {}", t.name(), e.message)),
            }
        }
        if behind.is_empty() {
            return Ok(format!(
                "every replica in {} holds all that was written before the quiesce (exposure 0)",
                policy.regions.secondary
            ));
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "not drained after {} (failback.drain_timeout, within failback.max_write_pause): {}; the exposure is not \
                 provably zero, so the failback does not promote",
                crate::duration::fmt(timeout),
                behind.join(", ")
            ));
        }
        tokio::time::sleep(policy.execution.poll_interval).await;
    }
}

#[cfg(test)]
mod drain_tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::{DataTier, Exposure};
    use std::time::Duration;

    fn shipped() -> Policy {
        crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap()
    }

    fn sim(policy: &Policy, database: Exposure) -> SimCloud {
        let lag = [
            (DataTier::Database, database),
            (DataTier::Cache, Exposure::Known(Duration::ZERO)),
            (DataTier::Stream, Exposure::Known(Duration::ZERO)),
        ];
        let options = SimOptions {
            lag: lag.into_iter().collect(),
            ..SimOptions::default()
        };
        SimCloud::new(policy, options).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_with_the_replica_behind_refuses_naming_the_tier() {
        let policy = shipped();
        let behind = sim(&policy, Exposure::Known(Duration::from_secs(40)));
        let err = drain(&behind, &policy, Duration::from_secs(300))
            .await
            .unwrap_err();
        assert!(err.contains("database 40s behind"), "{err}");
        assert!(err.contains("failback.drain_timeout"), "{err}");
        let caught_up = sim(&policy, Exposure::Known(Duration::ZERO));
        let ok = drain(&caught_up, &policy, Duration::from_secs(300)).await;
        assert!(ok.is_ok(), "{ok:?}");
    }
}
