//! `drctl report` and `drctl history` on drills, as a user runs them.

use std::path::Path;

use crate::cli_support::drctl;

/// Runs a drill recording into `history`; returns its JSON report.
fn drill(history: &Path, args: &[&str]) -> serde_json::Value {
    let out = drctl()
        .env("DRCTL_HISTORY_DIR", history)
        .args(["drill", "--output", "json"])
        .args(args)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("drctl report "), "{stderr}");
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn the_html_report_of_the_latest_drill_stands_alone_and_shows_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let drilled = drill(dir.path(), &["--seed", "3"]);
    let page = dir.path().join("report.html");
    drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["report", "latest", "--format", "html", "--out"])
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let id = drilled["execution_id"].as_str().unwrap();
    assert!(html.contains(&format!("<span id=\"execution-id\">{id}</span>")));
    let critical: Vec<&str> = drilled["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for step in drilled["steps"].as_array().unwrap() {
        let step = step["id"].as_str().unwrap();
        let class = if critical.contains(&step) {
            "critical"
        } else {
            ""
        };
        assert!(
            html.contains(&format!("<tr id=\"step-{step}\" class=\"{class}\">")),
            "{step} not drawn as {class:?}"
        );
        assert!(html.contains(&format!("data-step=\"{step}\"")), "{step}");
    }
    let rto = drilled["rto_ms"].as_u64().unwrap();
    assert!(html.contains(&format!("id=\"rto\" class=\"met\" data-ms=\"{rto}\"")));
    assert!(html.contains("id=\"rto-objective\" data-ms=\"14400000\">4h<"));
    assert!(html.contains("id=\"rpo-objective\" data-ms=\"900000\">15m<"));
    assert!(html.contains("within the policy RPO of 15m"));
    assert!(html.contains("decided → traffic on DR"));
    for external in [
        "http://", "https://", "src=", "href=", "url(", "<script", "<link",
    ] {
        assert!(!html.contains(external), "the page refers to {external}");
    }

    // The same execution by id, as text and as JSON.
    drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["report", id])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "execution {id} of policy"
        )));
    let out = drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["report", id, "--format", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["rto_ms"], drilled["rto_ms"]);
    assert_eq!(v["critical_path"], drilled["critical_path"]);
}

#[test]
fn an_unknown_execution_is_not_found_naming_where_it_looked_and_the_newest_ids() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    // Nothing recorded yet: exit 66 (not found), not 2 (bad usage).
    drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .env("DRCTL_JOURNAL_DIR", &journal)
        .args(["report", "nope"])
        .assert()
        .code(66)
        .stderr(predicates::str::contains(format!(
            "no execution \"nope\" in the history {} or the journal {}; no execution is recorded there",
            dir.path().display(),
            journal.display()
        )));
    let first = drill(dir.path(), &["--seed", "1"]);
    let second = drill(dir.path(), &["--seed", "2"]);
    let id = |r: &serde_json::Value| r["execution_id"].as_str().unwrap().to_string();
    drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .env("DRCTL_JOURNAL_DIR", &journal)
        .args(["report", "nope"])
        .assert()
        .code(66)
        .stderr(predicates::str::contains(format!(
            "; the newest known: {}, {}",
            id(&second),
            id(&first)
        )));
}

#[test]
fn history_after_three_drills_gives_percentiles_per_step_and_a_trend() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<serde_json::Value> = ["1", "2", "7"]
        .iter()
        .map(|seed| drill(dir.path(), &["--seed", seed]))
        .collect();
    let out = drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["history", "--format", "json"])
        .assert()
        .success();
    let h: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(h["runs"].as_array().unwrap().len(), 3);
    let mut rtos: Vec<u64> = runs.iter().map(|r| r["rto_ms"].as_u64().unwrap()).collect();
    rtos.sort();
    assert_eq!(h["rto"]["count"], 3);
    assert_eq!(h["rto"]["p50_ms"], rtos[1]);
    assert_eq!(h["rto"]["p95_ms"], rtos[2]);
    let promote = h["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "promote-database")
        .unwrap();
    let mut d: Vec<u64> = runs
        .iter()
        .map(|r| {
            let s = r["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == "promote-database")
                .unwrap();
            s["ended_ms"].as_u64().unwrap() - s["started_ms"].as_u64().unwrap()
        })
        .collect();
    d.sort();
    assert_eq!(promote["count"], 3);
    assert_eq!(promote["p50_ms"], d[1]);
    assert_eq!(promote["p95_ms"], d[2]);
    assert_eq!(promote["budget_from"], "execution.step_timeout");
    assert_eq!(h["drift"].as_array().unwrap().len(), 0);

    let page = dir.path().join("history.html");
    drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["history", "--format", "html", "--out"])
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<circle class=\"run met\"").count(), 3);
    assert!(html.contains("<svg id=\"trend\""));
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn a_step_whose_p95_drifted_above_its_budget_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    drill(dir.path(), &[]);
    // The same platform, with a budget for the database promotion far
    // below what the simulated cloud takes.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
    .replace(
        "  step_timeout: 30m ",
        "  step_budgets: { promote-database: 5s }\n  step_timeout: 30m ",
    );
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, text).unwrap();
    let out = drctl()
        .env("DRCTL_HISTORY_DIR", dir.path())
        .args(["history", "--policy"])
        .arg(&policy)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(
        stdout.contains("drift: promote-database: p95 ")
            && stdout
                .contains("is above its budget of 5s (execution.step_budgets.promote-database)"),
        "{stdout}"
    );
}

