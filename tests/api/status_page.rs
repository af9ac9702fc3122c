//! The status page (`GET /`): served without a token by every node while
//! the mutating routes keep theirs, every operator's string escaped; and,
//! in headless Chromium, what a person sees: the leader, the verdict, and
//! a failover's steps appearing while it runs.
//!
//! The Chromium test needs Debian's `chromium` (scripts/test.sh installs
//! it and sets DRCTL_CHROMIUM); it is skipped, saying so, only when
//! DRCTL_CHROMIUM is unset and no chromium is on the PATH.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster_support::Cluster;
use drctl::execute::ExecutionStatus;
use serde_json::json;

const XSS: &str = "<script>alert('pwned')</script>";

/// The test policy probing every 500 ms, so every site's rounds arrive
/// within a second, on a simulated cloud `scale` times as fast as AWS.
async fn start(scale: f64) -> Cluster {
    let mut p = (*crate::cluster_support::test_policy()).clone();
    p.detection.probe_interval = Duration::from_millis(500);
    let cloud = crate::cluster_support::sim_cloud(&p, scale);
    Cluster::start_with(std::sync::Arc::new(p), cloud).await
}

/// Waits until node `id` sees the primary healthy from every site, and
/// returns its verdict sentence.
async fn wait_healthy(c: &Cluster, id: u64) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, s) = c.get(id, "/v1/status").await;
        let verdict = &s["policies"][0]["verdict"];
        let reason = verdict["reason"].as_str().unwrap_or_default();
        if reason.starts_with("primary healthy: 3 of 3 sites") {
            return reason.to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {id} never saw the primary healthy: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_needs_no_token_and_escapes_what_operators_type() {
    let c = start(0.005).await;
    let leader = c.leader().await;
    let follower = c.other_executor(leader);
    for n in 1..=3 {
        wait_healthy(&c, n).await;
        let r = c.http.get(format!("{}/", c.url(n))).send().await.unwrap();
        assert_eq!(r.status(), 200, "node {n}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let page = r.text().await.unwrap();
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(
            page.contains(&format!("Leader: <b id=\"leader\">node {leader} (")),
            "node {n}: {page}"
        );
        assert!(page.contains("primary healthy: 3 of 3 sites"), "{page}");
    }
    let r = c
        .http
        .get(format!("{}/fragment", c.url(3)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let fragment = r.text().await.unwrap();
    assert!(fragment.contains("<section class=\"card cluster\">"));
    assert!(!fragment.contains("<script"), "{fragment}");

    // The mutating routes still want the token.
    let r = c
        .http
        .post(format!("{}/v1/failover", c.url(follower)))
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(c.state(leader).executions.is_empty());

    // A failover whose reason and operator carry markup: shown as text.
    let (code, b) = c
        .post(
            follower,
            "/v1/failover",
            json!({"confirm": true, "reason": XSS, "operator": "<img src=x onerror=alert(1)>"}),
        )
        .await;
    assert_eq!(code, 202, "{b}");
    let id = b["execution_id"].as_str().unwrap().to_string();
    c.wait_finished(leader, &id).await;
    let page = c.text(3, "/").await;
    assert!(page.contains(&format!("<code class=\"execution-id\">{id}</code>")));
    assert!(
        page.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(!page.contains(XSS) && !page.contains("<img"), "{page}");
    assert_eq!(page.matches("<script>").count(), 1, "only the page's own");
    c.stop().await;
}

/// The Chromium to use: DRCTL_CHROMIUM, else one on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DRCTL_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "DRCTL_CHROMIUM={} is not a file: install Debian's chromium (scripts/test.sh does) or unset it",
            p.display()
        );
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `extra` flags, bounded in time,
/// and returns its standard output.
async fn headless(chromium: &Path, profile: &Path, url: &str, extra: &[String]) -> String {
    let mut cmd = tokio::process::Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true)
    .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("chromium answers within 60 s")
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DOM after the page's script ran for `budget_ms` of virtual time.
async fn dom(chromium: &Path, profile: &Path, url: &str, budget_ms: u64) -> String {
    let extra = [
        format!("--virtual-time-budget={budget_ms}"),
        "--dump-dom".to_string(),
    ];
    headless(chromium, profile, url, &extra).await
}

/// Each step row of the timeline: its id and class (`ok`, `info`, `mute`, `bad`).
fn steps(dom: &str) -> Vec<(String, String)> {
    dom.split("<tr class=\"step ")
        .skip(1)
        .filter_map(|rest| {
            let (class, rest) = rest.split_once('"')?;
            let rest = rest.trim_start().strip_prefix("data-step=\"")?;
            let (id, _) = rest.split_once('"')?;
            Some((id.to_string(), class.to_string()))
        })
        .collect()
}

/// How many times the script replaced the live part.
fn updates(dom: &str) -> u64 {
    dom.split_once("data-updates=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_leader_the_verdict_and_a_failover_live() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED chromium_shows_the_leader_the_verdict_and_a_failover_live: \
no chromium on the PATH and DRCTL_CHROMIUM unset (scripts/test.sh installs Debian's chromium)"
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    // Slow enough that a failover lasts through several page loads.
    let c = start(0.1).await;
    let leader = c.leader().await;
    let url = format!("{}/", c.url(3));
    let sentence = wait_healthy(&c, 3).await;

    // What a person sees first: the leader and the verdict as its sentence.
    let page = dom(&chromium, profile.path(), &url, 2500).await;
    assert!(
        page.contains(&format!("Leader: <b id=\"leader\">node {leader} (")),
        "{page}"
    );
    assert!(
        sentence.starts_with("primary healthy: 3 of 3 sites"),
        "{sentence}"
    );
    assert!(page.contains(&sentence), "{sentence:?} not in {page}");
    assert!(
        updates(&page) >= 1,
        "the script never updated the page: {page}"
    );
    assert!(
        page.contains("No failover has run for this policy."),
        "{page}"
    );

    // A failover through the API with the token; the page follows it.
    let (code, b) = c
        .post(
            c.other_executor(leader),
            "/v1/failover",
            json!({"confirm": true, "reason": "status page test", "operator": "sre"}),
        )
        .await;
    assert_eq!(code, 202, "{b}");
    let id = b["execution_id"].as_str().unwrap().to_string();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut seen: Vec<Vec<(String, String)>> = Vec::new();
    let mut shot_done = 0;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never showed the failover complete; seen: {seen:#?}"
        );
        let finished = c
            .execution(leader, &id)
            .is_some_and(|e| e.summary.status != ExecutionStatus::Running);
        let page = dom(&chromium, profile.path(), &url, 2000).await;
        if !page.contains(&id) {
            continue;
        }
        assert!(updates(&page) >= 1, "{page}");
        let rows = steps(&page);
        let running = rows.iter().any(|(_, class)| class == "info");
        let done = rows.iter().filter(|(_, class)| class == "ok").count();
        // The screenshot: a failover under way, a few steps done.
        if running && done > shot_done && shot_done < 3 {
            shot_done = done;
            let size = [
                format!("--screenshot={}", shot.display()),
                "--window-size=1280,1600".to_string(),
                "--virtual-time-budget=2000".to_string(),
            ];
            headless(&chromium, profile.path(), &url, &size).await;
        }
        seen.push(rows.clone());
        if finished && !rows.is_empty() && done == rows.len() {
            assert!(page.contains("completed"), "{page}");
            break;
        }
    }
    // Steps appeared while the failover ran: a load showed some running,
    // and later ones more of them done, never fewer.
    assert!(
        seen.iter().any(|r| r.iter().any(|(_, c)| c == "info")),
        "no load caught a step running: {seen:#?}"
    );
    let done: Vec<usize> = seen
        .iter()
        .map(|r| r.iter().filter(|(_, c)| c == "ok").count())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert!(seen.len() >= 2, "{seen:#?}");

    let png = std::fs::read(&shot).expect("a screenshot was taken mid-failover");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
    if std::env::var_os("DRCTL_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::copy(&shot, &docs).unwrap();
    }
    c.stop().await;
}
