//! Stage two, readiness: how often the controllers evaluate it.

use std::time::Duration;

use serde::Serialize;

use super::raw::RawReadiness;
use super::validate::Validator;

/// The shortest readiness interval: each evaluation reads every DR
/// resource, Service Quotas and IAM's simulator (IAM allows a few requests
/// a second per account), and nothing it checks changes faster.
pub const READINESS_INTERVAL_MIN: Duration = Duration::from_secs(30);
/// The longest readiness interval: a day without knowing that a failover
/// would fail is too long.
pub const READINESS_INTERVAL_MAX: Duration = Duration::from_secs(24 * 3600);
/// The interval when the policy names none.
const READINESS_INTERVAL_DEFAULT: Duration = Duration::from_secs(5 * 60);

/// The policy's `readiness` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadinessSettings {
    /// How often the controllers' leader evaluates readiness.
    #[serde(with = "super::secs")]
    pub interval: Duration,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        Self {
            interval: READINESS_INTERVAL_DEFAULT,
        }
    }
}

impl Validator {
    /// `readiness.interval`: a duration between the bounds, 5m by default.
    pub(super) fn readiness(&mut self, raw: Option<RawReadiness>) -> Option<ReadinessSettings> {
        let Some(raw) = raw else {
            return Some(ReadinessSettings::default());
        };
        let path = "readiness.interval";
        let interval = self.positive(path, raw.interval, Some(READINESS_INTERVAL_DEFAULT))?;
        if !(READINESS_INTERVAL_MIN..=READINESS_INTERVAL_MAX).contains(&interval) {
            self.problem(
                path,
                Some(crate::duration::fmt(interval)),
                format!(
                    "between {} and {}",
                    crate::duration::fmt(READINESS_INTERVAL_MIN),
                    crate::duration::fmt(READINESS_INTERVAL_MAX)
                ),
            );
            return None;
        }
        Some(ReadinessSettings { interval })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::parse;

    fn shipped_with(extra: &str) -> String {
        let text = std::fs::read_to_string(crate::policy::DEFAULT_POLICY).unwrap();
        format!("{text}\n{extra}\n")
    }

    #[test]
    fn the_readiness_interval_defaults_to_five_minutes() {
        let p = parse("p.yaml".as_ref(), &shipped_with("")).unwrap();
        assert_eq!(p.readiness.interval.as_secs(), 300);
        let p = parse(
            "p.yaml".as_ref(),
            &shipped_with("readiness: { interval: 2m }"),
        )
        .unwrap();
        assert_eq!(p.readiness.interval.as_secs(), 120);
    }

    #[test]
    fn a_readiness_interval_out_of_bounds_names_the_field() {
        let e = parse(
            "p.yaml".as_ref(),
            &shipped_with("readiness: { interval: 5s }"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("readiness.interval"), "{e}");
        assert!(e.contains("between 30s and 24h"), "{e}");
        let e = parse("p.yaml".as_ref(), &shipped_with("readiness: { every: 5m }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("readiness.every"), "{e}");
    }
}
