use super::*;

const SECRET: &str = "cluster-secret-0123456789";
const NOW: u64 = 1_800_000_000_000;

fn signer(id: NodeId) -> Signer {
    Signer {
        id,
        key: Arc::new(NodeKey::generate().unwrap().0),
        secret: SECRET.into(),
    }
}

fn verifier(keys: &[(NodeId, Vec<PublicKey>)]) -> Verifier {
    Verifier {
        keys: keys.iter().cloned().collect(),
        secrets: vec![Arc::<str>::from(SECRET)].into(),
        skew: CLOCK_SKEW_DEFAULT,
    }
}

fn signed(s: &Signer, path: &str, body: &[u8], at: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in s.headers("POST", path, body, at) {
        h.insert(k, v.parse().unwrap());
    }
    h
}

#[test]
fn a_call_signed_by_a_listed_key_names_its_sender() {
    let s = signer(2);
    let v = verifier(&[(2, vec![s.key.public_key()])]);
    let h = signed(&s, "/raft/append", b"{}", NOW);
    assert_eq!(v.verify("POST", "/raft/append", &h, b"{}", NOW + 10), Ok(2));
}

#[test]
fn a_call_signed_with_a_wrong_key_is_refused() {
    let s = signer(2);
    let other = NodeKey::generate().unwrap().0;
    let v = verifier(&[(2, vec![other.public_key()])]);
    let h = signed(&s, "/raft/append", b"{}", NOW);
    assert_eq!(
        v.verify("POST", "/raft/append", &h, b"{}", NOW),
        Err(AuthError::Signature(2))
    );
}

#[test]
fn a_node_claiming_to_be_another_is_refused() {
    // The witness (3) signs with its own key but claims node 1.
    let witness = signer(3);
    let one = signer(1);
    let v = verifier(&[
        (1, vec![one.key.public_key()]),
        (3, vec![witness.key.public_key()]),
    ]);
    let mut h = signed(&witness, "/raft/observe", b"{}", NOW);
    h.insert(NODE_HEADER, "1".parse().unwrap());
    assert_eq!(
        v.verify("POST", "/raft/observe", &h, b"{}", NOW),
        Err(AuthError::Signature(1))
    );
}

#[test]
fn a_changed_body_path_or_time_breaks_the_signature() {
    let s = signer(1);
    let v = verifier(&[(1, vec![s.key.public_key()])]);
    let h = signed(&s, "/raft/vote", b"{\"a\":1}", NOW);
    assert!(v
        .verify("POST", "/raft/vote", &h, b"{\"a\":2}", NOW)
        .is_err());
    assert!(v
        .verify("POST", "/raft/append", &h, b"{\"a\":1}", NOW)
        .is_err());
    let mut later = h.clone();
    later.insert(TIME_HEADER, (NOW + 1).to_string().parse().unwrap());
    assert_eq!(
        v.verify("POST", "/raft/vote", &later, b"{\"a\":1}", NOW),
        Err(AuthError::Signature(1))
    );
}

#[test]
fn calls_stamped_outside_the_skew_bound_are_refused_as_replays() {
    let s = signer(1);
    let v = verifier(&[(1, vec![s.key.public_key()])]);
    let h = signed(&s, "/raft/vote", b"", NOW);
    assert!(v.verify("POST", "/raft/vote", &h, b"", NOW + 5_000).is_ok());
    assert!(matches!(
        v.verify("POST", "/raft/vote", &h, b"", NOW + 5_001),
        Err(AuthError::Skew { off_ms: 5_001, .. })
    ));
    assert!(matches!(
        v.verify("POST", "/raft/vote", &h, b"", NOW - 60_000),
        Err(AuthError::Skew { .. })
    ));
}

#[test]
fn during_a_rotation_either_listed_key_is_accepted() {
    let old = signer(2);
    let new = Signer {
        key: Arc::new(NodeKey::generate().unwrap().0),
        ..old.clone()
    };
    let v = verifier(&[(2, vec![old.key.public_key(), new.key.public_key()])]);
    for s in [&old, &new] {
        let h = signed(s, "/raft/append", b"x", NOW);
        assert_eq!(v.verify("POST", "/raft/append", &h, b"x", NOW), Ok(2));
    }
}

#[test]
fn unknown_senders_missing_headers_and_wrong_secrets_are_refused() {
    let s = signer(4);
    let v = verifier(&[(1, vec![signer(1).key.public_key()])]);
    let h = signed(&s, "/raft/vote", b"", NOW);
    assert_eq!(
        v.verify("POST", "/raft/vote", &h, b"", NOW),
        Err(AuthError::UnknownNode(4))
    );
    let mut no_sig = h.clone();
    no_sig.remove(SIGNATURE_HEADER);
    assert_eq!(
        v.verify("POST", "/raft/vote", &no_sig, b"", NOW),
        Err(AuthError::Header(SIGNATURE_HEADER))
    );
    let mut bad_secret = h;
    bad_secret.insert(SECRET_HEADER, "another-secret-0000000".parse().unwrap());
    assert_eq!(
        v.verify("POST", "/raft/vote", &bad_secret, b"", NOW),
        Err(AuthError::Secret)
    );
}

#[test]
fn keys_round_trip_through_their_text_and_debug_hides_the_private_key() {
    let (k, pem) = NodeKey::generate().unwrap();
    assert!(pem.starts_with(PEM_BEGIN));
    let again = NodeKey::from_pem(&pem).unwrap();
    assert_eq!(k.public_key(), again.public_key());
    let text = k.public_key().to_string();
    assert_eq!(text.parse::<PublicKey>().unwrap(), k.public_key());
    assert!(!format!("{k:?}").contains(pem.lines().nth(1).unwrap()));
    assert!("AAAA".parse::<PublicKey>().unwrap_err().contains("32"));
    assert!(NodeKey::from_pem("not a key").is_err());
}
