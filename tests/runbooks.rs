//! The failover runbook names every step the plan can contain, so the two
//! cannot drift apart.

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
        .map(|k| k.name())
        .filter(|name| !text.contains(&format!("### {name}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "runbooks/failover.md has no section for {missing:?}"
    );
}

#[test]
fn the_rpo_runbook_explains_the_override_flag() {
    let text = runbook("rpo-gate.md");
    assert!(text.contains("--accept-data-loss"));
    assert!(text.contains("unknown"));
}
