//! The end of a run: links healed, nodes restarted, journals converged,
//! the last checks, and the outcome with its digest.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use super::{Outcome, Run, CONVERGE, TICK};
use crate::consensus::mem_transport::NetFaults;
use crate::execute::ExecutionStatus;
use crate::simulate::invariants::{self, liveness, Violation};

impl Run {
    /// Heals everything, restarts crashed nodes, waits for the journals to
    /// agree, and runs the last checks.
    pub(super) async fn finish(&mut self) {
        if !self.violations.is_empty() {
            return;
        }
        self.world.links.heal();
        self.world.net.set_faults(NetFaults::default());
        for id in 1..=3 {
            if !self.world.up(id) {
                if let Err(e) = self.world.start(id).await {
                    self.violations.push(Violation {
                        invariant: "restart",
                        at: self.now(),
                        what: e,
                    });
                    return;
                }
            }
        }
        let until = self.now() + CONVERGE;
        let converged = loop {
            tokio::time::sleep(TICK).await;
            let states = self.states();
            let applied: Vec<_> = states.values().map(|(l, _)| *l).collect();
            if applied.windows(2).all(|w| w[0] == w[1]) && applied.len() == 3 {
                break true;
            }
            if self.now() >= until {
                break false;
            }
        };
        let states = self.states();
        let log = self.log();
        let refused = self.refused();
        let mut found = invariants::check_always(&self.snapshot((&log, &refused), &states));
        if !converged {
            let applied: Vec<String> = states
                .iter()
                .map(|(id, (l, _))| {
                    format!(
                        "node {id} at {}",
                        l.map_or("none".into(), |l| l.to_string())
                    )
                })
                .collect();
            found.push(Violation {
                invariant: "journal",
                at: self.now(),
                what: format!(
                    "the healed cluster did not converge within {}s: {}",
                    CONVERGE.as_secs(),
                    applied.join(", ")
                ),
            });
        }
        if let (Some(asked), Some(deadline)) = (self.operator.asked_at, self.operator_deadline()) {
            if let Err(what) = liveness::ended(&states, asked, deadline) {
                found.push(Violation {
                    invariant: "liveness",
                    at: self.now(),
                    what,
                });
            }
        }
        if let Some(deadline) = self.deadline() {
            if let Err(what) = liveness::check(self.completed_at, deadline) {
                found.push(Violation {
                    invariant: "liveness",
                    at: self.now(),
                    what,
                });
            }
        }
        self.violations.extend(found);
    }

    pub(super) fn outcome(&self) -> Outcome {
        let states = self.states();
        let log = self.log();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (t, m) in &log {
            (t.as_millis(), &m.op, &m.resource, m.epoch, &m.caller).hash(&mut h);
        }
        let executions: BTreeMap<String, (ExecutionStatus, String)> = states
            .values()
            .next()
            .map(|(_, s)| {
                s.executions
                    .values()
                    .map(|e| {
                        let failed = e.record.steps.iter().find_map(|st| {
                            (st.status == crate::execute::StepStatus::Failed).then(|| {
                                format!("{}: {}", st.id, st.outcome.clone().unwrap_or_default())
                            })
                        });
                        let summary = e.record.summary.clone().or(failed).unwrap_or_default();
                        (e.record.id.clone(), (e.record.status, summary))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (id, (status, _)) in &executions {
            (id, status.label()).hash(&mut h);
        }
        Outcome {
            seed: self.seed,
            schedule: self.schedule.clone(),
            violations: self.violations.clone(),
            simulated: self.now(),
            completed_at: self.completed_at,
            digest: h.finish(),
            net: self.world.net.stats(),
            mutations: log.len(),
            executions,
        }
    }
}
