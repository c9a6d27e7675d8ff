//! Replays a TWCS CSV (real Twitter customer-care threads) through the desk
//! on a virtual clock driven by the tweets' own timestamps: customer tweets
//! come in as mentions, brand tweets as the brand's own replies (echoes).
//!
//! ```text
//! cargo run --release --example replay_twcs -- [PATH] [--json FILE]
//! ```
//!
//! PATH defaults to `../shared/data/twcs/twcs-head5000.csv`. Data: "Customer
//! Support on Twitter" by Thought Vector, CC BY-NC-SA 4.0 (not shipped).
//!
//! Definitions: a thread is a connected reply chain; it is customer-started
//! when its earliest tweet is a customer's; first response is the brand's
//! earliest tweet in the thread minus the thread's earliest tweet; a thread
//! belongs to the brand that answered first; percentiles are nearest-rank.

use carekit::policies::twcs::{self, Tweet};
use carekit::*;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

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
    let (mut tweets, errors) = twcs::read(file);
    for e in &errors {
        eprintln!("skipped malformed row {}: {}", e.record, e.reason);
    }
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

    // Thread facts by definition, from the reply graph.
    let threads = twcs::threads(&tweets);
    let mut by_thread: HashMap<&str, Vec<&Tweet>> = HashMap::new();
    for t in &tweets {
        by_thread
            .entry(threads[&t.id].as_str())
            .or_default()
            .push(t);
    }
    let (mut customer_started, mut answered) = (0usize, 0usize);
    let mut frts: Vec<i64> = Vec::new();
    let mut brands: BTreeMap<String, (usize, Vec<i64>)> = BTreeMap::new();
    for list in by_thread.values_mut() {
        list.sort_by_key(|t| t.created_at);
        let first = list[0];
        if first.inbound {
            customer_started += 1;
        }
        if let Some(brand) = list.iter().find(|t| !t.inbound) {
            answered += 1;
            let frt = (brand.created_at - first.created_at).num_seconds();
            frts.push(frt);
            let entry = brands.entry(brand.author.clone()).or_default();
            entry.0 += 1;
            entry.1.push(frt);
        }
    }
    frts.sort_unstable();

    // Cross-check with what the desk recorded for customer-started threads.
    let conversations = desk.conversations(&ConversationFilter::all()).await?;
    let mut desk_frts: Vec<i64> = conversations
        .iter()
        .filter_map(|c| c.first_response_at.map(|r| (r - c.opened_at).num_seconds()))
        .collect();
    desk_frts.sort_unstable();

    let inbound = tweets.iter().filter(|t| t.inbound).count();
    println!(
        "TWCS replay through the desk: {total} tweets in {:.2} s ({:.0} tweets/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  {} brands, {inbound} inbound tweets, {} threads ({customer_started} customer-started, {answered} answered)",
        brands.len(),
        by_thread.len()
    );
    println!(
        "  first response p50 {} s, p90 {} s (desk conversations: {} with a response, p50 {} s)",
        nearest_rank(&frts, 50.0).unwrap_or(0),
        nearest_rank(&frts, 90.0).unwrap_or(0),
        desk_frts.len(),
        nearest_rank(&desk_frts, 50.0).unwrap_or(0)
    );
    if let Some(out) = json_out {
        let brands_json: serde_json::Map<String, serde_json::Value> = brands
            .iter_mut()
            .map(|(brand, (threads, frt))| {
                frt.sort_unstable();
                (
                    brand.clone(),
                    json!({"threads": threads, "frt_p50_s": nearest_rank(frt, 50.0), "frt_p90_s": nearest_rank(frt, 90.0)}),
                )
            })
            .collect();
        let report = json!({
            "totals": {
                "tweets": total,
                "inbound": inbound,
                "threads": by_thread.len(),
                "customer_started": customer_started,
                "answered": answered,
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
