//! Refused authentication on the API's authenticated routes: each refusal
//! is logged at WARN with the peer's address and the route (never the
//! token), at most one line per peer per [`LOG_EVERY`] with a count of the
//! lines left out, and a peer that keeps guessing is slowed down: after
//! [`REFUSALS_ALLOWED`] wrong tokens within [`REFUSAL_WINDOW`] its requests
//! without the valid token are answered 429 with `Retry-After` until the
//! window ends. A request without any token is logged but not counted (it
//! guesses nothing); a request with the valid token is never held back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::error;

/// Refusals a peer may have within [`REFUSAL_WINDOW`] before it is slowed down.
pub const REFUSALS_ALLOWED: u32 = 10;
/// The window over which a peer's refusals are counted.
pub const REFUSAL_WINDOW: Duration = Duration::from_secs(60);
/// At most one refusal line per peer this often.
pub const LOG_EVERY: Duration = Duration::from_secs(1);
/// Peers tracked at once; beyond it the stalest is forgotten.
pub const PEERS_MAX: usize = 4096;

/// One peer's refusals in the current window.
#[derive(Debug, Clone, Copy)]
struct Peer {
    window_start: Instant,
    failures: u32,
    last_logged: Option<Instant>,
    unlogged: u64,
}

/// What to do about a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Log it now, saying how many refusals went unlogged before it.
    pub log: Option<u64>,
}

/// Refusals per peer address, shared by every request to one node.
#[derive(Debug, Default)]
pub struct Refusals {
    peers: Mutex<HashMap<IpAddr, Peer>>,
}

impl Refusals {
    /// How long `ip` must wait when it has used up its refusals, if it has.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let peers = self.peers.lock().expect("refusals lock");
        let p = peers.get(&ip)?;
        let ends = p.window_start + REFUSAL_WINDOW;
        (p.failures >= REFUSALS_ALLOWED && now < ends).then(|| ends - now)
    }

    /// Notes a refusal of `ip` (counted towards slowing it down when
    /// `guess`: a wrong token) and says whether to log it.
    pub fn refused(&self, ip: IpAddr, now: Instant, guess: bool) -> Refusal {
        let mut peers = self.peers.lock().expect("refusals lock");
        if peers.len() >= PEERS_MAX && !peers.contains_key(&ip) {
            let stalest = peers
                .iter()
                .min_by_key(|(_, p)| p.window_start)
                .map(|(ip, _)| *ip);
            if let Some(stalest) = stalest {
                peers.remove(&stalest);
            }
        }
        let p = peers.entry(ip).or_insert(Peer {
            window_start: now,
            failures: 0,
            last_logged: None,
            unlogged: 0,
        });
        if now >= p.window_start + REFUSAL_WINDOW {
            p.window_start = now;
            p.failures = 0;
        }
        if guess {
            p.failures = p.failures.saturating_add(1);
        }
        let due = p.last_logged.is_none_or(|t| now >= t + LOG_EVERY);
        if due {
            p.last_logged = Some(now);
            let left_out = std::mem::take(&mut p.unlogged);
            Refusal {
                log: Some(left_out),
            }
        } else {
            p.unlogged += 1;
            Refusal { log: None }
        }
    }
}

/// What the middleware needs: the valid token and the peers' refusals.
#[derive(Clone)]
pub(super) struct Guard {
    pub token: Arc<str>,
    pub refusals: Arc<Refusals>,
}

fn has_valid_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())))
}

/// Lets requests with the valid token through; counts, logs and slows
/// down the others (see the module documentation).
pub(super) async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    if has_valid_token(req.headers(), &g.token) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let route = req.uri().path().to_string();
    let now = Instant::now();
    let resp = match g.refusals.blocked(peer, now) {
        Some(wait) => too_many(wait),
        None => next.run(req).await,
    };
    let status = resp.status();
    if matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    ) {
        let guess = status != StatusCode::UNAUTHORIZED;
        if let Some(left_out) = g.refusals.refused(peer, now, guess).log {
            tracing::warn!(
                peer = %peer,
                route = %route,
                status = status.as_u16(),
                refusals_not_logged = left_out,
                "API request refused: missing or wrong bearer token"
            );
        }
    }
    resp
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "too many requests with a missing or wrong bearer token from this address: retry in {secs}s with the cluster's API token"
        ),
    );
    r.headers_mut().insert(
        "retry-after",
        HeaderValue::from_str(&secs.max(1).to_string()).expect("digits are a valid header"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_refusals_is_slowed_down_and_logged_about_once_a_second() {
        let r = Refusals::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        let mut logged = 0;
        let mut blocked = 0;
        for _ in 0..50 {
            let now = Instant::now();
            if r.blocked(ip, now).is_some() {
                blocked += 1;
            }
            if r.refused(ip, now, true).log.is_some() {
                logged += 1;
            }
            tokio::time::advance(Duration::from_millis(20)).await;
        }
        assert_eq!(blocked, 50 - REFUSALS_ALLOWED as usize);
        assert_eq!(logged, 1, "one line within the first second");
        let report = r.refused(ip, Instant::now(), true);
        assert_eq!(report.log, Some(49), "the next line counts those left out");
        assert!(r.blocked(other, Instant::now()).is_none());
        for _ in 0..50 {
            r.refused(other, Instant::now(), false);
        }
        assert!(
            r.blocked(other, Instant::now()).is_none(),
            "a missing token guesses nothing"
        );
        tokio::time::advance(REFUSAL_WINDOW).await;
        assert!(r.blocked(ip, Instant::now()).is_none(), "the window ended");
    }
}
