//! The JSON Schemas in schemas/ are what `drctl policy schema` prints, and
//! every policy and node file the project ships conforms to its schema and
//! names it for editors (yaml-language-server) on its first line.

use std::path::{Path, PathBuf};

use crate::cli_support::drctl;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema(kind: &str) -> Value {
    let path = root().join(format!("schemas/{kind}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn validator(kind: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema(kind)).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// A YAML document as the JSON a schema validates.
fn json_of(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("YAML")
}

/// Every YAML file under `dir`, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The shipped policy and node files with the kind of each: under
/// policies/ and deploy/, Kubernetes manifests aside, a file with a
/// top-level `node:` is a node file and any other a policy.
fn shipped() -> Vec<(PathBuf, &'static str)> {
    let mut files = Vec::new();
    yaml_files(&root().join("policies"), &mut files);
    yaml_files(&root().join("deploy"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().any(|l| l.starts_with("apiVersion:")) {
                return None;
            }
            let kind = if text.lines().any(|l| l.starts_with("node:")) {
                "node"
            } else {
                "policy"
            };
            Some((path, kind))
        })
        .collect()
}

#[test]
fn the_committed_schemas_are_what_drctl_policy_schema_prints() {
    for kind in ["policy", "node"] {
        let out = drctl()
            .args(["policy", "schema", "--kind", kind])
            .assert()
            .success();
        let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        let path = root().join(format!("schemas/{kind}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            printed == committed,
            "schemas/{kind}.schema.json differs from the types the loader reads; regenerate it: \
             cargo run -- policy schema --kind {kind} > schemas/{kind}.schema.json"
        );
    }
}

#[test]
fn every_shipped_policy_and_node_file_conforms_to_its_schema() {
    let shipped = shipped();
    let count = |k| shipped.iter().filter(|(_, kind)| *kind == k).count();
    // policies/ (2) and deploy/local (1); deploy/local (3) and deploy/k8s (3).
    assert!(count("policy") >= 3, "{shipped:?}");
    assert!(count("node") >= 6, "{shipped:?}");
    let (policy, node) = (validator("policy"), validator("node"));
    for (path, kind) in &shipped {
        let doc = json_of(&std::fs::read_to_string(path).unwrap());
        let v = if *kind == "policy" { &policy } else { &node };
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path:?} ({kind}): {errors:#?}");
    }
}

#[test]
fn every_shipped_file_names_its_schema_on_its_first_line() {
    for (path, kind) in shipped() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let rel = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{path:?}: first line {first:?} does not name the schema"));
        let named = path.parent().unwrap().join(rel).canonicalize();
        let want = root()
            .join(format!("schemas/{kind}.schema.json"))
            .canonicalize()
            .unwrap();
        assert_eq!(named.ok(), Some(want), "{path:?}: {rel}");
    }
}

const GOOD_POLICY: &str = include_str!("../../policies/emr-platform-core.yaml");
const GOOD_NODE: &str = include_str!("../../deploy/local/node-1.yaml");

#[test]
fn known_bad_files_do_not_conform() {
    let (policy, node) = (validator("policy"), validator("node"));
    assert!(policy.is_valid(&json_of(GOOD_POLICY)));
    assert!(node.is_valid(&json_of(GOOD_NODE)));
    let bad_policies = [
        (
            "a duration without its unit",
            GOOD_POLICY.replace("rto: 4h", "rto: 4"),
        ),
        (
            "a misspelt field",
            GOOD_POLICY.replace("probe_interval:", "probe_intervall:"),
        ),
        (
            "an unknown mode",
            GOOD_POLICY.replace("mode: manual", "mode: sometimes"),
        ),
        (
            "a missing section",
            GOOD_POLICY.replace("objectives:", "goals:"),
        ),
        (
            "a count that is not a number",
            GOOD_POLICY.replace("consecutive_failures: 3", "consecutive_failures: three"),
        ),
    ];
    for (what, text) in bad_policies {
        assert_ne!(text, GOOD_POLICY, "{what}: the replacement missed");
        assert!(!policy.is_valid(&json_of(&text)), "{what} conforms");
        // The loader refuses it too: the schema says nothing it does not.
        assert!(
            drctl::policy::parse(Path::new("bad.yaml"), &text).is_err(),
            "{what}"
        );
    }
    let bad_nodes = [
        (
            "a duration without its unit",
            GOOD_NODE.replace("heartbeat: 150ms", "heartbeat: 150"),
        ),
        (
            "a misspelt field",
            GOOD_NODE.replace("data_dir:", "datadir:"),
        ),
        (
            "an unknown cloud",
            GOOD_NODE.replace("cloud:\n  sim:", "cloud:\n  gcp:"),
        ),
        (
            "a node id that is not a number",
            GOOD_NODE.replace("id: 1\n", "id: one\n"),
        ),
    ];
    for (what, text) in bad_nodes {
        assert_ne!(text, GOOD_NODE, "{what}: the replacement missed");
        assert!(!node.is_valid(&json_of(&text)), "{what} conforms");
    }
}
