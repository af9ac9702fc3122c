//! `drctl reprotect` and `drctl failback` without `--controller`, as a user
//! runs them after `drctl failover --confirm`: here, against the simulated
//! cloud `drctl sim serve` serves, with the local journal, the roles read
//! from that journal.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const POLICY: &str = "deploy/local/emr-platform.yaml";

/// `drctl sim serve` on a free port, stopped on drop.
struct Sim(Child, String);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve() -> Sim {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(cargo_bin("drctl"))
        .current_dir(root())
        .args(["sim", "serve", "--policy", POLICY, "--scale", "0.005"])
        .args(["--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sim = Sim(child, format!("http://{listen}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "drctl sim serve never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    sim
}

/// Runs `drctl args... --policy POLICY --sim URL --journal-dir J`, bounded.
fn drctl(sim: &Sim, journal: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(cargo_bin("drctl"))
        .current_dir(root())
        .args(args)
        .args(["--policy", POLICY, "--sim", &sim.1])
        .arg("--journal-dir")
        .arg(journal)
        .arg("--history-dir")
        .arg(journal.join("history"))
        .env_remove("DRCTL_CONTROLLER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("drctl {args:?} did not end within 120s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_failover_then_a_reprotect_run_here_read_the_roles_from_the_local_journal() {
    let sim = serve();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");

    // Nothing failed over: a reprotect does not apply, and says why.
    let out = drctl(&sim, &journal, &["reprotect", "--confirm"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("reprotect applies after a failover"), "{t}");
    assert!(t.contains("us-east-1, protected"), "{t}");

    let out = drctl(&sim, &journal, &["failover", "--confirm"]);
    assert!(out.status.success(), "{}", text(&out));

    // A dry run prints the plan from us-west-2, and changes nothing.
    let out = drctl(&sim, &journal, &["reprotect"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("roles: us-west-2 active, unprotected; policy read as_written"),
        "{t}"
    );
    assert!(
        t.contains("reprotect plan for policy emr-platform: us-west-2 → us-east-1"),
        "{t}"
    );
    assert!(t.contains("dry run: nothing was changed"), "{t}");
    assert!(t.contains("drctl reprotect --confirm"), "{t}");

    let out = drctl(
        &sim,
        &journal,
        &["reprotect", "--confirm", "--reason", "test"],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("switch-roles"), "{t}");
    assert!(
        t.contains(
            "roles: us-west-2 active, protected, replicas in us-east-1; policy read reversed"
        ),
        "{t}"
    );

    // The journal keeps the roles: a second reprotect does not apply...
    let out = drctl(&sim, &journal, &["reprotect", "--confirm"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("policy read reversed"),
        "{}",
        text(&out)
    );
    // ...and a failover now leaves us-west-2 for us-east-1.
    let out = drctl(&sim, &journal, &["failover"]);
    let t = text(&out);
    assert!(
        t.contains("failover plan for policy emr-platform: us-west-2 → us-east-1"),
        "{t}"
    );
    // A failback's dry run reads the same roles.
    let out = drctl(&sim, &journal, &["failback"]);
    let t = text(&out);
    assert!(
        t.contains("failback plan for policy emr-platform: us-west-2 → us-east-1"),
        "{t}"
    );
}

#[test]
fn a_reprotect_run_here_prints_json_and_is_recorded_in_the_history() {
    let sim = serve();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let out = drctl(&sim, &journal, &["failover", "--confirm"]);
    assert!(out.status.success(), "{}", text(&out));

    // The dry run's plan, as JSON on stdout alone.
    let out = drctl(&sim, &journal, &["reprotect", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(plan["kind"], "reprotect", "{plan}");
    assert_eq!(plan["from_region"], "us-west-2", "{plan}");

    // The run's report, as JSON; the roles line on stderr.
    let out = drctl(
        &sim,
        &journal,
        &["reprotect", "--confirm", "--output", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["status"], "completed", "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy read reversed"), "{stderr}");

    // Recorded in the history: `drctl report` finds it there (the journal
    // would say it ran against aws).
    let id = report["execution_id"].as_str().expect("an execution id");
    let out = Command::new(cargo_bin("drctl"))
        .current_dir(root())
        .args(["report", id, "--format", "json", "--history-dir"])
        .arg(journal.join("history"))
        .arg("--journal-dir")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(found["target"], "sim", "{found}");
    assert_eq!(found["execution_id"], id, "{found}");
}

#[test]
fn without_a_controller_the_simulated_cloud_flag_and_a_controller_exclude_each_other() {
    for cmd in ["reprotect", "failback", "failover"] {
        let out = Command::new(cargo_bin("drctl"))
            .current_dir(root())
            .args([cmd, "--sim", "http://127.0.0.1:9", "--controller"])
            .arg("http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("--sim") && t.contains("--controller"), "{t}");
    }
    // A cluster's execution is followed, not printed as JSON.
    for cmd in ["reprotect", "failback"] {
        let out = Command::new(cargo_bin("drctl"))
            .current_dir(root())
            .args([
                cmd,
                "--output",
                "json",
                "--controller",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("--output") && t.contains("--controller"), "{t}");
    }
}
