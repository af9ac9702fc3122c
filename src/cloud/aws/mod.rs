//! AWS SDK adapters: [`AwsCloud`] implements every cloud trait by delegating
//! to one adapter per service.
//!
//! - [`RdsAdapter`]: the cross-region read replica and its promotion.
//! - [`EksAdapter`]: managed node groups and their scaling.
//! - [`Route53Adapter`]: records, changed as a compare-and-set, and changes.
//! - [`ElastiCacheAdapter`]: the Global Datastore and its failover.
//! - [`KafkaAdapter`]: MSK clusters and their bootstrap brokers.
//! - [`DrHealthAdapter`]: the DR load balancer's target health and the
//!   MSK Replicator's state, for readiness.
//! - [`DataPlaneAdapter`]: ARC routing controls (one client per cluster
//!   endpoint), DNS answers, and lag figures from CloudWatch.
//!
//! Regional services get one client per region, built on first use from the
//! shared [`SdkConfig`] with the region overridden and then cached; Route 53
//! is global and is always called through us-east-1. Only [`error`] looks at
//! SDK errors; the adapters see [`CloudError`](crate::cloud::CloudError)s.
//!
//! Adapters never retry: [`AwsCloud::from_env`] sets the SDK to a single
//! attempt with a timeout, and the executor retries according to the
//! [`ErrorKind`](crate::cloud::ErrorKind), with one retry budget for every
//! provider. Tests inject ready-made clients (for example aws-smithy-mocks
//! clients) through each adapter's `new` and [`AwsCloud::with_rds`] and its
//! siblings.

mod credentials;
mod dataplane;
mod dr_health;
mod eks;
mod elasticache;
pub(crate) mod error;
mod kafka;
mod rds;
mod readiness;
mod route53;

use crate::cloud::{CloudError, ErrorKind};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::cloud::{
    Cache, ChangeId, ChangeStatus, CloudResult, Database, DatabaseState, Dns, GlobalDatastoreState,
    NodeGroupState, NodeGroups, Record, RecordType, ReplicatorSpec, ReplicatorState, Scaling,
    Stream, StreamClusterState,
};
use crate::model::Fence;
use crate::model::Op;

pub use credentials::{check_pod_credentials, IRSA_VARS, KUBERNETES_VAR, POD_IDENTITY_VAR};
pub use dataplane::DataPlaneAdapter;
pub use dr_health::DrHealthAdapter;
pub use eks::EksAdapter;
pub use elasticache::ElastiCacheAdapter;
pub use kafka::KafkaAdapter;
pub use rds::RdsAdapter;
pub use readiness::{role_of, ReadinessAdapter};
pub use route53::Route53Adapter;

/// How long one attempt of one AWS call may take before it fails as
/// `Retryable`; the executor decides whether to try again.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting to an AWS endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The AWS cloud: every capability trait, backed by the AWS SDK.
pub struct AwsCloud {
    pub(crate) rds: RdsAdapter,
    eks: EksAdapter,
    pub(crate) route53: Route53Adapter,
    elasticache: ElastiCacheAdapter,
    kafka: KafkaAdapter,
    dataplane: DataPlaneAdapter,
    readiness: ReadinessAdapter,
    dr_health: DrHealthAdapter,
}

impl AwsCloud {
    /// Loads the SDK configuration from the standard environment chain
    /// (credentials, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_<SERVICE>`, profiles) with a rustls HTTPS client, a
    /// single attempt per call, and the given connect and attempt timeouts
    /// (the policy's `execution.connect_timeout` and `call_timeout`; see
    /// [`CONNECT_TIMEOUT`] and [`ATTEMPT_TIMEOUT`] for defaults), and builds
    /// the adapters from it.
    pub async fn from_env(
        (connect_timeout, attempt_timeout): (Duration, Duration),
    ) -> Result<Self, CloudError> {
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(connect_timeout)
                    .operation_attempt_timeout(attempt_timeout)
                    .build(),
            )
            .load()
            .await;
        // Without credentials every call would fail the same way, once per
        // resource: say so once, before the first call.
        let no_credentials = |why: String| {
            let msg = format!(
                "no AWS credentials: {why}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 AWS_PROFILE, or run with an IAM role (web identity, ECS or instance profile)"
            );
            CloudError::new(ErrorKind::Fatal, Op::Credentials, "default chain", msg)
        };
        let provider = config
            .credentials_provider()
            .ok_or_else(|| no_credentials("no credentials provider is configured".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| no_credentials(error::chain(&e)))?;
        Ok(Self::from_sdk_config(&config))
    }

