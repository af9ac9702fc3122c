//! AWS SDK adapters.
