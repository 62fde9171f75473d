//! Verification of the whole trail against its signed checkpoints,
//! reporting every broken range, not only the first.
//!
//! Each entry is checked against its stored neighbour (its link and its
//! hash), and the verifier carries on past a break, so later breaks are
//! found too. The stored hashes alone cannot show a rewrite whose author
//! recomputed every hash after it, nor entries cut from the end; so the
//! verifier also recomputes the chain over the entries' contents from the
//! last checkpoint (from the first entry before any), and at each signed
//! checkpoint compares it with the hash that was signed. A mismatch marks
//! the entries since the previous checkpoint; a checkpoint beyond the last
//! entry marks entries removed from the end. Each checkpoint is taken as
//! true once its signature verifies, so one rewrite is reported once, in
//! the interval between two checkpoints where it happened.

use std::collections::BTreeMap;

use super::checkpoint::{Checkpoint, CheckpointKey};
use super::{AuditEntry, GENESIS, chain_hash};

/// What is wrong with a range of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    /// Entries are missing inside the trail.
    Missing,
    /// An entry's `previous_hash` is not the hash of the entry before it.
    Relinked,
    /// An entry's content does not match its own hash.
    Altered,
    /// The entries do not lead to the hash a checkpoint signed: one was
    /// changed, added or removed, and the hashes after it recomputed.
    Diverged,
    /// Entries a checkpoint signed are gone from the end of the trail.
    Truncated,
}

/// Entries `first..=last` and what is wrong with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRange {
    pub first: i64,
    pub last: i64,
    pub breach: Breach,
    pub reason: String,
}

/// A checkpoint that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointProblem {
    pub sequence: i64,
    pub reason: String,
}

/// Where a checkpoint given to the verifier came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The database's own.
    Stored,
    /// Kept outside the database (the published file) and given back: it
    /// must also be in the database, or someone removed it.
    Kept,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailReport {
    pub entries_checked: i64,
    /// The last entry: (sequence, hash).
    pub head: Option<(i64, String)>,
    /// Checkpoints the trail was compared with.
    pub checkpoints_checked: i64,
    /// Every broken range, by first entry.
    pub broken: Vec<BrokenRange>,
    pub checkpoint_problems: Vec<CheckpointProblem>,
}

impl TrailReport {
    pub fn intact(&self) -> bool {
        self.broken.is_empty() && self.checkpoint_problems.is_empty()
    }
}

/// Checks a trail fed in sequence order, one page at a time. Checkpoints
/// at or before an entry must be added before the entry is checked.
pub struct TrailVerifier {
    key: Option<CheckpointKey>,
    /// Checkpoints not reached yet, by sequence.
    pending: BTreeMap<i64, Vec<(Checkpoint, Origin)>>,
    /// The sequence the next entry should have.
    next: i64,
    /// The stored hash of the last entry checked.
    stored_previous: String,
    /// The chain recomputed over the contents since `segment_start`.
    recomputed: String,
    /// The first entry after the last checkpoint (or gap).
    segment_start: i64,
    report: TrailReport,
}

impl TrailVerifier {
    /// A verifier judging checkpoints by `key` (without one, checkpoints
    /// cannot be checked and each is reported as a problem).
    pub fn new(key: Option<CheckpointKey>) -> Self {
        TrailVerifier {
            key,
            pending: BTreeMap::new(),
            next: 1,
            stored_previous: GENESIS.to_string(),
            recomputed: GENESIS.to_string(),
            segment_start: 1,
            report: TrailReport {
                entries_checked: 0,
                head: None,
                checkpoints_checked: 0,
                broken: Vec::new(),
                checkpoint_problems: Vec::new(),
            },
        }
    }

    /// Adds a checkpoint to compare the trail with, once its signature is
    /// found good.
    pub fn add_checkpoint(&mut self, c: Checkpoint, origin: Origin) {
        let verdict = match &self.key {
            None => Err("not checked: this server has no audit checkpoint key".to_string()),
            Some(key) => key.verify(&c),
        };
        match verdict {
            Ok(()) => self
                .pending
                .entry(c.sequence)
                .or_default()
                .push((c, origin)),
            Err(reason) => self.problem(c.sequence, reason),
        }
    }

    fn problem(&mut self, sequence: i64, reason: String) {
        self.report
            .checkpoint_problems
            .push(CheckpointProblem { sequence, reason });
    }

    fn broken(&mut self, first: i64, last: i64, breach: Breach, reason: String) {
        self.report.broken.push(BrokenRange {
            first,
            last,
            breach,
            reason,
        });
    }