#[test]
fn the_report_of_a_controllers_latest_execution_carries_its_audit_escaped() {
    use axum::routing::get;
    use drctl::api::views::{ExecutionSummary, ExecutionView};
    use drctl::consensus::state::AuditEntry;
    let dir = tempfile::tempdir().unwrap();
    drill(dir.path(), &[]);
    let line = std::fs::read_to_string(dir.path().join("emr-platform.jsonl")).unwrap();
    let entry: drctl::history::HistoryEntry = serde_json::from_str(line.trim()).unwrap();
    let r = entry.record;
    let audit = AuditEntry {
        index: 7,
        term: 2,
        at: "2026-12-01T10:00:00Z".into(),
        who: "alice".into(),
        what: format!("execution {} started: <script>x</script>", r.id),
    };
    let view = ExecutionView {
        summary: ExecutionSummary {
            id: r.id.clone(),
            policy: r.policy.clone(),
            status: r.status,
            started_at: r.started_at.clone(),
            requested_by: "alice".into(),
            reason: None,
            summary: r.summary.clone(),
            steps_done: r.steps.len(),
            steps_total: r.steps.len(),
            owner_term: 2,
            resumed: 0,
            restarted: 0,
            placement: None,
        },
        from_region: r.plan.from_region.clone(),
        to_region: r.plan.to_region.clone(),
        steps: r.steps.clone(),
        rpo: r.rpo.clone(),
        overrides: r.overrides.clone(),
        fence_old_primary: None,
        fork: None,
        plan: Some(r.plan.clone()),
        decisions: r.decisions.clone(),
        time_basis: r.time_basis,
        phases: r.phases,
        roles: None,
        audit: vec![audit],
    };
    let body = serde_json::to_value(&view).unwrap();
    let list = serde_json::json!({ "executions": [body.clone()] });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/v1/executions",
            get(move || async move { axum::Json(list) }),
        )
        .route(
            "/v1/executions/{id}",
            get(move || async move { axum::Json(body) }),
        );
    rt.spawn(async move { axum::serve(listener, app).await });
    let out = drctl()
        .args(["report", "latest", "--format", "html", "--controller", &url])
        .assert()
        .success();
    let html = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(html.contains(&format!("<span id=\"execution-id\">{}</span>", r.id)));
    assert!(html.contains("alice: execution"), "{html}");
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;") && !html.contains("<script"));
    assert!(html.contains("id=\"rto-objective\" data-ms=\"14400000\""));
    for step in &r.steps {
        assert!(html.contains(&format!("<tr id=\"step-{}\"", step.id)));
    }
}

#[test]
fn history_from_a_controller_gives_the_same_figures_as_the_local_history() {
    use axum::routing::get;
    use drctl::api::history::HistoryView;
    use drctl::history::{HistoryEntry, RunSummary};
    let dir = tempfile::tempdir().unwrap();
    for seed in ["1", "2", "7"] {
        drill(dir.path(), &["--seed", seed]);
    }
    let text = std::fs::read_to_string(dir.path().join("emr-platform.jsonl")).unwrap();
    let runs: Vec<RunSummary> = text
        .lines()
        .map(|l| RunSummary::of(&serde_json::from_str::<HistoryEntry>(l).unwrap().record))
        .collect();
    let view = serde_json::to_value(HistoryView {
        policy: "emr-platform".into(),
        kept: runs.len(),
        runs,
    })
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/history",
        get(
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| async move {
                match q.get("policy").map(String::as_str) {
                    Some("emr-platform") => (axum::http::StatusCode::OK, axum::Json(view)),
                    _ => (
                        axum::http::StatusCode::NOT_FOUND,
                        axum::Json(serde_json::json!({"error": "no such policy"})),
                    ),
                }
            },
        ),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let json = |args: &[&str]| -> serde_json::Value {
        let out = drctl()
            .env("DRCTL_HISTORY_DIR", dir.path())
            .args(["history", "--format", "json"])
            .args(args)
            .assert()
            .success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    };
    let local = json(&[]);
    let remote = json(&["--controller", &url]);
    for key in ["rto", "steps", "drift", "rto_objective_ms"] {
        assert_eq!(local[key], remote[key], "{key}");
    }
    assert_eq!(remote["runs"].as_array().unwrap().len(), 3);
    assert_eq!(remote["runs"][0]["target"], format!("controller {url}"));
    // A policy the controller does not have: not found, naming both.
    let other = dir.path().join("other.yaml");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap();
    std::fs::write(
        &other,
        shipped.replacen("name: emr-platform", "name: other", 1),
    )
    .unwrap();
    drctl()
        .args(["history", "--controller", &url, "--policy"])
        .arg(&other)
        .assert()
        .code(66)
        .stderr(predicates::str::contains(format!(
            "no policy \"other\" on the controller {url}"
        )));
}
