//! The simulated cloud: an in-memory world with AWS's semantics.
//!
//! [`SimCloud`] implements every cloud trait the way AWS behaves: a promotion
//! takes minutes and passes through `modifying`, a node-group update goes
//! through `UPDATING`, a Route 53 change is `PENDING` before `INSYNC`, and
//! Route 53's control plane throttles above five calls a second. Time comes
//! from `tokio::time` only, so a drill or a test on a paused clock runs a
//! four-hour failover in milliseconds and reports modeled durations.
//!
//! Faults ([`Fault`]) are switched on per operation: fail N times, throttle,
//! stay stuck in a transitional state, never converge. Every call and every
//! accepted mutation is counted, and every state transition is logged with
//! its start and end, so tests can assert that no step acted twice and the
//! benchmark can separate cloud time from controller overhead.

mod cache;
mod dataplane;
mod dr_health;
mod faults;
mod impls;
mod latency;
mod reach;
mod readiness;
mod real;
pub mod remote;
mod replicator;
mod reprotect;
mod world;
mod writers;

pub use dr_health::DEFAULT_HEALTHY_TARGETS;
pub use faults::*;
pub use latency::{LatencyModel, Span};
pub use reach::Outage;
pub use readiness::{DEFAULT_NODE_VCPUS, DEFAULT_VCPUS_IN_USE, DEFAULT_VCPU_QUOTA, SIM_PRINCIPAL};
pub use real::{Rebuild, StandbyMaker};
pub use reprotect::GLOBAL_DATASTORE_PREFIX;
pub use world::{MutationRecord, Transition};
pub use writers::{writer_fences, SimWorld, SimWriterFence};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::cloud::{CloudError, ErrorKind, Scaling};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Op;
use crate::policy::Policy;
use world::World;

/// Route 53's documented control-plane limit: five requests a second per account.
pub const ROUTE53_CALLS_PER_SECOND_MAX: usize = 5;

/// How to build a simulated world.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Seeds every random choice (latencies, default lags).
    pub seed: u64,
    /// How long things take.
    pub latency: LatencyModel,
    /// Faults switched on from the start.
    pub faults: Vec<Fault>,
    /// Replication lag per data tier; tiers not named get a small seeded lag.
    pub lag: BTreeMap<DataTier, Exposure>,
}

/// Real servers behind the simulated data tiers: when set, promoting the
/// simulated replica also promotes the real one (`pg_promote()`,
/// `REPLICAOF NO ONE`), so that tests measure real data loss.
#[derive(Debug, Clone, Default)]
pub struct Backing {
    /// The PostgreSQL standby behind the database tier's replica.
    pub postgres: Option<BackingServer>,
    /// The Redis replica behind the cache tier's DR member.
    pub redis: Option<BackingServer>,
}

/// One real server to promote. `Debug` shows the connection string
/// redacted and never the password.
#[derive(Clone)]
pub struct BackingServer {
    /// libpq conninfo or `redis://` URL.
    pub replica: String,
    /// Its password, if any.
    pub password: Option<String>,
}

impl std::fmt::Debug for BackingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackingServer")
            .field("replica", &crate::redact::Redacted(&self.replica))
            .field(
                "password",
                &self.password.as_ref().map(|_| crate::redact::MASK),
            )
            .finish()
    }
}

/// How long a real promotion may take before the call fails (retryable).
const BACKING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(70);

/// A simulated cloud holding the platform a policy describes, in its normal
/// (pre-failover) state. Cloning shares the world.
#[derive(Debug, Clone)]
pub struct SimCloud {
    world: Arc<Mutex<World>>,
    backing: Arc<Backing>,
    /// What a reprotect makes for real (see [`Rebuild`]).
    rebuild: Arc<Rebuild>,
    /// The real standbys it made, by region.
    rebuilt: Arc<Mutex<real::Rebuilt>>,
    /// The region of the site making the calls, when known: a site in a
    /// region under outage reaches nothing.
    caller: Option<String>,
    /// Whether the policy's fencing methods act on the real servers they
    /// name (tests with real PostgreSQL and Redis) instead of the world's
    /// simulated writers.
    real_fences: bool,
    /// Writer fences from elsewhere than the simulated world (see
    /// [`SimCloud::with_writers`]).
    writers: Option<OtherWriters>,
}

