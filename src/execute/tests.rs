//! The executor against the simulated cloud, where a policy setting decides.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};

fn shipped() -> Policy {
    crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_short_call_timeout_still_leaves_time_to_try_every_routing_endpoint() {
    // Two of five endpoints do not answer, and each is tried for 3 s: with a
    // 2 s call timeout bounding the whole switch, it could never reach the
    // third.
    let mut policy = shipped();
    policy.execution.call_timeout = Duration::from_secs(2);
    policy.execution.connect_timeout = Duration::from_secs(1);
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_routing_endpoints_down(["us-west-2".to_string(), "eu-west-1".to_string()]);
    let sim = Arc::new(sim);
    let record = execute(
        sim.clone(),
        Arc::new(policy),
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        record.status,
        ExecutionStatus::Completed,
        "{:#?}",
        record.steps
    );
    let m = sim.mutations();
    assert_eq!(
        m.get("route53-recovery-cluster:UpdateRoutingControlStates"),
        Some(&2),
        "{m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_gate_records_the_fork_against_real_servers_only_and_never_waits_on_it() {
    let mut policy = shipped();
    let hb = policy.detection.heartbeats.database.as_mut().unwrap();
    hb.password = crate::policy::SecretSource::File("/nonexistent/drctl-hb".into());
    policy.detection.heartbeats.cache = None;
    let policy = Arc::new(policy);
    let run = |time_basis| {
        let policy = policy.clone();
        async move {
            let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
            let options = RunOptions {
                time_basis,
                ..RunOptions::default()
            };
            execute(sim, policy, &mut MemoryJournal::default(), options)
                .await
                .unwrap()
        }
    };

    let drill = run(TimeBasis::Modeled).await;
    assert_eq!(drill.status, ExecutionStatus::Completed);
    assert_eq!(drill.fork, None, "a drill has no servers to read");

    let live = run(TimeBasis::Wall).await;
    assert_eq!(live.status, ExecutionStatus::Completed, "{:#?}", live.steps);
    let fork = live.fork.clone().expect("the gate recorded the fork");
    assert_eq!((&fork.database, &fork.cache), (&None, &None));
    assert_eq!(fork.errors.len(), 1, "{:?}", fork.errors);
    assert!(
        fork.errors[0].starts_with(
            "database: detection.heartbeats.database.password: cannot read /nonexistent/drctl-hb"
        ),
        "{:?}",
        fork.errors
    );
    let fence = live.fence_old_primary.as_ref().expect("fenced on return");
    assert_eq!(fence.fork, Some(fork), "the fence measures from the fork");

    // The execution report carries the fork and the divergence lines.
    let report = crate::report::Report::new(&live, &policy, "aws");
    let text = report.render_text();
    assert!(
        text.contains("divergence:    database: position not read at the fork (detection.heartbeats.database.password: cannot read /nonexistent/drctl-hb"),
        "{text}"
    );
    assert!(
        text.contains("divergence:    cache: no heartbeat target for cache: nothing to measure"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["divergence"]["fork"]["errors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let drill = crate::report::Report::new(&drill, &policy, "sim");
    assert!(!drill.render_text().contains("divergence:"));
    assert!(serde_json::to_value(&drill)
        .unwrap()
        .get("divergence")
        .is_none());
}

#[tokio::test(start_paused = true)]
async fn a_refused_run_says_refused_and_not_run_once() {
    let policy = shipped();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_lag(
        crate::model::DataTier::Database,
        crate::model::Exposure::Known(Duration::from_secs(40 * 60)),
    );
    let record = execute(
        Arc::new(sim),
        Arc::new(policy),
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(record.status, ExecutionStatus::Refused);
    let summary = record.summary.clone().unwrap();
    assert!(
        summary.starts_with("nothing changed: the database tier's data-loss exposure is 40m"),
        "{summary}"
    );
    let verify = record.step("verify").unwrap();
    assert_eq!(verify.status, StepStatus::NotRun);
    assert_eq!(verify.outcome.as_deref(), Some("rpo-gate failed"));
}

#[tokio::test(start_paused = true)]
async fn a_journaled_step_this_sites_policy_lacks_fails_the_execution_without_panicking() {
    // The leader that planned it had a stream tier; this node's policy file
    // has none.
    let planned = shipped();
    let mut here = planned.clone();
    here.tiers.stream = None;
    let sim = Arc::new(SimCloud::new(&planned, SimOptions::default()).unwrap());
    let observed = observe(sim.as_ref(), sim.as_ref(), &planned, &no_notes).await;
    let plan = plan::build(&planned, &observed, plan::Acceptance::default());
    assert!(plan.step("switch-stream").is_some());
    let mut journal = MemoryJournal::default();
    journal
        .save(&new_record(&plan, &RunOptions::default()))
        .await
        .unwrap();

    let record = execute(sim, Arc::new(here), &mut journal, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        record.status,
        ExecutionStatus::Failed,
        "{:#?}",
        record.steps
    );
    let step = record.step("switch-stream").unwrap();
    assert_eq!(step.status, StepStatus::Failed);
    let why = step.outcome.as_deref().unwrap();
    assert!(why.contains("step switch-stream"), "{why}");
    assert!(why.contains("policies differ between sites"), "{why}");
    let summary = record.summary.as_deref().unwrap();
    assert!(
        summary.contains("policies differ between sites"),
        "{summary}"
    );
    // Independent branches still ran, and the journal no longer holds a
    // running execution: a new failover may start.
    assert!(record.step("promote-database").unwrap().status.succeeded());
    let last = journal.last(&record.policy).await.unwrap().unwrap();
    assert_eq!(last.status, ExecutionStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_cache_step_run_again_counts_its_failover_timeout_from_its_first_start() {
    // us-east-1 is down, so the Global Datastore cannot fail over: the step
    // disassociates after tiers.cache.failover_timeout (2m). A run stopped
    // while the step waits, then resumed once 2m have passed since the step
    // first started, falls back at once instead of waiting 2m again.
    let _clock =
        crate::clock::use_virtual(std::time::UNIX_EPOCH + Duration::from_secs(1_900_000_000));
    let policy = Arc::new(shipped());
    let timeout = policy.tiers.cache.as_ref().unwrap().failover_timeout;
    assert_eq!(timeout, Duration::from_secs(120));
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_region_outage(["us-east-1".to_string()]);
    let sim = Arc::new(sim);
    let mut journal = MemoryJournal::default();
    let first = execute(
        sim.clone(),
        policy.clone(),
        &mut journal,
        RunOptions::default(),
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(90), first)
            .await
            .is_err(),
        "the first run is still waiting for the cache"
    );
    let cache = |r: &ExecutionRecord| {
        r.steps
            .iter()
            .find(|s| s.kind == StepKind::FailoverCache)
            .cloned()
            .unwrap()
    };
    let stopped = journal.records.last().unwrap().clone();
    let step = cache(&stopped);
    assert_eq!(step.status, StepStatus::Running, "{step:#?}");
    let first_start = step.first_started_at_ms.expect("journaled");
    // The leader's run is interrupted; the next run starts 40 s later.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let resumed_at = crate::clock::now_ms();
    assert!(resumed_at - first_start >= timeout.as_millis() as u64);
    let record = execute(sim.clone(), policy, &mut journal, RunOptions::default())
        .await
        .unwrap();
    let step = cache(&record);
    assert!(step.status.succeeded(), "{step:#?}");
    assert_eq!(step.first_started_at_ms, Some(first_start));
    let decision = record
        .decisions
        .iter()
        .find(|d| d.step == step.id)
        .expect("the fallback is journaled");
    assert!(decision.what.contains("disassociated"), "{decision:?}");
    let at = started_ms_of(&decision.at);
    assert!(
        at < resumed_at + 60_000,
        "the fallback came {} ms after the run resumed: its timeout started afresh",
        at - resumed_at
    );
}

/// Unix milliseconds of an RFC 3339 time.
fn started_ms_of(rfc3339: &str) -> u64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as u64
}

/// A journal that notes, at each step's intent, how many overrides the
/// record it last saved held.
#[derive(Default)]
struct NotingJournal {
    inner: MemoryJournal,
    saved_overrides: usize,
    at_intent: Vec<(String, usize)>,
}

impl Journal for NotingJournal {
    async fn last(&self, policy: &str) -> Result<Option<ExecutionRecord>, JournalError> {
        self.inner.last(policy).await
    }

    async fn save(&mut self, record: &ExecutionRecord) -> Result<(), JournalError> {
        self.saved_overrides = record.overrides.len();
        self.inner.save(record).await
    }

    async fn writer_restore(&self, policy: &str) -> Result<WriterRestore, JournalError> {
        self.inner.writer_restore(policy).await
    }

    async fn begin_step(
        &mut self,
        _record: &ExecutionRecord,
        step: &str,
    ) -> Result<Epoch, JournalError> {
        self.at_intent
            .push((step.to_string(), self.saved_overrides));
        Ok(Epoch::default())
    }
}

#[tokio::test(start_paused = true)]
async fn an_accepted_loss_is_journaled_before_the_promotion_acts() {
    let policy = shipped();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    sim.set_lag(
        crate::model::DataTier::Database,
        crate::model::Exposure::Known(Duration::from_secs(40 * 60)),
    );
    let mut journal = NotingJournal::default();
    let options = RunOptions {
        accept: crate::plan::Acceptance::up_to(Some(Duration::from_secs(45 * 60))),
        ..RunOptions::default()
    };
    let record = execute(Arc::new(sim), Arc::new(policy), &mut journal, options)
        .await
        .unwrap();
    assert_eq!(
        record.status,
        ExecutionStatus::Completed,
        "{:?}",
        record.summary
    );
    assert_eq!(record.overrides.len(), 1);
    let promote = journal
        .at_intent
        .iter()
        .find(|(s, _)| s == "promote-database")
        .expect("the promotion's intent");
    assert_eq!(
        promote.1, 1,
        "the override was saved before the promotion acted"
    );
}
