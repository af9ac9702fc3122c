//! Self-fencing: the controller node in a policy's primary region (as the
//! replicated roles read it: after a reprotect, the region failed over to)
//! fences the writers it reaches locally once it has been cut off from the
//! majority for `fencing.self_fence_after`, as Patroni's watchdog demotes
//! a primary that cannot renew its lock.
//!
//! A region cut off from the other two sites cannot tell that from "the
//! others are gone"; but the majority may confirm its outage and promote
//! the replica, and this node must have stopped the old writers by then
//! (validation keeps the lease shorter than the earliest confirmation, and
//! the RPO gate waits for it). The fence is recorded in the node's data
//! directory and shown in its status and metrics. It is never lifted on
//! its own when the majority comes back: `drctl unfence --confirm`, or the
//! reprotect that makes this region a replica again, does that.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::Context;
use crate::cloud::{Cloud, Scaling};
use crate::execute::now_rfc3339;
use crate::model::Epoch;
use crate::model::Fence;
use crate::model::Orientation;
use crate::policy::Policy;

/// How often the node checks that it reaches the majority.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long a node that has not reached a majority since it started waits
/// before its lease runs: peers started at the same time may take that long
/// to answer, and a cold start must not fence a healthy region. A node
/// restarted inside a cut-off region still fences, this much later.
const STARTUP_GRACE: Duration = Duration::from_secs(60);

/// This node fenced its region's writers: when, why and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfFenced {
    /// When (RFC 3339).
    pub at: String,
    /// Why, as a sentence.
    pub because: String,
    /// What was fenced, a line per writer.
    pub outcome: Vec<String>,
    /// Node groups scaled to zero, with their sizes before (to unfence).
    #[serde(default)]
    pub scaled: Vec<(String, String, Scaling)>,
    /// What the writers' methods need to unfence (ElastiCache access
    /// strings before the fence; never a secret).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub restore: std::collections::BTreeMap<String, String>,
    /// How the policy was read when this node fenced (the writers fenced
    /// are that reading's primary's): the unfence gives back the same ones
    /// even after a reprotect switched the roles.
    #[serde(default)]
    pub orientation: Orientation,
}

/// Where a node keeps its fences across restarts.
fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("self-fenced.json")
}

/// The fences recorded in `data_dir` (none when the file is absent).
pub fn load(data_dir: &Path) -> std::collections::BTreeMap<String, SelfFenced> {
    std::fs::read(file(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save(ctx: &Context, data_dir: &Path) {
    let all = ctx
        .detection
        .read()
        .expect("detection lock")
        .self_fenced
        .clone();
    let text = serde_json::to_vec_pretty(&all).expect("fences serialize");
    if let Err(e) = std::fs::write(file(data_dir), text) {
        error!(error = %e, dir = %data_dir.display(), "cannot record the self-fence; it holds until this node restarts");
    }
}

/// The policies this node would fence for now: they have a fencing
/// section and, as the replicated roles read them (after a reprotect, the
/// other way round), their primary region is this node's.
pub fn fenced_here(ctx: &Context) -> Vec<Arc<Policy>> {
    let me = ctx.me();
    if me.witness {
        return Vec::new();
    }
    ctx.working_policies()
        .into_iter()
        .filter(|p| p.fencing.is_some() && p.regions.primary == me.site)
        .collect()
}

/// Whether this node may ever have to fence: an executing site, and some
/// policy fences (which region is primary depends on the roles of the
/// moment, so both executing sites watch their lease).
fn may_fence(ctx: &Context) -> bool {
    !ctx.me().witness && ctx.policies.values().any(|p| p.fencing.is_some())
}

/// `name` read as it was when this node fenced its writers, with the
/// names the roles record now; as the roles read it now when not fenced.
fn policy_fenced(ctx: &Context, name: &str) -> Option<Arc<Policy>> {
    let written = ctx.policies.get(name)?;
    let fenced = ctx
        .detection
        .read()
        .expect("detection lock")
        .self_fenced
        .get(name)
        .map(|f| f.orientation);
    let (now, names) = ctx.roles(name);
    match fenced {
        Some(o) if o != now => Some(Arc::new(super::roles::orient(written, o, &names))),
        _ => ctx.policy(name),
    }
}

/// What lifts one policy's fence: its name in, what was done out.
type UnfenceFn = dyn Fn(String) -> futures::future::BoxFuture<'static, Result<Vec<String>, String>>
    + Send
    + Sync;

/// Lifts a policy's self-fence on the node that holds it (the API's
/// `POST /v1/unfence` calls it).
#[derive(Clone)]
pub struct Unfencer(Arc<UnfenceFn>);

impl Unfencer {
    /// Lifts `policy`'s fence.
    ///
    /// # Errors
    ///
    /// The node has not fenced it, or a writer could not be given back.
    pub async fn unfence(&self, policy: String) -> Result<Vec<String>, String> {
        (self.0)(policy).await
    }
}

impl std::fmt::Debug for Unfencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unfencer")
    }
}

/// Starts the lease watch, when this node fences for some policy.
pub(super) fn spawn<C: Cloud + 'static>(
    ctx: &Context,
    cloud: Arc<C>,
    data_dir: PathBuf,
) -> Option<JoinHandle<()>> {
    if !may_fence(ctx) {
        return None;
    }
    let unfencer = {
        let (ctx, cloud, dir) = (ctx.clone(), cloud.clone(), data_dir.clone());
        Unfencer(Arc::new(move |name: String| {
            let (ctx, cloud, dir) = (ctx.clone(), cloud.clone(), dir.clone());
            Box::pin(async move {
                let policy = policy_fenced(&ctx, &name)
                    .ok_or_else(|| format!("no policy named {name} on this node"))?;
                unfence(&ctx, &*cloud, &dir, &policy).await
            })
        }))
    };
    {
        let mut d = ctx.detection.write().expect("detection lock");
        d.self_fenced = load(&data_dir);
        d.unfencer = Some(unfencer);
    }
    Some(crate::clock::spawn(watch(ctx.clone(), cloud, data_dir)))
}

