//! The fence every mutating cloud call carries.

use serde::{Deserialize, Serialize};

use super::Epoch;

/// Who is acting: every mutating call carries it so that the provider side
/// can name the execution (Route 53 change comments, EKS request tokens) and,
/// under consensus, so that a deposed leader's call can be told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The execution this call belongs to.
    pub execution_id: String,
    /// The epoch under which it acts (zero for a local, unreplicated run).
    pub epoch: Epoch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_field_names_the_journal_and_the_wire_use() {
        let fence = Fence {
            execution_id: "ex-1".into(),
            epoch: Epoch { term: 2, index: 9 },
        };
        let json = serde_json::to_value(&fence).expect("a fence serializes");
        assert_eq!(
            json,
            serde_json::json!({"execution_id": "ex-1", "epoch": {"term": 2, "index": 9}})
        );
    }
}
