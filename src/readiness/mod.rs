//! Readiness: would a failover work now, and how long would it take?
//!
//! [`evaluate`] reads the platform (never changes it) and returns one
//! [`Check`] per family, each pass, warn or fail with a sentence saying why
//! and what to do, a [`Verdict`], and a predicted RTO. It reuses what the
//! failover itself reads: [`crate::execute::observe`] fills the same
//! [`Observed`] the plan is built from, so preflight's problems and the RPO
//! gate's evaluation are exactly what a failover started now would see.
//! `drctl check` prints the result; the controllers' leader evaluates it
//! every `readiness.interval` and replicates the newest result.
//!
//! One file per check family: `resources.rs` (DR resources and exposure),
//! `capacity.rs` (node-group maxima, the vCPU quota), `traffic.rs`
//! (routing-control endpoints, DNS answers and TTL), `permissions.rs`
//! (IAM, the executing role's and the witness's), `dr_health.rs` (the DR
//! load balancer's targets, the MSK Replicator), `heartbeats.rs` (the sites), `clocks.rs` (their clocks' skew),
//! `predict.rs` (the RTO).

mod capacity;
mod clocks;
mod dr_health;
mod heartbeats;
mod permissions;
mod predict;
mod render;
mod resources;
mod traffic;

pub use clocks::{max_clock_skew, DEFAULT_MAX_CLOCK_SKEW};
pub use heartbeats::SiteBeat;
pub use permissions::{iam_actions, mutating_actions};
pub use predict::{predict_rto, predict_rto_with, PredictedRto};

use serde::{Deserialize, Serialize};

use crate::cloud::{Capacity, Cloud, DrHealth, Permissions};
use crate::execute::{no_notes, observe};
use crate::history::RunSummary;
use crate::plan::{self, Acceptance, Observed, Plan};
use crate::policy::Policy;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to do.
    Pass,
    /// A failover would work, but something deserves attention.
    Warn,
    /// A failover started now would fail or break the objectives.
    Fail,
}

impl Status {
    /// The word printed at the start of the check's line.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }

    /// The value exported as `drctl_readiness{check}`: 0 pass, 1 warn, 2 fail.
    pub fn gauge(self) -> u8 {
        self as u8
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// A stable name, also the `check` label of the metric (see [`CHECKS`]).
    pub name: String,
    /// Pass, warn or fail.
    pub status: Status,
    /// Why, and what to do.
    pub sentence: String,
}

impl Check {
    fn new(name: &str, status: Status, sentence: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            status,
            sentence: sentence.into(),
        }
    }
}

/// Every check's name, in the order they are reported.
pub const CHECKS: &[&str] = &[
    resources::RESOURCES,
    resources::EXPOSURE,
    capacity::NODE_GROUPS,
    capacity::VCPU_QUOTA,
    traffic::ROUTING_CONTROL,
    traffic::DNS,
    permissions::PERMISSIONS,
    heartbeats::HEARTBEATS,
    clocks::CLOCKS,
    predict::PREDICTED_RTO,
];

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Ready,
    /// No check failed, some warned.
    Warnings,
    /// Some check failed.
    NotReady,
}

impl Verdict {
    /// The verdict of a set of checks: the worst status among them.
    pub fn of(checks: &[Check]) -> Self {
        match checks.iter().map(|c| c.status).max() {
            Some(Status::Fail) => Self::NotReady,
            Some(Status::Warn) => Self::Warnings,
            _ => Self::Ready,
        }
    }

    /// The verdict as people read it.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Ready => "READY: a failover started now would work",
            Self::Warnings => "READY WITH WARNINGS: a failover would work; see the warnings",
            Self::NotReady => "NOT READY: a failover started now would fail; see the failures",
        }
    }
}

/// The result of one readiness evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// The policy evaluated.
    pub policy: String,
    /// When (RFC 3339, wall clock).
    pub checked_at: String,
    /// Every check, in [`CHECKS`] order.
    pub checks: Vec<Check>,
    /// The worst of the checks.
    pub verdict: Verdict,
    /// How long a failover started now would take.
    pub predicted_rto: PredictedRto,
}

