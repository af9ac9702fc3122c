//! What the way home needs from a policy: the failback's bounds and the
//! reverse stream replicator a reprotect creates, checked in stage two.

use std::time::Duration;

use serde::Serialize;

use super::raw::{RawFailback, RawReverseReplicator};
use super::secs;
use super::validate::Validator;

/// The default bound on the drain: the replica must hold the last
/// heartbeat written before the quiesce within this long.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The default longest time without a writer during a failback: the drain,
/// then an RDS promotion (minutes) and the traffic switch.
pub const DEFAULT_MAX_WRITE_PAUSE: Duration = Duration::from_secs(15 * 60);

/// The policy's `failback` section: the planned switchover home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Failback {
    /// How long the drain may wait for the replica to hold the last beat
    /// written before the quiesce (default 5m).
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// The longest the platform may have no writer, from the quiesce to the
    /// lift on the new primary (default 15m): the drain waits at most what
    /// is left of it, and a failback that cannot promote undoes its quiesce.
    #[serde(with = "secs")]
    pub max_write_pause: Duration,
}

impl Default for Failback {
    fn default() -> Self {
        Self {
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_write_pause: DEFAULT_MAX_WRITE_PAUSE,
        }
    }
}

/// The MSK Replicator a reprotect creates from the DR cluster to the home
/// cluster (`tiers.stream.reverse_replicator`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReverseReplicator {
    /// Its name (also its CloudWatch `ReplicatorName`).
    pub name: String,
    /// The IAM role MSK Replicator assumes to read and write both clusters.
    pub service_execution_role_arn: String,
}

impl Validator {
    /// `failback`: both durations above zero, the drain no longer than the
    /// write pause allows.
    pub(super) fn failback(&mut self, raw: Option<RawFailback>) -> Option<Failback> {
        let Some(raw) = raw else {
            return Some(Failback::default());
        };
        let drain = self.positive(
            "failback.drain_timeout",
            raw.drain_timeout,
            Some(DEFAULT_DRAIN_TIMEOUT),
        );
        let pause = self.positive(
            "failback.max_write_pause",
            raw.max_write_pause,
            Some(DEFAULT_MAX_WRITE_PAUSE),
        );
        let (drain, pause) = (drain?, pause?);
        if drain >= pause {
            self.problem(
                "failback.drain_timeout",
                Some(crate::duration::fmt(drain)),
                format!(
                    "shorter than failback.max_write_pause ({}): the promotion must fit in the \
                     pause after the drain",
                    crate::duration::fmt(pause)
                ),
            );
            return None;
        }
        Some(Failback {
            drain_timeout: drain,
            max_write_pause: pause,
        })
    }

    /// `tiers.stream.reverse_replicator`: a name and an IAM role ARN.
    pub(super) fn reverse_replicator(
        &mut self,
        raw: RawReverseReplicator,
    ) -> Option<ReverseReplicator> {
        let at = "tiers.stream.reverse_replicator";
        let name = self.name(
            &format!("{at}.name"),
            raw.name,
            "the reverse MSK Replicator's name",
        );
        let role = self.required(
            &format!("{at}.service_execution_role_arn"),
            raw.service_execution_role_arn,
            "the IAM role MSK Replicator assumes",
        );
        let role = role.and_then(|r| match super::iam_role_arn(&r) {
            Ok(()) => Some(r),
            Err(_) => {
                self.problem(
                    format!("{at}.service_execution_role_arn"),
                    Some(r),
                    "an IAM role ARN, arn:aws:iam::<account>:role/<name>",
                );
                None
            }
        });
        Some(ReverseReplicator {
            name: name?,
            service_execution_role_arn: role?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn shipped() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
        std::fs::read_to_string(path).unwrap()
    }

    fn problems(text: &str) -> Vec<String> {
        match super::super::parse(Path::new("p.yaml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_shipped_policy_sets_every_field_of_the_way_home() {
        let p = super::super::parse(Path::new("p.yaml"), &shipped()).unwrap();
        assert_eq!(p.failback.drain_timeout, Duration::from_secs(300));
        assert_eq!(p.failback.max_write_pause, Duration::from_secs(900));
        let ng = p.tiers.node_groups.as_ref().unwrap();
        assert_eq!(ng.primary_cluster.as_deref(), Some("emr-integration"));
        let r = p.tiers.stream.as_ref().unwrap().reverse_replicator.clone();
        assert_eq!(r.unwrap().name, "emr-platform-kafka-reverse-replicator");
        assert!(p.detection.secondary_probes.is_some());
        let f = p.fencing.as_ref().unwrap();
        assert!(f.database.as_ref().unwrap().secondary_connection.is_some());
    }

    #[test]
    fn a_drain_that_leaves_no_time_to_promote_is_refused() {
        let text = shipped().replace("drain_timeout: 5m", "drain_timeout: 20m");
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.starts_with("failback.drain_timeout")
                && p.contains("failback.max_write_pause (15m)")),
            "{got:?}"
        );
    }

    #[test]
    fn bad_failback_and_reverse_replicator_fields_are_named() {
        let text = shipped()
            .replace("drain_timeout: 5m", "drain_timeout: 0s")
            .replace(
                "arn:aws:iam::123456789012:role/emr-platform-msk-replicator",
                "not-an-arn",
            );
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.starts_with("failback.drain_timeout")),
            "{got:?}"
        );
        assert!(
            got.iter().any(|p| p
                .starts_with("tiers.stream.reverse_replicator.service_execution_role_arn")
                && p.contains("not-an-arn")),
            "{got:?}"
        );
    }

    #[test]
    fn a_policy_without_the_section_gets_the_defaults() {
        let text = shipped().replace("failback:", "failback_unused:");
        let start = text.find("failback_unused:").unwrap();
        let text = &text[..start];
        let p = super::super::parse(Path::new("p.yaml"), text).unwrap();
        assert_eq!(p.failback, Failback::default());
    }
}
