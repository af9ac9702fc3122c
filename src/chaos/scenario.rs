//! The scenario file format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cloud::sim::{Fault, LatencyModel};
use crate::execute::cycle::CyclePhase;
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::{Orientation, Protection};
use crate::policy::{self, Policy};

/// A scenario, as read from its file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in output and execution ids.
    pub name: String,
    /// What the scenario shows, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// The policy, relative to the scenario file.
    pub policy: PathBuf,
    /// Seeds the simulated cloud.
    #[serde(default)]
    pub seed: u64,
    /// Faults switched on from the start (for a scenario of a later
    /// phase: just before that phase).
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// For a scenario of a later phase: faults the failover before it met,
    /// switched off once it ended (a Global Datastore that could not fail
    /// over left the DR member disassociated).
    #[serde(default)]
    pub failover_faults: Vec<Fault>,
    /// Replication lag per data tier: a duration or `unknown`.
    #[serde(default)]
    pub lag: BTreeMap<DataTier, String>,
    /// Resources removed from the world before the run.
    #[serde(default)]
    pub remove: Vec<String>,
    /// The operator's `--accept-data-loss`, if any.
    #[serde(default)]
    pub accept_data_loss: Option<String>,
    /// The operator's `--accept-unknown-loss` tiers.
    #[serde(default)]
    pub accept_unknown_loss: Vec<DataTier>,
    /// Regions under outage from the start (their endpoints do not answer;
    /// us-east-1 also takes Route 53's control plane with it).
    #[serde(default)]
    pub outage: Vec<String>,
    /// Regions whose routing-control cluster endpoint alone does not answer.
    #[serde(default)]
    pub routing_endpoints_down: Vec<String>,
    /// ARC gating safety rules that are closed: routing-control updates are refused.
    #[serde(default)]
    pub closed_gating_rules: Vec<String>,
    /// Overrides the default latency model.
    #[serde(default)]
    pub latency: Option<LatencyModel>,
    /// After the execution, try the fence of the old primary once: with
    /// the outage ended first (`true`) or still on (`false`).
    #[serde(default)]
    pub region_returns: Option<bool>,
    /// The phase of the way home the faults, outage, lag and removals
    /// break (default `failover`). For a later phase the phases before it
    /// run on a healthy cloud, the breakage is applied just before this
    /// phase, and `expect` is checked against this phase's execution.
    #[serde(default)]
    pub phase: ScenarioPhase,
    /// What must happen.
    pub expect: Expect,
    /// The file it was read from.
    #[serde(skip)]
    pub file: PathBuf,
}

/// The phase of the way home a scenario breaks, as scenario files spell it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioPhase {
    /// The failover away from the policy's primary region.
    #[default]
    Failover,
    /// The reprotect after the failover.
    Reprotect,
    /// The failback home after the reprotect.
    Failback,
    /// The failover again, from home, after the failback.
    FailoverAgain,
}

impl ScenarioPhase {
    /// The phase of the cycle it names.
    pub fn cycle_phase(self) -> CyclePhase {
        match self {
            Self::Failover => CyclePhase::Failover,
            Self::Reprotect => CyclePhase::Reprotect,
            Self::Failback => CyclePhase::Failback,
            Self::FailoverAgain => CyclePhase::FailoverAgain,
        }
    }
}

/// Whether the active region is protected once the phase ended, as
/// scenario files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedProtection {
    /// Every protected tier has a replica in the standby region.
    Protected,
    /// The active region has no replica anywhere.
    Unprotected,
    /// A reprotect is under way.
    Reprotecting,
}

impl ExpectedProtection {
    /// Its name as scenario files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Protected => "protected",
            Self::Unprotected => "unprotected",
            Self::Reprotecting => "reprotecting",
        }
    }

    /// Whether `p` is this protection.
    pub fn matches(self, p: Protection) -> bool {
        matches!(
            (self, p),
            (Self::Protected, Protection::Protected)
                | (Self::Unprotected, Protection::Unprotected)
                | (Self::Reprotecting, Protection::Reprotecting { .. })
        )
    }
}

/// How the failover must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    /// Every step done and verified.
    Completed,
    /// A step failed; its dependants did not run.
    Failed,
    /// The RPO gate refused; nothing changed.
    Refused,
    /// Preflight found a problem; nothing changed.
    PreflightFailed,
}

