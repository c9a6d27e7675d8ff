//! Replays a TWCS CSV (real Twitter customer-care threads) through the desk
//! on a virtual clock driven by the tweets' own timestamps: customer tweets
//! come in as mentions, brand tweets as the brand's own replies (echoes).
//!
//! ```text
//! cargo run --example replay_twcs -- [PATH] [--json FILE]
//! ```
//!
//! PATH defaults to `../shared/data/twcs/twcs-head5000.csv`. Data: "Customer
//! Support on Twitter" by Thought Vector, CC BY-NC-SA 4.0 (not shipped).
//!
//! The figures are `carekit::policies::replay::ThreadCensus`, the counting
//! the what-if replay uses: a thread is a connected reply chain; only a
//! thread whose earliest tweet is a customer's has a first response, the
//! first brand tweet after it; a thread the brand started (a broadcast, or
//! a reply whose customer tweet is missing from the file) is counted apart
//! and answers nobody; a thread belongs to the brand that answered first;
//! percentiles are nearest-rank. The desk's own figures follow as a
//! cross-check: it opens one conversation per customer in a thread, so its
//! count differs.

use carekit::policies::replay::{ThreadCensus, nearest_rank};
use carekit::policies::twcs::{self, Tweet};
use carekit::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn event(t: &Tweet) -> InboundEvent {
    let author = Identity::new(ChannelKind::Twitter, t.author.clone());
    let mut e = InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Public,
        t.id.clone(),
        author,
        t.text.clone(),
        t.created_at,
    );
    if let Some(parent) = &t.in_reply_to {
        e = e.with_parent(parent.clone());
    }
    if !t.inbound {
        e = e.with_kind(EventKind::Echo).with_account(t.author.clone());
    }
    e
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/twcs/twcs-head5000.csv"
    )
    .to_owned();
    let mut json_out = None;
    while let Some(arg) = args.next() {
        if arg == "--json" {
            json_out = Some(
                args.next()
                    .ok_or_else(|| anyhow::anyhow!("--json needs a file"))?,
            );
        } else {
            path = arg;
        }
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("TWCS data not found at {path} ({e}); nothing to replay.");
            return Ok(());
        }
    };
    let (tweets, errors) = twcs::read(file);
    for e in &errors {
        eprintln!("skipped malformed row {}: {}", e.record, e.reason);
    }
    // Counted in file order (ties in time keep it), as the what-if does.
    let census = ThreadCensus::of_twcs(&tweets);
    let mut tweets = tweets;
    tweets.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));

    // The desk, on a virtual clock moved to each tweet's time.
    let clock = FakeClock::new(
        tweets
            .first()
            .map_or_else(chrono::Utc::now, |t| t.created_at),
    );
    let desk = Desk::builder().clock(Arc::new(clock.clone())).build()?;
    let started = Instant::now();
    let total = tweets.len();
    for (i, t) in tweets.iter().enumerate() {
        clock.set(t.created_at);
        desk.ingest(event(t)).await?;
        if (i + 1) % 1000 == 0 || i + 1 == total {
            let done = (i + 1) * 30 / total.max(1);
            eprint!(
                "\r[{}{}] {}/{} tweets",
                "#".repeat(done),
                " ".repeat(30 - done),
                i + 1,
                total
            );
        }
    }
    let elapsed = started.elapsed();
    eprintln!();

    let frts = census.first_response_seconds();
    let brands = census.brands();

    // What the desk recorded, as a cross-check (one conversation per
    // customer in a thread).
    let conversations = desk.conversations(&ConversationFilter::all()).await?;
    let mut desk_frts: Vec<i64> = conversations
        .iter()
        .filter_map(|c| c.first_response_at.map(|r| (r - c.opened_at).num_seconds()))
        .collect();
    desk_frts.sort_unstable();

    let inbound = tweets.iter().filter(|t| t.inbound).count();
    let authors: std::collections::BTreeSet<&str> = tweets
        .iter()
        .filter(|t| !t.inbound)
        .map(|t| t.author.as_str())
        .collect();
    println!(
        "TWCS replay through the desk: {total} tweets in {:.2} s ({:.0} tweets/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  {} brand accounts, {inbound} inbound tweets, {} threads: {} customer-started ({} answered), {} brand-started (not counted)",
        authors.len(),
        census.threads,
        census.customer_threads.len(),
        census.answered(),
        census.brand_started,
    );
    let seconds = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s} s"));
    println!(
        "  first response p50 {}, p90 {}",
        seconds(nearest_rank(&frts, 50.0)),
        seconds(nearest_rank(&frts, 90.0)),
    );
    println!(
        "  desk cross-check (one conversation per customer and thread): {} conversations with a first response, p50 {}",
        desk_frts.len(),
        seconds(nearest_rank(&desk_frts, 50.0)),
    );
    if let Some(out) = json_out {
        let brands_json: serde_json::Map<String, serde_json::Value> = brands
            .iter()
            .map(|(brand, b)| {
                (
                    brand.clone(),
                    json!({
                        "threads": b.threads,
                        "frt_p50_s": nearest_rank(&b.first_response_seconds, 50.0),
                        "frt_p90_s": nearest_rank(&b.first_response_seconds, 90.0),
                    }),
                )
            })
            .collect();
        let report = json!({
            "totals": {
                "tweets": total,
                "inbound": inbound,
                "threads": census.threads,
                "customer_started": census.customer_threads.len(),
                "brand_started": census.brand_started,
                "answered": census.answered(),
                "frt_p50_s": nearest_rank(&frts, 50.0),
                "frt_p90_s": nearest_rank(&frts, 90.0),
            },
            "brands": brands_json,
        });
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
        println!("  wrote {out}");
    }
    Ok(())
}
