//! `aws:` in the node file: how this node may get its AWS credentials.

use schemars::JsonSchema;
use serde::Deserialize;

/// `aws:`
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    /// In Kubernetes, an executing node starts only with a role of its own
    /// (IRSA or EKS Pod Identity; see
    /// [`crate::cloud::aws::check_pod_credentials`]). `true` accepts any
    /// source of the SDK's default chain, the node's instance role
    /// included: only for a deliberate setup.
    #[serde(default)]
    pub allow_other_credentials: bool,
}
