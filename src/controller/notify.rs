//! Notifications on a controller node: the replicated state as the
//! [`Outbox`], and the calls the controller makes where events happen.

use std::sync::Arc;

use openraft::ServerState;
use tokio::task::JoinHandle;

use super::journal::propose;
use super::Context;
use crate::consensus::{Command, Reply};
use crate::detect::{Action, Health, Verdict};
use crate::notify::{Event, EventKind, NotifyConfig, Outbox};

impl Outbox for Context {
    fn leading(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    fn prepare(&self, e: &Event) -> Option<Event> {
        let a = self.applied.read().expect("state lock");
        a.state.notifications.prepare(e.clone())
    }

    async fn announce(&self, e: Event) -> Result<Option<Event>, String> {
        let cmd = Command::Notify { event: Box::new(e) };
        match propose(self, cmd).await? {
            Reply::Announced { event } => Ok(event.map(|e| *e)),
            other => Err(format!("announcement refused: {other:?}")),
        }
    }

    async fn settle(&self, id: &str, receiver: &str, delivered: bool) -> Result<(), String> {
        let cmd = Command::Notified {
            id: id.to_string(),
            receiver: receiver.to_string(),
            delivered,
        };
        match propose(self, cmd).await? {
            Reply::Ok => Ok(()),
            other => Err(format!("delivery record refused: {other:?}")),
        }
    }

    fn settled(&self, id: &str, receiver: &str) -> bool {
        let a = self.applied.read().expect("state lock");
        a.state.notifications.settled(id, receiver)
    }

    fn announced(&self) -> Vec<Event> {
        let a = self.applied.read().expect("state lock");
        let outbox = &a.state.notifications.outbox;
        outbox.iter().map(|x| x.event.clone()).collect()
    }
}

impl Context {
    /// Emits an event of `policy`'s condition (verdict, old primary,
    /// readiness): queued at once, announced by the leader unless it
    /// repeats what was announced.
    pub fn notify_condition(&self, kind: EventKind, policy: &str, sentence: String) {
        self.notifier
            .emit(Event::condition(kind, policy, sentence, self.id));
    }

    /// Emits an event of an execution (`step`: the step it concerns).
    pub fn notify_execution(
        &self,
        kind: EventKind,
        policy: &str,
        execution_id: &str,
        step: Option<&str>,
        sentence: String,
    ) {
        let e = Event::execution(kind, policy, execution_id, step, sentence, self.id);
        self.notifier.emit(e);
    }

    /// The newest readiness verdict of `policy`: `failing` is the sentence
    /// of the checks that fail, `None` when every check passes. Call it
    /// after every evaluation: `readiness_failing` is sent when checks
    /// start failing, `readiness_recovered` when they pass again, each
    /// once per incident whoever leads.
    pub fn readiness_verdict(&self, policy: &str, failing: Option<String>) {
        match failing {
            Some(why) => self.notify_condition(EventKind::ReadinessFailing, policy, why),
            None => self.notify_condition(
                EventKind::ReadinessRecovered,
                policy,
                "every readiness check passes again".into(),
            ),
        }
    }
}

/// The events a verdict gives: its health (suspect, down, healthy again)
/// and a recommendation waiting for an operator. A healthy verdict with no
/// incident open gives nothing on announcing.
pub(super) fn verdict_events(v: &Verdict) -> Vec<EventKind> {
    let health = match v.health {
        Health::Suspect => Some(EventKind::VerdictSuspect),
        Health::Down => Some(EventKind::VerdictDown),
        Health::Healthy => Some(EventKind::VerdictRecovered),
        Health::Unknown => None,
    };
    let recommend = (v.action == Action::Recommend).then_some(EventKind::FailoverRecommended);
    health.into_iter().chain(recommend).collect()
}

/// Starts this node's notification tasks (nothing without receivers).
pub(super) fn spawn(ctx: &Context, cfg: &NotifyConfig) -> Vec<JoinHandle<()>> {
    let site = ctx.me().site.clone();
    ctx.notifier.spawn(cfg, Arc::new(ctx.clone()), &site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(health: Health, action: Action) -> Verdict {
        Verdict {
            health,
            action,
            reason: "r".into(),
            confirmed_at_ms: None,
            sites: Vec::new(),
        }
    }

    #[test]
    fn a_verdict_gives_its_health_and_a_waiting_recommendation() {
        use EventKind as K;
        let cases = [
            (Health::Unknown, Action::None, vec![]),
            (Health::Healthy, Action::None, vec![K::VerdictRecovered]),
            (Health::Suspect, Action::None, vec![K::VerdictSuspect]),
            (Health::Down, Action::Failover, vec![K::VerdictDown]),
            (
                Health::Down,
                Action::Recommend,
                vec![K::VerdictDown, K::FailoverRecommended],
            ),
        ];
        for (h, a, want) in cases {
            assert_eq!(verdict_events(&verdict(h, a)), want, "{h:?} {a:?}");
        }
    }
}
