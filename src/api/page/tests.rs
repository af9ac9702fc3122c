//! The renderer on a hand-built model: every section present, every
//! string from outside escaped.

use std::collections::BTreeMap;

use super::*;
use crate::api::views::{
    ExecutionSummary, MemberView, NodeView, RaftView, SiteProbes, TierExposureView,
};
use crate::consensus::Maintenance;
use crate::detect::{Action, Health, ProbeResult, SiteView, Verdict};
use crate::execute::{ExecutionStatus, StepRecord, StepStatus};
use crate::model::DataTier;
use crate::plan::StepKind;

const XSS: &str = "<script>alert('x')</script>";

fn member(id: u64, site: &str) -> MemberView {
    MemberView {
        id,
        site: site.into(),
        addr: format!("http://127.0.0.1:710{id}"),
        witness: id == 3,
        healthy: Some(id != 3),
        matched_index: Some(40 + id),
    }
}

fn step(id: &str, status: StepStatus, start: Option<u64>, end: Option<u64>) -> StepRecord {
    StepRecord {
        id: id.into(),
        kind: StepKind::Preflight,
        after: vec![],
        resource: Some("db-replica".into()),
        status,
        attempts: 1,
        started_ms: start,
        ended_ms: end,
        outcome: end.map(|_| format!("{id} finished {XSS}")),
        change_id: None,
        epoch: None,
        acting_ms: None,
        waiting_ms: None,
        first_started_at_ms: None,
    }
}

/// A cluster led by node 1, a suspect primary, and a failover running
/// whose reason carries markup.
fn model() -> PageModel {
    let verdict = Verdict {
        health: Health::Suspect,
        action: Action::None,
        reason: "primary suspect: 1 of 3 sites see it failing <b>".into(),
        confirmed_at_ms: None,
        sites: vec![SiteView {
            site: "us-west-2".into(),
            consecutive_failures: 2,
            recent_failures: 2,
            last_at_ms: Some(0),
            fresh: true,
            down: false,
            failing: vec![],
            error: None,
        }],
    };
    let summary = ExecutionSummary {
        id: "exec-1".into(),
        policy: "emr-platform".into(),
        status: ExecutionStatus::Running,
        started_at: "2026-12-01T16:00:00Z".into(),
        requested_by: "alice".into(),
        reason: Some(XSS.into()),
        summary: None,
        steps_done: 1,
        steps_total: 3,
        owner_term: 2,
        resumed: 0,
        restarted: 0,
        placement: None,
    };
    let execution = ExecutionView {
        summary: summary.clone(),
        from_region: "us-east-1".into(),
        to_region: "us-west-2".into(),
        steps: vec![
            step("preflight", StepStatus::Done, Some(0), Some(1200)),
            step("promote-database", StepStatus::Running, Some(1200), None),
            step("flip-dns", StepStatus::Pending, None, None),
        ],
        rpo: None,
        overrides: vec![],
        fence_old_primary: None,
        fork: None,
        plan: None,
        decisions: vec![],
        time_basis: Default::default(),
        phases: None,
        roles: None,
        audit: vec![],
    };
    let policy = PolicyView {
        name: "emr-platform".into(),
        primary_region: "us-east-1".into(),
        secondary_region: "us-west-2".into(),
        active_region: "us-east-1".into(),
        orientation: Default::default(),
        standby_region: "us-west-2".into(),
        protection: "protected".into(),
        lag_ms: Default::default(),
        probes: vec![SiteProbes {
            site: "us-west-2".into(),
            node: 2,
            round: 17,
            at: "2026-12-01T16:00:01Z".into(),
            consecutive_failures: 2,
            results: vec![ProbeResult {
                target: "http https://api.example.com/health".into(),
                ok: false,
                inconclusive: false,
                latency_ms: 950,
                detail: Some(format!("timed out {XSS}")),
            }],
        }],
        exposure: vec![TierExposureView {
            tier: DataTier::Database,
            exposure_ms: Some(2_000),
            rpo_ms: 300_000,
            within_rpo: true,
            source: "heartbeat".into(),
        }],
        verdict,
        execution: Some(summary),
        self_fenced: None,
        old_primary_writable: Some(format!("the fence waits {XSS}")),
        readiness: Some(readiness()),
    };
    PageModel {
        status: StatusView {
            node: NodeView {
                id: 2,
                site: "us-west-2".into(),
                witness: false,
                addr: "http://127.0.0.1:7102".into(),
                state: "follower".into(),
                term: 2,
            },
            leader: Some(member(1, "us-east-1")),
            members: vec![
                member(1, "us-east-1"),
                member(2, "us-west-2"),
                member(3, "us-east-2"),
            ],
            raft: RaftView {
                term: 2,
                last_log_index: Some(44),
                last_applied: Some(44),
                snapshot_index: None,
            },
            maintenance: Maintenance::default(),
            policies: vec![policy],
        },
        executions: BTreeMap::from([("emr-platform".to_string(), execution)]),
        audit: vec![AuditEntry {
            index: 44,
            term: 2,
            at: "2026-12-01T16:00:00Z".into(),
            who: "alice".into(),
            what: format!("started execution exec-1: {XSS}"),
        }],
        rendered_at: "2026-12-01T16:00:02Z".into(),
    }
}