impl Readiness {
    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The failing checks as one sentence (`name: why; …`), `None` when
    /// none fails (warnings are not failures).
    pub fn failing(&self) -> Option<String> {
        let failing: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| format!("{}: {}", c.name, c.sentence))
            .collect();
        (!failing.is_empty()).then(|| failing.join("; "))
    }
}

/// What the evaluation knows besides the cloud.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    /// Each controller site's newest heartbeat round (`None`: not known
    /// here, as in `drctl check` against AWS without a controller).
    pub sites: Option<Vec<SiteBeat>>,
    /// The wall clock now, Unix milliseconds.
    pub now_ms: u64,
    /// Past executions and drills of this policy, oldest first, for the
    /// predicted RTO: the local history's, or a controller's replicated
    /// summaries (what `GET /v1/history` answers).
    pub history: &'a [RunSummary],
    /// The latency model to predict with when there is no history.
    pub latency: crate::cloud::sim::LatencyModel,
    /// The region serving traffic now (`None`: the policy's primary): on
    /// a controller, the replicated state's active region, so that after a
    /// failover the routing controls and DNS are judged against it.
    pub active_region: Option<String>,
    /// The witness's IAM role (`None`: not named, and not checked): the
    /// permissions check fails if it may make any of the plan's writes.
    pub witness_role: Option<String>,
}

/// `read`, given at most the policy's call timeout: a read that does not
/// answer (a region under outage) fails its check instead of holding the
/// evaluation up.
pub(crate) async fn bounded<T>(
    policy: &Policy,
    op: crate::model::Op,
    read: impl std::future::Future<Output = crate::cloud::CloudResult<T>>,
) -> crate::cloud::CloudResult<T> {
    let limit = policy.execution.call_timeout;
    match tokio::time::timeout(limit, read).await {
        Ok(r) => r,
        Err(_) => Err(crate::cloud::CloudError::new(
            crate::cloud::ErrorKind::Retryable,
            op,
            policy.name.clone(),
            format!("no answer within {}", crate::duration::fmt(limit)),
        )),
    }
}

/// Evaluates every check of `policy` against `cloud`, with the
/// provider's exposure figures. Read-only: it makes
/// only `get_*`/describe calls, the same reads as a failover's preflight
/// plus the capacity and permission reads.
pub async fn evaluate<C: Cloud + Capacity + Permissions + DrHealth>(
    cloud: &C,
    policy: &Policy,
    inputs: &Inputs<'_>,
) -> Readiness {
    evaluate_with(cloud, cloud, policy, inputs).await
}

/// [`evaluate`] with exposure figures from `exposures`: on a controller,
/// the same source as its RPO gate (heartbeats where the policy measures
/// them, the provider's figures elsewhere).
pub async fn evaluate_with<C: Cloud + Capacity + Permissions + DrHealth>(
    cloud: &C,
    exposures: &dyn crate::cloud::ExposureSource,
    policy: &Policy,
    inputs: &Inputs<'_>,
) -> Readiness {
    let observed: Observed = observe(cloud, exposures, policy, &no_notes).await;
    let plan: Plan = plan::build(policy, &observed, Acceptance::default());
    let active = inputs
        .active_region
        .as_deref()
        .unwrap_or(&policy.regions.primary);
    let witness = inputs.witness_role.as_deref();
    let (mut checks, capacity, traffic, permissions) = tokio::join!(
        resources::checks(cloud, policy, &plan, &observed, active),
        capacity::checks(cloud, policy, &observed),
        traffic::checks(cloud, policy, &observed, active),
        permissions::check(cloud, policy, &plan, witness),
    );
    let predicted = predict_rto_with(&plan, policy, inputs.history, &inputs.latency);
    checks.extend(capacity);
    checks.extend(traffic);
    checks.push(permissions);
    checks.push(heartbeats::check(policy, inputs));
    checks.push(clocks::check(policy, inputs));
    checks.push(predict::check(policy, &predicted));
    let verdict = Verdict::of(&checks);
    Readiness {
        policy: policy.name.clone(),
        checked_at: crate::execute::now_rfc3339(),
        checks,
        verdict,
        predicted_rto: predicted,
    }
}

#[cfg(test)]
mod tests;
