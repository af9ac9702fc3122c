//! Data-plane adapter contract tests through the real SDK clients, answered
//! by aws-smithy-mocks. moto serves neither route53-recovery-cluster nor
//! CloudWatch's newer (rpcv2Cbor) protocol, so these tests pin the requests
//! drctl sends (controls and states, metric, dimension, statistic, period)
//! and how the answers map to drctl's types and error kinds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
use aws_sdk_elasticache::types::ReplicationGroup;
use aws_sdk_route53recoverycluster::operation::get_routing_control_state::GetRoutingControlStateOutput;
use aws_sdk_route53recoverycluster::operation::update_routing_control_states::{
    UpdateRoutingControlStatesError, UpdateRoutingControlStatesOutput,
};
use aws_sdk_route53recoverycluster::types::error::{
    ConflictException, EndpointTemporarilyUnavailableException,
};
use aws_sdk_route53recoverycluster::types::RoutingControlState;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;

use super::{lag_measurement, DataPlaneAdapter, LagMetric, METRIC_PERIOD};
use crate::cloud::aws::tests::{fence, mock_sdk_client, test_cloud};
use crate::cloud::aws::{AwsCloud, ElastiCacheAdapter};
use crate::cloud::{
    through_endpoints, ClusterEndpoint, ErrorKind, ExposureSource, RoutingControl, ENDPOINT_TIMEOUT,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Op;
use crate::policy::Policy;

const USE1_ARN: &str =
    "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/use1";
const USW2_ARN: &str =
    "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/usw2";
const RULE_MESSAGE: &str = "Cannot update routing control states because doing so would violate \
     safety rule arn:aws:route53-recovery-control::123456789012:controlpanel/abc/safetyrule/at-least-one-on";

fn endpoints() -> Vec<ClusterEndpoint> {
    ["us-east-1", "us-west-2", "eu-west-1"]
        .iter()
        .map(|r| ClusterEndpoint {
            url: format!("https://host-{r}.example/v1"),
            region: (*r).to_string(),
        })
        .collect()
}

type Seen = Arc<Mutex<Vec<String>>>;

/// A cloud whose routing-control client for each endpoint is the one
/// `routing` makes, and whose CloudWatch and ElastiCache clients are given;
/// records the endpoint URLs and regions clients were built for.
fn cloud(
    routing: impl Fn(&ClusterEndpoint) -> aws_sdk_route53recoverycluster::Client + Send + Sync + 'static,
    cloudwatch: aws_sdk_cloudwatch::Client,
    elasticache: aws_sdk_elasticache::Client,
) -> (AwsCloud, Seen, Seen) {
    let endpoints_seen = Seen::default();
    let regions_seen = Seen::default();
    let (e, r) = (Arc::clone(&endpoints_seen), Arc::clone(&regions_seen));
    let dataplane = DataPlaneAdapter::new(
        move |endpoint| {
            e.lock().expect("test lock").push(endpoint.url.clone());
            routing(endpoint)
        },
        move |region| {
            r.lock().expect("test lock").push(region.to_owned());
            cloudwatch.clone()
        },
    );
    let cloud = test_cloud()
        .with_dataplane(dataplane)
        .with_elasticache(ElastiCacheAdapter::new(move |_| elasticache.clone()));
    (cloud, endpoints_seen, regions_seen)
}

fn no_cloudwatch() -> aws_sdk_cloudwatch::Client {
    mock_sdk_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, Vec::<&Rule>::new())
}

fn no_elasticache() -> aws_sdk_elasticache::Client {
    mock_sdk_client!(aws_sdk_elasticache, RuleMode::MatchAny, Vec::<&Rule>::new())
}

fn routing_cloud(rules: &[&Rule]) -> (AwsCloud, Seen) {
    let client = mock_sdk_client!(
        aws_sdk_route53recoverycluster,
        RuleMode::MatchAny,
        rules.iter().copied()
    );
    let (cloud, endpoints, _) = cloud(move |_| client.clone(), no_cloudwatch(), no_elasticache());
    (cloud, endpoints)
}

