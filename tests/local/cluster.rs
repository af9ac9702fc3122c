//! The local cluster as a user runs it: `drctl local-cluster` starts the
//! shared simulated cloud and three controller processes; `drctl status`
//! shows them; `drctl failover --confirm --controller` submits and follows
//! a failover while the leader's process is killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::local_support::{
    configs, drctl, drctl_get, get_json, local_cluster, root, start_local, status,
    wait_fence_old_primary, wait_status, Stop,
};
use assert_cmd::cargo::cargo_bin;

#[test]
fn a_local_cluster_fails_over_on_its_own_when_the_primary_stops_but_not_above_the_rpo() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, _pids, urls, sim) = start_local(dir.path());
    wait_status(&urls[0], Duration::from_secs(20), |t| {
        t.contains("primary healthy: 3 of 3 sites")
    });

    // Lag above the RPO, then the primary region stops: the detector
    // confirms it and the gate refuses on its own.
    let out = drctl(&["sim", "lag", "--url", &sim, "database=20m"]);
    assert!(out.status.success(), "{out:?}");
    let out = drctl(&["sim", "outage", "--url", &sim, "--primary", "down"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("primary region DOWN"),
        "{out:?}"
    );
    let text = wait_status(&urls[1], Duration::from_secs(30), |t| {
        t.contains("[held_down]")
    });
    assert!(text.contains("primary down: "), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(
        text.contains("database tier's data-loss exposure is 20m"),
        "{text}"
    );
    assert!(text.contains("active region us-east-1"), "{text}");
    let m = get_json(&format!("{sim}/sim/mutations")).unwrap_or_default();
    assert!(m.get("rds:PromoteReadReplica").is_none(), "{m}");

    // The lag is back within the RPO; the operator acknowledges the refusal
    // and the detector fails over on its own.
    let out = drctl(&["sim", "lag", "--url", &sim, "database=2s"]);
    assert!(out.status.success(), "{out:?}");
    let token = root().join("deploy/local/api-token");
    let out = drctl(&[
        "acknowledge",
        "--controller",
        &urls[2],
        "--token-file",
        token.to_str().unwrap(),
        "--reason",
        "lag back within the RPO",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = wait_status(&urls[0], Duration::from_secs(60), |t| {
        t.contains("active region us-west-2")
    });
    assert!(text.contains("requested by detector"), "{text}");
    assert!(text.contains("completed"), "{text}");
    let m = get_json(&format!("{sim}/sim/mutations")).unwrap();
    assert_eq!(m["rds:PromoteReadReplica"], 1, "{m}");
    drop(cluster);
}

#[test]
fn a_local_cluster_fails_over_through_the_cli_while_its_leader_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, pids, urls, sim) = start_local(dir.path());

    let out = drctl(&["status", "--controller", &urls[2]]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cluster: leader node"), "{text}");
    assert!(text.contains("active region us-east-1"), "{text}");

    // Without a token the CLI refuses before sending anything; with a wrong one the API does.
    let out = drctl(&["failover", "--confirm", "--controller", &urls[0]]);
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    let bad = dir.path().join("bad-token");
    std::fs::write(&bad, "not-the-token-of-this-cluster").unwrap();
    let out = drctl(&[
        "failover",
        "--confirm",
        "--controller",
        &urls[0],
        "--token-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(77), "{out:?}");

    let token = root().join("deploy/local/api-token");
    let follow = Command::new(cargo_bin("drctl"))
        .args([
            "failover",
            "--confirm",
            "--controller",
            &urls[2],
            "--reason",
            "e2e",
        ])
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Once the promotion is sent, kill the leader's process outright.
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        assert!(Instant::now() < deadline, "promotion never started");
        let m = get_json(&format!("{sim}/sim/mutations")).unwrap_or_default();
        if m["rds:PromoteReadReplica"] == 1 {
            let s = status(&urls[2]).unwrap();
            break s.leader.unwrap().id;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let pid = pids[&format!("node-{leader}")];
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());

    let out = follow.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("failed over to us-west-2"), "{stdout}");
    assert!(stderr.contains("resuming execution"), "{stderr}");
    let survivor = urls
        .iter()
        .enumerate()
        .find(|(i, _)| *i as u64 + 1 != leader)
        .unwrap()
        .1;
    // us-east-1 answers: the leader fences the old primary on its own
    // (renamed, tagged, its node group scaled to zero) right after.
    let fence =
        wait_fence_old_primary(survivor, Duration::from_secs(20), |f| f["status"] == "done");
    assert!(
        fence["outcome"]
            .to_string()
            .contains("renamed to emr-platform-prod-fenced-"),
        "{fence}"
    );
    let m = get_json(&format!("{sim}/sim/mutations")).unwrap();
    assert_eq!(m["rds:PromoteReadReplica"], 1, "{m}");
    assert_eq!(m["rds:ModifyDBInstance"], 1, "{m}");
    assert_eq!(m["rds:AddTagsToResource"], 1, "{m}");
    // Three DR node groups scaled up, one us-east-1 node group fenced.
    assert_eq!(m["eks:UpdateNodegroupConfig"], 4, "{m}");
    assert_eq!(m["elasticache:FailoverGlobalReplicationGroup"], 1, "{m}");
    assert_eq!(
        m["route53-recovery-cluster:UpdateRoutingControlStates"], 2,
        "{m}"
    );
    assert!(m.get("route53:ChangeResourceRecordSets").is_none(), "{m}");

    let out = drctl(&["status", "--controller", survivor, "--output", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["policies"][0]["active_region"], "us-west-2", "{s}");
    assert_eq!(s["policies"][0]["execution"]["resumed"], 1, "{s}");
    drop(cluster);
}

#[test]
fn a_us_east_1_outage_is_failed_over_from_us_west_2_without_calling_us_east_1() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, _pids, urls, sim) = start_local(dir.path());
    wait_status(&urls[1], Duration::from_secs(20), |t| {
        t.contains("primary healthy: 3 of 3 sites")
    });

    // us-east-1 goes away: its endpoints, its routing-control endpoint and
    // Route 53's control plane stop answering, and its controller node
    // reaches no AWS endpoint at all (it still talks to the other nodes).
    let out = drctl(&["sim", "outage", "--url", &sim, "--region", "us-east-1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("regions down: us-east-1"),
        "{out:?}"
    );
    // Calls to us-east-1 before the outage are the probes of normal
    // operation; a probe round in flight at the outage ends within its
    // 500 ms timeout. From then on, nothing may call us-east-1.
    // After the failover, by design, the old primary in us-east-1 is read
    // (RDS, and its application writers) to fence it and to raise `old
    // primary writable`: those calls are counted apart.
    std::thread::sleep(Duration::from_secs(1));
    let to_primary = || -> u64 {
        let calls = get_json(&format!("{sim}/sim/calls")).unwrap();
        calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["region"] == "us-east-1" || c["service"] == "route53")
            .filter(|c| {
                let fence_reads = c["service"] == "rds" || c["service"] == "writers";
                !(fence_reads && c["region"] == "us-east-1")
            })
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    };
    let before = to_primary();
    let text = wait_status(&urls[1], Duration::from_secs(90), |t| {
        t.contains("active region us-west-2") && t.contains("completed")
    });
    assert!(text.contains("requested by detector"), "{text}");

    let m = get_json(&format!("{sim}/sim/mutations")).unwrap();
    assert_eq!(m["rds:PromoteReadReplica"], 1, "{m}");
    assert_eq!(
        m["elasticache:DisassociateGlobalReplicationGroup"], 1,
        "{m}"
    );
    assert_eq!(
        m["route53-recovery-cluster:UpdateRoutingControlStates"], 2,
        "{m}"
    );
    assert!(
        m.get("elasticache:FailoverGlobalReplicationGroup")
            .is_none(),
        "{m}"
    );
    assert_eq!(
        to_primary(),
        before,
        "calls to us-east-1 during the failover"
    );
    // The old primary cannot be fenced while us-east-1 is gone: the fence
    // stays pending, tried again every 30s, and the failover did not wait.
    let fence = wait_fence_old_primary(&urls[1], Duration::from_secs(20), |f| {
        f["attempts"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(fence["status"], "pending", "{fence}");
    assert!(
        fence["waiting_for"]
            .as_str()
            .unwrap_or("")
            .contains("us-east-1 to answer"),
        "{fence}"
    );
    let m = get_json(&format!("{sim}/sim/mutations")).unwrap();
    assert!(m.get("rds:ModifyDBInstance").is_none(), "{m}");
    // The node of the region being activated executed it.
    let out = drctl(&["status", "--controller", &urls[1], "--output", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["leader"]["site"], "us-west-2", "{s}");
    assert!(s["policies"][0]["execution"]["placement"].is_null(), "{s}");
    drop(cluster);
}

/// One call to the simulated cloud (`POST /sim/call`), as a controller
/// makes it: the answer's `Ok` value, or the error's text.
fn sim_call(sim: &str, call: serde_json::Value) -> Result<serde_json::Value, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer: serde_json::Value = rt
        .block_on(async {
            reqwest::Client::new()
                .post(format!("{sim}/sim/call"))
                .json(&call)
                .timeout(Duration::from_secs(5))
                .send()
                .await?
                .json()
                .await
        })
        .map_err(|e| e.to_string())?;
    answer.get("Ok").cloned().ok_or_else(|| answer.to_string())
}

#[test]
fn a_primary_region_cut_off_from_the_majority_fences_its_own_node_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, _pids, urls, sim) = start_local(dir.path());
    wait_status(&urls[0], Duration::from_secs(20), |t| {
        t.contains("primary healthy: 3 of 3 sites")
    });
    let group = || {
        sim_call(
            &sim,
            serde_json::json!({
                "call": "get_node_group",
                "region": "us-east-1",
                "cluster": "emr-integration",
                "name": "app-nodes",
            }),
        )
        .unwrap()
    };
    let before = group();
    assert!(
        before["scaling"]["desired"].as_u64().unwrap() > 0,
        "{before}"
    );

    // us-east-1's controller loses the other two sites while its region
    // stays alive and writable inside.
    let out = drctl(&["sim", "outage", "--url", &sim, "--isolate", "us-east-1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cut off from the other sites: us-east-1"),
        "{out:?}"
    );

    // fencing.self_fence_after is 2s: node 1 fences well within 20s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fenced = loop {
        let s = status(&urls[0]);
        let f = s
            .as_ref()
            .and_then(|s| s.policies.first()?.self_fenced.clone());
        if let Some(f) = f {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "node 1 did not fence itself within 20s: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let because = &fenced.because;
    assert!(because.contains("cut off from the majority"), "{fenced:?}");
    assert!(because.contains("node 2 (us-west-2)"), "{fenced:?}");
    let outcome = fenced.outcome.join("\n");
    assert!(
        outcome.contains("node group emr-integration/app-nodes scaled from"),
        "{fenced:?}"
    );
    let after = group();
    assert_eq!(after["scaling"]["desired"], 0, "{after}");
    assert_eq!(after["scaling"]["min"], 0, "{after}");
    drop(cluster);
}

#[test]
fn a_bad_node_configuration_is_named_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.yaml");
    std::fs::write(&path, "node: {id: 1}\nlisten: nowhere\n").unwrap();
    let out = drctl(&["controller", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(path.to_str().unwrap()) && err.contains("missing field"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_local_cluster_killed_with_sigkill_takes_its_processes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, urls, sim) = configs(dir.path());
    let mut child = local_cluster(&paths, Stdio::null());
    let stdout = child.stdout.take().unwrap();
    let supervisor = child.id();
    let cluster = Stop(child);
    let mut table = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        table.push_str(&line);
        table.push('\n');
        if line.contains("drctl controller --config") {
            break;
        }
    }
    // The table names the simulated cloud's URL, and the hint the token
    // file the given configuration names (not deploy/local's).
    let sim_row = table
        .lines()
        .find(|l| l.trim_start().starts_with("sim "))
        .unwrap();
    assert!(sim_row.contains(&sim), "{table}");
    let token = root().join("deploy/local/api-token");
    assert!(
        table.contains(&format!("--token-file {}", token.display())),
        "{table}"
    );
    for u in urls.iter().chain([&sim]) {
        assert!(drctl_get(&format!("{u}/healthz")).is_some(), "{u} not up");
    }

    let killed = Command::new("kill")
        .args(["-9", &supervisor.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<&String> = urls
            .iter()
            .chain([&sim])
            .filter(|u| drctl_get(&format!("{u}/healthz")).is_some())
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still answering 10 s after the supervisor was killed: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(cluster);
}
