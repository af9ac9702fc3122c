//! The RPO gate's arithmetic: exposures against the RPO, and the override.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration;
use crate::model::DataTier;
use crate::model::Exposure;

/// One data tier's exposure as the gate saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierExposure {
    /// The tier.
    pub tier: DataTier,
    /// Its measured exposure.
    pub exposure: Exposure,
    /// The tier has already been failed over, so the exposure no longer
    /// matters (the loss, if any, has already happened).
    pub already_failed_over: bool,
    /// Where the figure came from (`heartbeat`, `cloudwatch AWS/RDS ReplicaLag`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What the operator accepts above the RPO: a number covers known
/// exposures up to it; an unknown exposure is covered only when its tier is
/// named, since no number bounds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acceptance {
    /// `--accept-data-loss`: known exposures up to this are accepted.
    pub data_loss: Option<Duration>,
    /// `--accept-unknown-loss`: tiers whose unknown exposure is accepted, unbounded.
    pub unknown: BTreeSet<DataTier>,
}

impl Acceptance {
    /// Only a number (`--accept-data-loss`), or nothing.
    pub fn up_to(data_loss: Option<Duration>) -> Self {
        Self {
            data_loss,
            unknown: BTreeSet::new(),
        }
    }
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum RpoVerdict {
    /// Every pending tier's exposure is known and within the RPO.
    Pass,
    /// Some exposure is above the RPO or unknown, and the operator accepted it.
    Accepted {
        /// The data loss the operator accepted, in milliseconds (0 when
        /// only unknown exposures were accepted).
        accepted_ms: u64,
        /// Tiers whose exposure was unknown, accepted as unbounded.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unbounded: Vec<DataTier>,
    },
    /// Some exposure is above the RPO or unknown, and nobody accepted it.
    Refuse {
        /// The worst tier.
        tier: DataTier,
        /// Its exposure.
        exposure: Exposure,
    },
}

/// The gate's full evaluation, kept in the journal and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpoEvaluation {
    /// The policy's RPO, in milliseconds.
    pub rpo_ms: u64,
    /// Each data tier the policy protects.
    pub tiers: Vec<TierExposure>,
    /// The operator's `--accept-data-loss`, in milliseconds, if given.
    pub accept_data_loss_ms: Option<u64>,
    /// The operator's `--accept-unknown-loss` tiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_unknown: Vec<DataTier>,
    /// The decision.
    pub verdict: RpoVerdict,
    /// Whether the figures bound the loss: only when the old writer is
    /// known to have stopped.
    #[serde(default)]
    pub basis: ExposureBasis,
}

/// What the exposure figures rest on. A replica's lag measures what it had
/// not received when measured; it bounds the loss only if the old primary
/// stopped writing then. Otherwise the loss may grow after the figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureBasis {
    /// Whether the old writer is known fenced (self-fence lease, confirmed
    /// fenced) or known dead.
    pub bounded: bool,
    /// Why, as a sentence.
    pub why: String,
}

impl Default for ExposureBasis {
    fn default() -> Self {
        Self {
            bounded: false,
            why: "nothing shows the old primary stopped taking writes: it may have gone on writing after the figures were measured".into(),
        }
    }
}

impl fmt::Display for ExposureBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.bounded { "bounded" } else { "assumed" };
        write!(f, "{word}: {}", self.why)
    }
}

impl RpoEvaluation {
    /// Whether the failover may proceed.
    pub fn allows(&self) -> bool {
        !matches!(self.verdict, RpoVerdict::Refuse { .. })
    }

    /// The largest known exposure among tiers not yet failed over, and
    /// whether any such tier's exposure is unknown.
    pub fn worst(&self) -> (Option<Duration>, bool) {
        let pending = self.tiers.iter().filter(|t| !t.already_failed_over);
        let mut worst = None;
        let mut unknown = false;
        for t in pending {
            match t.exposure {
                Exposure::Known(d) => worst = worst.max(Some(d)),
                Exposure::Unknown => unknown = true,
            }
        }
        (worst, unknown)
    }
}

