//! The plan's steps run as a DAG: each starts once everything it depends
//! on succeeded, a failed step stops its dependants, and the execution
//! concludes from how its steps ended.

use super::*;

pub(super) async fn run_dag<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    record: &mut ExecutionRecord,
    options: &RunOptions,
    (clock, base): (Instant, u64),
) -> Result<(), JournalError> {
    let emit = |e: Event| {
        if let Some(tx) = &options.events {
            let _ = tx.send(e);
        }
    };
    emit(Event::Started {
        execution_id: record.id.clone(),
        resumed: record.resumed > 0,
        steps: record.steps.iter().map(|s| s.id.clone()).collect(),
    });
    let now_ms = || base + clock.elapsed().as_millis() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut running: JoinSet<StepOutcome> = JoinSet::new();
    let mut tasks: std::collections::HashMap<tokio::task::Id, String> = Default::default();
    // An operator's override is journaled before any step the gate let
    // through may act: saved only after the next steps started, a promotion
    // above the RPO could be made with no override on record (found by the
    // simulation; a leader crashing in between would lose it for good).
    let mut journaled_overrides = record.overrides.len();
    loop {
        if record.overrides.len() != journaled_overrides {
            journal.save(record).await?;
            journaled_overrides = record.overrides.len();
        }
        for i in ready(record, options.sequential && !running.is_empty()) {
            let step = record
                .plan
                .step(&record.steps[i].id)
                .expect("journal steps come from the plan")
                .clone();
            if let Some(why) = policy_match::mismatch(&policy, &step) {
                tracing::error!(execution_id = %record.id, step = %step.id, "{why}");
                let failed = StepOutcome::failed(&step.id, why);
                finish(record, failed, now_ms(), options, &emit);
                continue;
            }
            let mut fence = Fence {
                execution_id: record.id.clone(),
                epoch: Epoch::default(),
            };
            // Before a step may act, the journal confirms this executor may
            // still act and records the intent under the current epoch.
            if step.kind.mutates() {
                fence.epoch = journal.begin_step(record, &step.id).await?;
            }
            let s = &mut record.steps[i];
            s.status = StepStatus::Running;
            s.started_ms = Some(now_ms());
            let first_started = *s
                .first_started_at_ms
                .get_or_insert_with(crate::clock::now_ms);
            s.ended_ms = None;
            (s.acting_ms, s.waiting_ms) = (None, None);
            s.epoch = step.kind.mutates().then_some(fence.epoch);
            info!(execution_id = %record.id, step = %s.id, epoch = %fence.epoch, "step started");
            emit(Event::StepStarted {
                id: s.id.clone(),
                at_ms: now_ms(),
            });
            let change = s.change_id.clone().map(crate::cloud::ChangeId);
            let ctx = StepContext {
                policy: policy.clone(),
                exposures: options.exposures(&cloud),
                accept: options.accept.clone(),
                tx: tx.clone(),
                primary_controller: options.primary_controller,
                first_started_at_ms: first_started,
                // A drill on the simulated cloud has no servers behind the
                // policy's heartbeat targets; a controller measures through
                // them (its exposures are the heartbeats), on AWS or not.
                record_fork: options.time_basis == TimeBasis::Wall || options.exposures.is_some(),
                writer_restore: quiesce::target(&step.action)
                    .and_then(|(region, _)| record.writer_restore.get(region).cloned())
                    .unwrap_or_default(),
            };
            let id = step.id.clone();
            // The step's task keeps this node's clock (the simulation's skew).
            let task = running.spawn(crate::clock::inherit(run_step(
                cloud.clone(),
                ctx,
                step,
                change,
                fence,
            )));
            tasks.insert(task.id(), id);
            if options.sequential {
                break;
            }
        }
        journal.save(record).await?;
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some(msg) = rx.recv() => match msg {
                StepMsg::Acted { id, change_id } => {
                    if let Some(s) = record.steps.iter_mut().find(|s| s.id == id) {
                        s.change_id = Some(change_id);
                    }
                }
                StepMsg::Fenced { region, restore } => {
                    record.keep_writer_restore(&region, restore);
                }
                StepMsg::Retry { id, error } => {
                    info!(execution_id = %record.id, step = %id, %error, "call failed; retrying");
                    emit(Event::StepRetry { id, error });
                }
            },
            Some(done) = running.join_next_with_id() => {
                let outcome = match done {
                    Ok((_, outcome)) => outcome,
                    // A step that panicked fails like any other: the
                    // execution ends instead of being restarted forever.
                    Err(e) => {
                        let id = tasks.get(&e.id()).cloned().unwrap_or_default();
                        let why = format!("step {id} stopped unexpectedly: {e}");
                        tracing::error!(execution_id = %record.id, step = %id, "{why}");
                        StepOutcome::failed(&id, why)
                    }
                };
                if let Some(roles) = &outcome.roles {
                    journal.switch_roles(record, roles).await?;
                    record.roles = Some(roles.clone());
                }
                finish(record, outcome, now_ms(), options, &emit);
            }
        }
    }
    conclude(record);
    // A failback stopped between its quiesce and its promotion gives the
    // writers back, so the platform always has one.
    undo_quiesce::undo_if_needed(cloud.as_ref(), &policy, record, now_ms()).await;
    // Once a replica was promoted, the old primary must not write beside it:
    // it is fenced when its region answers (see `fence_return`).
    let promoted = record
        .steps
        .iter()
        .any(|s| s.kind == StepKind::PromoteDatabase && s.status.succeeded());
    if record.plan.kind == plan::ExecutionKind::Failover
        && record.fence_old_primary.is_none()
        && (promoted || record.status == ExecutionStatus::Completed)
    {
        record.fence_old_primary = fence_return::planned(&policy).map(|mut f| {
            f.fork = record.fork.clone();
            f
        });
    }
    journal.save(record).await?;
    Ok(())
}

