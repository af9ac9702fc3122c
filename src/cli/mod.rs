//! The `drctl` command line: argument parsing and the commands.
//!
//! Every command reports through its exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done (or, without `--confirm`, the plan can run as printed) |
//! | 1 | a step failed, or a chaos scenario did not meet its expectation |
//! | 2 | the command line is wrong (unknown flag, bad value) |
//! | 3 | the RPO gate refused: exposure above the RPO or unknown, not accepted |
//! | 4 | preflight failed: a resource is missing or unhealthy; nothing changed |
//! | 5 | `drctl check`: ready, with warnings |
//! | 6 | `drctl check`: not ready (a check failed) |
//! | 64 | an input file (policy, scenario, node configuration) is invalid or above 1 MiB, or the API refused the request as malformed; nothing changed |
//! | 69 | the controller cluster is unavailable (no leader reachable) |
//! | 74 | the journal or the cloud configuration could not be read or written, or another run holds the journal's lock |
//! | 77 | the API token or AWS credentials are missing or refused |

mod bench_cmd;
mod chaos_cmd;
mod check_active;
mod check_cmd;
mod controller_cmd;
mod detect_cmd;
mod divergence_cmd;
mod drill;
mod drill_cycle;
mod failover;
mod follow_changes;
mod history_cmd;
pub mod lifeline;
pub(crate) mod local;
mod logging;
mod node_cmd;
mod progress;
mod recorded;
pub mod remote;
mod report_cmd;
mod roles_cmd;
mod roles_local;
mod schema_cmd;
pub mod simulate_cmd;
mod unfence_cmd;

mod args;
mod report_run;
use args::parse_lag;
pub use args::{DrillArgs, FailoverArgs, PolicyArg};
use report_run::{execute_and_report, exit_for, fence_on_return};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::modeled_runtime;
use crate::model::Op;
use crate::policy::{self, Policy, DEFAULT_POLICY};

/// Exit codes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// A step failed.
    Failed = 1,
    /// The command line is wrong.
    Usage = 2,
    /// The RPO gate refused.
    Refused = 3,
    /// Preflight failed.
    Preflight = 4,
    /// `drctl check`: ready, with warnings.
    Warnings = 5,
    /// `drctl check`: not ready.
    NotReady = 6,
    /// An input file is invalid.
    BadInput = 64,
    /// What was named (an execution, a policy's history) is not recorded
    /// where drctl looked.
    NotFound = 66,
    /// The controller cluster cannot be reached or has no leader.
    Unavailable = 69,
    /// I/O or configuration failure.
    Io = 74,
    /// The API token or the AWS credentials are missing or refused.
    Denied = 77,
}

