//! Node configuration: the shipped local files load; mistakes are named.

use std::path::Path;

use super::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Loads `text` as a config written in the repository root (so the relative
/// policy and secret paths of the shipped files resolve).
fn load_text(text: &str) -> Result<NodeConfig, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.yaml");
    let text = text
        .replace("policies/", &format!("{}/policies/", root().display()))
        .replace(
            "deploy/local/",
            &format!("{}/deploy/local/", root().display()),
        );
    std::fs::write(&path, text).unwrap();
    load(&path)
}

fn shipped(n: u64) -> String {
    std::fs::read_to_string(root().join(format!("deploy/local/node-{n}.yaml"))).unwrap()
}

#[test]
fn the_local_cluster_files_load() {
    for n in 1..=3 {
        let c = load_text(&shipped(n)).unwrap();
        assert_eq!(c.id, n);
        assert_eq!(c.members.len(), 3);
        assert_eq!(c.me().witness, n == 3);
        assert!(c.policies.contains_key("emr-platform"));
        assert_eq!(c.heartbeat, Duration::from_millis(150));
        assert_eq!(
            c.cloud,
            CloudConfig::Sim(SimConfig {
                url: Some("http://127.0.0.1:7100".into()),
                scale: None,
                seed: None
            })
        );
    }
}

#[test]
fn every_problem_is_named_by_field() {
    let text = shipped(1)
        .replace("id: 1\n", "id: 9\n")
        .replace("heartbeat: 150ms", "heartbeat: 900ms")
        .replace("\"http://127.0.0.1:7102\"", "\"127.0.0.1:7102\"")
        .replace("listen: 127.0.0.1:7101", "listen: localhost");
    let e = load_text(&text).unwrap_err().to_string();
    for field in [
        "node.id: 9 is not one of cluster.members",
        "cluster.heartbeat",
        "cluster.members[1].addr",
        "listen:",
    ] {
        assert!(e.contains(field), "{field} missing from:\n{e}");
    }
    assert!(
        e.starts_with(&std::env::temp_dir().display().to_string()),
        "{e}"
    );
}

