//! A mutating call is made only when its step's postcondition did not
//! hold: one failover changes each resource once, so the same operation
//! on the same resource twice means a step acted although its change was
//! already made (a resumed step that did not check first).

use super::Snapshot;

/// Checks the mutation log.
pub fn check(s: &Snapshot) -> Result<(), String> {
    let mut seen = std::collections::BTreeMap::new();
    for (t, m) in s.log {
        if let Some(first) = seen.insert((m.op.as_str(), m.resource.as_str()), *t) {
            return Err(format!(
                "{} on {} twice: at {:.1}s and again at {:.1}s (epochs up to {})",
                m.op,
                m.resource,
                first.as_secs_f64(),
                t.as_secs_f64(),
                m.epoch
            ));
        }
    }
    Ok(())
}
