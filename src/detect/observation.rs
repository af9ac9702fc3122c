//! What a site saw in one probe round: the detector's input.

use serde::{Deserialize, Serialize};

use crate::model::DataTier;
use crate::model::Exposure;

/// One site's probe round against the primary, stamped with the time it
/// started (the observing node's clock, Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The policy the probes belong to.
    pub policy: String,
    /// The observing node's site (its region).
    pub site: String,
    /// The observing node.
    pub node: u64,
    /// The round number on that node (restarts at 1 with the process).
    pub round: u64,
    /// When the round started, Unix milliseconds.
    pub at_ms: u64,
    /// Each probe's result.
    pub probes: Vec<ProbeResult>,
    /// Each data tier's exposure as this site measured it.
    pub tiers: Vec<TierReading>,
}

impl Observation {
    /// Whether the round failed: any probe of the primary failed (an
    /// inconclusive probe is not a failure).
    pub fn failed(&self) -> bool {
        self.probes.iter().any(|p| !p.ok && !p.inconclusive)
    }

    /// Whether the round says anything about the primary: some probe was
    /// conclusive. A round of inconclusive probes only is no evidence either
    /// way, as if the site had not probed.
    pub fn conclusive(&self) -> bool {
        self.probes.iter().any(|p| !p.inconclusive)
    }

    /// The round with every probe target and detail redacted
    /// ([`crate::redact`]): what a node keeps, serves and logs, whichever
    /// site (and version) sent it.
    pub fn redacted(mut self) -> Self {
        let redact = crate::redact::redact;
        for p in &mut self.probes {
            p.target = redact(&p.target);
            p.detail = p.detail.as_deref().map(redact);
        }
        for t in &mut self.tiers {
            t.detail = t.detail.as_deref().map(redact);
        }
        self
    }

    /// The targets that failed, with why, for reasons and logs.
    pub fn failures(&self) -> Vec<String> {
        self.probes
            .iter()
            .filter(|p| !p.ok && !p.inconclusive)
            .map(|p| match &p.detail {
                Some(d) => format!("{} ({d})", p.target),
                None => p.target.clone(),
            })
            // Logged: an observation from another site may quote a URL.
            .map(|line| crate::redact::redact(&line))
            .collect()
    }
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// What was probed, like `http https://api.example.com/health`.
    pub target: String,
    /// Whether the primary answered as expected within the timeout.
    pub ok: bool,
    /// The probe could not tell (the prober's own trouble: no credentials,
    /// access denied); not counted as a failure of the primary.
    #[serde(default)]
    pub inconclusive: bool,
    /// How long the probe took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, or what was seen.
    pub detail: Option<String>,
}

/// A data tier's exposure as one site measured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierReading {
    /// The tier.
    pub tier: DataTier,
    /// Last time the primary took this site's heartbeat minus the newest
    /// heartbeat of this site visible on the replica; unknown when either
    /// side has not been read.
    pub exposure: Exposure,
    /// Where the figure comes from: `heartbeat` or `cloud` (the provider's
    /// reported lag, supporting evidence).
    pub source: String,
    /// What was seen, like the replica's newest heartbeat's age.
    pub detail: Option<String>,
    /// Whether the replica says its replication link to the primary is up
    /// (`None`: not known, or not a replica any more).
    #[serde(default)]
    pub source_reachable: Option<bool>,
}
