//! The plan as `drctl failover` prints it before anything runs.

use std::fmt::Write;

use crate::duration;
use crate::model::ExecutionKind;
use crate::policy::Policy;

/// The plan as text: what `drctl failover` prints without `--confirm`.
pub fn render_plan(plan: &crate::plan::Plan, policy: &Policy) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} plan for policy {}: {} → {} (RTO {}, RPO {})",
        plan.kind,
        plan.policy,
        plan.from_region,
        plan.to_region,
        duration::fmt(policy.rto),
        duration::fmt(policy.rpo)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<32} {:<13} what", "step", "state");
    for s in &plan.steps {
        let state = if !s.kind.mutates() {
            "check"
        } else if s.already_done {
            "already done"
        } else {
            "to do"
        };
        let _ = writeln!(out, "{:<32} {:<13} {}", s.id, state, s.summary);
        if !s.after.is_empty() {
            let _ = writeln!(out, "{:<32} {:<13} after {}", "", "", s.after.join(", "));
        }
        if !s.calls.is_empty() {
            let calls: Vec<String> = s.calls.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "{:<32} {:<13} calls {}", "", "", calls.join(", "));
        }
        for why in &s.depends_on_primary {
            let _ = writeln!(
                out,
                "{:<32} {:<13} NEEDS {}: {why}",
                "", "", plan.from_region
            );
        }
    }
    let _ = writeln!(out);
    if plan.preflight_problems.is_empty() {
        let ready = match plan.kind {
            ExecutionKind::Reprotect => {
                format!("{} answers and every name is free", plan.to_region)
            }
            _ => "the DR side is ready".to_string(),
        };
        let _ = writeln!(out, "preflight: ok, {ready}");
    } else {
        let _ = writeln!(
            out,
            "preflight: {} problem(s); the plan cannot run until they are fixed:",
            plan.preflight_problems.len()
        );
        for p in &plan.preflight_problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    match plan.kind {
        ExecutionKind::Failover => render_gate(&mut out, plan, policy),
        ExecutionKind::Reprotect => {
            let _ = writeln!(
                out,
                "roles:     switch-roles records {} active and {} standby once every replica there replicates within the RPO of {}; nothing is fenced, node groups and traffic stay",
                plan.from_region,
                plan.to_region,
                duration::fmt(policy.rpo)
            );
        }
        ExecutionKind::Failback => render_failback(&mut out, plan, policy),
    }
    out
}

/// The failback's guarantees: zero data loss, the bounded write pause.
fn render_failback(out: &mut String, plan: &crate::plan::Plan, policy: &Policy) {
    let fb = &policy.failback;
    let _ = writeln!(
        out,
        "data loss: none: drain waits until every replica in {} holds all that was written before the quiesce (at most {}, failback.drain_timeout), or the failback refuses",
        plan.to_region,
        duration::fmt(fb.drain_timeout)
    );
    let _ = writeln!(
        out,
        "pause:     the writers in {} stop at quiesce-writers; they write again in {} at lift-quiesce, or in {} at undo-quiesce when the promotion cannot follow; at most {} (failback.max_write_pause)",
        plan.from_region,
        plan.to_region,
        plan.from_region,
        duration::fmt(fb.max_write_pause)
    );
    if let Some(f) = &policy.fencing {
        let _ = writeln!(
            out,
            "quiesce:   the policy's fencing methods, in {}:",
            plan.from_region
        );
        for m in f.methods() {
            let _ = writeln!(out, "  - {m}");
        }
    }
}

/// The failover's RPO gate and fencing.
fn render_gate(out: &mut String, plan: &crate::plan::Plan, policy: &Policy) {
    let _ = writeln!(out, "RPO gate:  {}", plan.rpo);
    for t in &plan.rpo.tiers {
        let done = if t.already_failed_over {
            " (already failed over)"
        } else {
            ""
        };
        let source = t
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  - {}: exposure {}{source}{done}", t.tier, t.exposure);
    }
    if !plan.rpo.allows() {
        let _ = writeln!(
            out,
            "  to proceed anyway, name the loss you accept: --accept-data-loss <duration> for known exposures, \
             --accept-unknown-loss <tier> for each unknown one (see runbooks/rpo-gate.md)"
        );
    }
    render_fencing(out, policy);
}

/// What the policy fences, and when, for the plan.
fn render_fencing(out: &mut String, policy: &Policy) {
    let primary = &policy.regions.primary;
    let Some(f) = &policy.fencing else {
        let _ = writeln!(
            out,
            "fencing:   none (no fencing section): nothing stops the old primary in {primary} from writing if it is alive; see runbooks/fencing.md"
        );
        return;
    };
    let _ = writeln!(
        out,
        "fencing:   {primary}'s controller fences its writers once cut off from the majority for {}; the gate waits for that lease ({} after {primary}'s controller was last heard)",
        duration::fmt(f.self_fence_after),
        duration::fmt(f.promotion_not_before(&policy.detection))
    );
    for m in f.methods() {
        let _ = writeln!(out, "  - {m}");
    }
    if f.on_return {
        let old = policy
            .tiers
            .database
            .as_ref()
            .map(|d| format!(", tag and rename {} out of its endpoint", d.primary))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "after:     {}: once {primary} answers, apply these methods{old}; never part of the failover itself",
            crate::execute::fence_return::STEP
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_says_what_is_fenced_and_when() {
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let observed = crate::plan::Observed::default();
        let plan = crate::plan::build(&policy, &observed, crate::plan::Acceptance::default());
        let text = render_plan(&plan, &policy);
        assert!(text.contains("fencing:   us-east-1's controller fences its writers once cut off from the majority for 2m; the gate waits for that lease (3m 5s after"), "{text}");
        assert!(
            text.contains(
                "  - database: revoke LOGIN from emr_app, emr_batch, drctl_heartbeat and end their sessions"
            ),
            "{text}"
        );
        assert!(
            text.contains("after:     fence-old-primary: once us-east-1 answers"),
            "{text}"
        );
        let mut bare = policy.clone();
        bare.fencing = None;
        let text = render_plan(&plan, &bare);
        assert!(
            text.contains("fencing:   none (no fencing section)"),
            "{text}"
        );
    }

    #[test]
    fn a_way_home_plan_says_what_that_kind_guarantees_and_nothing_of_a_failover() {
        use crate::model::{Orientation, Protection};
        use crate::plan::{failback, reprotect};
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let ctx = reprotect::Context {
            orientation: Orientation::AsWritten,
            protection: Protection::Unprotected,
            reprotects: 0,
        };
        let plan = reprotect::build(&policy, &Default::default(), &ctx);
        let text = render_plan(&plan, &policy);
        assert!(
            text.contains("roles:     switch-roles records us-west-2 active and us-east-1 standby"),
            "{text}"
        );
        let reversed = policy.oriented(Orientation::Reversed);
        let ctx = failback::Context::after_one_reprotect("fb-1");
        let plan = failback::build(&reversed, &Default::default(), &ctx);
        let fb = render_plan(&plan, &reversed);
        assert!(
            fb.contains("data loss: none: drain waits until every replica in us-east-1"),
            "{fb}"
        );
        assert!(
            fb.contains("at most 15m (failback.max_write_pause)"),
            "{fb}"
        );
        assert!(
            fb.contains("quiesce:   the policy's fencing methods, in us-west-2:"),
            "{fb}"
        );
        for t in [&text, &fb] {
            for failover_only in [
                "RPO gate:",
                "the gate waits for that lease",
                "fence-old-primary",
            ] {
                assert!(!t.contains(failover_only), "{failover_only} in {t}");
            }
        }
    }
}