    /// The distinct checkpoints signed at `sequence`; one kept outside the
    /// database but missing from it is a problem.
    fn take(&mut self, sequence: i64) -> Vec<Checkpoint> {
        let Some(all) = self.pending.remove(&sequence) else {
            return Vec::new();
        };
        let mut distinct: Vec<Checkpoint> = Vec::new();
        for (c, origin) in &all {
            let stored = all.iter().any(|(s, o)| *o == Origin::Stored && s == c);
            if *origin == Origin::Kept && !stored {
                self.problem(
                    sequence,
                    format!(
                        "the checkpoint signed at {} was kept outside the database but is not in it: removed",
                        c.sign_time.to_rfc3339()
                    ),
                );
            }
            if !distinct.contains(c) {
                distinct.push(c.clone());
            }
        }
        distinct
    }

    /// Checks the next entry.
    pub fn check(&mut self, e: &AuditEntry) {
        let seq = e.record.sequence;
        if seq < self.next {
            self.broken(
                seq,
                seq,
                Breach::Relinked,
                format!("entry {seq} appears again after entry {}", self.next - 1),
            );
            return;
        }
        if seq > self.next {
            self.broken(self.next, seq - 1, Breach::Missing, "missing".into());
            // Checkpoints of missing entries cannot be compared; the chain
            // goes on from what the entry says came before it, which the
            // next checkpoint confirms or refutes.
            for gone in self.next..seq {
                self.take(gone);
            }
            self.stored_previous = e.previous_hash.clone();
            self.recomputed = e.previous_hash.clone();
            self.segment_start = seq;
        }
        if e.previous_hash != self.stored_previous {
            self.broken(
                seq,
                seq,
                Breach::Relinked,
                "previous_hash is not the hash of the entry before".into(),
            );
        }
        if e.hash != chain_hash(&e.previous_hash, &e.record) {
            self.broken(
                seq,
                seq,
                Breach::Altered,
                "content does not match its hash".into(),
            );
        }
        self.recomputed = chain_hash(&self.recomputed, &e.record);
        self.stored_previous = e.hash.clone();
        self.next = seq + 1;
        self.report.entries_checked += 1;
        self.report.head = Some((seq, e.hash.clone()));

        let signed = self.take(seq);
        if signed.is_empty() {
            return;
        }
        self.report.checkpoints_checked += signed.len() as i64;
        for c in &signed {
            if c.head_hash != self.recomputed {
                self.broken(
                    self.segment_start,
                    seq,
                    Breach::Diverged,
                    format!(
                        "do not lead to the hash signed at entry {seq} on {}: an entry was changed, added or removed and the hashes after it recomputed",
                        c.sign_time.to_rfc3339()
                    ),
                );
            }
        }
        // What was signed is the truth the next interval builds on.
        let anchor = signed
            .iter()
            .find(|c| c.head_hash == self.recomputed)
            .unwrap_or(&signed[0]);
        self.recomputed = anchor.head_hash.clone();
        self.segment_start = seq + 1;
    }

