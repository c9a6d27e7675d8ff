//! The agent console (`carekit-console`) mounted at `/`, over the API's
//! own accounts: its sign-in is the API's login (the same password check
//! and throttling, a token labelled `console`), a session is that token
//! (read again on every request, so revoking it or disabling the agent ends
//! the session), its scopes are the token's, and its live stream is
//! `/api/events`.

use crate::api::ApiState;
use crate::people::{ClientAddr, SignIn, caller_for, sign_in};
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use carekit_console::{Accounts, Console, Credential, SignInError, SignedIn};
use carekit_core::AgentAccount;
use std::sync::Arc;

/// The label of the tokens console sessions stand on.
const SESSION_LABEL: &str = "console";

/// The API's accounts, as the console asks for them.
struct DeskAccounts {
    state: ApiState,
}

/// The console's router over `state`.
pub(crate) fn console(state: &ApiState, insecure_cookies: bool) -> Router {
    let accounts: Arc<dyn Accounts> = Arc::new(DeskAccounts {
        state: state.clone(),
    });
    let mut builder = Console::builder(state.desk.clone(), accounts);
    if insecure_cookies {
        builder = builder.insecure_cookies_for_tests();
    }
    builder.build().router()
}

fn unavailable(status: StatusCode) -> SignInError {
    if status.is_server_error() {
        SignInError::Unavailable
    } else {
        SignInError::Wrong
    }
}

#[async_trait::async_trait]
impl Accounts for DeskAccounts {
    async fn sign_in(
        &self,
        login: &str,
        password: &str,
        request: &Extensions,
    ) -> Result<Credential, SignInError> {
        let address = request
            .get::<ClientAddr>()
            .map_or_else(|| "unknown".to_owned(), |a| a.0.to_string());
        match sign_in(
            &self.state,
            login,
            password.to_owned(),
            &address,
            SESSION_LABEL,
        )
        .await
        {
            Ok(SignIn::Done(done)) => Ok(Credential::new(done.1)),
            Ok(SignIn::Wrong) => Err(SignInError::Wrong),
            Ok(SignIn::Throttled(wait)) => Err(SignInError::Throttled {
                retry_after_seconds: wait,
            }),
            Err(e) => Err(unavailable(e.status())),
        }
    }

    async fn signed_in(&self, credential: &Credential) -> Result<Option<SignedIn>, SignInError> {
        match caller_for(&self.state, credential.expose()).await {
            Ok(caller) => Ok(Some(SignedIn::new(caller.agent, caller.scopes))),
            Err(e) if e.status().is_server_error() => Err(SignInError::Unavailable),
            Err(_) => Ok(None),
        }
    }

    async fn sign_out(&self, credential: &Credential) {
        let Ok(caller) = caller_for(&self.state, credential.expose()).await else {
            return;
        };
        let now = self.state.desk.clock().now();
        if let Err(e) = self
            .state
            .directory
            .revoke_token(caller.token.id, now)
            .await
        {
            tracing::warn!(error = %e, token = %caller.token.id, "could not end a console session");
        }
    }

    async fn events(&self, credential: &Credential, last_event_id: Option<&str>) -> Response {
        let caller = match caller_for(&self.state, credential.expose()).await {
            Ok(caller) => caller,
            Err(e) => return e.into_response(),
        };
        let mut headers = HeaderMap::new();
        if let Some(value) = last_event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert("last-event-id", value);
        }
        match crate::api::events::stream(State(self.state.clone()), Extension(caller), headers)
            .await
        {
            Ok(sse) => sse.into_response(),
            Err(e) => e.into_response(),
        }
    }

    async fn agents(&self) -> Result<Vec<AgentAccount>, SignInError> {
        self.state
            .directory
            .agents()
            .await
            .map_err(|_| SignInError::Unavailable)
    }
}
