//! The in-memory store passes the same conformance suite as the SQL stores.

use carekit_core::{MemoryStore, Store};
use std::sync::Arc;

async fn memory() -> Option<Arc<dyn Store>> {
    Some(Arc::new(MemoryStore::new()))
}

carekit_testing::store_conformance!(memory());
