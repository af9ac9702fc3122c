//! AWS SDK adapters (placeholder until the adapters land).

/// The AWS cloud.
pub struct AwsCloud;
