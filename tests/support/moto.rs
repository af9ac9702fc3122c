//! moto fixtures: SDK clients aimed at a running moto server, one moto
//! account per test, a log of the AWS operations the adapters called, and the
//! seeding of the core platform (the DR database, node groups and DNS).
//!
//! The server is `tests/moto/server.py` (moto 5.2.5 with documented test-only
//! corrections), started by `scripts/test.sh`; its address comes from
//! [`ENDPOINT_ENV`]. Each test gets its own account through the
//! `x-moto-account-id` header, so tests share one server without resetting
//! it. A caller that cannot send the header (the `drctl` binary) reaches its
//! test's account with the credentials of a role assumed there
//! ([`Moto::assumed`]): nothing ever needs moto's default account or a reset
//! that would wipe the accounts of the tests running beside it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eks::types::{NodegroupScalingConfig, VpcConfigRequest};
use aws_sdk_rds::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use drctl::cloud::aws::{AwsCloud, EksAdapter, RdsAdapter, Route53Adapter};
use drctl::cloud::Scaling;

/// The environment variable holding moto's address, e.g. `http://127.0.0.1:5555`.
pub const ENDPOINT_ENV: &str = "DRCTL_MOTO_ENDPOINT";

/// The header by which a request picks its moto account.
const ACCOUNT_HEADER: &str = "x-moto-account-id";

/// moto's address. Panics when it is not configured: a contract test that
/// cannot reach moto must fail, never pass silently.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_ENV) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_ENV} is not set: start moto with scripts/test.sh (or run \
             `python tests/moto/server.py 5555 &` and set \
             {ENDPOINT_ENV}=http://127.0.0.1:5555) before running these tests"
        ),
    }
}

/// A random 12-digit account id, so each test has a fresh moto world.
pub fn random_account_id() -> String {
    let random = RandomState::new().build_hasher().finish();
    format!("{}", 100_000_000_000 + random % 900_000_000_000)
}

/// Sends `x-moto-account-id` and records the name of every operation called
/// through the client it is attached to.
#[derive(Debug, Clone)]
struct MotoInterceptor {
    account: Option<String>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Intercept for MotoInterceptor {
    fn name(&self) -> &'static str {
        "MotoInterceptor"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("unknown", |metadata| metadata.name());
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.to_owned());
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(account) = &self.account {
            context
                .request_mut()
                .headers_mut()
                .insert(ACCOUNT_HEADER, account.clone());
        }
        Ok(())
    }
}

/// One moto account on one moto server, and the clients that reach it.
#[derive(Debug, Clone)]
pub struct Moto {
    /// The shared SDK configuration: moto's endpoint, static test
    /// credentials, us-east-1, a single attempt per call.
    pub config: SdkConfig,
    /// The account these clients work in. Sent in `x-moto-account-id`
    /// unless the clients come from [`Moto::assumed`].
    pub account: String,
    interceptor: MotoInterceptor,
}

/// A client of `$sdk` for `$region`, carrying the moto interceptor.
macro_rules! moto_client {
    ($self:ident, $sdk:ident, $region:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&$self.config)
                .region(Region::new($region.to_owned()))
                .interceptor($self.interceptor.clone())
                .build(),
        )
    };
}

