//! The replicated state machine: what every controller node agrees on.
//!
//! [`ClusterState::apply`] is pure: a command, the term of the leader that
//! proposed it and its log index go in, a [`Reply`] comes out. Fencing lives
//! here. An execution belongs to the leader that started or last claimed it
//! (its `owner_term`); a step intent or a journal update proposed under any
//! other term is refused, so a deposed leader's late results never land.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::execute::{ExecutionRecord, ExecutionStatus, StepStatus};
use crate::model::Epoch;

/// Who starts automatic failovers, in executions and the audit log.
pub const DETECTOR: &str = "detector";

/// Executions that changed something (or run now) kept per policy; older
/// finished ones are dropped.
pub const EXECUTIONS_KEPT: usize = 20;
/// Executions that changed nothing (see [`changed_nothing`]) kept per
/// policy, apart from the others.
pub const NOOP_EXECUTIONS_KEPT: usize = 20;
/// Audit entries kept; older ones remain in structured logs only.
pub const AUDIT_KEPT: usize = 1000;

/// Everything the cluster agrees on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Per policy: its active region and its executions.
    pub policies: BTreeMap<String, PolicyState>,
    /// Every kept execution, by id.
    pub executions: BTreeMap<String, Execution>,
    /// While on, no automatic failover starts.
    pub maintenance: Maintenance,
    /// Who did what, newest last.
    pub audit: VecDeque<AuditEntry>,
    /// Each policy's newest readiness evaluation (one per policy, at most
    /// [`READINESS_POLICIES_MAX`] policies).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub readiness: BTreeMap<String, crate::readiness::Readiness>,
    /// Notifications announced and delivered.
    #[serde(default)]
    pub notifications: notify::Notifications,
    /// Per policy: a summary of every finished execution, oldest first,
    /// the newest [`crate::history::HISTORY_KEPT`] (the full records are
    /// kept for the newest [`EXECUTIONS_KEPT`] only).
    #[serde(default)]
    pub runs: BTreeMap<String, VecDeque<crate::history::RunSummary>>,
}

/// One policy's replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The region serving traffic, once an execution has moved it
    /// (`None`: the policy's primary, nothing moved yet).
    pub active_region: Option<String>,
    /// The execution running now, if any.
    pub running: Option<String>,
    /// Execution ids, oldest first.
    pub history: Vec<String>,
    /// The last execution an operator acknowledged; until the newest one
    /// is, automatic failover is held down.
    #[serde(default)]
    pub acknowledged: Option<String>,
    /// Which way the policy file is read now (see `roles.rs`).
    #[serde(default)]
    pub orientation: crate::model::Orientation,
    /// Whether the active region has replicas to fail over to.
    #[serde(default)]
    pub protection: crate::model::Protection,
    /// The names a reprotect gave what it created.
    #[serde(default, skip_serializing_if = "RecordedNames::is_empty")]
    pub names: RecordedNames,
    /// What the fences of its executions replaced and a later lift gives
    /// back, per region (ElastiCache access strings, see
    /// [`crate::execute::Journal::writer_restore`]); a later fence's string
    /// for a user replaces an earlier one.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub writer_restore: crate::execute::WriterRestore,
}

/// An execution as the cluster holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The journal: plan, steps, outcomes, overrides.
    pub record: ExecutionRecord,
    /// The term of the leader that owns it; only that leader may write it.
    pub owner_term: u64,
    /// Who asked for it.
    pub requested_by: String,
    /// Why, in their words.
    pub reason: Option<String>,
    /// The data loss they accepted above the RPO, in milliseconds, so that
    /// a leader resuming the execution gates it the same way.
    #[serde(default)]
    pub accept_data_loss_ms: Option<u64>,
    /// Tiers whose unknown exposure they accepted (unbounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_unknown: Vec<crate::model::DataTier>,
    /// Why its owner executes it from the region being left, when it does
    /// (no node of the region being activated could lead), as a sentence:
    /// "executing from us-east-1 because …". `None` while the owner is in
    /// another region. Set by the leader that starts or claims it.
    #[serde(default)]
    pub placement: Option<String>,
    /// How the policy was read when the execution started: a leader that
    /// resumes it reads the policy the same way, even after the execution
    /// switched the roles.
    #[serde(default)]
    pub orientation: crate::model::Orientation,
    /// The names recorded by a reprotect when the execution started.
    #[serde(default, skip_serializing_if = "RecordedNames::is_empty")]
    pub names: RecordedNames,
}

