//! Policy names and regions are held to their documented rule.

use super::*;
use std::path::Path;

const CORE: &str = include_str!("../../policies/emr-platform-core.yaml");

fn refusal(text: &str, path: &str) -> String {
    let err = parse(Path::new("policies/x.yaml"), text).expect_err("invalid");
    let shown = err.to_string();
    let p = err
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("{path} not reported: {shown}"));
    format!("policies/x.yaml: {p}")
}

#[test]
fn a_policy_name_that_could_leave_a_directory_is_refused_naming_the_field() {
    let long = "x".repeat(5000);
    for bad in [
        "../escaped",
        "/etc/cron.d/x",
        "nul\0byte",
        "Emr",
        long.as_str(),
    ] {
        let yaml_name = serde_json::to_string(bad).unwrap();
        let text = CORE.replace("name: emr-platform-core", &format!("name: {yaml_name}"));
        assert_ne!(text, CORE);
        let shown = refusal(&text, "name");
        assert!(
            shown.starts_with("policies/x.yaml: name: a valid policy name: use 1–63 characters a-z, 0-9 and '-', starting with a letter or digit (got "),
            "{shown}"
        );
        assert!(shown.len() < 250, "a long name is cut: {shown}");
    }
    let shown = refusal(
        &CORE.replace("name: emr-platform-core", "name: \"../escaped\""),
        "name",
    );
    assert!(shown.ends_with("(got \"../escaped\")"), "{shown}");
}

#[test]
fn a_region_without_aws_syntax_or_too_long_is_refused() {
    let long = format!("us-{}-1", "a".repeat(40));
    for bad in ["../us-east-1", long.as_str()] {
        let text = CORE.replace("primary: us-east-1", &format!("primary: \"{bad}\""));
        let shown = refusal(&text, "regions.primary");
        assert!(shown.contains("an AWS region such as us-east-1"), "{shown}");
    }
}

#[test]
fn the_journal_refuses_a_policy_name_that_would_leave_its_directory() {
    let j = crate::execute::FileJournal::new("/var/lib/drctl/journal");
    assert!(j
        .path("emr-platform")
        .unwrap()
        .ends_with("journal/emr-platform.json"));
    for bad in ["../escaped", "/etc/cron.d/x", "a/b", "..", ""] {
        let err = j.path(bad).expect_err(bad).to_string();
        assert!(err.contains("would leave the journal"), "{err}");
    }
}