/// Evaluates the gate. A tier is over when its exposure is unknown or above
/// the RPO; tiers already failed over are not counted. Over the RPO, the gate
/// passes only when the operator's acceptance covers every tier over it: a
/// known exposure up to the accepted number, an unknown one only when its
/// tier is named (no number bounds it).
pub fn evaluate(rpo: Duration, tiers: Vec<TierExposure>, accept: &Acceptance) -> RpoEvaluation {
    let over = |e: &Exposure| match e {
        Exposure::Known(d) => *d > rpo,
        Exposure::Unknown => true,
    };
    // The worst offender: unknown first, then the largest known exposure.
    let worst = tiers
        .iter()
        .filter(|t| !t.already_failed_over && over(&t.exposure))
        .max_by_key(|t| match t.exposure {
            Exposure::Unknown => Duration::MAX,
            Exposure::Known(d) => d,
        });
    // The first tier over the RPO that the acceptance does not cover.
    let uncovered = tiers
        .iter()
        .filter(|t| !t.already_failed_over && over(&t.exposure))
        .filter(|t| !covers(accept, t))
        .max_by_key(|t| match t.exposure {
            Exposure::Unknown => Duration::MAX,
            Exposure::Known(d) => d,
        });
    let verdict = match (worst, uncovered) {
        (None, _) => RpoVerdict::Pass,
        (Some(_), None) => RpoVerdict::Accepted {
            accepted_ms: accept.data_loss.map_or(0, millis),
            unbounded: tiers
                .iter()
                .filter(|t| !t.already_failed_over && t.exposure == Exposure::Unknown)
                .map(|t| t.tier)
                .collect(),
        },
        (Some(_), Some(t)) => RpoVerdict::Refuse {
            tier: t.tier,
            exposure: t.exposure,
        },
    };
    RpoEvaluation {
        rpo_ms: millis(rpo),
        tiers,
        accept_data_loss_ms: accept.data_loss.map(millis),
        accept_unknown: accept.unknown.iter().copied().collect(),
        verdict,
        basis: ExposureBasis::default(),
    }
}

/// Milliseconds, saturating (a duration too long for u64 milliseconds is
/// longer than anything a policy can mean).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn covers(accept: &Acceptance, t: &TierExposure) -> bool {
    match t.exposure {
        Exposure::Known(d) => accept.data_loss.is_some_and(|a| d <= a),
        Exposure::Unknown => accept.unknown.contains(&t.tier),
    }
}

impl RpoEvaluation {
    /// The evaluation as a sentence without its leading `refused: `, for
    /// messages that already say the gate refused.
    pub fn refusal(&self) -> String {
        let s = self.to_string();
        s.strip_prefix(REFUSED).map(str::to_string).unwrap_or(s)
    }
}

/// How a refusing evaluation begins.
const REFUSED: &str = "refused: ";

