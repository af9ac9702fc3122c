//! The RPO gate's arithmetic: exposures against the RPO, and the override.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cloud::Exposure;
use crate::duration;

/// The tiers that hold data, and so can lose it in a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataTier {
    /// RDS PostgreSQL.
    Database,
    /// ElastiCache Redis.
    Cache,
    /// MSK Kafka.
    Stream,
}

impl DataTier {
    /// The tier's name as policies and reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Cache => "cache",
            Self::Stream => "stream",
        }
    }
}

impl fmt::Display for DataTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum RpoVerdict {
    /// Every pending tier's exposure is known and within the RPO.
    Pass,
    /// Some exposure is above the RPO or unknown, and the operator accepted it.
    Accepted {
        /// The data loss the operator accepted, in milliseconds.
        accepted_ms: u64,
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
    /// The decision.
    pub verdict: RpoVerdict,
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
/// passes only when `accept` is given and is at least every known exposure:
/// an unknown exposure can only be accepted by naming a loss, never by default.
pub fn evaluate(
    rpo: Duration,
    tiers: Vec<TierExposure>,
    accept: Option<Duration>,
) -> RpoEvaluation {
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
    let verdict = match (worst, accept) {
        (None, _) => RpoVerdict::Pass,
        (Some(_), Some(accepted)) if covers(accepted, &tiers) => RpoVerdict::Accepted {
            accepted_ms: accepted.as_millis() as u64,
        },
        (Some(t), _) => RpoVerdict::Refuse {
            tier: t.tier,
            exposure: t.exposure,
        },
    };
    RpoEvaluation {
        rpo_ms: rpo.as_millis() as u64,
        tiers,
        accept_data_loss_ms: accept.map(|a| a.as_millis() as u64),
        verdict,
    }
}

fn covers(accepted: Duration, tiers: &[TierExposure]) -> bool {
    tiers
        .iter()
        .filter(|t| !t.already_failed_over)
        .all(|t| match t.exposure {
            Exposure::Known(d) => d <= accepted,
            Exposure::Unknown => true,
        })
}

impl fmt::Display for RpoEvaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rpo = duration::fmt(Duration::from_millis(self.rpo_ms));
        match &self.verdict {
            RpoVerdict::Pass => write!(f, "every data tier is within the RPO of {rpo}"),
            RpoVerdict::Accepted { accepted_ms } => write!(
                f,
                "exposure above the RPO of {rpo} accepted by the operator (up to {} of data loss)",
                duration::fmt(Duration::from_millis(*accepted_ms))
            ),
            RpoVerdict::Refuse { tier, exposure } => {
                write!(
                    f,
                    "refused: the {tier} tier's data-loss exposure is {exposure}"
                )?;
                match exposure {
                    Exposure::Unknown => write!(f, " (it cannot be measured)")?,
                    Exposure::Known(_) => write!(f, ", above the RPO of {rpo}")?,
                }
                if let Some(a) = self.accept_data_loss_ms {
                    write!(
                        f,
                        "; --accept-data-loss {} does not cover it",
                        duration::fmt(Duration::from_millis(a))
                    )?;
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
        }
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
            None,
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
            None,
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
        let e = evaluate(RPO, vec![tier(DataTier::Database, Exposure::Unknown)], None);
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
        let tiers = vec![
            tier(DataTier::Database, secs(1800)),
            tier(DataTier::Cache, Exposure::Unknown),
        ];
        let short = evaluate(RPO, tiers.clone(), Some(Duration::from_secs(1799)));
        assert!(!short.allows());
        assert!(short.to_string().contains("does not cover"));
        let enough = evaluate(RPO, tiers, Some(Duration::from_secs(1800)));
        assert_eq!(
            enough.verdict,
            RpoVerdict::Accepted {
                accepted_ms: 1_800_000
            }
        );
    }

    #[test]
    fn an_override_is_not_recorded_as_used_when_the_gate_passes_anyway() {
        let e = evaluate(
            RPO,
            vec![tier(DataTier::Database, secs(5))],
            Some(Duration::from_secs(3600)),
        );
        assert_eq!(e.verdict, RpoVerdict::Pass);
        assert_eq!(e.accept_data_loss_ms, Some(3_600_000));
    }

    #[test]
    fn tiers_already_failed_over_do_not_count() {
        let mut done = tier(DataTier::Database, Exposure::Unknown);
        done.already_failed_over = true;
        let e = evaluate(RPO, vec![done, tier(DataTier::Cache, secs(2))], None);
        assert_eq!(e.verdict, RpoVerdict::Pass);
    }
}