/// The expectations of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How the execution ends.
    pub outcome: ExpectedOutcome,
    /// The step that must fail.
    #[serde(default)]
    pub failed_step: Option<String>,
    /// Steps that must not run.
    #[serde(default)]
    pub not_run: Vec<String>,
    /// Steps that must succeed.
    #[serde(default)]
    pub done: Vec<String>,
    /// Exact attempts per step.
    #[serde(default)]
    pub attempts: BTreeMap<String, u32>,
    /// Exact accepted mutating calls per operation.
    #[serde(default)]
    pub mutations: BTreeMap<String, u32>,
    /// Text the execution's summary must contain.
    #[serde(default)]
    pub summary_contains: Option<String>,
    /// Exact calls to the region being left or Route 53's control plane.
    #[serde(default)]
    pub calls_to_primary: Option<u32>,
    /// Text one of the execution's decisions must contain.
    #[serde(default)]
    pub decision_contains: Option<String>,
    /// Text the outcome of each named step must contain.
    #[serde(default)]
    pub outcome_contains: BTreeMap<String, String>,
    /// How the fence of the old primary stands after its try
    /// (`region_returns`): `pending`, `done` or `failed`.
    #[serde(default)]
    pub fence_old_primary: Option<crate::execute::StepStatus>,
    /// Lines the fence's outcome must contain.
    #[serde(default)]
    pub fence_contains: Vec<String>,
    /// How the policy is read once the phase ended (`as_written` or
    /// `reversed`); for a scenario of a later `phase`.
    #[serde(default)]
    pub orientation_after: Option<Orientation>,
    /// Whether the active region is protected once the phase ended; for a
    /// scenario of a later `phase`.
    #[serde(default)]
    pub protection_after: Option<ExpectedProtection>,
    /// Whether the writers of a tier in a region are quiesced once the
    /// phase ended, keyed `region/tier` (`us-west-2/database: false`: the
    /// writers there may write).
    #[serde(default)]
    pub writers_quiesced: BTreeMap<String, bool>,
}

/// A scenario that cannot be run, naming its file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    /// The scenario file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

impl Scenario {
    /// Reads a scenario file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not a valid scenario.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            file: path.display().to_string(),
            message,
        };
        let text = crate::policy::read::read_bounded(path)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        let mut s: Scenario = serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?;
        s.file = path.to_path_buf();
        for (i, f) in s.faults.iter().enumerate() {
            f.validate().map_err(|e| err(format!("faults[{i}].{e}")))?;
        }
        for (i, f) in s.failover_faults.iter().enumerate() {
            f.validate()
                .map_err(|e| err(format!("failover_faults[{i}].{e}")))?;
        }
        s.lags()?;
        s.accept_data_loss()?;
        s.check_phase().map_err(err)?;
        Ok(s)
    }

    /// Refuses fields that apply to the failover alone in a scenario of a
    /// later phase, and the cycle's expectations in a failover scenario.
    fn check_phase(&self) -> Result<(), String> {
        let e = &self.expect;
        if self.phase == ScenarioPhase::Failover {
            if !self.failover_faults.is_empty() {
                return Err("failover_faults: applies to a scenario of a later phase; \
                            in a failover scenario put them in faults"
                    .into());
            }
            let cycle_only = [
                ("orientation_after", e.orientation_after.is_some()),
                ("protection_after", e.protection_after.is_some()),
                ("writers_quiesced", !e.writers_quiesced.is_empty()),
            ];
            if let Some((field, _)) = cycle_only.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "expect.{field}: applies to a scenario of a later phase; \
                     set phase to reprotect, failback or failover-again"
                ));
            }
        } else {
            let failover_only = [
                ("region_returns", self.region_returns.is_some()),
                ("expect.calls_to_primary", e.calls_to_primary.is_some()),
                ("expect.fence_old_primary", e.fence_old_primary.is_some()),
                ("expect.fence_contains", !e.fence_contains.is_empty()),
            ];
            if let Some((field, _)) = failover_only.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "{field}: applies to a failover scenario only (phase: failover)"
                ));
            }
        }
        for key in e.writers_quiesced.keys() {
            if key
                .split_once('/')
                .is_none_or(|(r, t)| r.is_empty() || t.is_empty())
            {
                return Err(format!(
                    "expect.writers_quiesced: {key:?} is not region/tier (us-west-2/database)"
                ));
            }
        }
        Ok(())
    }

    /// An error about this scenario.
    pub fn error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.display().to_string(),
            message: message.into(),
        }
    }

    /// The policy the scenario names, validated.
    ///
    /// # Errors
    ///
    /// The policy does not validate.
    pub fn load_policy(&self) -> Result<Policy, ScenarioError> {
        let base = self.file.parent().unwrap_or(Path::new("."));
        policy::load(&base.join(&self.policy)).map_err(|e| self.error(format!("policy: {e}")))
    }

    /// The lags as exposures.
    ///
    /// # Errors
    ///
    /// A lag that is neither a duration nor `unknown`.
    pub fn lags(&self) -> Result<BTreeMap<DataTier, Exposure>, ScenarioError> {
        self.lag
            .iter()
            .map(|(tier, text)| {
                let e = if text == "unknown" {
                    Exposure::Unknown
                } else {
                    Exposure::Known(
                        crate::duration::parse(text)
                            .map_err(|e| self.error(format!("lag.{tier}: {e}")))?,
                    )
                };
                Ok((*tier, e))
            })
            .collect()
    }

    /// The tiers whose unknown exposure is accepted.
    ///
    /// # Errors
    ///
    /// Never; kept fallible like the other acceptance.
    pub fn accept_unknown_loss(
        &self,
    ) -> Result<std::collections::BTreeSet<DataTier>, ScenarioError> {
        Ok(self.accept_unknown_loss.iter().copied().collect())
    }

    /// The accepted data loss.
    ///
    /// # Errors
    ///
    /// Not a duration.
    pub fn accept_data_loss(&self) -> Result<Option<Duration>, ScenarioError> {
        self.accept_data_loss
            .as_deref()
            .map(|t| {
                crate::duration::parse(t).map_err(|e| self.error(format!("accept_data_loss: {e}")))
            })
            .transpose()
    }
}
