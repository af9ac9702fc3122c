//! The RPO gate waits for the self-fence lease of the region being left.
//!
//! A region cut off from the majority looks the same as a region gone. Its
//! controller fences the writers it reaches once it has been cut off for
//! `fencing.self_fence_after`; counted from when the majority last heard
//! from it, plus the clock-skew allowance, that moment has passed before
//! the gate measures and the replica is promoted. Only then do the
//! exposure figures bound the loss; the journal records both times.

use std::time::Duration;

use super::PrimaryController;
use crate::clock::now_ms;
use crate::plan::ExposureBasis;
use crate::policy::Policy;

/// What the lease gave the gate.
pub(super) struct Lease {
    /// What the exposure figures rest on.
    pub basis: ExposureBasis,
    /// The times, for the journal's decisions.
    pub decision: Option<String>,
}

/// Waits, when the policy self-fences and the controller of the region
/// being left was heard from, until its lease has ended; says what the
/// exposure figures then rest on.
pub(super) async fn wait_for_lease(
    policy: &Policy,
    primary_controller: PrimaryController,
    notes: &(dyn Fn(String) + Sync),
) -> Lease {
    let primary = &policy.regions.primary;
    let Some(fencing) = policy.fencing.as_ref() else {
        return Lease {
            basis: ExposureBasis::default(),
            decision: None,
        };
    };
    let last = match primary_controller {
        PrimaryController::LastHeard(ms) => ms,
        PrimaryController::Unknown => {
            return Lease {
                basis: ExposureBasis {
                    bounded: false,
                    why: format!(
                        "no controller heard from {primary}'s (a run outside the cluster, or it never reported): whether it fenced its writers is unknown"
                    ),
                },
                decision: None,
            }
        }
        PrimaryController::InContact => {
            return Lease {
                basis: ExposureBasis {
                    bounded: false,
                    why: format!(
                        "{primary}'s controller is in contact with the majority, so it does not fence itself: the old primary is fenced once the failover ends ({})",
                        super::fence_return::STEP
                    ),
                },
                decision: None,
            }
        }
    };
    let lease = fencing.promotion_not_before(&policy.detection);
    let ends = last.saturating_add(lease.as_millis() as u64);
    let now = now_ms();
    if now < ends {
        let wait = Duration::from_millis(ends - now);
        notes(format!(
            "waiting {} for {primary}'s self-fence lease: its controller was last heard at {}, and has fenced its writers by {}",
            crate::duration::fmt(wait),
            stamp(last),
            stamp(ends)
        ));
        tokio::time::sleep(wait).await;
    }
    Lease {
        basis: ExposureBasis {
            bounded: true,
            why: format!(
                "{primary}'s controller fences its writers within its lease, which ended at {}; the figures were measured after",
                stamp(ends)
            ),
        },
        decision: Some(format!(
            "{primary}'s controller was last heard at {}; its self-fence lease (one probe interval {} + fencing.self_fence_after {} + max_clock_skew {}) ended at {}; the gate measured and promotion started after it",
            stamp(last),
            crate::duration::fmt(policy.detection.probe_interval),
            crate::duration::fmt(fencing.self_fence_after),
            crate::duration::fmt(fencing.max_clock_skew),
            stamp(ends)
        )),
    }
}

/// Unix milliseconds as RFC 3339.
fn stamp(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn shipped() -> Policy {
        crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_waits_until_the_lease_has_ended_and_records_both_times() {
        let policy = shipped();
        let notes = Mutex::new(Vec::new());
        let heard = now_ms() - 5_000;
        let started = tokio::time::Instant::now();
        let lease = wait_for_lease(&policy, PrimaryController::LastHeard(heard), &|n| {
            notes.lock().unwrap().push(n)
        })
        .await;
        // 60 s interval + 120 s lease + 5 s skew, heard 5 s ago: 180 s left.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(179) && waited <= Duration::from_secs(181),
            "{waited:?}"
        );
        assert!(lease.basis.bounded);
        assert!(lease
            .basis
            .to_string()
            .starts_with("bounded: us-east-1's controller fences"));
        let d = lease.decision.unwrap();
        assert!(d.contains("last heard at") && d.contains("ended at"), "{d}");
        assert!(
            notes.lock().unwrap()[0]
                .contains("for us-east-1's self-fence lease: its controller was last heard at"),
            "{:?}",
            notes.lock().unwrap()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_lease_the_figures_are_assumed() {
        let policy = shipped();
        let lease = wait_for_lease(&policy, PrimaryController::Unknown, &|_| {}).await;
        assert!(!lease.basis.bounded);
        assert!(lease
            .basis
            .to_string()
            .starts_with("assumed: no controller heard"));
        let lease = wait_for_lease(&policy, PrimaryController::InContact, &|_| {}).await;
        assert!(
            lease.basis.why.contains("does not fence itself"),
            "{}",
            lease.basis
        );
        let mut unfenced = shipped();
        unfenced.fencing = None;
        let lease =
            wait_for_lease(&unfenced, PrimaryController::LastHeard(now_ms()), &|_| {}).await;
        assert!(!lease.basis.bounded);
        assert!(lease.decision.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_already_over_does_not_wait() {
        let policy = shipped();
        let started = tokio::time::Instant::now();
        let lease = wait_for_lease(
            &policy,
            PrimaryController::LastHeard(now_ms() - 600_000),
            &|_| panic!("no wait"),
        )
        .await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(lease.basis.bounded);
    }
}
