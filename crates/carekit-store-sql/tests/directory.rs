//! Agent accounts and API tokens kept by every backend alike: the
//! in-memory store, SQLite and (when `CAREKIT_TEST_POSTGRES_URL` is set)
//! Postgres; and an old store gains the tables when opened.

use carekit_core::{
    AgentAccount, AgentDirectory, MemoryStore, PasswordHash, Role, Scope, StoreError, TokenRecord,
};
use carekit_testing::at;
use std::collections::BTreeSet;
use std::sync::Arc;

async fn directory_contract(dir: Arc<dyn AgentDirectory>) {
    let t0 = at("2026-03-02T09:00:00Z");
    let ann = AgentAccount::new("Ann", Role::Lead, t0)
        .with_name("Ann Lee")
        .with_teams(["billing", "social"])
        .with_password(PasswordHash::new(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        ));
    dir.create_agent(&ann).await.unwrap();
    let twin = AgentAccount::new("ANN ", Role::Agent, t0).with_name("Another Ann");
    assert!(
        matches!(
            dir.create_agent(&twin).await,
            Err(StoreError::Constraint(_))
        ),
        "a login is one account, whatever its case"
    );
    let found = dir.agent_by_login(" ann").await.unwrap().unwrap();
    assert_eq!(found, ann);
    assert_eq!(dir.agent(ann.id).await.unwrap().unwrap(), ann);
    assert!(dir.agent_by_login("bob").await.unwrap().is_none());
    let bob = AgentAccount::new("bob", Role::Agent, at("2026-03-02T09:01:00Z"));
    dir.create_agent(&bob).await.unwrap();
    let all: Vec<_> = dir
        .agents()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.login)
        .collect();
    assert_eq!(all, ["ann", "bob"]);
    assert!(dir.set_agent_disabled(bob.id, true).await.unwrap());
    assert!(dir.agent(bob.id).await.unwrap().unwrap().disabled);
    assert!(
        !dir.set_agent_disabled(carekit_core::AgentId::new(), true)
            .await
            .unwrap()
    );

    let scopes = BTreeSet::from([Scope::Read, Scope::Reply]);
    let token = TokenRecord::new(ann.id, "ab".repeat(32), t0)
        .with_label("login")
        .with_hint("ckt_abcd")
        .with_scopes(scopes.clone());
    dir.create_token(&token).await.unwrap();
    let same_digest = TokenRecord::new(bob.id, "ab".repeat(32), t0).with_scopes(scopes);
    assert!(matches!(
        dir.create_token(&same_digest).await,
        Err(StoreError::Constraint(_))
    ));
    assert_eq!(
        dir.token_by_digest(&"ab".repeat(32))
            .await
            .unwrap()
            .unwrap(),
        token
    );
    assert!(
        dir.token_by_digest(&"cd".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
    let later = at("2026-03-02T10:00:00Z");
    dir.touch_token(token.id, later).await.unwrap();
    assert_eq!(
        dir.token(token.id).await.unwrap().unwrap().last_used_at,
        Some(later)
    );
    assert!(dir.revoke_token(token.id, later).await.unwrap());
    assert!(
        dir.revoke_token(token.id, at("2026-03-02T11:00:00Z"))
            .await
            .unwrap()
    );
    assert_eq!(
        dir.token(token.id).await.unwrap().unwrap().revoked_at,
        Some(later),
        "the first revocation's time stays"
    );
    assert_eq!(dir.tokens(Some(ann.id)).await.unwrap().len(), 1);
    assert!(dir.tokens(Some(bob.id)).await.unwrap().is_empty());
    assert_eq!(dir.tokens(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn memory_keeps_agents_and_tokens() {
    directory_contract(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_keeps_agents_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("care.db").display());
    let store = carekit_store_sql::SqlStore::open(&url).await.unwrap();
    directory_contract(Arc::new(store.clone())).await;
    store.close().await;
    let again = carekit_store_sql::SqlStore::open(&url).await.unwrap();
    assert_eq!(
        again.agents().await.unwrap().len(),
        2,
        "kept across a reopen"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_keeps_agents_and_tokens() {
    let Ok(url) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
        eprintln!(
            "\n!!! SKIPPED postgres_keeps_agents_and_tokens: set CAREKIT_TEST_POSTGRES_URL !!!\n"
        );
        return;
    };
    let store = carekit_store_sql::SqlStore::builder(&url)
        .schema(format!("carekit_test_{}", uuid::Uuid::new_v4().simple()))
        .open()
        .await
        .unwrap();
    directory_contract(Arc::new(store)).await;
}
