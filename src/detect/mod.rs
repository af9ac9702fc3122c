//! Detection: the observations of every site over time → a verdict.
//!
//! Pure: [`evaluate`] takes the policy, what each site saw and what the
//! cluster knows (maintenance, executions), and returns a [`Verdict`] whose
//! reason reads as a sentence. The rules:
//!
//! - A site sees the primary down when its newest rounds failed
//!   `consecutive_failures` times in a row, the newest round is fresh, and no
//!   gap in its rounds is longer than a missed round allows.
//! - The primary is confirmed down only when a majority of all sites see it
//!   down. One site alone (cut off) is never enough; neither are failures
//!   that do not stay consecutive (flapping).
//! - A confirmed failure starts a failover only in automatic mode, outside
//!   maintenance, with no execution running, none waiting for an operator's
//!   acknowledgement (hold-down), and while the platform still runs in the
//!   primary region. In manual mode it recommends one, and proceeds on its
//!   own only when the policy's manual timeout says so.

mod observation;

pub use observation::{Observation, ProbeResult, TierReading};

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::fmt as dur;
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::{Mode, Policy, TimeoutAction};

/// Rounds kept per site: enough for any consecutive-failure count a policy
/// allows to be judged, and for flapping to show.
pub const ROUNDS_KEPT: usize = 200;

/// What the cluster knows besides the observations.
#[derive(Debug, Clone, Default)]
pub struct Situation<'a> {
    /// Now, Unix milliseconds (the evaluating node's clock).
    pub now_ms: u64,
    /// Every site of the cluster (one per voting member); the majority is
    /// computed over these, whether or not they report.
    pub sites: &'a [String],
    /// Each site's rounds, oldest first.
    pub observations: Option<&'a BTreeMap<String, VecDeque<Observation>>>,
    /// Maintenance mode, with who set it and why, when on.
    pub maintenance: Option<String>,
    /// The region the platform was moved to, when it is not the primary.
    pub failed_over_to: Option<String>,
    /// The execution running now for this policy.
    pub running: Option<String>,
    /// The last execution, when it still awaits an operator's
    /// acknowledgement: its id and how it ended.
    pub unacknowledged: Option<(String, String)>,
    /// Since when a failover has been recommended (manual mode).
    pub recommended_since_ms: Option<u64>,
}

/// The primary's health as the sites see it together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Fewer than a majority of sites report fresh rounds: nothing can be
    /// confirmed either way.
    Unknown,
    /// A majority report and none sees failures.
    Healthy,
    /// Some site sees failures, not (yet) a confirmed failure.
    Suspect,
    /// A majority of sites see the primary down.
    Down,
}

/// What the leader should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: the primary is not confirmed down.
    None,
    /// Start the failover (subject to the RPO gate).
    Failover,
    /// Manual mode: recommend a failover and wait for an operator.
    Recommend,
    /// Confirmed, but maintenance mode suppresses automatic action.
    Maintenance,
    /// Confirmed, but the last execution awaits an acknowledgement.
    HeldDown,
    /// Confirmed, but an execution is already running.
    Running,
    /// Confirmed, but the platform already runs in the DR region.
    FailedOver,
}

impl Action {
    /// The name used in the API and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Failover => "failover",
            Self::Recommend => "recommend",
            Self::Maintenance => "maintenance",
            Self::HeldDown => "held_down",
            Self::Running => "running",
            Self::FailedOver => "failed_over",
        }
    }

    /// Every action, for metrics.
    pub const ALL: [Action; 7] = [
        Self::None,
        Self::Failover,
        Self::Recommend,
        Self::Maintenance,
        Self::HeldDown,
        Self::Running,
        Self::FailedOver,
    ];
}

/// One site's part of the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteView {
    /// The site.
    pub site: String,
    /// Failed rounds in a row, newest last (0 when the newest passed).
    pub consecutive_failures: u32,
    /// Failed rounds among the last `2 × consecutive_failures`.
    pub recent_failures: u32,
    /// When its newest round started, Unix milliseconds.
    pub last_at_ms: Option<u64>,
    /// Whether its newest round is recent enough to count.
    pub fresh: bool,
    /// Whether it sees the primary down.
    pub down: bool,
    /// What failed in its newest round.
    pub failing: Vec<String>,
    /// Why, as the first failed probe said.
    pub error: Option<String>,
}

/// The detector's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The primary's health.
    pub health: Health,
    /// What to do.
    pub action: Action,
    /// Why, as a sentence.
    pub reason: String,
    /// When the failure became confirmed (the round that completed the
    /// majority), Unix milliseconds.
    pub confirmed_at_ms: Option<u64>,
    /// Each site.
    pub sites: Vec<SiteView>,
}

/// How old a site's newest round may be and still count: two intervals and
/// the probe timeout (one missed round is tolerated, two are not).
pub fn stale_after(policy: &Policy) -> Duration {
    policy.detection.probe_interval * 2 + policy.detection.probe_timeout
}

