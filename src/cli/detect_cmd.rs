//! `drctl acknowledge`, `drctl sim outage|lag`, and the detection part of
//! `drctl status`.

use std::fmt::Write;

use clap::Args;

use super::remote::{finish, ActionArgs};
use super::{live_runtime, parse_lag, Exit};
use crate::api::views::{AcknowledgeBody, PolicyView};
use crate::cloud::sim::remote::RemoteSim;
use crate::cloud::sim::Outage;
use crate::detect::{Action, Health};
use crate::model::DataTier;
use crate::model::Exposure;

/// `drctl acknowledge` arguments.
#[derive(Debug, Args)]
pub struct AcknowledgeArgs {
    /// The policy (needed only when the cluster owns several).
    #[arg(long = "policy-name")]
    pub policy: Option<String>,
    /// Who, why, where.
    #[command(flatten)]
    pub action: ActionArgs,
}

/// Acknowledges the policy's last execution.
pub(super) fn acknowledge(args: AcknowledgeArgs) -> Exit {
    let s = match args.action.session() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let body = AcknowledgeBody {
        policy: args.policy,
        reason: args.action.reason.clone(),
        operator: Some(args.action.operator.clone()),
    };
    let answer = s.rt.block_on(s.cluster.acknowledge(&s.token, &body));
    finish(answer, |b| {
        println!(
            "acknowledged execution {} of policy {}: automatic failover is no longer held down",
            b.acknowledged.as_deref().unwrap_or("?"),
            b.policy,
        );
    })
}

/// `drctl sim outage` arguments.
#[derive(Debug, Args)]
pub struct OutageArgs {
    /// The simulated cloud (`drctl sim serve`).
    #[arg(long, default_value = "http://127.0.0.1:7100")]
    pub url: String,
    /// Take the primary region down for every site (`down`) or bring it back (`up`).
    #[arg(long, value_parser = ["down", "up"])]
    pub primary: Option<String>,
    /// Cut this site off from the primary region (repeat for several).
    #[arg(long = "cut-off", value_name = "SITE")]
    pub cut_off: Vec<String>,
    /// Take a whole region down (repeat for several): its API endpoints and
    /// routing-control endpoint stop answering, a site there reaches
    /// nothing, and us-east-1 takes Route 53's control plane with it.
    #[arg(long = "region", value_name = "REGION")]
    pub region: Vec<String>,
    /// Cut a site off from the other sites (repeat for several): its
    /// controller loses the majority while its region stays alive and
    /// writable inside, the case self-fencing exists for.
    #[arg(long = "isolate", value_name = "SITE")]
    pub isolate: Vec<String>,
    /// End every outage: the primary up, no site cut off, no region down.
    #[arg(long, conflicts_with_all = ["primary", "cut_off", "region", "isolate"])]
    pub clear: bool,
}

/// `drctl sim lag` arguments.
#[derive(Debug, Args)]
pub struct LagArgs {
    /// The simulated cloud (`drctl sim serve`).
    #[arg(long, default_value = "http://127.0.0.1:7100")]
    pub url: String,
    /// A data tier and its lag, like database=20m or cache=unknown.
    #[arg(value_parser = parse_lag)]
    pub lag: (DataTier, Exposure),
}

/// Changes what the sites of a served simulated cloud can reach.
pub(super) fn outage(args: OutageArgs) -> Exit {
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        let sim = RemoteSim::new(&args.url);
        let mut o = match sim.outage().await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        if args.clear {
            o = Outage::default();
        }
        if let Some(p) = &args.primary {
            o.primary_down = p == "down";
        }
        o.cut_off.extend(args.cut_off.iter().cloned());
        o.regions.extend(args.region.iter().cloned());
        o.isolated.extend(args.isolate.iter().cloned());
        match sim.set_outage(&o).await {
            Ok(now) => {
                println!("{}", describe(&now));
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Unavailable
            }
        }
    })
}

