//! A thin Graph API client over reqwest: exactly the calls a care desk
//! needs, with the version pinned and the base URL configurable.
//!
//! The page access token travels in an `Authorization: Bearer` header (as
//! Meta's Postman collection sends it), never in the URL, so it cannot leak
//! into access logs or error messages.

mod error;
mod usage;

pub use usage::Usage;

use crate::config::FacebookConfig;
use crate::error::FacebookError;
use crate::normalize::{comment_thread_key, messenger_thread_key, parse_graph_time};
use carekit_core::{
    ChannelError, ChannelKind, Clock, EventKind, Identity, InboundEvent, Visibility,
};
use chrono::{DateTime, Utc};
use error::map_error;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::{Arc, Mutex};
use usage::Throttle;

/// Largest Graph response body read (answers are a few hundred bytes).
const MAX_RESPONSE: usize = 1024 * 1024;

/// How a Messenger message is sent, which decides the window it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessagingType {
    /// `messaging_type: RESPONSE`: within 24 hours of the customer's last message.
    Response,
    /// `messaging_type: MESSAGE_TAG` with `tag: HUMAN_AGENT`: a person
    /// answering, up to 7 days after the customer's last message.
    HumanAgent,
}

/// What the Send API returns: the PSID written to and the message id.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The customer's page-scoped id (for a private reply, learned here).
    pub recipient_id: String,
    /// The Messenger message id (`mid`).
    pub message_id: String,
}

/// Graph API client for one page. Cheap to clone; clones share the
/// connection pool and the usage-based pause.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: FacebookConfig,
    clock: Arc<dyn Clock>,
    throttle: Mutex<Throttle>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IdAnswer {
    id: String,
}

#[derive(Deserialize)]
struct SuccessAnswer {
    #[serde(default)]
    success: bool,
}

#[derive(Deserialize)]
struct GraphObject {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    from: Option<GraphParty>,
    #[serde(default)]
    parent: Option<GraphParent>,
}

/// One page of `GET /{object}/comments`.
#[derive(Deserialize)]
struct CommentPage {
    #[serde(default)]
    data: Vec<GraphObject>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

/// `GET /{page}/conversations?user_id=…&fields=messages…`: the page's
/// Messenger thread with one customer and its latest messages.
#[derive(Deserialize)]
struct ThreadList {
    #[serde(default)]
    data: Vec<ThreadEntry>,
}

#[derive(Deserialize)]
struct ThreadEntry {
    #[serde(default)]
    messages: Option<ThreadMessages>,
}

#[derive(Deserialize)]
struct ThreadMessages {
    #[serde(default)]
    data: Vec<GraphObject>,
}

/// How many pages of comments [`GraphClient::find_own_comment`] reads.
const FIND_PAGES: usize = 5;

#[derive(Deserialize)]
struct GraphParty {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct GraphParent {
    id: String,
}

enum Body {
    None,
    Json(serde_json::Value),
    Form(Vec<(&'static str, String)>),
}

impl GraphClient {
    /// A client for `config`'s page; `clock` times the usage pause.
    ///
    /// # Errors
    /// [`FacebookError::Config`] if the HTTP client cannot be built.
    pub fn new(config: FacebookConfig, clock: Arc<dyn Clock>) -> Result<Self, FacebookError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("carekit-facebook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FacebookError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                clock,
                throttle: Mutex::new(Throttle::default()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FacebookConfig {
        &self.inner.config
    }

    /// The usage Meta last reported, for dashboards.
    pub fn usage(&self) -> Option<Usage> {
        self.throttle().last()
    }

    /// Public reply: `POST /{object-id}/comments` on a comment or a post.
    /// Returns the new comment's id.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn reply_to_comment(
        &self,
        object_id: &str,
        text: &str,
    ) -> Result<String, ChannelError> {
        let answer: IdAnswer = self
            .call(
                Method::POST,
                &[object_id, "comments"],
                &[],
                Body::Form(vec![("message", text.to_owned())]),
            )
            .await?;
        Ok(answer.id)
    }

    /// Looks for a comment the page wrote under `object_id` with exactly
    /// `text` (newest first, up to five pages of 100): how an interrupted
    /// public reply is reconciled instead of posted twice.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn find_own_comment(
        &self,
        object_id: &str,
        text: &str,
    ) -> Result<Option<String>, ChannelError> {
        let page = self.inner.config.page_id.clone();
        let mut after: Option<String> = None;
        for _ in 0..FIND_PAGES {
            let mut query = vec![
                ("fields", "id,message,from"),
                ("filter", "stream"),
                ("order", "reverse_chronological"),
                ("limit", "100"),
            ];
            if let Some(cursor) = after.as_deref() {
                query.push(("after", cursor));
            }
            let answer: CommentPage = self
                .call(Method::GET, &[object_id, "comments"], &query, Body::None)
                .await?;
            let found = answer.data.into_iter().find(|c| {
                c.from.as_ref().is_some_and(|f| f.id == page)
                    && c.message.as_deref().map(str::trim) == Some(text.trim())
            });
            if let Some(comment) = found {
                return Ok(Some(comment.id));
            }
            after = match answer.paging {
                Some(Paging {
                    next: Some(_),
                    cursors: Some(Cursors { after: Some(a) }),
                }) => Some(a),
                _ => return Ok(None),
            };
        }
        Ok(None)
    }

    /// Looks for a Messenger message the page sent to `psid` with exactly
    /// `text` among the thread's latest 25 (Conversations API:
    /// `GET /{page-id}/conversations?platform=messenger&user_id={psid}`),
    /// so a send whose answer was lost is reconciled instead of repeated.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn find_own_message(
        &self,
        psid: &str,
        text: &str,
    ) -> Result<Option<String>, ChannelError> {
        check_id(psid)?;
        let page = self.inner.config.page_id.clone();
        let answer: ThreadList = self
            .call(
                Method::GET,
                &[&page, "conversations"],
                &[
                    ("platform", "messenger"),
                    ("user_id", psid),
                    ("fields", "messages.limit(25){id,message,from}"),
                ],
                Body::None,
            )
            .await?;
        Ok(answer
            .data
            .into_iter()
            .filter_map(|thread| thread.messages)
            .flat_map(|m| m.data)
            .find(|m| {
                m.from.as_ref().is_some_and(|f| f.id == page)
                    && m.message.as_deref().map(str::trim) == Some(text.trim())
            })
            .map(|m| m.id))
    }

    /// Private reply to a comment: `POST /{page-id}/messages` with
    /// `recipient.comment_id`. Meta allows one per comment, within 7 days;
    /// [`FacebookChannel`](crate::FacebookChannel) enforces both before
    /// calling this.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn private_reply(
        &self,
        comment_id: &str,
        text: &str,
    ) -> Result<SendReceipt, ChannelError> {
        check_id(comment_id)?;
        let body = json!({
            "recipient": { "comment_id": comment_id },
            "message": { "text": text },
        });
        let page = self.inner.config.page_id.clone();
        self.call(Method::POST, &[&page, "messages"], &[], Body::Json(body))
            .await
    }