async fn watch<C: Cloud>(ctx: Context, cloud: Arc<C>, data_dir: PathBuf) {
    let mut lease = Lease::new(Instant::now());
    let majority = ctx.members.len() / 2 + 1;
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        // A cluster that elected a leader is past its cold start, even if
        // none of this watcher's own checks was answered yet: a node cut
        // off seconds after the cluster formed must still fence itself
        // after `self_fence_after`, not after the startup grace.
        lease.formed(Instant::now(), ctx.leader().is_some());
        let mut answering = Vec::new();
        let mut silent = Vec::new();
        for (&id, m) in &ctx.members {
            if id == ctx.id {
                continue;
            }
            if ctx.peer_answers(id, CHECK_EVERY * 2).await {
                answering.push(id);
            } else {
                silent.push(format!("node {id} ({})", m.site));
            }
        }
        if answering.len() + 1 >= majority {
            lease.saw_majority(Instant::now());
            continue;
        }
        let cut_for = lease.cut_for(Instant::now());
        // Read each time: a reprotect may have made this region primary
        // (or standby) since the last check.
        for policy in &fenced_here(&ctx) {
            let f = policy.fencing.as_ref().expect("filtered");
            if cut_for < f.self_fence_after || is_fenced(&ctx, &policy.name) {
                continue;
            }
            let because = format!(
                "cut off from the majority for {} ({} did not answer); fencing.self_fence_after is {}",
                crate::duration::fmt(cut_for),
                silent.join(", "),
                crate::duration::fmt(f.self_fence_after)
            );
            warn!(policy = %policy.name, %because, "fencing this region's writers");
            let mut fenced = fence(&*cloud, policy, because).await;
            fenced.orientation = ctx.roles(&policy.name).0;
            warn!(policy = %policy.name, outcome = %fenced.outcome.join("; "), "self-fenced");
            ctx.detection
                .write()
                .expect("detection lock")
                .self_fenced
                .insert(policy.name.clone(), fenced);
            save(&ctx, &data_dir);
        }
    }
}

/// How long this node has been cut off from the majority.
struct Lease {
    /// When a majority last answered (until one first does, the end of the
    /// startup grace).
    last_contact: Instant,
}

impl Lease {
    fn new(started: Instant) -> Self {
        Self {
            last_contact: started + STARTUP_GRACE,
        }
    }

    /// Ends the startup grace at `now` once the cluster has a leader
    /// (`leader_known`): a majority has answered someone since the start.
    fn formed(&mut self, now: Instant, leader_known: bool) {
        if leader_known && self.last_contact > now {
            self.last_contact = now;
        }
    }

    fn saw_majority(&mut self, now: Instant) {
        self.last_contact = now;
    }

    fn cut_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_contact)
    }
}

/// Whether this node has fenced `policy`'s writers.
pub fn is_fenced(ctx: &Context, policy: &str) -> bool {
    ctx.detection
        .read()
        .expect("detection lock")
        .self_fenced
        .contains_key(policy)
}

