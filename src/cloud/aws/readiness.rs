//! The reads only readiness needs: the EC2 vCPU quota (Service Quotas),
//! the vCPUs in use (CloudWatch `AWS/Usage`), a node group's instance type
//! (EKS), and IAM's policy simulator for the calling role (STS, IAM).
//! Every call here reads; none is on the failover path.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_iam::types::PolicyEvaluationDecisionType;
use aws_smithy_types::DateTime;
use tracing::instrument;

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, AwsCloud, Regional};
use crate::cloud::{
    vcpus_of_instance_type, Capacity, CloudError, CloudResult, ErrorKind, Permissions, Simulated,
    VCPU_QUOTA_CODE,
};
use crate::model::Op;

const GET_CALLER_IDENTITY: Op = Op::GetCallerIdentity;
/// How far back the newest `AWS/Usage` datapoint is looked for.
const USAGE_LOOKBACK: Duration = Duration::from_secs(30 * 60);
/// The period of the `AWS/Usage` query.
const USAGE_PERIOD_S: i32 = 300;

/// Service Quotas, CloudWatch usage, STS and IAM clients.
pub struct ReadinessAdapter {
    quotas: Regional<aws_sdk_servicequotas::Client>,
    cloudwatch: Regional<aws_sdk_cloudwatch::Client>,
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    /// The role to simulate; `None`: the caller's own, from STS.
    principal: Option<String>,
}

impl ReadinessAdapter {
    /// An adapter from ready-made clients (tests pass mock clients).
    pub fn new(
        quotas: impl Fn(&str) -> aws_sdk_servicequotas::Client + Send + Sync + 'static,
        cloudwatch: impl Fn(&str) -> aws_sdk_cloudwatch::Client + Send + Sync + 'static,
        sts: aws_sdk_sts::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            quotas: Regional::new(quotas),
            cloudwatch: Regional::new(cloudwatch),
            sts,
            iam,
            principal: None,
        }
    }

    /// An adapter whose clients share `config`; IAM is global and called
    /// through us-east-1, STS through the configured region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let iam_conf = aws_sdk_iam::config::Builder::from(config)
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .build();
        Self::new(
            regional_factory!(aws_sdk_servicequotas, config),
            regional_factory!(aws_sdk_cloudwatch, config),
            aws_sdk_sts::Client::new(config),
            aws_sdk_iam::Client::from_conf(iam_conf),
        )
    }

    /// Simulates `role_arn` instead of the caller's own role.
    pub fn with_principal(mut self, role_arn: impl Into<String>) -> Self {
        self.principal = Some(role_arn.into());
        self
    }

    /// The applied vCPU quota in `region`.
    ///
    /// # Errors
    ///
    /// Any failure of GetServiceQuota other than "no such quota".
    #[instrument(name = "cloud", skip_all, fields(op = Op::GetServiceQuota.as_str(), resource = %regional(region, VCPU_QUOTA_CODE)))]
    pub async fn get_vcpu_quota(&self, region: &str) -> CloudResult<Option<f64>> {
        let out = self
            .quotas
            .get(region)
            .get_service_quota()
            .service_code("ec2")
            .quota_code(VCPU_QUOTA_CODE)
            .send()
            .await
            .map_err(|e| classify(Op::GetServiceQuota, regional(region, VCPU_QUOTA_CODE), e));
        Ok(none_if_not_found(out)?.and_then(|o| o.quota().and_then(|q| q.value())))
    }

    /// The newest `AWS/Usage` figure of on-demand standard vCPUs in `region`.
    ///
    /// # Errors
    ///
    /// Any failure of GetMetricData.
    #[instrument(name = "cloud", skip_all, fields(op = Op::GetMetricData.as_str(), resource = %regional(region, "AWS/Usage/ResourceCount")))]
    pub async fn get_vcpus_in_use(&self, region: &str) -> CloudResult<Option<f64>> {
        let now = crate::clock::now();
        let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
        let metric = Metric::builder()
            .namespace("AWS/Usage")
            .metric_name("ResourceCount")
            .dimensions(dim("Service", "EC2"))
            .dimensions(dim("Type", "Resource"))
            .dimensions(dim("Resource", "vCPU"))
            .dimensions(dim("Class", "Standard/OnDemand"))
            .build();
        let query = MetricDataQuery::builder()
            .id("vcpus")
            .return_data(true)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(USAGE_PERIOD_S)
                    .stat("Maximum")
                    .build(),
            )
            .build();
        let out = self
            .cloudwatch
            .get(region)
            .get_metric_data()
            .start_time(DateTime::from(now - USAGE_LOOKBACK))
            .end_time(DateTime::from(now))
            .scan_by(ScanBy::TimestampDescending)
            .metric_data_queries(query)
            .send()
            .await
            .map_err(|e| classify(Op::GetMetricData, regional(region, "AWS/Usage"), e))?;
        Ok(out
            .metric_data_results()
            .iter()
            .flat_map(|r| {
                r.timestamps()
                    .iter()
                    .copied()
                    .zip(r.values().iter().copied())
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, v)| v))
    }

    /// The role ARN to simulate: the configured one, or the caller's, with
    /// an assumed-role session turned into its role
    /// (`arn:aws:sts::A:assumed-role/R/s` → `arn:aws:iam::A:role/R`).
    async fn principal(&self) -> CloudResult<String> {
        if let Some(p) = &self.principal {
            return Ok(p.clone());
        }
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify(GET_CALLER_IDENTITY, "caller", e))?;
        let arn = out.arn().unwrap_or_default();
        Ok(role_of(arn))
    }

    /// Simulates `actions` for the principal.
    ///
    /// # Errors
    ///
    /// Any failure of GetCallerIdentity or SimulatePrincipalPolicy.
    #[instrument(name = "cloud", skip_all, fields(op = Op::SimulatePrincipalPolicy.as_str()))]
    pub async fn simulate_actions(&self, actions: &[String]) -> CloudResult<Simulated> {
        let principal = self.principal().await?;
        self.simulate_actions_for(principal, actions).await
    }

    /// Simulates `actions` for `principal` (a role ARN).
    ///
    /// # Errors
    ///
    /// Any failure of SimulatePrincipalPolicy.
    #[instrument(name = "cloud", skip_all, fields(op = Op::SimulatePrincipalPolicy.as_str(), resource = %principal))]
    pub async fn simulate_actions_for(
        &self,
        principal: String,
        actions: &[String],
    ) -> CloudResult<Simulated> {
        let mut denied = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .iam
                .simulate_principal_policy()
                .policy_source_arn(&principal)
                .set_action_names(Some(actions.to_vec()))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify(Op::SimulatePrincipalPolicy, principal.clone(), e))?;
            for r in out.evaluation_results() {
                if r.eval_decision() != &PolicyEvaluationDecisionType::Allowed {
                    denied.push((
                        r.eval_action_name().to_string(),
                        r.eval_decision().as_str().to_string(),
                    ));
                }
            }
            match (out.is_truncated(), out.marker()) {
                (true, Some(m)) => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(Simulated { principal, denied })
    }
}

