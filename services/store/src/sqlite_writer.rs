//! SQLite's one writer, committing requests in groups.
//!
//! One task owns the only connection that writes. A request that writes
//! queues for its turn, then borrows the connection (a [`Lease`]) inside
//! the group's transaction, under a savepoint of its own. The task lends
//! the connection to each request waiting, one after the other, until the
//! queue is empty or the group is full, then commits the whole group with
//! one `COMMIT`, that is one fsync at `synchronous = FULL`, and only then
//! answers each request's commit.
//!
//! Invariants:
//! - one lease at a time: the task holds the connection or has lent it to
//!   exactly one request, and only this connection writes, so no request
//!   ever waits on SQLite's lock or sees "database is locked";
//! - acknowledged means on disk: [`Lease::commit`] returns `Ok` only after
//!   its group's `COMMIT` returned `Ok`; if the group cannot commit, every
//!   member gets the error and nothing of the group is kept;
//! - a member's failure (an error, a lease dropped by an early return, a
//!   cancelled request or a panic) rolls back its own savepoint only; the
//!   other members of the group are unaffected.

use std::time::{Duration, Instant};

use sqlx::Executor;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// Most requests committed together.
const MAX_MEMBERS: usize = 512;
/// How long a group takes in newcomers: the first member waits for its
/// commit about this long at most, beyond its own work.
const MAX_GROUP_TIME: Duration = Duration::from_millis(50);
/// Requests queued for the writer at most; more wait to queue.
const QUEUE: usize = 4096;

/// The way to the writer.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Turn>,
    /// How long a request waits for its turn before the database is
    /// reported unavailable.
    wait: Duration,
}

/// A request waiting for the connection.
struct Turn {
    lend: oneshot::Sender<Result<Lease, StoreError>>,
}

/// What a request says as it gives the connection back.
enum Outcome {
    /// Keep what it did, and answer `done` once the group has committed.
    Keep(oneshot::Sender<Result<(), StoreError>>),
    /// Undo what it did.
    Undo,
}

type Returned = (Box<SqliteConnection>, Outcome);

/// The writer's connection, lent to one request inside its group's
/// transaction: [`Lease::commit`] keeps what the request did; dropping
/// the lease undoes it.
pub struct Lease {
    conn: Option<Box<SqliteConnection>>,
    back: Option<oneshot::Sender<Returned>>,
}

impl Lease {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a lease holds the connection until it gives it back")
    }

    /// Keeps what the request did; returns once its group has committed.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.give_back(Outcome::Keep(done));
        committed.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Undoes what the request did.
    pub fn rollback(mut self) {
        self.give_back(Outcome::Undo);
    }

    fn give_back(&mut self, outcome: Outcome) {
        if let (Some(conn), Some(back)) = (self.conn.take(), self.back.take()) {
            // The writer waits for its connection; it has stopped waiting
            // only when the runtime is going away.
            let _ = back.send((conn, outcome));
        }
    }
}

impl Drop for Lease {
    /// A request that ends without committing (an error returned early,
    /// a cancelled future, a panic) undoes what it did.
    fn drop(&mut self) {
        self.give_back(Outcome::Undo);
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

impl Writer {
    /// Starts the writer on `conn`.
    pub fn start(conn: SqliteConnection, wait: Duration) -> Writer {
        let (queue, turns) = mpsc::channel(QUEUE);
        tokio::spawn(run(Box::new(conn), turns));
        Writer { queue, wait }
    }

    /// Waits for the connection, inside a group's transaction.
    pub async fn begin(&self) -> Result<Lease, StoreError> {
        let (lend, lent) = oneshot::channel();
        let turn = async {
            self.queue
                .send(Turn { lend })
                .await
                .map_err(|_| stopped())?;
            lent.await.map_err(|_| stopped())?
        };
        // A lease lent just as the wait ends is dropped with `lent`, which
        // gives the connection back.
        tokio::time::timeout(self.wait, turn).await.map_err(|_| {
            StoreError::Unavailable(format!(
                "the SQLite writer did not take the request within {} s",
                self.wait.as_secs()
            ))
        })?
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    conn.execute(sql).await?;
    Ok(())
}

/// The writer: one group after another, for as long as requests come.
async fn run(mut conn: Box<SqliteConnection>, mut turns: mpsc::Receiver<Turn>) {
    while let Some(first) = turns.recv().await {
        if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
            let _ = first.lend.send(Err(e));
            continue;
        }
        let opened = Instant::now();
        let mut members: Vec<oneshot::Sender<Result<(), StoreError>>> = Vec::new();
        let mut broken: Option<String> = None;
        let mut next = Some(first);
        while let Some(turn) = next.take() {
            if let Err(e) = exec(&mut conn, "SAVEPOINT request").await {
                broken = Some(e.to_string());
                let _ = turn.lend.send(Err(e));
                break;
            }
            let (back, returned) = oneshot::channel();
            let lease = Lease {
                conn: Some(conn),
                back: Some(back),
            };
            // Sent to a request that stopped waiting, the lease is dropped
            // at once, which gives the connection back.
            drop(turn.lend.send(Ok(lease)));
            let outcome;
            (conn, outcome) = match returned.await {
                Ok(returned) => returned,
                Err(_) => {
                    // Only a lease leaked without being dropped keeps the
                    // connection; nothing does that.
                    tracing::error!("the SQLite writer's connection was never given back");
                    return;
                }
            };
            let kept = match outcome {
                Outcome::Keep(done) => match exec(&mut conn, "RELEASE request").await {
                    Ok(()) => {
                        members.push(done);
                        true
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                        false
                    }
                },
                Outcome::Undo => false,
            };
            if !kept && let Err(e) = undo(&mut conn).await {
                // SQLite rolls the whole transaction back on some errors:
                // then the group is lost, and its members are told so.
                broken = Some(e.to_string());
                break;
            }
            if members.len() >= MAX_MEMBERS || opened.elapsed() >= MAX_GROUP_TIME {
                break;
            }
            next = turns.try_recv().ok();
        }
        let committed = match broken {
            None => exec(&mut conn, "COMMIT").await.map_err(|e| e.to_string()),
            Some(reason) => Err(reason),
        };
        if committed.is_err() {
            // Start the next group from a clean connection, whatever is left.
            let _ = exec(&mut conn, "ROLLBACK").await;
        }
        for done in members {
            let _ = done.send(committed.clone().map_err(|reason| {
                StoreError::Unavailable(format!(
                    "the writes committed together with this request were rolled back: {reason}"
                ))
            }));
        }
    }
}

/// Undoes the last request's savepoint.
async fn undo(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    exec(conn, "ROLLBACK TO request").await?;
    exec(conn, "RELEASE request").await
}
