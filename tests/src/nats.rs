//! The real NATS server for the tests: `REPAT_TEST_NATS_URL`, else
//! `nats://127.0.0.1:4222`. When it does not answer, NATS tests are
//! skipped, unless `REPAT_REQUIRE_NATS` is set (as CI sets it), which makes
//! a skip a failure. Each test publishes to a stream and subjects of its
//! own, and deletes the stream when done.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use uuid::Uuid;

pub fn url() -> String {
    std::env::var("REPAT_TEST_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into())
}

/// A stream name and subject prefix of a test's own.
pub struct TestStream {
    pub url: String,
    pub stream: String,
    pub prefix: String,
    pub js: jetstream::Context,
}

/// A message as stored in the stream.
#[derive(Debug, Clone)]
pub struct Stored {
    pub subject: String,
    pub msg_id: String,
    pub headers: HashMap<String, String>,
    pub payload: bytes::Bytes,
}

impl TestStream {
    /// `None` (the test is skipped) when NATS does not answer.
    pub async fn new() -> Option<Self> {
        let url = url();
        let client =
            match tokio::time::timeout(Duration::from_secs(5), async_nats::connect(url.as_str()))
                .await
            {
                Ok(Ok(c)) => c,
                _ => {
                    assert!(
                        std::env::var_os("REPAT_REQUIRE_NATS").is_none(),
                        "REPAT_REQUIRE_NATS is set but NATS does not answer at {url}"
                    );
                    eprintln!("skipped: NATS does not answer at {url}");
                    return None;
                }
            };
        let id = Uuid::new_v4().simple().to_string();
        Some(TestStream {
            url,
            stream: format!("REPAT_T_{id}"),
            prefix: format!("repat_t_{id}.events"),
            js: jetstream::new(client),
        })
    }

    /// Points a server's settings at this stream.
    pub fn configure(&self, s: &mut repatd::Settings) {
        s.nats_url = Some(self.url.clone());
        s.nats_stream = self.stream.clone();
        s.nats_subject_prefix = self.prefix.clone();
    }

    /// How many messages the stream holds (0 before it exists).
    pub async fn count(&self) -> u64 {
        match self.js.get_stream(&self.stream).await {
            Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        }
    }

    /// Waits until the stream holds `n` messages.
    pub async fn wait_for(&self, n: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let c = self.count().await;
            if c >= n || tokio::time::Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message of the stream, in stream order.
    pub async fn messages(&self) -> Vec<Stored> {
        let total = self.count().await;
        let stream = self.js.get_stream(&self.stream).await.expect("the stream");
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig::default())
            .await
            .expect("an ordered consumer");
        let mut out = Vec::new();
        let mut messages = consumer.messages().await.expect("messages");
        while (out.len() as u64) < total {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("a message within 10 s")
                .expect("stream open")
                .expect("a message");
            let headers: HashMap<String, String> = m
                .headers
                .iter()
                .flat_map(|h| h.iter())
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        v.first()
                            .map(|v| v.as_str().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            out.push(Stored {
                subject: m.subject.to_string(),
                msg_id: headers.get("Nats-Msg-Id").cloned().unwrap_or_default(),
                headers,
                payload: m.payload.clone(),
            });
        }
        out
    }

    pub async fn delete(self) {
        let _ = self.js.delete_stream(&self.stream).await;
    }
}
