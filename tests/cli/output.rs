//! What the drill prints and logs, read the way an operator reads it.

use crate::cli_support::drctl;

#[test]
fn a_sequential_drill_has_every_step_on_its_critical_path() {
    let out = drctl()
        .args(["drill", "--output", "json", "--sequential"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let mut steps: Vec<(u64, String)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["started_ms"].as_u64().unwrap(),
                s["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    steps.sort();
    let order: Vec<&str> = steps.iter().map(|(_, id)| id.as_str()).collect();
    let path: Vec<&str> = v["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(path, order);
}

#[test]
fn text_logs_to_a_file_carry_no_colour_codes() {
    let out = drctl()
        .args(["--log-level", "info", "drill"])
        .env_remove("NO_COLOR")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("step started"), "{stderr}");
    assert!(!stderr.contains("\x1b["), "{stderr}");
}

#[test]
fn step_outcomes_in_the_api_examples_do_not_repeat_their_status() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| l.contains("status: ") && l.contains("outcome: "))
    {
        let field = |key: &str| {
            let rest = &line[line.find(key).unwrap() + key.len()..];
            rest.trim_start_matches('"')
                .split([',', '"'])
                .next()
                .unwrap()
                .to_string()
        };
        let status = field("status: ").replace('_', " ");
        let outcome = field("outcome: ");
        assert!(
            !outcome.starts_with(&status),
            "docs/openapi.yaml: outcome {outcome:?} repeats its status {status:?}"
        );
        checked += 1;
    }
    assert!(checked > 5, "no step examples found in {}", path.display());
}
