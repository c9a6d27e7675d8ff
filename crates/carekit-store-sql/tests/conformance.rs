//! The SQL stores pass the same conformance suite as the in-memory store:
//! SQLite in a temp file always, Postgres when `CAREKIT_TEST_POSTGRES_URL` is set.

use carekit_core::Store;
use carekit_store_sql::SqlStore;
use std::sync::Arc;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    async fn store() -> Option<Arc<dyn Store>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("care.db");
        // Keep the directory for the test's lifetime.
        std::mem::forget(dir);
        let store = SqlStore::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("open sqlite");
        Some(Arc::new(store))
    }

    carekit_testing::store_conformance!(store());
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    async fn store() -> Option<Arc<dyn Store>> {
        let Ok(url) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
            eprintln!(
                "SKIPPED: Postgres conformance case (set CAREKIT_TEST_POSTGRES_URL to run it)"
            );
            return None;
        };
        let schema = format!("carekit_test_{}", uuid::Uuid::new_v4().simple());
        let store = SqlStore::builder(&url)
            .schema(schema)
            .max_connections(4)
            .open()
            .await
            .expect("open postgres");
        Some(Arc::new(store))
    }

    carekit_testing::store_conformance!(store());
}
