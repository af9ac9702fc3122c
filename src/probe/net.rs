//! Probes over the real network and AWS APIs.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{bounded, database_status, health_check_status, ProbeError, Reach};
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
        health_check_status(Box::pin(self.route53.health_check_status(id)), timeout).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use axum::http::StatusCode;

    use super::*;

    /// The AWS cloud with every API at `endpoint`: test credentials, one
    /// attempt per call.
    fn aws_at(endpoint: &str) -> AwsCloud {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "test",
            )))
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .http_client(http)
            .build();
        AwsCloud::from_sdk_config(&config)
    }

    /// An AWS error document as RDS and Route 53 send it.
    fn aws_error(code: &str) -> String {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>it said so</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
    }

    /// An API endpoint that answers every call with `answer`, changeable.
    async fn api() -> (String, Arc<Mutex<(StatusCode, String)>>) {
        let answer = Arc::new(Mutex::new((StatusCode::OK, String::new())));
        let state = answer.clone();
        let app = axum::Router::new().fallback(move || {
            let (status, body) = state.lock().unwrap().clone();
            async move { (status, [("content-type", "text/xml")], body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, answer)
    }

    #[tokio::test]
    async fn throttled_and_5xx_answers_of_the_aws_apis_are_no_evidence() {
        let (url, answer) = api().await;
        let cloud = aws_at(&url);
        let t = Duration::from_secs(5);
        for (status, body) in [
            (StatusCode::BAD_REQUEST, aws_error("Throttling")),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                aws_error("ServiceUnavailable"),
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                aws_error("InternalFailure"),
            ),
            (StatusCode::BAD_GATEWAY, String::new()),
        ] {
            *answer.lock().unwrap() = (status, body);
            let db = cloud
                .probe_database("us-east-2", "us-east-1", "db", t)
                .await;
            let hc = cloud.probe_health_check("us-east-2", "hc-1", t).await;
            for err in [db.unwrap_err(), hc.unwrap_err()] {
                assert!(err.inconclusive, "{status}: {err}");
                assert!(err.message.contains("no evidence"), "{status}: {err}");
            }
        }
    }

    #[tokio::test]
    async fn an_aws_api_that_does_not_answer_counts_against_the_primary() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let cloud = aws_at(&refused);
        let t = Duration::from_secs(5);
        let db = cloud
            .probe_database("us-east-2", "us-east-1", "db", t)
            .await;
        let hc = cloud.probe_health_check("us-east-2", "hc-1", t).await;
        for err in [db.unwrap_err(), hc.unwrap_err()] {
            assert!(!err.inconclusive, "{err}");
            assert!(err.message.starts_with("no answer from"), "{err}");
        }
        // Accepted but never answered: the probe's own timeout.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cloud = aws_at(&format!("http://{}", silent.local_addr().unwrap()));
        let t = Duration::from_millis(300);
        let err = cloud
            .probe_database("us-east-2", "us-east-1", "db", t)
            .await
            .unwrap_err();
        assert!(!err.inconclusive, "{err}");
        assert_eq!(err.message, "no answer within 300ms");
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
