//! `drctl bench readiness`: what one readiness evaluation costs, on the
//! simulated cloud: the calls it makes, how long it takes with AWS-like API
//! latencies (the modeled clock), and the wall time and CPU time it takes
//! this process (a current-thread runtime, so the thread's scheduler
//! accounting in `/proc/thread-self/schedstat` is all of it).

use std::time::SystemTime;

use serde::Serialize;

use super::modeled_runtime;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::readiness::{evaluate, Inputs, SiteBeat, Verdict};

/// The cost of one readiness evaluation, averaged over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessCost {
    /// The policy.
    pub policy: String,
    /// Evaluations run.
    pub runs: u32,
    /// The verdict of the last one (ready on the shipped policies).
    pub verdict: Verdict,
    /// Cloud calls per evaluation.
    pub calls: f64,
    /// Modeled time per evaluation with the simulated API latencies, in ms.
    pub modeled_ms: f64,
    /// Wall time per evaluation in this process, in ms.
    pub wall_ms: f64,
    /// CPU time per evaluation in this process, in ms.
    pub cpu_ms: f64,
}

fn thread_cpu_ns() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("/proc/thread-self/schedstat: {e} (Linux only)"))?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("/proc/thread-self/schedstat: unexpected {text:?}"))
}

/// Runs `runs` evaluations on one simulated world.
pub fn measure(policy: &crate::policy::Policy, runs: u32) -> Result<ReadinessCost, String> {
    let sim = SimCloud::new(policy, SimOptions::default())?;
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let r = &policy.regions;
    let sites: Vec<SiteBeat> = [&r.primary, &r.secondary, &r.witness]
        .into_iter()
        .map(|s| SiteBeat {
            site: s.clone(),
            last_at_ms: Some(now_ms),
            received_at_ms: Some(now_ms),
        })
        .collect();
    let inputs = Inputs {
        sites: Some(sites),
        now_ms,
        ..Inputs::default()
    };
    let rt = modeled_runtime();
    let calls_before: u32 = sim.calls().values().sum();
    let cpu0 = thread_cpu_ns()?;
    let wall0 = std::time::Instant::now();
    let (verdict, modeled) = rt.block_on(async {
        let t0 = tokio::time::Instant::now();
        let mut verdict = Verdict::Ready;
        for _ in 0..runs {
            verdict = evaluate(&sim, policy, &inputs).await.verdict;
        }
        (verdict, t0.elapsed())
    });
    let wall = wall0.elapsed();
    let cpu_ns = thread_cpu_ns()? - cpu0;
    let calls: u32 = sim.calls().values().sum::<u32>() - calls_before;
    let n = f64::from(runs);
    Ok(ReadinessCost {
        policy: policy.name.clone(),
        runs,
        verdict,
        calls: f64::from(calls) / n,
        modeled_ms: modeled.as_secs_f64() * 1000.0 / n,
        wall_ms: wall.as_secs_f64() * 1000.0 / n,
        cpu_ms: cpu_ns as f64 / 1e6 / n,
    })
}

/// The figures as a table for people.
pub fn table(c: &ReadinessCost) -> String {
    format!(
        "readiness evaluation of {} on the simulated cloud ({} runs, verdict {:?})\n\
         calls per evaluation      {:.1}\n\
         modeled time (API model)  {:.0} ms\n\
         wall time                 {:.2} ms\n\
         CPU time                  {:.2} ms\n",
        c.policy, c.runs, c.verdict, c.calls, c.modeled_ms, c.wall_ms, c.cpu_ms
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_evaluation_of_the_shipped_policy_is_counted_and_timed() {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        // The scheduler's CPU accounting of a running thread advances on
        // its ticks (4 ms apart here): two runs took less than one and
        // read 0 now and then.
        let c = super::measure(&policy, 20).unwrap();
        assert_eq!(c.verdict, crate::readiness::Verdict::Ready);
        assert!(c.calls >= 10.0, "{c:?}");
        assert!(c.modeled_ms > 0.0 && c.cpu_ms > 0.0, "{c:?}");
    }
}