impl Exit {
    /// The exit code for a cloud client that could not be built: missing
    /// AWS credentials are [`Exit::Denied`] (77, like a missing token),
    /// anything else is [`Exit::Io`].
    pub fn for_cloud_start(e: &crate::cloud::CloudError) -> Self {
        if e.op == Op::Credentials {
            Self::Denied
        } else {
            Self::Io
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// drctl: disaster-recovery failover for an active/passive AWS platform.
///
/// drctl moves the platform from the primary region to the DR region in
/// order: it checks the DR side, refuses to lose more data than the policy's
/// RPO allows, then promotes the database replica, scales the DR node
/// groups, fails the cache and the stream over, and flips DNS, running
/// independent steps in parallel. Nothing changes without --confirm.
#[derive(Debug, Parser)]
#[command(name = "drctl", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    /// Log filter for structured logs on stderr: a level (error, warn, info,
    /// debug, trace) or per-module directives like `info,drctl=debug`.
    #[arg(
        long,
        global = true,
        env = "DRCTL_LOG",
        default_value = DEFAULT_LOG
    )]
    pub log_level: String,
    /// Log format: text for people, json for log pipelines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str =
    "Exit codes: 0 done; 1 a step failed; 2 bad command line; 3 refused by the RPO gate; \
4 preflight failed; 5 check: warnings; 6 check: not ready; 64 invalid input; 66 execution or history not found; 69 controller cluster unavailable; \
74 journal or configuration error; 77 API token or AWS credentials missing or refused.";

/// The log filter when none is given.
const DEFAULT_LOG: &str = "warn,aws_config=error";
/// The log filter of long-running processes when none is given.
const SERVICE_LOG: &str = "info,openraft=warn,aws_config=error";

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Text,
    /// The same report as JSON.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a full failover drill on the simulated cloud (no AWS account needed).
    ///
    /// The simulated cloud holds the platform the policy describes, with
    /// AWS-like latencies (RDS promotion minutes, EKS scale-up minutes, Route 53
    /// propagation under a minute). The drill runs on a modeled clock, so it
    /// finishes in moments and reports modeled durations: every step's start,
    /// end and duration, the critical path, the modeled RTO against the
    /// policy's RTO and the RPO exposure against its RPO.
    Drill(DrillArgs),
    /// Print the failover plan against live state, or execute it with --confirm.
    ///
    /// Without --confirm this only reads: it prints each step, what it depends
    /// on, whether it is already done, what preflight found and what the RPO
    /// gate says. With --confirm it executes the plan, journaling each step so
    /// that an interrupted run resumes where it stopped and a finished one is
    /// not repeated. AWS is reached through the SDK's standard environment
    /// (credentials, AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>).
    Failover(FailoverArgs),
    /// Protect the platform again after a failover: replicas of the active
    /// region in the region it left.
    ///
    /// After a failover the platform runs in the DR region with no replica
    /// anywhere, and the detector protects nothing. A reprotect makes a new
    /// cross-region read replica of the new primary database in the old
    /// primary region (the fenced old instance is kept), adds a cache
    /// secondary there (a new Global Datastore when the old one was
    /// disassociated) and a reverse MSK Replicator, waits until each
    /// replicates, then switches the policy's roles in the controller
    /// cluster: from then on probes, heartbeats and automatic failover
    /// protect the active region. Node groups and traffic are not touched.
    ///
    /// Without --confirm this only prints the plan the leader would run now
    /// (dry run, exit 0, 4 when preflight finds problems). With --confirm
    /// the leader records and runs it (journaled, fenced, resumed by a new
    /// leader) and this command shows each step until it ends. Without
    /// --controller it runs here instead, like `drctl failover`, against
    /// AWS (or --sim URL) with the local journal, whose records say which
    /// way the policy is read. Refused (exit 4) unless the platform is
    /// failed over and unprotected.
    Reprotect(roles_cmd::ReprotectArgs),
    /// Planned switchover back to the policy's primary region, with zero
    /// data loss or not at all.
    ///
    /// Only after a reprotect, never automatic. It quiesces the writers on
    /// the active primary, waits until the heartbeats show the replica holds
    /// the last beat written before the quiesce (bounded by
    /// failback.drain_timeout), promotes, switches traffic, lifts the
    /// quiesce on the new primary's side, then reprotects in the other
    /// direction. A quiesce that cannot be followed by the promotion is
    /// undone, so writes never pause longer than failback.max_write_pause.
    ///
    /// Without --confirm this prints the plan and the failover's divergence
    /// report. With --confirm it runs through the cluster (without
    /// --controller: here, with the local journal) and shows each step;
    /// when the divergence report is not empty, --confirm requires
    /// --divergence-reviewed EXECUTION. Exposure not provably zero is
    /// refused (exit 3) unless --accept-data-loss covers it (recorded).
    Failback(roles_cmd::FailbackArgs),
    /// Check, read-only, that a failover would work now, and predict its RTO.
    ///
    /// Every check passes, warns or fails with a sentence saying why and
    /// what to do: DR resources exist and can be failed over from, each data
    /// tier's exposure against the RPO, node-group maxima and the DR
    /// region's EC2 vCPU quota, the routing-control endpoints and states,
    /// DNS answers and TTLs, the executing role's permissions for exactly
    /// the plan's calls, and the sites' heartbeats. Then the predicted RTO
    /// (p50/p95 along the plan's critical path, from journaled executions
    /// or the latency model) and the verdict. Nothing is changed. Without
    /// --sim it reads AWS through the SDK's standard environment, like
    /// `drctl failover`. Exits 0 ready, 5 ready with warnings, 6 not ready.
    Check(check_cmd::CheckArgs),
    /// Policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Chaos scenarios on the simulated cloud.
    #[command(subcommand)]
    Chaos(ChaosCommand),
    /// Benchmark: modeled RTO of the DAG against the sequential procedure, and
    /// the controller's own overhead, on the simulated cloud. Build with
    /// --release for figures worth quoting.
    Bench(bench_cmd::BenchArgs),
    /// Run the seeded simulation of the whole controller and check its guarantees.
    ///
    /// Each seed runs three controller nodes, their probes, detector and
    /// executor, and the simulated cloud in one thread on virtual time, over
    /// an in-memory network that delays, drops, duplicates and partitions,
    /// with node crashes and restarts, the primary region's outage,
    /// replication lag, maintenance and cloud faults, all drawn from the
    /// seed. The invariants (one writer per epoch, no call by a deposed
    /// leader or past a leader's lease, no repeated mutation, no failover
    /// without a confirmed verdict or above the RPO without an override, one
    /// running execution, agreeing journals, and completion within a bound)
    /// are checked every 500 ms of virtual time. A failing
    /// seed prints the command that replays it. Exits 1 when a seed fails.
    Simulate(simulate_cmd::SimulateArgs),
    /// Run one always-on controller node (one per site: two regions and a witness).
    ///
    /// The node joins the openraft cluster named in its configuration file
    /// (initializing it when its store is empty), serves the status API and
    /// the raft RPC on one port, and, while it is the leader, executes
    /// failovers. Logs are structured (--log-format json for pipelines) at
    /// info level unless --log-level says otherwise.
    Controller(controller_cmd::ControllerArgs),
    /// Show a controller cluster: leader, members and their health, the
    /// active region and the current or last execution of each policy.
    Status(remote::StatusArgs),
    /// Turn maintenance on or off: while on, no automatic failover starts
    /// (probes and the detector's verdict go on).
    Maintenance(remote::MaintenanceArgs),
    /// Acknowledge the last execution of a policy, ending the hold-down.
    ///
    /// After an execution changed something (or the detector started one,
    /// even if the RPO gate refused it), automatic failover is held down
    /// until an operator acknowledges it: a controller never fails over twice
    /// on its own.
    Acknowledge(detect_cmd::AcknowledgeArgs),
    /// Lift a self-fence: give the application back its writes in the region
    /// of the node that fenced them (see runbooks/fencing.md).
    ///
    /// A controller node in a policy's primary region fences the writers it
    /// reaches (database roles, cache users, node groups) once it has been
    /// cut off from the majority for fencing.self_fence_after, and never
    /// lifts that on its own. Send this to that node, with --confirm.
    Unfence(unfence_cmd::UnfenceArgs),
    /// Start a three-node controller cluster on 127.0.0.1 over one shared
    /// simulated cloud (no AWS needed), and stop it with Ctrl-C.
    ///
    /// Starts `drctl sim serve` and `drctl controller` for each of
    /// deploy/local/node-{1,2,3}.yaml as separate processes, logging to
    /// .drctl/local/. Each start is fresh unless --keep-data is given.
    LocalCluster(local::LocalClusterArgs),
    /// The simulated cloud as a service, shared by several processes.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Exit 0 when a URL answers 2xx (the container health check).
    Health(controller_cmd::HealthArgs),
    /// A controller node's own key (signs its calls to the other nodes).
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// Show what the old primary of an execution accepted after the fork,
    /// per data tier: the replica's position recorded right before
    /// promotion and the writes measured on the old primary once fenced.
    ///
    /// Reads the local journal (--journal-dir) or a controller cluster
    /// (--controller). Exits 2 when no such execution is kept.
    Divergence(divergence_cmd::DivergenceArgs),
    /// The report of a recorded drill or execution: a timeline of the
    /// steps, the critical path, RTO and RPO against the objectives, every
    /// decision and override, as text, JSON or one self-contained HTML file.
    ///
    /// Reads the local history (--history-dir, where drills and failovers
    /// record), then the journal (--journal-dir), or a controller cluster
    /// (--controller). EXECUTION is an id or `latest`.
    Report(report_cmd::ReportArgs),
    /// RTO and per-step durations across every recorded drill and
    /// execution of a policy: p50/p95 per step against its budget (steps
    /// that drifted above it are flagged), and in HTML a trend chart.
    History(history_cmd::HistoryArgs),
}

