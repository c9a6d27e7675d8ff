//! How many webhook bodies per second one core verifies and normalises
//! (signature over the raw bytes + typed parse into `InboundEvent`s).
//!
//! ```text
//! cargo run --release -p carekit-facebook --example webhook_throughput
//! ```

use carekit_facebook::parse_webhook;
use carekit_facebook::signature::{sign, verify};
use chrono::{DateTime, Utc};
use std::hint::black_box;
use std::time::Instant;

const MESSENGER: &str = r#"{"object":"page","entry":[{"id":"1234567890","time":1458692752478,"messaging":[{"sender":{"id":"6789012345"},"recipient":{"id":"1234567890"},"timestamp":1458692752478,"message":{"mid":"mid.1457764197618:41d102a3e1ae206a38","text":"hello, world! my order #1234 arrived broken, can you help?"}}]}]}"#;

const FEED: &str = r#"{"entry":[{"id":"1234567890","time":1520383571,"changes":[{"field":"feed","value":{"from":{"id":"156407155145863","name":"Cinderella Hoover"},"post":{"status_type":"added_photos","is_published":true,"updated_time":"2018-03-11T23:45:12+0000","permalink_url":"https://www.facebook.com/permalink.php?story_fbid=1","promotion_status":"inactive","id":"1234567890_444444444"},"message":"My order arrived broken and nobody answers my emails.","post_id":"1234567890_444444444","comment_id":"444444444_555555555","created_time":1520383571,"item":"comment","parent_id":"1234567890_444444444","verb":"add"}}]}],"object":"page"}"#;

fn measure(name: &str, body: &str, now: DateTime<Utc>) {
    let secret = b"app-secret";
    let header = sign(secret, body.as_bytes());
    let rounds = 300_000u32;
    let start = Instant::now();
    let mut events = 0usize;
    for _ in 0..rounds {
        verify(
            secret,
            Some(header.as_bytes()),
            false,
            black_box(body.as_bytes()),
        )
        .expect("valid signature");
        let batch = parse_webhook(black_box(body.as_bytes()), "1234567890", now).expect("parses");
        events += batch.events.len();
    }
    let elapsed = start.elapsed();
    println!(
        "{name:<10} {:>9.0} bodies/s ({:.2} µs each, {} bytes, {events} events)",
        f64::from(rounds) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(rounds),
        body.len()
    );
}

fn main() {
    let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("literal")
        .to_utc();
    measure("messenger", MESSENGER, now);
    measure("feed", FEED, now);
}
