//! Probes over the real network and AWS APIs.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{bounded, cloud_failure, database_status, ProbeError, Reach};
use crate::cloud::aws::AwsCloud;
use crate::cloud::Database;

/// `GET url` with `client`; passes on a 2xx status.
pub async fn http_get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<String, ProbeError> {
    bounded(timeout, async {
        let resp = client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ProbeError::from(error_chain(&e)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(format!("HTTP {}", status.as_u16()))
        } else {
            Err(format!("HTTP {}", status.as_u16()).into())
        }
    })
    .await
}

/// Opens and closes a TCP connection to `addr`.
pub async fn tcp_connect(addr: &str, timeout: Duration) -> Result<String, ProbeError> {
    bounded(timeout, async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ProbeError::from(e.to_string()))?;
        let peer = stream
            .peer_addr()
            .map_err(|e| ProbeError::from(e.to_string()))?;
        Ok(format!("connected to {peer}"))
    })
    .await
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The client probes share: no redirects followed (a health endpoint that
/// redirects is not answering), no connection reuse across rounds.
pub fn probe_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client with these settings always builds")
    })
}

impl Reach for AwsCloud {
    async fn probe_http(
        &self,
        _site: &str,
        url: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        http_get(probe_client(), url, timeout).await
    }

    async fn probe_tcp(
        &self,
        _site: &str,
        addr: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        tcp_connect(addr, timeout).await
    }

    async fn probe_database(
        &self,
        _site: &str,
        region: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        database_status(self.get_database(region, id), timeout).await
    }

    async fn probe_health_check(
        &self,
        _site: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        bounded(timeout, async {
            let (healthy, total) = Box::pin(self.route53.health_check_status(id))
                .await
                .map_err(cloud_failure)?;
            let seen = format!("{healthy} of {total} checkers healthy");
            if total > 0 && healthy * 2 > total {
                Ok(seen)
            } else {
                Err(seen.into())
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let t = Duration::from_millis(300);
        let c = probe_client();
        assert_eq!(
            http_get(c, &format!("http://{addr}/health"), t).await,
            Ok("HTTP 200".into())
        );
        assert_eq!(
            http_get(c, &format!("http://{addr}/sick"), t).await,
            Err("HTTP 503".into())
        );
        let slow = http_get(c, &format!("http://{addr}/slow"), t)
            .await
            .unwrap_err()
            .message;
        assert!(
            slow.contains("timed out") || slow.contains("no answer within"),
            "{slow}"
        );
        server.abort();
        let _ = server.await;
        let gone = http_get(c, &format!("http://{addr}/health"), t)
            .await
            .unwrap_err()
            .message;
        assert!(gone.contains("onnect"), "{gone}");
    }

    #[tokio::test]
    async fn tcp_passes_while_something_listens() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let t = Duration::from_millis(300);
        assert!(tcp_connect(&addr, t)
            .await
            .unwrap()
            .starts_with("connected to"));
        drop(listener);
        let refused = tcp_connect(&addr, t).await.unwrap_err().message;
        assert!(refused.to_lowercase().contains("refused"), "{refused}");
    }
}