/// The IAM role of an STS assumed-role ARN; any other ARN as it is.
pub fn role_of(arn: &str) -> String {
    let Some((head, rest)) = arn.split_once(":assumed-role/") else {
        return arn.to_string();
    };
    let role = rest.split('/').next().unwrap_or(rest);
    let account = head.rsplit(':').next().unwrap_or_default();
    let partition = head.split(':').nth(1).unwrap_or("aws");
    format!("arn:{partition}:iam::{account}:role/{role}")
}

impl Capacity for AwsCloud {
    async fn get_vcpu_quota(&self, region: &str) -> CloudResult<Option<f64>> {
        Box::pin(self.readiness.get_vcpu_quota(region)).await
    }

    async fn get_vcpus_in_use(&self, region: &str) -> CloudResult<Option<f64>> {
        Box::pin(self.readiness.get_vcpus_in_use(region)).await
    }

    async fn get_node_vcpus(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<u32>> {
        let types = Box::pin(self.eks.get_instance_types(region, cluster, name)).await?;
        let Some(types) = types else { return Ok(None) };
        let first = types.first().ok_or_else(|| {
            CloudError::new(
                ErrorKind::NotFound,
                Op::DescribeNodegroup,
                format!("{region}/{cluster}/{name}"),
                "the node group names no instance type",
            )
        })?;
        Ok(vcpus_of_instance_type(first))
    }
}

impl Permissions for AwsCloud {
    async fn simulate_actions(&self, actions: &[String]) -> CloudResult<Simulated> {
        Box::pin(self.readiness.simulate_actions(actions)).await
    }

    async fn simulate_actions_for(
        &self,
        principal: &str,
        actions: &[String],
    ) -> CloudResult<Simulated> {
        let principal = principal.to_string();
        Box::pin(self.readiness.simulate_actions_for(principal, actions)).await
    }
}

impl AwsCloud {
    /// Simulates `role_arn` in the permissions check instead of the role
    /// the credentials belong to (the role a controller executes as, when
    /// `drctl check` runs with a person's credentials).
    pub fn simulating(mut self, role_arn: impl Into<String>) -> Self {
        self.readiness = self.readiness.with_principal(role_arn);
        self
    }
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
mod tests;
