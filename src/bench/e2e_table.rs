//! The table of `drctl bench e2e`: one row per phase, min, mean and max
//! over the runs, beside the modeled figure of the same policy.

use super::detect_virtual::stats;
use super::e2e::{E2eBench, E2eRun, StepEnd};

fn mean(v: impl Iterator<Item = u64>) -> Option<u64> {
    stats(v).map(|(_, mean, _)| mean)
}

fn end_of(steps: &[StepEnd], id: &str) -> Option<u64> {
    steps.iter().find(|s| s.id == id).map(|s| s.at_ms)
}

fn row(name: &str, measured: &[u64], modeled: Option<u64>) -> String {
    let modeled = modeled.map_or("-".to_string(), |m| m.to_string());
    match stats(measured.iter().copied()) {
        Some((min, mean, max)) => {
            format!("{name:<40} {min:>8} {mean:>8} {max:>8} {modeled:>9}\n")
        }
        None => format!("{name:<40} {:>8} {:>8} {:>8} {modeled:>9}\n", "-", "-", "-"),
    }
}

/// The phases as a table (ms after the primary stopped).
pub fn table(b: &E2eBench) -> String {
    let mut out = format!(
        "fault → traffic on DR, end to end: local cluster (3 controller processes + simulated cloud on 127.0.0.1), policy {:?}, latency scale {}, {} run(s)\n\
         ms after the primary stopped; modeled: the same policy's plan on the simulated cloud at the same scale, paused clock, placed after the mean decision\n\n\
         {:<40} {:>8} {:>8} {:>8} {:>9}\n",
        b.policy,
        b.scale,
        b.runs.len(),
        "phase",
        "min",
        "mean",
        "max",
        "modeled"
    );
    let pick = |f: fn(&E2eRun) -> u64| b.runs.iter().map(f).collect::<Vec<_>>();
    out += &row("confirmed", &pick(|r| r.confirmed_ms), None);
    let decided = pick(|r| r.decided_ms);
    out += &row("decided (execution started)", &decided, None);
    let decided_mean = mean(decided.iter().copied());
    let ids: Vec<&str> = match (b.runs.first(), b.modeled.first()) {
        (Some(r), _) => r.steps.iter().map(|s| s.id.as_str()).collect(),
        (None, Some(m)) => m.steps.iter().map(|s| s.id.as_str()).collect(),
        (None, None) => Vec::new(),
    };
    for id in &ids {
        let measured: Vec<u64> = b.runs.iter().filter_map(|r| end_of(&r.steps, id)).collect();
        let modeled = mean(b.modeled.iter().filter_map(|m| end_of(&m.steps, id)));
        let placed = decided_mean.zip(modeled).map(|(d, m)| d + m);
        out += &row(&format!("{id} ended"), &measured, placed);
    }
    let modeled_rto = mean(b.modeled.iter().map(|m| m.rto_ms));
    let dns = pick(|r| r.dns_on_dr_ms);
    out += &row(
        "DR target answering (DNS)",
        &dns,
        decided_mean.zip(modeled_rto).map(|(d, m)| d + m),
    );
    out += &row("completed (seen)", &pick(|r| r.completed_ms), None);
    let measured_rto: Vec<u64> = b
        .runs
        .iter()
        .map(|r| {
            let last = r
                .steps
                .iter()
                .map(|s| s.at_ms)
                .max()
                .unwrap_or(r.decided_ms);
            last.saturating_sub(r.decided_ms)
        })
        .collect();
    out += "\n";
    out += &row("RTO: decided → last step ended", &measured_rto, modeled_rto);
    out += "(target: the modeled critical path + ≤ 5000 ms of controller overhead; confirmed ≤ 10000 ms)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::e2e::ModeledRun;

    fn ends(v: &[(&str, u64)]) -> Vec<StepEnd> {
        v.iter()
            .map(|(id, at_ms)| StepEnd {
                id: id.to_string(),
                at_ms: *at_ms,
            })
            .collect()
    }

    #[test]
    fn each_phase_is_a_row_beside_the_modeled_figure_placed_after_the_decision() {
        let run = |confirmed_ms, decided_ms, gate, verify| E2eRun {
            phase_ms: 0,
            confirmed_ms,
            decided_ms,
            steps: ends(&[("rpo-gate", gate), ("verify", verify)]),
            dns_on_dr_ms: verify - 100,
            completed_ms: verify + 50,
        };
        let b = E2eBench {
            policy: "emr-platform-local".into(),
            scale: 0.02,
            runs: vec![
                run(3_000, 3_200, 3_500, 9_200),
                run(3_400, 3_600, 3_900, 9_800),
            ],
            modeled: vec![ModeledRun {
                seed: 1,
                rto_ms: 5_000,
                steps: ends(&[("rpo-gate", 200), ("verify", 5_000)]),
            }],
        };
        let t = table(&b);
        let line = |name: &str| {
            t.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} row in\n{t}"))
                .split_whitespace()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
        };
        // min, mean, max reversed, then the modeled column first.
        assert_eq!(line("confirmed"), ["-", "3400", "3200", "3000"]);
        assert_eq!(line("rpo-gate ended"), ["3600", "3900", "3700", "3500"]);
        assert_eq!(line("verify ended"), ["8400", "9800", "9500", "9200"]);
        assert_eq!(
            line("DR target answering"),
            ["8400", "9700", "9400", "9100"]
        );
        assert_eq!(line("RTO: decided"), ["5000", "6200", "6100", "6000"]);
    }
}
