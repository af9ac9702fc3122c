//! The leader-only executor.
//!
//! Every executing node runs one [`Runner`]. While the node is not the
//! leader it does nothing and holds no execution. When it becomes leader it
//! confirms its leadership, then resumes every execution the replicated
//! journal shows running: it claims the execution under its own term (from
//! then on the state machine refuses the old leader's writes) and runs it
//! again from the journal, where each step first checks its postcondition,
//! so what the old leader finished is not done twice. When it stops being
//! the leader it drops every execution at once.
//!
//! A leader in the region a failover leaves does not execute it while the
//! region being activated can lead: it hands leadership there first, for a
//! new failover and for a running one alike (see `placement.rs`).
//!
//! When the node shuts down gracefully it takes no more work, lets the
//! running executions end within the drain and stops the rest (see
//! `drain.rs`); the node then hands leadership on (`shutdown.rs`).

mod drain;
mod failover;
mod restarts;
mod start_retry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::execution::{run_execution, Start};
use super::journal::{confirm_leader, propose};
use super::lease::{lapsed, LeaderView, RaftLease};
use super::placement::{Placement, Placer, Placing};
use super::request::answer_label;
use super::{Context, FailoverAnswer, FailoverRequest};
use crate::cloud::{Cloud, ExposureSource, Guarded};
use crate::consensus::{Command, Execution, Reply, DETECTOR};
use crate::detect::{Action, Health};
use crate::execute::TimeBasis;
use crate::execute::{
    self, mark_already_complete, new_record, now_rfc3339 as now, ExecutionRecord, ExecutionStatus,
    RunOptions, StepStatus,
};
use crate::policy::Policy;
pub(super) use drain::Drained;
use restarts::Restarts;
pub(super) use restarts::RunEnd;
use start_retry::StartRetries;

/// How long a leader waits before it tries again to confirm its leadership.
const CONFIRM_RETRY: Duration = Duration::from_millis(500);

/// When a failed leadership confirmation may be tried again.
#[derive(Debug, Clone, Copy)]
struct ConfirmRetry {
    /// The term whose confirmation failed last (logged once per term).
    failed_term: u64,
    /// Not before this.
    retry_at: tokio::time::Instant,
}

impl Default for ConfirmRetry {
    fn default() -> Self {
        Self {
            failed_term: 0,
            retry_at: tokio::time::Instant::now(),
        }
    }
}

pub(super) struct Runner<C> {
    ctx: Context,
    cloud: Arc<C>,
    exposures: Arc<dyn ExposureSource>,
    /// What the executions' times mean (wall time against AWS).
    pub(super) time_basis: TimeBasis,
    requests: mpsc::Receiver<FailoverRequest>,
    active: HashMap<String, JoinHandle<RunEnd>>,
    restarts: Restarts,
    /// The term in which this node last ran each execution: running one
    /// again in that term is a restart on the same leader, not a takeover.
    ran: HashMap<String, u64>,
    confirmed_term: u64,
    confirm: ConfirmRetry,
    lease: Duration,
    last_verdict: HashMap<String, (Health, Action)>,
    placing: Placing,
    fences: super::fence_return::FenceReturns,
    /// When the detector's failover may be asked for again.
    start_retries: StartRetries,
    /// Holds the drain once the node shuts down gracefully.
    pub(super) stopping: tokio::sync::watch::Receiver<Option<Duration>>,
}

