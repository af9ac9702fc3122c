//! The way home on the local cluster, by hand with the CLI as the README's
//! "The way home" section writes it: `drctl failover --confirm`, then
//! `drctl reprotect` (dry run, then `--confirm`), then `drctl status` on
//! every node shows the policy reversed and protected.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::local_support::{root, start_local, wait_fence_old_primary, wait_status};
use assert_cmd::cargo::cargo_bin;

/// `drctl args... --token-file deploy/local/api-token`, ended within 180 s.
fn drctl_with_token(args: &[&str]) -> Output {
    let mut child = Command::new(cargo_bin("drctl"))
        .args(args)
        .arg("--token-file")
        .arg(root().join("deploy/local/api-token"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("drctl {args:?} did not end within 180s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn shown(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn on_a_local_cluster_a_failover_then_a_reprotect_by_hand_leave_the_policy_reversed_and_protected()
{
    let dir = tempfile::tempdir().unwrap();
    let (cluster, _pids, urls, _sim) = start_local(dir.path());
    let all = urls.join(",");
    wait_status(&urls[0], Duration::from_secs(30), |t| {
        t.contains("primary healthy: 3 of 3 sites")
    });

    let out = drctl_with_token(&["failover", "--confirm", "--controller", &all]);
    let t = shown(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("failed over to us-west-2"), "{t}");
    // us-east-1 answers: the leader fences the old primary, which frees
    // its name for the new replica.
    wait_fence_old_primary(&urls[1], Duration::from_secs(30), |f| f["status"] == "done");

    let out = drctl_with_token(&["reprotect", "--controller", &all]);
    let t = shown(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("reprotect plan for policy emr-platform: us-west-2 → us-east-1"),
        "{t}"
    );
    assert!(t.contains("preflight: ok"), "{t}");
    assert!(t.contains("dry run: nothing was changed"), "{t}");

    let out = drctl_with_token(&[
        "reprotect",
        "--confirm",
        "--controller",
        &all,
        "--reason",
        "the way home",
    ]);
    let t = shown(&out);
    assert!(out.status.success(), "{t}");

    for url in &urls {
        let text = wait_status(url, Duration::from_secs(20), |t| {
            t.contains("policy read reversed")
        });
        assert!(text.contains("active region us-west-2"), "{url}:\n{text}");
        assert!(
            text.contains("protection: protected, replicas in us-east-1; policy read reversed"),
            "{url}:\n{text}"
        );
    }
    drop(cluster);
}