/// Evaluates the observations of every site.
pub fn evaluate(policy: &Policy, s: &Situation<'_>) -> Verdict {
    let need = policy.detection.consecutive_failures;
    let stale = stale_after(policy).as_millis() as u64;
    let empty = BTreeMap::new();
    // Rounds of inconclusive probes only say nothing either way: as if the
    // site had not probed.
    let conclusive: BTreeMap<&String, Vec<&Observation>> = s
        .observations
        .unwrap_or(&empty)
        .iter()
        .map(|(site, r)| (site, r.iter().filter(|o| o.conclusive()).collect()))
        .collect();
    let rounds_of = |site: &String| conclusive.get(site).map_or(&[][..], |r| &r[..]);
    let sites: Vec<SiteView> = s
        .sites
        .iter()
        .map(|site| site_view(site, rounds_of(site), need, stale, s.now_ms))
        .collect();
    let total = sites.len();
    let majority = total / 2 + 1;
    let fresh = sites.iter().filter(|v| v.fresh).count();
    let down: Vec<&SiteView> = sites.iter().filter(|v| v.down).collect();
    let confirmed_at_ms = if down.len() >= majority {
        let mut at: Vec<u64> = down
            .iter()
            .filter_map(|v| confirmed_round(rounds_of(&v.site), need))
            .collect();
        at.sort_unstable();
        at.get(majority - 1).copied()
    } else {
        None
    };
    let health = if down.len() >= majority {
        Health::Down
    } else if sites.iter().any(|v| v.fresh && v.consecutive_failures > 0) {
        Health::Suspect
    } else if fresh < majority {
        Health::Unknown
    } else {
        Health::Healthy
    };
    let mut reason = describe(health, &sites, need, majority, fresh);
    if matches!(health, Health::Down | Health::Suspect) {
        // Supporting evidence: a replica that lost its source.
        let mut cut: Vec<&str> = sites
            .iter()
            .filter(|v| v.fresh)
            .filter_map(|v| rounds_of(&v.site).last())
            .flat_map(|o| &o.tiers)
            .filter(|t| t.source_reachable == Some(false))
            .map(|t| t.tier.name())
            .collect();
        cut.sort_unstable();
        cut.dedup();
        if !cut.is_empty() {
            reason.push_str(&format!(
                "; the {} replica{} report{} {} source unreachable",
                cut.join(" and "),
                if cut.len() > 1 { "s" } else { "" },
                if cut.len() > 1 { "" } else { "s" },
                if cut.len() > 1 { "their" } else { "its" },
            ));
        }
    }
    let action = if health == Health::Down {
        let (action, why) = decide(policy, s);
        reason.push_str("; ");
        reason.push_str(&why);
        action
    } else {
        Action::None
    };
    Verdict {
        health,
        action,
        reason,
        confirmed_at_ms,
        sites,
    }
}

fn site_view(site: &str, rounds: &[&Observation], need: u32, stale: u64, now: u64) -> SiteView {
    let newest = rounds.last().copied();
    let fresh = newest.is_some_and(|o| now.saturating_sub(o.at_ms) <= stale);
    let consecutive = trailing_failures(rounds, stale);
    let window = (2 * need).max(1) as usize;
    let recent = rounds
        .iter()
        .rev()
        .take(window)
        .filter(|o| o.failed())
        .count() as u32;
    SiteView {
        site: site.to_string(),
        consecutive_failures: consecutive,
        recent_failures: recent,
        last_at_ms: newest.map(|o| o.at_ms),
        fresh,
        down: fresh && consecutive >= need,
        failing: newest
            .map(|o| {
                o.probes
                    .iter()
                    .filter(|p| !p.ok)
                    .map(|p| p.target.clone())
                    .collect()
            })
            .unwrap_or_default(),
        error: newest.and_then(|o| o.probes.iter().find(|p| !p.ok)?.detail.clone()),
    }
}

/// Failed rounds in a row at the end, stopping at a pass or at a gap longer
/// than `stale` between two rounds (the site was not probing meanwhile).
fn trailing_failures(rounds: &[&Observation], stale: u64) -> u32 {
    let mut n = 0;
    let mut later: Option<u64> = None;
    for o in rounds.iter().rev() {
        if !o.failed() || later.is_some_and(|l| l.saturating_sub(o.at_ms) > stale) {
            break;
        }
        n += 1;
        later = Some(o.at_ms);
    }
    n
}

/// When the site's run of failures reached `need`: the start of its
/// `need`-th failed round in the trailing run.
fn confirmed_round(rounds: &[&Observation], need: u32) -> Option<u64> {
    let run = rounds.iter().rev().take_while(|o| o.failed()).count();
    let first = rounds.len() - run;
    rounds.get(first + need as usize - 1).map(|o| o.at_ms)
}

