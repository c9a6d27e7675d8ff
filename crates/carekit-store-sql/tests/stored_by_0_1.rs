//! Data written by carekit 0.1 (before channel kinds were opened up) reads
//! back unchanged: a SQLite file and a Postgres schema dump, both made by
//! `write_fixtures` below on the 0.1 code and committed under
//! `tests/fixtures/`, are opened by today's store and every conversation,
//! message, customer identity, queued reply, consent and key value is found
//! with the channel kind it was written with.
//!
//! To make the fixtures again (only ever from a release whose data later
//! versions must read):
//! `CAREKIT_WRITE_FIXTURES=1 CAREKIT_TEST_POSTGRES_URL=… cargo test -p carekit-store-sql --all-features --test stored_by_0_1 -- --ignored`

use carekit_core::*;
use carekit_store_sql::SqlStore;
use std::path::PathBuf;
#[cfg(all(feature = "sqlite", feature = "postgres"))]
use std::sync::Arc;

/// The schema name inside the Postgres dump (replaced when loaded).
#[cfg(feature = "postgres")]
const DUMP_SCHEMA: &str = "carekit_fixture_0_1";

/// What was written: (channel, customer handle, external id, text).
const WRITTEN: [(ChannelKind, &str, &str, &str); 5] = [
    (
        ChannelKind::Twitter,
        "4001",
        "1800000000000000001",
        "@acme my order never came",
    ),
    (
        ChannelKind::Facebook,
        "6000000000000001",
        "m_fixture_1",
        "Where is my refund?",
    ),
    (
        ChannelKind::Email,
        "ann@example.com",
        "fixture-1@example.com",
        "The invoice is wrong.",
    ),
    (
        ChannelKind::Sms,
        "+14155550123",
        "SMfixture1",
        "STOP sending me ads",
    ),
    (ChannelKind::Web, "visitor-77", "web-1", "Is anyone there?"),
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One small day on every built-in channel, through the desk.
#[cfg(all(feature = "sqlite", feature = "postgres"))]
async fn write_day(store: Arc<dyn Store>) {
    use carekit_core::desk::ReplyRequest;
    use carekit_testing::{RecordingChannel, at, sample_event};
    let channels: Vec<Arc<RecordingChannel>> = WRITTEN
        .iter()
        .map(|(kind, ..)| Arc::new(RecordingChannel::new(*kind)))
        .collect();
    let mut builder = Desk::builder()
        .store(store.clone())
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))));
    for c in &channels {
        builder = builder.channel(c.clone());
    }
    let desk = builder.build().unwrap();
    for (kind, handle, id, text) in WRITTEN {
        let event = sample_event(kind, id, handle, text, at("2026-03-02T09:00:00Z"));
        let conversation = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        desk.reply(
            conversation,
            ReplyRequest::agent("ann", format!("Sorry about that ({kind}), looking now.")),
        )
        .await
        .unwrap();
    }
    // The last one stays queued: sent ones and a queued one are both read back.
    for _ in 0..4 {
        desk.run_outbox_once().await.unwrap();
    }
    store
        .save_value("twitter:since_id", "1800000000000000001")
        .await
        .unwrap();
}

