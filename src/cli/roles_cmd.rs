//! `drctl reprotect` and `drctl failback` through a controller cluster,
//! and the roles in `drctl status`. Without `--controller` both run here
//! (see [`super::roles_local`]), as `drctl failover` does.
//!
//! Both are dry runs by default: they print the plan the leader would run
//! now (and, for a failback, the failover's divergence report). With
//! `--confirm` the leader records the execution and runs it; the command
//! follows it step by step until it ends, through any member that
//! answers, and exits as the README's table says.

use std::time::Duration;

use clap::Args;

use super::remote::{exit_for_http, follow, TokenArg};
use super::Exit;
use crate::api::client::{Answer, ClientError, Controllers};
use crate::api::messages::ErrorReply;
use crate::api::roles::{FailbackBody, PlanReply, ReprotectBody, RoleReply};
use crate::api::views::PolicyView;
#[cfg(test)]
use crate::consensus::state::roles::DivergenceShown;

/// What both commands take.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Execute the plan. Without it, nothing changes: the plan is printed.
    #[arg(long)]
    pub confirm: bool,
    /// Submit to this controller cluster (any member's URL; several,
    /// repeated or comma-separated, are tried in turn): the request is
    /// forwarded to the leader, which executes it and this command follows
    /// it. Without it the command runs here, with the local journal.
    #[arg(long, env = "DRCTL_CONTROLLER", value_delimiter = ',')]
    pub controller: Vec<String>,
    /// The policy file (without --controller).
    #[command(flatten)]
    pub policy: super::PolicyArg,
    /// Without --controller: where executions are journaled (the roles are
    /// read from the failovers, reprotects and failbacks recorded there).
    #[arg(long, env = "DRCTL_JOURNAL_DIR", default_value = ".drctl/journal")]
    pub journal_dir: std::path::PathBuf,
    /// Without --controller: act on the simulated cloud `drctl sim serve`
    /// serves at this URL (like http://127.0.0.1:7100) instead of AWS.
    #[arg(long, value_name = "URL", conflicts_with = "controller")]
    pub sim: Option<String>,
    /// How long each controller may take to answer before the next one is
    /// tried.
    #[arg(long, default_value = crate::api::client::DEFAULT_TIMEOUT, value_parser = crate::duration::parse_flag)]
    pub timeout: Duration,
    /// The policy's name, when the cluster owns several.
    #[arg(long)]
    pub policy_name: Option<String>,
    /// The API token (needed for the dry run too: the plan reads the
    /// platform's state through the leader).
    #[command(flatten)]
    pub token: TokenArg,
    /// Who is running this, for the journal and the audit log.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub operator: String,
    /// Why, for the journal and the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Without --controller: what is printed, the plan (a dry run) or the
    /// execution's report (with --confirm), for people or as JSON. A
    /// cluster's execution is followed step by step instead.
    #[arg(long, value_enum, default_value_t = super::Output::Text, conflicts_with = "controller")]
    pub output: super::Output,
    /// Without --controller: where a finished execution is recorded for
    /// `drctl report` and `drctl history` (a cluster records its own).
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = crate::history::DEFAULT_HISTORY_DIR)]
    pub history_dir: std::path::PathBuf,
}

/// `drctl reprotect` arguments.
#[derive(Debug, Args)]
pub struct ReprotectArgs {
    /// The cluster, who and why.
    #[command(flatten)]
    pub common: RoleArgs,
}

/// `drctl failback` arguments.
#[derive(Debug, Args)]
pub struct FailbackArgs {
    /// The cluster, who and why.
    #[command(flatten)]
    pub common: RoleArgs,
    /// Accept up to this much data loss when the exposure is not provably
    /// zero (like 30s). Recorded in the journal.
    #[arg(long, value_parser = crate::duration::parse_flag)]
    pub accept_data_loss: Option<Duration>,
    /// The failover execution whose divergence report you reviewed:
    /// required with --confirm when that report is not empty (the dry run
    /// prints it).
    #[arg(long, value_name = "EXECUTION")]
    pub divergence_reviewed: Option<String>,
}

