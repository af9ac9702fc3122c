//! At most one node makes mutating cloud calls in any epoch, and never two
//! at once: every mutation under one leader's term comes from one site, and
//! once a later term has acted, no earlier term acts again (a deposed
//! leader's call arriving late is exactly what fencing must prevent).

use super::Snapshot;

/// Checks the mutation log.
pub fn check(s: &Snapshot) -> Result<(), String> {
    let mut writer_of_term = std::collections::BTreeMap::new();
    let mut newest = 0u64;
    for (t, m) in s.log {
        let caller = m.caller.as_deref().unwrap_or("?");
        let term = m.epoch.term;
        if let Some(other) = writer_of_term.insert(term, caller) {
            if other != caller {
                return Err(format!(
                    "term {term}: {} on {} came from {caller} at {:.1}s, but {other} also acted in that term",
                    m.op,
                    m.resource,
                    t.as_secs_f64()
                ));
            }
        }
        if term < newest {
            return Err(format!(
                "{} on {} at {:.1}s under term {term} (epoch {}), after term {newest} had acted: a deposed leader acted",
                m.op,
                m.resource,
                t.as_secs_f64(),
                m.epoch
            ));
        }
        newest = newest.max(term);
    }
    Ok(())
}