#[test]
fn unknown_fields_and_missing_secrets_are_refused() {
    let e = load_text(&shipped(2).replace("listen:", "listn: x\nlisten:"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `listn`"), "{e}");
    let e = load_text(&shipped(2).replace("deploy/local/api-token", "/nonexistent/token"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("api.token_file: cannot read /nonexistent/token"),
        "{e}"
    );
}

#[test]
fn two_members_cannot_survive_a_site_loss() {
    let text: String = shipped(1)
        .lines()
        .filter(|l| !l.contains("{id: 3,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let e = load_text(&text).unwrap_err().to_string();
    assert!(e.contains("2 members"), "{e}");
}

#[test]
fn member_keys_and_the_node_key_are_checked() {
    let c = load_text(&shipped(2)).unwrap();
    assert_eq!(c.node_key.public_key().to_string(), local_key(2));
    assert_eq!(c.member_keys.len(), 3);
    assert_eq!(c.max_clock_skew, Duration::from_secs(5));
    // Node 2 given node 1's private key: its public half is not node 2's.
    let text = shipped(2).replace("deploy/local/node-2.key", "deploy/local/node-1.key");
    let e = load_text(&text).unwrap_err().to_string();
    assert!(e.contains("cluster.node_key_file: its public key"), "{e}");
    let text = shipped(2)
        .replace(&format!("keys: [\"{}\"]", local_key(1)), "keys: []")
        .replace(&local_key(3), "AAAA");
    let e = load_text(&text).unwrap_err().to_string();
    assert!(
        e.contains("cluster.members[0].keys: list the member's public key"),
        "{e}"
    );
    assert!(
        e.contains("cluster.members[2].keys[0]: \"AAAA\" is 3 bytes"),
        "{e}"
    );
    let text = shipped(2).replace("deploy/local/node-2.key", "deploy/local/api-token");
    let e = load_text(&text).unwrap_err().to_string();
    assert!(
        e.contains("cluster.node_key_file (DRCTL_NODE_KEY): not"),
        "{e}"
    );
    assert!(!e.contains(&std::fs::read_to_string(root().join("deploy/local/api-token")).unwrap()));
}

/// The first public key listed for member `id` in `text`.
fn first_key(text: &str, id: u64) -> String {
    let file: NodeFile = serde_yaml_ng::from_str(text).unwrap();
    let m = file.cluster.members.iter().find(|m| m.id == id).unwrap();
    m.keys[0].clone()
}

fn k8s_key(site: &str, id: u64) -> String {
    let path = root().join(format!("deploy/k8s/{site}/node.yaml"));
    first_key(&std::fs::read_to_string(path).unwrap(), id)
}

fn local_key(id: u64) -> String {
    first_key(&shipped(id), id)
}

#[test]
fn the_kubernetes_site_files_load() {
    for (site, id) in [("us-east-1", 1), ("us-west-2", 2), ("us-east-2-witness", 3)] {
        let text = std::fs::read_to_string(root().join(format!("deploy/k8s/{site}/node.yaml")))
            .unwrap()
            .replace(
                "/var/run/drctl/cluster/secret",
                "deploy/local/cluster-secret",
            )
            .replace("/var/run/drctl/api/token", "deploy/local/api-token")
            .replace(
                "/var/run/drctl/node/key",
                &format!("deploy/local/node-{id}.key"),
            )
            .replace("/etc/drctl/policies/", "policies/");
        // The shipped keys are examples without private halves: list the
        // local demo's key of this node in their place.
        let text = text.replace(&k8s_key(site, id), &local_key(id));
        let c = load_text(&text).unwrap_or_else(|e| panic!("{site}: {e}"));
        assert_eq!(c.id, id);
        assert_eq!(c.cloud, CloudConfig::Aws);
        assert_eq!(c.me().witness, id == 3);
    }
}

#[test]
fn further_accepted_secrets_are_read_and_named_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let next = dir.path().join("next");
    std::fs::write(&next, "the-next-cluster-secret\n").unwrap();
    let text = shipped(1).replace(
        "  secret_file: deploy/local/cluster-secret\n",
        &format!(
            "  secret_file: deploy/local/cluster-secret\n  accept_secret_files: [{}]\n",
            next.display()
        ),
    );
    let c = load_text(&text).unwrap();
    assert_eq!(c.accepted_secrets.len(), 2);
    assert_eq!(&*c.accepted_secrets[0], &*c.secret);
    assert_eq!(&*c.accepted_secrets[1], "the-next-cluster-secret");
    let e = load_text(&text.replace(&next.display().to_string(), "/nonexistent/next"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cluster.accept_secret_files[0]: cannot read /nonexistent/next"),
        "{e}"
    );
}

#[test]
fn a_site_that_is_not_a_region_is_refused_naming_the_member() {
    let long = "x".repeat(5000);
    for bad in ["../escaped", "us-east-1/../x", "us-east-1\0", long.as_str()] {
        let text = shipped(1).replace(
            "site: us-west-2,",
            &format!("site: {},", serde_json::to_string(bad).unwrap()),
        );
        let e = load_text(&text).unwrap_err().to_string();
        assert!(
            e.contains("cluster.members[1].site: ") && e.contains("is not a valid site"),
            "{bad:?}: {e}"
        );
        assert!(e.len() < 600, "the value is cut when shown: {e}");
    }
}

#[test]
fn debug_of_a_node_configuration_masks_its_secrets() {
    let c = load_text(&shipped(1)).unwrap();
    let debug = format!("{c:?} {c:#?}");
    for secret in [&*c.secret, &*c.token] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("secret: \"***\""), "{debug}");
}

#[test]
fn notifications_in_the_node_file_load_and_their_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("slack-url");
    let secret_url = "https://hooks.slack.com/services/T0/B0/a-secret-token";
    std::fs::write(&url, secret_url).unwrap();
    let section = format!(
        "notifications:\n  receivers:\n    - {{name: slack, kind: slack, url_file: {}}}\n",
        url.display()
    );
    let c = load_text(&format!("{}{section}", shipped(1))).unwrap();
    assert_eq!(c.notifications.receivers.len(), 1);
    assert_eq!(&*c.notifications.receivers[0].url.0, secret_url);
    let debug = format!("{c:?}");
    assert!(!debug.contains("a-secret-token"), "{debug}");
    let text =
        format!("{}{section}", shipped(1)).replace(&url.display().to_string(), "/nonexistent/url");
    let e = load_text(&text).unwrap_err().to_string();
    assert!(
        e.contains("notifications.receivers[0].url_file: cannot read /nonexistent/url"),
        "{e}"
    );
}