    /// Ends the check: checkpoints past the last entry mark entries cut
    /// from the end.
    pub fn finish(mut self) -> TrailReport {
        let beyond: Vec<i64> = self.pending.keys().copied().collect();
        if let Some(&last) = beyond.last() {
            let mut when = String::new();
            for seq in beyond {
                for c in self.take(seq) {
                    self.report.checkpoints_checked += 1;
                    if seq == last {
                        when = c.sign_time.to_rfc3339();
                    }
                }
            }
            let reason = format!(
                "removed from the end: entry {last} was signed on {when}, and the trail ends at {}",
                self.next - 1
            );
            self.broken(self.next, last, Breach::Truncated, reason);
        }
        let mut broken = std::mem::take(&mut self.report.broken);
        broken.sort_by_key(|r| (r.first, r.last));
        // Neighbouring entries broken the same way are one range.
        let mut merged: Vec<BrokenRange> = Vec::with_capacity(broken.len());
        for r in broken {
            match merged.last_mut() {
                Some(m)
                    if m.breach == r.breach
                        && m.reason == r.reason
                        && matches!(r.breach, Breach::Relinked | Breach::Altered)
                        && m.last + 1 == r.first =>
                {
                    m.last = r.last
                }
                _ => merged.push(r),
            }
        }
        self.report.broken = merged;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;
    use crate::audit::checkpoint::tests::signer;
    use crate::audit::{AuditRecord, extend};

    fn trail(n: usize) -> Vec<AuditEntry> {
        let drafts = (0..n)
            .map(|i| AuditRecord {
                sequence: 0,
                time: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
                subject: format!("user{i}"),
                role: "admin".into(),
                method: "repat.v1.PartyService/CreateParty".into(),
                resource: format!("parties/{i}"),
                request_hash: "ab".into(),
                request_id: Uuid::nil(),
            })
            .collect();
        extend(0, GENESIS, drafts)
    }

    /// Recomputes every hash from entry `from` (1-based) on, as an insider
    /// covering a rewrite would.
    fn recompute(entries: &mut [AuditEntry], from: usize) {
        for i in from - 1..entries.len() {
            let previous = if i == 0 {
                GENESIS.to_string()
            } else {
                entries[i - 1].hash.clone()
            };
            entries[i].previous_hash = previous.clone();
            entries[i].hash = chain_hash(&previous, &entries[i].record);
        }
    }

    fn verify(entries: &[AuditEntry], checkpoints: &[Checkpoint]) -> TrailReport {
        let s = signer();
        let mut v = TrailVerifier::new(Some(s.public().clone()));
        for c in checkpoints {
            v.add_checkpoint(c.clone(), Origin::Stored);
        }
        for e in entries {
            v.check(e);
        }
        v.finish()
    }

    fn at(entries: &[AuditEntry], seq: usize) -> Checkpoint {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        signer().sign(seq as i64, &entries[seq - 1].hash, t)
    }

    fn ranges(r: &TrailReport) -> Vec<(i64, i64, Breach)> {
        r.broken
            .iter()
            .map(|b| (b.first, b.last, b.breach))
            .collect()
    }

    #[test]
    fn an_intact_trail_meets_its_checkpoints() {
        let t = trail(10);
        let r = verify(&t, &[at(&t, 4), at(&t, 10)]);
        assert!(r.intact(), "{r:?}");
        assert_eq!((r.entries_checked, r.checkpoints_checked), (10, 2));
        assert_eq!(r.head, Some((10, t[9].hash.clone())));
    }

    #[test]
    fn a_recomputed_rewrite_is_found_between_checkpoints() {
        let t = trail(12);
        let cps = [at(&t, 4), at(&t, 8), at(&t, 12)];
        let mut rewritten = t.clone();
        rewritten[5].record.subject = "mallory".into();
        recompute(&mut rewritten, 6);
        let r = verify(&rewritten, &cps);
        assert_eq!(ranges(&r), [(5, 8, Breach::Diverged)], "{r:?}");
        // Without checkpoints the rewrite passes: that is why they exist.
        assert!(verify(&rewritten, &[]).intact());
    }

    #[test]
    fn entries_cut_from_the_end_are_found() {
        let t = trail(10);
        let cps = [at(&t, 5), at(&t, 9)];
        let r = verify(&t[..6], &cps);
        assert_eq!(ranges(&r), [(7, 9, Breach::Truncated)], "{r:?}");
        assert!(r.broken[0].reason.contains("trail ends at 6"), "{r:?}");
        // Everything gone.
        let r = verify(&[], &cps);
        assert_eq!(ranges(&r), [(1, 9, Breach::Truncated)]);
    }

    #[test]
    fn every_broken_range_is_reported() {
        let t = trail(20);
        let cps = [at(&t, 5), at(&t, 10), at(&t, 15), at(&t, 20)];
        let mut bad = t.clone();
        // An edit without recomputing (entry 2), a rewrite with (entry 12),
        // two entries removed (17, 18).
        bad[1].record.resource = "parties/other".into();
        bad[11].record.subject = "mallory".into();
        recompute(&mut bad, 12);
        bad.remove(17);
        bad.remove(16);
        let r = verify(&bad, &cps);
        assert_eq!(
            ranges(&r),
            [
                (1, 5, Breach::Diverged),
                (2, 2, Breach::Altered),
                (11, 15, Breach::Diverged),
                (17, 18, Breach::Missing),
                // Going on from entry 19's link, which the rewrite changed.
                (19, 20, Breach::Diverged),
            ],
            "{r:?}"
        );
        assert!(!r.intact());
    }

    #[test]
    fn forged_and_removed_checkpoints_are_problems() {
        let t = trail(6);
        let mut forged = at(&t, 3);
        forged.head_hash = t[1].hash.clone();
        let kept = at(&t, 6);
        let s = signer();
        let mut v = TrailVerifier::new(Some(s.public().clone()));
        v.add_checkpoint(forged, Origin::Stored);
        v.add_checkpoint(kept.clone(), Origin::Kept);
        for e in &t {
            v.check(e);
        }
        let r = v.finish();
        assert!(r.broken.is_empty(), "{r:?}");
        let problems: Vec<i64> = r.checkpoint_problems.iter().map(|p| p.sequence).collect();
        assert_eq!(problems, [3, 6], "{r:?}");
        assert!(r.checkpoint_problems[1].reason.contains("removed"));

        // Given back and stored: no problem.
        let mut v = TrailVerifier::new(Some(s.public().clone()));
        v.add_checkpoint(kept.clone(), Origin::Kept);
        v.add_checkpoint(kept, Origin::Stored);
        for e in &t {
            v.check(e);
        }
        assert!(v.finish().intact());
    }
}