/// Writer fences that stand in for the world's simulated writers.
#[derive(Clone)]
struct OtherWriters(Arc<dyn crate::cloud::Writers>);

impl std::fmt::Debug for OtherWriters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtherWriters")
    }
}

impl SimCloud {
    /// Builds the world for `policy`: every resource it names exists, the
    /// primary region is active, the DR side is minimal and healthy.
    ///
    /// # Errors
    ///
    /// A fault that does not validate, with the index of the fault.
    pub fn new(policy: &Policy, options: SimOptions) -> Result<Self, String> {
        for (i, f) in options.faults.iter().enumerate() {
            f.validate().map_err(|e| format!("faults[{i}].{e}"))?;
        }
        let mut rng = SmallRng::seed_from_u64(options.seed);
        let mut lag = options.lag;
        for (tier, max_ms) in [
            (DataTier::Database, 5_000),
            (DataTier::Cache, 1_000),
            (DataTier::Stream, 8_000),
        ] {
            let sampled = std::time::Duration::from_millis(rng.random_range(100..=max_ms));
            lag.entry(tier).or_insert(Exposure::Known(sampled));
        }
        let world = World::from_policy(policy, rng, options.latency, options.faults, lag);
        Ok(Self {
            world: Arc::new(Mutex::new(world)),
            backing: Arc::default(),
            rebuild: Arc::default(),
            rebuilt: Arc::default(),
            caller: None,
            real_fences: false,
            writers: None,
        })
    }

    /// The same world, called from a site in `region`: when that region is
    /// under outage, none of this handle's calls are answered.
    pub fn as_site(&self, region: &str) -> Self {
        Self {
            caller: Some(region.to_string()),
            ..self.clone()
        }
    }

    /// Puts whole regions under outage from now (replacing the earlier set):
    /// their API endpoints and routing-control endpoints do not answer,
    /// Route 53's control plane does not answer while us-east-1 is out, a
    /// Global Datastore failover that needs such a region is refused, and
    /// no site reaches the primary when its region is out.
    pub fn set_region_outage(&self, regions: impl IntoIterator<Item = String>) {
        let mut w = self.world();
        w.outage.regions = regions.into_iter().collect();
        let primary = w.primary_region.clone();
        w.outage.primary_down = w.outage.primary_down || w.outage.regions.contains(&primary);
    }

    /// Takes the routing-control cluster endpoints of these regions down
    /// (replacing the earlier set); everything else in them keeps answering.
    pub fn set_routing_endpoints_down(&self, regions: impl IntoIterator<Item = String>) {
        self.world().outage.routing_endpoints = regions.into_iter().collect();
    }

    /// Calls made so far per service, region and plane.
    pub fn call_counts(&self) -> Vec<crate::cloud::CallCount> {
        self.world()
            .call_sites
            .iter()
            .map(|(site, count)| crate::cloud::CallCount {
                service: site.service.clone(),
                region: site.region.clone(),
                plane: site.plane,
                count: *count,
            })
            .collect()
    }

    /// Closes a gating safety rule: every routing-control update is
    /// refused, naming it.
    pub fn close_gating_rule(&self, name: &str) {
        self.world().closed_gating_rules.push(name.to_string());
    }

    /// Lets the policy's fencing methods act on the real servers they name
    /// (the database's roles, the cache's users), as against AWS.
    pub fn with_real_fences(mut self) -> Self {
        self.real_fences = true;
        self
    }

    /// Takes the policy's writer fences from `writers` instead of the
    /// world's simulated writers: fences that keep their state elsewhere
    /// (as the ElastiCache user fence does, in the caller's journal).
    pub fn with_writers(mut self, writers: Arc<dyn crate::cloud::Writers>) -> Self {
        self.writers = Some(OtherWriters(writers));
        self
    }

