//! After a failover: is the old primary writable? Until the old primary is
//! fenced (renamed out of its endpoint, its application roles revoked), a
//! region that comes back brings a second writer with it. Every site checks
//! each probe interval and raises `old primary writable` (status, the
//! verdict's sentence, `drctl_old_primary_writable`) while it is.

use tracing::{info, warn};

use super::Context;
use crate::cloud::{Cloud, FENCED_BY_TAG};
use crate::policy::Policy;

/// Why the old primary of `policy` accepts writes, when it does: a fencing
/// method finds application writers open, or the instance answers as an
/// available, standalone instance under the name clients use. `None` when
/// it is fenced and renamed, or its region does not answer.
pub async fn writable<C: Cloud>(cloud: &C, policy: &Policy) -> Option<String> {
    if let Ok(writers) = cloud.writer_fences(policy, &Default::default()) {
        for w in writers {
            let state = tokio::time::timeout(policy.detection.probe_timeout, w.state()).await;
            if let Ok(Ok(crate::fence::FenceState::Open { writers })) = state {
                return Some(format!(
                    "{}: {} (fence-old-primary applies the policy's fencing methods; runbooks/fencing.md)",
                    w.describe(),
                    writers.join(", ")
                ));
            }
        }
    }
    let db = policy.tiers.database.as_ref()?;
    let region = &policy.regions.primary;
    let read = cloud.get_database(region, &db.primary);
    match tokio::time::timeout(policy.detection.probe_timeout, read).await {
        Ok(Ok(Some(s)))
            if s.replica_source.is_none()
                && s.is_available()
                && !s.tags.contains_key(FENCED_BY_TAG) =>
        {
            Some(format!(
                "the old primary {} in {region} answers as an available, standalone instance under the name clients use: it accepts writes beside the promoted replica until fence-old-primary renames it (runbooks/fencing.md)",
                db.primary
            ))
        }
        _ => None,
    }
}

impl Context {
    /// Whether `policy` has failed over away from its primary region, as
    /// the replicated state says.
    pub fn failed_over(&self, policy: &Policy) -> bool {
        let a = self.applied.read().expect("state lock");
        super::roles::failed_over_to(a.state.policies.get(&policy.name), policy).is_some()
    }

    /// Records what the newest check found, logging changes; notifies
    /// `old_primary_writable` while it is (once per incident: repeats are
    /// dropped on announcing) and `old_primary_fenced` once it is not.
    pub fn set_old_primary_writable(&self, policy: &str, why: Option<String>) {
        use crate::notify::EventKind as K;
        match &why {
            Some(why) => self.notify_condition(K::OldPrimaryWritable, policy, why.clone()),
            None => self.notify_condition(
                K::OldPrimaryFenced,
                policy,
                "the old primary no longer accepts writes".into(),
            ),
        }
        let mut d = self.detection.write().expect("detection lock");
        match why {
            Some(why) => {
                if d.old_primary_writable.get(policy) != Some(&why) {
                    warn!(policy, %why, "ALARM: old primary writable after the failover");
                }
                d.old_primary_writable.insert(policy.to_string(), why);
            }
            None => {
                if d.old_primary_writable.remove(policy).is_some() {
                    info!(policy, "the old primary is no longer writable");
                }
            }
        }
    }

    /// Why the old primary of `policy` is writable, if it is.
    pub fn old_primary_writable(&self, policy: &str) -> Option<String> {
        let d = self.detection.read().expect("detection lock");
        d.old_primary_writable.get(policy).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::cloud::Database;
    use crate::model::Epoch;
    use crate::model::Fence;

    #[tokio::test(start_paused = true)]
    async fn the_old_primary_is_writable_until_renamed_and_unknown_while_its_region_is_out() {
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
        let why = writable(&sim, &policy)
            .await
            .expect("a live primary is writable");
        assert!(
            why.contains("database writers emr_app, emr_batch, drctl_heartbeat"),
            "{why}"
        );
        sim.set_region_outage(["us-east-1".to_string()]);
        assert_eq!(writable(&sim, &policy).await, None);
        sim.set_region_outage(Vec::<String>::new());
        let fence = Fence {
            execution_id: "x".into(),
            epoch: Epoch::default(),
        };
        for tier in ["database", "cache"] {
            sim.set_writers_fenced("us-east-1", tier, true)
                .await
                .unwrap();
        }
        let why = writable(&sim, &policy).await.expect("not renamed yet");
        assert!(why.contains("emr-platform-prod in us-east-1"), "{why}");
        sim.ensure_renamed("us-east-1", "emr-platform-prod", "renamed", &[], &fence)
            .await
            .unwrap();
        assert_eq!(writable(&sim, &policy).await, None);
    }
}
