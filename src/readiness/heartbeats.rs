//! Heartbeats are fresh at every site: each controller site (both regions
//! and the witness) has written and reported a round recently enough for
//! the detector to count it, so a confirmed failure can be reached.

use serde::{Deserialize, Serialize};

use super::{Check, Inputs, Status};
use crate::policy::Policy;

/// Every site's newest heartbeat round is fresh.
pub const HEARTBEATS: &str = "heartbeats";

/// One controller site's newest heartbeat round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteBeat {
    /// The site (its region).
    pub site: String,
    /// When its newest round started, Unix milliseconds by the site's own
    /// clock (`None`: never).
    pub last_at_ms: Option<u64>,
    /// When that round was received, Unix milliseconds by the evaluating
    /// node's clock (`None`: not known); compared with `last_at_ms` by the
    /// `clocks` check.
    #[serde(default)]
    pub received_at_ms: Option<u64>,
}

/// Judges the sites' heartbeats against the detector's staleness bound.
pub(super) fn check(policy: &Policy, inputs: &Inputs<'_>) -> Check {
    let Some(sites) = &inputs.sites else {
        return Check::new(
            HEARTBEATS,
            Status::Warn,
            "heartbeats are written by the controller sites and cannot be seen from here; \
             `drctl status --controller URL` shows each site's newest round",
        );
    };
    let stale = crate::detect::stale_after(policy);
    let stale_ms = stale.as_millis() as u64;
    let r = &policy.regions;
    let mut problems = Vec::new();
    for want in [&r.primary, &r.secondary, &r.witness] {
        let beat = sites.iter().find(|s| &s.site == want);
        match beat.and_then(|b| b.last_at_ms) {
            None => problems.push(format!("site {want} has reported no round")),
            Some(at) if inputs.now_ms.saturating_sub(at) > stale_ms => {
                let age = std::time::Duration::from_millis(inputs.now_ms - at);
                problems.push(format!(
                    "site {want}'s newest round is {} old (stale after {})",
                    crate::duration::fmt(age),
                    crate::duration::fmt(stale)
                ));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return Check::new(
            HEARTBEATS,
            Status::Pass,
            format!(
                "all three sites reported a round within {}",
                crate::duration::fmt(stale)
            ),
        );
    }
    Check::new(
        HEARTBEATS,
        Status::Fail,
        format!(
            "{}: without a majority of fresh sites no failure can be confirmed; check that \
             site's controller and its path to the primary (runbooks/controller.md)",
            problems.join("; ")
        ),
    )
}
