//! `drctl divergence` as a user runs it, against a file journal.

use std::path::Path;
use std::sync::Arc;

use assert_cmd::Command;
use predicates::prelude::*;

use drctl::cloud::sim::{SimCloud, SimOptions};
use drctl::execute::fork::ForkPositions;
use drctl::execute::{
    execute, ExecutionRecord, FileJournal, Journal, MemoryJournal, RunOptions, StepStatus,
};
use drctl::fence::{DatabasePosition, Divergence};
use drctl::model::DataTier;

fn drctl() -> Command {
    let mut c = Command::cargo_bin("drctl").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("DRCTL_JOURNAL_DIR");
    c
}

/// 2026-12-01 12:00:05 UTC in Unix ms.
const NOON_05: u64 = 1_796_126_405_000;

/// A journal holding one finished execution of the shipped policy whose old
/// primary was fenced and measured: 2 heartbeat rows and 48 KiB of WAL.
fn journal_with_a_measured_divergence(dir: &Path) -> ExecutionRecord {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    let policy = Arc::new(drctl::policy::load(&path).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    let options = RunOptions {
        execution_id: Some("x-fork-1".into()),
        ..RunOptions::default()
    };
    let mut record = rt
        .block_on(execute(sim, policy, &mut MemoryJournal::default(), options))
        .unwrap();
    let fork = ForkPositions {
        database: Some(DatabasePosition {
            lsn: "0/3000148".into(),
            newest_heartbeat_ms: Some(NOON_05),
            at_ms: NOON_05 + 1,
        }),
        cache: None,
        errors: vec!["cache: redis replica cache-dr:6379: unreachable: refused".into()],
    };
    let fence = record.fence_old_primary.as_mut().expect("fenced on return");
    fence.status = StepStatus::Done;
    fence.waiting_for = None;
    fence.fork = Some(fork.clone());
    fence.divergence = vec![Divergence {
        tier: DataTier::Database,
        bytes: 48 * 1024,
        heartbeat_rows: 2,
        window_start_ms: Some(NOON_05),
        window_end_ms: Some(NOON_05 + 62_000),
        measured_at_ms: NOON_05 + 120_000,
    }];
    record.fork = Some(fork);
    rt.block_on(FileJournal::new(dir).save(&record)).unwrap();
    record
}

#[test]
fn divergence_prints_the_fork_and_what_the_old_primary_took_after_it() {
    let dir = tempfile::tempdir().unwrap();
    journal_with_a_measured_divergence(dir.path());
    let journal = dir.path().to_str().unwrap();
    drctl()
        .args(["divergence", "x-fork-1", "--journal-dir", journal])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "divergence of execution x-fork-1 of policy emr-platform (old primary in us-east-1)\n\
             database: at the fork, replica at WAL 0/3000148, newest heartbeat 2026-12-01T12:00:05Z\n\
             database: 48 KiB of WAL and 2 heartbeat rows written on the old primary after the fork, \
             12:00:05–12:01:07 UTC; the fenced old primary keeps these writes",
        ))
        .stdout(predicate::str::contains(
            "cache: position not read at the fork (redis replica cache-dr:6379: unreachable: refused)",
        ));
    let out = drctl()
        .args(["divergence", "x-fork-1", "--output", "json"])
        .args(["--journal-dir", journal])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["tiers"][0]["tier"], "database");
    assert_eq!(v["tiers"][0]["measured"]["heartbeat_rows"], 2);
    assert_eq!(v["tiers"][0]["measured"]["bytes"], 48 * 1024);
    assert_eq!(v["fork"]["database"]["lsn"], "0/3000148");
}

#[test]
fn divergence_of_an_unknown_execution_names_it_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    journal_with_a_measured_divergence(dir.path());
    let journal = dir.path().to_str().unwrap();
    drctl()
        .args(["divergence", "x-nope", "--journal-dir", journal])
        .assert()
        .code(66)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "error: no execution \"x-nope\" in the journal {journal}; the newest known: x-fork-1"
        )));
    let missing = dir.path().join("absent");
    drctl()
        .args(["divergence", "x-fork-1", "--journal-dir"])
        .arg(&missing)
        .assert()
        .code(66)
        .stderr(predicate::str::contains("the directory does not exist"));
}

#[test]
fn the_controllers_view_of_a_divergence_matches_the_schema_and_the_cli_reads_it() {
    use drctl::api::views::{ExecutionSummary, ExecutionView};
    let dir = tempfile::tempdir().unwrap();
    let r = journal_with_a_measured_divergence(dir.path());
    let view = ExecutionView {
        summary: ExecutionSummary {
            id: r.id.clone(),
            policy: r.policy.clone(),
            status: r.status,
            started_at: r.started_at.clone(),
            requested_by: "test".into(),
            reason: None,
            summary: r.summary.clone(),
            steps_done: r.steps.len(),
            steps_total: r.steps.len(),
            owner_term: 1,
            resumed: 0,
            restarted: 0,
            placement: None,
        },
        from_region: r.plan.from_region.clone(),
        to_region: r.plan.to_region.clone(),
        steps: r.steps.clone(),
        rpo: r.rpo.clone(),
        overrides: r.overrides.clone(),
        fence_old_primary: r.fence_old_primary.clone(),
        fork: r.fork.clone(),
        plan: Some(r.plan.clone()),
        decisions: r.decisions.clone(),
        time_basis: r.time_basis,
        phases: r.phases,
        roles: None,
        audit: Vec::new(),
    };
    let body = serde_json::to_value(&view).unwrap();
    assert_divergence_from_controller(&body);
    assert_eq!(body["fork"]["database"]["lsn"], "0/3000148");
    assert_eq!(
        body["fence_old_primary"]["divergence"][0]["heartbeat_rows"],
        2
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let response = &doc["paths"]["/v1/executions/{id}"]["get"]["responses"]["200"];
    let mut root = serde_json::json!({
        "components": doc["components"].clone(),
        "allOf": [response["content"]["application/json"]["schema"].clone()],
    });
    crate::cluster_support::openapi_nullable(&mut root);
    // Every new field is documented, and mistyped values are caught.
    for (field, schema) in [("fork", "ForkPositions"), ("divergence", "Divergence")] {
        assert!(
            root["components"]["schemas"][schema].is_object(),
            "docs/openapi.yaml lacks {schema} for {field}"
        );
    }
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut wrong = body.clone();
    wrong["fork"]["database"]["lsn"] = serde_json::json!(42);
    wrong["fence_old_primary"]["divergence"][0]["bytes"] = serde_json::json!("many");
    assert_eq!(validator.iter_errors(&wrong).count(), 2);
}

/// `drctl divergence --controller` reads `body` from a controller's
/// `GET /v1/executions/{id}`, and names an execution it does not know.
fn assert_divergence_from_controller(body: &serde_json::Value) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = body.clone();
    let app = axum::Router::new().route(
        "/v1/executions/{id}",
        get(
            move |axum::extract::Path(id): axum::extract::Path<String>| {
                let body = body.clone();
                async move {
                    match id.as_str() {
                        "x-fork-1" => (StatusCode::OK, axum::Json(body)),
                        _ => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({}))),
                    }
                }
            },
        ),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    drctl()
        .args(["divergence", "x-fork-1", "--controller", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "database: 48 KiB of WAL and 2 heartbeat rows written on the old primary after the fork",
        ));
    drctl()
        .args(["divergence", "x-nope", "--controller", &url])
        .assert()
        .code(66)
        .stderr(predicate::str::contains(format!(
            "error: no execution \"x-nope\" on the controller {url}"
        )));
}