    /// Builds the adapters from a ready SDK configuration, used as given
    /// (tests pass one with an emulator endpoint and `max_attempts(1)`).
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self {
            rds: RdsAdapter::from_sdk_config(config),
            eks: EksAdapter::from_sdk_config(config),
            route53: Route53Adapter::from_sdk_config(config),
            elasticache: ElastiCacheAdapter::from_sdk_config(config),
            kafka: KafkaAdapter::from_sdk_config(config),
            dataplane: DataPlaneAdapter::from_sdk_config(config),
            readiness: ReadinessAdapter::from_sdk_config(config),
            dr_health: DrHealthAdapter::from_sdk_config(config),
        }
    }

    /// Replaces the RDS adapter (tests: inject a mock or emulator client).
    pub fn with_rds(mut self, rds: RdsAdapter) -> Self {
        self.rds = rds;
        self
    }

    /// Replaces the EKS adapter.
    pub fn with_eks(mut self, eks: EksAdapter) -> Self {
        self.eks = eks;
        self
    }

    /// Replaces the Route 53 adapter.
    pub fn with_route53(mut self, route53: Route53Adapter) -> Self {
        self.route53 = route53;
        self
    }

    /// Replaces the ElastiCache adapter.
    pub fn with_elasticache(mut self, elasticache: ElastiCacheAdapter) -> Self {
        self.elasticache = elasticache;
        self
    }

    /// Replaces the MSK adapter.
    pub fn with_kafka(mut self, kafka: KafkaAdapter) -> Self {
        self.kafka = kafka;
        self
    }

    /// Replaces the adapter of the readiness reads (quotas, usage, IAM).
    pub fn with_readiness(mut self, readiness: ReadinessAdapter) -> Self {
        self.readiness = readiness;
        self
    }

    /// Replaces the adapter of the DR target-health and replicator reads.
    pub fn with_dr_health(mut self, dr_health: DrHealthAdapter) -> Self {
        self.dr_health = dr_health;
        self
    }

    /// Replaces the routing-control, DNS and CloudWatch adapter.
    pub fn with_dataplane(mut self, dataplane: DataPlaneAdapter) -> Self {
        self.dataplane = dataplane;
        self
    }
}

/// A client factory for one SDK crate: every region's client shares the
/// SDK configuration (credentials, endpoint, timeouts) with its region set.
/// The crates have no common config trait, hence a macro.
macro_rules! regional_factory {
    ($sdk:ident, $config:expr) => {{
        let config = $config.clone();
        move |region: &str| {
            let conf = $sdk::config::Builder::from(&config)
                .region($sdk::config::Region::new(region.to_owned()))
                .build();
            $sdk::Client::from_conf(conf)
        }
    }};
}
use regional_factory;

/// Per-region clients of one service, built on first use and cached. SDK
/// clients are cheap handles to shared state, so a clone is handed out.
struct Regional<C> {
    make: Box<dyn Fn(&str) -> C + Send + Sync>,
    clients: Mutex<HashMap<String, C>>,
}

impl<C: Clone> Regional<C> {
    fn new(make: impl Fn(&str) -> C + Send + Sync + 'static) -> Self {
        Self {
            make: Box::new(make),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `region`. The lock is never held across an await; a
    /// poisoned cache is still consistent (an insert either happened or not).
    fn get(&self, region: &str) -> C {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| (self.make)(region))
            .clone()
    }
}

/// The resource label of a regional resource in errors and spans.
fn regional(region: &str, id: &str) -> String {
    format!("{region}/{id}")
}

// Every SDK call's future is large (tens of kilobytes unoptimized), and the
// executor nests several of them (a step, its retries, a concurrent read of
// every tier). Boxing here, at the one boundary every call crosses, keeps
// each state machine small, so a worker thread's stack holds a whole step.
impl Database for AwsCloud {
    async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        Box::pin(self.rds.get_database(region, id)).await
    }

