//! Phone numbers keep every digit (Trust issue, finding 3): for every
//! region in the `phonenumber` metadata, its example mobile and fixed-line
//! numbers, written in E.164, come through the signed Twilio webhook into a
//! desk on a real SQLite file, are stored as the customer's identity and
//! are the `To` of the agent's reply at the local Twilio, unchanged, while
//! the webhook and the channel have a default region configured.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use carekit_core::desk::{OutboxConfig, ReplyRequest};
use carekit_core::*;
use carekit_sms::{SmsChannel, TwilioConfig, TwilioProvider, WebhookConfig, signature, webhook};
use carekit_store_sql::SqlStore;
use tower::ServiceExt;

const BRAND: &str = "+14155550100";
const PUBLIC_ORIGIN: &str = "https://desk.example.com";

/// One example number from the metadata.
#[derive(Debug, Clone)]
struct Example {
    region: String,
    kind: &'static str,
    e164: String,
}

/// Every region's example mobile and fixed-line numbers, in E.164 (the
/// metadata gives the national significant number; the region's country
/// code goes before it). Regions sharing a number (fixed line = mobile)
/// give it once.
fn examples() -> Vec<Example> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut metadata: Vec<&phonenumber::Metadata> =
        phonenumber::metadata::DATABASE.iter().collect();
    metadata.sort_by_key(|m| (m.id().to_owned(), m.country_code()));
    for meta in metadata {
        let descriptors = meta.descriptors();
        for (kind, descriptor) in [
            ("fixed line", descriptors.fixed_line()),
            ("mobile", descriptors.mobile()),
        ] {
            if let Some(example) = descriptor.and_then(|d| d.example()) {
                let e164 = format!("+{}{example}", meta.country_code());
                if seen.insert(e164.clone()) {
                    out.push(Example {
                        region: meta.id().to_owned(),
                        kind,
                        e164,
                    });
                }
            }
        }
    }
    out
}

