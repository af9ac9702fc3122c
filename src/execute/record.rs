//! A new execution's record and id, and the times it is written in.

use super::*;

/// Four hex digits that tell apart executions started in the same second:
/// random, or under the simulation's virtual clock drawn from the clock's
/// nanoseconds so that a seed replays to the same ids.
fn id_suffix(now: time::OffsetDateTime) -> u16 {
    if crate::clock::is_virtual() {
        (now.nanosecond() / 1000 % 65_536) as u16
    } else {
        rand::random::<u16>()
    }
}

/// A new execution id for `policy`: the policy, the time and a random
/// suffix (`emr-platform-20261202T061500Z-3f2a`).
pub fn new_execution_id(policy: &str) -> String {
    let now = crate::clock::now_utc();
    let stamp = now.format(time::macros::format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ));
    format!(
        "{policy}-{}-{:04x}",
        stamp.unwrap_or_default(),
        id_suffix(now)
    )
}

/// A new execution record for `plan`, every step pending.
pub fn new_record(plan: &Plan, options: &RunOptions) -> ExecutionRecord {
    let now = crate::clock::now_utc();
    let id = options
        .execution_id
        .clone()
        .unwrap_or_else(|| new_execution_id(&plan.policy));
    let steps = plan
        .steps
        .iter()
        .map(|s| StepRecord {
            id: s.id.clone(),
            kind: s.kind,
            after: s.after.clone(),
            resource: s.action.resource(),
            status: StepStatus::Pending,
            attempts: 0,
            started_ms: None,
            ended_ms: None,
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        })
        .collect();
    ExecutionRecord {
        id,
        policy: plan.policy.clone(),
        started_at: rfc3339(now),
        status: ExecutionStatus::Running,
        plan: plan.clone(),
        steps,
        rpo: None,
        overrides: Vec::new(),
        resumed: 0,
        restarted: 0,
        summary: None,
        decisions: Vec::new(),
        time_basis: options.time_basis,
        fence_old_primary: None,
        fork: None,
        phases: options.phases,
        roles: None,
        writer_restore: Default::default(),
    }
}

/// Marks a new record whose plan found every postcondition holding: nothing
/// runs, every step is already done.
pub fn mark_already_complete(record: &mut ExecutionRecord) {
    record.status = ExecutionStatus::AlreadyComplete;
    for s in &mut record.steps {
        s.status = StepStatus::AlreadyDone;
    }
    record.summary = Some(format!(
        "already failed over to {}: every step's postcondition holds; nothing changed",
        record.plan.to_region
    ));
}

/// The wall clock now, in RFC 3339 (journal and audit timestamps).
pub fn now_rfc3339() -> String {
    rfc3339(crate::clock::now_utc())
}

/// When an execution started, Unix milliseconds (0 when its start time
/// does not parse).
pub fn started_ms(record: &ExecutionRecord) -> u64 {
    time::OffsetDateTime::parse(
        &record.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
}

/// A Unix time in milliseconds, RFC 3339 (UTC).
pub fn rfc3339_ms(ms: u64) -> String {
    let ns = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(ns).map_or_else(|_| String::new(), rfc3339)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
