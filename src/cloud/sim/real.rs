//! Real servers behind the simulated data tiers, region by region.
//!
//! [`Backing`](super::Backing) puts a real standby (and a real Redis
//! replica) behind the DR side: a failover really promotes them. A
//! [`Rebuild`] goes on from there, for tests of the way home: when the
//! simulated reprotect creates the read replica in the old primary's
//! region, a real PostgreSQL standby of the promoted server is made
//! (`pg_basebackup` from the new primary, by the test's [`StandbyMaker`]);
//! when the Global Datastore makes a member in a region its secondary (a
//! failover leaves the old member as one; a reprotect adds one), that
//! region's Redis server is made a `REPLICAOF` the promoted one; a member
//! disassociated from it stops replicating. A failback's
//! promotion in the old primary's region then promotes those servers.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{BackingServer, SimCloud, BACKING_TIMEOUT};
use crate::cloud::{CloudError, CloudResult, ErrorKind};
use crate::model::Op;

/// Makes a real PostgreSQL standby streaming from a primary.
pub trait StandbyMaker: Send + Sync {
    /// Clones `primary` (a promoted backing server) into a new standby that
    /// streams from it, started and accepting connections; returns it.
    fn postgres_standby(
        &self,
        primary: BackingServer,
    ) -> BoxFuture<'static, Result<BackingServer, String>>;
}

/// What a reprotect builds for real in the old primary's region.
#[derive(Clone, Default)]
pub struct Rebuild {
    /// Makes the new database replica.
    pub postgres: Option<Arc<dyn StandbyMaker>>,
    /// The Redis server behind the cache member in the old primary's
    /// region once that member is a secondary (empty until it replicates).
    pub redis: Option<BackingServer>,
}

impl std::fmt::Debug for Rebuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rebuild")
            .field("postgres", &self.postgres.as_ref().map(|_| "standby maker"))
            .field("redis", &self.redis)
            .finish()
    }
}

/// The standbys a [`Rebuild`] made, by region.
#[derive(Debug, Default)]
pub(super) struct Rebuilt {
    pub postgres: BTreeMap<String, BackingServer>,
}

fn failed(op: Op, resource: &str, e: impl std::fmt::Display) -> CloudError {
    CloudError::new(ErrorKind::Retryable, op, resource, e.to_string())
}

impl SimCloud {
    /// Makes a reprotect's database replica real too (see [`Rebuild`]).
    pub fn rebuilt_by(mut self, rebuild: Rebuild) -> Self {
        self.rebuild = Arc::new(rebuild);
        self
    }

    /// The real PostgreSQL server behind the database in `region`: the
    /// standby a reprotect made there, else the backing standby on the
    /// DR side.
    pub(super) fn postgres_in(&self, region: &str) -> Option<BackingServer> {
        let made = self
            .rebuilt
            .lock()
            .expect("rebuilt lock")
            .postgres
            .get(region)
            .cloned();
        made.or_else(|| {
            let dr = region != self.world().primary_region;
            self.backing.postgres.clone().filter(|_| dr)
        })
    }

    /// The real Redis server behind the cache member in `region`.
    pub(super) fn redis_in(&self, region: &str) -> Option<BackingServer> {
        if region == self.world().primary_region {
            self.rebuild.redis.clone()
        } else {
            self.backing.redis.clone()
        }
    }

    /// Before CreateDBInstanceReadReplica of `region/id` from a backed
    /// source: makes the real standby once (a retried call finds it made).
    pub(super) async fn real_read_replica(
        &self,
        region: &str,
        key: &str,
        source_region: &str,
        source_key: &str,
    ) -> CloudResult<()> {
        let op = Op::CreateDbInstanceReadReplica;
        let Some(maker) = self.rebuild.postgres.clone() else {
            return Ok(());
        };
        let made = self
            .rebuilt
            .lock()
            .expect("rebuilt lock")
            .postgres
            .contains_key(region);
        let Some(source) = self.postgres_in(source_region).filter(|_| !made) else {
            return Ok(());
        };
        let acts = {
            let w = self.world();
            let standalone = w.databases.get(source_key).is_some_and(|s| {
                s.status == "available" && s.replica_source.is_none() && s.pending.is_none()
            });
            standalone && !w.databases.contains_key(key)
        };
        if !acts {
            return Ok(());
        }
        let standby = maker
            .postgres_standby(source)
            .await
            .map_err(|e| failed(op, key, e))?;
        self.rebuilt
            .lock()
            .expect("rebuilt lock")
            .postgres
            .insert(region.to_string(), standby);
        Ok(())
    }

    /// The cache member in `region` becomes the primary: its real server
    /// is promoted and every other region's is made its replica.
    pub(super) async fn real_cache_failover(
        &self,
        id: &str,
        region: &str,
        others: &[String],
    ) -> CloudResult<()> {
        let op = Op::FailoverGlobalReplicationGroup;
        let Some(primary) = self.redis_in(region) else {
            return Ok(());
        };
        crate::probe::promote_redis(&primary.replica, primary.password.clone(), BACKING_TIMEOUT)
            .await
            .map_err(|e| failed(op, id, e))?;
        for other in others {
            self.real_cache_secondary(id, other, region).await?;
        }
        Ok(())
    }

    /// The cache member in `region` leaves its Global Datastore: its real
    /// server stops replicating and takes writes on its own.
    pub(super) async fn real_cache_standalone(&self, id: &str, region: &str) -> CloudResult<()> {
        let Some(server) = self.redis_in(region) else {
            return Ok(());
        };
        crate::probe::promote_redis(&server.replica, server.password.clone(), BACKING_TIMEOUT)
            .await
            .map_err(|e| failed(Op::DisassociateGlobalReplicationGroup, id, e))
    }

    /// The cache member in `region` replicates from the one in
    /// `primary_region` (`REPLICAOF`), when both are real.
    pub(super) async fn real_cache_secondary(
        &self,
        id: &str,
        region: &str,
        primary_region: &str,
    ) -> CloudResult<()> {
        let (Some(secondary), Some(primary)) =
            (self.redis_in(region), self.redis_in(primary_region))
        else {
            return Ok(());
        };
        crate::probe::replicate_redis(
            &secondary.replica,
            secondary.password.clone(),
            &primary.replica,
            BACKING_TIMEOUT,
        )
        .await
        .map_err(|e| failed(Op::CreateReplicationGroup, id, e))
    }
}
