//! The input checks, one rule at a time.

use axum::http::{HeaderMap, StatusCode};

use super::*;

fn status_of(r: Result<ListQuery, Response>) -> StatusCode {
    r.expect_err("refused").status()
}

#[test]
fn a_long_reason_or_operator_is_refused_naming_the_field_and_the_limit() {
    let long = "x".repeat(REASON_MAX_CHARS + 1);
    let e = checked_body(serde_json::json!({"reason": long}).to_string().as_bytes()).unwrap_err();
    assert!(e.starts_with("reason: at most 1024 characters"), "{e}");
    let long = "y".repeat(OPERATOR_MAX_CHARS + 1);
    let e = checked_body(serde_json::json!({"operator": long}).to_string().as_bytes()).unwrap_err();
    assert!(e.starts_with("operator: at most 128 characters"), "{e}");
    let fits = format!(" {} ", "é".repeat(REASON_MAX_CHARS - 2));
    let v = checked_body(serde_json::json!({"reason": fits}).to_string().as_bytes()).unwrap();
    assert_eq!(
        v["reason"].as_str().unwrap().chars().count(),
        REASON_MAX_CHARS - 2
    );
}

#[test]
fn a_null_or_empty_operator_is_refused_and_an_absent_one_is_not() {
    for body in [
        r#"{"operator": null}"#,
        r#"{"operator": ""}"#,
        r#"{"operator": "  "}"#,
    ] {
        let e = checked_body(body.as_bytes()).unwrap_err();
        assert!(e.starts_with("operator: must not be"), "{body}: {e}");
    }
    let e = checked_body(br#"{"policy": null}"#).unwrap_err();
    assert!(e.starts_with("policy: must not be null"), "{e}");
    let e = checked_body(br#"{"operator": 7}"#).unwrap_err();
    assert!(e.starts_with("operator: must be a string"), "{e}");
    let v = checked_body("{\"operator\": \"\u{85}\"}".as_bytes()).unwrap();
    assert_eq!(
        v["operator"], "\u{85}",
        "only the pattern's blanks count as blank"
    );
    let v = checked_body(br#"{"confirm": true, "operator": " jdoe "}"#).unwrap();
    assert_eq!(v["operator"], "jdoe");
    assert!(checked_body(br#"{"confirm": true}"#).is_ok());
    assert!(checked_body(b"[1]").unwrap_err().contains("JSON object"));
}

#[test]
fn only_a_json_content_type_is_accepted() {
    let with = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert("content-type", v.parse().unwrap());
        json_content_type(&h)
    };
    assert!(with("application/json").is_ok());
    assert!(with("Application/JSON; charset=UTF-8").is_ok());
    for bad in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "application/jsonx",
    ] {
        assert_eq!(
            with(bad).unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{bad}"
        );
    }
    assert_eq!(
        json_content_type(&HeaderMap::new()).unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[test]
fn limit_must_be_from_1_to_the_maximum_and_the_policy_must_exist() {
    let known = ["emr-platform".to_string()];
    let parse = |q: &str| ListQuery::parse(Some(q), known.iter());
    assert_eq!(
        parse("policy=emr-platform&limit=3").unwrap(),
        ListQuery {
            policy: Some("emr-platform".into()),
            limit: 3
        }
    );
    assert_eq!(parse("").unwrap().limit, LIMIT_DEFAULT);
    for bad in ["limit=0", "limit=-1", "limit=abc", "limit=1001", "limit="] {
        assert_eq!(status_of(parse(bad)), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(status_of(parse("policy=nope")), StatusCode::NOT_FOUND);
    assert_eq!(status_of(parse("policy=%ZZ")), StatusCode::BAD_REQUEST);
    assert_eq!(parse("policy=emr%2Dplatform").unwrap().limit, LIMIT_DEFAULT);
}

#[test]
fn durations_follow_the_documented_pattern() {
    for ok in ["90s", "20m", "1h30m", "1h30m15s", "0s"] {
        assert!(is_plain_duration(ok), "{ok}");
    }
    for bad in [
        "", "20", "m", "1 h", "5min", "1h1h1h1h", "1234567s", "-5m", "20m ",
    ] {
        assert!(!is_plain_duration(bad), "{bad}");
    }
}
