//! The scenario file format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cloud::sim::{Fault, LatencyModel};
use crate::model::DataTier;
use crate::model::Exposure;
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
    /// Faults switched on from the start.
    #[serde(default)]
    pub faults: Vec<Fault>,
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
    /// What must happen.
    pub expect: Expect,
    /// The file it was read from.
    #[serde(skip)]
    pub file: PathBuf,
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
        s.lags()?;
        s.accept_data_loss()?;
        Ok(s)
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