async fn check(store: &SqlStore) {
    // Opening migrated the old schema: it now keeps agents, and has none.
    assert!(
        carekit_core::AgentDirectory::agents(store)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store
        .list_conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(all.len(), WRITTEN.len());
    // Version 3 filled its columns, tag rows and search index from the old
    // rows: each filter lists what `matches` keeps, and every message's
    // text finds its conversation.
    let mut filters = vec![
        ConversationFilter::all().with_escalated(true),
        ConversationFilter::all().with_escalated(false),
    ];
    for record in &all {
        filters.extend(
            record
                .tags
                .iter()
                .map(|t| ConversationFilter::all().with_tag(t)),
        );
        filters.extend(
            record
                .assignee
                .iter()
                .map(|a| ConversationFilter::all().with_assignee(a)),
        );
        filters.extend(
            record
                .team
                .iter()
                .map(|t| ConversationFilter::all().with_team(t)),
        );
    }
    for (.., text) in WRITTEN {
        let search =
            ConversationFilter::all().with_search(carekit_core::store::SearchQuery::new(text));
        filters.push(search);
    }
    for filter in &filters {
        let want: Vec<_> = all
            .iter()
            .filter(|r| filter.matches(r))
            .map(|r| r.id)
            .collect();
        let got: Vec<_> = store
            .list_conversations(filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(got, want, "{filter:?}");
        if filter.search.is_some() {
            assert!(!got.is_empty(), "{filter:?} finds its conversation");
        }
    }
    for (kind, handle, id, text) in WRITTEN {
        let customer = store
            .customer_by_identity(kind, handle)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{kind} customer {handle}"));
        let found = store
            .list_conversations(&ConversationFilter::all().with_customer(customer.id))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{kind}");
        let record = &found[0];
        assert_eq!(record.channel, kind);
        assert_eq!(record.channel.to_string(), kind.as_str());
        assert_eq!(record.messages[0].text, text);
        assert!(store.seen(kind, id).await.unwrap(), "{kind} {id} seen");
        let reply = &record.messages[1];
        assert_eq!(
            reply.text,
            format!("Sorry about that ({kind}), looking now.")
        );
        assert!(reply.delivery.is_some());
    }
    assert_eq!(
        store.value("twitter:since_id").await.unwrap().as_deref(),
        Some("1800000000000000001")
    );
}

#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[tokio::test]
#[ignore = "writes the committed fixtures; run only to make them again"]
async fn write_fixtures() {
    if std::env::var("CAREKIT_WRITE_FIXTURES").is_err() {
        return;
    }
    let file = fixtures().join("stored-by-0.1.sqlite");
    let _ = std::fs::remove_file(&file);
    let url = format!("sqlite://{}?mode=rwc", file.display());
    {
        let store = Arc::new(SqlStore::open(&url).await.unwrap());
        write_day(store.clone()).await;
        store.close().await;
    }
    let pg = std::env::var("CAREKIT_TEST_POSTGRES_URL").expect("Postgres for the dump");
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg)
        .await
        .unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {DUMP_SCHEMA} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    let store = Arc::new(
        SqlStore::builder(&pg)
            .schema(DUMP_SCHEMA)
            .open()
            .await
            .unwrap(),
    );
    write_day(store.clone()).await;
    store.close().await;
    let dump = std::process::Command::new("pg_dump")
        .args([
            "--inserts",
            "--no-owner",
            "--no-privileges",
            "--schema",
            DUMP_SCHEMA,
            &pg,
        ])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    std::fs::write(fixtures().join("stored-by-0.1.postgres.sql"), dump.stdout).unwrap();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn reads_a_sqlite_file_written_by_0_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.sqlite");
    std::fs::copy(fixtures().join("stored-by-0.1.sqlite"), &file).unwrap();
    let store = SqlStore::open(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    check(&store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn reads_a_postgres_schema_written_by_0_1() {
    let Ok(pg) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
        eprintln!(
            "\n!!! SKIPPED reads_a_postgres_schema_written_by_0_1: set CAREKIT_TEST_POSTGRES_URL (CI does) !!!\n"
        );
        return;
    };
    let schema = format!("carekit_old_{}", uuid::Uuid::new_v4().simple());
    // psql's meta-commands (`\restrict`) are not SQL: left out.
    let dump: String = std::fs::read_to_string(fixtures().join("stored-by-0.1.postgres.sql"))
        .unwrap()
        .replace(DUMP_SCHEMA, &schema)
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .map(|line| format!("{line}\n"))
        .collect();
    // pg_dump's session settings (search_path emptied) then the schema.
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg)
        .await
        .unwrap();
    sqlx::raw_sql(&dump).execute(&admin).await.unwrap();
    let store = SqlStore::builder(&pg)
        .schema(schema.clone())
        .open()
        .await
        .unwrap();
    check(&store).await;
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}
