//! `drctl drill`: a full failover on the simulated cloud.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{execute_and_report, modeled_runtime, DrillArgs, Exit};
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{MemoryJournal, RunOptions};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::Policy;

pub(super) fn run(args: DrillArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => Arc::new(p),
        Err(e) => return e,
    };
    let lag = match lag_by_tier(&args.lag, &policy) {
        Ok(lag) => lag,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    let options = SimOptions {
        seed: args.seed,
        lag,
        ..SimOptions::default()
    };
    let sim = match SimCloud::new(&policy, options) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let regions = [
        policy.regions.primary.as_str(),
        policy.regions.secondary.as_str(),
        policy.regions.witness.as_str(),
    ];
    let endpoint_regions: Vec<&str> = policy
        .routing_control
        .iter()
        .flat_map(|r| r.endpoints.iter().map(|e| e.region.as_str()))
        .collect();
    for r in &args.outage {
        if !regions.contains(&r.as_str()) && !endpoint_regions.contains(&r.as_str()) {
            eprintln!(
                "error: --outage {r}: not a region of policy {} (expected one of {}{})",
                policy.name,
                regions.join(", "),
                if endpoint_regions.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", or a routing-control endpoint's region: {}",
                        endpoint_regions.join(", ")
                    )
                }
            );
            return Exit::Usage;
        }
    }
    if args.cycle {
        eprintln!(
            "drill: the way home for policy {} on the simulated cloud (seed {}); durations are modeled",
            policy.name, args.seed
        );
        return super::drill_cycle::run(sim, policy, args.seed, args.output);
    }
    sim.set_region_outage(args.outage.iter().cloned());
    let mut target = format!("the simulated cloud (seed {})", args.seed);
    if !args.outage.is_empty() {
        target.push_str(&format!(" with {} down", args.outage.join(" and ")));
    }
    eprintln!(
        "drill: policy {} ({} → {}) on {target}; durations are modeled",
        policy.name, policy.regions.primary, policy.regions.secondary
    );
    let options = RunOptions {
        execution_id: Some(format!("drill-{}-seed{}", policy.name, args.seed)),
        accept: crate::plan::Acceptance {
            data_loss: args.accept_data_loss,
            unknown: args.accept_unknown_loss.iter().copied().collect(),
        },
        operator: "drill".into(),
        reason: None,
        sequential: args.sequential,
        ..RunOptions::default()
    };
    let mut journal = MemoryJournal::default();
    let history = crate::history::HistoryStore::new(&args.history_dir);
    let counted = sim.clone();
    let run = execute_and_report(
        sim,
        policy,
        &mut journal,
        options,
        (&target, &history),
        args.output,
        move || counted.call_counts(),
    );
    modeled_runtime().block_on(run)
}

/// The `--lag` values by tier: each tier at most once, and only tiers the
/// policy has (a lag on a missing tier would be silently ignored).
fn lag_by_tier(
    given: &[(DataTier, Exposure)],
    policy: &Policy,
) -> Result<BTreeMap<DataTier, Exposure>, String> {
    let mut lag = BTreeMap::new();
    for (tier, exposure) in given {
        let has = match tier {
            DataTier::Database => policy.tiers.database.is_some(),
            DataTier::Cache => policy.tiers.cache.is_some(),
            DataTier::Stream => policy.tiers.stream.is_some(),
        };
        if !has {
            return Err(format!(
                "--lag {}: policy {} has no {} tier",
                tier.name(),
                policy.name,
                tier.name()
            ));
        }
        if lag.insert(*tier, *exposure).is_some() {
            return Err(format!("--lag {}: given more than once", tier.name()));
        }
    }
    Ok(lag)
}