/// `drctl sim ...`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated cloud holding the policy's platform over HTTP.
    Serve(controller_cmd::SimServeArgs),
    /// Take the simulated primary region down or up, or cut sites off from it.
    ///
    /// Every controller probing through the served simulated cloud sees it
    /// at its next round: `--primary down` fails every site's probes;
    /// `--cut-off us-west-2` fails only that site's.
    Outage(detect_cmd::OutageArgs),
    /// Set a data tier's replication lag in the served simulated cloud.
    Lag(detect_cmd::LagArgs),
}

/// `drctl policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file and report every problem at once (no AWS call).
    Validate {
        /// The policy file.
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Print the JSON Schema of the policy file or of the node file, for
    /// editors (the copies in schemas/ are its output).
    Schema {
        /// Which file's schema.
        #[arg(long, value_enum, default_value = "policy")]
        kind: schema_cmd::SchemaKind,
    },
}

/// `drctl chaos ...`
#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// Run scenarios and print a line per scenario (all of chaos/*.yaml by default).
    Run {
        /// Scenario files.
        files: Vec<PathBuf>,
    },
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let service = matches!(
        cli.command,
        Command::Controller(_) | Command::Sim(SimCommand::Serve(_)) | Command::LocalCluster(_)
    );
    // The simulation's nodes log what real nodes would, three at a time,
    // many times over: silent unless a level is asked for (it also runs
    // several times faster without a subscriber).
    let simulating = matches!(cli.command, Command::Simulate(_));
    let level = if service && cli.log_level == DEFAULT_LOG {
        SERVICE_LOG
    } else if simulating && cli.log_level == DEFAULT_LOG {
        "off"
    } else {
        cli.log_level.as_str()
    };
    // No subscriber at all when logs are off: even a filter that lets
    // nothing through is asked about every span and event.
    let init = if level == "off" {
        Ok(())
    } else {
        logging::init(level, cli.log_format)
    };
    if let Err(e) = init {
        eprintln!("error: --log-level: {e}");
        return ExitCode::from(2);
    }
    let exit = match cli.command {
        Command::Drill(args) => drill::run(args),
        Command::Failover(args) => failover::run(args),
        Command::Reprotect(args) => roles_cmd::reprotect(args),
        Command::Failback(args) => roles_cmd::failback(args),
        Command::Check(args) => check_cmd::run(args),
        Command::Policy(PolicyCommand::Validate { policy }) => match policy.load() {
            Ok(p) => {
                println!(
                    "{}: valid policy {:?} ({} → {}, RTO {}, RPO {})",
                    policy.policy.display(),
                    p.name,
                    p.regions.primary,
                    p.regions.secondary,
                    crate::duration::fmt(p.rto),
                    crate::duration::fmt(p.rpo)
                );
                Exit::Ok
            }
            Err(e) => e,
        },
        Command::Policy(PolicyCommand::Schema { kind }) => schema_cmd::run(kind),
        Command::Chaos(ChaosCommand::Run { files }) => chaos_cmd::run(files),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Simulate(args) => simulate_cmd::run(args),
        Command::Controller(args) => controller_cmd::controller(args),
        Command::Status(args) => remote::status(args),
        Command::Maintenance(args) => remote::maintenance(args),
        Command::LocalCluster(args) => local::run(args),
        Command::Sim(SimCommand::Serve(args)) => controller_cmd::sim_serve(args),
        Command::Sim(SimCommand::Outage(args)) => detect_cmd::outage(args),
        Command::Sim(SimCommand::Lag(args)) => detect_cmd::lag(args),
        Command::Acknowledge(args) => detect_cmd::acknowledge(args),
        Command::Unfence(args) => unfence_cmd::run(args),
        Command::Health(args) => controller_cmd::health(args),
        Command::Node(cmd) => node_cmd::run(cmd),
        Command::Divergence(args) => divergence_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::History(args) => history_cmd::run(args),
    };
    exit.into()
}

/// The stack of each runtime worker: tokio's 2 MiB default is too small
/// for the deepest futures (a reprotect's observation of both regions
/// through the remote simulator) in a debug build.
pub(crate) const WORKER_STACK: usize = 8 << 20;

/// A runtime on the real clock for commands that serve or call the network.
fn live_runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(WORKER_STACK)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            Exit::Io
        })
}
