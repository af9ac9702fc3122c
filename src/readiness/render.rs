//! Readiness as text: one line per check, then the predicted RTO and the
//! verdict.

use std::fmt::Write;

use super::Readiness;

impl Readiness {
    /// The result for people: `PASS/WARN/FAIL name  sentence` per check,
    /// the predicted RTO (p50/p95) with its critical path, and the verdict.
    pub fn render_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = format!("readiness of {} at {}\n", self.policy, self.checked_at);
        for c in &self.checks {
            let _ = writeln!(out, "{} {:width$}  {}", c.status.word(), c.name, c.sentence);
        }
        let p = &self.predicted_rto;
        let _ = writeln!(
            out,
            "predicted RTO: p50 {}, p95 {} (critical path {}; from {})",
            crate::duration::fmt(p.p50()),
            crate::duration::fmt(p.p95()),
            p.critical_path.join(" → "),
            p.basis
        );
        let _ = writeln!(out, "{}", self.verdict.sentence());
        out
    }
}