    async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        Box::pin(self.rds.ensure_promoted(region, id, fence)).await
    }

    async fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(self.rds.ensure_renamed(region, id, renamed, tags, fence)).await
    }

    async fn ensure_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.rds
                .ensure_read_replica(region, id, source_region, source_id, fence),
        )
        .await
    }
}

impl NodeGroups for AwsCloud {
    async fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<NodeGroupState>> {
        Box::pin(self.eks.get_node_group(region, cluster, name)).await
    }

    async fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.eks
                .ensure_scaling(region, cluster, name, scaling, fence),
        )
        .await
    }
}

impl Dns for AwsCloud {
    async fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<Record>> {
        Box::pin(self.route53.get_record(zone, name, rtype)).await
    }

    async fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<Option<ChangeId>> {
        Box::pin(self.route53.ensure_record(zone, want, fence)).await
    }

    async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        Box::pin(self.route53.get_change(id)).await
    }
}

impl Cache for AwsCloud {
    async fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<GlobalDatastoreState>> {
        Box::pin(self.elasticache.get_global_datastore(region, id)).await
    }

    async fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.elasticache
                .ensure_primary_member(id, region, member, fence),
        )
        .await
    }

    async fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<crate::cloud::ReplicationGroupState>> {
        Box::pin(self.elasticache.get_replication_group(region, id)).await
    }

    async fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.elasticache
                .ensure_disassociated(id, region, member, fence),
        )
        .await
    }

    async fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        Box::pin(
            self.elasticache
                .ensure_global_datastore(region, suffix, primary_member, fence),
        )
        .await
    }

    async fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(
            self.elasticache
                .ensure_secondary_member(global_datastore, region, member, fence),
        )
        .await
    }
}

impl Stream for AwsCloud {
    async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        Box::pin(self.kafka.get_stream_cluster(region, name)).await
    }

    async fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        Box::pin(self.kafka.get_replicator(region, name)).await
    }

    async fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        Box::pin(self.kafka.ensure_replicator(region, want, fence)).await
    }
}

impl crate::cloud::Writers for AwsCloud {
    fn writer_fences(
        &self,
        policy: &crate::policy::Policy,
        restore: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn crate::fence::WriterFence>>, String> {
        let client = self.elasticache.client(&policy.regions.primary);
        crate::fence::from_policy(policy, Some(client), restore)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A client of the SDK crate `$sdk` answered by aws-smithy-mocks
    /// `$rules`: static credentials, us-west-2, and no SDK retries, so a
    /// test sees exactly the calls the adapter made.
    macro_rules! mock_sdk_client {
        ($sdk:ident, $mode:expr, $rules:expr) => {{
            let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new().rule_mode($mode);
            for rule in $rules {
                interceptor = interceptor.with_rule(rule);
            }
            let conf = $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-west-2"))
                .credentials_provider($sdk::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build();
            $sdk::Client::from_conf(conf)
        }};
    }
    pub(crate) use mock_sdk_client;

    /// A cloud that must not reach AWS: tests replace the adapter they use.
    pub(crate) fn test_cloud() -> AwsCloud {
        AwsCloud::from_sdk_config(
            &SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .build(),
        )
    }

    /// The fence of a test execution.
    pub(crate) fn fence() -> Fence {
        Fence {
            execution_id: "exec-test".into(),
            epoch: crate::model::Epoch { term: 7, index: 1 },
        }
    }

    #[test]
    fn regional_clients_are_built_once_per_region() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&built);
        let clients = Regional::new(move |region: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
            format!("client-{region}")
        });
        assert_eq!(clients.get("us-west-2"), "client-us-west-2");
        assert_eq!(clients.get("us-west-2"), "client-us-west-2");
        assert_eq!(clients.get("us-east-1"), "client-us-east-1");
        assert_eq!(built.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn aws_cloud_is_a_cloud() {
        fn assert_cloud<T: crate::cloud::Cloud>() {}
        assert_cloud::<AwsCloud>();
    }
}