fn readiness() -> crate::readiness::Readiness {
    use crate::readiness::{Check, PredictedRto, Readiness, Status, Verdict};
    let checks = vec![
        Check {
            name: "dr-resources".into(),
            status: Status::Pass,
            sentence: "every DR resource can start a failover".into(),
        },
        Check {
            name: "vcpu-quota".into(),
            status: Status::Fail,
            sentence: format!("the quota leaves no room {XSS}"),
        },
    ];
    Readiness {
        policy: "emr-platform".into(),
        checked_at: "2026-12-01T15:59:00Z".into(),
        verdict: Verdict::of(&checks),
        checks,
        predicted_rto: PredictedRto {
            p50_ms: 286_000,
            p95_ms: 301_000,
            critical_path: vec!["promote-database".into()],
            basis: "latency model".into(),
        },
    }
}

#[test]
fn no_string_from_outside_reaches_the_page_as_markup() {
    let page = render_page(&model());
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>\""), "{page}");
    // The reason, outcomes, probe detail, audit line and protection line.
    assert!(
        page.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
            .count()
            >= 5,
        "{page}"
    );
    assert!(page.contains("see it failing &lt;b&gt;"), "{page}");
    // The only script is the page's own.
    assert_eq!(page.matches("<script>").count(), 1);
}

#[test]
fn every_section_is_present_with_what_a_person_looks_for() {
    let page = render_page(&model());
    for needle in [
        "<!doctype html>",
        "<section class=\"card cluster\">",
        "Leader: <b id=\"leader\">node 1 (us-east-1)</b>",
        "<section class=\"card verdict warn\">",
        "primary suspect: 1 of 3 sites see it failing",
        "<section class=\"card protection\">",
        "Traffic on <b class=\"active-region\">us-east-1</b>",
        "Old primary still writable",
        "<section class=\"card probes\">",
        "http https://api.example.com/health",
        "2 failed in a row",
        "<section class=\"card exposure\">",
        "<td>database</td><td>2s</td><td>5m</td>",
        "<section class=\"card timeline\">",
        "<tr class=\"step ok\" data-step=\"preflight\">",
        "<tr class=\"step info\" data-step=\"promote-database\">",
        "<tr class=\"step mute\" data-step=\"flip-dns\">",
        "<section class=\"card readiness\">",
        "NOT READY: a failover started now would fail",
        "predicted RTO p50 4m 46s, p95 5m 1s",
        "<td>vcpu-quota</td><td>the quota leaves no room &lt;script&gt;",
        "<section class=\"card audit\">",
        "started execution exec-1",
        "data-refresh-ms=\"1500\"",
    ] {
        assert!(page.contains(needle), "missing {needle:?} in:\n{page}");
    }
}

#[test]
fn bars_are_placed_on_the_execution_span() {
    let page = render_fragment(&model());
    // preflight: 0–1.2 s of a 1.2 s span; the running promotion starts at its end.
    assert!(
        page.contains("style=\"margin-left:0.0%;width:max(100.0%,3px)\""),
        "{page}"
    );
    assert!(
        page.contains("style=\"margin-left:100.0%;width:max(0.0%,3px)\""),
        "{page}"
    );
}

#[test]
fn the_fragment_is_the_live_part_without_head_or_script() {
    let m = model();
    let fragment = render_fragment(&m);
    assert!(!fragment.contains("<script"));
    assert!(!fragment.contains("<html"));
    assert!(render_page(&m).contains(&fragment));
}

#[test]
fn a_page_without_leader_execution_or_audit_says_so() {
    let mut m = model();
    m.status.leader = None;
    m.executions.clear();
    m.audit.clear();
    m.status.policies[0].probes.clear();
    let page = render_page(&m);
    assert!(page.contains("No leader"), "{page}");
    assert!(
        page.contains("No failover has run for this policy."),
        "{page}"
    );
    assert!(page.contains("Nothing recorded yet."), "{page}");
    assert!(page.contains("No probe round received yet."), "{page}");
}

#[test]
fn a_restart_on_the_same_leader_is_not_called_a_new_leader_s() {
    let mut m = model();
    let e = m.executions.get_mut("emr-platform").unwrap();
    e.summary.restarted = 2;
    m.status.policies[0].execution = Some(e.summary.clone());
    let page = render_page(&m);
    assert!(
        page.contains("restarted 2 time(s) by the same leader after its run stopped"),
        "{page}"
    );
    assert!(!page.contains("resumed"), "{page}");
    let e = m.executions.get_mut("emr-platform").unwrap();
    e.summary.resumed = 1;
    let page = render_page(&m);
    assert!(
        page.contains("resumed 1 time(s) by a new leader; restarted 2 time(s)"),
        "{page}"
    );
}
