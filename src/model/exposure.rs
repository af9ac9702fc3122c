//! Data-loss exposure: how far behind a tier's replica is.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How much data a failover of one tier would lose, as far as we can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ms")]
pub enum Exposure {
    /// Measured: the replica is this far behind its source.
    #[serde(with = "millis")]
    Known(Duration),
    /// Not measurable; counts as above any RPO.
    Unknown,
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(d) => f.write_str(&super::human_duration(*d)),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_milliseconds() {
        let known = Exposure::Known(Duration::from_millis(1500));
        let json = serde_json::to_value(known).expect("serializes");
        assert_eq!(json, serde_json::json!({"kind": "known", "ms": 1500}));
        assert_eq!(
            serde_json::from_value::<Exposure>(json).expect("parses"),
            known
        );
        let unknown = serde_json::to_value(Exposure::Unknown).expect("serializes");
        assert_eq!(unknown, serde_json::json!({"kind": "unknown"}));
    }

    #[test]
    fn displays_as_people_write_durations() {
        assert_eq!(
            Exposure::Known(Duration::from_secs(192)).to_string(),
            "3m 12s"
        );
        assert_eq!(Exposure::Unknown.to_string(), "unknown");
    }
}
