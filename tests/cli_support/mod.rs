//! The drctl binary as the CLI tests run it.

use assert_cmd::Command;

/// `drctl` from the project root, with AWS pointed at a closed port so that
/// no call can succeed by accident, and drills recorded in a history of the
/// test process's own (not the project's `.drctl/history`).
pub fn drctl() -> Command {
    let mut c = Command::cargo_bin("drctl").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    let history = std::env::temp_dir().join(format!("drctl-test-history-{}", std::process::id()));
    c.env("DRCTL_HISTORY_DIR", history);
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1");
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    c
}
