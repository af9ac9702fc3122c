//! The DR reads only readiness needs: the health of the DR load
//! balancer's targets (ELBv2 DescribeTargetHealth) and the state of the
//! MSK Replicator feeding the DR cluster (MSK ListReplicators to find it
//! by name, then DescribeReplicator). Every call here reads.

use aws_config::SdkConfig;
use tracing::instrument;

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, AwsCloud, Regional};
use crate::cloud::{CloudResult, DrHealth, TargetHealth};
use crate::model::Op;

/// At most this many pages of ListReplicators are read when looking for
/// a replicator by name (the filter matches by prefix).
pub const REPLICATOR_PAGES_MAX: usize = 20;

/// ELBv2 and MSK clients, one per region.
pub struct DrHealthAdapter {
    elbv2: Regional<aws_sdk_elasticloadbalancingv2::Client>,
    kafka: Regional<aws_sdk_kafka::Client>,
}

impl DrHealthAdapter {
    /// An adapter from client factories (tests pass mock clients).
    pub fn new(
        elbv2: impl Fn(&str) -> aws_sdk_elasticloadbalancingv2::Client + Send + Sync + 'static,
        kafka: impl Fn(&str) -> aws_sdk_kafka::Client + Send + Sync + 'static,
    ) -> Self {
        Self {
            elbv2: Regional::new(elbv2),
            kafka: Regional::new(kafka),
        }
    }

    /// An adapter whose clients share `config`, each with its own region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::new(
            regional_factory!(aws_sdk_elasticloadbalancingv2, config),
            regional_factory!(aws_sdk_kafka, config),
        )
    }

    /// The health of target group `arn`'s targets; `None` when it does
    /// not exist.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeTargetHealth other than "not found".
    #[instrument(name = "cloud", skip_all, fields(op = Op::DescribeTargetHealth.as_str(), resource = %regional(region, arn)))]
    pub async fn get_target_health(
        &self,
        region: &str,
        arn: &str,
    ) -> CloudResult<Option<TargetHealth>> {
        let out = self
            .elbv2
            .get(region)
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| classify(Op::DescribeTargetHealth, regional(region, arn), e));
        let Some(out) = none_if_not_found(out)? else {
            return Ok(None);
        };
        let mut health = TargetHealth::default();
        for t in out.target_health_descriptions() {
            let state = t.target_health().and_then(|h| h.state());
            health.count(state.map_or("", |s| s.as_str()));
        }
        Ok(Some(health))
    }

    /// The state of the replicator `name` (or ARN); `None` when absent.
    ///
    /// # Errors
    ///
    /// Any failure of ListReplicators or DescribeReplicator other than
    /// "not found"; `Fatal` when the name matches more than
    /// [`REPLICATOR_PAGES_MAX`] pages of replicators.
    #[instrument(name = "cloud", skip_all, fields(op = Op::DescribeReplicator.as_str(), resource = %regional(region, name)))]
    pub async fn get_replicator_state(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<String>> {
        let arn = if name.starts_with("arn:") {
            name.to_string()
        } else {
            match self.find_replicator(region, name).await? {
                Some(arn) => arn,
                None => return Ok(None),
            }
        };
        let out = self
            .kafka
            .get(region)
            .describe_replicator()
            .replicator_arn(&arn)
            .send()
            .await
            .map_err(|e| classify(Op::DescribeReplicator, regional(region, &arn), e));
        Ok(none_if_not_found(out)?.map(|o| {
            o.replicator_state()
                .map_or("UNKNOWN", |s| s.as_str())
                .to_string()
        }))
    }

    /// The ARN of the replicator named exactly `name`.
    async fn find_replicator(&self, region: &str, name: &str) -> CloudResult<Option<String>> {
        super::kafka::replicator::find_replicator_arn(&self.kafka.get(region), region, name).await
    }
}

impl DrHealth for AwsCloud {
    async fn get_target_health(
        &self,
        region: &str,
        arn: &str,
    ) -> CloudResult<Option<TargetHealth>> {
        Box::pin(self.dr_health.get_target_health(region, arn)).await
    }

    async fn get_replicator_state(&self, region: &str, name: &str) -> CloudResult<Option<String>> {
        Box::pin(self.dr_health.get_replicator_state(region, name)).await
    }
}

#[cfg(test)]
#[path = "dr_health_tests.rs"]
mod tests;
