//! No promotion with an exposure above the RPO without a recorded override:
//! when the seed holds the database replica behind by more than the RPO,
//! the replica may be promoted only by an execution that recorded the
//! operator's acceptance of the loss.

use super::Snapshot;
use crate::model::Op;

/// Checks the mutation log against the executions' overrides.
pub fn check(s: &Snapshot) -> Result<(), String> {
    if !s.schedule.lag_above_rpo {
        return Ok(());
    }
    for (t, m) in s
        .log
        .iter()
        .filter(|(_, m)| m.op == Op::PromoteReadReplica.as_str())
    {
        let recorded = s.states.values().any(|(_, state)| {
            state
                .executions
                .get(&m.execution)
                .is_some_and(|e| !e.record.overrides.is_empty())
        });
        if !recorded {
            return Err(format!(
                "{} promoted {} at {:.1}s with the replica {} behind (RPO {}) and no override recorded",
                m.execution,
                m.resource,
                t.as_secs_f64(),
                crate::duration::fmt(s.schedule.database_lag),
                crate::duration::fmt(s.rpo)
            ));
        }
    }
    Ok(())
}
