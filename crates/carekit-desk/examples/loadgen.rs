//! Load check for the desk server: signed X webhooks at a steady rate from
//! this process to a `carekit-desk` child process on loopback.
//!
//! ```text
//! cargo build --release -p carekit-desk --bin carekit-desk --example loadgen
//! target/release/examples/loadgen --rate 5000 --seconds 10            # load check
//! target/release/examples/loadgen --rate 500 --seconds 600             # soak
//! target/release/examples/loadgen --store postgres://postgres@127.0.0.1/test
//! target/release/examples/loadgen --stale      # every tweet months old: all escalate
//! target/release/examples/loadgen --ack-on-commit  # no [inbox]: answer after the commit
//! ```
//!
//! The schedule is open-loop (request *i* is due at `i / rate`), and latency
//! counts from when a request was due, so a slow server cannot hide its
//! queueing. First it runs the same schedule against `GET /healthz`: the
//! HTTP floor of this machine, the baseline the webhook figures are
//! compared with. One webhook in 50 is followed through the JSON API until
//! its conversation is visible, and after the last request `/metrics` is
//! read until every event was ingested (the inbox's backlog is empty). The
//! desk's resident memory is sampled every few seconds.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

const SECRET: &str = "loadgen-consumer-secret";
/// The configured token: it only bootstraps the first admin.
const TOKEN: &str = "loadgen-api-token";
/// The first admin's token, which the API calls use.
static ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Makes the first admin once the desk answers; its token.
async fn bootstrap(http: &reqwest::Client, base: &str) -> String {
    for _ in 0..500 {
        if let Ok(response) = http
            .post(format!("{base}/api/bootstrap"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"login": "loadgen", "password": "loadgen passphrase", "name": "Loadgen"}))
            .send()
            .await
        {
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            return answer["token"]["token"]
                .as_str()
                .expect("a fresh store bootstraps")
                .to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the desk at {base} did not answer");
}
const BRAND: &str = "2244994945";

struct Args {
    rate: u64,
    seconds: u64,
    store: Option<String>,
    max_in_flight: usize,
    /// Stamp every tweet with one date months past, so each arrives already
    /// past its first-response target and is escalated on arrival.
    stale: bool,
    /// Run the desk without `[inbox]`: each webhook answers once its
    /// event is committed to the store.
    ack_on_commit: bool,
}

fn args() -> Args {
    let mut a = Args {
        rate: 5000,
        seconds: 10,
        store: None,
        max_in_flight: 1024,
        stale: false,
        ack_on_commit: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--stale" {
            a.stale = true;
            continue;
        }
        if k == "--ack-on-commit" {
            a.ack_on_commit = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--rate" => a.rate = v.parse().expect("--rate N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--store" => a.store = Some(v),
            "--max-in-flight" => a.max_in_flight = v.parse().expect("--max-in-flight N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

#[derive(Default)]
struct Results {
    /// CPU seconds the desk and this process spent during the phase.
    cpu: (f64, f64),
    latencies_us: Vec<u64>,
    errors: std::collections::BTreeMap<String, u64>,
    visible_us: Vec<u64>,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

fn sign(body: &[u8]) -> String {
    carekit_twitter::webhook::signature(SECRET, body)
}

/// A mention from a new customer, signed. Live webhooks arrive moments
/// after the tweet, so it is stamped with the time it is due to be sent;
/// `stale` stamps it months past instead (every conversation then opens
/// already breached).
fn tweet(i: u64, at: chrono::DateTime<chrono::Utc>) -> (Vec<u8>, String) {
    let id = 1_800_000_000_000_000_000u64 + i;
    let user = 10_000_000 + i;
    let body = serde_json::to_vec(&serde_json::json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "created_at": at.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "id_str": id.to_string(),
            "text": format!("@acme order {i} is late, again"),
            "user": { "id_str": user.to_string(), "name": "Load", "screen_name": format!("load{i}"), "followers_count": 10 },
            "timestamp_ms": at.timestamp_millis().to_string()
        }]
    }))
    .unwrap();
    let signature = sign(&body);
    (body, signature)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start at state.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(f64::NAN);
    ticks / 100.0
}

fn start_desk(store: &str, dir: &std::path::Path, inbox: bool) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("desk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n[store]\nurl = \"{store}\"\nschema = \"loadgen_{pid}\"\n[twitter]\nbrand_user_id = \"{BRAND}\"\napi_base = \"http://127.0.0.1:9\"\n{inbox}",
            pid = std::process::id(),
            inbox = if inbox {
                format!("[inbox]\ndir = \"{}\"\n", dir.join("inbox").display())
            } else {
                String::new()
            }
        ),
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|examples| examples.parent())
        .unwrap()
        .join("carekit-desk");
    assert!(
        bin.exists(),
        "{} not built: cargo build --release -p carekit-desk --bin carekit-desk",
        bin.display()
    );
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .env("CAREKIT_API_TOKEN", TOKEN)
        .env("X_CONSUMER_KEY", "k")
        .env("X_CONSUMER_SECRET", SECRET)
        .env("X_ACCESS_TOKEN", "t")
        .env("X_ACCESS_TOKEN_SECRET", "s")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

