use super::*;

fn with(secret: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(SECRET_HEADER, secret.parse().unwrap());
    h
}

#[test]
fn any_accepted_secret_passes_and_nothing_else_does() {
    let accepted: Vec<Arc<str>> = vec!["current-secret-0001".into(), "next-secret-00002".into()];
    assert!(secret_ok(&with("current-secret-0001"), &accepted));
    assert!(secret_ok(&with("next-secret-00002"), &accepted));
    assert!(!secret_ok(&with("current-secret-0002"), &accepted));
    assert!(!secret_ok(&with(""), &accepted));
    assert!(!secret_ok(&HeaderMap::new(), &accepted));
}