#[tokio::test]
async fn reads_a_routing_control_through_the_endpoint_and_caches_its_client() {
    let on = mock!(aws_sdk_route53recoverycluster::Client::get_routing_control_state)
        .match_requests(|req| req.routing_control_arn() == Some(USW2_ARN))
        .then_output(|| {
            GetRoutingControlStateOutput::builder()
                .routing_control_arn(USW2_ARN)
                .routing_control_state(RoutingControlState::On)
                .build()
                .expect("valid output")
        });
    let off = mock!(aws_sdk_route53recoverycluster::Client::get_routing_control_state)
        .match_requests(|req| req.routing_control_arn() == Some(USE1_ARN))
        .then_output(|| {
            GetRoutingControlStateOutput::builder()
                .routing_control_arn(USE1_ARN)
                .routing_control_state(RoutingControlState::Off)
                .build()
                .expect("valid output")
        });
    let (cloud, built) = routing_cloud(&[&on, &off]);
    let endpoint = &endpoints()[1];

    assert!(cloud
        .get_routing_control_state(endpoint, USW2_ARN)
        .await
        .expect("read"));
    assert!(!cloud
        .get_routing_control_state(endpoint, USE1_ARN)
        .await
        .expect("read"));
    // One client per endpoint URL, built once.
    assert_eq!(
        *built.lock().expect("test lock"),
        std::slice::from_ref(&endpoint.url)
    );
}

#[tokio::test]
async fn updates_both_controls_in_one_call() {
    let update = mock!(aws_sdk_route53recoverycluster::Client::update_routing_control_states)
        .match_requests(|req| {
            let entries = req.update_routing_control_state_entries();
            entries.len() == 2
                && entries[0].routing_control_arn() == USE1_ARN
                && *entries[0].routing_control_state() == RoutingControlState::Off
                && entries[1].routing_control_arn() == USW2_ARN
                && *entries[1].routing_control_state() == RoutingControlState::On
                && req.safety_rules_to_override().is_empty()
        })
        .then_output(|| UpdateRoutingControlStatesOutput::builder().build());
    let (cloud, _) = routing_cloud(&[&update]);

    cloud
        .update_routing_control_states(
            &endpoints()[1],
            &[(USE1_ARN.into(), false), (USW2_ARN.into(), true)],
            &fence(),
        )
        .await
        .expect("updated");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_safety_rule_refusal_is_fatal_names_the_rule_and_stops_the_rotation() {
    let refused = mock!(aws_sdk_route53recoverycluster::Client::update_routing_control_states)
        .then_error(|| {
            UpdateRoutingControlStatesError::ConflictException(
                ConflictException::builder()
                    .message(RULE_MESSAGE)
                    .resource_id("at-least-one-on")
                    .resource_type("SafetyRule")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ConflictException")
                            .message(RULE_MESSAGE)
                            .build(),
                    )
                    .build()
                    .expect("valid error"),
            )
        });
    let (cloud, _) = routing_cloud(&[&refused]);
    let states = [(USE1_ARN.to_string(), false), (USW2_ARN.to_string(), false)];

    let all = endpoints();
    let fence = fence();
    let err = through_endpoints(
        Op::UpdateRoutingControlStates,
        &all,
        ENDPOINT_TIMEOUT,
        |e| cloud.update_routing_control_states(e, &states, &fence),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("safetyrule/at-least-one-on"), "{err}");
    assert_eq!(refused.num_calls(), 1, "a refusal is not tried elsewhere");
}

#[tokio::test]
async fn an_unavailable_endpoint_passes_the_update_to_the_next() {
    let unavailable = mock!(aws_sdk_route53recoverycluster::Client::update_routing_control_states)
        .then_error(|| {
            UpdateRoutingControlStatesError::EndpointTemporarilyUnavailableException(
                EndpointTemporarilyUnavailableException::builder()
                    .message("endpoint in maintenance")
                    .meta(
                        ErrorMetadata::builder()
                            .code("EndpointTemporarilyUnavailableException")
                            .build(),
                    )
                    .build()
                    .expect("valid error"),
            )
        });
    let ok = mock!(aws_sdk_route53recoverycluster::Client::update_routing_control_states)
        .then_output(|| UpdateRoutingControlStatesOutput::builder().build());
    let down = mock_sdk_client!(
        aws_sdk_route53recoverycluster,
        RuleMode::MatchAny,
        [&unavailable]
    );
    let up = mock_sdk_client!(aws_sdk_route53recoverycluster, RuleMode::MatchAny, [&ok]);
    let (cloud, built, _) = cloud(
        move |e| {
            if e.region == "us-east-1" {
                down.clone()
            } else {
                up.clone()
            }
        },
        no_cloudwatch(),
        no_elasticache(),
    );
    let states = [(USE1_ARN.to_string(), false), (USW2_ARN.to_string(), true)];

    let all = endpoints();
    let fence = fence();
    through_endpoints(
        Op::UpdateRoutingControlStates,
        &all,
        ENDPOINT_TIMEOUT,
        |e| cloud.update_routing_control_states(e, &states, &fence),
    )
    .await
    .expect("the second endpoint answered");
    assert_eq!(unavailable.num_calls(), 1);
    assert_eq!(ok.num_calls(), 1);
    assert_eq!(built.lock().expect("test lock").len(), 2);
}