impl Moto {
    /// Clients of `endpoint`, in `account`.
    pub fn new(endpoint: &str, account: String) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "drctl-moto-tests",
            )))
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .http_client(http)
            .build();
        let interceptor = MotoInterceptor {
            account: Some(account.clone()),
            calls: Arc::default(),
        };
        Self {
            config,
            account,
            interceptor,
        }
    }

    /// A fresh random account on the server named by [`ENDPOINT_ENV`].
    pub fn isolated() -> Self {
        Self::new(&endpoint(), random_account_id())
    }

    /// This account reached without the account header, as the `drctl`
    /// binary reaches it: clients signing with the credentials of a role
    /// assumed in this account through moto's STS (moto takes the account
    /// from the role's ARN; the role need not exist, and moto reads the
    /// credentials only when no header names an account). Also returns the
    /// credentials, for a process's `AWS_*` environment.
    pub async fn assumed(&self) -> (Self, Credentials) {
        let account = &self.account;
        let sts = moto_client!(self, aws_sdk_sts, "us-east-1");
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/drctl-moto-tests"))
            .role_session_name("drctl-moto-tests")
            .send()
            .await
            .expect("moto's STS assumes a role in the test's account");
        let c = out.credentials().expect("AssumeRole returns credentials");
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "drctl-moto-assumed-role",
        );
        let config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
            .build();
        let interceptor = MotoInterceptor {
            account: None,
            calls: Arc::default(),
        };
        let bare = Self {
            config,
            account: self.account.clone(),
            interceptor,
        };
        (bare, credentials)
    }

    /// The account id moto stores this account's resources under.
    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// An RDS client for `region`.
    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        moto_client!(self, aws_sdk_rds, region)
    }

    /// An EKS client for `region`.
    pub fn eks(&self, region: &str) -> aws_sdk_eks::Client {
        moto_client!(self, aws_sdk_eks, region)
    }

    /// A Route 53 client (global, signed for us-east-1).
    pub fn route53(&self) -> aws_sdk_route53::Client {
        moto_client!(self, aws_sdk_route53, "us-east-1")
    }

    /// A Route 53 client that also runs `extra` (e.g. to inject a race).
    pub fn route53_with(&self, extra: impl Intercept + 'static) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&self.config)
                .region(Region::new("us-east-1"))
                .interceptor(self.interceptor.clone())
                .interceptor(extra)
                .build(),
        )
    }

    /// The AWS cloud under test, with its RDS, EKS and Route 53 adapters
    /// using this account's clients.
    pub fn cloud(&self) -> AwsCloud {
        let rds = self.clone();
        let eks = self.clone();
        AwsCloud::from_sdk_config(&self.config)
            .with_rds(RdsAdapter::new(move |region| rds.rds(region)))
            .with_eks(EksAdapter::new(move |region| eks.eks(region)))
            .with_route53(Route53Adapter::new(self.route53()))
    }

    /// The operations (e.g. `PromoteReadReplica`) called through this
    /// account's clients since the last call, which forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .interceptor
                .calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// The primary region of the platform.
pub const PRIMARY_REGION: &str = "us-east-1";
/// The DR region of the platform.
pub const DR_REGION: &str = "us-west-2";
/// The primary PostgreSQL instance (us-east-1).
pub const PRIMARY_DB: &str = "emr-platform-prod";
/// Its cross-region read replica (us-west-2).
pub const DR_DB: &str = "emr-platform-prod-dr";
/// The DR EKS cluster (us-west-2).
pub const DR_CLUSTER: &str = "emr-integration-dr";
/// The DR cluster's node groups at their minimal (pre-failover) sizes.
pub const NODE_GROUPS: [(&str, Scaling); 3] = [
    ("system-nodes", scaling(1, 1, 6)),
    ("app-nodes", scaling(1, 1, 20)),
    ("db-proxy-nodes", scaling(1, 1, 4)),
];
/// The public hosted zone.
pub const ZONE: &str = "emr-platform.com";
/// The API record, an alias A record.
pub const API_RECORD: &str = "api.emr-platform.com";
/// The primary ALB the API record points at.
pub const PRIMARY_ALB: &str = "emr-platform-alb-1234567890.us-east-1.elb.amazonaws.com";
/// The canonical hosted zone of ALBs in us-east-1.
pub const PRIMARY_ALB_ZONE: &str = "Z35SXDOTRQ7X7K";

const fn scaling(min: u32, desired: u32, max: u32) -> Scaling {
    Scaling { min, desired, max }
}

/// What seeding created, as AWS named it.
#[derive(Debug, Clone)]
pub struct CorePlatform {
    /// The primary instance's ARN (the replica's source).
    pub primary_db_arn: String,
    /// The hosted zone's id, without `/hostedzone/`.
    pub zone_id: String,
}

