//! Webhook requests exactly as each platform sends them, signed the way
//! each adapter verifies them: what the sandbox day, the tests and the load
//! generator post to the desk.

use super::script::Inbound;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// `sha256=` + base64 HMAC-SHA256: X's webhook signature and CRC token.
pub fn x_signature(consumer_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(consumer_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// `sha256=` + hex HMAC-SHA256: Meta's `X-Hub-Signature-256`.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1 over the full URL and
/// the parameters sorted by name, each name followed by its value.
pub fn twilio_signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// One HTTP request for the desk.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    /// Path on the desk (`/webhooks/twitter`, …).
    pub path: &'static str,
    /// Headers, signature included.
    pub headers: Vec<(&'static str, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// Signs webhook deliveries with the platforms' secrets. `Debug` shows no
/// secret.
#[derive(Clone)]
pub struct WebhookSigner {
    x_consumer_secret: SecretString,
    fb_app_secret: SecretString,
    twilio_auth_token: SecretString,
    email_secret: SecretString,
    public_url: String,
    brand_user_id: String,
    page_id: String,
    sms_number: String,
    mailbox: String,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigner")
            .field("public_url", &self.public_url)
            .field("brand_user_id", &self.brand_user_id)
            .field("page_id", &self.page_id)
            .finish_non_exhaustive()
    }
}

/// The accounts the signed requests are addressed to.
#[derive(Clone, Debug)]
pub struct Accounts {
    /// The desk's public origin (Twilio signs the URL).
    pub public_url: String,
    /// The brand's X user id.
    pub brand_user_id: String,
    /// The Facebook page id.
    pub page_id: String,
    /// The business SMS number.
    pub sms_number: String,
    /// The support mailbox.
    pub mailbox: String,
}

impl WebhookSigner {
    /// A signer for `accounts` with the secrets in `secrets` (the names of
    /// [`crate::SECRET_NAMES`]); a missing secret signs with an empty key,
    /// which the desk rejects, as it should.
    pub fn new(secrets: &crate::Secrets, accounts: Accounts) -> Self {
        let get = |name: &str| SecretString::from(secrets.get(name).unwrap_or("").to_owned());
        Self {
            x_consumer_secret: get("X_CONSUMER_SECRET"),
            fb_app_secret: get("FB_APP_SECRET"),
            twilio_auth_token: get("TWILIO_AUTH_TOKEN"),
            email_secret: get("EMAIL_INBOUND_SECRET"),
            public_url: accounts.public_url.trim_end_matches('/').to_owned(),
            brand_user_id: accounts.brand_user_id,
            page_id: accounts.page_id,
            sms_number: accounts.sms_number,
            mailbox: accounts.mailbox,
        }
    }

    /// The signed webhook delivery of `inbound`, sent at `epoch_ms`.
    pub fn request(&self, inbound: &Inbound, epoch_ms: i64) -> SignedRequest {
        match inbound {
            Inbound::Tweet {
                id,
                user_id,
                handle,
                followers,
                text,
                in_reply_to,
            } => {
                let created = chrono::DateTime::from_timestamp_millis(epoch_ms)
                    .unwrap_or_default()
                    .format("%a %b %d %H:%M:%S +0000 %Y")
                    .to_string();
                let body = json!({
                    "for_user_id": self.brand_user_id,
                    "tweet_create_events": [{
                        "created_at": created,
                        "id_str": id,
                        "text": text,
                        "in_reply_to_status_id_str": in_reply_to,
                        "in_reply_to_user_id_str": in_reply_to.as_ref().map(|_| self.brand_user_id.clone()),
                        "user": { "id_str": user_id, "name": handle, "screen_name": handle, "followers_count": followers },
                        "entities": { "user_mentions": [{ "screen_name": "acme", "id_str": self.brand_user_id, "indices": [0, 5] }] },
                        "timestamp_ms": epoch_ms.to_string()
                    }]
                });
                let body = body.to_string().into_bytes();
                SignedRequest {
                    path: "/webhooks/twitter",
                    headers: vec![
                        (
                            "x-twitter-webhooks-signature",
                            x_signature(self.x_consumer_secret.expose_secret(), &body),
                        ),
                        ("content-type", "application/json".into()),
                    ],
                    body,
                }
            }
            Inbound::Comment {
                comment_id,
                post_id,
                user_id,
                name,
                text,
            } => self.meta(json!({
                "object": "page",
                "entry": [{ "id": self.page_id, "time": epoch_ms / 1000, "changes": [{ "field": "feed", "value": {
                    "from": { "id": user_id, "name": name },
                    "post_id": post_id,
                    "comment_id": comment_id,
                    "parent_id": post_id,
                    "created_time": epoch_ms / 1000,
                    "item": "comment",
                    "verb": "add",
                    "message": text
                }}]}]
            })),
            Inbound::Messenger { mid, psid, text } => self.meta(json!({
                "object": "page",
                "entry": [{ "id": self.page_id, "time": epoch_ms, "messaging": [{
                    "sender": { "id": psid },
                    "recipient": { "id": self.page_id },
                    "timestamp": epoch_ms,
                    "message": { "mid": mid, "text": text }
                }]}]
            })),
            Inbound::Sms { sid, from, text } => {
                let params: Vec<(String, String)> = [
                    ("MessageSid", sid.as_str()),
                    ("SmsSid", sid.as_str()),
                    ("AccountSid", "AC00000000000000000000000000000000"),
                    ("From", from.as_str()),
                    ("To", self.sms_number.as_str()),
                    ("Body", text.as_str()),
                    ("NumMedia", "0"),
                    ("NumSegments", "1"),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
                let url = format!("{}/webhooks/twilio/sms", self.public_url);
                SignedRequest {
                    path: "/webhooks/twilio/sms",
                    headers: vec![
                        (
                            "x-twilio-signature",
                            twilio_signature(self.twilio_auth_token.expose_secret(), &url, &params),
                        ),
                        (
                            "content-type",
                            "application/x-www-form-urlencoded".into(),
                        ),
                    ],
                    body: serde_urlencoded::to_string(&params)
                        .unwrap_or_default()
                        .into_bytes(),
                }
            }
            Inbound::Email {
                message_id,
                from,
                name,
                subject,
                text,
                references,
            } => {
                let date = chrono::DateTime::from_timestamp_millis(epoch_ms)
                    .unwrap_or_default()
                    .to_rfc2822();
                let mut raw = format!(
                    "From: {name} <{from}>\r\nTo: {mailbox}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\n",
                    mailbox = self.mailbox
                );
                if let Some(last) = references.last() {
                    raw.push_str(&format!("In-Reply-To: <{last}>\r\n"));
                    let refs: Vec<String> = references.iter().map(|r| format!("<{r}>")).collect();
                    raw.push_str(&format!("References: {}\r\n", refs.join(" ")));
                }
                raw.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
                raw.push_str(text);
                raw.push_str("\r\n");
                SignedRequest {
                    path: "/webhooks/email",
                    headers: vec![
                        (
                            "x-carekit-secret",
                            self.email_secret.expose_secret().to_owned(),
                        ),
                        ("content-type", "message/rfc822".into()),
                    ],
                    body: raw.into_bytes(),
                }
            }
        }
    }

    fn meta(&self, body: serde_json::Value) -> SignedRequest {
        let body = body.to_string().into_bytes();
        SignedRequest {
            path: "/webhooks/facebook",
            headers: vec![
                (
                    "x-hub-signature-256",
                    meta_signature(self.fb_app_secret.expose_secret(), &body),
                ),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }
}