fn policy() -> Policy {
    let mut policy = crate::policy::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .expect("example policy");
    if let Some(stream) = policy.tiers.stream.as_mut() {
        stream.replicator = Some("emr-platform-replicator".into());
    }
    policy
}

/// A time within the last minute, on a whole minute as CloudWatch reports.
fn recent() -> DateTime {
    let now = DateTime::from(SystemTime::now()).secs();
    DateTime::from_secs(now - now % 60 - 60)
}

/// GetMetricData answers for `metric` with `dimension` = one of `values`,
/// Maximum over 60 s periods, newest first.
fn metric_rule(
    namespace: &'static str,
    name: &'static str,
    dimension: &'static str,
    values: &'static [&'static str],
    points: Vec<(DateTime, f64)>,
) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |req| {
            let queries = req.metric_data_queries();
            queries.len() == values.len()
                && queries.iter().zip(values).all(|(q, value)| {
                    let stat = q.metric_stat().expect("a metric query");
                    let metric = stat.metric().expect("a metric");
                    metric.namespace() == Some(namespace)
                        && metric.metric_name() == Some(name)
                        && metric.dimensions().len() == 1
                        && metric.dimensions()[0].name() == Some(dimension)
                        && metric.dimensions()[0].value() == Some(*value)
                        && stat.stat() == Some("Maximum")
                        && stat.period() == Some(60)
                })
                && req.start_time().is_some()
                && req.end_time().is_some()
        })
        .then_output(move || {
            let mut out = GetMetricDataOutput::builder();
            for (i, (at, value)) in points.iter().enumerate() {
                out = out.metric_data_results(
                    MetricDataResult::builder()
                        .id(format!("m{i}"))
                        .timestamps(*at)
                        .values(*value)
                        .build(),
                );
            }
            out.build()
        })
}

fn cloudwatch_cloud(rule: &Rule, elasticache: aws_sdk_elasticache::Client) -> (AwsCloud, Seen) {
    let client = mock_sdk_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [rule]);
    let routing = mock_sdk_client!(
        aws_sdk_route53recoverycluster,
        RuleMode::MatchAny,
        Vec::<&Rule>::new()
    );
    let (cloud, _, regions) = cloud(move |_| routing.clone(), client, elasticache);
    (cloud, regions)
}

#[tokio::test]
async fn database_exposure_is_the_replicas_replica_lag_in_seconds() {
    let at = recent();
    let rule = metric_rule(
        "AWS/RDS",
        "ReplicaLag",
        "DBInstanceIdentifier",
        &["emr-platform-prod-dr"],
        vec![(at, 4.0)],
    );
    let (cloud, regions) = cloudwatch_cloud(&rule, no_elasticache());

    let m = cloud
        .exposure(&policy(), DataTier::Database)
        .await
        .expect("measured");
    assert_eq!(m.exposure, Exposure::Known(Duration::from_secs(4)));
    assert_eq!(m.source, "cloudwatch AWS/RDS ReplicaLag");
    assert_eq!(m.resolution_s, Some(60));
    assert_eq!(
        m.at.as_deref(),
        Some(
            at.fmt(aws_smithy_types::date_time::Format::DateTime)
                .expect("fmt")
                .as_str()
        )
    );
    assert_eq!(*regions.lock().expect("test lock"), ["us-west-2"]);
}

