//! The divergence report of one execution, per data tier: where the
//! replica stood at the fork and what the old primary accepted after it,
//! or why that is not known (yet). `drctl divergence` prints it; the
//! execution report carries its lines.

use serde::Serialize;

use super::FenceOldPrimary;
use crate::execute::fork::ForkPositions;
use crate::execute::ExecutionRecord;
use crate::fence::Divergence;
use crate::model::DataTier;

/// The tiers that have a replica position and a divergence.
const TIERS: [DataTier; 2] = [DataTier::Database, DataTier::Cache];

/// The divergence report of one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DivergenceReport {
    /// The execution.
    pub execution_id: String,
    /// Its policy.
    pub policy: String,
    /// The region left, where the old primary is.
    pub from_region: String,
    /// The replicas' positions the RPO gate recorded.
    pub fork: Option<ForkPositions>,
    /// One entry per data tier that can diverge.
    pub tiers: Vec<TierDivergence>,
}

/// One tier of a [`DivergenceReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierDivergence {
    /// The tier.
    pub tier: DataTier,
    /// The replica's position at the fork, as a sentence.
    pub position: Option<String>,
    /// What the old primary accepted after it, once measured.
    pub measured: Option<Divergence>,
    /// The finding as a sentence: the divergence, or why there is none.
    pub note: String,
}

impl DivergenceReport {
    /// The report of a journal record.
    pub fn of_record(r: &ExecutionRecord) -> Self {
        Self::new(
            &r.id,
            &r.policy,
            &r.plan.from_region,
            r.fork.as_ref(),
            r.fence_old_primary.as_ref(),
        )
    }

    /// The report of a journal record that recorded a fork (`None`
    /// otherwise: a drill, or a policy without heartbeat targets).
    pub fn of_fork(r: &ExecutionRecord) -> Option<Self> {
        r.fork.as_ref().map(|_| Self::of_record(r))
    }

    /// The report of an execution's parts (a journal record or the API's
    /// view of one).
    pub fn new(
        execution_id: &str,
        policy: &str,
        from_region: &str,
        fork: Option<&ForkPositions>,
        fence: Option<&FenceOldPrimary>,
    ) -> Self {
        let tiers = TIERS
            .iter()
            .map(|&tier| {
                let position = fork.and_then(|f| f.position_of(tier));
                let measured = fence
                    .and_then(|f| f.divergence.iter().find(|d| d.tier == tier))
                    .cloned();
                let note = note(tier, fork, fence, from_region, measured.as_ref());
                TierDivergence {
                    tier,
                    position,
                    measured,
                    note,
                }
            })
            .collect();
        Self {
            execution_id: execution_id.to_string(),
            policy: policy.to_string(),
            from_region: from_region.to_string(),
            fork: fork.cloned(),
            tiers,
        }
    }

    /// A line per finding: `database: at the fork, replica at WAL …` and
    /// `database: 48 KiB of WAL and … after the fork; …`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tiers {
            let name = t.tier.name();
            if let Some(p) = &t.position {
                out.push(format!("{name}: at the fork, {p}"));
            }
            out.push(format!("{name}: {}", t.note));
        }
        out
    }

    /// The report as text for a terminal.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "divergence of execution {} of policy {} (old primary in {})\n",
            self.execution_id, self.policy, self.from_region
        );
        for l in self.lines() {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}

/// The finding for `tier`, without the tier's name in front.
fn note(
    tier: DataTier,
    fork: Option<&ForkPositions>,
    fence: Option<&FenceOldPrimary>,
    region: &str,
    measured: Option<&Divergence>,
) -> String {
    let name = tier.name();
    let Some(fork) = fork else {
        return format!(
            "no position recorded at the fork (no heartbeat target for {name}, or the execution ran on the simulated cloud): nothing to measure"
        );
    };
    if fork.position_of(tier).is_none() {
        return match fork.error_of(tier) {
            Some(e) => format!(
                "position not read at the fork ({}): nothing to measure",
                strip(name, e)
            ),
            None => format!("no heartbeat target for {name}: nothing to measure"),
        };
    }
    let Some(fence) = fence else {
        return "not measured: the policy does not fence the old primary on return (fencing.on_return)".into();
    };
    if fence.is_open() {
        return format!("not measured yet: {region} has not answered since the failover");
    }
    if let Some(d) = measured {
        if d.is_empty() {
            return "nothing written on the old primary after the fork".into();
        }
        return format!(
            "{}; the fenced old primary keeps these writes: recover them from it before rebuilding {region} from the new primary",
            strip(name, &d.to_string())
        );
    }
    match fence
        .divergence_errors
        .iter()
        .find(|e| e.starts_with(&format!("{name}: ")))
    {
        Some(e) => format!("not measured: {}", strip(name, e)),
        None => "not measured: the old primary was fenced without a measurement".into(),
    }
}

fn strip<'a>(name: &str, line: &'a str) -> &'a str {
    line.strip_prefix(name)
        .and_then(|l| l.strip_prefix(": "))
        .unwrap_or(line)
}

#[cfg(test)]
mod tests;
