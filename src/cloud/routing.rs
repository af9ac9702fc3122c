//! ARC routing controls: the data-plane switch that moves traffic without
//! Route 53's control plane.
//!
//! A routing control is an on/off switch held by an ARC cluster, readable
//! and settable through any of the cluster's five regional endpoints (ARC
//! keeps at least three of them up). Route 53 failover records whose health
//! checks follow the routing controls then answer with the region whose
//! control is on. drctl keeps the endpoints in the policy (copied at setup,
//! never looked up during a failover) and tries them in turn, each bounded
//! by a short timeout, as AWS's own examples do.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CloudError, CloudResult, ErrorKind};
use crate::model::Fence;
use crate::model::Op;

/// One regional endpoint of an ARC cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterEndpoint {
    /// The endpoint URL, as DescribeCluster gives it.
    pub url: String,
    /// The region that serves it (requests are signed for it).
    pub region: String,
}

/// ARC's routing-control data plane, through one endpoint at a time.
pub trait RoutingControl: Send + Sync {
    /// Reads whether the routing control `arn` is on, through `endpoint`.
    fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> impl Future<Output = CloudResult<bool>> + Send;

    /// Sets several routing controls in one call (UpdateRoutingControlStates),
    /// through `endpoint`, so that the cluster's safety rules judge the whole
    /// change at once. A refusal by a safety rule is a `Fatal` error whose
    /// message names the rule.
    fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// How long one endpoint gets to answer before the next is tried.
pub const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs `call` through each endpoint in turn until one answers. An endpoint
/// that does not answer within `per_try`, or answers with a transient
/// failure or throttling, passes the call to the next; any other answer
/// (success, a safety-rule refusal, access denied) is final. When no endpoint
/// answers, the error names every endpoint tried and why it failed.
///
/// # Errors
///
/// The final answer's error, or a `Retryable` error when no endpoint answered.
pub async fn through_endpoints<'e, T, F, Fut>(
    op: Op,
    endpoints: &'e [ClusterEndpoint],
    per_try: Duration,
    mut call: F,
) -> CloudResult<T>
where
    F: FnMut(&'e ClusterEndpoint) -> Fut,
    Fut: Future<Output = CloudResult<T>>,
{
    let mut tried = Vec::new();
    for endpoint in endpoints {
        match tokio::time::timeout(per_try, call(endpoint)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if matches!(e.kind, ErrorKind::Retryable | ErrorKind::Throttled) => {
                tracing::info!(endpoint = %endpoint.url, region = %endpoint.region, error = %e, "routing-control endpoint failed; trying the next");
                tried.push(format!(
                    "{} ({}): {}",
                    endpoint.region, endpoint.url, e.message
                ));
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                tracing::info!(endpoint = %endpoint.url, region = %endpoint.region, "routing-control endpoint did not answer; trying the next");
                tried.push(format!(
                    "{} ({}): no answer within {}",
                    endpoint.region,
                    endpoint.url,
                    crate::duration::fmt(per_try)
                ));
            }
        }
    }
    Err(CloudError::new(
        ErrorKind::Retryable,
        op,
        "routing-control cluster",
        format!(
            "none of the {} cluster endpoints answered: {}",
            endpoints.len(),
            tried.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn endpoints() -> Vec<ClusterEndpoint> {
        ["us-east-1", "us-west-2", "eu-west-1"]
            .iter()
            .map(|r| ClusterEndpoint {
                url: format!("https://host-{r}.example/v1"),
                region: (*r).to_string(),
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_that_does_not_answer_passes_the_call_to_the_next() {
        let asked = RefCell::new(Vec::new());
        let r = through_endpoints(
            Op::UpdateRoutingControlStates,
            &endpoints(),
            ENDPOINT_TIMEOUT,
            |e| {
                asked.borrow_mut().push(e.region.clone());
                let dead = e.region == "us-east-1";
                async move {
                    if dead {
                        std::future::pending::<()>().await;
                    }
                    Ok(7)
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(*asked.borrow(), ["us-east-1", "us-west-2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_final_and_no_answer_anywhere_names_every_endpoint() {
        let asked = RefCell::new(0);
        let r: CloudResult<()> = through_endpoints(
            Op::UpdateRoutingControlStates,
            &endpoints(),
            ENDPOINT_TIMEOUT,
            |_| {
                *asked.borrow_mut() += 1;
                async {
                    Err(CloudError::new(
                        ErrorKind::Fatal,
                        Op::UpdateRoutingControlStates,
                        "x",
                        "safety rule",
                    ))
                }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Fatal);
        assert_eq!(*asked.borrow(), 1);
        let r: CloudResult<()> = through_endpoints(
            Op::UpdateRoutingControlStates,
            &endpoints(),
            ENDPOINT_TIMEOUT,
            |_| async {
                Err(CloudError::new(
                    ErrorKind::Retryable,
                    Op::UpdateRoutingControlStates,
                    "x",
                    "503",
                ))
            },
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable);
        for region in ["us-east-1", "us-west-2", "eu-west-1"] {
            assert!(e.message.contains(region), "{e}");
        }
    }
}
