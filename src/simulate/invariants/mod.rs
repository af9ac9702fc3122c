//! The guarantees a run must keep, each in its own file, each checked on
//! every [`Snapshot`] of the run (and the final one).

pub mod deposed;
pub mod journal;
pub mod lease;
pub mod liveness;
pub mod one_running;
pub mod one_writer;
pub mod postcondition;
pub mod rpo;
pub mod verdict;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use openraft::LogId;

use super::schedule::Schedule;
use crate::cloud::sim::MutationRecord;
use crate::consensus::{ClusterState, NodeId};

/// What the checks see at one moment of a run.
pub struct Snapshot<'a> {
    /// Virtual time since the run started.
    pub now: Duration,
    /// The virtual wall time the run started at.
    pub wall_start: SystemTime,
    /// Every mutation the cloud accepted so far, in order, with the
    /// virtual time since the run started.
    pub log: &'a [(Duration, MutationRecord)],
    /// Every mutating call refused because its resource was busy, with the
    /// virtual time it was sent.
    pub refused: &'a [(Duration, MutationRecord)],
    /// Each term whose leader was seen, with when it was first seen.
    pub leaders: &'a [(Duration, u64)],
    /// Each time a node was cut off from every other node.
    pub cuts: &'a [Cut],
    /// Each running node's applied state.
    pub states: &'a BTreeMap<NodeId, (Option<LogId<NodeId>>, ClusterState)>,
    /// What the seed does to the world.
    pub schedule: &'a Schedule,
    /// When maintenance was switched on, if it was.
    pub maintenance_at: Option<Duration>,
    /// The policy's RPO.
    pub rpo: Duration,
}

impl Snapshot<'_> {
    /// Every mutating call that reached the cloud, with when and how it
    /// ended there: accepted ("made") or refused as busy ("sent
    /// (refused)").
    pub fn calls(&self) -> impl Iterator<Item = (&Duration, &MutationRecord, &'static str)> {
        let made = self.log.iter().map(|(t, m)| (t, m, "made"));
        made.chain(self.refused.iter().map(|(t, m)| (t, m, "sent (refused)")))
    }

    /// The lease of node `node`: its election timeout, the shortest of its
    /// range (what its runner holds as the leader's lease).
    pub fn lease_of(&self, node: NodeId) -> Duration {
        let i = usize::try_from(node.saturating_sub(1)).unwrap_or(usize::MAX);
        Duration::from_millis(self.schedule.election_ms.get(i).copied().unwrap_or(0))
    }

    /// Virtual time since the run started of an RFC 3339 wall-clock stamp.
    pub fn since_start(&self, stamp: &str) -> Option<Duration> {
        let format = time::format_description::well_known::Rfc3339;
        let at = time::OffsetDateTime::parse(stamp, &format).ok()?;
        let start = time::OffsetDateTime::from(self.wall_start);
        Some((at - start).try_into().unwrap_or(Duration::ZERO))
    }
}

/// A node cut off from every other node, from `from` until `until` (still
/// cut off when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The node.
    pub node: NodeId,
    /// The region of its site (the caller its cloud calls name).
    pub region: String,
    /// When the links were cut, virtual time since the run started.
    pub from: Duration,
    /// When they were restored.
    pub until: Option<Duration>,
}

/// One guarantee broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant (its file's name).
    pub invariant: &'static str,
    /// Virtual time since the run started.
    pub at: Duration,
    /// What was seen, as a sentence.
    pub what: String,
}

/// One invariant's check: a sentence when it is broken.
type Check = fn(&Snapshot) -> Result<(), String>;

/// Runs every check that holds at every moment.
pub fn check_always(s: &Snapshot) -> Vec<Violation> {
    let checks: [(&'static str, Check); 8] = [
        ("one_writer", one_writer::check),
        ("deposed", deposed::check),
        ("lease", lease::check),
        ("postcondition", postcondition::check),
        ("verdict", verdict::check),
        ("rpo", rpo::check),
        ("one_running", one_running::check),
        ("journal", journal::check),
    ];
    checks
        .into_iter()
        .filter_map(|(invariant, f)| {
            f(s).err().map(|what| Violation {
                invariant,
                at: s.now,
                what,
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Snapshots built by hand for the invariants' own tests.

    use super::*;

    /// A promotion under `term` from `caller`.
    pub fn mutation(term: u64, caller: &str) -> MutationRecord {
        MutationRecord {
            at: tokio::time::Instant::now(),
            op: crate::model::Op::PromoteReadReplica.to_string(),
            resource: "rds:us-west-2/db".into(),
            execution: "x".into(),
            epoch: crate::model::Epoch { term, index: 7 },
            caller: Some(caller.into()),
        }
    }

    /// Runs `check` on a snapshot with these calls and leaders.
    pub fn snapshot_with(
        log: &[(Duration, MutationRecord)],
        refused: &[(Duration, MutationRecord)],
        leaders: &[(Duration, u64)],
        check: Check,
    ) -> Result<(), String> {
        snapshot_of(log, refused, leaders, &[], check)
    }

    /// Runs `check` on a snapshot with these calls and cuts.
    pub fn snapshot_cut(
        log: &[(Duration, MutationRecord)],
        refused: &[(Duration, MutationRecord)],
        cuts: &[Cut],
        check: Check,
    ) -> Result<(), String> {
        snapshot_of(log, refused, &[], cuts, check)
    }

    fn snapshot_of(
        log: &[(Duration, MutationRecord)],
        refused: &[(Duration, MutationRecord)],
        leaders: &[(Duration, u64)],
        cuts: &[Cut],
        check: Check,
    ) -> Result<(), String> {
        let states = BTreeMap::new();
        let schedule = Schedule::draw(0, Duration::from_secs(900));
        check(&Snapshot {
            now: Duration::from_secs(60),
            wall_start: SystemTime::UNIX_EPOCH,
            log,
            refused,
            leaders,
            cuts,
            states: &states,
            schedule: &schedule,
            maintenance_at: None,
            rpo: Duration::from_secs(900),
        })
    }
}
