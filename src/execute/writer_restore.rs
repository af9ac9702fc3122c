//! The access strings writer fences replaced (ElastiCache users keep no
//! state of their own): journaled by the execution whose fence returned
//! them, and given back by the lift or undo of that region, in the same
//! execution or a later one.

use std::collections::BTreeMap;

use super::ExecutionRecord;
use crate::plan::Action;

/// Access strings to restore, per region: region → ElastiCache user id →
/// access string from before a fence (never a secret).
pub type WriterRestore = BTreeMap<String, BTreeMap<String, String>>;

/// Adds `newer` to `known`: a later fence's string for a user replaces an
/// earlier one (it saw the user as it was since).
pub fn merge_writer_restore(known: &mut WriterRestore, newer: &WriterRestore) {
    for (region, users) in newer {
        let kept = known.entry(region.clone()).or_default();
        for (user, access) in users {
            kept.insert(user.clone(), access.clone());
        }
    }
}

/// Keeps `restore`, what one fence of `region`'s writers returned, in
/// `kept`: the first entry per user wins, since a repeated fence finds the
/// user already fenced and must never replace the string from before.
pub fn keep_first(kept: &mut WriterRestore, region: &str, restore: BTreeMap<String, String>) {
    let users = kept.entry(region.to_string()).or_default();
    for (user, access) in restore {
        users.entry(user).or_insert(access);
    }
}

/// What the executions of `records` (oldest first) left to restore.
pub fn known_writer_restore<'a>(
    records: impl IntoIterator<Item = &'a ExecutionRecord>,
) -> WriterRestore {
    let mut known = WriterRestore::new();
    for r in records {
        merge_writer_restore(&mut known, &r.restorable());
    }
    known
}

impl ExecutionRecord {
    /// Journals `restore`, what a fence of `region`'s writers returned,
    /// keeping the first entry per user: a repeated fence finds the user
    /// already fenced and never replaces the string from before.
    pub fn keep_writer_restore(&mut self, region: &str, restore: BTreeMap<String, String>) {
        keep_first(&mut self.writer_restore, region, restore);
    }

    /// Every access string this execution's fences replaced: its quiesce's
    /// and its fence of the old primary on return.
    pub fn restorable(&self) -> WriterRestore {
        let mut all = self.writer_restore.clone();
        if let Some(f) = &self.fence_old_primary {
            merge_writer_restore(&mut all, &f.writer_restore);
        }
        all
    }

    /// Gives the regions this execution lifts without quiescing them first
    /// what `known` holds for them (an earlier execution's fence): its own
    /// recorded strings are kept.
    pub fn inherit_writer_restore(&mut self, known: &WriterRestore) {
        let quiesced: Vec<&str> = self
            .plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::QuiesceWriters { region } => Some(region.as_str()),
                _ => None,
            })
            .collect();
        let lifted: Vec<String> = self
            .plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::LiftQuiesce { region } | Action::UndoQuiesce { region }
                    if !quiesced.contains(&region.as_str()) =>
                {
                    Some(region.clone())
                }
                _ => None,
            })
            .collect();
        for region in lifted {
            let Some(users) = known.get(&region) else {
                continue;
            };
            let kept = self.writer_restore.entry(region).or_default();
            for (user, access) in users {
                kept.entry(user.clone()).or_insert_with(|| access.clone());
            }
        }
    }
}
