//! One running execution per policy: two at once would be two writers.

use super::Snapshot;
use crate::execute::ExecutionStatus;

/// Checks every node's executions.
pub fn check(s: &Snapshot) -> Result<(), String> {
    for (node, (_, state)) in s.states {
        let mut running = std::collections::BTreeMap::<&str, Vec<&str>>::new();
        for e in state.executions.values() {
            if e.record.status == ExecutionStatus::Running {
                running
                    .entry(&e.record.policy)
                    .or_default()
                    .push(&e.record.id);
            }
        }
        if let Some((policy, ids)) = running.iter().find(|(_, ids)| ids.len() > 1) {
            return Err(format!(
                "node {node}: policy {policy} has {} executions running at once: {}",
                ids.len(),
                ids.join(", ")
            ));
        }
    }
    Ok(())
}
