//! Where a failover executes: from the region being activated, as ARC
//! does.
//!
//! No failover step may depend on the region being left (guarantee 8), and
//! the controller node of that region is the one most likely to be failing
//! with it: it may still reach the witness, and so lead, while its own AWS
//! calls time out. So the leader in the policy's primary region does not
//! execute a failover. When one is to start (an operator asked, or the
//! detector decided) it records the hand-off in the audit log, stops
//! everything it executes, and hands leadership to the executing node of
//! the policy's secondary region (`handoff.rs`), which then decides and
//! executes it; the request is forwarded there. A running execution it
//! finds, or runs, is handed the same way: it stops the execution as a
//! crash would (every journal write is one atomic commit, and every step
//! checks its postcondition before acting), and the new leader claims it
//! under its own term and resumes it from the journal.
//!
//! The primary region's node executes itself only when the secondary's node
//! cannot lead: there is none, it does not answer, its log has not caught
//! up within [`CATCH_UP`], or it did not take over within [`TAKE_OVER`].
//! It then says why, in the execution and in the audit log: "executing from
//! us-east-1 because us-west-2's node (node 2) does not answer".

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use super::handoff::HandOff;
use super::journal::{confirm_leader, propose};
use super::Context;
use crate::consensus::{Command, Member, NodeId, Reply};
use crate::execute::now_rfc3339 as now;
use crate::policy::Policy;

/// How long the secondary's node may take to answer its health check.
pub(super) const ANSWER: Duration = Duration::from_millis(500);
/// How long the secondary's node gets to catch up with the leader's log.
pub(super) const CATCH_UP: Duration = Duration::from_secs(2);
/// How long the secondary's node gets to take over once asked; after that
/// the primary region's node leads again and executes itself.
pub(super) const TAKE_OVER: Duration = Duration::from_secs(5);
/// How long a finding that the region being activated does not answer
/// stands before it is checked again, while this node executes.
const RECHECK_AFTER: Duration = Duration::from_secs(2);
/// How long after a hand-off that did not happen (the node answered but
/// did not catch up or take over) the next is tried: each attempt stops
/// this node's executions for a few seconds.
const HAND_OFF_RETRY: Duration = Duration::from_secs(30);

/// Where a failover of a policy executes, as this leader decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Placement {
    /// Here: this node is not in the region the policy leaves.
    Here,
    /// Here although this node is in the region being left, because no
    /// node of the region being activated can lead: why, as a sentence.
    Fallback(String),
    /// Leadership went to this node, which executes instead.
    HandedTo(NodeId),
}

/// Decides where failovers execute and moves leadership there.
#[derive(Clone)]
pub(super) struct Placer {
    /// The node.
    pub ctx: Context,
    /// Signs the request asking a member to campaign.
    pub signer: crate::consensus::auth::Signer,
    /// The voters' lease (see [`HandOff::lease`]).
    pub lease: Duration,
}

impl Placer {
    /// Whether this node runs in the region `policy` fails over from.
    pub fn in_region_left(&self, policy: &Policy) -> bool {
        self.ctx.me().site == policy.regions.primary
    }

