//! `drctl check`: read-only readiness of the live platform (AWS), or of
//! the simulated cloud the drill uses (`--sim`).

use std::path::PathBuf;

use clap::Args;

use super::{Exit, Output, PolicyArg};
use crate::cloud::aws::AwsCloud;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::cloud::{Capacity, Cloud, DrHealth, Permissions};
use crate::history::RunSummary;
use crate::policy::Policy;
use crate::readiness::{evaluate, Inputs, Readiness, SiteBeat, Verdict};

/// `drctl check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Check the simulated cloud the drill uses (no AWS account needed);
    /// its three controller sites are simulated and report every round.
    #[arg(long)]
    pub sim: bool,
    /// With --sim: seed of the simulated cloud's random choices.
    #[arg(long, default_value_t = 1, requires = "sim")]
    pub seed: u64,
    /// With --sim: a data tier's replication lag, like database=40m or
    /// cache=unknown (repeatable), to see the exposure check judge it.
    #[arg(long, value_parser = super::parse_lag, requires = "sim")]
    pub lag: Vec<(crate::model::DataTier, crate::model::Exposure)>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Where drills and executions are recorded (`drctl history`): their
    /// step durations predict the RTO.
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = crate::history::DEFAULT_HISTORY_DIR)]
    pub history_dir: PathBuf,
    /// The role whose permissions to simulate (the role the controllers
    /// execute as); the caller's own role when absent.
    #[arg(long, env = "DRCTL_EXECUTION_ROLE_ARN", conflicts_with = "sim")]
    pub role_arn: Option<String>,
    /// The witness controller's IAM role: the permissions check fails if
    /// it may make any of the plan's writes (a witness must be
    /// read-only). Not checked when absent. With --sim, a simulated role
    /// to which nothing is granted.
    #[arg(long, env = "DRCTL_WITNESS_ROLE_ARN", value_parser = parse_role_arn)]
    pub witness_role_arn: Option<String>,
    /// The region serving the platform now, one of the policy's two.
    /// Default: the DR region once a failover of this policy recorded in
    /// --history-dir completed on AWS, else the primary. DR resources,
    /// routing controls and DNS are judged against it.
    #[arg(long, conflicts_with = "sim")]
    pub active_region: Option<String>,
}

/// An IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
fn parse_role_arn(s: &str) -> Result<String, String> {
    crate::policy::iam_role_arn(s).map(|()| s.to_string())
}

/// The witness role to check: the flag's, else the policy's
/// `readiness.witness_role_arn`.
fn witness_role(args: &CheckArgs, policy: &Policy) -> Option<String> {
    args.witness_role_arn
        .clone()
        .or_else(|| policy.readiness.witness_role_arn.clone())
}

/// The exit code of a verdict: 0 ready, 5 warnings, 6 not ready.
pub fn exit_of(verdict: Verdict) -> Exit {
    match verdict {
        Verdict::Ready => Exit::Ok,
        Verdict::Warnings => Exit::Warnings,
        Verdict::NotReady => Exit::NotReady,
    }
}

/// The recorded drills and executions of `policy`, oldest first (none
/// when nothing was recorded yet).
fn history(
    dir: &std::path::Path,
    policy: &Policy,
) -> Result<Vec<crate::history::HistoryEntry>, String> {
    crate::history::HistoryStore::new(dir)
        .runs(&policy.name)
        .map_err(|e| e.to_string())
}

pub(super) fn run(args: CheckArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let runs = match history(&args.history_dir, &policy) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: --history-dir: {e}");
            return Exit::Io;
        }
    };
    let active = match super::check_active::active(args.active_region.as_deref(), &policy, &runs) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let history: Vec<RunSummary> = runs.iter().map(|e| RunSummary::of(&e.record)).collect();
    let result = if args.sim {
        let sim = match SimCloud::new(
            &policy,
            SimOptions {
                seed: args.seed,
                lag: args.lag.iter().copied().collect(),
                ..SimOptions::default()
            },
        ) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::BadInput;
            }
        };
        let now = crate::clock::now_ms();
        let r = &policy.regions;
        let sites = [&r.primary, &r.secondary, &r.witness]
            .into_iter()
            .map(|s| SiteBeat {
                site: s.clone(),
                last_at_ms: Some(now),
                received_at_ms: Some(now),
            })
            .collect();
        let inputs = Inputs {
            sites: Some(sites),
            now_ms: now,
            history: &history,
            witness_role: witness_role(&args, &policy),
            ..Inputs::default()
        };
        super::modeled_runtime().block_on(evaluate(&sim, &policy, &inputs))
    } else {
        if let Some(why) = &active.because {
            eprintln!("{why}");
        }
        let roles = (args.role_arn.clone(), witness_role(&args, &policy));
        match on_aws(&policy, &history, roles, active.region) {
            Ok(r) => r,
            Err(e) => return e,
        }
    };
    print(&result, args.output);
    exit_of(result.verdict)
}

fn on_aws(
    policy: &Policy,
    history: &[RunSummary],
    (role_arn, witness_role): (Option<String>, Option<String>),
    active_region: Option<String>,
) -> Result<Readiness, Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(super::WORKER_STACK)
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            Exit::Io
        })?;
    rt.block_on(async {
        let timeouts = (
            policy.execution.connect_timeout,
            policy.execution.call_timeout,
        );
        let mut cloud = AwsCloud::from_env(timeouts).await.map_err(|e| {
            eprintln!("error: {}", e.message);
            Exit::for_cloud_start(&e)
        })?;
        if let Some(arn) = role_arn {
            cloud = cloud.simulating(arn);
        }
        let inputs = Inputs {
            sites: None,
            now_ms: crate::clock::now_ms(),
            history,
            witness_role,
            active_region,
            ..Inputs::default()
        };
        Ok(check_with(&cloud, policy, &inputs).await)
    })
}

/// The evaluation against any cloud (a seam for tests).
pub(super) async fn check_with<C: Cloud + Capacity + Permissions + DrHealth>(
    cloud: &C,
    policy: &Policy,
    inputs: &Inputs<'_>,
) -> Readiness {
    evaluate(cloud, policy, inputs).await
}

fn print(r: &Readiness, output: Output) {
    match output {
        Output::Text => print!("{}", r.render_text()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(r).expect("readiness always serializes")
        ),
    }
}
