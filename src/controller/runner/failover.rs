//! A failover request on the leader: placed in the region being
//! activated, recorded under consensus, gated, then run.

use super::*;
use crate::notify::EventKind;
use crate::plan;

impl<C: Cloud + 'static> Runner<C> {
    /// Answers a failover request: refused, handed off, or accepted and
    /// started.
    pub(super) async fn failover(&mut self, req: &FailoverRequest) -> FailoverAnswer {
        if self.ctx.raft.metrics().borrow().state != ServerState::Leader {
            return FailoverAnswer::NotLeader;
        }
        if let Err(message) = confirm_leader(&self.ctx).await {
            return FailoverAnswer::Unavailable { message };
        }
        let Some(policy) = self.ctx.policies.get(&req.policy).cloned() else {
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
        let observed = execute::observe(
            self.cloud.as_ref(),
            self.exposures.as_ref(),
            &policy,
            &execute::no_notes,
        )
        .await;
        let plan = plan::build(&policy, &observed, accept.clone());
        let options = RunOptions {
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
            info!(execution_id = %id, policy = %policy.name, operator = %req.operator, "failover accepted");
            let why = req
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let sentence = format!(
                "failover of {} to {} started by {}{why}",
                policy.name, execution.record.plan.to_region, req.operator
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
                "failover of {} refused at the RPO gate: {}",
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

/// Ends a record that will not run: every step not run, with the reason.
fn end_unrun(record: &mut ExecutionRecord, status: ExecutionStatus, summary: String) {
    record.status = status;
    for s in &mut record.steps {
        s.status = StepStatus::NotRun;
        s.outcome = Some(summary.clone());
    }
    record.summary = Some(summary);
}
