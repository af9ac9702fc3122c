//! The HTTP probe against local servers: plain HTTP (axum), and a TLS
//! server whose certificate, from a test CA, covers a name other than the
//! address the probe connects to, as a load balancer's does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// The name the test server's certificate covers.
const NAME: &str = "api.drctl.test";

const T: Duration = Duration::from_secs(2);

/// What the TLS server saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    sni: Option<String>,
    host: Option<String>,
}

/// A TLS server on 127.0.0.1 answering `200 ok` to any request, with a
/// certificate for [`NAME`] only.
struct TlsServer {
    addr: SocketAddr,
    ca: Certificate,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_server() -> TlsServer {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "drctl test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![NAME.to_string()])
        .unwrap()
        .signed_by(&key, &*ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let host = head.lines().find_map(|line| {
                    let (k, v) = line.split_once(':')?;
                    k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
                });
                log.lock().unwrap().push(Seen { sni, host });
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        addr,
        ca: Certificate::from_der(ca.der()).unwrap(),
        seen,
        task,
    }
}

impl TlsServer {
    fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

fn probe(url: String, server_name: Option<&str>, host: Option<&str>, verify: bool) -> HttpProbe {
    HttpProbe {
        url,
        server_name: server_name.map(str::to_owned),
        host: host.map(str::to_owned),
        tls_verify: verify,
    }
}

#[tokio::test]
async fn a_load_balancer_passes_when_probed_as_the_name_its_certificate_covers() {
    let s = tls_server().await;
    // Connect to an address (and, below, a name) the certificate does not
    // cover, as to a load balancer's own DNS name.
    for at in ["127.0.0.1", "localhost"] {
        let p = probe(
            format!("https://{at}:{}/health", s.addr.port()),
            Some(NAME),
            None,
            true,
        );
        let seen = check(&p, T, std::slice::from_ref(&s.ca)).await;
        assert_eq!(
            seen,
            Ok(format!("HTTP 200; TLS certificate verified for {NAME}")),
            "{at}"
        );
        assert_eq!(
            s.last(),
            Seen {
                sni: Some(NAME.into()),
                host: Some(format!("{NAME}:{}", s.addr.port())),
            }
        );
    }
}

#[tokio::test]
async fn without_the_server_name_the_certificate_fails_the_probe() {
    let s = tls_server().await;
    let url = format!("https://127.0.0.1:{}/health", s.addr.port());
    let err = check(
        &probe(url.clone(), None, None, true),
        T,
        std::slice::from_ref(&s.ca),
    )
    .await
    .unwrap_err();
    assert!(!err.inconclusive);
    assert!(err.message.contains("certificate"), "{err}");
    // A name the certificate does not cover fails the same way.
    let other = probe(url, Some("www.drctl.test"), None, true);
    let err = check(&other, T, std::slice::from_ref(&s.ca))
        .await
        .unwrap_err();
    assert!(err.message.contains("certificate"), "{err}");
    assert!(s.seen.lock().unwrap().is_empty(), "no request was sent");
}

#[tokio::test]
async fn tls_verify_false_passes_and_every_result_says_so() {
    let s = tls_server().await;
    let p = probe(
        format!("https://127.0.0.1:{}/health", s.addr.port()),
        None,
        None,
        false,
    );
    // No test CA either: nothing about the certificate is checked.
    let seen = http_probe(&p, T).await;
    assert_eq!(
        seen,
        Ok("HTTP 200; TLS certificate NOT verified (tls_verify: false)".into())
    );
    assert_eq!(
        p.to_string(),
        format!(
            "https://127.0.0.1:{}/health (certificate not verified)",
            s.addr.port()
        )
    );
    drop(s);
    let gone = http_probe(&p, T).await.unwrap_err().message;
    assert!(gone.ends_with("NOT verified (tls_verify: false)"), "{gone}");
}

#[tokio::test]
async fn the_host_header_arrives_as_configured() {
    let s = tls_server().await;
    let url = format!("https://127.0.0.1:{}/health", s.addr.port());
    let p = probe(url.clone(), Some(NAME), Some("www.drctl.test"), true);
    assert!(check(&p, T, std::slice::from_ref(&s.ca)).await.is_ok());
    assert_eq!(
        s.last(),
        Seen {
            sni: Some(NAME.into()),
            host: Some("www.drctl.test".into()),
        }
    );
    assert_eq!(
        p.to_string(),
        format!("{url} (as {NAME}, Host www.drctl.test)")
    );
    // Without a server name, the Host header alone changes.
    let p = probe(url, None, Some(NAME), false);
    assert!(http_probe(&p, T).await.is_ok());
    assert_eq!(s.last().host.as_deref(), Some(NAME));
}

#[tokio::test]
async fn http_passes_on_2xx_and_fails_otherwise_naming_why() {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/sick",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "no") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let t = Duration::from_millis(300);
    let get = |path: &str| HttpProbe::url(format!("http://{addr}{path}"));
    assert_eq!(http_probe(&get("/health"), t).await, Ok("HTTP 200".into()));
    assert_eq!(http_probe(&get("/sick"), t).await, Err("HTTP 503".into()));
    let slow = http_probe(&get("/slow"), t).await.unwrap_err().message;
    assert!(
        slow.contains("timed out") || slow.contains("no answer within"),
        "{slow}"
    );
    server.abort();
    let _ = server.await;
    let gone = http_probe(&get("/health"), t).await.unwrap_err().message;
    assert!(gone.contains("onnect"), "{gone}");
}
