//! A bound on the streams each caller holds open: one client cannot take
//! every connection's worth of server tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ApiError;

/// Streams each caller may hold open by default.
pub const DEFAULT_STREAMS_PER_CALLER: usize = 32;

/// Open streams per caller.
#[derive(Clone)]
pub struct StreamSlots {
    limit: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream; the slot is freed when this is dropped (the stream's
/// task ended).
pub struct StreamSlot {
    subject: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamSlots {
    pub fn new(limit: usize) -> Self {
        StreamSlots {
            limit,
            open: Arc::default(),
        }
    }

    /// Takes a slot for `subject`, or RESOURCE_EXHAUSTED when it holds the
    /// limit already.
    pub fn open(&self, subject: &str) -> Result<StreamSlot, ApiError> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = open.entry(subject.to_string()).or_default();
        if *held >= self.limit {
            return Err(ApiError::Exhausted(format!(
                "{subject} holds {} open streams, the most allowed per caller; close one first",
                self.limit
            )));
        }
        *held += 1;
        Ok(StreamSlot {
            subject: subject.to_string(),
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = open.get_mut(&self.subject) {
            *held -= 1;
            if *held == 0 {
                open.remove(&self.subject);
            }
        }
    }
}
