//! The Kubernetes manifests in deploy/k8s keep their safety properties:
//! no site can fall back to the node's instance role, and the
//! NetworkPolicies admit and let out only what a site needs.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

const SITES: [&str; 3] = ["us-east-1", "us-west-2", "us-east-2-witness"];

fn k8s(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/k8s")
        .join(file)
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(k8s(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn seq<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("{key} is not a list in {v:?}"))
}

#[test]
fn every_site_disables_the_instance_metadata_service() {
    let sts = yaml("base/statefulset.yaml");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    let env = seq(container, "env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "AWS_EC2_METADATA_DISABLED" && e["value"] == "true"),
        "{env:?}"
    );
    for site in SITES {
        let k = yaml(&format!("{site}/kustomization.yaml"));
        assert!(
            seq(&k, "resources").iter().any(|r| r == "../base"),
            "{site}"
        );
        // No overlay takes the base's env away or sets the variable again.
        let text = std::fs::read_to_string(k8s(&format!("{site}/kustomization.yaml"))).unwrap();
        assert!(
            !text.contains("op: remove")
                && !text
                    .contains("op: replace\n        path: /spec/template/spec/containers/0/env"),
            "{site}"
        );
        assert!(!text.contains("name: AWS_EC2_METADATA_DISABLED"), "{site}");
    }
}

/// Checks one NetworkPolicy: every ingress rule names its sources, egress
/// is restricted, every egress rule names its destinations.
fn restricted(file: &str) -> Value {
    let np = yaml(file);
    let spec = &np["spec"];
    let types = seq(spec, "policyTypes");
    assert!(
        types.iter().any(|t| t == "Ingress") && types.iter().any(|t| t == "Egress"),
        "{file}"
    );
    for rule in seq(spec, "ingress") {
        let from = rule["from"].as_sequence();
        assert!(
            from.is_some_and(|f| !f.is_empty()),
            "{file}: ingress from anywhere: {rule:?}"
        );
        assert!(!seq(rule, "ports").is_empty(), "{file}: {rule:?}");
    }
    let egress = seq(spec, "egress");
    assert!(!egress.is_empty(), "{file}: no egress rule");
    for rule in egress {
        let to = rule["to"].as_sequence();
        assert!(
            to.is_some_and(|t| !t.is_empty()),
            "{file}: egress anywhere: {rule:?}"
        );
        assert!(
            !seq(rule, "ports").is_empty(),
            "{file}: egress on every port: {rule:?}"
        );
    }
    np
}

fn ports(rule: &Value) -> Vec<i64> {
    seq(rule, "ports")
        .iter()
        .filter_map(|p| p["port"].as_i64())
        .collect()
}

#[test]
fn the_base_network_policy_admits_clients_and_lets_out_dns_aws_and_the_data_tiers() {
    let np = restricted("base/networkpolicy.yaml");
    let ingress = seq(&np["spec"], "ingress");
    for rule in ingress {
        assert_eq!(ports(rule), [7100]);
        for from in seq(rule, "from") {
            assert!(
                from.get("ipBlock").is_none(),
                "no address is admitted in the base: {from:?}"
            );
            assert_eq!(
                from["podSelector"]["matchLabels"]["drctl.io/client"],
                "true"
            );
        }
    }
    let egress = seq(&np["spec"], "egress");
    let all: Vec<i64> = egress.iter().flat_map(ports).collect();
    for want in [53, 443, 5432, 6379] {
        assert!(all.contains(&want), "egress to {want} missing: {all:?}");
    }
    let dns = egress.iter().find(|r| ports(r).contains(&53)).unwrap();
    assert_eq!(
        dns["to"][0]["podSelector"]["matchLabels"]["k8s-app"],
        "kube-dns"
    );
}

#[test]
fn each_site_admits_the_raft_port_from_the_other_sites_only() {
    let cidr = |r: &Value| -> Vec<String> {
        r.as_sequence()
            .unwrap()
            .iter()
            .map(|b| b["ipBlock"]["cidr"].as_str().unwrap().to_string())
            .collect()
    };
    for site in SITES {
        let k = yaml(&format!("{site}/kustomization.yaml"));
        assert!(
            seq(&k, "resources")
                .iter()
                .any(|r| r == "networkpolicy-peers.yaml"),
            "{site}"
        );
        let np = restricted(&format!("{site}/networkpolicy-peers.yaml"));
        for rule in seq(&np["spec"], "ingress")
            .iter()
            .chain(seq(&np["spec"], "egress"))
        {
            assert_eq!(ports(rule), [7100], "{site}");
        }
        let from = cidr(&np["spec"]["ingress"][0]["from"]);
        let to = cidr(&np["spec"]["egress"][0]["to"]);
        assert!(
            !from.iter().chain(&to).any(|c| c == "0.0.0.0/0"),
            "{site}: {from:?} {to:?}"
        );
        // The NLB's source ranges list this VPC first; its whole CIDR would
        // admit every pod of the cluster.
        let nlb = yaml(&format!("{site}/service-nlb.yaml"));
        let own = seq(&nlb["spec"], "loadBalancerSourceRanges")[0]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            !from.contains(&own) && !to.contains(&own),
            "{site}: {own} admitted"
        );
        assert_eq!(to.len(), 2, "{site}: the other two sites");
    }
}

