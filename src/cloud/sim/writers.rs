//! The application's writers in the simulated world: per region and data
//! tier, fenced or not. They stand for what the real methods change (the
//! database's application roles, the cache's users), so that drills, tests
//! and the local cluster fence and unfence through the same trait.

use futures::future::BoxFuture;

use super::remote::{RemoteSim, SimCall};
use super::world::key;
use super::SimCloud;
use crate::cloud::CloudResult;
use crate::fence::{FenceError, FenceOutcome, FenceState, WriterFence};
use crate::model::Op;

impl SimCloud {
    /// Fences (`true`) or gives back the writers of `tier` in `region`;
    /// returns whether that changed anything.
    ///
    /// # Errors
    ///
    /// The region does not answer (under outage), as any call.
    pub async fn set_writers_fenced(
        &self,
        region: &str,
        tier: &str,
        fenced: bool,
    ) -> CloudResult<bool> {
        let k = key(&[region, tier]);
        let mut w = self.call(Op::FenceWriters, region, &k).await?;
        let changed = if fenced {
            w.fenced_writers.insert(k)
        } else {
            w.fenced_writers.remove(&k)
        };
        if changed {
            *w.mutations.entry(Op::FenceWriters.to_string()).or_default() += 1;
        }
        let prefix = key(&[region, ""]);
        if fenced {
            let now = tokio::time::Instant::now();
            w.quiesced.entry(region.to_string()).or_insert(now);
        } else if !w.fenced_writers.iter().any(|k| k.starts_with(&prefix)) {
            w.quiesced.remove(region);
        }
        Ok(changed)
    }

    /// Whether the writers of `tier` in `region` are fenced.
    ///
    /// # Errors
    ///
    /// The region does not answer.
    pub async fn writers_fenced(&self, region: &str, tier: &str) -> CloudResult<bool> {
        let k = key(&[region, tier]);
        let w = self.call(Op::GetWriters, region, &k).await?;
        Ok(w.fenced_writers.contains(&k))
    }
}

/// A simulated world, here or served.
#[derive(Clone)]
pub enum SimWorld {
    /// In this process.
    Local(SimCloud),
    /// Served by `drctl sim serve`.
    Remote(RemoteSim),
}

impl SimWorld {
    async fn set(&self, region: &str, tier: &str, fenced: bool) -> CloudResult<bool> {
        match self {
            Self::Local(s) => s.set_writers_fenced(region, tier, fenced).await,
            Self::Remote(r) => {
                r.call(SimCall::SetWritersFenced {
                    region: region.into(),
                    tier: tier.into(),
                    fenced,
                })
                .await
            }
        }
    }

    async fn get(&self, region: &str, tier: &str) -> CloudResult<bool> {
        match self {
            Self::Local(s) => s.writers_fenced(region, tier).await,
            Self::Remote(r) => {
                r.call(SimCall::WritersFenced {
                    region: region.into(),
                    tier: tier.into(),
                })
                .await
            }
        }
    }
}

/// One tier's simulated writers in one region, as a fencing method.
pub struct SimWriterFence {
    /// The world.
    pub world: SimWorld,
    /// The region.
    pub region: String,
    /// `database` or `cache`.
    pub tier: &'static str,
    /// The roles or users the policy names.
    pub names: Vec<String>,
}

impl SimWriterFence {
    /// A call that was not answered is `Unreachable` (the fence waits);
    /// one that was refused is `Refused` (a writer is left).
    fn error(&self, e: crate::cloud::CloudError) -> FenceError {
        use crate::cloud::ErrorKind as K;
        let (target, detail) = (self.describe(), e.to_string());
        match e.kind {
            K::Retryable | K::Throttled => FenceError::Unreachable { target, detail },
            _ => FenceError::Refused { target, detail },
        }
    }
}

impl WriterFence for SimWriterFence {
    fn describe(&self) -> String {
        format!(
            "simulated {} {} writers {}",
            self.region,
            self.tier,
            self.names.join(", ")
        )
    }

    fn fence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(async move {
            match self.world.set(&self.region, self.tier, true).await {
                Ok(true) => Ok(FenceOutcome::changed(format!(
                    "{}: {} can no longer write",
                    self.tier,
                    self.names.join(", ")
                ))),
                Ok(false) => Ok(FenceOutcome::unchanged(format!(
                    "{}: already fenced",
                    self.tier
                ))),
                Err(e) => Err(self.error(e)),
            }
        })
    }

    fn unfence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(async move {
            match self.world.set(&self.region, self.tier, false).await {
                Ok(true) => Ok(FenceOutcome::changed(format!(
                    "{}: {} can write again",
                    self.tier,
                    self.names.join(", ")
                ))),
                Ok(false) => Ok(FenceOutcome::unchanged(format!(
                    "{}: not fenced",
                    self.tier
                ))),
                Err(e) => Err(self.error(e)),
            }
        })
    }

    fn state(&self) -> BoxFuture<'_, Result<FenceState, FenceError>> {
        Box::pin(async move {
            match self.world.get(&self.region, self.tier).await {
                Ok(true) => Ok(FenceState::Fenced),
                Ok(false) => Ok(FenceState::Open {
                    writers: self
                        .names
                        .iter()
                        .map(|n| format!("{n} can write ({})", self.tier))
                        .collect(),
                }),
                Err(e) => Err(self.error(e)),
            }
        })
    }
}

/// The simulated writer fences of `policy`'s fencing methods, in its
/// primary region.
pub fn writer_fences(world: SimWorld, policy: &crate::policy::Policy) -> Vec<Box<dyn WriterFence>> {
    let Some(f) = &policy.fencing else {
        return Vec::new();
    };
    let mut out: Vec<Box<dyn WriterFence>> = Vec::new();
    let region = policy.regions.primary.clone();
    if let Some(d) = &f.database {
        out.push(Box::new(SimWriterFence {
            world: world.clone(),
            region: region.clone(),
            tier: "database",
            names: d.roles.clone(),
        }));
    }
    if let Some(c) = &f.cache {
        out.push(Box::new(SimWriterFence {
            world,
            region,
            tier: "cache",
            names: c.users.clone(),
        }));
    }
    out
}

impl crate::cloud::Writers for SimCloud {
    fn writer_fences(
        &self,
        policy: &crate::policy::Policy,
        restore: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn WriterFence>>, String> {
        if let Some(w) = &self.writers {
            return w.0.writer_fences(policy, restore);
        }
        if self.real_fences {
            return crate::fence::from_policy(policy, None, restore);
        }
        Ok(writer_fences(SimWorld::Local(self.clone()), policy))
    }
}

impl crate::cloud::Writers for RemoteSim {
    fn writer_fences(
        &self,
        policy: &crate::policy::Policy,
        _restore: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn WriterFence>>, String> {
        Ok(writer_fences(SimWorld::Remote(self.clone()), policy))
    }
}
