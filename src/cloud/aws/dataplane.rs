//! The AWS side of the data-plane capabilities: ARC routing controls
//! (route53-recovery-cluster), DNS resolution, and exposure figures from
//! CloudWatch in the DR region.
//!
//! None of these calls needs a control plane hosted in the primary region:
//! routing controls go through the cluster endpoint the caller picked, DNS
//! through the system's resolvers, and CloudWatch through the secondary
//! region, where RDS, ElastiCache and MSK Replicator publish the lag of the
//! copies they keep there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use futures::future::BoxFuture;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use tracing::{info, instrument};

use super::error::{build_error, classify, classify_routing_control};
use super::{regional, regional_factory, AwsCloud, Regional};
use crate::cloud::*;
use crate::model::Op;
use crate::model::{DataTier, Exposure};
use crate::policy::Policy;

const GET_METRIC_DATA: Op = Op::GetMetricData;
const RESOLVE: Op = Op::Resolve;

/// The period of the lag metrics drctl reads, and so their resolution.
pub(crate) const METRIC_PERIOD: Duration = Duration::from_secs(60);

/// How many periods back GetMetricData looks for the newest datapoint.
const METRIC_LOOKBACK_PERIODS: u32 = 5;

/// A datapoint older than this many periods no longer describes now.
const STALE_AFTER_PERIODS: u32 = 2;

type RoutingClient = aws_sdk_route53recoverycluster::Client;
type CloudWatchClient = aws_sdk_cloudwatch::Client;

/// Routing-control clients, one per cluster endpoint URL, built on first use.
struct PerEndpoint {
    make: Box<dyn Fn(&ClusterEndpoint) -> RoutingClient + Send + Sync>,
    clients: Mutex<HashMap<String, RoutingClient>>,
}

impl PerEndpoint {
    /// The client for `endpoint`. The lock is never held across an await.
    fn get(&self, endpoint: &ClusterEndpoint) -> RoutingClient {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(endpoint.url.clone())
            .or_insert_with(|| (self.make)(endpoint))
            .clone()
    }
}

/// Routing controls, CloudWatch and DNS, through their own clients.
pub struct DataPlaneAdapter {
    routing: PerEndpoint,
    cloudwatch: Regional<CloudWatchClient>,
    resolver: Mutex<Option<Arc<TokioResolver>>>,
}

impl DataPlaneAdapter {
    /// An adapter whose routing-control client for an endpoint is
    /// `make_routing(endpoint)` (once per endpoint URL) and whose CloudWatch
    /// client for a region is `make_cloudwatch(region)` (once per region);
    /// tests pass mock clients here.
    pub fn new(
        make_routing: impl Fn(&ClusterEndpoint) -> RoutingClient + Send + Sync + 'static,
        make_cloudwatch: impl Fn(&str) -> CloudWatchClient + Send + Sync + 'static,
    ) -> Self {
        Self {
            routing: PerEndpoint {
                make: Box::new(make_routing),
                clients: Mutex::new(HashMap::new()),
            },
            cloudwatch: Regional::new(make_cloudwatch),
            resolver: Mutex::new(None),
        }
    }