    /// Messenger send: `POST /{page-id}/messages` to a PSID.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn send_message(
        &self,
        psid: &str,
        text: &str,
        kind: MessagingType,
    ) -> Result<SendReceipt, ChannelError> {
        check_id(psid)?;
        let mut body = json!({
            "recipient": { "id": psid },
            "messaging_type": "RESPONSE",
            "message": { "text": text },
        });
        if kind == MessagingType::HumanAgent {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!("HUMAN_AGENT");
        }
        let page = self.inner.config.page_id.clone();
        self.call(Method::POST, &[&page, "messages"], &[], Body::Json(body))
            .await
    }

    /// Hides or un-hides a comment: `POST /{comment-id}` with `is_hidden`.
    /// The comment stays visible to its author and friends; nothing is deleted.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn set_hidden(&self, comment_id: &str, hidden: bool) -> Result<(), ChannelError> {
        let answer: SuccessAnswer = self
            .call(
                Method::POST,
                &[comment_id],
                &[],
                Body::Form(vec![("is_hidden", hidden.to_string())]),
            )
            .await?;
        success(answer, "hide")
    }

    /// Deletes a comment or post: `DELETE /{id}`. carekit never calls this
    /// on its own.
    ///
    /// # Errors
    /// A [`ChannelError`] saying whether a retry can help.
    pub async fn delete_object(&self, id: &str) -> Result<(), ChannelError> {
        let answer: SuccessAnswer = self.call(Method::DELETE, &[id], &[], Body::None).await?;
        success(answer, "delete")
    }

    /// Fetches a comment (for a webhook that refers to one not yet seen) as
    /// the `InboundEvent` its webhook would have produced. The thread key
    /// (`{post}:{author}`) takes the post from the comment id
    /// (`{post}_{comment}`).
    /// A comment written by the page comes back as `EventKind::Echo`.
    ///
    /// # Errors
    /// A [`ChannelError`]; `Rejected` with code 100 when it does not exist.
    pub async fn fetch_comment(&self, comment_id: &str) -> Result<InboundEvent, ChannelError> {
        let object: GraphObject = self
            .call(
                Method::GET,
                &[comment_id],
                &[("fields", "id,message,created_time,from,parent")],
                Body::None,
            )
            .await?;
        let page = &self.inner.config.page_id;
        let post_id = object
            .id
            .split_once('_')
            .map(|(post, _)| format!("{page}_{post}"));
        let parent = object.parent.as_ref().map(|p| p.id.clone());
        let mut event = self.object_event(object)?;
        if let Some(parent) = parent {
            event = event.with_parent(parent);
        }
        if let Some(post_id) = post_id {
            if !event.thread.parents.contains(&post_id) {
                event = event.with_parent(post_id.clone());
            }
            let key = comment_thread_key(&post_id, &event.author.handle);
            event = event.with_thread_key(key);
        }
        Ok(event)
    }

