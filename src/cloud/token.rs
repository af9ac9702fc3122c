//! Idempotency tokens for the providers' mutating calls.

use crate::model::Fence;

impl Fence {
    /// A token that is the same for every retry of `step` in this execution,
    /// whichever leader makes it, usable as an idempotency token (at most
    /// [`TOKEN_MAX`] characters): a new leader retrying a step the old one
    /// already sent is deduplicated by the provider.
    ///
    /// It is a readable prefix of `{execution}-{step}` followed by the first
    /// 16 hex digits of the SHA-256 of the whole, so that two steps whose
    /// names differ only beyond the prefix (an execution id carrying a long
    /// policy name, then `scale-{node group}`) never share a token.
    pub fn token(&self, step: &str) -> String {
        let full = format!("{}-{}", self.execution_id, step);
        let digest = ring::digest::digest(&ring::digest::SHA256, full.as_bytes());
        let hash: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut prefix = full;
        prefix.retain(|c| c.is_ascii_alphanumeric() || c == '-');
        prefix.truncate(TOKEN_MAX - hash.len() - 1);
        format!("{prefix}-{hash}")
    }
}

/// The longest idempotency token the providers accept (EKS
/// `clientRequestToken`, among others): 64 characters.
pub const TOKEN_MAX: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Epoch;

    #[test]
    fn node_groups_of_a_long_policy_get_distinct_tokens() {
        // A 30-character policy name makes the execution id 52 characters
        // long: cut to 64, only five characters of the node group's name
        // were left, the same for both groups.
        let policy = "emr-platform-prod-payments-xyz";
        assert_eq!(policy.len(), 30);
        let fence = Fence {
            execution_id: format!("{policy}-20261201T193927Z-ab12"),
            epoch: Epoch::default(),
        };
        let a = fence.token("scale-workers-general");
        let b = fence.token("scale-workers-gpu");
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(t.len() <= TOKEN_MAX, "{t}");
            assert!(t.starts_with(policy), "{t}");
            assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        }
    }

    #[test]
    fn a_token_is_the_same_for_every_retry() {
        let fence = |term| Fence {
            execution_id: "core-1".into(),
            epoch: Epoch { term, index: 3 },
        };
        assert_eq!(fence(1).token("scale-x"), fence(2).token("scale-x"));
        assert!(fence(1).token("scale-x").starts_with("core-1-scale-x-"));
    }
}