async fn phase(
    http: &reqwest::Client,
    base: &str,
    args: &Args,
    webhooks: bool,
    pid: u32,
) -> (Results, f64, Vec<u64>) {
    let total = args.rate * args.seconds;
    let offset = if webhooks { 0 } else { 1 << 40 };
    // Bodies are built and signed before the clock starts, so that the
    // load generator spends its CPU sending, not preparing.
    let lead = Duration::from_millis(50);
    let prepared = Instant::now();
    let bodies: Vec<(Vec<u8>, String)> = if webhooks {
        let stamp = chrono::Utc::now();
        (0..total)
            .map(|i| {
                let at = if args.stale {
                    chrono::DateTime::from_timestamp_millis(1_772_442_000_000).unwrap_or_default()
                } else {
                    stamp + lead + Duration::from_nanos(i * 1_000_000_000 / args.rate)
                };
                tweet(i + offset, at)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut bodies = bodies.into_iter();
    let late = prepared.elapsed();
    let results = Arc::new(Mutex::new(Results::default()));
    let gate = Arc::new(Semaphore::new(args.max_in_flight));
    let start = tokio::time::Instant::now() + lead.saturating_sub(late);
    let mut tasks = tokio::task::JoinSet::new();
    let mut rss = Vec::new();
    let mut next_rss = Instant::now();
    let wall = Instant::now();
    let cpu_before = (cpu_seconds(Some(pid)), cpu_seconds(None));
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / args.rate);
        tokio::time::sleep_until(due).await;
        let body = bodies.next();
        if Instant::now() >= next_rss {
            rss.extend(rss_kib(pid));
            next_rss = Instant::now() + Duration::from_secs(5);
        }
        let permit = match gate.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                *results
                    .lock()
                    .await
                    .errors
                    .entry("client backlog full".into())
                    .or_default() += 1;
                continue;
            }
        };
        let (http, base, results) = (http.clone(), base.to_owned(), results.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let n = i + offset;
            let response = if let Some((body, signature)) = body {
                http.post(format!("{base}/webhooks/twitter"))
                    .header("x-twitter-webhooks-signature", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
            } else {
                http.get(format!("{base}/healthz")).send().await
            };
            let latency = due.elapsed().as_micros() as u64;
            let mut r = results.lock().await;
            match response {
                Ok(resp) if resp.status().is_success() => r.latencies_us.push(latency),
                Ok(resp) => *r.errors.entry(resp.status().to_string()).or_default() += 1,
                Err(e) => *r.errors.entry(format!("{e}")).or_default() += 1,
            }
            drop(r);
            if webhooks && i % 50 == 0 {
                // Followed until visible through the API.
                let user = 10_000_000 + n;
                loop {
                    let list: serde_json::Value = match http
                        .get(format!("{base}/api/conversations?customer=twitter:{user}"))
                        .bearer_auth(ADMIN.get().map_or("", String::as_str))
                        .send()
                        .await
                    {
                        Ok(r) => r.json().await.unwrap_or_default(),
                        Err(_) => serde_json::Value::Null,
                    };
                    if list["conversations"]
                        .as_array()
                        .is_some_and(|c| !c.is_empty())
                    {
                        results
                            .lock()
                            .await
                            .visible_us
                            .push(due.elapsed().as_micros() as u64);
                        break;
                    }
                    if due.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = wall.elapsed().as_secs_f64();
    let cpu = (
        cpu_seconds(Some(pid)) - cpu_before.0,
        cpu_seconds(None) - cpu_before.1,
    );
    rss.extend(rss_kib(pid));
    let mut r = Arc::try_unwrap(results).ok().unwrap().into_inner();
    r.cpu = cpu;
    r.latencies_us.sort_unstable();
    r.visible_us.sort_unstable();
    (r, elapsed, rss)
}

fn print(name: &str, r: &Results, elapsed: f64, total: u64) {
    println!(
        "{name:<9} sent {total:>7}  ok {:>7}  errors {:>5}  {:>7.0} ok/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms",
        r.latencies_us.len(),
        r.errors.values().sum::<u64>(),
        r.latencies_us.len() as f64 / elapsed,
        pct(&r.latencies_us, 50.0),
        pct(&r.latencies_us, 90.0),
        pct(&r.latencies_us, 99.0),
        pct(&r.latencies_us, 100.0),
    );
    let sent = total as f64;
    println!(
        "          CPU per request: desk {:.0} µs, load generator {:.0} µs ({:.0}% and {:.0}% of one core)",
        r.cpu.0 / sent * 1e6,
        r.cpu.1 / sent * 1e6,
        r.cpu.0 / elapsed * 100.0,
        r.cpu.1 / elapsed * 100.0
    );
    for (e, n) in &r.errors {
        println!("          error {n} × {e}");
    }
}

/// Reads `/metrics` until the desk has ingested `total` X events (or 30 s
/// pass); returns the count and how long it took.
async fn wait_ingested(http: &reqwest::Client, base: &str, total: u64) -> (u64, Duration) {
    let since = Instant::now();
    loop {
        let text = match http.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let ingested = text
            .lines()
            .find(|l| l.starts_with("carekit_events_ingested_total{channel=\"twitter\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        if ingested >= total || since.elapsed() > Duration::from_secs(30) {
            return (ingested, since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    let (mut child, base) = start_desk(&store, dir.path(), !args.ack_on_commit);
    let pid = child.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready = Instant::now();
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "desk did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "desk pid {pid} on {base}, store {}, {}, {} req/s for {} s, open loop, ≤{} in flight, {} tweets",
        if args.store.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        if args.ack_on_commit {
            "acknowledged on commit"
        } else {
            "acknowledged on receipt ([inbox])"
        },
        args.rate,
        args.seconds,
        args.max_in_flight,
        if args.stale { "stale" } else { "fresh" }
    );
    let total = args.rate * args.seconds;
    let _ = ADMIN.set(bootstrap(&http, &base).await);
    let (base_r, base_t, _) = phase(&http, &base, &args, false, pid).await;
    print("healthz", &base_r, base_t, total);
    let (r, t, rss) = phase(&http, &base, &args, true, pid).await;
    print("webhooks", &r, t, total);
    println!(
        "visible through the API (n={}): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        r.visible_us.len(),
        pct(&r.visible_us, 50.0),
        pct(&r.visible_us, 99.0),
        pct(&r.visible_us, 100.0)
    );
    let (ingested, after) = wait_ingested(&http, &base, total).await;
    println!(
        "ingested {ingested} of {total} ({:.0} ms after the last request was due)",
        after.as_secs_f64() * 1000.0
    );
    println!(
        "ratio webhook/healthz: p50 {:.1}×  p99 {:.1}×",
        pct(&r.latencies_us, 50.0) / pct(&base_r.latencies_us, 50.0),
        pct(&r.latencies_us, 99.0) / pct(&base_r.latencies_us, 99.0)
    );
    if let (Some(first), Some(last)) = (rss.first(), rss.last()) {
        let max = rss.iter().max().unwrap_or(last);
        println!(
            "desk RSS: start {} MiB, max {} MiB, end {} MiB ({} samples: {:?})",
            first / 1024,
            max / 1024,
            last / 1024,
            rss.len(),
            rss.iter().map(|k| k / 1024).collect::<Vec<_>>()
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