/// Creates the core platform in `moto`'s account, through the Rust SDK: the
/// database pair, the DR cluster's node groups and the DNS zone with the API
/// record. Not idempotent: seed each account once.
pub async fn seed_core_platform(moto: &Moto) -> anyhow::Result<CorePlatform> {
    let primary_db_arn = seed_database(moto).await?;
    seed_node_groups(moto).await?;
    let zone_id = seed_dns(moto).await?;
    Ok(CorePlatform {
        primary_db_arn,
        zone_id,
    })
}

/// Creates [`PRIMARY_DB`] (PostgreSQL 15, Multi-AZ) in us-east-1 and its
/// cross-region read replica [`DR_DB`] in us-west-2, named by the source's
/// ARN as cross-region replicas must be. Returns the primary's ARN.
pub async fn seed_database(moto: &Moto) -> anyhow::Result<String> {
    let primary = moto
        .rds(PRIMARY_REGION)
        .create_db_instance()
        .db_instance_identifier(PRIMARY_DB)
        .engine("postgres")
        .engine_version("15.4")
        .db_instance_class("db.r6g.large")
        .allocated_storage(100)
        .master_username("emradmin")
        .master_user_password("not-a-real-secret-1")
        .multi_az(true)
        .send()
        .await?;
    let arn = primary
        .db_instance()
        .and_then(|db| db.db_instance_arn())
        .ok_or_else(|| anyhow::anyhow!("moto returned no ARN for {PRIMARY_DB}"))?
        .to_owned();
    moto.rds(DR_REGION)
        .create_db_instance_read_replica()
        .db_instance_identifier(DR_DB)
        .source_db_instance_identifier(&arn)
        .db_instance_class("db.r6g.large")
        .send()
        .await?;
    Ok(arn)
}

/// Creates [`DR_CLUSTER`] (EKS 1.28) in us-west-2 with [`NODE_GROUPS`].
pub async fn seed_node_groups(moto: &Moto) -> anyhow::Result<()> {
    let eks = moto.eks(DR_REGION);
    let account = moto.account_id();
    eks.create_cluster()
        .name(DR_CLUSTER)
        .version("1.28")
        .role_arn(format!("arn:aws:iam::{account}:role/eks-cluster"))
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-dr-a")
                .subnet_ids("subnet-dr-b")
                .build(),
        )
        .send()
        .await?;
    for (name, size) in NODE_GROUPS {
        eks.create_nodegroup()
            .cluster_name(DR_CLUSTER)
            .nodegroup_name(name)
            .node_role(format!("arn:aws:iam::{account}:role/eks-nodes"))
            .subnets("subnet-dr-a")
            .subnets("subnet-dr-b")
            .scaling_config(
                NodegroupScalingConfig::builder()
                    .min_size(i32::try_from(size.min)?)
                    .desired_size(i32::try_from(size.desired)?)
                    .max_size(i32::try_from(size.max)?)
                    .build(),
            )
            .send()
            .await?;
    }
    Ok(())
}

/// Creates the public zone [`ZONE`] with [`API_RECORD`] as an alias to
/// [`PRIMARY_ALB`]. Returns the zone id.
pub async fn seed_dns(moto: &Moto) -> anyhow::Result<String> {
    let route53 = moto.route53();
    let zone = route53
        .create_hosted_zone()
        .name(ZONE)
        .caller_reference(format!("drctl-seed-{}", random_account_id()))
        .send()
        .await?;
    let zone_id = zone
        .hosted_zone()
        .map(|zone| zone.id().trim_start_matches("/hostedzone/").to_owned())
        .ok_or_else(|| anyhow::anyhow!("moto returned no zone for {ZONE}"))?;
    let record = ResourceRecordSet::builder()
        .name(API_RECORD)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(PRIMARY_ALB)
                .hosted_zone_id(PRIMARY_ALB_ZONE)
                .evaluate_target_health(false)
                .build()?,
        )
        .build()?;
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .comment("drctl test seed")
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(record)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    Ok(zone_id)
}
