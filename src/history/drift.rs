//! Steps whose p95 has drifted above the policy's budget.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::StepStats;
use crate::plan::StepKind;
use crate::policy::Policy;

/// A step whose p95 is above its budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The step id.
    pub step: String,
    /// Its p95, in milliseconds.
    pub p95_ms: u64,
    /// The budget it is held to, in milliseconds.
    pub budget_ms: u64,
    /// Where the budget comes from (`execution.step_budgets.flip-dns`).
    pub budget_from: String,
}

/// The budget a step of `kind` is held to, and the policy field it comes
/// from: its `execution.step_budgets` entry, else the cache's
/// `failover_timeout` for the cache step, else `execution.step_timeout`.
pub fn budget_for(policy: &Policy, kind: StepKind) -> (Duration, String) {
    if let Some(d) = policy.execution.step_budgets.get(&kind) {
        return (*d, format!("execution.step_budgets.{}", kind.name()));
    }
    if let (StepKind::FailoverCache, Some(c)) = (kind, &policy.tiers.cache) {
        return (c.failover_timeout, "tiers.cache.failover_timeout".into());
    }
    (
        policy.execution.step_timeout,
        "execution.step_timeout".into(),
    )
}

/// Every step of `stats` whose p95 is above its budget under `policy`.
pub fn drifted(policy: &Policy, stats: &BTreeMap<String, StepStats>) -> Vec<Drift> {
    stats
        .iter()
        .filter_map(|(step, s)| {
            let (budget, from) = budget_for(policy, s.kind);
            (s.p95 > budget).then(|| Drift {
                step: step.clone(),
                p95_ms: s.p95.as_millis() as u64,
                budget_ms: budget.as_millis() as u64,
                budget_from: from,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(budgets: &str) -> Policy {
        let text = include_str!("../../policies/emr-platform-core.yaml").replace(
            "  step_timeout: 30m\n",
            &format!("  step_timeout: 30m\n  step_budgets:\n{budgets}"),
        );
        crate::policy::parse(std::path::Path::new("p.yaml"), &text).unwrap()
    }

    fn stats(kind: StepKind, p95_s: u64) -> StepStats {
        StepStats {
            kind,
            p50: Duration::from_secs(1),
            p95: Duration::from_secs(p95_s),
            count: 3,
        }
    }

    #[test]
    fn a_p95_above_its_budget_is_flagged_and_one_at_it_is_not() {
        let p = policy("    flip-dns: 60s\n");
        let mut s = BTreeMap::new();
        s.insert("flip-dns".to_string(), stats(StepKind::FlipDns, 61));
        s.insert("verify".to_string(), stats(StepKind::Verify, 1800));
        s.insert(
            "promote-database".to_string(),
            stats(StepKind::PromoteDatabase, 1801),
        );
        let d = drifted(&p, &s);
        assert_eq!(
            d,
            vec![
                Drift {
                    step: "flip-dns".into(),
                    p95_ms: 61_000,
                    budget_ms: 60_000,
                    budget_from: "execution.step_budgets.flip-dns".into(),
                },
                Drift {
                    step: "promote-database".into(),
                    p95_ms: 1_801_000,
                    budget_ms: 1_800_000,
                    budget_from: "execution.step_timeout".into(),
                },
            ]
        );
    }
}
