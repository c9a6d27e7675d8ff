//! Turns a scripted [`Inbound`] into its platform's signed webhook, with
//! each adapter's own builder (and so its own signing code).

use crate::script::Inbound;
use carekit_desk::Secrets;
use carekit_email::fake::Mail;
use carekit_facebook::fake::Comment;
use carekit_testing::fake_platform::SignedWebhook;
use carekit_twitter::fake::Tweet;

/// Signs webhook deliveries with the platforms' secrets. `Debug` shows no
/// secret.
#[derive(Clone, Debug)]
pub struct WebhookSigner {
    x: carekit_twitter::fake::Webhooks,
    facebook: carekit_facebook::fake::Webhooks,
    sms: carekit_sms::fake::Webhooks,
    email: carekit_email::fake::Webhooks,
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
    /// [`carekit_desk::SECRET_NAMES`]); a missing secret signs with an
    /// empty key, which the desk rejects, as it should.
    pub fn new(secrets: &Secrets, accounts: Accounts) -> Self {
        let get = |name: &str| secrets.get(name).unwrap_or("").to_owned();
        Self {
            x: carekit_twitter::fake::Webhooks::new(
                get("X_CONSUMER_SECRET"),
                accounts.brand_user_id,
            ),
            facebook: carekit_facebook::fake::Webhooks::new(get("FB_APP_SECRET"), accounts.page_id),
            sms: carekit_sms::fake::Webhooks::new(
                get("TWILIO_AUTH_TOKEN"),
                accounts.public_url,
                accounts.sms_number,
            ),
            email: carekit_email::fake::Webhooks::new(
                get("EMAIL_INBOUND_SECRET"),
                accounts.mailbox,
            ),
        }
    }

    /// The signed webhook delivery of `inbound`, sent at `epoch_ms`.
    pub fn request(&self, inbound: &Inbound, epoch_ms: i64) -> SignedWebhook {
        match inbound {
            Inbound::Tweet {
                id,
                user_id,
                handle,
                followers,
                text,
                in_reply_to,
            } => self.x.tweet(
                &Tweet {
                    id: id.clone(),
                    user_id: user_id.clone(),
                    handle: handle.clone(),
                    followers: *followers,
                    text: text.clone(),
                    in_reply_to: in_reply_to.clone(),
                },
                epoch_ms,
            ),
            Inbound::Comment {
                comment_id,
                post_id,
                user_id,
                name,
                text,
            } => self.facebook.comment(
                &Comment {
                    comment_id: comment_id.clone(),
                    post_id: post_id.clone(),
                    user_id: user_id.clone(),
                    name: name.clone(),
                    text: text.clone(),
                },
                epoch_ms,
            ),
            Inbound::Messenger { mid, psid, text } => {
                self.facebook.messenger(mid, psid, text, epoch_ms)
            }
            Inbound::Sms { sid, from, text } => self.sms.sms(sid, from, text),
            Inbound::Email {
                message_id,
                from,
                name,
                subject,
                text,
                references,
            } => self.email.mail(
                &Mail {
                    message_id: message_id.clone(),
                    from: from.clone(),
                    name: name.clone(),
                    subject: subject.clone(),
                    text: text.clone(),
                    references: references.clone(),
                },
                epoch_ms,
            ),
        }
    }
}