    /// The executing members of the region `policy` activates.
    fn targets(&self, policy: &Policy) -> Vec<NodeId> {
        self.ctx
            .members
            .iter()
            .filter(|(id, m)| {
                **id != self.ctx.id && !m.witness && m.site == policy.regions.secondary
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// "executing from us-east-1 because …"
    fn because(&self, why: impl std::fmt::Display) -> String {
        format!("executing from {} because {why}", self.ctx.me().site)
    }

    /// A member of the region being activated that answers its health
    /// check now, or why this node must execute itself. Takes at most
    /// [`ANSWER`].
    pub async fn reachable_target(&self, policy: &Policy) -> Result<NodeId, String> {
        let targets = self.targets(policy);
        let to = &policy.regions.secondary;
        if targets.is_empty() {
            return Err(self.because(format_args!("no executing member runs in {to}")));
        }
        for &id in &targets {
            if self.ctx.peer_answers(id, ANSWER).await {
                return Ok(id);
            }
        }
        let ids: Vec<String> = targets.iter().map(|i| format!("node {i}")).collect();
        Err(self.because(format_args!(
            "{to}'s node ({}) does not answer",
            ids.join(", ")
        )))
    }

    fn handoff(&self) -> HandOff<'_> {
        HandOff {
            ctx: &self.ctx,
            signer: &self.signer,
            lease: self.lease,
        }
    }

    /// Hands leadership to `to`, a member of the region `policy` activates,
    /// for `what` ("to fail emr-platform over"). The caller has stopped
    /// every execution of this node. First records the hand-off (so the
    /// audit log says why leadership moved), then waits up to [`CATCH_UP`]
    /// for `to` to catch up and up to [`TAKE_OVER`] for it to lead.
    ///
    /// # Errors
    ///
    /// The hand-off cannot be recorded, or leadership moved elsewhere and
    /// no leader is known yet: the cluster cannot act now.
    pub async fn hand_off(
        &self,
        policy: &Policy,
        to: NodeId,
        what: &str,
    ) -> Result<Placement, String> {
        let started = tokio::time::Instant::now();
        let (me, them) = (self.ctx.me(), &self.ctx.members[&to]);
        let cmd = Command::HandOff {
            from: self.ctx.id,
            from_site: me.site.clone(),
            to,
            to_site: them.site.clone(),
            reason: format!(
                "{what}: a failover executes from the region being activated, {}",
                policy.regions.secondary
            ),
            at: now(),
        };
        match propose(&self.ctx, cmd).await? {
            Reply::Ok => {}
            other => return Err(format!("the cluster refused the hand-off: {other:?}")),
        }
        let h = self.handoff();
        let eligible = |id: NodeId, _: &Member| id == to;
        if h.wait_caught_up(eligible, CATCH_UP).await.is_empty() {
            if !h.leading() {
                return self.moved_elsewhere();
            }
            return Ok(Placement::Fallback(self.because(format_args!(
                "{}'s node (node {to}) did not catch up within {}s",
                them.site,
                CATCH_UP.as_secs()
            ))));
        }
        match h.hand_off(eligible, TAKE_OVER).await {
            Some(leader) => {
                info!(
                    from = self.ctx.id,
                    to = leader,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "leadership handed to the region being activated"
                );
                Ok(Placement::HandedTo(leader))
            }
            None if !h.leading() => self.moved_elsewhere(),
            None => {
                warn!(
                    to,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "the region being activated did not take over; executing from here"
                );
                confirm_leader(&self.ctx).await?;
                Ok(Placement::Fallback(self.because(format_args!(
                    "{}'s node (node {to}) did not take over within {}s",
                    them.site,
                    TAKE_OVER.as_secs()
                ))))
            }
        }
    }

    fn moved_elsewhere(&self) -> Result<Placement, String> {
        match self.ctx.leader() {
            Some((id, _)) if id != self.ctx.id => Ok(Placement::HandedTo(id)),
            _ => Err("leadership is changing: retry in a few seconds".into()),
        }
    }
}

/// What the runner keeps between ticks about where its executions belong.
pub(super) struct Placing {
    /// The decisions and the hand-off.
    pub placer: Placer,
    /// Whether the region being activated answers, checked in the
    /// background so that the runner keeps checking its own leadership.
    check: Option<JoinHandle<Result<NodeId, String>>>,
    /// Why this node executes from the region being left, and when to
    /// check again whether the region being activated can lead.
    fallback: Option<(String, Instant)>,
}

impl Placing {
    /// Nothing known yet.
    pub fn new(placer: Placer) -> Self {
        Self {
            placer,
            check: None,
            fallback: None,
        }
    }

    /// Forgets what was found: a new term decides afresh.
    pub fn reset(&mut self) {
        self.fallback = None;
    }

    fn fall_back(&mut self, why: &str, for_: Duration) {
        self.fallback = Some((why.to_string(), Instant::now() + for_));
    }

    /// Where a new failover of `policy` executes: here, or, when this node
    /// runs in the region it leaves, on the leader it hands leadership to
    /// (after calling `stop`, which stops its executions), unless that
    /// region cannot lead.
    ///
    /// # Errors
    ///
    /// The cluster cannot act now (see [`Placer::hand_off`]).
    pub async fn place(
        &mut self,
        policy: &Policy,
        stop: impl FnOnce(),
    ) -> Result<Placement, String> {
        if !self.placer.in_region_left(policy) {
            return Ok(Placement::Here);
        }
        let to = match self.placer.reachable_target(policy).await {
            Ok(to) => to,
            Err(why) => {
                self.fall_back(&why, RECHECK_AFTER);
                return Ok(Placement::Fallback(why));
            }
        };
        stop();
        let what = format!("to fail {} over", policy.name);
        let placement = self.placer.hand_off(policy, to, &what).await?;
        if let Placement::Fallback(why) = &placement {
            self.fall_back(why, HAND_OFF_RETRY);
        }
        Ok(placement)
    }

    /// A leader in the region a running execution leaves does not keep
    /// leading: `running` is such an execution (its policy and id), if any.
    /// Once a node of the region being activated answers, this calls
    /// `stop` (the runner aborts its executions, as a crash would) and
    /// hands leadership there; the new leader claims them under
    /// its own term and resumes them from the journal. Whether that node
    /// answers is checked in the background, again [`RECHECK_AFTER`] after
    /// it did not answer and [`HAND_OFF_RETRY`] after a hand-off that did
    /// not happen. Returns why this node executes from the region being
    /// left, once it knows; `None` until then.
    pub async fn keep_off(
        &mut self,
        running: Option<(Arc<Policy>, String)>,
        stop: impl FnOnce(),
    ) -> Option<String> {
        let why = self.fallback.as_ref().map(|(why, _)| why.clone());
        let Some((policy, id)) = running else {
            return why;
        };
        if self
            .fallback
            .as_ref()
            .is_some_and(|(_, next)| Instant::now() < *next)
        {
            return why;
        }
        let check = match self.check.take() {
            None => {
                let (placer, p) = (self.placer.clone(), policy.clone());
                self.check = Some(crate::clock::spawn(async move {
                    placer.reachable_target(&p).await
                }));
                return why;
            }
            Some(h) if !h.is_finished() => {
                self.check = Some(h);
                return why;
            }
            Some(h) => h
                .await
                .unwrap_or_else(|e| Err(format!("check failed: {e}"))),
        };
        let to = match check {
            Ok(to) => to,
            Err(why) => {
                self.fall_back(&why, RECHECK_AFTER);
                return Some(why);
            }
        };
        stop();
        let what = format!("to let it execute execution {id} of {}", policy.name);
        match self.placer.hand_off(&policy, to, &what).await {
            Ok(Placement::Fallback(why)) => {
                self.fall_back(&why, HAND_OFF_RETRY);
                Some(why)
            }
            Ok(_) => None,
            Err(error) => {
                warn!(%error, "cannot hand leadership to the region being activated");
                None
            }
        }
    }
}
