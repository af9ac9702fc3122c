//! An execution request on the leader (a failover, a reprotect or a
//! failback): checked against the policy's replicated roles, placed in the
//! region being activated, recorded under consensus, gated, then run.

use super::*;
use crate::consensus::state::{roles, PolicyState};
use crate::model::ExecutionKind;
use crate::notify::EventKind;
use crate::plan;

impl<C: Cloud + 'static> Runner<C> {
    /// Answers an execution request: planned (a dry run), refused, handed
    /// off, or accepted and started. At most one execution of a policy
    /// runs at a time, whatever its kind.
    pub(super) async fn failover(&mut self, req: &FailoverRequest) -> FailoverAnswer {
        if self.ctx.raft.metrics().borrow().state != ServerState::Leader {
            return FailoverAnswer::NotLeader;
        }
        if let Err(message) = confirm_leader(&self.ctx).await {
            return FailoverAnswer::Unavailable { message };
        }
        let Some(policy) = self.ctx.policy(&req.policy) else {
            return FailoverAnswer::Unavailable {
                message: format!("unknown policy {:?}", req.policy),
            };
        };
        if let Some(e) = self
            .ctx
            .applied
            .read()
            .expect("state lock")
            .state
            .running(&policy.name)
        {
            return FailoverAnswer::Conflict {
                execution_id: e.record.id.clone(),
            };
        }
        let state = self.ctx.policy_state(&policy.name);
        if let Some(message) = roles::refusal(req.kind, Some(&state), &policy.regions.primary) {
            return FailoverAnswer::WrongState { message };
        }
        let divergence = match req.kind {
            ExecutionKind::Failback => self
                .ctx
                .applied
                .read()
                .expect("state lock")
                .state
                .failover_divergence(&policy.name),
            _ => None,
        };
        if req.dry_run {
            return self.plan_only(req, &policy, &state, divergence).await;
        }
        let shown = divergence.as_ref().map(|d| d.execution_id.clone());
        if let Some(d) = divergence {
            if req.divergence_reviewed.as_deref() != Some(d.execution_id.as_str()) {
                return FailoverAnswer::Unreviewed { divergence: d };
            }
        }
        let active = &mut self.active;
        let placement = match self
            .placing
            .place(&policy, || stop_all(active, HANDING_OFF))
            .await
        {
            Ok(Placement::HandedTo(leader)) => return FailoverAnswer::HandedOff { leader },
            Ok(Placement::Fallback(why)) => Some(why),
            Ok(Placement::Here) => None,
            Err(message) => return FailoverAnswer::Unavailable { message },
        };
        let accept = plan::Acceptance {
            data_loss: req.accept_data_loss,
            unknown: req.accept_unknown.iter().copied().collect(),
        };
        let execution_id = execute::new_execution_id(&policy.name);
        let plan = self
            .build_plan(req, &policy, (&state, shown), &execution_id)
            .await;
        let options = RunOptions {
            execution_id: Some(execution_id),
            accept,
            exposures: Some(self.exposures.clone()),
            time_basis: self.time_basis,
            operator: req.operator.clone(),
            reason: req.reason.clone(),
            phases: req.phases,
            ..RunOptions::default()
        };
        let mut record = new_record(&plan, &options);
        let id = record.id.clone();
        let answer = if !plan.preflight_problems.is_empty() {
            let summary = format!(
                "nothing changed: preflight failed: {}",
                plan.preflight_problems.join("; ")
            );
            end_unrun(&mut record, ExecutionStatus::PreflightFailed, summary);
            FailoverAnswer::Preflight {
                execution_id: id.clone(),
                problems: plan.preflight_problems.clone(),
            }
        } else if plan.is_complete() {
            mark_already_complete(&mut record);
            FailoverAnswer::AlreadyComplete {
                execution_id: id.clone(),
            }
        } else if !plan.rpo.allows() {
            end_unrun(
                &mut record,
                ExecutionStatus::Refused,
                format!("nothing changed: {}", plan.rpo.refusal()),
            );
            record.rpo = Some(plan.rpo.clone());
            FailoverAnswer::Refused {
                execution_id: id.clone(),
                rpo: plan.rpo.clone(),
            }
        } else {
            FailoverAnswer::Accepted {
                execution_id: id.clone(),
            }
        };
        let execution = Execution {
            record,
            owner_term: 0,
            requested_by: req.operator.clone(),
            reason: req.reason.clone(),
            accept_data_loss_ms: req.accept_data_loss.map(|d| d.as_millis() as u64),
            accept_unknown: req.accept_unknown.clone(),
            placement,
            orientation: state.orientation,
            names: state.names.clone(),
        };
        let cmd = Command::Start {
            execution: Box::new(execution.clone()),
            at: now(),
        };
        match propose(&self.ctx, cmd).await {
            Ok(Reply::Ok) => {}
            Ok(Reply::Conflict { running }) => {
                return FailoverAnswer::Conflict {
                    execution_id: running,
                }
            }
            Ok(other) => {
                return FailoverAnswer::Unavailable {
                    message: format!("the cluster refused the execution: {other:?}"),
                }
            }
            Err(message) => return FailoverAnswer::Unavailable { message },
        }
        if let FailoverAnswer::Accepted { .. } = answer {
            info!(execution_id = %id, policy = %policy.name, operator = %req.operator, kind = %req.kind, "execution accepted");
            let why = req
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let sentence = format!(
                "{} of {} (active region after it: {}) started by {}{why}",
                req.kind, policy.name, execution.record.plan.to_region, req.operator
            );
            self.ctx.notify_execution(
                EventKind::FailoverStarted,
                &policy.name,
                &id,
                None,
                sentence,
            );
            self.spawn(execution, Start::New);
        }
        if let FailoverAnswer::Refused { rpo, .. } = &answer {
            let sentence = format!(
                "{} of {} refused at the RPO gate: {}",
                req.kind,
                policy.name,
                rpo.refusal()
            );
            self.ctx.notify_execution(
                EventKind::FailoverRefused,
                &policy.name,
                &id,
                None,
                sentence,
            );
        }
        answer
    }
}

