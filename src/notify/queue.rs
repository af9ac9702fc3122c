//! A bounded queue that never makes the emitting side wait.
//!
//! A tokio `mpsc` channel either blocks the sender or refuses the newest
//! item when full; here the newest event must get in (the failover's own
//! events matter most when things go wrong), so when the queue is full it
//! drops the oldest non-critical event, or, when every queued event is
//! critical, the oldest one. The caller counts what was dropped.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Something that may be dropped first when a queue is full.
pub trait Droppable {
    /// Whether it must be kept over non-critical items.
    fn critical(&self) -> bool;
}

impl Droppable for super::Event {
    fn critical(&self) -> bool {
        self.kind.critical()
    }
}

/// A bounded multi-producer queue with one consumer.
pub struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    ready: Notify,
}

impl<T: Droppable> Queue<T> {
    /// An empty queue holding at most `capacity` items (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
        }
    }

    /// Adds `item` at once; returns the item dropped to make room, if any.
    pub fn push(&self, item: T) -> Option<T> {
        let mut q = self.items.lock().expect("queue lock");
        let dropped = if q.len() >= self.capacity {
            let at = q.iter().position(|i| !i.critical()).unwrap_or(0);
            q.remove(at)
        } else {
            None
        };
        q.push_back(item);
        drop(q);
        self.ready.notify_one();
        dropped
    }

    /// The oldest item, waiting for one.
    pub async fn pop(&self) -> T {
        loop {
            if let Some(item) = self.items.lock().expect("queue lock").pop_front() {
                return item;
            }
            self.ready.notified().await;
        }
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.items.lock().expect("queue lock").len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item(u32, bool);

    impl Droppable for Item {
        fn critical(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_non_critical_item() {
        let q = Queue::new(3);
        assert_eq!(q.push(Item(1, true)), None);
        assert_eq!(q.push(Item(2, false)), None);
        assert_eq!(q.push(Item(3, false)), None);
        assert_eq!(q.push(Item(4, true)), Some(Item(2, false)));
        assert_eq!(q.push(Item(5, true)), Some(Item(3, false)));
        // Every item critical: the oldest goes.
        assert_eq!(q.push(Item(6, false)), Some(Item(1, true)));
        assert_eq!(q.len(), 3);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = std::sync::Arc::new(Queue::new(2));
        let q2 = q.clone();
        let t = tokio::spawn(async move { q2.pop().await });
        tokio::task::yield_now().await;
        q.push(Item(7, false));
        assert_eq!(t.await.unwrap(), Item(7, false));
        assert!(q.is_empty());
    }
}