/// The maintenance flag and who set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Whether automatic failover is suppressed.
    pub on: bool,
    /// Who set it last.
    pub by: Option<String>,
    /// When (RFC 3339).
    pub at: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The log index that recorded it.
    pub index: u64,
    /// The leader's term.
    pub term: u64,
    /// When (RFC 3339, the proposing leader's clock).
    pub at: String,
    /// Who: an operator, or a node.
    pub who: String,
    /// What, as a sentence.
    pub what: String,
}

/// A change proposed to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start an execution (or record one that found nothing to do).
    Start {
        /// The new execution.
        execution: Box<Execution>,
        /// When (RFC 3339).
        at: String,
    },
    /// A new leader takes over a running execution.
    Claim {
        /// The execution.
        execution_id: String,
        /// The claiming node.
        node: u64,
        /// When (RFC 3339).
        at: String,
        /// Why the claiming node executes from the region being left, when
        /// it does (see [`Execution::placement`]).
        #[serde(default)]
        placement: Option<String>,
    },
    /// The leader is about to give up leadership so that another member
    /// leads: recorded before it stops its heartbeats, so the audit log
    /// says why leadership moved.
    HandOff {
        /// The leader handing off.
        from: u64,
        /// Its site.
        from_site: String,
        /// The member asked to lead.
        to: u64,
        /// Its site.
        to_site: String,
        /// Why, as a sentence.
        reason: String,
        /// When (RFC 3339).
        at: String,
    },
    /// The owner is about to start a step that acts on the cloud.
    Intent {
        /// The execution.
        execution_id: String,
        /// The step.
        step: String,
        /// When (RFC 3339).
        at: String,
    },
    /// The owner's journal after a change of state.
    Save {
        /// The whole record, or all but its plan's steps (see
        /// `plan_omitted`).
        record: Box<ExecutionRecord>,
        /// When (RFC 3339).
        at: String,
        /// The record was sent without its plan's steps, which never change
        /// after `Start` journaled them: the state keeps the plan it has.
        /// Saves are the most frequent entries, and the plan's steps were
        /// most of each (built by [`Command::save`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        plan_omitted: bool,
    },
    /// The leader fences the old primary of a finished execution: first
    /// its intent (the reply is the epoch it acts under), then its result.
    FenceOldPrimary {
        /// The execution.
        execution_id: String,
        /// Where the fence stands.
        state: crate::execute::fence_return::FenceOldPrimary,
        /// When (RFC 3339).
        at: String,
    },
    /// An operator acknowledges the policy's last execution, ending the
    /// hold-down on automatic failover.
    Acknowledge {
        /// The policy.
        policy: String,
        /// Who.
        by: String,
        /// Why.
        reason: Option<String>,
        /// When (RFC 3339).
        at: String,
    },
    /// The leader's newest readiness evaluation of a policy; it replaces
    /// the one before, and a change of verdict is audited.
    Readiness {
        /// The evaluation.
        result: Box<crate::readiness::Readiness>,
    },
    /// The leader announces a notification before sending it.
    Notify {
        /// The event (a condition's id and incident are set on apply).
        event: Box<crate::notify::Event>,
    },
    /// The leader delivered a notification to a receiver, or gave up.
    Notified {
        /// The event's id.
        id: String,
        /// The receiver's name.
        receiver: String,
        /// Whether it was delivered.
        delivered: bool,
    },
    /// The owner of a running reprotect (or failback) switches the
    /// policy's roles: every node reads the policy in `orientation` from
    /// then on, and the active region is protected.
    SwitchRoles {
        /// The execution.
        execution_id: String,
        /// How the policy is read from now on.
        orientation: crate::model::Orientation,
        /// The region serving traffic.
        active_region: String,
        /// The names the execution gave what it created.
        #[serde(default)]
        names: RecordedNames,
        /// When (RFC 3339).
        at: String,
    },
    /// Turn maintenance on or off.
    Maintenance {
        /// On or off.
        on: bool,
        /// Who.
        by: String,
        /// Why.
        reason: Option<String>,
        /// When (RFC 3339).
        at: String,
    },
}

