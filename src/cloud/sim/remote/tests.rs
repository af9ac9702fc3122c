//! A failover through the wire, and the wire format of errors.

use super::*;
use crate::cloud::sim::SimOptions;
use crate::execute::{self, ExecutionStatus, MemoryJournal, RunOptions};
use std::sync::Arc;

/// A whole failover through the wire equals one on the world itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_through_the_wire_acts_on_the_served_world() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("poll_interval: 1s", "poll_interval: 50ms");
    let policy = Arc::new(crate::policy::parse(&path, &text).unwrap());
    let world = SimCloud::new(
        &policy,
        SimOptions {
            latency: super::super::LatencyModel::default().scaled(0.002),
            ..SimOptions::default()
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = world.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router(served)).await });
    let remote = Arc::new(RemoteSim::new(&url));
    let record = execute::execute(
        remote,
        policy,
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(record.status, ExecutionStatus::Completed, "{record:#?}");
    assert_eq!(
        world.mutations().get(Op::PromoteReadReplica.as_str()),
        Some(&1)
    );
    // Errors cross the wire with their kind and operation.
    let missing = RemoteSim::new(&url)
        .get_node_group("us-west-2", "nope", "x")
        .await;
    assert!(matches!(
        missing,
        Ok(None)
            | Err(CloudError {
                kind: ErrorKind::NotFound,
                ..
            })
    ));
    server.abort();
}

#[test]
fn a_wire_error_keeps_its_operation_and_an_unknown_one_reads_as_the_remote_call() {
    let wire = |op: &str| WireError {
        kind: ErrorKind::Conflict,
        op: op.to_string(),
        resource: "r".into(),
        message: "m".into(),
    };
    let known = CloudError::from(wire("rds:PromoteReadReplica"));
    assert_eq!(known.op, Op::PromoteReadReplica);
    assert_eq!(known.kind, ErrorKind::Conflict);
    assert_eq!(CloudError::from(wire("rds:Explode")).op, Op::SimCall);
    // And back: the wire spells the operation as Op does.
    let sent = to_value::<()>(Err(known)).unwrap_err();
    assert_eq!(sent.op, "rds:PromoteReadReplica");
}