/// `drctl reprotect`.
pub(super) fn reprotect(args: ReprotectArgs) -> Exit {
    let c = &args.common;
    if c.controller.is_empty() {
        let kind = crate::model::ExecutionKind::Reprotect;
        return super::roles_local::run(c, kind, Default::default());
    }
    let body = ReprotectBody {
        policy: c.policy_name.clone(),
        confirm: c.confirm,
        reason: c.reason.clone(),
        operator: Some(c.operator.clone()),
    };
    run(c, "reprotect", |cluster, token| {
        Box::pin(async move { cluster.reprotect(&token, &body).await })
    })
}

/// `drctl failback`.
pub(super) fn failback(args: FailbackArgs) -> Exit {
    let c = &args.common;
    if c.controller.is_empty() {
        let extra = super::roles_local::FailbackInputs {
            accept_data_loss: args.accept_data_loss,
            divergence_reviewed: args.divergence_reviewed.clone(),
        };
        let kind = crate::model::ExecutionKind::Failback;
        return super::roles_local::run(c, kind, extra);
    }
    let body = FailbackBody {
        policy: c.policy_name.clone(),
        confirm: c.confirm,
        accept_data_loss: args.accept_data_loss.map(super::remote::api_duration),
        divergence_reviewed: args.divergence_reviewed.clone(),
        reason: c.reason.clone(),
        operator: Some(c.operator.clone()),
    };
    run(c, "failback", |cluster, token| {
        Box::pin(async move { cluster.failback(&token, &body).await })
    })
}

type Sent = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Answer<RoleReply>, ClientError>> + Send>,
>;

/// Sends the request `send` makes and follows its answer.
fn run(c: &RoleArgs, what: &str, send: impl FnOnce(Controllers, String) -> Sent) -> Exit {
    let token = match c.token.token() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let rt = match super::live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let cluster = Controllers::new(&c.controller, c.timeout);
    rt.block_on(async {
        let answer = match send(cluster.clone(), token).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        match (answer.code, answer.reply) {
            (200, Ok(RoleReply::Planned(p))) => {
                print!("{}", render_plan(&p));
                println!(
                    "\ndry run: nothing was changed. To execute: drctl {what} --confirm --controller {}",
                    cluster.urls().join(",")
                );
                plan_exit(&p)
            }
            (202, Ok(RoleReply::Execution(r))) => {
                eprintln!(
                    "{what}: execution {} accepted by leader node {}; following it",
                    r.execution_id, r.leader
                );
                follow(&cluster, &answer.url, &r.execution_id).await
            }
            (200, Ok(RoleReply::Execution(r))) => {
                println!(
                    "{what}: execution {} recorded, already complete; nothing changed",
                    r.execution_id
                );
                Exit::Ok
            }
            (409, Err(e)) => match e.execution_id.clone() {
                Some(id) => {
                    eprintln!("execution {id} is already running (no second one was started); following it");
                    follow(&cluster, &answer.url, &id).await
                }
                None => {
                    eprintln!("error (409): {}", e.error);
                    Exit::Preflight
                }
            },
            (code, Ok(_)) => exit_for_http(code, &ErrorReply::default()),
            (code, Err(e)) => exit_for_http(code, &e),
        }
    })
}

/// The exit code of a dry run: 4 when preflight found problems, 3 when
/// the gate refuses, else 0.
fn plan_exit(p: &PlanReply) -> Exit {
    if !p.plan.preflight_problems.is_empty() {
        Exit::Preflight
    } else if !p.plan.rpo.allows() && !p.plan.is_complete() {
        Exit::Refused
    } else {
        Exit::Ok
    }
}

