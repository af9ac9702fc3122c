//! Checks of request input that the body and query types alone do not
//! make: the content type, null fields, the length of the free-text fields
//! (they are replicated to every node, audited and printed by
//! `drctl status`), and the query of `GET /v1/executions`.

// an early HTTP response is the natural error of a request check.
#![allow(clippy::result_large_err)]

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::error;

/// The largest request body accepted on `/v1/*`, in bytes; a larger one is
/// answered 413 before its token is looked at.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// The longest `reason` accepted, in characters (it is stored trimmed).
pub const REASON_MAX_CHARS: usize = 1024;
/// The longest `operator` accepted, in characters (it is stored trimmed).
pub const OPERATOR_MAX_CHARS: usize = 128;
/// The largest `limit` of `GET /v1/executions`.
pub const LIMIT_MAX: usize = 1000;
/// The `limit` of `GET /v1/executions` when none is given.
pub const LIMIT_DEFAULT: usize = 50;

/// Refuses a body that is not declared as JSON (415): a form or plain
/// text is never parsed as a request.
pub(super) fn json_content_type(headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = given.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    let params_ok = parts.all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    });
    if media.eq_ignore_ascii_case("application/json") && params_ok {
        return Ok(());
    }
    let shown = if given.is_empty() { "none" } else { given };
    Err(error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "content-type: must be application/json (optionally with charset=utf-8), got {shown}"
        ),
    ))
}

/// The request body as JSON, checked and tidied: an object whose fields
/// are never null, with `reason` and `operator` non-blank, within [`REASON_MAX_CHARS`] and [`OPERATOR_MAX_CHARS`], and trimmed.
///
/// # Errors
///
/// A sentence naming the field and what it must be.
pub fn checked_body(body: &[u8]) -> Result<Value, String> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))?;
    let Some(fields) = v.as_object_mut() else {
        return Err("request body: must be a JSON object".into());
    };
    for (name, value) in fields.iter_mut() {
        if value.is_null() {
            return Err(format!("{name}: must not be null; leave it out instead"));
        }
        let max = match name.as_str() {
            "reason" => REASON_MAX_CHARS,
            "operator" => OPERATOR_MAX_CHARS,
            _ => continue,
        };
        let Some(text) = value.as_str() else {
            return Err(format!("{name}: must be a string"));
        };
        let trimmed = text.trim_matches(is_blank);
        if trimmed.is_empty() {
            return Err(format!("{name}: must not be empty; leave it out instead"));
        }
        let chars = text.chars().count();
        if chars > max {
            return Err(format!(
                "{name}: at most {max} characters (got {chars}); shorten it"
            ));
        }
        *value = Value::String(trimmed.to_string());
    }
    Ok(v)
}

/// Whether `s` is a duration as the API documents it (the pattern of
/// `accept_data_loss` in docs/openapi.yaml): one to three parts of one to
/// six digits and a unit `s`, `m` or `h`, like `90s`, `20m` or `1h30m`.
pub fn is_plain_duration(s: &str) -> bool {
    let mut parts = 0;
    let mut digits = 0;
    for c in s.chars() {
        match c {
            '0'..='9' if digits < 6 => digits += 1,
            's' | 'm' | 'h' if digits > 0 => {
                digits = 0;
                parts += 1;
            }
            _ => return false,
        }
    }
    digits == 0 && (1..=3).contains(&parts)
}

/// The blanks trimmed from `reason` and `operator`: ASCII whitespace, the
/// class the OpenAPI pattern `[^ \t\n\r\f\v]` excludes, so the document
/// and the check agree on every character.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

/// The query of `GET /v1/executions`.
#[derive(Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this policy's executions.
    pub policy: Option<String>,
    /// At most this many, from 1 to [`LIMIT_MAX`].
    pub limit: usize,
}

impl ListQuery {
    /// Parses the raw query string; `known` are the cluster's policies.
    ///
    /// # Errors
    ///
    /// 400 naming `limit` (not an integer from 1 to [`LIMIT_MAX`]) or a
    /// malformed query; 404 naming the policy when the cluster does not
    /// own it, with the ones it owns.
    pub fn parse<'a>(
        raw: Option<&str>,
        known: impl Iterator<Item = &'a String> + Clone,
    ) -> Result<Self, Response> {
        let mut q = Self {
            policy: None,
            limit: LIMIT_DEFAULT,
        };
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("query: {key}: not valid percent-encoded UTF-8"),
                )
            })?;
            match key {
                "policy" => q.policy = Some(value),
                "limit" => {
                    q.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=LIMIT_MAX).contains(n))
                        .ok_or_else(|| {
                            error(
                                StatusCode::BAD_REQUEST,
                                format!(
                                "limit: must be an integer from 1 to {LIMIT_MAX} (got {value:?})"
                            ),
                            )
                        })?
                }
                _ => {}
            }
        }
        if let Some(p) = &q.policy {
            if !known.clone().any(|k| k == p) {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "policy: {p:?} is not owned by this cluster; it owns {:?}",
                        known.collect::<Vec<_>>()
                    ),
                ));
            }
        }
        Ok(q)
    }
}

/// Percent-decodes a query value (`+` is a space).
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
