//! The API against its own description: schemathesis (`st run`) generates
//! requests from docs/openapi.yaml, valid and invalid, and runs every
//! check on the answers of a three-node cluster's leader.
//!
//! `st` is `DRCTL_SCHEMATHESIS` when set (scripts/test.sh sets it), else
//! `.test-env/venv/bin/st` when installed; without either the test is
//! skipped, saying so. The run is bounded by `--max-time` and killed after
//! [`RUN_MAX`].

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster_support::{Cluster, TOKEN};

/// The longest the whole `st run` may take before it is killed.
const RUN_MAX: Duration = Duration::from_secs(300);

fn schemathesis() -> Option<PathBuf> {
    if let Some(st) = std::env::var_os("DRCTL_SCHEMATHESIS") {
        let st = PathBuf::from(st);
        assert!(
            st.exists(),
            "DRCTL_SCHEMATHESIS={} does not exist",
            st.display()
        );
        return Some(st);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-env/venv/bin/st");
    local.exists().then_some(local)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_passes_schemathesis_with_every_check() {
    let Some(st) = schemathesis() else {
        eprintln!(
            "SKIPPED: schemathesis is not installed: set DRCTL_SCHEMATHESIS to its `st` \
             or run scripts/test.sh, which installs it in .test-env/venv"
        );
        return;
    };
    let c = Cluster::start(0.005).await;
    let leader = c.leader().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let reports = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(&st);
    cmd.current_dir(&root)
        .arg("--config-file")
        .arg(root.join("tests/schemathesis/schemathesis.toml"))
        .arg("--no-color")
        .args(["run", "docs/openapi.yaml", "--url"])
        .arg(c.url(leader))
        .args(["--checks", "all", "--max-examples", "25", "--seed", "7"])
        .args([
            "--max-time",
            "120",
            "--workers",
            "1",
            "--request-timeout",
            "70",
        ])
        .args(["--generation-database", "none", "--report-dir"])
        .arg(reports.path())
        .arg("-H")
        .arg(format!("Authorization: Bearer {TOKEN}"))
        .kill_on_drop(true);
    let out = tokio::time::timeout(RUN_MAX, cmd.output())
        .await
        .expect("st run ended within its bound")
        .expect("st runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    c.stop().await;
}