    /// Fetches a page post as an `InboundEvent` (thread key = its id).
    ///
    /// # Errors
    /// A [`ChannelError`]; `Rejected` with code 100 when it does not exist.
    pub async fn fetch_post(&self, post_id: &str) -> Result<InboundEvent, ChannelError> {
        let object: GraphObject = self
            .call(
                Method::GET,
                &[post_id],
                &[("fields", "id,message,created_time,from")],
                Body::None,
            )
            .await?;
        let id = object.id.clone();
        Ok(self.object_event(object)?.with_thread_key(id))
    }

    /// When a comment was written (the private-reply window starts there).
    ///
    /// # Errors
    /// A [`ChannelError`]; `Rejected` when Graph gives no readable time.
    pub async fn comment_created_at(
        &self,
        comment_id: &str,
    ) -> Result<DateTime<Utc>, ChannelError> {
        let object: GraphObject = self
            .call(
                Method::GET,
                &[comment_id],
                &[("fields", "id,created_time")],
                Body::None,
            )
            .await?;
        object
            .created_time
            .as_deref()
            .and_then(parse_graph_time)
            .ok_or_else(|| ChannelError::Rejected {
                code: None,
                reason: format!("Graph gave no readable created_time for {comment_id}"),
            })
    }

    /// The Messenger thread key a PSID of this page gets.
    pub fn thread_key_for(&self, psid: &str) -> String {
        messenger_thread_key(&self.inner.config.page_id, psid)
    }

    fn object_event(&self, object: GraphObject) -> Result<InboundEvent, ChannelError> {
        let page = &self.inner.config.page_id;
        let occurred_at = object
            .created_time
            .as_deref()
            .and_then(parse_graph_time)
            .ok_or_else(|| ChannelError::Rejected {
                code: None,
                reason: format!("Graph gave no readable created_time for {}", object.id),
            })?;
        let from = object.from.ok_or_else(|| ChannelError::Rejected {
            code: None,
            reason: format!(
                "Graph did not name the author of {} (needs pages_read_user_content)",
                object.id
            ),
        })?;
        let mut author = Identity::new(ChannelKind::Facebook, from.id.clone());
        if let Some(name) = from.name {
            author = author.with_display_name(name);
        }
        let mut event = InboundEvent::message(
            ChannelKind::Facebook,
            Visibility::Public,
            object.id,
            author,
            object.message.unwrap_or_default(),
            occurred_at,
        )
        .with_account(page.clone());
        if from.id == *page {
            event = event.with_kind(EventKind::Echo);
        }
        Ok(event)
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<T, ChannelError> {
        let config = &self.inner.config;
        for segment in segments.iter().take(1) {
            check_id(segment)?;
        }
        let now = self.inner.clock.now();
        if let Some(wait) = self.throttle().wait(now) {
            return Err(ChannelError::RateLimited { retry_after: wait });
        }
        let mut url = config.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ChannelError::Invalid("base URL cannot take a path".into()))?;
            path.pop_if_empty().push(&config.graph_version);
            for segment in segments {
                path.push(segment);
            }
        }
        let mut request = self
            .inner
            .http
            .request(method, url)
            .bearer_auth(config.page_token());
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(fields) => request.form(&fields),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let usage = usage::parse(response.headers());
        let now = self.inner.clock.now();
        if let Some(usage) = usage {
            self.throttle()
                .observe(usage, now, config.usage_threshold, config.slowdown);
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE as u64)
        {
            return Err(ChannelError::Transport(format!(
                "Graph answer larger than {MAX_RESPONSE} bytes"
            )));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                ChannelError::Transport(format!("unreadable Graph answer (HTTP {status}): {e}"))
            });
        }
        let retry_after = usage
            .and_then(|u| u.regain_after)
            .unwrap_or(config.slowdown)
            .max(config.slowdown);
        let error = map_error(status, &bytes, retry_after);
        if let ChannelError::RateLimited { retry_after } = &error {
            self.throttle().pause_for(now, *retry_after);
        }
        Err(error)
    }
}

fn success(answer: SuccessAnswer, what: &str) -> Result<(), ChannelError> {
    if answer.success {
        Ok(())
    } else {
        Err(ChannelError::Rejected {
            code: None,
            reason: format!("Graph answered success=false to {what}"),
        })
    }
}

/// Graph ids are digits joined by `_`; refusing anything else keeps a
/// crafted id from steering a request to another path.
fn check_id(id: &str) -> Result<(), ChannelError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok && id != "." && id != ".." {
        Ok(())
    } else {
        Err(ChannelError::Invalid(format!(
            "{id:?} is not a Graph object id"
        )))
    }
}

fn transport(e: reqwest::Error) -> ChannelError {
    if e.is_timeout() {
        ChannelError::Timeout
    } else {
        ChannelError::Transport(e.without_url().to_string())
    }
}

impl GraphClient {
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}
