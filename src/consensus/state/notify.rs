//! Notifications in the replicated state: which events were announced
//! (the outbox), which receivers each was delivered to, and each
//! condition's incident number, so that a new leader neither repeats what
//! was delivered nor forgets what was not (see [`crate::notify`] for why
//! delivery is at least once).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{ClusterState, Reply};
use crate::notify::Event;

/// Announced events kept; the oldest are forgotten (an event older than
/// that many others is not delivered by a later leader, and an identical
/// one would be announced again).
pub const NOTIFICATIONS_KEPT: usize = 200;

/// The replicated notification state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    /// Announced events, oldest first.
    pub outbox: VecDeque<Announced>,
    /// `<policy>/<condition>` → its incidents.
    pub conditions: BTreeMap<String, Condition>,
}

/// An announced event and what became of it at each receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// The event, its id and incident set.
    pub event: Event,
    /// Receiver name → delivered (`false`: given up after its retries).
    pub settled: BTreeMap<String, bool>,
}

/// A condition's incidents: the number of the newest, and whether it is
/// open (opened and not yet cleared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// The newest incident's number (0: none yet).
    pub incident: u64,
    /// Whether it is open.
    pub open: bool,
}

impl Notifications {
    /// `e` as it would be announced now, its id and incident set; `None`
    /// when there is nothing to announce: the same event was announced
    /// already, or it clears a condition that is not open. Pure, so the
    /// leader can skip a log write for a repeat.
    pub fn prepare(&self, mut e: Event) -> Option<Event> {
        if let Some((name, opens)) = e.kind.condition() {
            let c = self
                .conditions
                .get(&condition_key(&e.policy, name))
                .copied()
                .unwrap_or_default();
            let n = match (opens, c.open) {
                (true, true) | (false, true) => c.incident,
                (true, false) => c.incident + 1,
                (false, false) => return None,
            };
            e.incident = format!("{name}-{n}");
            e.id = format!("{}/{}/{}", e.policy, e.incident, e.kind);
        }
        (!self.outbox.iter().any(|a| a.event.id == e.id)).then_some(e)
    }

    /// Whether event `id` was settled (delivered or given up) at `receiver`.
    pub fn settled(&self, id: &str, receiver: &str) -> bool {
        self.outbox
            .iter()
            .any(|a| a.event.id == id && a.settled.contains_key(receiver))
    }

    fn announce(&mut self, e: Event) -> Option<Event> {
        let e = self.prepare(e)?;
        if let Some((name, opens)) = e.kind.condition() {
            let c = self
                .conditions
                .entry(condition_key(&e.policy, name))
                .or_default();
            if opens && !c.open {
                c.incident += 1;
            }
            c.open = opens;
        }
        self.outbox.push_back(Announced {
            event: e.clone(),
            settled: BTreeMap::new(),
        });
        while self.outbox.len() > NOTIFICATIONS_KEPT {
            self.outbox.pop_front();
        }
        Some(e)
    }
}

fn condition_key(policy: &str, condition: &str) -> String {
    format!("{policy}/{condition}")
}

impl ClusterState {
    /// Announces an event: the reply carries it as announced, or `None`
    /// when it was a repeat.
    pub(super) fn notify(&mut self, event: Event) -> Reply {
        let event = self.notifications.announce(event).map(Box::new);
        Reply::Announced { event }
    }

    /// Records that event `id` was delivered to `receiver` (or given up).
    pub(super) fn notified(&mut self, id: &str, receiver: &str, delivered: bool) -> Reply {
        match self
            .notifications
            .outbox
            .iter_mut()
            .find(|a| a.event.id == id)
        {
            Some(a) => {
                a.settled.insert(receiver.to_string(), delivered);
                Reply::Ok
            }
            None => Reply::NotFound {
                execution_id: id.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::Command;
    use crate::notify::EventKind;

    fn cond(kind: EventKind) -> Command {
        Command::Notify {
            event: Box::new(Event::condition(kind, "p", "s".into(), 1)),
        }
    }

    fn announced(r: Reply) -> Option<Event> {
        match r {
            Reply::Announced { event } => event.map(|e| *e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_condition_opens_one_incident_until_it_clears() {
        let mut s = ClusterState::default();
        // Healthy at start: nothing to resolve.
        assert_eq!(
            announced(s.apply(cond(EventKind::VerdictRecovered), 1, 1)),
            None
        );
        let suspect = announced(s.apply(cond(EventKind::VerdictSuspect), 1, 2)).unwrap();
        assert_eq!(suspect.id, "p/primary-1/verdict_suspect");
        let down = announced(s.apply(cond(EventKind::VerdictDown), 1, 3)).unwrap();
        assert_eq!(down.dedup_key(), suspect.dedup_key());
        // A new leader sees the same verdict: a repeat, not announced.
        assert_eq!(announced(s.apply(cond(EventKind::VerdictDown), 2, 4)), None);
        let up = announced(s.apply(cond(EventKind::VerdictRecovered), 2, 5)).unwrap();
        assert_eq!(up.dedup_key(), "drctl/p/primary-1");
        assert_eq!(
            announced(s.apply(cond(EventKind::VerdictRecovered), 2, 6)),
            None
        );
        let again = announced(s.apply(cond(EventKind::VerdictDown), 2, 7)).unwrap();
        assert_eq!(again.id, "p/primary-2/verdict_down");
        // Another condition keeps its own incidents.
        let ready = announced(s.apply(cond(EventKind::ReadinessFailing), 2, 8)).unwrap();
        assert_eq!(ready.incident, "readiness-1");
    }

    #[test]
    fn a_delivery_is_recorded_once_per_receiver_and_survives_a_snapshot() {
        let mut s = ClusterState::default();
        let e = Event::execution(EventKind::FailoverStarted, "p", "x1", None, "s".into(), 1);
        let cmd = Command::Notify {
            event: Box::new(e.clone()),
        };
        assert_eq!(announced(s.apply(cmd.clone(), 1, 1)), Some(e.clone()));
        assert_eq!(announced(s.apply(cmd, 2, 2)), None, "announced once");
        let done = Command::Notified {
            id: e.id.clone(),
            receiver: "pager".into(),
            delivered: true,
        };
        assert_eq!(s.apply(done, 2, 3), Reply::Ok);
        let json = serde_json::to_string(&s).unwrap();
        let s: ClusterState = serde_json::from_str(&json).unwrap();
        assert!(s.notifications.settled(&e.id, "pager"));
        assert!(!s.notifications.settled(&e.id, "slack"));
        // A state written before notifications existed still loads.
        let old: ClusterState = serde_json::from_str(r#"{"policies":{},"executions":{},"maintenance":{"on":false,"by":null,"at":null,"reason":null},"audit":[]}"#).unwrap();
        assert!(old.notifications.outbox.is_empty());
    }

    #[test]
    fn the_outbox_is_bounded() {
        let mut s = ClusterState::default();
        for i in 0..NOTIFICATIONS_KEPT + 5 {
            let e = Event::execution(
                EventKind::FailoverStarted,
                "p",
                &format!("x{i}"),
                None,
                "s".into(),
                1,
            );
            s.apply(Command::Notify { event: Box::new(e) }, 1, i as u64);
        }
        assert_eq!(s.notifications.outbox.len(), NOTIFICATIONS_KEPT);
        assert_eq!(s.notifications.outbox[0].event.id, "x5/failover_started");
    }
}
