//! A thin client for the X API v2 calls a care desk needs, exactly as the
//! official OpenAPI description spells them. Reads come back normalised
//! (`InboundEvent`s); platform JSON stays inside this crate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carekit_core::{Clock, InboundEvent, SystemClock};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Auth;
use crate::error::TwitterError;
use crate::ids::check_id;
use crate::normalize::{self, Includes};
use crate::rate_limit::{RateLimit, retry_after_429};
use crate::wire::{
    V2Created, V2CreatedDm, V2CreatedTweet, V2DmList, V2ErrorBody, V2TweetList, V2TweetLookup,
};

/// X's production API.
pub const DEFAULT_API_BASE: &str = "https://api.x.com";

/// Largest response body read (X pages are far smaller).
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

const TWEET_FIELDS: &str = "author_id,conversation_id,created_at,in_reply_to_user_id,referenced_tweets,attachments,note_tweet";
const TWEET_EXPANSIONS: &str =
    "author_id,referenced_tweets.id,referenced_tweets.id.author_id,attachments.media_keys";
const USER_FIELDS: &str = "username,public_metrics,verified";
const MEDIA_FIELDS: &str = "type,url,preview_image_url";
const DM_FIELDS: &str = "id,event_type,text,sender_id,dm_conversation_id,created_at,attachments";
const DM_EXPANSIONS: &str = "sender_id,attachments.media_keys";

/// The API calls whose rate-limit windows the client remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /2/tweets`.
    CreateTweet,
    /// `POST /2/dm_conversations/with/{participant_id}/messages`.
    SendDm,
    /// `GET /2/users/{id}/mentions`.
    Mentions,
    /// `GET /2/dm_events`.
    DmEvents,
    /// `GET /2/tweets/{id}`.
    TweetLookup,
    /// `GET /2/users/{id}/tweets`.
    UserTweets,
}

/// Where to resume the mentions timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MentionsQuery {
    /// Only tweets newer than this id.
    pub since_id: Option<String>,
    /// The next page of the same query.
    pub pagination_token: Option<String>,
    /// 5 to 100 (the spec's bounds); default 100.
    pub max_results: Option<u8>,
}

impl MentionsQuery {
    /// Everything newer than `since_id` (or the latest page without one).
    pub fn since(since_id: Option<String>) -> Self {
        Self {
            since_id,
            ..Self::default()
        }
    }
    /// Sets the page token.
    pub fn with_pagination_token(mut self, token: Option<String>) -> Self {
        self.pagination_token = token;
        self
    }
    /// Sets the page size (5-100).
    pub fn with_max_results(mut self, n: u8) -> Self {
        self.max_results = Some(n);
        self
    }
}

/// One page of mentions, normalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MentionsPage {
    /// Mentions a desk should take (retweets and empty tweets skipped),
    /// newest first as X returns them.
    pub events: Vec<InboundEvent>,
    /// Tweets X expanded alongside (the ones replied to), normalised.
    pub referenced: Vec<InboundEvent>,
    /// The newest id in this result set (the next `since_id`).
    pub newest_id: Option<String>,
    /// Token for the next (older) page.
    pub next_token: Option<String>,
}

/// One page of DM events, normalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DmPage {
    /// Messages, newest first; the brand's own come as echoes.
    pub events: Vec<InboundEvent>,
    /// Every event id on the page, skipped ones included (for cursors).
    pub ids: Vec<String>,
    /// Token for the next (older) page.
    pub next_token: Option<String>,
}

/// X's receipt for a DM.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentDm {
    /// The new DM event id.
    pub dm_event_id: String,
    /// The conversation it went into.
    pub dm_conversation_id: String,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    brand: String,
    clock: Arc<dyn Clock>,
    limits: Mutex<HashMap<Endpoint, RateLimit>>,
}

/// The X API v2 client. Cheap to clone; clones share the connection pool
/// and the rate-limit memory.
#[derive(Clone)]
pub struct XClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XClient")
            .field("base", &self.inner.base)
            .field("brand_user_id", &self.inner.brand)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// Builds an [`XClient`].
#[derive(Debug)]
pub struct XClientBuilder {
    auth: Auth,
    brand: String,
    base: String,
    clock: Option<Arc<dyn Clock>>,
    timeout: Duration,
    http: Option<reqwest::Client>,
}

