//! The HTML report of a drill: structure, figures and escaping.

use std::sync::Arc;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{execute, Decision, MemoryJournal, RunOptions};
use crate::policy::Policy;

fn shipped() -> Policy {
    crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap()
}

async fn drill() -> (crate::execute::ExecutionRecord, Policy) {
    let policy = shipped();
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    let options = RunOptions {
        execution_id: Some("drill-x".into()),
        ..RunOptions::default()
    };
    let policy = Arc::new(policy);
    let record = execute(sim, policy.clone(), &mut MemoryJournal::default(), options)
        .await
        .unwrap();
    (record, (*policy).clone())
}

#[tokio::test(start_paused = true)]
async fn every_step_is_drawn_and_the_critical_path_is_marked() {
    let (record, policy) = drill().await;
    let report = Report::new(&record, &policy, "the simulated cloud (seed 1)");
    let html = render_html(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for s in &record.steps {
        let id = escape(&s.id);
        assert!(html.contains(&format!("<tr id=\"step-{id}\"")), "{id}");
        assert!(html.contains(&format!("data-step=\"{id}\"")), "{id}");
        let critical = report.critical_path.contains(&s.id);
        assert_eq!(
            html.contains(&format!("<tr id=\"step-{id}\" class=\"critical\"")),
            critical,
            "{id}"
        );
    }
    let on_path = html.matches("class=\"step critical\"").count();
    assert_eq!(on_path, report.critical_path.len());
    assert!(html.contains(&format!("data-ms=\"{}\"", report.rto_ms)));
    assert!(html.contains("id=\"rpo-objective\" data-ms=\"900000\">15m<"));
    assert!(html.contains("decided → traffic on DR"));
    for external in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!html.contains(external), "{external} in the page");
    }
}

#[tokio::test(start_paused = true)]
async fn every_string_from_the_record_is_escaped() {
    let (mut record, policy) = drill().await;
    let evil = "<script>alert('x')</script> & \"quoted\"";
    record.decisions.push(Decision {
        step: "failover-cache".into(),
        at: evil.into(),
        what: evil.into(),
    });
    record.steps[0].outcome = Some(evil.into());
    record.summary = Some(evil.into());
    let html = render_html(&Report::new(&record, &policy, evil).with_audit(vec![evil.into()]));
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;")
    );
}

#[tokio::test(start_paused = true)]
async fn a_polling_step_shows_its_acting_and_waiting_time() {
    let (record, policy) = drill().await;
    // The promotion is one call, then minutes of polling while the replica
    // becomes a primary.
    let promote = record.step("promote-database").expect("a promotion step");
    let (acting, waiting) = (promote.acting_ms.unwrap(), promote.waiting_ms.unwrap());
    assert!(waiting > 0, "{promote:?}");
    assert!(acting > 0, "{promote:?}");
    assert!(
        acting + waiting <= promote.duration_ms().unwrap(),
        "{promote:?}"
    );
    // Every step that acted has the split; the check-only ones do not.
    for s in &record.steps {
        if let (Some(a), Some(w)) = (s.acting_ms, s.waiting_ms) {
            assert!(a + w <= s.duration_ms().unwrap(), "{s:?}");
        }
    }
    assert!(record.step("preflight").unwrap().acting_ms.is_none());

    let report = Report::new(&record, &policy, "the simulated cloud (seed 1)");
    let html = render_html(&report);
    for (class, ms) in [("acting", acting), ("waiting", waiting)] {
        let segment =
            format!("<rect class=\"{class}\" data-step=\"promote-database\" data-ms=\"{ms}\"");
        assert!(html.contains(&segment), "{segment} missing");
    }
    assert!(html.contains("id=\"timeline-legend\""));
    let text = report.render_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("promote-database "))
        .unwrap();
    let shown = crate::duration::fmt(std::time::Duration::from_millis(waiting));
    assert!(line.contains(&shown), "{line}");
    let json = serde_json::to_value(&report).unwrap();
    let step = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "promote-database")
        .unwrap();
    assert_eq!(step["waiting_ms"], waiting);
    assert_eq!(step["acting_ms"], acting);
}
