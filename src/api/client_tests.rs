use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::api::views::{AcknowledgeBody, FailoverBody};

/// A member that accepts connections and never answers (a controller
/// stopped with `kill -STOP`: the kernel still accepts).
async fn hung() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

/// A member that answers every request with `code` and `body`, counting
/// the requests.
async fn answering(code: u16, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 8192];
            let _ = s.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, count)
}

/// A URL where nothing listens.
async fn refused() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

const ONE_S: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_read_moves_on_from_a_member_that_never_answers() {
    let stuck = hung().await;
    let (good, _) = answering(200, r#"{"ok":true}"#).await;
    let c = Controllers::new(&[stuck, good.clone()], ONE_S);
    let started = tokio::time::Instant::now();
    let (url, v): (String, serde_json::Value) = c.get("/v1/status").await.unwrap();
    assert_eq!(url, good);
    assert_eq!(v["ok"], true);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_member_that_never_answers_is_named_with_the_timeout() {
    let stuck = hung().await;
    let c = Controllers::new(std::slice::from_ref(&stuck), ONE_S);
    let e = c
        .get::<serde_json::Value>("/v1/status")
        .await
        .unwrap_err()
        .message;
    assert!(
        e.contains(&format!("no answer from {stuck} within 1s")),
        "{e}"
    );
}

#[tokio::test]
async fn a_failover_is_repeated_elsewhere_after_a_timeout_but_not_another_action() {
    let stuck = hung().await;
    let (good, count) = answering(202, r#"{"execution_id":"x"}"#).await;
    let c = Controllers::new(&[stuck.clone(), good.clone()], ONE_S);
    let body = serde_json::json!({});
    let a = c
        .post::<serde_json::Value>("/v1/failover", "t", &body, Repeat::Harmless)
        .await
        .unwrap();
    assert_eq!((a.url.as_str(), a.code), (good.as_str(), 202));
    let e = c
        .post::<serde_json::Value>("/v1/acknowledge", "t", &body, Repeat::NeverAfterSent)
        .await
        .unwrap_err()
        .message;
    assert!(e.contains(&format!("no answer from {stuck}")), "{e}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "acknowledge was repeated");
}

#[tokio::test]
async fn an_action_moves_on_when_not_sent_or_when_the_member_has_no_leader() {
    let down = refused().await;
    let (no_leader, _) = answering(
        503,
        r#"{"error":"no leader: this node cannot reach a majority"}"#,
    )
    .await;
    let (good, _) = answering(200, r#"{"acknowledged":"x"}"#).await;
    let c = Controllers::new(&[down, no_leader, good.clone()], ONE_S);
    let a = c
        .post::<serde_json::Value>(
            "/v1/acknowledge",
            "t",
            &serde_json::json!({}),
            Repeat::NeverAfterSent,
        )
        .await
        .unwrap();
    assert_eq!((a.url.as_str(), a.code), (good.as_str(), 200));
}

#[tokio::test]
async fn a_503_that_may_have_been_recorded_is_returned_not_repeated() {
    let (busy, _) = answering(503, r#"{"error":"not committed within 5s"}"#).await;
    let (good, count) = answering(200, "{}").await;
    let c = Controllers::new(&[busy.clone(), good], ONE_S);
    let a = c
        .post::<serde_json::Value>(
            "/v1/maintenance",
            "t",
            &serde_json::json!({}),
            Repeat::NeverAfterSent,
        )
        .await
        .unwrap();
    assert_eq!((a.url.as_str(), a.code), (busy.as_str(), 503));
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_typed_reads_answer_with_the_views_and_say_when_nothing_is_there() {
    let (good, _) = answering(
        200,
        r#"{"executions":[{"id":"e1","policy":"p","status":"completed","started_at":"2026-01-01T00:00:00Z","requested_by":"api","reason":null,"summary":null,"steps_done":3,"steps_total":3,"owner_term":2,"resumed":0}]}"#,
    )
    .await;
    let (_, list) = Controllers::new(std::slice::from_ref(&good), ONE_S)
        .executions(Some(5))
        .await
        .unwrap();
    assert_eq!(list.executions.len(), 1);
    assert_eq!(list.executions[0].id, "e1");
    assert_eq!(list.executions[0].owner_term, 2);

    let (missing, _) = answering(404, r#"{"error":"no execution \"x\""}"#).await;
    let (other, _) = answering(200, r#"{"hello":"world"}"#).await;
    let e = Controllers::new(std::slice::from_ref(&missing), ONE_S)
        .execution("x")
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::NotFound, "{e}");
    let e = Controllers::new(&[missing, other.clone()], ONE_S)
        .execution("x")
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::NotController, "{e}");
    assert!(
        e.message
            .contains(&format!("{other}: not a drctl controller")),
        "{e}"
    );
    let down = refused().await;
    let e = Controllers::new(std::slice::from_ref(&down), ONE_S)
        .status()
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Unavailable, "{e}");

    let (alive, _) = answering(200, r#"{"status":"ok"}"#).await;
    let (url, health) = Controllers::new(&[down, alive.clone()], ONE_S)
        .healthz()
        .await
        .unwrap();
    assert_eq!((url, health.status.as_str()), (alive, "ok"));
}

#[tokio::test]
async fn a_typed_action_answers_with_its_reply_or_the_error_the_member_sent() {
    let (ok, _) = answering(200, r#"{"policy":"p","acknowledged":"e1"}"#).await;
    let body = AcknowledgeBody {
        policy: None,
        reason: None,
        operator: Some("ops".into()),
    };
    let a = Controllers::new(&[ok], ONE_S)
        .acknowledge("t", &body)
        .await
        .unwrap();
    let reply = a.reply.unwrap();
    assert_eq!(reply.acknowledged.as_deref(), Some("e1"));
    assert_eq!(reply.policy, "p");

    let (running, _) = answering(
        409,
        r#"{"error":"execution e2 of this policy is running","execution_id":"e2"}"#,
    )
    .await;
    let a = Controllers::new(&[running], ONE_S)
        .failover("t", &FailoverBody::default())
        .await
        .unwrap();
    assert_eq!(a.code, 409);
    let e = a.reply.unwrap_err();
    assert_eq!(e.execution_id.as_deref(), Some("e2"));
    assert!(e.error.starts_with("execution e2"), "{e:?}");
}
