//! Durations as people write them in policies and flags: `90s`, `15m`, `4h`.

use std::time::Duration;

/// Parses `90s`, `15m`, `4h`, `1h30m` (via `humantime`). Zero is allowed
/// here; callers that need a positive value check for it.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(drctl::duration::parse("15m"), Ok(Duration::from_secs(900)));
/// assert!(drctl::duration::parse("-5m").unwrap_err().contains("negative"));
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "{text:?} is negative; expected a positive duration like 90s, 15m or 4h"
        ));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}); expected one like 90s, 15m or 4h"))
}

/// Formats a duration for people: `4h`, `15m`, `3m 12s`, `850ms`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(drctl::duration::fmt(Duration::from_secs(192)), "3m 12s");
/// ```
pub fn fmt(d: Duration) -> String {
    crate::model::human_duration(d)
}

/// A clap value parser for duration flags.
pub fn parse_flag(text: &str) -> Result<Duration, String> {
    parse(text)
}

/// The units `parse` accepts (those of `humantime`), longest first so that a
/// regular expression alternation tries `ms` before `m`.
const UNITS: &str = "nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|\
minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|\
years|year|yrs|yr|y";

/// The regular expression (ECMA-262, as JSON Schema uses) of a duration
/// [`parse`] accepts: one or more `number unit` pairs, like `90s`, `1h30m`
/// or `1.5h`.
pub fn pattern() -> String {
    format!(r"^\s*([0-9]+(\.[0-9]+)?\s*({UNITS})\s*)+$")
}

/// A duration written as text in a policy or node file. Only its JSON
/// Schema is used: a string with [`pattern`], so that editors flag `90`
/// or `soon` before the validator does.
pub struct DurationText;

impl schemars::JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": pattern(),
            "description": "A duration: a number and a unit, repeated, like 90s, 15m, 4h or 1h30m (units ms, s, m, h, d).",
            "examples": ["90s", "15m", "4h", "1h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_policies_use() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("4h").unwrap(), Duration::from_secs(4 * 3600));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn rejects_negative_and_garbage() {
        assert!(parse("-5m").unwrap_err().contains("negative"));
        assert!(parse("soon").unwrap_err().contains("not a duration"));
        assert!(parse("15").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(fmt(Duration::from_secs(4 * 3600)), "4h");
        assert_eq!(fmt(Duration::from_secs(192)), "3m 12s");
        assert_eq!(fmt(Duration::from_millis(850)), "850ms");
        assert_eq!(fmt(Duration::ZERO), "0ms");
        assert_eq!(fmt(Duration::from_millis(1_990)), "1.9s");
        assert_eq!(fmt(Duration::from_millis(4_050)), "4s");
    }

    #[test]
    fn the_schema_pattern_accepts_what_parse_accepts() {
        let schema = schemars::schema_for!(DurationText);
        let v = jsonschema::validator_for(schema.as_value()).unwrap();
        for good in [
            "90s", "15m", "4h", "1h30m", "1h 30m", "150ms", " 5 s ", "1.5h", "2days",
        ] {
            assert!(parse(good).is_ok(), "{good}");
            assert!(
                v.is_valid(&serde_json::json!(good)),
                "pattern refuses {good:?}"
            );
        }
        for bad in ["", "90", "soon", "-5m", "5 parsecs", "m5", "1..5s", "5s,"] {
            assert!(parse(bad).is_err(), "{bad}");
            assert!(
                !v.is_valid(&serde_json::json!(bad)),
                "pattern accepts {bad:?}"
            );
        }
    }
}
