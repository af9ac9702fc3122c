//! The one wall clock every part of drctl asks for the time.
//!
//! Monotonic time is `tokio::time::Instant` everywhere (it follows tokio's
//! paused clock in tests and in the simulation). Wall time — probe round
//! stamps, heartbeats, journal and audit timestamps, request signatures —
//! comes from here: the system clock in production, or, on a thread that
//! runs the simulation, a virtual wall clock that starts at a chosen instant
//! and advances with tokio's (paused) clock, shifted per node by the clock
//! skew the simulation draws (see [`Virtual`]).
//!
//! The virtual clock is per thread: the simulation runs each seed on its own
//! current-thread runtime, so seeds run side by side without sharing a clock.
//! Work sent to `spawn_blocking` threads reads the system clock.
//!
//! A node's skew is a task-local offset ([`skewed`]): the simulation's three
//! nodes share one thread, so a per-thread offset cannot tell them apart,
//! and passing a clock to every caller would change every signature that
//! stamps a time. The offset follows a node's work into the tasks it starts
//! because the controller spawns through [`spawn`] (and [`inherit`] for a
//! `JoinSet`); the two places where a node's work runs in a task it did not
//! start carry the offset themselves: the in-memory network runs a call's
//! handler under the receiving node's offset, and the raft network signs
//! under the offset of the node that built it (openraft's own tasks start
//! outside any node's scope). Outside a simulation no offset is ever set.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    static VIRTUAL: RefCell<Option<Virtual>> = const { RefCell::new(None) };
}

tokio::task_local! {
    /// The current node's clock offset from the virtual clock, in ms.
    static SKEW_MS: i64;
}

/// Runs `fut` with the virtual wall clock `skew_ms` milliseconds ahead
/// (behind, when negative), as one node's clock would be.
pub fn skewed<F: Future>(skew_ms: i64, fut: F) -> impl Future<Output = F::Output> {
    SKEW_MS.scope(skew_ms, fut)
}

/// Runs `f` with the virtual wall clock `skew_ms` milliseconds off.
pub fn skewed_sync<R>(skew_ms: i64, f: impl FnOnce() -> R) -> R {
    SKEW_MS.sync_scope(skew_ms, f)
}

/// The current task's clock offset in milliseconds (0 outside any node).
pub fn skew_ms() -> i64 {
    SKEW_MS.try_with(|s| *s).unwrap_or(0)
}

/// `fut`, keeping the current task's clock offset wherever it runs.
pub fn inherit<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    skewed(skew_ms(), fut)
}

/// `tokio::spawn`, the task keeping the current task's clock offset.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(inherit(fut))
}

/// A virtual wall clock: `start` at the tokio instant `origin`, advancing
/// with tokio's clock.
#[derive(Debug, Clone, Copy)]
pub struct Virtual {
    /// The wall time at `origin`.
    pub start: SystemTime,
    /// The tokio instant that corresponds to `start`.
    pub origin: tokio::time::Instant,
}

impl Virtual {
    /// The virtual wall time now, shifted by the current node's offset.
    fn now(&self) -> SystemTime {
        let t = self.start + (tokio::time::Instant::now() - self.origin);
        let skew = skew_ms();
        let off = Duration::from_millis(skew.unsigned_abs());
        if skew >= 0 {
            t + off
        } else {
            t - off
        }
    }
}

/// Makes this thread's wall clock virtual until the guard is dropped.
/// Call it inside the runtime whose clock it should follow.
#[must_use = "the clock is virtual only while the guard lives"]
pub fn use_virtual(start: SystemTime) -> VirtualGuard {
    let v = Virtual {
        start,
        origin: tokio::time::Instant::now(),
    };
    VIRTUAL.with(|c| *c.borrow_mut() = Some(v));
    VirtualGuard {
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the system clock on this thread when dropped.
pub struct VirtualGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for VirtualGuard {
    fn drop(&mut self) {
        VIRTUAL.with(|c| *c.borrow_mut() = None);
    }
}

/// Whether this thread's clock is virtual.
pub fn is_virtual() -> bool {
    VIRTUAL.with(|c| c.borrow().is_some())
}

/// The wall clock now.
pub fn now() -> SystemTime {
    VIRTUAL
        .with(|c| c.borrow().map(|v| v.now()))
        .unwrap_or_else(SystemTime::now)
}

/// The wall clock now, in Unix milliseconds (0 before 1970).
pub fn now_ms() -> u64 {
    unix_ms(now())
}

/// `t` in Unix milliseconds (0 before 1970, saturating far in the future).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The wall clock now, as a UTC date-time.
pub fn now_utc() -> time::OffsetDateTime {
    let since = now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    time::OffsetDateTime::UNIX_EPOCH + since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_virtual_clock_follows_tokio_s_paused_time_and_ends_with_its_guard() {
        let start = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        {
            let _g = use_virtual(start);
            assert_eq!(now(), start);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            assert_eq!(now_ms(), 1_900_003_600_000);
            assert_eq!(now_utc().unix_timestamp(), 1_900_003_600);
            assert!(is_virtual());
        }
        assert!(!is_virtual());
        let wall = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(wall < 1_900_000_000, "back on the system clock");
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_s_skew_shifts_its_clock_and_follows_the_tasks_it_spawns() {
        let start = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let _g = use_virtual(start);
        let base = unix_ms(start);
        let (own, child, other) = skewed(2_000, async {
            let child = spawn(async { now_ms() });
            let other = tokio::spawn(async { now_ms() });
            (now_ms(), child.await.unwrap(), other.await.unwrap())
        })
        .await;
        assert_eq!((own, child), (base + 2_000, base + 2_000));
        assert_eq!(other, base, "a plain tokio::spawn starts outside the node");
        assert_eq!(skewed_sync(-1_500, now_ms), base - 1_500);
        assert_eq!(now_ms(), base);
    }

    #[test]
    fn another_thread_keeps_the_system_clock() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let _g = use_virtual(UNIX_EPOCH);
            let other = std::thread::spawn(now_ms).join().unwrap();
            assert!(other > 1_000_000_000_000, "the system clock, not 1970");
            assert!(now_ms() < 1000);
        });
    }
}
