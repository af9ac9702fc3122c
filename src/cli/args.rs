//! The flags several commands share: `--policy`, the drill's and the
//! failover's, and how `--lag` is read.

use super::*;

/// The `--policy` flag.
#[derive(Debug, Args)]
pub struct PolicyArg {
    /// The policy file.
    #[arg(long, default_value = DEFAULT_POLICY, env = "DRCTL_POLICY")]
    pub policy: PathBuf,
}

impl PolicyArg {
    /// Loads and validates the policy, printing every problem on failure.
    pub fn load(&self) -> Result<Policy, Exit> {
        policy::load(&self.policy).map_err(|e| {
            eprintln!("error: invalid policy {e}");
            Exit::BadInput
        })
    }
}

/// `drctl drill` arguments.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Seed of the simulated cloud's random choices: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Run the steps one after another (the manual procedure) instead of as a DAG.
    #[arg(long)]
    pub sequential: bool,
    /// Replication lag of a data tier in the simulated cloud, like database=40m or cache=unknown.
    #[arg(long, value_parser = parse_lag)]
    pub lag: Vec<(crate::model::DataTier, crate::model::Exposure)>,
    /// Accept up to this much data loss above the RPO (like 30m). Covers
    /// known exposures only.
    #[arg(long, value_parser = crate::duration::parse_flag)]
    pub accept_data_loss: Option<Duration>,
    /// Accept an unbounded loss on a tier whose exposure cannot be measured
    /// (database, cache or stream; repeat for several). Recorded as such.
    #[arg(long, value_parser = parse_tier)]
    pub accept_unknown_loss: Vec<crate::model::DataTier>,
    /// Put a whole region under outage in the simulated cloud from the
    /// start (repeatable): its API endpoints and routing-control endpoints
    /// do not answer; us-east-1 takes Route 53's control plane with it.
    #[arg(long, value_name = "REGION")]
    pub outage: Vec<String>,
    /// Where the drill is recorded for `drctl report` and `drctl history`.
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = crate::history::DEFAULT_HISTORY_DIR)]
    pub history_dir: PathBuf,
    /// Run the way home too: the failover (the old primary fenced when its
    /// region answers), a reprotect from the new primary, the failback home
    /// (zero data loss, then the reprotect the other way) and a failover
    /// again, with a report per phase.
    #[arg(long, conflicts_with_all = ["outage", "sequential"])]
    pub cycle: bool,
}

/// A data tier named on the command line.
fn parse_tier(s: &str) -> Result<crate::model::DataTier, String> {
    crate::model::DataTier::parse(s)
        .ok_or_else(|| format!("{s:?} is not a data tier; expected database, cache or stream"))
}

/// `drctl failover` arguments.
#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// The policy file (local execution only).
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Submit to this controller cluster (any member's URL; several,
    /// repeated or comma-separated, are tried in turn) instead of
    /// executing here; the leader executes and this command follows the
    /// execution until it ends.
    #[arg(long, env = "DRCTL_CONTROLLER", value_delimiter = ',')]
    pub controller: Vec<String>,
    /// With --controller: how long each controller may take to answer
    /// before the next one is tried.
    #[arg(long, default_value = crate::api::client::DEFAULT_TIMEOUT, value_parser = crate::duration::parse_flag, requires = "controller")]
    pub timeout: Duration,
    /// With --controller: the policy's name, when the cluster owns several.
    #[arg(long, requires = "controller")]
    pub policy_name: Option<String>,
    /// With --controller: the API token.
    #[command(flatten)]
    pub token: remote::TokenArg,
    /// Execute the plan. Without it, nothing changes.
    #[arg(long)]
    pub confirm: bool,
    /// Accept up to this much data loss when a measured exposure is above
    /// the RPO (like 30m, 1h). Covers known exposures only. Recorded in the journal.
    #[arg(long, value_parser = crate::duration::parse_flag)]
    pub accept_data_loss: Option<Duration>,
    /// Accept an unbounded loss on a tier whose exposure cannot be measured
    /// (database, cache or stream; repeat for several). Recorded as such.
    #[arg(long, value_parser = parse_tier)]
    pub accept_unknown_loss: Vec<crate::model::DataTier>,
    /// Where executions are journaled (a reprotect recorded there makes
    /// the failover leave the region it made active).
    #[arg(long, env = "DRCTL_JOURNAL_DIR", default_value = ".drctl/journal")]
    pub journal_dir: PathBuf,
    /// Act on the simulated cloud `drctl sim serve` serves at this URL
    /// (like http://127.0.0.1:7100) instead of AWS.
    #[arg(long, value_name = "URL", conflicts_with = "controller")]
    pub sim: Option<String>,
    /// Where a finished execution is recorded for `drctl report` and
    /// `drctl history`.
    #[arg(long, env = "DRCTL_HISTORY_DIR", default_value = crate::history::DEFAULT_HISTORY_DIR)]
    pub history_dir: PathBuf,
    /// Who is running this, for the journal.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub operator: String,
    /// Why, for the journal and the audit log (recorded with any data-loss override).
    #[arg(long)]
    pub reason: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The longest `--lag` a drill accepts, in years: anything longer is a
/// typing error, and its milliseconds would not fit the figures reported.
const LAG_MAX_YEARS: u64 = 100;

/// [`LAG_MAX_YEARS`] as a duration (365-day years).
const LAG_MAX: Duration = Duration::from_secs(LAG_MAX_YEARS * 365 * 24 * 3600);

pub(super) fn parse_lag(
    text: &str,
) -> Result<(crate::model::DataTier, crate::model::Exposure), String> {
    let (tier, value) = text
        .split_once('=')
        .ok_or("expected TIER=DURATION, like database=40m")?;
    let tier = parse_tier(tier)?;
    let exposure = if value == "unknown" {
        crate::model::Exposure::Unknown
    } else {
        let lag = crate::duration::parse(value)?;
        if lag > LAG_MAX {
            return Err(format!(
                "{value} is longer than {} years: no replica lags that far",
                LAG_MAX_YEARS
            ));
        }
        crate::model::Exposure::Known(lag)
    };
    Ok((tier, exposure))
}
