//! Fencing epochs: how writers are ordered across leaders.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A fencing epoch: the raft term of the leader that recorded a step's
/// intent and the log index of that record. Epochs order the writers: a
/// later leader always holds a greater term, and the replicated state
/// machine refuses records from an execution's earlier owner.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Epoch {
    /// The leader's term.
    pub term: u64,
    /// The log index of the step's intent.
    pub index: u64,
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.term, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(term: u64, index: u64) -> Epoch {
        Epoch { term, index }
    }

    #[test]
    fn a_later_term_orders_after_any_index_of_an_earlier_one() {
        assert!(epoch(2, 0) > epoch(1, u64::MAX));
        assert!(epoch(1, 8) > epoch(1, 7));
        assert_eq!(Epoch::default(), epoch(0, 0));
    }

    #[test]
    fn displays_as_term_dot_index() {
        assert_eq!(epoch(3, 41).to_string(), "3.41");
    }
}
