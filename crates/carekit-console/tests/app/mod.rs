//! An app of its own for the console's tests and benchmark: one agent
//! account behind an `Accounts` of its own, an in-memory desk on a fake
//! clock, and the console merged into the app's router.
#![allow(dead_code)]

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carekit_console::{Accounts, Console, Credential, SignInError, SignedIn};
use carekit_core::{AgentAccount, ChannelKind, Desk, FakeClock, MemoryStore, Role};
use carekit_testing::RecordingChannel;
use carekit_testing::at;
use std::sync::{Arc, Mutex};

/// The one agent's password.
pub const PASSWORD: &str = "app password 123";

/// One agent, one password, sessions kept in memory.
pub struct AppAccounts {
    agent: AgentAccount,
    sessions: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Accounts for AppAccounts {
    async fn sign_in(
        &self,
        login: &str,
        password: &str,
        _request: &axum::http::Extensions,
    ) -> Result<Credential, SignInError> {
        if login != self.agent.login || password != PASSWORD {
            return Err(SignInError::Wrong);
        }
        let secret = format!("app-session-{}", self.sessions.lock().unwrap().len());
        self.sessions.lock().unwrap().push(secret.clone());
        Ok(Credential::new(secret))
    }

    async fn signed_in(&self, credential: &Credential) -> Result<Option<SignedIn>, SignInError> {
        let known = self
            .sessions
            .lock()
            .unwrap()
            .iter()
            .any(|s| s == credential.expose());
        Ok(known.then(|| SignedIn::new(self.agent.clone(), self.agent.role.scopes())))
    }

    async fn sign_out(&self, credential: &Credential) {
        self.sessions
            .lock()
            .unwrap()
            .retain(|s| s != credential.expose());
    }

    async fn events(&self, _credential: &Credential, _last: Option<&str>) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }

    async fn agents(&self) -> Result<Vec<AgentAccount>, SignInError> {
        Ok(vec![self.agent.clone()])
    }
}

pub struct App {
    pub router: axum::Router,
    pub desk: Desk,
    pub agent: AgentAccount,
    pub twitter: Arc<RecordingChannel>,
}

pub async fn app() -> App {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .store(Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock))
        .channel(twitter.clone())
        .build()
        .unwrap();
    let agent = AgentAccount::new("pat", Role::Agent, at("2026-03-01T00:00:00Z")).with_name("Pat");
    let accounts = Arc::new(AppAccounts {
        agent: agent.clone(),
        sessions: Mutex::new(Vec::new()),
    });
    let router = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .merge(
            Console::builder(desk.clone(), accounts)
                .insecure_cookies_for_tests()
                .build()
                .router(),
        );
    App {
        router,
        desk,
        agent,
        twitter,
    }
}
