//! The API's handling of bad input on a three-node cluster: bounded
//! bodies and fields, content types, query checks, JSON errors for every
//! answer axum makes itself, metrics negotiation, refused tokens logged
//! and slowed down, and no-op requests never evicting a real failover.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::cluster_support::{assert_matches_openapi as spec, Cluster, TOKEN};
use serde_json::json;

/// Asserts a JSON error answer and returns its sentence.
async fn json_error(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{status}: {ct}");
    let b: serde_json::Value = r.json().await.unwrap();
    b["error"].as_str().expect("an error sentence").to_string()
}

/// POSTs a body declared as 50 MB without a token, sending only its first
/// megabyte (the server answers before reading it all, and an HTTP client
/// may fail on the write instead of reading the answer); returns the answer.
async fn declared_50_mb(base: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/failover HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        50 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(&vec![b'a'; 1024 * 1024]).await;
    let mut answer = Vec::new();
    let mut buf = vec![0; 4096];
    while !answer.ends_with(b"}") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("an answer before the body is sent")
            .unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_json_error_naming_what_is_wrong() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let url = |p: &str| format!("{}{p}", c.url(leader));
    let cr = &c;
    let post = |body: serde_json::Value| async move { cr.post(leader, "/v1/failover", body).await };

    let (code, b) = post(json!({"confirm": true, "reason": "x".repeat(1025)})).await;
    assert_eq!(code, 400, "{b}");
    spec("post", "/v1/failover", 400, &b);
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .starts_with("reason: at most 1024"),
        "{b}"
    );
    for operator in [json!(null), json!(""), json!("   ")] {
        let (code, b) = post(json!({"confirm": true, "operator": operator})).await;
        assert_eq!(code, 400, "{b}");
        assert!(b["error"].as_str().unwrap().starts_with("operator:"), "{b}");
    }
    let (code, b) = post(json!({"confirm": false})).await;
    assert_eq!(code, 400, "{b}");
    assert!(c.state(leader).executions.is_empty());

    // A body of 900 KB, or 50 MB without a token: 413 in JSON.
    let big = json!({"confirm": true, "reason": "r".repeat(900_000)});
    let r = c
        .http
        .post(url("/v1/failover"))
        .bearer_auth(TOKEN)
        .json(&big)
        .send()
        .await;
    assert!(json_error(r.unwrap(), 413).await.contains("65536"));
    let answer = declared_50_mb(&c.url(leader)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(
        answer.contains(r#"{"error":"request body: larger than"#),
        "{answer}"
    );

    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = c
            .http
            .post(url("/v1/failover"))
            .bearer_auth(TOKEN)
            .header("content-type", ct)
            .body(r#"{"confirm": true}"#)
            .send()
            .await
            .unwrap();
        assert!(json_error(r, 415).await.starts_with("content-type"));
    }

    let r = c
        .http
        .get(url("/v1/executions?limit=0"))
        .send()
        .await
        .unwrap();
    assert!(json_error(r, 400).await.starts_with("limit"));
    let r = c
        .http
        .get(url("/v1/executions?limit=abc"))
        .send()
        .await
        .unwrap();
    assert!(json_error(r, 400).await.starts_with("limit"));
    let r = c
        .http
        .get(url("/v1/executions?policy=nope"))
        .send()
        .await
        .unwrap();
    let e = json_error(r, 404).await;
    assert!(e.contains("\"nope\"") && e.contains("emr-platform"), "{e}");
    let r = c.http.get(url("/v1/nothing-here")).send().await.unwrap();
    assert!(json_error(r, 404)
        .await
        .starts_with("no route GET /v1/nothing-here"));
    let r = c.http.put(url("/v1/status")).send().await.unwrap();
    assert!(r.headers().contains_key("allow"));
    assert!(json_error(r, 405).await.starts_with("method PUT"));
    let r = c.http.get(url("/v1/failover")).send().await.unwrap();
    json_error(r, 405).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_accept_header() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let id = c.failover(leader).await;
    c.wait_finished(leader, &id).await;
    let get = |node: u64, accept: &'static str| {
        c.http
            .get(format!("{}/metrics", c.url(node)))
            .header("accept", accept)
            .send()
    };
    let mut counted = false;
    for node in 1..=3 {
        let r = get(node, "text/plain").await.unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = r.text().await.unwrap();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(text.contains("# HELP drctl_raft_term "), "{text}");
        assert!(
            !text.contains("# TYPE drctl_failover_requests counter"),
            "{text}"
        );
        if text.contains("drctl_failover_requests_total{") {
            assert!(
                text.contains("# HELP drctl_failover_requests_total "),
                "{text}"
            );
            assert!(
                text.contains("# TYPE drctl_failover_requests_total counter"),
                "{text}"
            );
            counted = true;
        }
        let r = get(
            node,
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .await
        .unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        assert!(r.text().await.unwrap().ends_with("# EOF\n"));
    }
    assert!(counted, "the node that answered counts the request");
    c.stop().await;
}

/// The WARN lines of this test binary, captured once for all its tests.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Writer(out.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buf
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_are_logged_briefly_and_slowed_down_but_the_valid_one_is_not() {
    let logs = captured();
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let url = format!("{}/v1/maintenance", c.url(leader));
    let secret = "wrong-token-0123456789-do-not-log";
    let mut codes = Vec::new();
    for _ in 0..50 {
        let r = c
            .http
            .post(&url)
            .bearer_auth(secret)
            .json(&json!({"on": true}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        codes.push(r.status().as_u16());
    }
    assert!(codes[..10].iter().all(|c| *c == 403), "{codes:?}");
    assert!(codes[10..].iter().all(|c| *c == 429), "{codes:?}");
    let r = c.http.post(&url).json(&json!({"on": true})).send().await;
    assert_eq!(
        r.unwrap().status(),
        429,
        "no token either, while slowed down"
    );
    let (code, b) = c.post(leader, "/v1/maintenance", json!({"on": true})).await;
    assert_eq!(code, 200, "the valid token is not held back: {b}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("API request refused"))
        .collect();
    assert!(
        (1..=3).contains(&lines.len()),
        "about one line a second:\n{}",
        lines.join("\n")
    );
    assert!(lines[0].contains("peer=127.0.0.1"), "{}", lines[0]);
    assert!(lines[0].contains("route=/v1/maintenance"), "{}", lines[0]);
    assert!(!text.contains(secret), "the token is never logged");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_requests_after_a_failover_never_evict_its_record() {
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let id = c.failover(leader).await;
    c.wait_finished(leader, &id).await;
    let mut noops = 0;
    while noops < 22 {
        let l = c.leader().await;
        let (code, b) = c
            .post(
                l,
                "/v1/failover",
                json!({"confirm": true, "operator": "ops"}),
            )
            .await;
        assert!(code == 200 || code == 202 || code == 409, "{code} {b}");
        if b["status"] == "already_complete" {
            noops += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let l = c.leader().await;
    let (code, b) = c.get(l, &format!("/v1/executions/{id}")).await;
    assert_eq!(code, 200, "the failover's record was evicted: {b}");
    let metrics = c.text(l, "/metrics").await;
    assert!(metrics.contains("status=\"completed\"} 1"), "{metrics}");
    c.stop().await;
}