/// A dry run's plan for people.
pub fn render_plan(p: &PlanReply) -> String {
    use std::fmt::Write;
    let plan = &p.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} plan for policy {}: {} → {} (built by leader node {})",
        p.kind, plan.policy, plan.from_region, plan.to_region, p.leader
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let after = if s.after.is_empty() {
            "-".to_string()
        } else {
            s.after.join(", ")
        };
        let done = if s.already_done {
            "  (already done)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {:>2}. {:<34} after {after}{done}", i + 1, s.id);
        let _ = writeln!(out, "      {}", s.summary);
    }
    if plan.preflight_problems.is_empty() {
        let _ = writeln!(out, "preflight: ok");
    } else {
        let _ = writeln!(out, "preflight FAILED:");
        for problem in &plan.preflight_problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    if !plan.rpo.allows() {
        let _ = writeln!(out, "gate: {}", plan.rpo.refusal());
    }
    if let Some(d) = &p.divergence {
        let _ = writeln!(
            out,
            "divergence report of failover {} (review it, then pass --divergence-reviewed {}):",
            d.execution_id, d.execution_id
        );
        for line in &d.lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The policy's roles, protection and lag per tier, in `drctl status`.
pub fn render_roles(out: &mut String, p: &PolicyView) {
    use std::fmt::Write;
    let standby = if p.standby_region.is_empty() {
        String::new()
    } else {
        format!(", replicas in {}", p.standby_region)
    };
    let protection = if p.protection.is_empty() {
        "unknown"
    } else {
        p.protection.as_str()
    };
    let _ = writeln!(
        out,
        "  protection: {protection}{standby}; policy read {}",
        p.orientation
    );
    if p.lag_ms.is_empty() {
        return;
    }
    let lags: Vec<String> = p
        .lag_ms
        .iter()
        .map(|(tier, ms)| match ms {
            Some(ms) => format!(
                "{} {}",
                tier.name(),
                crate::duration::fmt(Duration::from_millis(*ms))
            ),
            None => format!("{} unknown", tier.name()),
        })
        .collect();
    let _ = writeln!(out, "  lag: {}", lags.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_protection_standby_and_lag_per_tier() {
        let v: PolicyView = serde_json::from_value(serde_json::json!({
            "name": "emr-platform", "primary_region": "us-east-1",
            "secondary_region": "us-west-2", "active_region": "us-west-2",
            "orientation": "reversed", "standby_region": "us-east-1",
            "protection": "reprotecting (2 of 3 tiers)",
            "lag_ms": {"database": 1500, "stream": null},
            "probes": [], "exposure": [],
            "verdict": {"health": "healthy", "action": "none", "reason": "primary healthy",
                        "confirmed_at_ms": null, "sites": []},
            "execution": null
        }))
        .unwrap();
        let mut out = String::new();
        render_roles(&mut out, &v);
        assert_eq!(
            out,
            "  protection: reprotecting (2 of 3 tiers), replicas in us-east-1; policy read reversed\n  lag: database 1.5s, stream unknown\n"
        );
    }

    #[test]
    fn a_dry_run_answer_reads_as_a_plan_and_a_start_as_an_execution() {
        let started: RoleReply = serde_json::from_value(serde_json::json!({
            "execution_id": "e1", "status": "running", "leader": 2
        }))
        .unwrap();
        assert!(matches!(started, RoleReply::Execution(r) if r.execution_id == "e1"));
        let plan = crate::plan::Plan {
            policy: "emr-platform".into(),
            from_region: "us-west-2".into(),
            to_region: "us-east-1".into(),
            steps: Vec::new(),
            preflight_problems: vec!["detection.secondary_probes: set them".into()],
            rpo: crate::plan::rpo::evaluate(
                Duration::from_secs(900),
                Vec::new(),
                &Default::default(),
            ),
            kind: crate::model::ExecutionKind::Failback,
        };
        let reply = PlanReply {
            dry_run: true,
            kind: crate::model::ExecutionKind::Failback,
            plan,
            divergence: Some(DivergenceShown {
                execution_id: "f1".into(),
                lines: vec!["database: 3 heartbeat rows after the fork".into()],
            }),
            leader: 2,
        };
        let back: RoleReply =
            serde_json::from_value(serde_json::to_value(&reply).unwrap()).unwrap();
        let RoleReply::Planned(p) = back else {
            panic!("a plan reads as a plan")
        };
        assert_eq!(plan_exit(&p), Exit::Preflight);
        let text = render_plan(&p);
        assert!(text.starts_with("failback plan for policy emr-platform: us-west-2 → us-east-1 (built by leader node 2)"), "{text}");
        assert!(
            text.contains("preflight FAILED:\n  - detection.secondary_probes: set them"),
            "{text}"
        );
        assert!(text.contains("divergence report of failover f1 (review it, then pass --divergence-reviewed f1):\n  database: 3 heartbeat rows after the fork"), "{text}");
    }
}
