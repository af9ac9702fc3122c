//! MSK: finding a Kafka cluster by name and reading its bootstrap brokers;
//! the replicators between clusters are in `kafka_replicator.rs`.
//!
//! Clients are switched to the DR cluster through DNS, so this adapter only
//! reads. Bootstrap brokers are asked for only while the cluster has brokers
//! (not while it is being created or deleted, or has failed), because MSK
//! refuses GetBootstrapBrokers then.

use aws_config::SdkConfig;
use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
use aws_sdk_kafka::Client;
use tracing::instrument;

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, Regional};
use crate::cloud::{CloudError, CloudResult, ErrorKind, StreamClusterState};
use crate::model::Op;

const LIST: Op = Op::ListClustersV2;
const BROKERS: Op = Op::GetBootstrapBrokers;

/// At most this many pages of ListClustersV2 are read when looking for a
/// cluster (the name filter is a prefix, so other clusters may match too).
pub const LIST_PAGES_MAX: usize = 20;

/// Cluster states in which MSK has no brokers to name.
const STATES_WITHOUT_BROKERS: &[&str] = &["CREATING", "DELETING", "FAILED"];

/// MSK operations through one client per region.
pub struct KafkaAdapter {
    clients: Regional<Client>,
}

impl KafkaAdapter {
    /// An adapter whose client for a region is `make_client(region)`, called
    /// once per region (tests pass a mock client here).
    pub fn new(make_client: impl Fn(&str) -> Client + Send + Sync + 'static) -> Self {
        Self {
            clients: Regional::new(make_client),
        }
    }

    /// An adapter whose clients share `config`, each with its own region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::new(regional_factory!(aws_sdk_kafka, config))
    }

    /// Reads the cluster named exactly `name` with its bootstrap hosts;
    /// `None` when there is none.
    ///
    /// # Errors
    ///
    /// Any failure of ListClustersV2 or GetBootstrapBrokers other than "not
    /// found"; `Fatal` when the name matches more than [`LIST_PAGES_MAX`]
    /// pages of clusters.
    pub async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        let Some(mut cluster) = self.find(region, name).await? else {
            return Ok(None);
        };
        if STATES_WITHOUT_BROKERS.contains(&cluster.state.as_str()) {
            return Ok(Some(cluster));
        }
        // A cluster deleted between the two calls reads as absent.
        match none_if_not_found(self.bootstrap_hosts(region, &cluster.arn).await)? {
            Some(hosts) => cluster.bootstrap_hosts = hosts,
            None => return Ok(None),
        }
        Ok(Some(cluster))
    }

    #[instrument(name = "cloud", skip_all, fields(op = LIST.as_str(), resource = %regional(region, name)))]
    async fn find(&self, region: &str, name: &str) -> CloudResult<Option<StreamClusterState>> {
        let client = self.clients.get(region);
        let mut next_token: Option<String> = None;
        for _ in 0..LIST_PAGES_MAX {
            let out = client
                .list_clusters_v2()
                .cluster_name_filter(name)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify(LIST, regional(region, name), err))?;
            let found = out
                .cluster_info_list()
                .iter()
                .find(|c| c.cluster_name() == Some(name));
            if let Some(cluster) = found {
                return Ok(Some(StreamClusterState {
                    name: name.to_owned(),
                    arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
                    state: cluster
                        .state()
                        .map(|state| state.as_str().to_owned())
                        .unwrap_or_default(),
                    bootstrap_hosts: Vec::new(),
                }));
            }
            match out.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(None),
            }
        }
        Err(CloudError::new(
            ErrorKind::Fatal,
            LIST,
            regional(region, name),
            format!("more than {LIST_PAGES_MAX} pages of clusters match the name"),
        ))
    }

    #[instrument(name = "cloud", skip_all, fields(op = BROKERS.as_str(), resource = %regional(region, arn)))]
    async fn bootstrap_hosts(&self, region: &str, arn: &str) -> CloudResult<Vec<String>> {
        let out = self
            .clients
            .get(region)
            .get_bootstrap_brokers()
            .cluster_arn(arn)
            .send()
            .await
            .map_err(|err| classify(BROKERS, regional(region, arn), err))?;
        Ok(hosts(&out))
    }
}

/// The hosts of the first non-empty broker string (IAM, then TLS, then
/// plaintext), without ports, sorted and without duplicates.
fn hosts(out: &GetBootstrapBrokersOutput) -> Vec<String> {
    let brokers = [
        out.bootstrap_broker_string_sasl_iam(),
        out.bootstrap_broker_string_tls(),
        out.bootstrap_broker_string(),
    ]
    .into_iter()
    .flatten()
    .find(|brokers| !brokers.trim().is_empty())
    .unwrap_or_default();
    let mut hosts: Vec<String> = brokers
        .split(',')
        .map(str::trim)
        .filter(|broker| !broker.is_empty())
        .map(|broker| {
            broker
                .rsplit_once(':')
                .map_or(broker, |(host, _port)| host)
                .to_owned()
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

#[path = "kafka_replicator.rs"]
pub(in crate::cloud::aws) mod replicator;

#[cfg(test)]
#[path = "kafka_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "kafka_replicator_tests.rs"]
mod replicator_tests;
