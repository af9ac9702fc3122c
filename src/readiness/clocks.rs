//! The sites' clocks agree: fencing's lease and the detector's round
//! times assume no two sites' clocks differ by more than
//! `fencing.max_clock_skew`. Each site stamps its rounds with its own
//! clock; the node that received the newest one noted its own clock then.

use std::time::Duration;

use super::{Check, Inputs, Status};
use crate::policy::Policy;

/// Every site's clock is within the allowed skew of this node's.
pub const CLOCKS: &str = "clocks";

/// The skew allowed when the policy has no `fencing` section: the same as
/// `fencing.max_clock_skew`'s default (5s).
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = crate::policy::DEFAULT_MAX_CLOCK_SKEW;

/// The skew `policy` allows: `fencing.max_clock_skew`, else the default.
pub fn max_clock_skew(policy: &Policy) -> Duration {
    policy
        .fencing
        .as_ref()
        .map_or(DEFAULT_MAX_CLOCK_SKEW, |f| f.max_clock_skew)
}

/// Compares each site's newest round stamp with when it was received.
///
/// A round is stamped when it starts and sent when its probes end, within
/// the probe timeout, so with agreeing clocks it arrives between its stamp
/// and the stamp plus the probe timeout. A stamp later than its arrival
/// means the site's clock is ahead by at least the difference; an arrival
/// later than stamp plus probe timeout means it is behind by at least the
/// excess. Either beyond the allowed skew fails.
pub(super) fn check(policy: &Policy, inputs: &Inputs<'_>) -> Check {
    let Some(sites) = &inputs.sites else {
        return Check::new(
            CLOCKS,
            Status::Warn,
            "the sites' clocks are compared by the controllers from their heartbeat rounds \
             and cannot be seen from here; `drctl status --controller URL` shows the \
             controllers' readiness",
        );
    };
    let skew = max_clock_skew(policy);
    let skew_ms = skew.as_millis() as u64;
    let allowance_ms = policy.detection.probe_timeout.as_millis() as u64;
    let r = &policy.regions;
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    for want in [&r.primary, &r.secondary, &r.witness] {
        let beat = sites.iter().find(|s| &s.site == want);
        let Some((at, received)) = beat.and_then(|b| b.last_at_ms.zip(b.received_at_ms)) else {
            unknown.push(want.as_str());
            continue;
        };
        let ahead = at.saturating_sub(received);
        let behind = received.saturating_sub(at).saturating_sub(allowance_ms);
        let fmt = |ms: u64| crate::duration::fmt(Duration::from_millis(ms));
        if ahead > skew_ms {
            problems.push(format!(
                "site {want}'s clock is {} ahead of this node's",
                fmt(ahead)
            ));
        } else if behind > skew_ms {
            problems.push(format!(
                "site {want}'s clock is at least {} behind this node's",
                fmt(behind)
            ));
        }
    }
    let limit = crate::duration::fmt(skew);
    if !problems.is_empty() {
        return Check::new(
            CLOCKS,
            Status::Fail,
            format!(
                "{} (allowed: fencing.max_clock_skew {limit}): the self-fence lease and the \
                 detector's round times rely on it; fix that host's time sync (chrony/NTP) \
                 (runbooks/controller.md)",
                problems.join("; ")
            ),
        );
    }
    if !unknown.is_empty() {
        return Check::new(
            CLOCKS,
            Status::Warn,
            format!(
                "no round received from {}: its clock cannot be compared",
                unknown.join(", ")
            ),
        );
    }
    Check::new(
        CLOCKS,
        Status::Pass,
        format!("all three sites' clocks agree within {limit}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::SiteBeat;

    fn policy() -> Policy {
        crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY)).unwrap()
    }

    /// Every site stamped its round at `at(site)` and it arrived at 1_000_000.
    fn inputs(policy: &Policy, at: impl Fn(&str) -> u64) -> Inputs<'static> {
        let r = &policy.regions;
        let sites = [&r.primary, &r.secondary, &r.witness]
            .into_iter()
            .map(|s| SiteBeat {
                site: s.clone(),
                last_at_ms: Some(at(s)),
                received_at_ms: Some(1_000_000),
            })
            .collect();
        Inputs {
            sites: Some(sites),
            now_ms: 1_000_000,
            ..Inputs::default()
        }
    }

    #[test]
    fn agreeing_clocks_pass_even_when_a_round_took_its_whole_probe_timeout() {
        let p = policy();
        let timeout = p.detection.probe_timeout.as_millis() as u64;
        let c = check(&p, &inputs(&p, |_| 1_000_000 - timeout - 4_000));
        assert_eq!(c.status, Status::Pass, "{}", c.sentence);
    }

    #[test]
    fn a_site_behind_by_more_than_the_skew_fails_naming_it() {
        let p = policy();
        let timeout = p.detection.probe_timeout.as_millis() as u64;
        let c = check(
            &p,
            &inputs(&p, |s| {
                if s == "us-west-2" {
                    1_000_000 - timeout - 20_000
                } else {
                    999_000
                }
            }),
        );
        assert_eq!(c.status, Status::Fail, "{}", c.sentence);
        assert!(
            c.sentence
                .contains("us-west-2's clock is at least 20s behind"),
            "{}",
            c.sentence
        );
        assert!(!c.sentence.contains("us-east-1"), "{}", c.sentence);
    }

    #[test]
    fn without_fencing_the_default_skew_applies() {
        let mut p = policy();
        p.fencing = None;
        assert_eq!(max_clock_skew(&p), Duration::from_secs(5));
        let c = check(
            &p,
            &inputs(&p, |s| if s == "us-east-2" { 1_006_000 } else { 999_000 }),
        );
        assert_eq!(c.status, Status::Fail, "{}", c.sentence);
        assert!(
            c.sentence.contains("us-east-2's clock is 6s ahead"),
            "{}",
            c.sentence
        );
        assert!(c.sentence.contains("max_clock_skew 5s"), "{}", c.sentence);
    }

    #[test]
    fn a_site_never_heard_warns_and_unknown_sites_warn_from_the_cli() {
        let p = policy();
        let mut i = inputs(&p, |_| 999_000);
        i.sites.as_mut().unwrap().retain(|s| s.site != "us-east-2");
        assert_eq!(check(&p, &i).status, Status::Warn);
        let c = check(&p, &Inputs::default());
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.sentence.contains("cannot be seen from here"),
            "{}",
            c.sentence
        );
    }
}