fn describe(
    health: Health,
    sites: &[SiteView],
    need: u32,
    majority: usize,
    fresh: usize,
) -> String {
    let total = sites.len();
    // Sites that fail the same way are named together.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for v in sites
        .iter()
        .filter(|v| v.fresh && v.consecutive_failures > 0)
    {
        let what = format!(
            "{}{}",
            v.failing.join(", "),
            v.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        let who = format!("{} ({} in a row)", v.site, v.consecutive_failures);
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, sites)) => sites.push(who),
            None => groups.push((what, vec![who])),
        }
    }
    let failing: Vec<String> = groups
        .into_iter()
        .map(|(what, who)| format!("{}: {what}", who.join(", ")))
        .collect();
    let silent: Vec<&str> = sites
        .iter()
        .filter(|v| !v.fresh)
        .map(|v| v.site.as_str())
        .collect();
    let silent_note = if silent.is_empty() {
        String::new()
    } else {
        format!("; no recent rounds from {}", silent.join(", "))
    };
    let flapping: Vec<String> = sites
        .iter()
        .filter(|v| v.fresh && !v.down && v.recent_failures >= need && need > 1)
        .map(|v| {
            format!(
                "{} flapping ({} of its last {} rounds failed, not in a row)",
                v.site,
                v.recent_failures,
                2 * need
            )
        })
        .collect();
    let flap_note = if flapping.is_empty() {
        String::new()
    } else {
        format!("; {}", flapping.join(", "))
    };
    let down = sites.iter().filter(|v| v.down).count();
    match health {
        Health::Down => format!(
            "primary down: {down} of {total} sites failed {need} consecutive probes ({}){silent_note}",
            failing.join("; ")
        ),
        Health::Suspect => format!(
            "primary suspect: {down} of {total} sites see it down, {majority} needed (failing in a row: {}){flap_note}{silent_note}",
            failing.join("; ")
        ),
        Health::Unknown => format!(
            "primary health unknown: {fresh} of {total} sites report, {majority} needed{silent_note}"
        ),
        Health::Healthy => format!(
            "primary healthy: {fresh} of {total} sites report it up{flap_note}{silent_note}"
        ),
    }
}

fn decide(policy: &Policy, s: &Situation<'_>) -> (Action, String) {
    if let Some(region) = &s.failed_over_to {
        return (
            Action::FailedOver,
            format!(
                "the platform already runs in {region}; failing back is an operator's decision"
            ),
        );
    }
    if let Some(id) = &s.running {
        return (Action::Running, format!("execution {id} is running"));
    }
    if let Some(who) = &s.maintenance {
        return (
            Action::Maintenance,
            format!("maintenance mode is on ({who}): no automatic action"),
        );
    }
    if let Some((id, how)) = &s.unacknowledged {
        return (
            Action::HeldDown,
            format!(
                "held down: execution {id} {how} and awaits acknowledgement (drctl acknowledge)"
            ),
        );
    }
    match policy.mode {
        Mode::Automatic => (Action::Failover, "automatic mode: failing over".into()),
        Mode::Manual => {
            let waited = s
                .recommended_since_ms
                .map(|since| Duration::from_millis(s.now_ms.saturating_sub(since)));
            match (policy.manual_timeout, waited) {
                (Some(t), Some(w)) if t.action == TimeoutAction::Proceed && w >= t.after => (
                    Action::Failover,
                    format!(
                        "failover recommended {} ago and not confirmed; the policy proceeds after {}",
                        dur(w),
                        dur(t.after)
                    ),
                ),
                _ => (
                    Action::Recommend,
                    "failover recommended: confirm with drctl failover --confirm".into(),
                ),
            }
        }
    }
}

/// Each data tier's exposure from the sites' newest fresh readings: the
/// largest known figure (each site measures with its own clock only, so
/// figures from different sites never mix clocks); unknown when no fresh
/// site knows it. Heartbeat figures win over cloud-reported ones.
pub fn exposures(
    policy: &Policy,
    observations: &BTreeMap<String, VecDeque<Observation>>,
    now_ms: u64,
) -> BTreeMap<DataTier, (Exposure, String)> {
    let stale = stale_after(policy).as_millis() as u64;
    let mut out: BTreeMap<DataTier, (Exposure, String)> = BTreeMap::new();
    for rounds in observations.values() {
        let Some(o) = rounds.back() else { continue };
        if now_ms.saturating_sub(o.at_ms) > stale {
            continue;
        }
        for r in &o.tiers {
            let entry = out
                .entry(r.tier)
                .or_insert_with(|| (Exposure::Unknown, r.source.clone()));
            let rank = |src: &str| u8::from(src == "heartbeat");
            if rank(&r.source) > rank(&entry.1) {
                *entry = (r.exposure, r.source.clone());
                continue;
            }
            if rank(&r.source) < rank(&entry.1) {
                continue;
            }
            if let Exposure::Known(d) = r.exposure {
                let bigger = match entry.0 {
                    Exposure::Known(e) => d > e,
                    Exposure::Unknown => true,
                };
                if bigger {
                    entry.0 = Exposure::Known(d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