    /// An adapter whose clients share `config`: a routing-control client is
    /// pointed at its endpoint's URL and signs for the endpoint's region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let shared = config.clone();
        Self::new(
            move |endpoint: &ClusterEndpoint| {
                let conf = aws_sdk_route53recoverycluster::config::Builder::from(&shared)
                    .endpoint_url(endpoint.url.clone())
                    .region(aws_sdk_route53recoverycluster::config::Region::new(
                        endpoint.region.clone(),
                    ))
                    .build();
                RoutingClient::from_conf(conf)
            },
            regional_factory!(aws_sdk_cloudwatch, config),
        )
    }

    /// Reads one routing control through `endpoint`.
    ///
    /// # Errors
    ///
    /// Any failure of GetRoutingControlState, classified for the endpoint
    /// rotation (see [`classify_routing_control`]).
    #[instrument(name = "cloud", skip_all, fields(op = Op::GetRoutingControlState.as_str(), resource = arn, endpoint = %endpoint.url))]
    pub async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        let out = self
            .routing
            .get(endpoint)
            .get_routing_control_state()
            .routing_control_arn(arn)
            .send()
            .await
            .map_err(|err| {
                classify_routing_control(Op::GetRoutingControlState, routed(endpoint, arn), err)
            })?;
        Ok(*out.routing_control_state() == RoutingControlState::On)
    }

    /// Sets every control in `states` in one UpdateRoutingControlStates call
    /// through `endpoint`, so the safety rules judge the change as a whole.
    ///
    /// # Errors
    ///
    /// Any failure of the call; a safety-rule refusal is `Fatal` and names
    /// the rule as ARC's message does.
    #[instrument(name = "cloud", skip_all, fields(
        op = Op::UpdateRoutingControlStates.as_str(),
        endpoint = %endpoint.url,
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    pub async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> CloudResult<()> {
        let resource = routed(
            endpoint,
            &states
                .iter()
                .map(|(arn, _)| arn.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        let mut call = self.routing.get(endpoint).update_routing_control_states();
        for (arn, on) in states {
            let state = if *on {
                RoutingControlState::On
            } else {
                RoutingControlState::Off
            };
            let entry = UpdateRoutingControlStateEntry::builder()
                .routing_control_arn(arn)
                .routing_control_state(state)
                .build()
                .map_err(|err| build_error(Op::UpdateRoutingControlStates, &resource, err))?;
            call = call.update_routing_control_state_entries(entry);
        }
        call.send().await.map_err(|err| {
            classify_routing_control(Op::UpdateRoutingControlStates, resource.clone(), err)
        })?;
        info!(controls = states.len(), "routing control states updated");
        Ok(())
    }

    /// Resolves `name` through the system's resolvers.
    ///
    /// # Errors
    ///
    /// `Retryable` for a failed lookup (NXDOMAIN, timeout, no answer);
    /// `Fatal` when the system's resolver configuration cannot be read.
    pub async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        let resolver = self.resolver(name)?;
        let lookup = resolver
            .lookup_ip(name)
            .await
            .map_err(|err| CloudError::new(ErrorKind::Retryable, RESOLVE, name, err.to_string()))?;
        let mut names = Vec::new();
        for record in lookup.as_lookup().answers() {
            if let RData::CNAME(target) = &record.data {
                let target = normalize_name(&target.to_string());
                if !names.contains(&target) {
                    names.push(target);
                }
            }
        }
        Ok(Resolved {
            names,
            addrs: lookup.iter().collect(),
        })
    }

    /// The resolver, built from the system configuration on first use.
    fn resolver(&self, name: &str) -> CloudResult<Arc<TokioResolver>> {
        let mut slot = self.resolver.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(resolver) = slot.as_ref() {
            return Ok(Arc::clone(resolver));
        }
        let built = TokioResolver::builder_tokio()
            .and_then(|builder| builder.build())
            .map_err(|err| {
                CloudError::new(
                    ErrorKind::Fatal,
                    RESOLVE,
                    name,
                    format!("cannot set up a resolver from the system configuration: {err}"),
                )
            })?;
        let built = Arc::new(built);
        *slot = Some(Arc::clone(&built));
        Ok(built)
    }

    /// The newest datapoints of one metric, across several series (one per
    /// dimension value in `series`), over the last few periods in `region`.
    #[instrument(name = "cloud", skip_all, fields(op = GET_METRIC_DATA.as_str(), resource = %regional(region, metric.name)))]
    async fn datapoints(
        &self,
        region: &str,
        metric: &LagMetric,
        series: &[String],
        now: SystemTime,
    ) -> CloudResult<Vec<(DateTime, f64)>> {
        let period = METRIC_PERIOD.as_secs();
        let start = now - METRIC_PERIOD * METRIC_LOOKBACK_PERIODS;
        let mut call = self
            .cloudwatch
            .get(region)
            .get_metric_data()
            .start_time(DateTime::from(start))
            .end_time(DateTime::from(now))
            .scan_by(ScanBy::TimestampDescending);
        for (i, value) in series.iter().enumerate() {
            let query = MetricDataQuery::builder()
                .id(format!("m{i}"))
                .return_data(true)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(metric.namespace)
                                .metric_name(metric.name)
                                .dimensions(
                                    Dimension::builder()
                                        .name(metric.dimension)
                                        .value(value)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(i32::try_from(period).unwrap_or(60))
                        .stat("Maximum")
                        .build(),
                )
                .build();
            call = call.metric_data_queries(query);
        }
        let out = call.send().await.map_err(|err| {
            classify(
                GET_METRIC_DATA,
                regional(region, &format!("{}/{}", metric.namespace, metric.name)),
                err,
            )
        })?;
        Ok(out
            .metric_data_results()
            .iter()
            .flat_map(|result| {
                result
                    .timestamps()
                    .iter()
                    .copied()
                    .zip(result.values().iter().copied())
            })
            .collect())
    }
}

/// The resource label of a routing-control call.
fn routed(endpoint: &ClusterEndpoint, what: &str) -> String {
    format!("{what} via {} ({})", endpoint.region, endpoint.url)
}

/// A DNS name in lower case without the trailing dot.
fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The unit a lag metric is published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LagUnit {
    /// Seconds (RDS `ReplicaLag`, ElastiCache `GlobalDatastoreReplicationLag`).
    Seconds,
    /// Milliseconds (MSK Replicator `ReplicationLatency`).
    Milliseconds,
}

/// A CloudWatch metric that measures one tier's replication lag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LagMetric {
    pub(crate) namespace: &'static str,
    pub(crate) name: &'static str,
    pub(crate) dimension: &'static str,
    pub(crate) unit: LagUnit,
}