/// What applying a command gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Applied.
    Ok,
    /// A step intent was recorded: the step acts under this epoch.
    Epoch {
        /// The epoch.
        epoch: Epoch,
    },
    /// Another execution of the policy is running.
    Conflict {
        /// The running execution.
        running: String,
    },
    /// Refused: the proposer does not own the execution (any more).
    Fenced {
        /// Why, as a sentence.
        reason: String,
    },
    /// A notification announced, or `None` when it was a repeat.
    Announced {
        /// The event as announced.
        event: Option<Box<crate::notify::Event>>,
    },
    /// No such execution.
    NotFound {
        /// The id asked for.
        execution_id: String,
    },
}

impl ClusterState {
    /// Applies `command`, proposed by the leader of `term`, at log `index`.
    pub fn apply(&mut self, command: Command, term: u64, index: u64) -> Reply {
        match command {
            Command::Start { execution, at } => self.start(*execution, term, index, at),
            Command::Claim {
                execution_id,
                node,
                at,
                placement,
            } => self.claim(&execution_id, node, placement, term, index, at),
            Command::HandOff {
                from,
                from_site,
                to,
                to_site,
                reason,
                at,
            } => {
                let what = format!(
                    "node {from} ({from_site}) hands leadership to node {to} ({to_site}): {reason}"
                );
                self.audit(index, term, &at, &format!("node-{from}"), what);
                Reply::Ok
            }
            Command::Intent {
                execution_id,
                step,
                at,
            } => self.intent(&execution_id, &step, term, index, at),
            Command::Save {
                record,
                at,
                plan_omitted,
            } => self.save(*record, plan_omitted, term, index, at),
            Command::FenceOldPrimary {
                execution_id,
                state,
                at,
            } => self.fence_old_primary(&execution_id, state, term, index, at),
            Command::Acknowledge {
                policy,
                by,
                reason,
                at,
            } => {
                let Some(p) = self.policies.get_mut(&policy) else {
                    return Reply::NotFound {
                        execution_id: String::new(),
                    };
                };
                let Some(last) = p.history.last().cloned() else {
                    return Reply::NotFound {
                        execution_id: String::new(),
                    };
                };
                p.acknowledged = Some(last.clone());
                let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
                self.audit(
                    index,
                    term,
                    &at,
                    &by,
                    format!("acknowledged execution {last}{why}"),
                );
                Reply::Ok
            }
            Command::SwitchRoles {
                execution_id,
                orientation,
                active_region,
                names,
                at,
            } => self.switch_roles(
                (&execution_id, term, index, &at),
                orientation,
                active_region,
                names,
            ),
            Command::Readiness { result } => self.readiness(*result, term, index),
            Command::Notify { event } => self.notify(*event),
            Command::Notified {
                id,
                receiver,
                delivered,
            } => self.notified(&id, &receiver, delivered),
            Command::Maintenance { on, by, reason, at } => {
                let what = match &reason {
                    Some(r) => format!("maintenance {}: {r}", if on { "on" } else { "off" }),
                    None => format!("maintenance {}", if on { "on" } else { "off" }),
                };
                self.audit(index, term, &at, &by, what);
                self.maintenance = Maintenance {
                    on,
                    by: Some(by),
                    at: Some(at),
                    reason,
                };
                Reply::Ok
            }
        }
    }

    /// The policy's last execution when it holds automatic failover down:
    /// it changed something (or was started by the detector) and no
    /// operator has acknowledged it yet.
    pub fn unacknowledged(&self, policy: &str) -> Option<&Execution> {
        let p = self.policies.get(policy)?;
        let last = p.history.last()?;
        if p.acknowledged.as_ref() == Some(last) {
            return None;
        }
        let e = self.executions.get(last)?;
        let changed = matches!(
            e.record.status,
            ExecutionStatus::Completed | ExecutionStatus::Failed
        );
        let finished = e.record.status.is_finished();
        (finished && (changed || e.requested_by == DETECTOR)).then_some(e)
    }

