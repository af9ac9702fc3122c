//! Notifications: webhooks told what the controller saw and did.
//!
//! Receivers are configured in the node file (`notifications:`, see
//! [`config`]): a generic JSON webhook, a Slack-compatible one, or
//! PagerDuty Events v2 (trigger and resolve sharing one dedup key per
//! incident). The controller emits an [`Event`] where something happens
//! (the detector's verdict, a failover's start, steps and end, the RPO
//! gate's refusal, the old primary found writable, readiness) through a
//! [`Notifier`]: emitting never waits, it only queues (see [`queue`]).
//!
//! Delivery ([`dispatch`]) runs in tasks of its own, on the leader only.
//! Each event is first announced through the replicated state (its id,
//! and for conditions its incident number, decided there), then sent to
//! each receiver by that receiver's own worker ([`deliver`]) with a
//! per-request timeout, retries and exponential backoff; each delivery is
//! recorded in the replicated state after it succeeds. Delivery is
//! therefore **at least once**: a leader that dies between sending and
//! recording leaves the delivery unrecorded, and the next leader sends it
//! again with the same event id and PagerDuty dedup key (which PagerDuty
//! folds into the same alert). Recording before sending would make it at
//! most once, and a page lost with the leader that was to send it is worse
//! than a repeated one.

pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod metrics;
pub mod payload;
pub mod queue;

pub use config::{NotifyConfig, Receiver, ReceiverKind};
pub use dispatch::{Notifier, Outbox};
pub use metrics::NotifyMetrics;

use serde::{Deserialize, Serialize};

/// What happened, as receivers filter on it (`events:` in the node file
/// lists these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Some sites' probes of the primary fail; not confirmed yet.
    VerdictSuspect,
    /// A majority of sites confirm the primary down.
    VerdictDown,
    /// The primary answers again after a suspect or down verdict.
    VerdictRecovered,
    /// A confirmed failure waits for an operator (manual mode).
    FailoverRecommended,
    /// A failover execution started.
    FailoverStarted,
    /// A step of a failover failed.
    FailoverStepFailed,
    /// A failover completed: traffic is on the region activated.
    FailoverCompleted,
    /// The RPO gate refused a failover: nothing changed.
    FailoverRefused,
    /// After a failover, the old primary accepts writes (two writers).
    OldPrimaryWritable,
    /// The old primary no longer accepts writes.
    OldPrimaryFenced,
    /// A readiness check fails: a failover would not work as planned.
    ReadinessFailing,
    /// Every readiness check passes again.
    ReadinessRecovered,
}

impl EventKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [EventKind; 12] = [
        Self::VerdictSuspect,
        Self::VerdictDown,
        Self::VerdictRecovered,
        Self::FailoverRecommended,
        Self::FailoverStarted,
        Self::FailoverStepFailed,
        Self::FailoverCompleted,
        Self::FailoverRefused,
        Self::OldPrimaryWritable,
        Self::OldPrimaryFenced,
        Self::ReadinessFailing,
        Self::ReadinessRecovered,
    ];

    /// The name written in the node file, payloads and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Self::VerdictSuspect => "verdict_suspect",
            Self::VerdictDown => "verdict_down",
            Self::VerdictRecovered => "verdict_recovered",
            Self::FailoverRecommended => "failover_recommended",
            Self::FailoverStarted => "failover_started",
            Self::FailoverStepFailed => "failover_step_failed",
            Self::FailoverCompleted => "failover_completed",
            Self::FailoverRefused => "failover_refused",
            Self::OldPrimaryWritable => "old_primary_writable",
            Self::OldPrimaryFenced => "old_primary_fenced",
            Self::ReadinessFailing => "readiness_failing",
            Self::ReadinessRecovered => "readiness_recovered",
        }
    }

    /// The kind named `s` in the node file.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == s)
    }

    /// The condition a kind opens or clears (`(name, opens)`), for kinds
    /// that are levels rather than one-off happenings. An incident of a
    /// condition runs from the first opening event to the clearing one;
    /// its number is kept in the replicated state.
    pub fn condition(self) -> Option<(&'static str, bool)> {
        match self {
            Self::VerdictSuspect | Self::VerdictDown | Self::FailoverRecommended => {
                Some(("primary", true))
            }
            Self::VerdictRecovered => Some(("primary", false)),
            Self::OldPrimaryWritable => Some(("old-primary", true)),
            Self::OldPrimaryFenced => Some(("old-primary", false)),
            Self::ReadinessFailing => Some(("readiness", true)),
            Self::ReadinessRecovered => Some(("readiness", false)),
            _ => None,
        }
    }

    /// Whether the event calls for a person: resolves and warnings are
    /// not critical, and are the first dropped when a queue is full.
    pub fn critical(self) -> bool {
        !matches!(
            self,
            Self::VerdictSuspect
                | Self::VerdictRecovered
                | Self::OldPrimaryFenced
                | Self::ReadinessFailing
                | Self::ReadinessRecovered
        )
    }

    /// Whether the event ends its incident (a PagerDuty `resolve`).
    pub fn resolves(self) -> bool {
        matches!(self, Self::FailoverCompleted) || self.condition().is_some_and(|(_, o)| !o)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique, and the same on every leader for the same happening:
    /// `<execution id>/<kind>[/<step>]`, or for a condition
    /// `<policy>/<incident>/<kind>` (set when the event is announced).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The policy it concerns.
    pub policy: String,
    /// The execution it concerns, if any.
    pub execution_id: Option<String>,
    /// What happened, as a sentence.
    pub sentence: String,
    /// When (RFC 3339).
    pub at: String,
    /// The node that emitted it.
    pub node: u64,
    /// The incident it belongs to, within the policy: `primary-3`,
    /// `execution-<id>`; PagerDuty's dedup key is
    /// `drctl/<policy>/<incident>`.
    pub incident: String,
}

