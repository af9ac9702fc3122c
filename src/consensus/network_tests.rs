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

#[test]
fn a_full_snapshot_chunk_fits_the_raft_body_limit_twice_over() {
    let req = InstallSnapshotRequest::<TypeConfig> {
        vote: openraft::Vote::default(),
        meta: openraft::SnapshotMeta::default(),
        offset: 0,
        data: vec![255; SNAPSHOT_CHUNK as usize],
        done: false,
    };
    let encoded = serde_json::to_vec(&req).unwrap().len();
    assert!(
        encoded * 2 <= RAFT_BODY_LIMIT,
        "a chunk encodes to {encoded} bytes; the limit is {RAFT_BODY_LIMIT}"
    );
}
