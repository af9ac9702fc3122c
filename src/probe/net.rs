//! Probes over the real network and AWS APIs.

use std::time::Duration;

use tokio::net::TcpStream;

use super::{bounded, database_status, health_check_status, http_probe, ProbeError, Reach};
use crate::cloud::aws::AwsCloud;
use crate::cloud::Database;
use crate::policy::HttpProbe;

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

impl Reach for AwsCloud {
    async fn probe_http(
        &self,
        _site: &str,
        probe: &HttpProbe,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        http_probe(probe, timeout).await
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