#[tokio::test]
async fn cache_exposure_is_the_largest_lag_of_the_dr_members_nodes() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .match_requests(|req| req.replication_group_id() == Some("emr-platform-redis-dr"))
        .then_output(|| {
            DescribeReplicationGroupsOutput::builder()
                .replication_groups(
                    ReplicationGroup::builder()
                        .replication_group_id("emr-platform-redis-dr")
                        .member_clusters("emr-platform-redis-dr-001")
                        .member_clusters("emr-platform-redis-dr-002")
                        .build(),
                )
                .build()
        });
    let elasticache = mock_sdk_client!(aws_sdk_elasticache, RuleMode::MatchAny, [&describe]);
    let at = recent();
    let rule = metric_rule(
        "AWS/ElastiCache",
        "GlobalDatastoreReplicationLag",
        "CacheClusterId",
        &["emr-platform-redis-dr-001", "emr-platform-redis-dr-002"],
        vec![(at, 0.5), (at, 1.5)],
    );
    let (cloud, _) = cloudwatch_cloud(&rule, elasticache);

    let m = cloud
        .exposure(&policy(), DataTier::Cache)
        .await
        .expect("measured");
    assert_eq!(m.exposure, Exposure::Known(Duration::from_millis(1500)));
    assert_eq!(
        m.source,
        "cloudwatch AWS/ElastiCache GlobalDatastoreReplicationLag"
    );
}

#[tokio::test]
async fn stream_exposure_is_the_replicators_latency_in_milliseconds() {
    let at = recent();
    let rule = metric_rule(
        "AWS/Kafka",
        "ReplicationLatency",
        "ReplicatorName",
        &["emr-platform-replicator"],
        vec![(at, 850.0)],
    );
    let (cloud, _) = cloudwatch_cloud(&rule, no_elasticache());

    let m = cloud
        .exposure(&policy(), DataTier::Stream)
        .await
        .expect("measured");
    assert_eq!(m.exposure, Exposure::Known(Duration::from_millis(850)));
    assert_eq!(m.source, "cloudwatch AWS/Kafka ReplicationLatency");

    let mut without = policy();
    if let Some(stream) = without.tiers.stream.as_mut() {
        stream.replicator = None;
    }
    let m = cloud
        .exposure(&without, DataTier::Stream)
        .await
        .expect("unknown, not an error");
    assert_eq!(m.exposure, Exposure::Unknown);
    assert!(
        m.source.contains("no tiers.stream.replicator"),
        "{}",
        m.source
    );
    assert_eq!(rule.num_calls(), 1, "no metric read without a replicator");
}

#[tokio::test]
async fn a_stale_datapoint_reads_as_unknown() {
    let old = DateTime::from_secs(recent().secs() - 600);
    let rule = metric_rule(
        "AWS/RDS",
        "ReplicaLag",
        "DBInstanceIdentifier",
        &["emr-platform-prod-dr"],
        vec![(old, 1.0)],
    );
    let (cloud, _) = cloudwatch_cloud(&rule, no_elasticache());

    let m = cloud
        .exposure(&policy(), DataTier::Database)
        .await
        .expect("measured");
    assert_eq!(m.exposure, Exposure::Unknown);
    assert!(m.source.contains("more than two periods"), "{}", m.source);
}

#[test]
fn lag_measurement_takes_the_newest_datapoint_and_refuses_stale_or_missing_ones() {
    let db = LagMetric::of(DataTier::Database);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let t = |ago: u64| DateTime::from(now - Duration::from_secs(ago));

    let m = lag_measurement(
        &db,
        &[(t(180), 9.0), (t(60), 2.0), (t(120), 7.0)],
        METRIC_PERIOD,
        now,
    );
    assert_eq!(m.exposure, Exposure::Known(Duration::from_secs(2)));
    assert_eq!(m.at.as_deref(), Some("1970-01-12T13:45:40Z"));
    assert_eq!(m.resolution_s, Some(60));

    // Exactly two periods old still counts; older does not.
    let m = lag_measurement(&db, &[(t(120), 3.0)], METRIC_PERIOD, now);
    assert_eq!(m.exposure, Exposure::Known(Duration::from_secs(3)));
    let m = lag_measurement(&db, &[(t(121), 3.0)], METRIC_PERIOD, now);
    assert_eq!(m.exposure, Exposure::Unknown);
    assert!(
        m.source
            .starts_with("cloudwatch AWS/RDS ReplicaLag: newest datapoint"),
        "{}",
        m.source
    );

    let m = lag_measurement(&db, &[], METRIC_PERIOD, now);
    assert_eq!(m.exposure, Exposure::Unknown);
    assert!(m.source.contains("no datapoint"), "{}", m.source);

    let m = lag_measurement(&db, &[(t(60), -1.0)], METRIC_PERIOD, now);
    assert_eq!(m.exposure, Exposure::Unknown);

    let stream = LagMetric::of(DataTier::Stream);
    let m = lag_measurement(&stream, &[(t(60), 250.0)], METRIC_PERIOD, now);
    assert_eq!(m.exposure, Exposure::Known(Duration::from_millis(250)));
}
