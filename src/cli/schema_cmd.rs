//! `drctl policy schema`: the JSON Schema of the policy file or of the node
//! file, for editors. The copies in `schemas/` are this command's output
//! (a test keeps them equal).

use super::Exit;

/// Which file's schema `drctl policy schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// A failover policy (policies/*.yaml).
    Policy,
    /// A controller node file (deploy/local/node-*.yaml, deploy/k8s/*/node.yaml).
    Node,
}

/// The schema of `kind` as pretty-printed JSON, ending with a newline.
pub fn text(kind: SchemaKind) -> String {
    let schema = match kind {
        SchemaKind::Policy => crate::policy::schema(),
        SchemaKind::Node => crate::controller::config::schema(),
    };
    let sorted = sorted(schema.to_value());
    let mut out = serde_json::to_string_pretty(&sorted).expect("a schema is plain JSON");
    out.push('\n');
    out
}

/// `value` with every object's keys in sorted order, whichever order
/// serde_json keeps (a dependency may turn on its `preserve_order`), so
/// that the text is the same from every build.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let by_key: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(by_key.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Prints the schema of `kind` on standard output.
pub fn run(kind: SchemaKind) -> Exit {
    print!("{}", text(kind));
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_is_a_valid_draft_2020_12_schema() {
        for kind in [SchemaKind::Policy, SchemaKind::Node] {
            let v: serde_json::Value = serde_json::from_str(&text(kind)).unwrap();
            assert_eq!(
                v["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{kind:?}"
            );
            jsonschema::meta::validate(&v).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        }
    }

    #[test]
    fn the_text_lists_keys_in_sorted_order_whatever_order_they_were_built_in() {
        let built: serde_json::Value =
            serde_json::from_str(r#"{"b": {"z": 1, "a": [{"y": 0, "x": 0}]}, "a": 2}"#).unwrap();
        let text = serde_json::to_string(&sorted(built)).unwrap();
        assert_eq!(text, r#"{"a":2,"b":{"a":[{"x":0,"y":0}],"z":1}}"#);
    }

    #[test]
    fn durations_are_strings_with_a_pattern_not_untyped() {
        let policy: serde_json::Value = serde_json::from_str(&text(SchemaKind::Policy)).unwrap();
        let node: serde_json::Value = serde_json::from_str(&text(SchemaKind::Node)).unwrap();
        for v in [&policy, &node] {
            let d = &v["$defs"]["Duration"];
            assert_eq!(d["type"], "string");
            assert_eq!(d["pattern"], crate::duration::pattern());
        }
        // A duration field refers to the definition, or holds it inline.
        let is_duration = |v: &serde_json::Value| {
            v.to_string().contains("\"#/$defs/Duration\"")
                || v["pattern"] == crate::duration::pattern().as_str()
        };
        let rto = &policy["properties"]["objectives"]["properties"]["rto"];
        assert!(is_duration(rto), "{rto}");
        let timeout = &policy["$defs"]["RawExecution"]["properties"]["step_timeout"];
        assert!(is_duration(timeout), "{timeout}");
        let heartbeat = &node["$defs"]["ClusterSection"]["properties"]["heartbeat"];
        assert!(is_duration(heartbeat), "{heartbeat}");
    }

    #[test]
    fn the_node_schema_shows_its_default_durations_as_text_the_loader_reads() {
        let node: serde_json::Value = serde_json::from_str(&text(SchemaKind::Node)).unwrap();
        let props = &node["$defs"]["ClusterSection"]["properties"];
        for field in ["heartbeat", "max_clock_skew", "rpc_timeout"] {
            let d = props[field]["default"]
                .as_str()
                .unwrap_or_else(|| panic!("{field}"));
            assert!(crate::duration::parse(d).is_ok(), "{field}: {d}");
        }
        let range = props["election_timeout"]["default"].as_array().unwrap();
        assert_eq!(range.len(), 2);
        for d in range {
            assert!(crate::duration::parse(d.as_str().unwrap()).is_ok(), "{d}");
        }
    }
}
