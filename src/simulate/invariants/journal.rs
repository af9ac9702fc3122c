//! Every node's committed journal agrees: two nodes that applied the same
//! log entries hold the same replicated state (executions, audit, fencing,
//! maintenance), byte for byte.

use super::Snapshot;

/// Compares the states of nodes at the same applied entry.
pub fn check(s: &Snapshot) -> Result<(), String> {
    let nodes: Vec<_> = s.states.iter().collect();
    for (i, (a, (la, sa))) in nodes.iter().enumerate() {
        for (b, (lb, sb)) in &nodes[i + 1..] {
            if la.is_some() && la == lb && sa != sb {
                let ja = serde_json::to_value(sa).unwrap_or_default();
                let jb = serde_json::to_value(sb).unwrap_or_default();
                let field = ja
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, v)| jb.get(k) != Some(v)))
                    .map_or("?", |(k, _)| k.as_str());
                return Err(format!(
                    "nodes {a} and {b} applied the same entries (up to {}) but their states differ in `{field}`",
                    la.map_or("none".to_string(), |l| l.to_string())
                ));
            }
        }
    }
    Ok(())
}
