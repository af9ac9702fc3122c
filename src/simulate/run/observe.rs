//! What the checks see of a run: each running node's applied state, the
//! calls the simulated cloud logged, the leaders seen, as one snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Run, Timed};
use crate::cloud::sim::MutationRecord;
use crate::consensus::{ClusterState, NodeId};
use crate::execute::ExecutionStatus;
use crate::simulate::invariants::Snapshot;

impl Run {
    pub(super) fn states(
        &self,
    ) -> BTreeMap<NodeId, (Option<openraft::LogId<NodeId>>, ClusterState)> {
        self.world
            .applied
            .iter()
            .filter(|(id, _)| self.world.up(**id))
            .map(|(id, a)| {
                let a = a.read().expect("applied state lock");
                (*id, (a.last_applied, a.state.clone()))
            })
            .collect()
    }

    /// Notes the term of the leader seen now when it is a later one.
    pub(super) fn see_leader(&mut self, now: Duration) {
        if let Some(term) = self.world.leader_term() {
            if self.leaders.last().is_none_or(|(_, t)| *t < term) {
                self.leaders.push((now, term));
            }
        }
    }

    pub(super) fn refused(&self) -> Vec<(Duration, MutationRecord)> {
        self.world
            .cloud
            .refused_log()
            .into_iter()
            .map(|m| (m.at.saturating_duration_since(self.start), m))
            .collect()
    }

    pub(super) fn log(&self) -> Vec<(Duration, MutationRecord)> {
        self.world
            .cloud
            .mutation_log()
            .into_iter()
            .map(|m| (m.at.saturating_duration_since(self.start), m))
            .collect()
    }

    pub(super) fn snapshot<'a>(
        &'a self,
        (log, refused): (&'a [Timed], &'a [Timed]),
        states: &'a BTreeMap<NodeId, (Option<openraft::LogId<NodeId>>, ClusterState)>,
    ) -> Snapshot<'a> {
        Snapshot {
            now: self.now(),
            wall_start: self.wall_start,
            log,
            refused,
            leaders: &self.leaders,
            cuts: &self.cuts,
            states,
            schedule: &self.schedule,
            maintenance_at: self.maintenance_at,
            rpo: self.policy.rpo,
        }
    }
}

/// Whether some node holds a completed execution.
pub(super) fn completed(
    states: &BTreeMap<NodeId, (Option<openraft::LogId<NodeId>>, ClusterState)>,
) -> bool {
    states.values().any(|(_, s)| {
        s.executions
            .values()
            .any(|e| e.record.status == ExecutionStatus::Completed)
    })
}
