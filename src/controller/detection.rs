//! Detection on a node: its probe rounds, every site's rounds it has heard
//! of, and the verdict they give.
//!
//! Every node (the witness too) probes the primary each interval and sends
//! the round to every other member (`POST /raft/observe`, signed by this
//! node's key: a receiver accepts only rounds of the sender's own site),
//! so each node holds every site's rounds and any of them can show the
//! verdict; a new leader judges from the same history at once. Only the
//! leader acts on the verdict (see `runner.rs`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::Context;
use crate::clock::now_ms;
use crate::cloud::Cloud;
use crate::consensus::auth::Signer;
use crate::consensus::transport::Call;
use crate::detect::{self, Observation, Situation, Verdict, ROUNDS_KEPT};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::Policy;
use crate::probe::{Prober, Reach};

/// Every site's rounds per policy, and what the leader keeps between ticks.
#[derive(Debug, Default)]
pub struct Detection {
    /// policy → site → rounds, oldest first.
    pub rounds: BTreeMap<String, BTreeMap<String, VecDeque<Observation>>>,
    /// policy → site → the newest round's start (by the site's clock) and
    /// when this node received it (by its own), for the clocks check.
    pub received: BTreeMap<String, BTreeMap<String, (u64, u64)>>,
    /// policy → since when a failover has been recommended (Unix ms).
    pub recommended_since: BTreeMap<String, u64>,
    /// policy → why the old primary is writable after a failover.
    pub old_primary_writable: BTreeMap<String, String>,
    /// policy → this node fenced its region's writers, when and why.
    pub self_fenced: BTreeMap<String, super::self_fence::SelfFenced>,
    /// Lifts a self-fence on this node (set where it can fence).
    pub unfencer: Option<super::self_fence::Unfencer>,
}

impl Detection {
    /// Adds a round, in order of start time; a round already held (same
    /// node and round number) is ignored.
    pub fn record(&mut self, o: Observation) {
        let rounds = self
            .rounds
            .entry(o.policy.clone())
            .or_default()
            .entry(o.site.clone())
            .or_default();
        if rounds
            .iter()
            .any(|r| r.node == o.node && r.round == o.round && r.at_ms == o.at_ms)
        {
            return;
        }
        let at = rounds.partition_point(|r| r.at_ms <= o.at_ms);
        rounds.insert(at, o);
        while rounds.len() > ROUNDS_KEPT {
            rounds.pop_front();
        }
    }
}

impl Context {
    /// Records a round (this node's or a peer's) and updates the metrics.
    pub fn record_observation(&self, o: Observation) {
        let o = o.redacted();
        self.metrics.observation(&o);
        let received = now_ms();
        let mut d = self.detection.write().expect("detection lock");
        let newest = d
            .received
            .entry(o.policy.clone())
            .or_default()
            .entry(o.site.clone())
            .or_insert((o.at_ms, received));
        if o.at_ms >= newest.0 {
            *newest = (o.at_ms, received);
        }
        d.record(o);
    }

    /// What this node knows of the controller in `policy`'s primary
    /// region: when its newest round was heard, or that it is in contact
    /// (heard within two probe intervals).
    pub fn primary_controller(&self, policy: &Policy) -> crate::execute::PrimaryController {
        use crate::execute::PrimaryController as P;
        let d = self.detection.read().expect("detection lock");
        let last = d
            .rounds
            .get(&policy.name)
            .and_then(|sites| sites.get(&policy.regions.primary))
            .and_then(|rounds| rounds.iter().map(|r| r.at_ms).max());
        match last {
            None => P::Unknown,
            Some(ms)
                if now_ms().saturating_sub(ms)
                    < 2 * policy.detection.probe_interval.as_millis() as u64 =>
            {
                P::InContact
            }
            Some(ms) => P::LastHeard(ms),
        }
    }

    /// The sites of the cluster, one per member's site.
    pub fn sites(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.members.values().map(|m| m.site.clone()).collect();
        set.into_iter().collect()
    }

    /// The detector's verdict for `policy` now, from every round this node
    /// holds and the replicated state.
    pub fn verdict(&self, policy: &Policy) -> Verdict {
        let sites = self.sites();
        let now = now_ms();
        let (maintenance, failed_over_to, running, unacknowledged) = {
            let a = self.applied.read().expect("state lock");
            let st = &a.state;
            let m = &st.maintenance;
            let maintenance = m.on.then(|| {
                let by = m.by.clone().unwrap_or_else(|| "unknown".into());
                match &m.reason {
                    Some(r) => format!("set by {by}: {r}"),
                    None => format!("set by {by}"),
                }
            });
            let p = st.policies.get(&policy.name);
            let failed_over_to = super::roles::failed_over_to(p, policy);
            let running = p.and_then(|p| p.running.clone());
            let unack = st.unacknowledged(&policy.name).and_then(|e| {
                let ended = crate::execute::started_ms(&e.record) + e.record.last_ms();
                match policy.detection.hold_down {
                    // The policy's hold-down has run out: no acknowledgement needed.
                    Some(d) if now >= ended + d.as_millis() as u64 => None,
                    Some(d) => Some((
                        e.record.id.clone(),
                        format!(
                            "ended {} (held down until acknowledged, or {} after it ended)",
                            e.record.status.label(),
                            crate::duration::fmt(d)
                        ),
                    )),
                    None => Some((
                        e.record.id.clone(),
                        format!("ended {}", e.record.status.label()),
                    )),
                }
            });
            (maintenance, failed_over_to, running, unack)
        };
        let d = self.detection.read().expect("detection lock");
        let situation = Situation {
            now_ms: now,
            sites: &sites,
            observations: d.rounds.get(&policy.name),
            maintenance,
            failed_over_to,
            running,
            unacknowledged,
            recommended_since_ms: d.recommended_since.get(&policy.name).copied(),
        };
        let mut v = detect::evaluate(policy, &situation);
        if let (detect::Action::FailedOver, Some(region)) = (v.action, &situation.failed_over_to) {
            let protection = self.policy_state(&policy.name).protection;
            v.reason = format!(
                "the platform runs in {region}, {protection}: there is no replica to fail over to, so nothing starts; drctl reprotect protects it again"
            );
        }
        if let Some(why) = d.old_primary_writable.get(&policy.name) {
            v.reason = format!("{}; ALARM old primary writable: {why}", v.reason);
        }
        v
    }

