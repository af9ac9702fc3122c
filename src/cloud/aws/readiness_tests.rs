//! The readiness reads against aws-smithy-mocks (moto serves neither
//! Service Quotas' applied EC2 quota nor IAM's simulator with real
//! decisions): the request each one sends and how its answer is read.

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
use aws_sdk_eks::types::Nodegroup;
use aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput;
use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
use aws_sdk_servicequotas::operation::get_service_quota::{
    GetServiceQuotaError, GetServiceQuotaOutput,
};
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;

use super::{role_of, ReadinessAdapter};
use crate::cloud::aws::tests::{mock_sdk_client, test_cloud};
use crate::cloud::aws::{AwsCloud, EksAdapter};
use crate::cloud::{Capacity, ErrorKind, Permissions};

const ROLE: &str = "arn:aws:iam::123456789012:role/drctl-executor";

/// A cloud whose readiness clients answer with these rules (each client
/// sees only the rules of its own SDK).
fn cloud(quotas: Vec<Rule>, cloudwatch: Vec<Rule>, sts: Vec<Rule>, iam: Vec<Rule>) -> AwsCloud {
    let q = mock_sdk_client!(aws_sdk_servicequotas, RuleMode::MatchAny, &quotas);
    let cw = mock_sdk_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &cloudwatch);
    let sts = mock_sdk_client!(aws_sdk_sts, RuleMode::MatchAny, &sts);
    let iam = mock_sdk_client!(aws_sdk_iam, RuleMode::MatchAny, &iam);
    test_cloud().with_readiness(ReadinessAdapter::new(
        move |_| q.clone(),
        move |_| cw.clone(),
        sts,
        iam,
    ))
}

#[tokio::test]
async fn the_vcpu_quota_is_read_by_its_code_for_ec2() {
    let rule = mock!(aws_sdk_servicequotas::Client::get_service_quota)
        .match_requests(|r| r.service_code() == Some("ec2") && r.quota_code() == Some("L-1216C47A"))
        .then_output(|| {
            GetServiceQuotaOutput::builder()
                .quota(ServiceQuota::builder().value(512.0).build())
                .build()
        });
    let c = cloud(vec![rule], vec![], vec![], vec![]);
    assert_eq!(c.get_vcpu_quota("us-west-2").await.unwrap(), Some(512.0));
}

#[tokio::test]
async fn a_denied_quota_read_is_an_error_naming_the_call() {
    let rule = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(|| {
        GetServiceQuotaError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized")
                .build(),
        )
    });
    let c = cloud(vec![rule], vec![], vec![], vec![]);
    let e = c.get_vcpu_quota("us-west-2").await.unwrap_err();
    assert_eq!(e.op, "servicequotas:GetServiceQuota");
    assert_ne!(e.kind, ErrorKind::Retryable);
    assert!(e.message.contains("AccessDenied"), "{e}");
}

#[tokio::test]
async fn vcpus_in_use_are_the_newest_usage_datapoint() {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            let q = &r.metric_data_queries()[0];
            let m = q.metric_stat().and_then(|s| s.metric()).unwrap();
            m.namespace() == Some("AWS/Usage")
                && m.metric_name() == Some("ResourceCount")
                && m.dimensions()
                    .iter()
                    .any(|d| d.value() == Some("Standard/OnDemand"))
        })
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .timestamps(DateTime::from_secs(2_000))
                        .values(96.0)
                        .timestamps(DateTime::from_secs(1_000))
                        .values(64.0)
                        .build(),
                )
                .build()
        });
    let c = cloud(vec![], vec![rule], vec![], vec![]);
    assert_eq!(c.get_vcpus_in_use("us-west-2").await.unwrap(), Some(96.0));
}

#[tokio::test]
async fn the_caller_s_role_is_simulated_and_only_denials_are_kept() {
    let who = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        GetCallerIdentityOutput::builder()
            .arn("arn:aws:sts::123456789012:assumed-role/drctl-executor/session-1")
            .build()
    });
    let result = |action: &str, d| {
        EvaluationResult::builder()
            .eval_action_name(action)
            .eval_decision(d)
            .build()
            .expect("action and decision are set")
    };
    let sim = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(|r| r.policy_source_arn() == Some(ROLE) && r.action_names().len() == 2)
        .then_output(move || {
            SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(result(
                    "rds:PromoteReadReplica",
                    PolicyEvaluationDecisionType::ImplicitDeny,
                ))
                .evaluation_results(result(
                    "eks:DescribeNodegroup",
                    PolicyEvaluationDecisionType::Allowed,
                ))
                .is_truncated(false)
                .build()
        });
    let c = cloud(vec![], vec![], vec![who], vec![sim]);
    let actions = vec![
        "rds:PromoteReadReplica".to_string(),
        "eks:DescribeNodegroup".to_string(),
    ];
    let s = c.simulate_actions(&actions).await.unwrap();
    assert_eq!(s.principal, ROLE);
    assert_eq!(
        s.denied,
        vec![(
            "rds:PromoteReadReplica".to_string(),
            "implicitDeny".to_string()
        )]
    );
}

#[tokio::test]
async fn a_node_s_vcpus_come_from_its_group_s_instance_type() {
    let rule = mock!(aws_sdk_eks::Client::describe_nodegroup)
        .match_requests(|r| r.nodegroup_name() == Some("app-nodes"))
        .then_output(|| {
            DescribeNodegroupOutput::builder()
                .nodegroup(
                    Nodegroup::builder()
                        .nodegroup_name("app-nodes")
                        .instance_types("m5.2xlarge")
                        .build(),
                )
                .build()
        });
    let eks = mock_sdk_client!(aws_sdk_eks, RuleMode::MatchAny, &[rule]);
    let c = test_cloud().with_eks(EksAdapter::new(move |_| eks.clone()));
    let v = c.get_node_vcpus("us-west-2", "emr-integration-dr", "app-nodes");
    assert_eq!(v.await.unwrap(), Some(8));
}

#[test]
fn an_assumed_role_session_is_simulated_as_its_role() {
    assert_eq!(
        role_of("arn:aws:sts::123456789012:assumed-role/drctl-executor/s1"),
        ROLE
    );
    assert_eq!(role_of(ROLE), ROLE);
}

#[tokio::test]
async fn another_principal_is_simulated_as_named_without_asking_sts_who_calls() {
    const WITNESS: &str = "arn:aws:iam::123456789012:role/drctl-witness";
    let sim = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(|r| r.policy_source_arn() == Some(WITNESS))
        .then_output(|| {
            SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(
                    EvaluationResult::builder()
                        .eval_action_name("rds:PromoteReadReplica")
                        .eval_decision(PolicyEvaluationDecisionType::Allowed)
                        .build()
                        .expect("action and decision are set"),
                )
                .is_truncated(false)
                .build()
        });
    // No STS rule: a call to GetCallerIdentity would fail the test.
    let c = cloud(vec![], vec![], vec![], vec![sim]);
    let actions = vec!["rds:PromoteReadReplica".to_string()];
    let s = c.simulate_actions_for(WITNESS, &actions).await.unwrap();
    assert_eq!(s.principal, WITNESS);
    assert!(s.denied.is_empty(), "{s:?}");
}