    /// Puts real servers behind the data tiers (see [`Backing`]).
    pub fn backed_by(mut self, backing: Backing) -> Self {
        self.backing = Arc::new(backing);
        self
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a bug in the simulator; the
        // world is not worth salvaging then.
        self.world.lock().expect("simulated world lock poisoned")
    }

    /// Waits one API round trip, then applies faults and Route 53's rate
    /// limit to the call. Returns the world, settled to the current time.
    /// A call to a region under outage (or from one) is counted and never
    /// answered, as a dead region's endpoint: the caller's timeout ends it.
    async fn call(
        &self,
        op: Op,
        region: &str,
        resource: &str,
    ) -> Result<MutexGuard<'_, World>, CloudError> {
        let unreachable = {
            let mut w = self.world();
            w.count_call(op, region);
            let site = faults::call_site(op, region);
            let out = &w.outage.regions;
            let endpoint_down = site.service == "route53-recovery-cluster"
                && w.outage.routing_endpoints.contains(&site.region);
            endpoint_down
                || out.contains(&site.region)
                || self.caller.as_ref().is_some_and(|c| out.contains(c))
        };
        if unreachable {
            std::future::pending::<()>().await;
        }
        let wait = self.world().api_latency();
        tokio::time::sleep(wait).await;
        let mut world = self.world();
        let now = Instant::now();
        if op.service() == "route53" && !world.route53_admit(now) {
            return Err(CloudError::new(
                ErrorKind::Throttled,
                op,
                resource,
                "Rate exceeded (Throttling)",
            ));
        }
        if let Some(kind) = world.take_failure(op, resource) {
            let message = match kind {
                ErrorKind::Throttled => "Rate exceeded (injected throttling)".to_string(),
                other => format!("injected {other} failure"),
            };
            return Err(CloudError::new(kind, op, resource, message));
        }
        world.settle(now);
        Ok(world)
    }

    /// Switches a fault on from now.
    ///
    /// # Errors
    ///
    /// A fault that does not validate.
    pub fn inject(&self, fault: Fault) -> Result<(), String> {
        fault.validate()?;
        self.world().add_fault(fault, tokio::time::Instant::now());
        Ok(())
    }

    /// Switches every fault off from now.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Sets a data tier's replication lag.
    pub fn set_lag(&self, tier: DataTier, exposure: Exposure) {
        self.world().lag.insert(tier, exposure);
    }

    /// A node group's scaling as the world holds it (no call counted).
    pub fn node_group_scaling(&self, region: &str, cluster: &str, name: &str) -> Option<Scaling> {
        self.world()
            .node_groups
            .get(&world::key(&[region, cluster, name]))
            .map(|g| g.scaling)
    }

    /// Every accepted mutation in order, with its execution, epoch and
    /// calling site.
    pub fn mutation_log(&self) -> Vec<world::MutationRecord> {
        self.world().mutation_log.clone()
    }

    /// Every mutating call refused because its resource was busy, in
    /// order, stamped when it was sent.
    pub fn refused_log(&self) -> Vec<world::MutationRecord> {
        self.world().refused_log.clone()
    }

    /// Accepted mutations per operation.
    pub fn mutations(&self) -> BTreeMap<String, u32> {
        self.world().mutations.clone()
    }

    /// Every call per operation, including failed and read-only ones.
    pub fn calls(&self) -> BTreeMap<String, u32> {
        self.world().calls.clone()
    }

    /// Every state transition started so far, settled to now.
    pub fn transitions(&self) -> Vec<Transition> {
        let mut world = self.world();
        world.settle(Instant::now());
        world.transitions.clone()
    }

    /// Removes a resource, as if it had never been created (for preflight
    /// scenarios). `resource` uses the names of `Action::resource`, such as
    /// `eks:us-west-2/emr-integration-dr/app-nodes`.
    ///
    /// # Errors
    ///
    /// When no resource has that name.
    pub fn remove(&self, resource: &str) -> Result<(), String> {
        if self.world().remove(resource) {
            Ok(())
        } else {
            Err(format!("{resource:?} names no simulated resource"))
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reprotect;