impl XClientBuilder {
    /// The API base URL (default [`DEFAULT_API_BASE`]; tests use a local server).
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }
    /// The clock used for OAuth timestamps and rate-limit waits.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Reuses an existing reqwest client (its own timeout then applies).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
    /// Builds the client.
    ///
    /// # Errors
    /// [`TwitterError::Config`] for a malformed brand id or base URL.
    pub fn build(self) -> Result<XClient, TwitterError> {
        check_id("brand user id", &self.brand).map_err(|e| TwitterError::Config(e.to_string()))?;
        let base = self.base.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base)
            .map_err(|e| TwitterError::Config(format!("api base {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(TwitterError::Config(format!(
                "api base must be an http(s) URL without query, got {base:?}"
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .user_agent(concat!("carekit-twitter/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| TwitterError::Config(format!("http client: {e}")))?,
        };
        Ok(XClient {
            inner: Arc::new(Inner {
                http,
                base,
                auth: self.auth,
                brand: self.brand,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                limits: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl XClient {
    /// Starts a client acting as the brand account `brand_user_id`.
    pub fn builder(auth: Auth, brand_user_id: impl Into<String>) -> XClientBuilder {
        XClientBuilder {
            auth,
            brand: brand_user_id.into(),
            base: DEFAULT_API_BASE.to_owned(),
            clock: None,
            timeout: Duration::from_secs(30),
            http: None,
        }
    }

    /// The brand account's user id.
    pub fn brand_user_id(&self) -> &str {
        &self.inner.brand
    }

    /// The client's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The window X reported on the last call to `endpoint`.
    pub fn rate_limit(&self, endpoint: Endpoint) -> Option<RateLimit> {
        self.limits().get(&endpoint).copied()
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, HashMap<Endpoint, RateLimit>> {
        self.inner.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Posts `text` as a reply under `in_reply_to_tweet_id`
    /// (`POST /2/tweets` with `reply.in_reply_to_tweet_id`). Returns the new
    /// tweet's id.
    pub async fn post_reply(
        &self,
        text: &str,
        in_reply_to_tweet_id: &str,
    ) -> Result<String, TwitterError> {
        check_id("in_reply_to_tweet_id", in_reply_to_tweet_id)?;
        if text.trim().is_empty() {
            return Err(TwitterError::Invalid("tweet text is empty".into()));
        }
        let body =
            json!({ "text": text, "reply": { "in_reply_to_tweet_id": in_reply_to_tweet_id } });
        let created: V2Created<V2CreatedTweet> = self
            .call(
                Method::POST,
                Endpoint::CreateTweet,
                "/2/tweets".into(),
                Vec::new(),
                Some(body),
            )
            .await?;
        let id = created
            .data
            .map(|d| d.id)
            .ok_or_else(|| TwitterError::Decode("created tweet without data.id".into()))?;
        check_id("created tweet id", &id).map_err(|e| TwitterError::Decode(e.to_string()))?;
        Ok(id)
    }

    /// Sends a DM to `participant_id`
    /// (`POST /2/dm_conversations/with/{participant_id}/messages`).
    pub async fn send_dm(&self, participant_id: &str, text: &str) -> Result<SentDm, TwitterError> {
        check_id("participant_id", participant_id)?;
        if text.is_empty() {
            return Err(TwitterError::Invalid("DM text is empty".into()));
        }
        let path = format!("/2/dm_conversations/with/{participant_id}/messages");
        let created: V2Created<V2CreatedDm> = self
            .call(
                Method::POST,
                Endpoint::SendDm,
                path,
                Vec::new(),
                Some(json!({ "text": text })),
            )
            .await?;
        let data = created
            .data
            .ok_or_else(|| TwitterError::Decode("created DM without data".into()))?;
        Ok(SentDm {
            dm_event_id: data.dm_event_id,
            dm_conversation_id: data.dm_conversation_id,
        })
    }

    /// One page of the brand's mentions timeline (`GET /2/users/{id}/mentions`).
    pub async fn mentions(&self, query: &MentionsQuery) -> Result<MentionsPage, TwitterError> {
        let max = query.max_results.unwrap_or(100);
        if !(5..=100).contains(&max) {
            return Err(TwitterError::Invalid(format!(
                "max_results must be 5..=100 for mentions, got {max}"
            )));
        }
        let mut params = vec![("max_results", max.to_string())];
        if let Some(since) = &query.since_id {
            params.push(("since_id", check_id("since_id", since)?.to_owned()));
        }
        if let Some(token) = query.pagination_token.as_ref().filter(|t| !t.is_empty()) {
            params.push(("pagination_token", token.clone()));
        }
        params.extend(tweet_params());
        let path = format!("/2/users/{}/mentions", self.inner.brand);
        let list: V2TweetList = self
            .call(Method::GET, Endpoint::Mentions, path, params, None)
            .await?;
        let includes = Includes::new(&list.includes);
        let now = self.inner.clock.now();
        let brand = &self.inner.brand;
        Ok(MentionsPage {
            events: list
                .data
                .iter()
                .filter_map(|t| normalize::v2_tweet(t, &includes, brand, now))
                .collect(),
            referenced: list
                .includes
                .tweets
                .iter()
                .filter_map(|t| normalize::v2_tweet(t, &includes, brand, now))
                .collect(),
            newest_id: list
                .meta
                .newest_id
                .or_else(|| list.data.first().map(|t| t.id.clone())),
            next_token: list.meta.next_token.filter(|t| !t.is_empty()),
        })
    }

    /// The brand's own reply under `in_reply_to_tweet_id` with this text,
    /// searched newest first through the brand's timeline
    /// (`GET /2/users/{id}/tweets`, up to the 3,200 tweets X keeps there).
    /// After a crash between X accepting a reply and the desk recording it,
    /// this is how the desk learns the reply went out instead of posting it
    /// twice. Returns the reply's id, or `None` if it is not there.
    pub async fn find_own_reply(
        &self,
        in_reply_to_tweet_id: &str,
        text: &str,
    ) -> Result<Option<String>, TwitterError> {
        check_id("in_reply_to_tweet_id", in_reply_to_tweet_id)?;
        let wanted = comparable(text);
        let path = format!("/2/users/{}/tweets", self.inner.brand);
        let mut token: Option<String> = None;
        for _page in 0..TIMELINE_PAGES {
            let mut params = vec![
                ("max_results", "100".to_owned()),
                ("exclude", "retweets".to_owned()),
                ("tweet.fields", "created_at,referenced_tweets".to_owned()),
            ];
            if let Some(t) = &token {
                params.push(("pagination_token", t.clone()));
            }
            let list: V2TweetList = self
                .call(
                    Method::GET,
                    Endpoint::UserTweets,
                    path.clone(),
                    params,
                    None,
                )
                .await?;
            let found = list.data.into_iter().find(|t| {
                t.referenced_tweets
                    .iter()
                    .any(|r| r.kind == "replied_to" && r.id == in_reply_to_tweet_id)
                    && t.text.as_deref().map(comparable).as_ref() == Some(&wanted)
            });
            if let Some(t) = found {
                return Ok(Some(t.id));
            }
            token = list.meta.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// One page of DM events, newest first (`GET /2/dm_events`).
    pub async fn dm_events(
        &self,
        pagination_token: Option<&str>,
        max_results: u8,
    ) -> Result<DmPage, TwitterError> {
        if !(1..=100).contains(&max_results) {
            return Err(TwitterError::Invalid(format!(
                "max_results must be 1..=100 for dm_events, got {max_results}"
            )));
        }
        let mut params = vec![
            ("max_results", max_results.to_string()),
            ("event_types", "MessageCreate".to_owned()),
            ("dm_event.fields", DM_FIELDS.to_owned()),
            ("expansions", DM_EXPANSIONS.to_owned()),
            ("user.fields", USER_FIELDS.to_owned()),
            ("media.fields", MEDIA_FIELDS.to_owned()),
        ];
        if let Some(token) = pagination_token.filter(|t| !t.is_empty()) {
            params.push(("pagination_token", token.to_owned()));
        }
        let list: V2DmList = self
            .call(
                Method::GET,
                Endpoint::DmEvents,
                "/2/dm_events".into(),
                params,
                None,
            )
            .await?;
        let includes = Includes::new(&list.includes);
        let now = self.inner.clock.now();
        Ok(DmPage {
            events: list
                .data
                .iter()
                .filter_map(|d| normalize::v2_dm(d, &includes, &self.inner.brand, now))
                .collect(),
            ids: list.data.iter().map(|d| d.id.clone()).collect(),
            next_token: list.meta.next_token.filter(|t| !t.is_empty()),
        })
    }

    /// Looks up one tweet (`GET /2/tweets/{id}`), to fetch a parent the desk
    /// has not seen. `Ok(None)` if it is deleted, protected or unusable.
    pub async fn tweet(&self, id: &str) -> Result<Option<InboundEvent>, TwitterError> {
        check_id("tweet id", id)?;
        let path = format!("/2/tweets/{id}");
        let lookup: V2TweetLookup = match self
            .call(
                Method::GET,
                Endpoint::TweetLookup,
                path,
                tweet_params(),
                None,
            )
            .await
        {
            Err(TwitterError::NotFound(_)) => return Ok(None),
            other => other?,
        };
        let Some(tweet) = lookup.data else {
            let why = lookup.errors.first().map(|p| {
                format!(
                    "{} {}",
                    p.title.as_deref().or(p.kind.as_deref()).unwrap_or(""),
                    p.detail.as_deref().or(p.message.as_deref()).unwrap_or("")
                )
            });
            tracing::debug!(id, reason = ?why, "tweet lookup returned no data");
            return Ok(None);
        };
        let includes = Includes::new(&lookup.includes);
        Ok(normalize::v2_tweet(
            &tweet,
            &includes,
            &self.inner.brand,
            self.inner.clock.now(),
        ))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: Endpoint,
        path: String,
        query: Vec<(&'static str, String)>,
        body: Option<serde_json::Value>,
    ) -> Result<T, TwitterError> {
        let url = format!("{}{}", self.inner.base, path);
        let now = self.inner.clock.now();
        let authorization = self.inner.auth.header(method.as_str(), &url, &query, now);
        let mut request = self
            .inner
            .http
            .request(method, &url)
            .header(http::header::AUTHORIZATION, authorization);
        if !query.is_empty() {
            request = request.query(&query);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let limit = RateLimit::from_headers(response.headers());
        if let Some(limit) = limit {
            self.limits().insert(endpoint, limit);
        }
        if response
            .content_length()
            .is_some_and(|l| l > MAX_RESPONSE_BYTES as u64)
        {
            return Err(TwitterError::Decode("response body too large".into()));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(TwitterError::Decode("response body too large".into()));
        }
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| TwitterError::Decode(format!("{endpoint:?}: {e}")));
        }
        Err(status_error(
            status,
            &bytes,
            limit.as_ref(),
            self.inner.clock.now(),
        ))
    }
}

fn tweet_params() -> Vec<(&'static str, String)> {
    vec![
        ("tweet.fields", TWEET_FIELDS.to_owned()),
        ("expansions", TWEET_EXPANSIONS.to_owned()),
        ("user.fields", USER_FIELDS.to_owned()),
        ("media.fields", MEDIA_FIELDS.to_owned()),
    ]
}

fn transport(e: reqwest::Error) -> TwitterError {
    if e.is_timeout() {
        TwitterError::Timeout
    } else {
        // reqwest's error text names the URL, never headers: no secrets.
        TwitterError::Transport(e.without_url().to_string())
    }
}

fn status_error(
    status: StatusCode,
    body: &[u8],
    limit: Option<&RateLimit>,
    now: chrono::DateTime<chrono::Utc>,
) -> TwitterError {
    let parsed: V2ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let first = parsed.errors.first();
    let title = parsed
        .title
        .clone()
        .or_else(|| first.and_then(|p| p.title.clone()));
    let detail = parsed
        .detail
        .clone()
        .or_else(|| first.and_then(|p| p.detail.clone().or_else(|| p.message.clone())));
    let kind = first.and_then(|p| p.kind.clone()).unwrap_or_default();
    let mut reason = match (&title, &detail) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (Some(t), None) => t.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    reason.truncate(reason.floor_char_boundary(300));
    let code = status.as_u16();
    match code {
        429 => TwitterError::RateLimited {
            retry_after: retry_after_429(limit, now),
        },
        401 => TwitterError::Unauthorized {
            status: code,
            reason,
        },
        403 if kind.contains("client-forbidden")
            || kind.contains("unsupported-authentication")
            || title.as_deref() == Some("Unsupported Authentication")
            || title.as_deref() == Some("Client Forbidden") =>
        {
            TwitterError::Unauthorized {
                status: code,
                reason,
            }
        }
        404 => TwitterError::NotFound(reason),
        500..=599 => TwitterError::Server { status: code },
        _ => TwitterError::Rejected {
            status: code,
            reason,
        },
    }
}

/// X keeps a user's latest 3,200 tweets on their timeline: 32 pages of 100.
const TIMELINE_PAGES: usize = 32;

/// Text as X shows it back, reduced to what survives the round trip: X
/// escapes `&`, `<` and `>`, may prefix the @handles of the thread, and
/// rewrites links as t.co links, so links and leading handles are dropped.
fn comparable(text: &str) -> String {
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    text.split_whitespace()
        .skip_while(|w| w.starts_with('@'))
        .filter(|w| !w.starts_with("http://") && !w.starts_with("https://"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::comparable;

    #[test]
    fn text_round_trips_through_x_rewrites() {
        assert_eq!(
            comparable("@ann @acme Sorry &amp; thanks https://t.co/abc"),
            comparable("Sorry & thanks https://acme.example/help")
        );
        assert_ne!(comparable("Sorry"), comparable("Sorry again"));
    }
}