impl fmt::Display for RpoEvaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rpo = duration::fmt(Duration::from_millis(self.rpo_ms));
        match &self.verdict {
            RpoVerdict::Pass => write!(f, "every data tier is within the RPO of {rpo}"),
            RpoVerdict::Accepted {
                accepted_ms,
                unbounded,
            } => {
                write!(
                    f,
                    "exposure above the RPO of {rpo} accepted by the operator ("
                )?;
                let known_over = self.tiers.iter().any(|t| {
                    !t.already_failed_over
                        && matches!(t.exposure, Exposure::Known(d) if d.as_millis() > u128::from(self.rpo_ms))
                });
                if known_over || unbounded.is_empty() {
                    write!(
                        f,
                        "up to {} of data loss",
                        duration::fmt(Duration::from_millis(*accepted_ms))
                    )?;
                    if !unbounded.is_empty() {
                        f.write_str("; ")?;
                    }
                }
                if !unbounded.is_empty() {
                    let names: Vec<&str> = unbounded.iter().map(|t| t.name()).collect();
                    write!(
                        f,
                        "unbounded on {}: its exposure was unknown",
                        names.join(" and ")
                    )?;
                }
                f.write_str(")")
            }
            RpoVerdict::Refuse { tier, exposure } => {
                write!(
                    f,
                    "{REFUSED}the {tier} tier's data-loss exposure is {exposure}"
                )?;
                match exposure {
                    Exposure::Unknown => {
                        write!(f, " (it cannot be measured)")?;
                        if let Some(a) = self.accept_data_loss_ms {
                            write!(
                                f,
                                "; --accept-data-loss {} covers known exposures only: \
                                 name the tier with --accept-unknown-loss {tier} to accept an unbounded loss",
                                duration::fmt(Duration::from_millis(a))
                            )?;
                        }
                    }
                    Exposure::Known(_) => {
                        write!(f, ", above the RPO of {rpo}")?;
                        if let Some(a) = self.accept_data_loss_ms {
                            write!(
                                f,
                                "; --accept-data-loss {} does not cover it",
                                duration::fmt(Duration::from_millis(a))
                            )?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RPO: Duration = Duration::from_secs(15 * 60);

    fn tier(tier: DataTier, exposure: Exposure) -> TierExposure {
        TierExposure {
            tier,
            exposure,
            already_failed_over: false,
            source: None,
        }
    }

    fn up_to(d: Duration) -> Acceptance {
        Acceptance::up_to(Some(d))
    }

    fn secs(s: u64) -> Exposure {
        Exposure::Known(Duration::from_secs(s))
    }

    #[test]
    fn passes_at_and_below_the_rpo() {
        let e = evaluate(
            RPO,
            vec![
                tier(DataTier::Database, secs(900)),
                tier(DataTier::Cache, secs(1)),
            ],
            &Acceptance::default(),
        );
        assert_eq!(e.verdict, RpoVerdict::Pass);
    }

    #[test]
    fn refuses_one_second_above_the_rpo_naming_the_worst_tier() {
        let e = evaluate(
            RPO,
            vec![
                tier(DataTier::Database, secs(901)),
                tier(DataTier::Stream, secs(1200)),
            ],
            &Acceptance::default(),
        );
        assert_eq!(
            e.verdict,
            RpoVerdict::Refuse {
                tier: DataTier::Stream,
                exposure: secs(1200)
            }
        );
        assert!(e
            .to_string()
            .contains("stream tier's data-loss exposure is 20m"));
    }

    #[test]
    fn unknown_counts_as_above_the_rpo() {
        let e = evaluate(
            RPO,
            vec![tier(DataTier::Database, Exposure::Unknown)],
            &Acceptance::default(),
        );
        assert_eq!(
            e.verdict,
            RpoVerdict::Refuse {
                tier: DataTier::Database,
                exposure: Exposure::Unknown
            }
        );
    }

    #[test]
    fn an_override_must_cover_every_known_exposure() {
        let tiers = vec![tier(DataTier::Database, secs(1800))];
        let short = evaluate(RPO, tiers.clone(), &up_to(Duration::from_secs(1799)));
        assert!(!short.allows());
        assert!(short.to_string().contains("does not cover"));
        let enough = evaluate(RPO, tiers, &up_to(Duration::from_secs(1800)));
        assert_eq!(
            enough.verdict,
            RpoVerdict::Accepted {
                accepted_ms: 1_800_000,
                unbounded: vec![],
            }
        );
    }

    #[test]
    fn a_number_never_covers_an_unknown_exposure_only_the_named_tier_does() {
        let tiers = vec![
            tier(DataTier::Database, secs(1800)),
            tier(DataTier::Cache, Exposure::Unknown),
        ];
        for accepted in [Duration::ZERO, Duration::from_secs(3600), Duration::MAX] {
            let e = evaluate(RPO, tiers.clone(), &up_to(accepted));
            assert_eq!(
                e.verdict,
                RpoVerdict::Refuse {
                    tier: DataTier::Cache,
                    exposure: Exposure::Unknown
                },
                "{accepted:?}"
            );
            assert!(e.to_string().contains("--accept-unknown-loss cache"), "{e}");
        }
        let named = Acceptance {
            data_loss: Some(Duration::from_secs(1800)),
            unknown: BTreeSet::from([DataTier::Cache]),
        };
        let e = evaluate(RPO, tiers.clone(), &named);
        assert_eq!(
            e.verdict,
            RpoVerdict::Accepted {
                accepted_ms: 1_800_000,
                unbounded: vec![DataTier::Cache],
            }
        );
        assert!(e.to_string().contains("unbounded on cache"), "{e}");
        // Naming the unknown tier alone does not cover a known exposure.
        let only_unknown = Acceptance {
            data_loss: None,
            unknown: BTreeSet::from([DataTier::Cache]),
        };
        let e = evaluate(RPO, tiers, &only_unknown);
        assert!(!e.allows());
    }

    #[test]
    fn an_override_is_not_recorded_as_used_when_the_gate_passes_anyway() {
        let e = evaluate(
            RPO,
            vec![tier(DataTier::Database, secs(5))],
            &up_to(Duration::from_secs(3600)),
        );
        assert_eq!(e.verdict, RpoVerdict::Pass);
        assert_eq!(e.accept_data_loss_ms, Some(3_600_000));
    }

    #[test]
    fn tiers_already_failed_over_do_not_count() {
        let mut done = tier(DataTier::Database, Exposure::Unknown);
        done.already_failed_over = true;
        let e = evaluate(
            RPO,
            vec![done, tier(DataTier::Cache, secs(2))],
            &Acceptance::default(),
        );
        assert_eq!(e.verdict, RpoVerdict::Pass);
    }
}