impl Event {
    /// An event of an execution: its id and incident follow from the
    /// execution id (and the step, for a step's event).
    pub fn execution(
        kind: EventKind,
        policy: &str,
        execution_id: &str,
        step: Option<&str>,
        sentence: String,
        node: u64,
    ) -> Self {
        let id = match step {
            Some(s) => format!("{execution_id}/{kind}/{s}"),
            None => format!("{execution_id}/{kind}"),
        };
        Self {
            id,
            kind,
            policy: policy.to_string(),
            execution_id: Some(execution_id.to_string()),
            sentence,
            at: crate::execute::now_rfc3339(),
            node,
            incident: format!("execution-{execution_id}"),
        }
    }

    /// An event of a condition (verdict, old primary, readiness): its id
    /// and incident are decided when it is announced.
    pub fn condition(kind: EventKind, policy: &str, sentence: String, node: u64) -> Self {
        debug_assert!(kind.condition().is_some(), "{kind} is not a condition");
        Self {
            id: String::new(),
            kind,
            policy: policy.to_string(),
            execution_id: None,
            sentence,
            at: crate::execute::now_rfc3339(),
            node,
            incident: String::new(),
        }
    }

    /// PagerDuty's dedup key: the same for an incident's trigger and its
    /// resolve.
    pub fn dedup_key(&self) -> String {
        format!("drctl/{}/{}", self.policy, self.incident)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_from_its_label_and_resolves_only_its_incident() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.label()), Some(k));
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.label());
        }
        assert_eq!(EventKind::parse("verdict-down"), None);
        let resolving: Vec<_> = EventKind::ALL
            .into_iter()
            .filter(|k| k.resolves())
            .collect();
        assert_eq!(
            resolving,
            [
                EventKind::VerdictRecovered,
                EventKind::FailoverCompleted,
                EventKind::OldPrimaryFenced,
                EventKind::ReadinessRecovered
            ]
        );
    }

    #[test]
    fn an_execution_event_has_an_id_every_leader_gives_it() {
        let a = Event::execution(
            EventKind::FailoverStepFailed,
            "p",
            "x1",
            Some("flip-dns"),
            "s".into(),
            1,
        );
        let b = Event::execution(
            EventKind::FailoverStepFailed,
            "p",
            "x1",
            Some("flip-dns"),
            "s".into(),
            2,
        );
        assert_eq!(a.id, b.id);
        assert_eq!(a.id, "x1/failover_step_failed/flip-dns");
        assert_eq!(a.dedup_key(), "drctl/p/execution-x1");
    }
}