    /// When the fault behind `verdict` was first seen and confirmed, to
    /// record with the execution it starts.
    pub fn phases(&self, policy: &Policy, verdict: &Verdict) -> crate::history::Phases {
        let d = self.detection.read().expect("detection lock");
        let rounds = d.rounds.get(&policy.name);
        crate::history::Phases {
            fault_at_ms: rounds.and_then(|r| crate::history::fault_first_seen(r.values())),
            confirmed_at_ms: verdict.confirmed_at_ms,
        }
    }

    /// Each data tier's exposure for `policy` from the sites' fresh rounds.
    pub fn exposures(&self, policy: &Policy) -> BTreeMap<DataTier, (Exposure, String)> {
        let d = self.detection.read().expect("detection lock");
        match d.rounds.get(&policy.name) {
            Some(r) => detect::exposures(policy, r, now_ms()),
            None => BTreeMap::new(),
        }
    }
}

/// Starts this node's probe loop for every policy.
///
/// # Errors
///
/// A policy's heartbeat settings that do not parse or whose password
/// cannot be read.
pub(super) fn spawn_probes<R: Reach + Cloud + 'static>(
    ctx: &Context,
    reach: Arc<R>,
    signer: Signer,
    rpc_timeout: Duration,
) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    for policy in ctx.policies.values() {
        let prober = Prober::new(&ctx.me().site, ctx.id, policy.clone(), reach.clone())
            .map_err(|e| format!("policy {}: {e}", policy.source.display()))?;
        let ctx = ctx.clone();
        let signer = signer.clone();
        let interval = policy.detection.probe_interval;
        tasks.push(crate::clock::spawn(probe_loop(
            ctx,
            (prober, reach.clone()),
            interval,
            signer,
            rpc_timeout,
        )));
    }
    Ok(tasks)
}

/// The prober of policy `name` once its roles switched: it probes the
/// policy as it reads now (the active region's endpoints, heartbeats
/// written on its primary and read on its replica). Keeps `old` when the
/// new one cannot be built, saying why.
fn follow_roles<R: Reach + Cloud + 'static>(
    ctx: &Context,
    name: &str,
    old: Prober<R>,
    reach: &Arc<R>,
) -> Prober<R> {
    let Some(policy) = ctx.policy(name) else {
        return old;
    };
    let primary = policy.regions.primary.clone();
    match Prober::new(&ctx.me().site, ctx.id, policy, reach.clone()) {
        Ok(p) => {
            info!(policy = %name, %primary, "roles switched: probing the primary in {primary}");
            p
        }
        Err(e) => {
            warn!(policy = %name, error = %e, "roles switched but the probes cannot follow: probing as before");
            old
        }
    }
}

async fn probe_loop<R: Reach + Cloud + 'static>(
    ctx: Context,
    (mut prober, cloud): (Prober<R>, Arc<R>),
    interval: Duration,
    signer: Signer,
    rpc_timeout: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut was_failing = false;
    let name = prober.policy_name();
    let mut roles = ctx.roles(&name);
    loop {
        tick.tick().await;
        let now = ctx.roles(&name);
        if now != roles {
            prober = follow_roles(&ctx, &name, prober, &cloud);
            roles = now;
        }
        let policy = ctx.policy(&name);
        if let Some(policy) = policy.as_ref().filter(|p| ctx.failed_over(p)) {
            if prober.stop_heartbeats() {
                warn!(policy = %policy.name, "failed over: no more heartbeats are written into the old primary");
            }
            let why = super::old_primary::writable(&*cloud, policy).await;
            ctx.set_old_primary_writable(&policy.name, why);
        }
        let o = prober.round().await;
        let failing = o.failed();
        if failing != was_failing {
            if failing {
                warn!(policy = %o.policy, site = %o.site, round = o.round, failures = ?o.failures(), "probes of the primary failing");
            } else {
                info!(policy = %o.policy, site = %o.site, round = o.round, "probes of the primary pass again");
            }
            was_failing = failing;
        }
        for (&id, m) in &ctx.members {
            if id == ctx.id || !ctx.links.up(ctx.id, id) {
                continue;
            }
            let body = serde_json::to_vec(&o).expect("a round always encodes");
            let call = signer.sign(Call::post(&m.addr, "/raft/observe", body, rpc_timeout));
            let sent = ctx.transport.send(ctx.id, call);
            crate::clock::spawn(async move {
                let _ = sent.await;
            });
        }
        ctx.record_observation(o);
    }
}
