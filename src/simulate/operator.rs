//! The operator of a seed's run: a failover asked for through a node's API,
//! as `drctl failover --controller URL --confirm [--accept-data-loss D]`
//! sends it (`POST /v1/failover`), asked again until a node answers.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::world::{World, TOKEN};
use crate::consensus::transport::{Call, Transport};

/// How long one request may wait for its answer: the leader decides within
/// a minute, and a hand-off comes first.
const ANSWER_WITHIN: Duration = Duration::from_secs(70);

/// The operator's failover request and what became of it.
#[derive(Default)]
pub struct Operator {
    /// The request's body while it waits for an answer.
    body: Option<String>,
    /// The call on its way.
    in_flight: Option<JoinHandle<Result<u16, String>>>,
    /// When it was first asked.
    pub asked_at: Option<Duration>,
    /// The answer's status once a node decided.
    pub answered: Option<u16>,
}

impl Operator {
    /// Asks for a failover at `now`, accepting `accept` of data loss.
    pub fn ask(&mut self, now: Duration, accept: Option<Duration>) {
        let mut body = serde_json::json!({
            "confirm": true,
            "operator": "simulation",
            "reason": "seeded operator failover",
        });
        if let Some(a) = accept {
            // Plain minutes, as an operator types it (`31m`).
            body["accept_data_loss"] = format!("{}m", a.as_secs().div_ceil(60)).into();
        }
        self.body = Some(body.to_string());
        self.asked_at = Some(now);
    }

    /// Whether the request still waits for a node's decision.
    pub fn pending(&self) -> bool {
        self.body.is_some()
    }

    /// Sends the request (again) to a running node, preferring the
    /// secondary's, and reads the answer of the call sent before. A
    /// decision (started, already done, refused, one running) ends it; a
    /// node that did not decide is asked again.
    pub async fn poll(&mut self, world: &World) {
        let Some(body) = self.body.clone() else {
            return;
        };
        if let Some(call) = self.in_flight.take_if(|c| c.is_finished()) {
            if let Ok(Ok(status)) = call.await {
                if matches!(status, 200 | 202 | 409 | 412 | 422) {
                    self.answered = Some(status);
                    self.body = None;
                    return;
                }
            }
        }
        if self.in_flight.is_some() {
            return;
        }
        let Some(node) = world.any_node(2) else {
            return;
        };
        let call = Call::post(&node.ctx.me().addr, "/v1/failover", body, ANSWER_WITHIN)
            .header("authorization", format!("Bearer {TOKEN}"));
        let net = world.net.clone();
        self.in_flight = Some(tokio::spawn(async move {
            net.send(0, call).await.map(|a| a.status)
        }));
    }
}