#[test]
fn the_disruption_budget_lets_a_drain_evict_a_sites_single_pod() {
    let sts = yaml("base/statefulset.yaml");
    assert_eq!(sts["spec"]["replicas"].as_i64(), Some(1));
    let pdb = yaml("base/pdb.yaml");
    let spec = &pdb["spec"];
    // minAvailable 1 on one replica blocks every eviction: a drain never ends.
    assert!(spec["minAvailable"].is_null(), "{spec:?}");
    assert_eq!(spec["maxUnavailable"].as_i64(), Some(1), "{spec:?}");
}

/// Every Service of the controller pods, split from its file.
fn services() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files = vec!["base/service.yaml".to_string()];
    files.extend(SITES.map(|s| format!("{s}/service-nlb.yaml")));
    for file in files {
        let text = std::fs::read_to_string(k8s(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
            if v["kind"] == "Service" {
                out.push((
                    format!("{file}: {}", v["metadata"]["name"].as_str().unwrap()),
                    v,
                ));
            }
        }
    }
    out
}

#[test]
fn a_site_cut_off_from_the_majority_still_answers_drctl_status_through_its_service() {
    let services = services();
    // The ClusterIP Service the CLI uses, the headless one and each site's NLB.
    assert_eq!(services.len(), 2 + SITES.len(), "{services:?}");
    let cluster_ip = services
        .iter()
        .find(|(name, _)| name == "base/service.yaml: drctl")
        .expect("the drctl ClusterIP Service");
    assert_eq!(cluster_ip.1["spec"]["type"], "ClusterIP");
    for (name, svc) in &services {
        // A node with no leader is not ready; a Service that dropped it would
        // leave nothing to answer in that site.
        assert_eq!(
            svc["spec"]["publishNotReadyAddresses"].as_bool(),
            Some(true),
            "{name}"
        );
        assert_eq!(
            svc["spec"]["selector"]["app.kubernetes.io/name"], "drctl",
            "{name}"
        );
    }
    // Readiness still says whether the node has a leader (it paces rollouts),
    // and liveness never does: a cut-off node must not be restarted.
    let sts = yaml("base/statefulset.yaml");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    // One replica per site: the Service's only endpoint is the site's own
    // node, so no ready node elsewhere could answer in its place.
    assert_eq!(sts["spec"]["replicas"].as_i64(), Some(1));
}

/// The `notifications:` example of a site's node file, uncommented.
fn commented_notifications(site: &str) -> Value {
    let text = std::fs::read_to_string(k8s(&format!("{site}/node.yaml"))).unwrap();
    let mut block = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "# notifications:" {
            inside = true;
        } else if inside && !line.starts_with("#  ") {
            break;
        }
        if inside {
            block.push_str(line.trim_start_matches("# "));
            block.push('\n');
        }
    }
    assert!(
        !block.is_empty(),
        "{site}/node.yaml: no notifications example"
    );
    serde_yaml_ng::from_str(&block).unwrap_or_else(|e| panic!("{site}: {e}\n{block}"))
}

#[test]
fn the_notification_secrets_the_node_files_read_are_the_ones_mounted() {
    let secret = yaml("base/notifications-secret.example.yaml");
    assert_eq!(secret["kind"], "Secret");
    let name = secret["metadata"]["name"].as_str().unwrap();
    let keys: Vec<&str> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["slack-url", "pagerduty-routing-key", "webhook-url"]);
    // The example is not applied: Secrets are created by hand.
    let base = yaml("base/kustomization.yaml");
    assert!(!seq(&base, "resources")
        .iter()
        .any(|r| r == "notifications-secret.example.yaml"));

    let sts = yaml("base/statefulset.yaml");
    let pod = &sts["spec"]["template"]["spec"];
    let volume = seq(pod, "volumes")
        .iter()
        .find(|v| v["secret"]["secretName"] == name)
        .unwrap_or_else(|| panic!("no volume of Secret {name}"));
    assert_eq!(volume["secret"]["optional"], true, "{volume:?}");
    let mount = seq(&pod["containers"][0], "volumeMounts")
        .iter()
        .find(|m| m["name"] == volume["name"])
        .unwrap_or_else(|| panic!("volume {:?} not mounted", volume["name"]));
    assert_eq!(mount["readOnly"], true);
    let dir = mount["mountPath"].as_str().unwrap();

    for site in SITES {
        let n = commented_notifications(site);
        // It is a valid `notifications:` section as the node file reads it.
        let section: drctl::notify::config::NotificationsSection =
            serde_yaml_ng::from_value(n["notifications"].clone())
                .unwrap_or_else(|e| panic!("{site}: {e}"));
        let mut read: Vec<&str> = Vec::new();
        for r in &section.receivers {
            let files = [r.url_file.as_ref(), r.routing_key_file.as_ref()];
            for f in files.into_iter().flatten() {
                let key = f
                    .strip_prefix(dir)
                    .unwrap_or_else(|_| panic!("{site}: {} is not under {dir}", f.display()))
                    .to_str()
                    .unwrap();
                assert!(keys.contains(&key), "{site}: {key} is not a key of {name}");
                read.push(keys[keys.iter().position(|k| *k == key).unwrap()]);
            }
            // No credential is written inline.
            assert!(
                r.url.is_none(),
                "{site}: receiver {} has an inline url",
                r.name
            );
        }
        read.sort();
        let mut all = keys.clone();
        all.sort();
        assert_eq!(read, all, "{site}: every key is read by a receiver");
    }
}
