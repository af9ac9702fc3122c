//! Every error of the API is JSON: `{"error": "..."}`. The handlers answer
//! so themselves; this middleware rewrites the answers axum makes on its
//! own (an unknown route, a wrong method, a body over the limit, a path it
//! cannot decode) into the same shape. The node-to-node routes
//! (`/raft/*`) are left as they are.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::input::BODY_MAX_BYTES;

/// The most of a plain-text error body quoted in the JSON one.
const QUOTED_MAX_BYTES: usize = 4 * 1024;

/// Turns an error answer that is not JSON into `{"error": ...}`, keeping
/// its status and headers (such as `Allow` on a 405).
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || path.starts_with("/raft/")
        || is_json(&resp)
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, QUOTED_MAX_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let allow = parts
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let message = sentence(status, &method, &path, &allow, &text);
    let json = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json)).into_response()
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// What went wrong and what to do, for the answers axum makes.
fn sentence(status: StatusCode, method: &Method, path: &str, allow: &str, text: &str) -> String {
    match status {
        StatusCode::NOT_FOUND if text.is_empty() => {
            format!("no route {method} {path}: GET /v1/openapi.yaml lists the routes")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("method {method} is not allowed on {path}; allowed: {allow}")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body: larger than the limit of {BODY_MAX_BYTES} bytes")
        }
        _ if text.is_empty() => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        ),
        _ => format!("{text}; see GET /v1/openapi.yaml"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    #[test]
    fn axum_s_own_answers_become_sentences() {
        let s = |st, t| super::sentence(st, &Method::PUT, "/v1/status", "GET,HEAD", t);
        assert!(s(StatusCode::NOT_FOUND, "").starts_with("no route PUT /v1/status"));
        assert_eq!(
            s(StatusCode::METHOD_NOT_ALLOWED, ""),
            "method PUT is not allowed on /v1/status; allowed: GET,HEAD"
        );
        assert!(s(StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").contains("65536"));
        assert!(s(StatusCode::BAD_REQUEST, "Invalid URL").starts_with("Invalid URL"));
    }
}