/// Fences every writer of `policy` this node reaches in its region: the
/// database's and cache's application writers by their methods, the named
/// node groups scaled to zero. Each method is tried even when another
/// fails; failures are in the outcome.
pub async fn fence<C: Cloud>(cloud: &C, policy: &Policy, because: String) -> SelfFenced {
    let f = policy.fencing.as_ref().expect("a fencing policy");
    let region = &policy.regions.primary;
    let token = Fence {
        execution_id: format!("self-fence-{}", policy.name),
        epoch: Epoch::default(),
    };
    let timeout = policy.execution.call_timeout;
    let mut outcome = Vec::new();
    let mut scaled = Vec::new();
    let mut restore = std::collections::BTreeMap::new();
    match cloud.writer_fences(policy, &restore) {
        Ok(writers) => {
            for w in writers {
                match w.fence().await {
                    Ok(o) => {
                        outcome.push(o.summary);
                        for (k, v) in o.restore {
                            restore.entry(k).or_insert(v);
                        }
                    }
                    Err(e) => outcome.push(format!("{}: NOT FENCED: {e}", w.describe())),
                }
            }
        }
        Err(e) => outcome.push(format!("writers: NOT FENCED: {e}")),
    }
    if let Some(ng) = &f.node_groups {
        for g in &ng.groups {
            let read = cloud.get_node_group(region, &ng.cluster, g);
            let before = match tokio::time::timeout(timeout, read).await {
                Ok(Ok(Some(s))) => s.scaling,
                Ok(Ok(None)) => {
                    outcome.push(format!("node group {}/{g}: not found", ng.cluster));
                    continue;
                }
                Ok(Err(e)) => {
                    outcome.push(format!("node group {}/{g}: NOT FENCED: {e}", ng.cluster));
                    continue;
                }
                Err(_) => {
                    outcome.push(format!(
                        "node group {}/{g}: NOT FENCED: no answer within {}",
                        ng.cluster,
                        crate::duration::fmt(timeout)
                    ));
                    continue;
                }
            };
            let zero = Scaling {
                min: 0,
                desired: 0,
                max: before.max.max(1),
            };
            let call = cloud.ensure_scaling(region, &ng.cluster, g, zero, &token);
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(())) => {
                    outcome.push(format!(
                        "node group {}/{g} scaled from {} to 0",
                        ng.cluster, before.desired
                    ));
                    scaled.push((ng.cluster.clone(), g.clone(), before));
                }
                Ok(Err(e)) => {
                    outcome.push(format!("node group {}/{g}: NOT FENCED: {e}", ng.cluster))
                }
                Err(_) => outcome.push(format!(
                    "node group {}/{g}: NOT FENCED: no answer within {}",
                    ng.cluster,
                    crate::duration::fmt(timeout)
                )),
            }
        }
    }
    info!(policy = %policy.name, "fence applied");
    SelfFenced {
        // When the methods have acted: nothing the fence stops is
        // acknowledged after this.
        at: now_rfc3339(),
        because,
        outcome,
        scaled,
        restore,
        orientation: Orientation::default(),
    }
}

/// Lifts `policy`'s self-fence on this node: writers given back, node
/// groups back to their sizes before; the record is removed. Returns what was done.
pub async fn unfence<C: Cloud>(
    ctx: &Context,
    cloud: &C,
    data_dir: &Path,
    policy: &Policy,
) -> Result<Vec<String>, String> {
    let Some(fenced) = ctx
        .detection
        .read()
        .expect("detection lock")
        .self_fenced
        .get(&policy.name)
        .cloned()
    else {
        return Err(format!(
            "this node has not fenced policy {}'s writers",
            policy.name
        ));
    };
    let region = &policy.regions.primary;
    let token = Fence {
        execution_id: format!("unfence-{}", policy.name),
        epoch: Epoch::default(),
    };
    let mut done = Vec::new();
    for w in cloud.writer_fences(policy, &fenced.restore)? {
        let o = w.unfence().await.map_err(|e| e.to_string())?;
        done.push(o.summary);
    }
    for (cluster, g, before) in &fenced.scaled {
        cloud
            .ensure_scaling(region, cluster, g, *before, &token)
            .await
            .map_err(|e| format!("node group {cluster}/{g}: {e}"))?;
        done.push(format!(
            "node group {cluster}/{g} back to {}",
            before.desired
        ));
    }
    ctx.detection
        .write()
        .expect("detection lock")
        .self_fenced
        .remove(&policy.name);
    save(ctx, data_dir);
    warn!(policy = %policy.name, done = %done.join("; "), "self-fence lifted");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_runs_from_the_last_majority_and_a_cold_start_gets_a_grace() {
        let t0 = Instant::now();
        let mut lease = Lease::new(t0);
        // Peers starting alongside: no lease time yet.
        assert_eq!(lease.cut_for(t0 + Duration::from_secs(10)), Duration::ZERO);
        // Never reached a majority: the lease runs after the grace.
        assert_eq!(
            lease.cut_for(t0 + STARTUP_GRACE + Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        lease.saw_majority(t0 + Duration::from_secs(1));
        assert_eq!(
            lease.cut_for(t0 + Duration::from_secs(3)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_leader_known_ends_the_grace_even_before_a_check_was_answered() {
        let t0 = Instant::now();
        let mut lease = Lease::new(t0);
        lease.formed(t0 + Duration::from_secs(1), false);
        assert_eq!(lease.cut_for(t0 + Duration::from_secs(5)), Duration::ZERO);
        // The cluster elected a leader at 2 s; cut off right after, the
        // lease runs from then, not from the end of the grace.
        lease.formed(t0 + Duration::from_secs(2), true);
        assert_eq!(
            lease.cut_for(t0 + Duration::from_secs(5)),
            Duration::from_secs(3)
        );
        // Once ended, a leader still known does not renew the lease.
        lease.formed(t0 + Duration::from_secs(4), true);
        assert_eq!(
            lease.cut_for(t0 + Duration::from_secs(5)),
            Duration::from_secs(3)
        );
    }
}
