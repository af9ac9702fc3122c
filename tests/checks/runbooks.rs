//! The runbooks and the code cannot drift apart: the failover, reprotect
//! and failback runbooks name every step their plans can contain, and every
//! `drctl` command of the fencing runbook parses with today's flags.

use drctl::plan::StepKind;

fn runbook(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .join(name),
    )
    .unwrap()
}

#[test]
fn every_step_kind_has_a_section_in_the_failover_runbook() {
    let text = runbook("failover.md");
    let missing: Vec<&str> = StepKind::ALL
        .iter()
        .filter(|k| k.in_failover())
        .map(|k| k.name())
        .filter(|name| !text.contains(&format!("### {name}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "runbooks/failover.md has no section for {missing:?}"
    );
}

fn shipped() -> drctl::policy::Policy {
    drctl::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
}

/// The kinds without a section in `runbook` among `kinds`.
fn missing_sections(runbook_name: &str, kinds: &[StepKind]) -> Vec<&'static str> {
    let text = runbook(runbook_name);
    kinds
        .iter()
        .map(|k| k.name())
        .filter(|name| !text.contains(&format!("### {name}\n")))
        .collect()
}

#[test]
fn every_step_of_a_reprotect_has_a_section_in_the_reprotect_runbook() {
    use drctl::plan::reprotect::{build, Context, Observed};
    let ctx = Context {
        orientation: drctl::model::Orientation::AsWritten,
        protection: drctl::model::Protection::Unprotected,
        reprotects: 0,
    };
    let plan = build(&shipped(), &Observed::default(), &ctx);
    let kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    let missing = missing_sections("reprotect.md", &kinds);
    assert!(
        missing.is_empty(),
        "runbooks/reprotect.md has no section for {missing:?}"
    );
}

#[test]
fn every_step_of_a_failback_and_its_undo_has_a_section_in_the_failback_runbook() {
    use drctl::model::Orientation;
    use drctl::plan::failback::{build, Context, Observed};
    let ctx = Context::after_one_reprotect("fb-1");
    let policy = shipped().oriented(Orientation::Reversed);
    let plan = build(&policy, &Observed::default(), &ctx);
    let mut kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
    kinds.push(StepKind::UndoQuiesce);
    let missing = missing_sections("failback.md", &kinds);
    assert!(
        missing.is_empty(),
        "runbooks/failback.md has no section for {missing:?}"
    );
}

#[test]
fn every_step_kind_belongs_to_a_runbook() {
    let all = ["failover.md", "reprotect.md", "failback.md"]
        .map(runbook)
        .join("\n");
    let missing: Vec<&str> = StepKind::ALL
        .iter()
        .map(|k| k.name())
        .filter(|name| !all.contains(&format!("### {name}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "no runbook has a section for {missing:?}"
    );
}

#[test]
fn the_rpo_runbook_explains_the_override_flag() {
    let text = runbook("rpo-gate.md");
    assert!(text.contains("--accept-data-loss"));
    assert!(text.contains("unknown"));
}

/// The `drctl` command lines of a runbook's `sh` blocks, without comments
/// and with `\` continuations joined.
fn sh_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = trimmed.split(" #").next().unwrap_or("").trim();
        pending.push_str(code.trim_end_matches('\\'));
        pending.push(' ');
        if !code.ends_with('\\') {
            if pending.trim_start().starts_with("drctl ") {
                out.push(pending.trim().to_string());
            }
            pending.clear();
        }
    }
    out
}

/// Splits a command line on spaces, keeping double-quoted words together.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn every_drctl_command_in_the_fencing_runbook_parses() {
    use clap::Parser;
    let text = runbook("fencing.md");
    let commands = sh_commands(&text);
    assert!(commands.len() >= 5, "{commands:?}");
    for line in &commands {
        if let Err(e) = drctl::cli::Cli::try_parse_from(words(line)) {
            panic!("runbooks/fencing.md: `{line}` does not parse:\n{e}");
        }
    }
    for needed in [
        "drctl unfence --confirm",
        "drctl sim outage --isolate us-east-1",
    ] {
        assert!(
            commands.iter().any(|c| c.starts_with(needed)),
            "no `{needed}` in {commands:?}"
        );
    }
}

#[test]
fn the_fencing_runbook_names_every_method_tag_and_metric() {
    use drctl::policy::CacheFenceMethod;
    let text = runbook("fencing.md");
    for needed in [
        CacheFenceMethod::ElasticacheUser.label(),
        CacheFenceMethod::Acl.label(),
        drctl::cloud::FENCED_BY_TAG,
        drctl::execute::fence_return::STEP,
        drctl::fence::SAVED_RULES_PREFIX,
        "drctl_self_fenced",
        "drctl_old_primary_writable",
        "self_fence_after",
        "max_clock_skew",
        "rds:ModifyDBInstance",
        "rds:AddTagsToResource",
        "eks:UpdateNodegroupConfig",
        "elasticache:ModifyUser",
        "elasticache:DescribeUsers",
        "pg_signal_backend",
        "ADMIN OPTION",
        "drctl divergence",
    ] {
        assert!(
            text.contains(needed),
            "runbooks/fencing.md does not mention {needed}"
        );
    }
}
