//! The store on a fresh database, for the store's own conformance suite:
//! no server, no gRPC, the repository itself.

use std::sync::Arc;

use repat_store::{ConnectOptions, Repository};

use crate::{Backend, TestDb, fresh_database};

/// A repository over a database of its own.
pub struct TestStore {
    pub backend: Backend,
    pub repo: Arc<dyn Repository>,
    /// The database url (for tests that look behind the store's back).
    pub url: String,
    db: TestDb,
}

impl TestStore {
    /// Closes the store and removes its database.
    pub async fn finish(self) {
        drop(self.repo);
        self.db.remove().await;
    }
}

/// A migrated store on a fresh database; `None` when the backend is not
/// available (PostgreSQL without `REPAT_TEST_DATABASE_URL`).
pub async fn fresh_store(backend: Backend) -> Option<TestStore> {
    let (url, handle) = fresh_database(backend).await?;
    let repo = repat_store::connect(&url, &ConnectOptions::default())
        .await
        .expect("the store opens and migrates a fresh database");
    Some(TestStore {
        backend,
        repo,
        url,
        db: TestDb::new(backend, handle),
    })
}

/// Runs each named `async fn(&TestStore)` once per backend, as
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let store = $crate::store::fresh_store($crate::Backend::Sqlite).await.expect("sqlite is always available");
                    super::$name(&store).await;
                    store.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(store) = $crate::store::fresh_store($crate::Backend::Postgres).await else {
                        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
                        return;
                    };
                    super::$name(&store).await;
                    store.finish().await;
                }
            }
        )+
    };
}