impl<C: Cloud + 'static> Runner<C> {
    /// A runner for the node of `ctx`; `lease` is the shortest election
    /// timeout (see [`Runner::still_leading`]) and `signer` signs the
    /// requests that hand leadership on.
    pub(super) fn new(
        ctx: Context,
        cloud: Arc<C>,
        exposures: Arc<dyn ExposureSource>,
        requests: mpsc::Receiver<FailoverRequest>,
        lease: Duration,
        signer: crate::consensus::auth::Signer,
    ) -> Self {
        Self {
            lease,
            placing: Placing::new(Placer {
                ctx: ctx.clone(),
                signer,
                lease,
            }),
            ctx,
            cloud,
            exposures,
            time_basis: TimeBasis::Modeled,
            requests,
            active: HashMap::new(),
            restarts: Restarts::default(),
            ran: HashMap::new(),
            confirmed_term: 0,
            confirm: ConfirmRetry::default(),
            last_verdict: HashMap::new(),
            fences: Default::default(),
            start_retries: StartRetries::default(),
            stopping: tokio::sync::watch::channel(None).1,
        }
    }

    /// Runs until raft stops (returning nothing drained) or the node shuts
    /// down gracefully (returning what the drain did).
    pub(super) async fn run(mut self) -> Drained {
        let mut metrics = self.ctx.raft.metrics();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = self.stopping.clone();
        // The handle that would ask for a graceful stop is gone (the node
        // is killed instead, or a test dropped it).
        let mut no_stop = false;
        loop {
            tokio::select! {
                asked = async {
                    let asked = stopping.wait_for(Option::is_some).await;
                    asked.map(|drain| drain.unwrap_or_default())
                }, if !no_stop => {
                    let Ok(within) = asked else {
                        no_stop = true;
                        continue;
                    };
                    let refused = drain::refuse_queued(&mut self.requests);
                    let drained = drain::drain(&mut self.active, within).await;
                    self.fences.stop();
                    return Drained { refused, ..drained };
                },
                changed = metrics.changed() => if changed.is_err() {
                    self.stop_all("raft stopped");
                    return Drained::default();
                },
                Some(req) = self.requests.recv() => {
                    let answer = self.failover(&req).await;
                    self.ctx.metrics.request(answer_label(&answer));
                    let _ = req.reply.send(answer);
                },
                _ = tick.tick() => {},
            }
            let (leading, term) = {
                let m = metrics.borrow();
                (m.state == ServerState::Leader, m.current_term)
            };
            self.harvest();
            if !leading {
                self.stop_all("this node is no longer the leader");
                self.restarts.clear();
                // Judged afresh when leading again: its verdicts are
                // logged and notified (repeats are dropped on announcing).
                self.last_verdict.clear();
                self.fences.stop();
                self.confirmed_term = 0;
                self.placing.reset();
                self.start_retries.reset();
                continue;
            }
            if self.confirmed_term != term {
                // A new term: make sure the state machine holds everything
                // committed before looking for work. A failed confirmation
                // is tried again after CONFIRM_RETRY, not on the next of
                // raft's many metrics changes (that loop never waited, so
                // it burned a core and logged without end), and logged once
                // per term.
                if tokio::time::Instant::now() < self.confirm.retry_at {
                    continue;
                }
                match confirm_leader(&self.ctx).await {
                    Ok(()) => {
                        self.confirmed_term = term;
                        self.confirm = ConfirmRetry::default();
                        self.restarts.clear();
                    }
                    Err(e) => {
                        if self.confirm.failed_term != term {
                            warn!(error = %e, term, "cannot confirm leadership: retrying every {CONFIRM_RETRY:?}");
                        }
                        self.confirm = ConfirmRetry {
                            failed_term: term,
                            retry_at: tokio::time::Instant::now() + CONFIRM_RETRY,
                        };
                        continue;
                    }
                }
            }
            // Executions stop once this node is deposed, not on one failed
            // confirmation: a lost heartbeat round ends the lease for a
            // moment, and the guard refuses every mutating call meanwhile
            // (each execution's own watcher stops it the same way).
            if let Some(why) = LeaderView::of(&self.ctx).deposed(term, self.lease) {
                if !self.active.is_empty() {
                    self.stop_all(&format!("the leader lease lapsed: {why}"));
                    self.confirmed_term = 0;
                    continue;
                }
            }
            let here = self.keep_off_region_left().await;
            self.resume_orphans(here.as_deref()).await;
            let guarded = Arc::new(Guarded::new(
                self.cloud.clone(),
                Arc::new(RaftLease {
                    ctx: self.ctx.clone(),
                    lease: self.lease,
                }),
            ));
            self.fences.tick(&self.ctx, &guarded);
            self.act_on_verdicts().await;
        }
    }

    /// Judges every policy's rounds and acts as the verdict asks: starts
    /// the failover when automatic (the RPO gate still decides), keeps the
    /// time a manual recommendation has waited, logs changes of verdict.
    async fn act_on_verdicts(&mut self) {
        for policy in self.ctx.working_policies() {
            let v = self.ctx.verdict(&policy);
            let key = (v.health, v.action);
            if self.last_verdict.get(&policy.name) != Some(&key) {
                match v.health {
                    Health::Down | Health::Suspect => {
                        warn!(policy = %policy.name, health = ?v.health, action = v.action.label(), reason = %v.reason, "detector verdict")
                    }
                    _ => {
                        info!(policy = %policy.name, health = ?v.health, action = v.action.label(), reason = %v.reason, "detector verdict")
                    }
                }
                self.notify_verdict(&policy.name, &v);
                self.last_verdict.insert(policy.name.clone(), key);
            }
            {
                let mut d = self.ctx.detection.write().expect("detection lock");
                if v.health == Health::Down {
                    d.recommended_since
                        .entry(policy.name.clone())
                        .or_insert_with(crate::clock::now_ms);
                } else {
                    d.recommended_since.remove(&policy.name);
                }
            }
            if v.action != Action::Failover || !self.start_retries.due(&policy.name) {
                continue;
            }
            let (reply, _) = oneshot::channel();
            let req = FailoverRequest {
                kind: crate::model::ExecutionKind::Failover,
                dry_run: false,
                divergence_reviewed: None,
                policy: policy.name.clone(),
                accept_data_loss: None,
                accept_unknown: Vec::new(),
                operator: DETECTOR.into(),
                reason: Some(v.reason.clone()),
                phases: Some(self.ctx.phases(&policy, &v)),
                reply,
            };
            let answer = self.failover(&req).await;
            self.ctx.metrics.request(answer_label(&answer));
            if matches!(
                answer,
                FailoverAnswer::Accepted { .. }
                    | FailoverAnswer::Refused { .. }
                    | FailoverAnswer::HandedOff { .. }
            ) {
                self.start_retries.clear(&policy.name);
            }
            match &answer {
                FailoverAnswer::Accepted { execution_id } => {
                    warn!(policy = %policy.name, %execution_id, reason = %v.reason, "automatic failover started")
                }
                FailoverAnswer::Refused { execution_id, rpo } => {
                    warn!(policy = %policy.name, %execution_id, rpo = %rpo, "automatic failover refused by the RPO gate; held down until an operator acknowledges or fails over with --accept-data-loss")
                }
                FailoverAnswer::HandedOff { leader } => {
                    warn!(policy = %policy.name, leader, "automatic failover: leadership handed to the region being activated, whose leader starts it")
                }
                other => {
                    if self
                        .start_retries
                        .not_started(&policy.name, format!("{other:?}"))
                    {
                        warn!(policy = %policy.name, answer = ?other, "automatic failover did not start: asking again every {:?}", start_retry::START_RETRY)
                    }
                }
            }
        }
    }

    /// Emits the verdict's events (see [`super::notify::verdict_events`]).
    fn notify_verdict(&self, policy: &str, v: &crate::detect::Verdict) {
        for kind in super::notify::verdict_events(v) {
            self.ctx.notify_condition(kind, policy, v.reason.clone());
        }
    }

    /// Whether this leader's lease holds now, before it restarts an
    /// execution it ran in this term: a majority acknowledged it within
    /// the lease (openraft's leader clock, refreshed with each heartbeat
    /// round; the shortest election timeout). Without that figure it asks
    /// a majority directly. A failed check only delays the restart.
    async fn still_leading(&self) -> bool {
        let since_ack = self.ctx.raft.metrics().borrow().millis_since_quorum_ack;
        match since_ack {
            Some(ms) => u128::from(ms) < self.lease.as_millis(),
            None => matches!(
                tokio::time::timeout(self.lease, self.ctx.raft.ensure_linearizable()).await,
                Ok(Ok(_))
            ),
        }
    }

    fn stop_all(&mut self, why: &str) {
        stop_all(&mut self.active, why);
    }

    /// Takes the executions whose task ended and records how (see
    /// `restarts.rs`): a panic is a failure like an error.
    fn harvest(&mut self) {
        use futures::FutureExt;
        let ended: Vec<String> = self
            .active
            .iter()
            .filter(|(_, t)| t.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            let Some(task) = self.active.remove(&id) else {
                continue;
            };
            let end = match task.now_or_never() {
                Some(Ok(end)) => end,
                Some(Err(e)) => RunEnd::Failed(format!("the execution task stopped: {e}")),
                None => continue,
            };
            self.restarts.ended(&id, &end);
        }
    }

    /// Starts every running execution this node is not running yet. Those
    /// of a policy whose primary region this node runs in only with `here`,
    /// the reason it executes them itself (see [`Self::keep_off_region_left`]).
    ///
    /// One this node already ran in the current term, whose task has ended
    /// (its lease lapsed for a moment, or a journal write failed), is
    /// restarted without a claim, and only while the lease holds again:
    /// it is the same owner carrying on, not a new leader resuming it.
    async fn resume_orphans(&mut self, here: Option<&str>) {
        let term = self.confirmed_term;
        let orphans: Vec<Execution> = {
            let a = self.ctx.applied.read().expect("state lock");
            a.state
                .running_all()
                .filter(|e| !self.active.contains_key(&e.record.id))
                .cloned()
                .collect()
        };
        for e in orphans {
            let id = e.record.id.clone();
            let placement = match self.policy_left(&e) {
                None => None,
                Some(_) if here.is_none() => continue,
                Some(_) => here.map(str::to_string),
            };
            if !self.restarts.may_start(&id) {
                continue;
            }
            let start = match resumption(self.ran.get(&id).copied(), term, placement) {
                Start::Restart if !self.still_leading().await => continue,
                Start::Restart => {
                    info!(execution_id = %id, term, "restarting execution whose run on this leader stopped");
                    Start::Restart
                }
                other => {
                    info!(execution_id = %id, "resuming execution left running by an earlier leader");
                    other
                }
            };
            self.spawn(e, start);
        }
    }

    /// Runs `e`, started as `start` says.
    ///
    /// The execution acts on the cloud through a [`Guarded`] one, which
    /// checks the leader lease before every mutating call, and stops by
    /// itself as soon as the lease of the current term lapses, whatever
    /// this loop is busy with.
    fn spawn(&mut self, e: Execution, start: Start) {
        let id = e.record.id.clone();
        let term = self.ctx.raft.metrics().borrow().current_term;
        self.ran.retain(|_, t| *t == term);
        self.ran.insert(id.clone(), term);
        let lease = Arc::new(RaftLease {
            ctx: self.ctx.clone(),
            lease: self.lease,
        });
        let cloud = Arc::new(Guarded::new(self.cloud.clone(), lease));
        let run = run_execution(
            self.ctx.clone(),
            cloud,
            (self.exposures.clone(), self.time_basis),
            e,
            start,
        );
        let lapsed = lapsed(self.ctx.clone(), self.lease, term);
        let execution_id = id.clone();
        let task = crate::clock::spawn(async move {
            tokio::select! {
                end = run => end,
                why = lapsed => {
                    warn!(%execution_id, %why, "stopping execution: the leader lease lapsed");
                    RunEnd::Unavailable(format!("the leader lease lapsed: {why}"))
                }
            }
        });
        self.active.insert(id, task);
    }

    /// The policy of execution `e` (read as when it started) when this
    /// node runs in the region it leaves.
    fn policy_left(&self, e: &Execution) -> Option<Arc<Policy>> {
        self.ctx
            .execution_policy(e)
            .filter(|p| self.placing.placer.in_region_left(p))
    }

    /// A leader in the region a running execution leaves hands it to the
    /// region being activated once that region can lead (see
    /// [`Placing::keep_off`]). Returns why this node executes such
    /// executions itself, once it knows; `None` until then.
    async fn keep_off_region_left(&mut self) -> Option<String> {
        let running = {
            let a = self.ctx.applied.read().expect("state lock");
            let found = a
                .state
                .running_all()
                .find_map(|e| self.policy_left(e).map(|p| (p, e.record.id.clone())));
            found
        };
        let active = &mut self.active;
        self.placing
            .keep_off(running, || stop_all(active, HANDING_OFF))
            .await
    }
}

/// How a leader in `term` starts a running execution it is not running:
/// a restart when it already ran it in this term (`ran_in`), else a
/// takeover (with `placement`, why it runs it from the region being left).
fn resumption(ran_in: Option<u64>, term: u64, placement: Option<String>) -> Start {
    match ran_in {
        Some(t) if t == term => Start::Restart,
        _ => Start::TakeOver(placement),
    }
}

/// Why executions stop for a hand-off, in the log.
const HANDING_OFF: &str = "handing leadership to the region being activated";

/// Aborts every execution task in `active`, saying `why`.
fn stop_all(active: &mut HashMap<String, JoinHandle<RunEnd>>, why: &str) {
    for (id, t) in active.drain() {
        if !t.is_finished() {
            warn!(execution_id = %id, "stopping execution: {why}");
            t.abort();
        }
    }
}