    /// The running execution of `policy`, if any.
    pub fn running(&self, policy: &str) -> Option<&Execution> {
        let id = self.policies.get(policy)?.running.as_ref()?;
        self.executions.get(id)
    }

    /// Every running execution.
    pub fn running_all(&self) -> impl Iterator<Item = &Execution> {
        self.policies
            .values()
            .filter_map(|p| p.running.as_ref())
            .filter_map(|id| self.executions.get(id))
    }

    /// The newest execution of `policy`, running or not.
    pub fn latest(&self, policy: &str) -> Option<&Execution> {
        let id = self.policies.get(policy)?.history.last()?;
        self.executions.get(id)
    }

    fn start(&mut self, execution: Execution, term: u64, index: u64, at: String) -> Reply {
        let policy = execution.record.policy.clone();
        if let Some(running) = self.running(&policy) {
            return Reply::Conflict {
                running: running.record.id.clone(),
            };
        }
        let id = execution.record.id.clone();
        if self.executions.contains_key(&id) {
            return Reply::Conflict { running: id };
        }
        let what = format!(
            "execution {id} of {policy} {}{}",
            match execution.record.status {
                ExecutionStatus::Running => "started",
                _ => "recorded",
            },
            execution
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        self.audit(index, term, &at, &execution.requested_by, what);
        if let Some(why) = &execution.placement {
            let what = format!("execution {id}: {why}");
            self.audit(index, term, &at, "leader", what);
        }
        let status = execution.record.status;
        let to_region = execution.record.plan.to_region.clone();
        let p = self.policies.entry(policy.clone()).or_default();
        p.history.push(id.clone());
        if status == ExecutionStatus::AlreadyComplete
            && execution.record.plan.kind == crate::model::ExecutionKind::Failover
        {
            p.active_region = Some(to_region);
            p.protection = crate::model::Protection::Unprotected;
        } else if !status.is_finished() {
            p.running = Some(id.clone());
        }
        if status.is_finished() {
            self.remember(&execution.record);
        }
        self.executions.insert(
            id,
            Execution {
                owner_term: term,
                ..execution
            },
        );
        self.trim(&policy);
        Reply::Ok
    }

    fn claim(
        &mut self,
        id: &str,
        node: u64,
        placement: Option<String>,
        term: u64,
        index: u64,
        at: String,
    ) -> Reply {
        let Some(e) = self.executions.get_mut(id) else {
            return Reply::NotFound {
                execution_id: id.to_string(),
            };
        };
        if e.record.status.is_finished() {
            return Reply::Fenced {
                reason: format!("execution {id} has already ended"),
            };
        }
        if term < e.owner_term {
            return Reply::Fenced {
                reason: format!(
                    "execution {id} was claimed in term {}, after term {term}",
                    e.owner_term
                ),
            };
        }
        let before = e.owner_term;
        e.owner_term = term;
        e.placement = placement.clone();
        let what = format!("node {node} took over execution {id} (term {before} → {term})");
        self.audit(index, term, &at, &format!("node-{node}"), what);
        if let Some(why) = placement {
            let what = format!("execution {id}: {why}");
            self.audit(index, term, &at, &format!("node-{node}"), what);
        }
        Reply::Ok
    }

    fn intent(&mut self, id: &str, step: &str, term: u64, index: u64, at: String) -> Reply {
        let Some(e) = self.executions.get_mut(id) else {
            return Reply::NotFound {
                execution_id: id.to_string(),
            };
        };
        if let Some(reason) = fenced(e, term) {
            return Reply::Fenced { reason };
        }
        let Some(s) = e.record.steps.iter_mut().find(|s| s.id == step) else {
            return Reply::NotFound {
                execution_id: format!("{id}/{step}"),
            };
        };
        let epoch = Epoch { term, index };
        s.status = StepStatus::Running;
        s.epoch = Some(epoch);
        let what = format!("execution {id}: step {step} may act under epoch {epoch}");
        self.audit(index, term, &at, "leader", what);
        Reply::Epoch { epoch }
    }

    /// Records an audit line. Its log line carries `at`, the event's own
    /// time: a node catching up applies old entries, and the line's
    /// timestamp is only when it applied them.
    fn audit(&mut self, index: u64, term: u64, at: &str, who: &str, what: String) {
        tracing::info!(target: "drctl::audit", index, term, at, who, "{what}");
        self.audit.push_back(AuditEntry {
            index,
            term,
            at: at.to_string(),
            who: who.to_string(),
            what,
        });
        while self.audit.len() > AUDIT_KEPT {
            self.audit.pop_front();
        }
    }

    /// Keeps the summary of a finished execution in the policy's runs.
    fn remember(&mut self, record: &ExecutionRecord) {
        remember(&mut self.runs, crate::history::RunSummary::of(record));
    }

    /// Drops the oldest finished executions of `policy` beyond the limits:
    /// executions that changed nothing (see [`changed_nothing`]) are kept
    /// to [`NOOP_EXECUTIONS_KEPT`] and the others to [`EXECUTIONS_KEPT`],
    /// each counted on its own, so a stream of repeated requests never
    /// evicts the record of the failover that moved the platform.
    fn trim(&mut self, policy: &str) {
        let Some(p) = self.policies.get_mut(policy) else {
            return;
        };
        let executions = &self.executions;
        let noop = |id: &String| {
            executions
                .get(id)
                .is_some_and(|e| changed_nothing(e.record.status))
        };
        let mut dropped = Vec::new();
        for (of_noops, kept) in [(true, NOOP_EXECUTIONS_KEPT), (false, EXECUTIONS_KEPT)] {
            let mut class: Vec<&String> = p
                .history
                .iter()
                .filter(|id| noop(id) == of_noops)
                .filter(|id| p.running.as_deref() != Some(id.as_str()))
                .collect();
            let running = usize::from(!of_noops && p.running.is_some());
            let excess = (class.len() + running).saturating_sub(kept);
            dropped.extend(class.drain(..excess.min(class.len())).cloned());
        }
        p.history.retain(|id| !dropped.contains(id));
        for id in dropped {
            self.executions.remove(&id);
        }
    }
}

/// Whether an execution with this status ended without changing anything:
/// already complete, refused by the RPO gate, or stopped by preflight.
pub fn changed_nothing(status: ExecutionStatus) -> bool {
    matches!(
        status,
        ExecutionStatus::AlreadyComplete
            | ExecutionStatus::Refused
            | ExecutionStatus::PreflightFailed
    )
}

/// Appends `run` to its policy's runs, dropping the oldest beyond the limit.
fn remember(
    runs: &mut BTreeMap<String, VecDeque<crate::history::RunSummary>>,
    run: crate::history::RunSummary,
) {
    let kept = runs.entry(run.policy.clone()).or_default();
    kept.push_back(run);
    while kept.len() > crate::history::HISTORY_KEPT {
        kept.pop_front();
    }
}

/// Why a write under `term` to `e` is refused, if it is.
fn fenced(e: &Execution, term: u64) -> Option<String> {
    let id = &e.record.id;
    if e.record.status.is_finished() {
        Some(format!("execution {id} has already ended"))
    } else if term != e.owner_term {
        Some(format!(
            "execution {id} is owned by the leader of term {}, not term {term}",
            e.owner_term
        ))
    } else {
        None
    }
}

fn status_word(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Done => "done",
        StepStatus::AlreadyDone => "already done",
        StepStatus::Failed => "failed",
        StepStatus::Pending => "pending",
        StepStatus::Running => "running",
        StepStatus::NotRun => "not run",
    }
}

mod fence;
mod readiness;
pub mod roles;
mod save;
pub use readiness::READINESS_POLICIES_MAX;
pub use roles::RecordedNames;
pub mod notify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_restore;
#[cfg(test)]
mod tests_roles;
