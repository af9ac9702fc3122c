//! Stage two for `execution.step_budgets`: how long each kind of step is
//! expected to take at most, the figure `drctl history` holds each step's
//! p95 to.

use std::collections::BTreeMap;
use std::time::Duration;

use super::validate::Validator;
use crate::plan::StepKind;

impl Validator {
    /// Each budget by step kind; an unknown kind or a duration that is not
    /// above zero is a problem naming `execution.step_budgets.<kind>`.
    pub(super) fn step_budgets(
        &mut self,
        raw: Option<BTreeMap<String, String>>,
    ) -> BTreeMap<StepKind, Duration> {
        let mut budgets = BTreeMap::new();
        for (name, value) in raw.unwrap_or_default() {
            let path = format!("execution.step_budgets.{name}");
            let Some(kind) = StepKind::ALL.into_iter().find(|k| k.name() == name) else {
                let kinds: Vec<&str> = StepKind::ALL.iter().map(|k| k.name()).collect();
                self.problem(
                    path,
                    None,
                    format!("a step kind: one of {}", kinds.join(", ")),
                );
                continue;
            };
            if let Some(d) = self.positive(&path, Some(value), None) {
                budgets.insert(kind, d);
            }
        }
        budgets
    }
}

/// Serializes budgets as the policy writes them (`promote-database: 10m`).
pub(super) fn serialize<S: serde::Serializer>(
    budgets: &BTreeMap<StepKind, Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(budgets.len()))?;
    for (k, d) in budgets {
        m.serialize_entry(k.name(), &crate::duration::fmt(*d))?;
    }
    m.end()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::plan::StepKind;
    use crate::policy::parse;

    const CORE: &str = include_str!("../../policies/emr-platform-core.yaml");

    fn with_budgets(budgets: &str) -> String {
        CORE.replace(
            "  step_timeout: 30m\n",
            &format!("  step_timeout: 30m\n  step_budgets:\n{budgets}"),
        )
    }

    #[test]
    fn step_budgets_are_read_per_kind() {
        let text = with_budgets("    promote-database: 10m\n    flip-dns: 90s\n");
        let p = parse(Path::new("policies/test.yaml"), &text).unwrap();
        let b = &p.execution.step_budgets;
        assert_eq!(b[&StepKind::PromoteDatabase], Duration::from_secs(600));
        assert_eq!(b[&StepKind::FlipDns], Duration::from_secs(90));
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn an_unknown_step_kind_or_a_zero_budget_is_named() {
        let text = with_budgets("    promote-db: 10m\n    flip-dns: 0s\n");
        let err = parse(Path::new("policies/test.yaml"), &text).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("execution.step_budgets.promote-db")
                && shown.contains("a step kind: one of preflight, rpo-gate"),
            "{shown}"
        );
        assert!(
            shown.contains("execution.step_budgets.flip-dns")
                && shown.contains("a duration above zero"),
            "{shown}"
        );
    }
}
