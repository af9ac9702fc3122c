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
    /// The witness controller's IAM role, whose writes the permissions
    /// check refuses (`None`: not checked unless `drctl check` names one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_role_arn: Option<String>,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        Self {
            interval: READINESS_INTERVAL_DEFAULT,
            witness_role_arn: None,
        }
    }
}

/// Whether `s` is an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
///
/// # Errors
///
/// What it should look like.
pub fn iam_role_arn(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = matches!(parts[..], ["arn", p, "iam", "", account, role]
        if p.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && role.strip_prefix("role/").is_some_and(|n| !n.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an IAM role ARN; expected arn:aws:iam::<account>:role/<name>"
        ))
    }
}

impl Validator {
    /// `readiness.interval`: a duration between the bounds, 5m by default.
    pub(super) fn readiness(&mut self, raw: Option<RawReadiness>) -> Option<ReadinessSettings> {
        let Some(raw) = raw else {
            return Some(ReadinessSettings::default());
        };
        let witness_role_arn = match raw.witness_role_arn {
            Some(arn) if iam_role_arn(&arn).is_err() => {
                self.problem(
                    "readiness.witness_role_arn",
                    Some(arn),
                    "an IAM role ARN, arn:aws:iam::<account>:role/<name>",
                );
                None
            }
            other => Some(other),
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
        Some(ReadinessSettings {
            interval,
            witness_role_arn: witness_role_arn?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::parse;

    /// The shipped policy with its `readiness` section replaced by `extra`.
    fn shipped_with(extra: &str) -> String {
        let text = std::fs::read_to_string(crate::policy::DEFAULT_POLICY).unwrap();
        let mut inside = false;
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                if l.starts_with("readiness:") {
                    inside = true;
                } else if !l.starts_with(' ') && !l.is_empty() {
                    inside = false;
                }
                !inside
            })
            .collect();
        format!("{}\n{extra}\n", kept.join("\n"))
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

    #[test]
    fn a_witness_role_is_an_iam_role_arn_or_refused_naming_the_field() {
        let arn = "arn:aws:iam::123456789012:role/drctl-witness";
        let p = parse(
            "p.yaml".as_ref(),
            &shipped_with(&format!("readiness: {{ witness_role_arn: \"{arn}\" }}")),
        )
        .unwrap();
        assert_eq!(p.readiness.witness_role_arn.as_deref(), Some(arn));
        let e = parse(
            "p.yaml".as_ref(),
            &shipped_with("readiness: { witness_role_arn: drctl-witness, interval: 5s }"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("readiness.witness_role_arn"), "{e}");
        assert!(
            e.contains("readiness.interval"),
            "every problem at once: {e}"
        );
    }
}