fn describe(o: &Outage) -> String {
    let text = describe_reach(o);
    if o.isolated.is_empty() {
        return text;
    }
    let sites: Vec<&str> = o.isolated.iter().map(String::as_str).collect();
    format!("{text}; cut off from the other sites: {}", sites.join(", "))
}

fn describe_reach(o: &Outage) -> String {
    let primary = if o.primary_down { "DOWN" } else { "up" };
    if !o.regions.is_empty() {
        let regions: Vec<&str> = o.regions.iter().map(String::as_str).collect();
        return format!(
            "simulated primary region {primary}; regions down: {}",
            regions.join(", ")
        );
    }
    if o.cut_off.is_empty() {
        format!("simulated primary region {primary}; no site cut off")
    } else {
        let sites: Vec<&str> = o.cut_off.iter().map(String::as_str).collect();
        format!(
            "simulated primary region {primary}; cut off from it: {}",
            sites.join(", ")
        )
    }
}

/// Sets a data tier's lag in a served simulated cloud.
pub(super) fn lag(args: LagArgs) -> Exit {
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        let (tier, exposure) = args.lag;
        match RemoteSim::new(&args.url).set_lag(tier, exposure).await {
            Ok(()) => {
                println!("simulated {tier} replication lag now {exposure}");
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Unavailable
            }
        }
    })
}

/// The detection lines of one policy in `drctl status`.
pub fn render_detection(out: &mut String, p: &PolicyView) {
    let v = &p.verdict;
    let mark = match v.health {
        Health::Unknown | Health::Suspect | Health::Down => "!",
        Health::Healthy => " ",
    };
    let action = match v.action {
        Action::None => String::new(),
        a => format!(" [{}]", a.label()),
    };
    let _ = writeln!(out, " {mark}{}{action}", v.reason);
    for s in &p.probes {
        let failing: Vec<String> = s
            .results
            .iter()
            .filter(|r| !r.ok)
            .map(|r| {
                let why = r.detail.as_deref().unwrap_or("failed");
                if r.inconclusive {
                    format!("{} (inconclusive: {why})", r.target)
                } else {
                    format!("{} ({why})", r.target)
                }
            })
            .collect();
        let state = if failing.is_empty() {
            format!("{} probes pass", s.results.len())
        } else {
            format!(
                "{} in a row failing: {}",
                s.consecutive_failures,
                failing.join(", ")
            )
        };
        // A server of an older version may serve targets unredacted.
        let state = crate::redact::redact(&state);
        let _ = writeln!(
            out,
            "    {:<10} round {} at {}: {state}",
            s.site, s.round, s.at
        );
    }
    for e in &p.exposure {
        let figure = match e.exposure_ms {
            Some(ms) => crate::duration::fmt(std::time::Duration::from_millis(ms)),
            None => "unknown".into(),
        };
        let rpo = crate::duration::fmt(std::time::Duration::from_millis(e.rpo_ms));
        let verdict = if e.within_rpo { "within" } else { "NOT within" };
        let _ = writeln!(
            out,
            "  exposure {:<8} {figure} ({}), {verdict} RPO {rpo}",
            e.tier.name(),
            e.source
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_never_show_a_secret_even_from_an_older_server() {
        let view: PolicyView = serde_json::from_value(serde_json::json!({
            "name": "emr-platform",
            "primary_region": "us-east-1",
            "secondary_region": "us-west-2",
            "active_region": "us-east-1",
            "probes": [{
                "site": "us-west-2", "node": 2, "round": 7, "at": "2026-01-01T00:00:00Z",
                "consecutive_failures": 1,
                "results": [{
                    "target": "http https://probe:hunter2@lb.example.com/health",
                    "ok": false, "latency_ms": 3,
                    "detail": "connect postgresql://drctl:hunter2@db/app refused"
                }]
            }],
            "exposure": [],
            "verdict": {"health": "suspect", "action": "none", "reason": "one site fails",
                        "confirmed_at_ms": null, "sites": []},
            "execution": null
        }))
        .unwrap();
        let mut out = String::new();
        render_detection(&mut out, &view);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(
            out.contains("https://probe:***@lb.example.com/health"),
            "{out}"
        );
    }
}