impl<C: Cloud + 'static> Runner<C> {
    /// Observes the cloud and builds the plan `req` asks for, of `policy`
    /// (read in its current roles, replicated in `state`), with the id of
    /// the execution it would run as and, for a failback, the failover
    /// whose divergence report is not empty.
    async fn build_plan(
        &self,
        req: &FailoverRequest,
        policy: &Policy,
        (state, divergence): (&PolicyState, Option<String>),
        execution_id: &str,
    ) -> plan::Plan {
        let accept = plan::Acceptance {
            data_loss: req.accept_data_loss,
            unknown: req.accept_unknown.iter().copied().collect(),
        };
        let (cloud, exposures) = (self.cloud.as_ref(), self.exposures.as_ref());
        match req.kind {
            ExecutionKind::Failover => {
                let observed = execute::observe(cloud, exposures, policy, &execute::no_notes).await;
                plan::build(policy, &observed, accept)
            }
            kind => {
                let ctx = plan::failback::Context {
                    orientation: state.orientation,
                    protection: state.protection,
                    reprotects: state.names.reprotects,
                    execution_id: execution_id.to_string(),
                    divergence,
                    divergence_reviewed: req.divergence_reviewed.clone(),
                    accept,
                };
                let failback = kind == ExecutionKind::Failback;
                execute::plan_way_home(cloud, exposures, policy, failback, &ctx).await
            }
        }
    }

    /// A dry run: the plan as it would run now, nothing recorded.
    async fn plan_only(
        &self,
        req: &FailoverRequest,
        policy: &Policy,
        state: &PolicyState,
        divergence: Option<roles::DivergenceShown>,
    ) -> FailoverAnswer {
        let shown = divergence.as_ref().map(|d| d.execution_id.clone());
        let id = execute::new_execution_id(&policy.name);
        let plan = self.build_plan(req, policy, (state, shown), &id).await;
        FailoverAnswer::Planned {
            plan: Box::new(plan),
            divergence,
        }
    }
}

/// Ends a record that will not run: every step not run, with the reason.
fn end_unrun(record: &mut ExecutionRecord, status: ExecutionStatus, summary: String) {
    record.status = status;
    for s in &mut record.steps {
        s.status = StepStatus::NotRun;
        s.outcome = Some(summary.clone());
    }
    record.summary = Some(summary);
}
