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

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    static VIRTUAL: RefCell<Option<Virtual>> = const { RefCell::new(None) };
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
    /// The virtual wall time now.
    fn now(&self) -> SystemTime {
        self.start + (tokio::time::Instant::now() - self.origin)
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
