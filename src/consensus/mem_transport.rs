//! An in-memory network: every node's router in one process, calls handed
//! to the target's router directly (no sockets), with the faults a network
//! between regions has — delay, loss (of the request or of its answer),
//! duplication — drawn from one seeded generator, so a run replays exactly.
//! Partitions are cut with [`super::network::Links`], as in every cluster
//! test; a node that is not registered (crashed) refuses at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;

use super::transport::{Answer, Call, Method, Sending, Transport};
use super::NodeId;

/// The network's faults, as probabilities per call and a delay range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetFaults {
    /// Each way's delay is drawn uniformly from this range.
    pub delay: (Duration, Duration),
    /// Probability that a call is lost (the request, or its answer).
    pub loss: f64,
    /// Probability that a request is delivered twice.
    pub duplicate: f64,
}

impl Default for NetFaults {
    fn default() -> Self {
        Self {
            delay: (Duration::from_millis(5), Duration::from_millis(35)),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What the network did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Calls sent.
    pub sent: u64,
    /// Calls lost on the way there or back.
    pub lost: u64,
    /// Requests delivered twice.
    pub duplicated: u64,
    /// Calls to a node that was down.
    pub refused: u64,
}

/// A registered node: its id, its router, and its clock offset.
type Node = (NodeId, Router, i64);

struct Inner {
    nodes: BTreeMap<String, Node>,
    faults: NetFaults,
    rng: SmallRng,
    stats: NetStats,
}

/// The in-memory network (cheap to clone; clones share it).
#[derive(Clone)]
pub struct MemNet {
    inner: Arc<Mutex<Inner>>,
}

/// One delivery's fate, drawn when the call is sent.
struct Fate {
    there: Duration,
    back: Duration,
    lose_request: bool,
    lose_answer: bool,
    duplicate: bool,
}

impl MemNet {
    /// A network whose faults are drawn from `seed`.
    pub fn new(seed: u64, faults: NetFaults) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                nodes: BTreeMap::new(),
                faults,
                rng: SmallRng::seed_from_u64(seed),
                stats: NetStats::default(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("network lock")
    }

    /// Node `id` answers at `addr` with `router` from now on, its handlers
    /// reading the wall clock of the task that registers it (the node's
    /// skew in a simulation, [`crate::clock`]).
    pub fn register(&self, id: NodeId, addr: &str, router: Router) {
        let addr = addr.trim_end_matches('/').to_string();
        let skew = crate::clock::skew_ms();
        self.lock().nodes.insert(addr, (id, router, skew));
    }

    /// The node at `addr` stops answering (it crashed).
    pub fn unregister(&self, addr: &str) {
        self.lock().nodes.remove(addr.trim_end_matches('/'));
    }

    /// Changes the faults from now on.
    pub fn set_faults(&self, faults: NetFaults) {
        self.lock().faults = faults;
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        self.lock().stats
    }

    fn fate(&self) -> Fate {
        let mut g = self.lock();
        let Inner {
            faults, rng, stats, ..
        } = &mut *g;
        let mut delay = || {
            let (lo, hi) = faults.delay;
            if hi > lo {
                rng.random_range(lo..hi)
            } else {
                lo
            }
        };
        let (there, back) = (delay(), delay());
        let lost = faults.loss > 0.0 && rng.random_bool(faults.loss.min(1.0));
        let request_side = rng.random_bool(0.5);
        let duplicate = faults.duplicate > 0.0 && rng.random_bool(faults.duplicate.min(1.0));
        stats.sent += 1;
        stats.lost += u64::from(lost);
        stats.duplicated += u64::from(duplicate);
        Fate {
            there,
            back,
            lose_request: lost && request_side,
            lose_answer: lost && !request_side,
            duplicate,
        }
    }

    fn target(&self, base: &str) -> Option<Node> {
        let g = self.lock();
        g.nodes.get(base).cloned()
    }
}

/// Builds the request a router takes from `call`, as sent by `from`.
fn request(from: NodeId, call: &Call) -> axum::http::Request<Body> {
    let method = match call.method {
        Method::Get => axum::http::Method::GET,
        Method::Post => axum::http::Method::POST,
    };
    let mut b = axum::http::Request::builder()
        .method(method)
        .uri(call.path.as_str());
    for (k, v) in &call.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let mut req = b
        .body(Body::from(call.body.clone()))
        .expect("a call's path and headers always make a request");
    // The API reads the peer's address (refusal log and limits): each node
    // gets one loopback address of its own.
    let peer = SocketAddr::from(([127, 0, 0, (from % 250) as u8 + 1], 7000));
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// Hands `call` to `router` and reads the whole answer.
async fn deliver(router: Router, from: NodeId, call: &Call) -> Answer {
    let resp = router
        .oneshot(request(from, call))
        .await
        .unwrap_or_else(|never| match never {});
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|_| Bytes::new());
    Answer { status, body }
}

impl Transport for MemNet {
    fn send(&self, from: NodeId, call: Call) -> Sending {
        let net = self.clone();
        Box::pin(async move {
            let fate = net.fate();
            let timeout = call.timeout;
            let base = call.base.clone();
            let trip = async {
                tokio::time::sleep(fate.there).await;
                let Some((_, router, skew)) = net.target(&call.base) else {
                    net.lock().stats.refused += 1;
                    return Err(format!("{base}: connection refused (node down)"));
                };
                if fate.lose_request {
                    std::future::pending::<()>().await;
                }
                if fate.duplicate {
                    let (router, call) = (router.clone(), call.clone());
                    tokio::spawn(crate::clock::skewed(skew, async move {
                        deliver(router, from, &call).await;
                    }));
                }
                // The handler runs on the receiving node's clock.
                let answer = crate::clock::skewed(skew, deliver(router, from, &call)).await;
                if fate.lose_answer {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(fate.back).await;
                Ok(answer)
            };
            tokio::time::timeout(timeout, trip)
                .await
                .unwrap_or_else(|_| Err(format!("{base}: no answer within {timeout:?}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    fn echo() -> Router {
        Router::new().route("/echo", post(|body: Bytes| async move { body }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_reaches_the_registered_router_and_a_missing_node_refuses() {
        let net = MemNet::new(1, NetFaults::default());
        net.register(2, "http://n2", echo());
        let a = net
            .send(
                1,
                Call::post("http://n2", "/echo", "hi", Duration::from_secs(1)),
            )
            .await
            .unwrap();
        assert_eq!((a.status, &a.body[..]), (200, &b"hi"[..]));
        net.unregister("http://n2");
        let e = net
            .send(
                1,
                Call::post("http://n2", "/echo", "hi", Duration::from_secs(1)),
            )
            .await
            .unwrap_err();
        assert!(e.contains("node down"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn losses_time_out_and_the_same_seed_draws_the_same_fates() {
        let run = |seed| async move {
            let net = MemNet::new(
                seed,
                NetFaults {
                    loss: 0.5,
                    ..NetFaults::default()
                },
            );
            net.register(2, "http://n2", echo());
            let mut outcomes = Vec::new();
            for _ in 0..40 {
                let r = net
                    .send(
                        1,
                        Call::post("http://n2", "/echo", "x", Duration::from_secs(1)),
                    )
                    .await;
                outcomes.push(r.is_ok());
            }
            (outcomes, net.stats())
        };
        let (a, stats) = run(7).await;
        let (b, _) = run(7).await;
        assert_eq!(a, b, "one seed, one history");
        assert!(stats.lost > 5 && stats.lost < 35, "{stats:?}");
        assert_eq!(a.iter().filter(|ok| !**ok).count() as u64, stats.lost);
    }
}
