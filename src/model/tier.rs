//! The data tiers: the parts of the platform that hold data, and so can
//! lose it in a failover.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// Every tier, in the order policies and reports list them.
    pub const ALL: [Self; 3] = [Self::Database, Self::Cache, Self::Stream];

    /// The tier named `name` (`database`, `cache`, `stream`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_parses_from_its_name_and_serializes_as_it() {
        for tier in DataTier::ALL {
            assert_eq!(DataTier::parse(tier.name()), Some(tier));
            assert_eq!(tier.to_string(), tier.name());
            let json = serde_json::to_string(&tier).expect("a tier serializes");
            assert_eq!(json, format!("\"{}\"", tier.name()));
        }
        assert_eq!(DataTier::parse("Database"), None);
        assert_eq!(DataTier::parse("queue"), None);
    }
}