fn regions() -> Vec<String> {
    let mut ids: Vec<String> = phonenumber::metadata::DATABASE
        .iter()
        .map(|m| m.id().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_metadata_gives_examples_for_every_country() {
    let examples = examples();
    let with_examples: BTreeSet<&str> = examples.iter().map(|e| e.region.as_str()).collect();
    assert!(with_examples.len() > 200, "{} regions", with_examples.len());
    for must in [
        "DE", "US", "GB", "BR", "IN", "JP", "AR", "MX", "CN", "NG", "BJ",
    ] {
        assert!(with_examples.contains(must), "{must} missing");
    }
    for e in &examples {
        assert!(
            e.e164[1..].bytes().all(|b| b.is_ascii_digit()) && e.e164.len() <= 16,
            "{e:?}"
        );
    }
}

/// Every example as such, under no default region, its own region, `US`,
/// `DE`, and three more default regions taken in turn from the metadata
/// (so that every region serves as the default for several examples).
#[test]
fn every_example_normalizes_to_itself_whatever_the_default_region() {
    let examples = examples();
    let regions = regions();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (i, e) in examples.iter().enumerate() {
        let turn = |k: usize| Some(regions[(i * 7 + k * 101) % regions.len()].as_str());
        let defaults = [
            None,
            Some(e.region.as_str()),
            Some("US"),
            Some("DE"),
            turn(0),
            turn(1),
            turn(2),
        ];
        for default in defaults {
            checked += 1;
            match carekit_sms::normalize(&e.e164, default) {
                Ok(got) if got == e.e164 => {}
                other => wrong.push(format!(
                    "{} {} {} under {default:?}: {other:?}",
                    e.region, e.kind, e.e164
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} changed, e.g. {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// The whole way: signed webhook → desk on a SQLite file → agent reply →
/// the local Twilio, with `default_region` on the webhook and the channel.
async fn round_trip(default_region: &str) {
    let examples = examples();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("care.db").display());
    let store = Arc::new(SqlStore::open(&url).await.unwrap());
    let twilio = support::server_sending().await;
    let config = TwilioConfig::builder(support::SID, support::TOKEN)
        .base_url(twilio.uri())
        .build()
        .unwrap();
    let channel = SmsChannel::builder(Arc::new(TwilioProvider::new(config)), BRAND)
        .default_region(default_region)
        .build()
        .unwrap();
    let desk = Desk::builder()
        .store(store)
        .channel(Arc::new(channel))
        .outbox(OutboxConfig::default().with_batch(128).with_concurrency(32))
        .build()
        .unwrap();
    let app = webhook::router(
        WebhookConfig::builder(support::TOKEN, PUBLIC_ORIGIN)
            .default_region(default_region)
            .build(),
        Arc::new(desk.clone()),
    );

    // Customers write (32 webhooks at a time, as Twilio would).
    let mut wrong = Vec::new();
    for (chunk_no, chunk) in examples.chunks(32).enumerate() {
        let mut posts = tokio::task::JoinSet::new();
        for (j, e) in chunk.iter().enumerate() {
            let params: Vec<(String, String)> = [
                ("MessageSid", format!("SM{:032x}", chunk_no * 32 + j)),
                ("AccountSid", support::SID.to_owned()),
                ("From", e.e164.clone()),
                ("To", BRAND.to_owned()),
                ("Body", "Where is my order?".to_owned()),
                ("NumMedia", "0".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let sig = signature::compute(support::TOKEN, &format!("{PUBLIC_ORIGIN}/"), &params);
            let request = Request::post("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", sig)
                .body(Body::from(serde_urlencoded::to_string(&params).unwrap()))
                .unwrap();
            let app = app.clone();
            let e = e.clone();
            posts.spawn(async move { (e, app.oneshot(request).await.unwrap().status()) });
        }
        while let Some(done) = posts.join_next().await {
            let (e, status) = done.unwrap();
            if status != StatusCode::OK {
                wrong.push(format!("{e:?}: webhook answered {status}"));
            }
        }
    }

    // The store knows each customer by the number as written; an agent answers.
    let mut replies = HashMap::new();
    for (i, e) in examples.iter().enumerate() {
        let Some(customer) = desk
            .store()
            .customer_by_identity(ChannelKind::Sms, &e.e164)
            .await
            .unwrap()
        else {
            wrong.push(format!("{e:?}: no customer has that number"));
            continue;
        };
        let handles: Vec<&str> = customer
            .identities
            .iter()
            .filter(|id| id.channel == ChannelKind::Sms)
            .map(|id| id.handle.as_str())
            .collect();
        if handles != [e.e164.as_str()] {
            wrong.push(format!("{e:?}: stored as {handles:?}"));
            continue;
        }
        let conversations = desk
            .conversations(&ConversationFilter::all().with_customer(customer.id))
            .await
            .unwrap();
        let [conversation] = conversations.as_slice() else {
            wrong.push(format!("{e:?}: {} conversations", conversations.len()));
            continue;
        };
        let text = format!("Reply {i}: looking into it.");
        desk.reply(conversation.id, ReplyRequest::agent("ann", text.clone()))
            .await
            .unwrap();
        replies.insert(text, e.e164.clone());
    }
    while desk.run_outbox_once().await.unwrap().claimed > 0 {}

    // Twilio was asked to send each reply to the number as written.
    let spec = support::spec();
    let mut sent = HashMap::new();
    for request in twilio.received_requests().await.unwrap() {
        let form = match &spec {
            Some(spec) => support::check_against_spec(spec, &request),
            None => serde_urlencoded::from_bytes(&request.body).unwrap(),
        };
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        sent.insert(field("Body"), field("To"));
    }
    for (text, e164) in &replies {
        match sent.get(text) {
            Some(to) if to == e164 => {}
            other => wrong.push(format!("{e164}: reply sent to {other:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "default region {default_region}: {} of {} numbers changed or lost: {:#?}",
        wrong.len(),
        examples.len(),
        &wrong[..wrong.len().min(20)]
    );
    assert_eq!(sent.len(), examples.len(), "one reply per number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_region_example_survives_webhook_store_and_reply_under_us() {
    round_trip("US").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_region_example_survives_webhook_store_and_reply_under_de() {
    round_trip("DE").await;
}