impl LagMetric {
    /// The tier's metric: RDS `ReplicaLag` of the replica, ElastiCache
    /// `GlobalDatastoreReplicationLag` of the DR member's nodes (published
    /// per cache cluster), MSK `ReplicationLatency` of the replicator.
    pub(crate) fn of(tier: DataTier) -> Self {
        match tier {
            DataTier::Database => Self {
                namespace: "AWS/RDS",
                name: "ReplicaLag",
                dimension: "DBInstanceIdentifier",
                unit: LagUnit::Seconds,
            },
            DataTier::Cache => Self {
                namespace: "AWS/ElastiCache",
                name: "GlobalDatastoreReplicationLag",
                dimension: "CacheClusterId",
                unit: LagUnit::Seconds,
            },
            DataTier::Stream => Self {
                namespace: "AWS/Kafka",
                name: "ReplicationLatency",
                dimension: "ReplicatorName",
                unit: LagUnit::Milliseconds,
            },
        }
    }

    /// The source label of its figures.
    pub(crate) fn source(&self) -> String {
        format!("cloudwatch {} {}", self.namespace, self.name)
    }
}

/// The exposure the newest of `points` (timestamp, Maximum) gives, read at
/// `now` with metric period `period`. Several series may report the same
/// timestamp (one per cache node); the largest value there counts. No
/// datapoint, a datapoint older than two periods, or a value that is not a
/// finite non-negative number is unknown, with the reason in the source.
pub(crate) fn lag_measurement(
    metric: &LagMetric,
    points: &[(DateTime, f64)],
    period: Duration,
    now: SystemTime,
) -> Measurement {
    let source = metric.source();
    let Some(newest) = points.iter().map(|(at, _)| *at).max() else {
        return Measurement::unknown(format!(
            "{source}: no datapoint in the last {}",
            crate::duration::fmt(period * METRIC_LOOKBACK_PERIODS)
        ));
    };
    let value = points
        .iter()
        .filter(|(at, _)| *at == newest)
        .map(|(_, v)| *v)
        .fold(f64::NAN, f64::max);
    let at = newest
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| newest.to_string());
    let age = SystemTime::try_from(newest)
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .unwrap_or_default();
    let limit = period * STALE_AFTER_PERIODS;
    if age > limit {
        return Measurement {
            resolution_s: Some(period.as_secs()),
            at: Some(at.clone()),
            ..Measurement::unknown(format!(
                "{source}: newest datapoint ({at}) is {} old, more than two periods ({})",
                crate::duration::fmt(age),
                crate::duration::fmt(limit)
            ))
        };
    }
    if !value.is_finite() || value < 0.0 {
        return Measurement::unknown(format!("{source}: datapoint {value} is not a lag"));
    }
    let lag = match metric.unit {
        LagUnit::Seconds => Duration::from_secs_f64(value),
        LagUnit::Milliseconds => Duration::from_secs_f64(value / 1000.0),
    };
    Measurement {
        exposure: Exposure::Known(lag),
        source,
        at: Some(at),
        resolution_s: Some(period.as_secs()),
    }
}

impl RoutingControl for AwsCloud {
    async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        Box::pin(self.dataplane.get_routing_control_state(endpoint, arn)).await
    }

    async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.dataplane
                .update_routing_control_states(endpoint, states, fence),
        )
        .await
    }
}

impl Resolver for AwsCloud {
    async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        Box::pin(self.dataplane.resolve(name)).await
    }
}

impl ExposureSource for AwsCloud {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        Box::pin(async move {
            let region = policy.regions.secondary.as_str();
            let metric = LagMetric::of(tier);
            let series = match tier {
                DataTier::Database => match &policy.tiers.database {
                    Some(db) => vec![db.replica.clone()],
                    None => return Ok(Measurement::unknown("no tiers.database in the policy")),
                },
                DataTier::Cache => {
                    let Some(cache) = &policy.tiers.cache else {
                        return Ok(Measurement::unknown("no tiers.cache in the policy"));
                    };
                    let clusters = self
                        .elasticache
                        .member_clusters(region, &cache.dr_member)
                        .await?;
                    match clusters {
                        Some(clusters) if !clusters.is_empty() => clusters,
                        Some(_) => {
                            return Ok(Measurement::unknown(format!(
                                "{}: replication group {} in {region} has no cache clusters",
                                metric.source(),
                                cache.dr_member
                            )))
                        }
                        None => {
                            return Ok(Measurement::unknown(format!(
                                "{}: replication group {} not found in {region}",
                                metric.source(),
                                cache.dr_member
                            )))
                        }
                    }
                }
                DataTier::Stream => match policy
                    .tiers
                    .stream
                    .as_ref()
                    .and_then(|s| s.replicator.as_ref())
                {
                    Some(replicator) => vec![replicator.clone()],
                    None => {
                        return Ok(Measurement::unknown(
                            "no tiers.stream.replicator in the policy",
                        ))
                    }
                },
            };
            let now = crate::clock::now();
            let points = self
                .dataplane
                .datapoints(region, &metric, &series, now)
                .await?;
            Ok(lag_measurement(&metric, &points, METRIC_PERIOD, now))
        })
    }
}

#[cfg(test)]
#[path = "dataplane_tests.rs"]
mod tests;
