//! The AWS side of the data-plane capabilities: ARC routing controls
//! (route53-recovery-cluster), DNS resolution, and exposure figures from
//! CloudWatch in the DR region.

use futures::future::BoxFuture;

use super::AwsCloud;
use crate::cloud::*;
use crate::plan::DataTier;
use crate::policy::Policy;

const NOT_YET: &str = "not available in this build";

impl RoutingControl for AwsCloud {
    async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        let _ = endpoint;
        Err(CloudError::new(
            ErrorKind::Fatal,
            OP_GET_ROUTING_CONTROL,
            arn,
            NOT_YET,
        ))
    }

    async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        _fence: &Fence,
    ) -> CloudResult<()> {
        let _ = (endpoint, states);
        Err(CloudError::new(
            ErrorKind::Fatal,
            OP_UPDATE_ROUTING_CONTROLS,
            "-",
            NOT_YET,
        ))
    }
}

impl Resolver for AwsCloud {
    async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        Err(CloudError::new(
            ErrorKind::Fatal,
            "dns:Resolve",
            name,
            NOT_YET,
        ))
    }
}

impl ExposureSource for AwsCloud {
    fn exposure<'a>(
        &'a self,
        _policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        Box::pin(async move {
            Ok(Measurement::unknown(format!(
                "no {tier} lag source in this build"
            )))
        })
    }
}
