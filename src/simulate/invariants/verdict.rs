//! No automatic execution starts without a majority-confirmed verdict, and
//! none while maintenance forbids it: the primary answers every probe until
//! the outage, so an execution the detector started before it is a false
//! failover; one started after maintenance was on broke the operator's hold.

use super::Snapshot;
use crate::consensus::DETECTOR;
use crate::simulate::schedule::SKEW_MAX_MS;

/// Checks every node's executions.
pub fn check(s: &Snapshot) -> Result<(), String> {
    for (node, (_, state)) in s.states {
        for e in state.executions.values() {
            if e.requested_by != DETECTOR {
                continue;
            }
            let started = s.since_start(&e.record.started_at);
            let Some(started) = started else {
                return Err(format!(
                    "node {node}: execution {} has an unreadable start {}",
                    e.record.id, e.record.started_at
                ));
            };
            match s.schedule.outage_at {
                None => {
                    return Err(format!(
                        "node {node}: the detector started {} at {:.1}s, but the primary never failed",
                        e.record.id,
                        started.as_secs_f64()
                    ))
                }
                Some(out) if started < out => {
                    return Err(format!(
                        "node {node}: the detector started {} at {:.1}s, before the primary failed at {:.1}s",
                        e.record.id,
                        started.as_secs_f64(),
                        out.as_secs_f64()
                    ))
                }
                _ => {}
            }
            // The start is stamped by the executing node's clock, which may
            // be up to the drawn skew ahead.
            let skew = std::time::Duration::from_millis(SKEW_MAX_MS.unsigned_abs());
            if let Some(m) = s
                .maintenance_at
                .filter(|m| started > *m + std::time::Duration::from_secs(5) + skew)
            {
                return Err(format!(
                    "node {node}: the detector started {} at {:.1}s while maintenance was on (since {:.1}s)",
                    e.record.id,
                    started.as_secs_f64(),
                    m.as_secs_f64()
                ));
            }
        }
    }
    Ok(())
}
