//! Opening a store that is not one: typed errors, never a panic or a reset.

use carekit_core::StoreError;
#[cfg(feature = "sqlite")]
use carekit_store_sql::SCHEMA_VERSION;
use carekit_store_sql::SqlStore;

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let junk = b"these are my notes, not a database; please do not overwrite them\n".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let err = SqlStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect_err("must refuse");
    assert!(matches!(err, StoreError::NotAStore(_)), "got {err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), junk, "the file is untouched");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_database_of_someone_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("other.db").display());
    {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE invoices (id INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE payments (id INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = SqlStore::open(&url).await.expect_err("must refuse");
    assert!(matches!(err, StoreError::NotAStore(_)), "got {err:?}");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_schema_from_a_newer_carekit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("care.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    store.close().await;
    {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query("UPDATE carekit_meta SET value = '99' WHERE key = 'schema_version'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = SqlStore::open(&url).await.expect_err("must refuse");
    assert_eq!(
        err,
        StoreError::SchemaTooNew {
            found: 99,
            supported: SCHEMA_VERSION
        }
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn reopening_keeps_the_data() {
    use carekit_core::{ChannelKind, Commit, Store};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("care.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let mut commit = Commit::new();
    commit.dedupe.push((ChannelKind::Sms, "SM1".into()));
    store.apply(commit).await.unwrap();
    store.close().await;
    let again = SqlStore::open(&url).await.unwrap();
    assert!(again.seen(ChannelKind::Sms, "SM1").await.unwrap());
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 9 (discard) on loopback: nothing listens there.
    let err = SqlStore::builder("postgres://postgres@127.0.0.1:9/test")
        .acquire_timeout(std::time::Duration::from_secs(2))
        .open()
        .await
        .expect_err("must fail");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
}

#[tokio::test]
async fn an_unknown_scheme_is_refused() {
    let err = SqlStore::open("mysql://root@127.0.0.1/test")
        .await
        .expect_err("must fail");
    assert!(matches!(err, StoreError::Backend(_)), "got {err:?}");
}

#[cfg(not(feature = "postgres"))]
#[tokio::test]
async fn postgres_without_its_feature_names_the_feature() {
    let err = SqlStore::open("postgres://postgres@127.0.0.1:9/test")
        .await
        .expect_err("must fail");
    assert_eq!(
        err,
        StoreError::NotBuilt {
            backend: "Postgres",
            krate: "carekit-store-sql",
            feature: "postgres"
        }
    );
    assert!(err.to_string().contains("`postgres` feature"), "{err}");
}

#[cfg(not(feature = "sqlite"))]
#[tokio::test]
async fn sqlite_without_its_feature_names_the_feature() {
    let err = SqlStore::open("sqlite::memory:")
        .await
        .expect_err("must fail");
    assert_eq!(
        err,
        StoreError::NotBuilt {
            backend: "SQLite",
            krate: "carekit-store-sql",
            feature: "sqlite"
        }
    );
}
