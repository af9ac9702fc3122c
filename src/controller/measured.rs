//! Exposure as the executor sees it on a controller node: the data-loss
//! exposure of a tier the policy measures with heartbeats comes from the
//! sites' rounds; every other tier's comes from the provider. So the RPO
//! gate, both when a failover is decided and in its journaled step right
//! before promotion, uses the measured figure. Only exposure is wrapped:
//! every capability call goes to the provider unchanged.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Context;
use crate::cloud::{CloudResult, ExposureSource, Measurement};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::Policy;

/// Heartbeat-measured exposures, falling back to the provider's.
pub(super) struct Measured {
    pub inner: Arc<dyn ExposureSource>,
    pub ctx: Context,
}

impl Measured {
    /// The measured exposure of `tier`, when `policy` has a heartbeat for it.
    fn measured(&self, policy: &Policy, tier: DataTier) -> Option<Exposure> {
        let hb = &policy.detection.heartbeats;
        let beats = match tier {
            DataTier::Database => hb.database.is_some(),
            DataTier::Cache => hb.cache.is_some(),
            DataTier::Stream => false,
        };
        if !beats {
            return None;
        }
        let policy = self.ctx.policy(&policy.name)?;
        Some(
            self.ctx
                .exposures(&policy)
                .get(&tier)
                .map_or(Exposure::Unknown, |(e, _)| *e),
        )
    }
}

impl ExposureSource for Measured {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        match self.measured(policy, tier) {
            Some(e) => Box::pin(async move { Ok(Measurement::new(e, "heartbeat")) }),
            None => self.inner.exposure(policy, tier),
        }
    }
}
