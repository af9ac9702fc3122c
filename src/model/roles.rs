//! Which way the policy is read, and whether the active region is protected.
//!
//! A policy file is written for the home direction (primary us-east-1,
//! secondary us-west-2). After a failover and a reprotect the platform runs
//! the other way round: the replicated state records that as an
//! [`Orientation`], and reports [`Protection`] to people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the policy file is read now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    /// As written: the policy's primary region is active.
    #[default]
    AsWritten,
    /// Every primary/secondary pair swapped: the policy's secondary region
    /// is active and protected by replicas in its primary region.
    Reversed,
}

impl Orientation {
    /// The other way round.
    pub fn flipped(self) -> Self {
        match self {
            Self::AsWritten => Self::Reversed,
            Self::Reversed => Self::AsWritten,
        }
    }

    /// The orientation's name as the state and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AsWritten => "as_written",
            Self::Reversed => "reversed",
        }
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an execution does: the three kinds share one executor (check →
/// act → verify, journaled, fenced, resumable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionKind {
    /// Move the platform to the standby region (planned or not).
    #[default]
    Failover,
    /// Build replicas of the active region in the standby region.
    Reprotect,
    /// The planned switchover back, with zero data loss, then reprotect.
    Failback,
}

impl ExecutionKind {
    /// The kind's name (`failover`, `reprotect`, `failback`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Failover => "failover",
            Self::Reprotect => "reprotect",
            Self::Failback => "failback",
        }
    }
}

impl fmt::Display for ExecutionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the active region has replicas to fail over to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "protection")]
pub enum Protection {
    /// Every protected tier has a replica in the standby region.
    #[default]
    Protected,
    /// After a failover: the active region has no replica anywhere.
    Unprotected,
    /// A reprotect is under way: `done` of `of` tiers replicate again.
    Reprotecting {
        /// Tiers whose new replica replicates.
        done: u32,
        /// Tiers the reprotect rebuilds.
        of: u32,
    },
}

/// For people: "protected", "unprotected", "reprotecting (2 of 3 tiers)".
impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protected => f.write_str("protected"),
            Self::Unprotected => f.write_str("unprotected"),
            Self::Reprotecting { done, of } => write!(
                f,
                "reprotecting ({done} of {of} tier{})",
                if *of == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Names a reprotect chose for what it created, recorded so that every
/// node reads the reversed policy with them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedNames {
    /// The Global Datastore's id, when a reprotect created a new one (AWS
    /// prefixes the suffix it was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_datastore: Option<String>,
    /// The cache member created in the standby region, when its name is not
    /// the policy's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_member: Option<String>,
    /// How many reprotects completed (names the cache member `-r<N>`).
    #[serde(default)]
    pub reprotects: u32,
}

impl RecordedNames {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The roles a finished `switch-roles` step committed: how the policy is
/// read from then on, the protection, the region serving traffic and the
/// names the execution gave what it created. A controller cluster commits
/// them in its replicated state; a local run keeps them in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchedRoles {
    /// How the policy is read from now on.
    pub orientation: Orientation,
    /// The protection from now on.
    pub protection: Protection,
    /// The region serving traffic.
    pub active_region: String,
    /// The names the execution gave what it created.
    #[serde(default, skip_serializing_if = "RecordedNames::is_empty")]
    pub names: RecordedNames,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_reads_as_people_say_it() {
        assert_eq!(Protection::Protected.to_string(), "protected");
        assert_eq!(Protection::Unprotected.to_string(), "unprotected");
        let r = Protection::Reprotecting { done: 2, of: 3 };
        assert_eq!(r.to_string(), "reprotecting (2 of 3 tiers)");
        let one = Protection::Reprotecting { done: 0, of: 1 };
        assert_eq!(one.to_string(), "reprotecting (0 of 1 tier)");
    }

    #[test]
    fn orientation_flips_and_defaults_to_as_written() {
        assert_eq!(Orientation::default(), Orientation::AsWritten);
        assert_eq!(Orientation::AsWritten.flipped(), Orientation::Reversed);
        assert_eq!(
            Orientation::Reversed.flipped().flipped(),
            Orientation::Reversed
        );
        let json = serde_json::to_string(&Orientation::Reversed).unwrap();
        assert_eq!(json, "\"reversed\"");
        let p: Protection =
            serde_json::from_str(r#"{"protection":"reprotecting","done":1,"of":3}"#).unwrap();
        assert_eq!(p, Protection::Reprotecting { done: 1, of: 3 });
    }
}