/// Indices of steps that may start: pending, with every dependency done.
fn ready(record: &ExecutionRecord, busy: bool) -> Vec<usize> {
    if busy {
        return Vec::new();
    }
    let ok: BTreeSet<&str> = record
        .steps
        .iter()
        .filter(|s| s.status.succeeded())
        .map(|s| s.id.as_str())
        .collect();
    record
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.status == StepStatus::Pending && s.after.iter().all(|d| ok.contains(d.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

fn finish(
    record: &mut ExecutionRecord,
    out: StepOutcome,
    at_ms: u64,
    options: &RunOptions,
    emit: &impl Fn(Event),
) {
    if let Some(what) = out.decision.clone() {
        record.decisions.push(Decision {
            step: out.id.clone(),
            at: now_rfc3339(),
            what,
        });
    }
    if let Some(gate) = out.rpo {
        if let plan::RpoVerdict::Accepted {
            accepted_ms,
            unbounded,
        } = gate.verdict.clone()
        {
            record.overrides.push(DataLossOverride {
                accepted_ms,
                unbounded,
                by: options.operator.clone(),
                at: now_rfc3339(),
                reason: options.reason.clone(),
                gate: gate.clone(),
            });
        }
        record.rpo = Some(gate);
    }
    if let Some(fork) = out.fork {
        record.fork = Some(fork);
    }
    let s = record
        .steps
        .iter_mut()
        .find(|s| s.id == out.id)
        .expect("outcome of a journal step");
    s.status = out.status;
    s.attempts += out.attempts;
    s.ended_ms = Some(at_ms);
    s.acting_ms = out.time.map(|t| t.acting_ms);
    s.waiting_ms = out.time.map(|t| t.waiting_ms);
    s.outcome = Some(out.outcome.clone());
    info!(execution_id = %record.id, step = %s.id, status = ?s.status, elapsed_ms = s.duration_ms(), outcome = %out.outcome, "step ended");
    emit(Event::StepFinished {
        id: out.id.clone(),
        status: out.status,
        at_ms,
        outcome: out.outcome,
    });
    if out.status == StepStatus::Failed {
        block_dependants(record, &out.id, emit, at_ms);
    }
}

/// Marks every step that depends, directly or not, on `failed` as not run.
fn block_dependants(record: &mut ExecutionRecord, failed: &str, emit: &impl Fn(Event), at_ms: u64) {
    let mut blocked: BTreeSet<String> = BTreeSet::from([failed.to_string()]);
    loop {
        let next: Vec<usize> = record
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.status == StepStatus::Pending && s.after.iter().any(|d| blocked.contains(d))
            })
            .map(|(i, _)| i)
            .collect();
        if next.is_empty() {
            return;
        }
        for i in next {
            let s = &mut record.steps[i];
            s.status = StepStatus::NotRun;
            // The status already says "not run".
            let outcome = format!("{failed} failed");
            s.outcome = Some(outcome.clone());
            blocked.insert(s.id.clone());
            emit(Event::StepFinished {
                id: s.id.clone(),
                status: StepStatus::NotRun,
                at_ms,
                outcome,
            });
        }
    }
}

fn conclude(record: &mut ExecutionRecord) {
    let failed: Vec<&StepRecord> = record
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .collect();
    let (status, summary) = match failed.first() {
        None => (
            ExecutionStatus::Completed,
            any_plan::completed_summary(&record.plan),
        ),
        Some(s)
            if matches!(
                s.kind,
                StepKind::Preflight | StepKind::PreflightReprotect | StepKind::PreflightFailback
            ) =>
        {
            (
                ExecutionStatus::PreflightFailed,
                format!("nothing changed: {}", s.outcome.clone().unwrap_or_default()),
            )
        }
        Some(s) if s.kind == StepKind::RpoGate => (
            ExecutionStatus::Refused,
            // The status already says it was refused.
            match &record.rpo {
                Some(gate) if !gate.allows() => format!("nothing changed: {}", gate.refusal()),
                _ => format!("nothing changed: {}", s.outcome.clone().unwrap_or_default()),
            },
        ),
        Some(_) => {
            let names: Vec<&str> = failed.iter().map(|s| s.id.as_str()).collect();
            // The first failure's own sentence says why (for a step this
            // site's policy lacks: that the policies differ).
            let why = failed[0]
                .outcome
                .as_deref()
                .map(|o| format!(" ({}: {o})", failed[0].id))
                .unwrap_or_default();
            (
                ExecutionStatus::Failed,
                format!(
                    "{} stopped: {} failed{why}",
                    record.plan.kind.name(),
                    names.join(", ")
                ),
            )
        }
    };
    record.status = status;
    record.summary = Some(summary);
}
