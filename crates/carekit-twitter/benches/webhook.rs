//! Webhook intake throughput: real customer-care tweets (TWCS, read from
//! `../shared/data/twcs/`) wrapped as Account Activity `tweet_create_events`,
//! signed, and pushed through the axum router (signature check over the raw
//! body, parse, normalise, hand-over to a counting sink), one request each.
//!
//! `cargo bench -p carekit-twitter --bench webhook`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use carekit_core::{EventSink, InboundEvent, IntakeError};
use carekit_twitter::webhook::{SIGNATURE_HEADER, WebhookConfig, router};
use hmac::{Hmac, Mac};
use tower::ServiceExt;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/twcs/twcs-head5000.csv"
);
const SECRET: &str = "bench-consumer-secret";
const BRAND: &str = "2244994945";

#[derive(Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl EventSink for Counting {
    async fn accept(&self, _event: InboundEvent) -> Result<(), IntakeError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn main() {
    let Ok(mut reader) = csv::Reader::from_path(DATA) else {
        eprintln!("\n*** SKIPPED: TWCS data not found at {DATA} (shared/ is absent) ***\n");
        return;
    };
    let mut bodies = Vec::new();
    for (i, row) in reader.records().flatten().enumerate() {
        let (Some(id), Some(author), Some(text), Some(parent)) =
            (row.get(0), row.get(1), row.get(4), row.get(6))
        else {
            continue;
        };
        let user_id = format!("{}", 1_000_000 + i);
        let mut tweet = serde_json::json!({
            "created_at": "Tue Oct 31 22:10:47 +0000 2017",
            "id_str": id, "text": text, "truncated": false,
            "user": { "id_str": user_id, "screen_name": author, "followers_count": 120, "verified": false },
            "entities": { "hashtags": [], "urls": [], "user_mentions": [], "symbols": [] },
            "timestamp_ms": "1509487847000", "lang": "en"
        });
        if !parent.is_empty() {
            tweet["in_reply_to_status_id_str"] = serde_json::json!(parent);
            tweet["in_reply_to_user_id_str"] = serde_json::json!(BRAND);
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "for_user_id": BRAND, "tweet_create_events": [tweet]
        }))
        .unwrap_or_default();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes())
            .unwrap_or_else(|_| unreachable!());
        mac.update(&body);
        let sig = format!(
            "sha256={}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        bodies.push((body, sig));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let sink = Arc::new(Counting::default());
    let app = router(WebhookConfig::new(SECRET), sink.clone());
    let bytes: usize = bodies.iter().map(|(b, _)| b.len()).sum();
    let rounds = 20;
    let started = Instant::now();
    rt.block_on(async {
        for _ in 0..rounds {
            for (body, sig) in &bodies {
                let req = Request::post("/")
                    .header(SIGNATURE_HEADER, sig.as_str())
                    .body(Body::from(body.clone()))
                    .unwrap_or_else(|e| panic!("request: {e}"));
                let res = app
                    .clone()
                    .oneshot(req)
                    .await
                    .unwrap_or_else(|e| match e {});
                assert!(res.status().is_success());
            }
        }
    });
    let elapsed = started.elapsed();
    let requests = bodies.len() * rounds;
    println!(
        "webhook intake: {requests} signed tweet_create requests ({} real TWCS tweets x {rounds}), avg body {} B",
        bodies.len(),
        bytes / bodies.len().max(1)
    );
    println!(
        "  {:.0} requests/s on one core ({:.2} µs each), {} events handed over",
        requests as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / requests as f64,
        sink.0.load(Ordering::Relaxed)
    );
}
