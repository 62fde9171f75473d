//! The audit trail's hash chain. Each entry's hash covers the previous
//! entry's hash and every field of the entry, so changing, removing or
//! reordering any entry breaks every link after it.
//!
//! Fields are hashed length-prefixed (8-byte big-endian length, then the
//! bytes), so no two different entries hash the same input.

pub mod checkpoint;
pub mod verify;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The link before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    pub subject: String,
    pub role: String,
    pub method: String,
    pub resource: String,
    pub request_hash: String,
    pub request_id: Uuid,
}

/// A recorded entry with its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub record: AuditRecord,
    pub previous_hash: String,
    pub hash: String,
}

/// The hash of `record` chained to `previous`, as lower-case hex.
pub fn chain_hash(previous: &str, record: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(previous.as_bytes());
    field(&record.sequence.to_be_bytes());
    field(&record.time.timestamp_micros().to_be_bytes());
    field(record.subject.as_bytes());
    field(record.role.as_bytes());
    field(record.method.as_bytes());
    field(record.resource.as_bytes());
    field(record.request_hash.as_bytes());
    field(record.request_id.as_bytes());
    hex::encode(h.finalize())
}

/// Links new records after the entry (`head_sequence`, `head_hash`).
pub fn extend(head_sequence: i64, head_hash: &str, drafts: Vec<AuditRecord>) -> Vec<AuditEntry> {
    let mut previous = head_hash.to_string();
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, mut record)| {
            record.sequence = head_sequence + 1 + i as i64;
            let hash = chain_hash(&previous, &record);
            AuditEntry {
                record,
                previous_hash: std::mem::replace(&mut previous, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// The first entry that does not fit the chain, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub sequence: i64,
    pub reason: String,
}

/// Checks a chain fed in order, one page at a time.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    previous: String,
    next_sequence: i64,
    checked: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            previous: GENESIS.to_string(),
            next_sequence: 1,
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next entry.
    pub fn check(&mut self, e: &AuditEntry) -> Result<(), BrokenLink> {
        let broken = |reason: String| BrokenLink {
            sequence: e.record.sequence,
            reason,
        };
        if e.record.sequence != self.next_sequence {
            return Err(BrokenLink {
                sequence: self.next_sequence,
                reason: format!(
                    "entry {} is missing (the next entry found is {})",
                    self.next_sequence, e.record.sequence
                ),
            });
        }
        if e.previous_hash != self.previous {
            return Err(broken(format!(
                "its previous_hash {} is not the hash of entry {} ({})",
                e.previous_hash,
                e.record.sequence - 1,
                self.previous
            )));
        }
        let expected = chain_hash(&self.previous, &e.record);
        if e.hash != expected {
            return Err(broken(format!(
                "its content does not match its hash (stored {}, computed {expected})",
                e.hash
            )));
        }
        self.previous = e.hash.clone();
        self.next_sequence += 1;
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> i64 {
        self.checked
    }

    /// Hash of the last entry checked.
    pub fn head(&self) -> &str {
        &self.previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(subject: &str) -> AuditRecord {
        AuditRecord {
            sequence: 0,
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            subject: subject.into(),
            role: "admin".into(),
            method: "repat.v1.PartyService/CreateParty".into(),
            resource: "parties/x".into(),
            request_hash: "ab".into(),
            request_id: Uuid::nil(),
        }
    }

    #[test]
    fn an_intact_chain_verifies_and_any_change_breaks_it() {
        let entries = extend(0, GENESIS, vec![draft("a"), draft("b"), draft("c")]);
        let mut v = ChainVerifier::default();
        for e in &entries {
            v.check(e).unwrap();
        }
        assert_eq!(v.checked(), 3);
        assert_eq!(v.head(), entries[2].hash);

        let mut tampered = entries.clone();
        tampered[1].record.subject = "mallory".into();
        let mut v = ChainVerifier::default();
        v.check(&tampered[0]).unwrap();
        assert_eq!(v.check(&tampered[1]).unwrap_err().sequence, 2);

        let mut v = ChainVerifier::default();
        v.check(&entries[0]).unwrap();
        assert_eq!(
            v.check(&entries[2]).unwrap_err().sequence,
            2,
            "a removed entry is reported"
        );
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = draft("ab");
        a.role = "c".into();
        let mut b = draft("a");
        b.role = "bc".into();
        assert_ne!(chain_hash(GENESIS, &a), chain_hash(GENESIS, &b));
    }
}
