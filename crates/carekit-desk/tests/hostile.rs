//! The desk server under hostile requests, on a free port with a temp
//! SQLite file: forged signatures (401/403, nothing stored), replayed
//! deliveries (2xx, stored once), oversized bodies (413, nothing stored,
//! also when chunked), and slow-loris connections (closed after the header
//! and request timeouts while normal requests stay fast and memory stays
//! bounded).

mod support;

use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The tests share the machine's two cores and measure time and memory:
/// one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MAX_BODY: usize = 64 * 1024;
const HEADER_TIMEOUT_MS: u64 = 1_000;
const REQUEST_TIMEOUT_MS: u64 = 2_000;

/// The test desk with tight limits, on its own SQLite file.
struct Desk {
    inner: TestDesk,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Desk {
    type Target = TestDesk;
    fn deref(&self) -> &TestDesk {
        &self.inner
    }
}

impl Desk {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("desk.db").display());
        let limits = Limits {
            max_body_bytes: MAX_BODY,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            header_read_timeout_ms: Some(HEADER_TIMEOUT_MS),
            tick_ms: 50,
            inbox_dir: None,
            // The email route has its own limit (25 MiB by default); here it
            // is the same as the others so one oversized body fits all.
            email_max_body_bytes: Some(MAX_BODY),
            ..Limits::default()
        };
        Self {
            inner: TestDesk::start_with(&store, None, limits).await,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.inner.stop().await;
    }
}

/// A webhook request: path, headers, body.
type Delivery = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

fn json_headers(name: &'static str, signature: String) -> Vec<(&'static str, String)> {
    vec![
        (name, signature),
        ("content-type", "application/json".into()),
    ]
}

fn form_headers(signature: String) -> Vec<(&'static str, String)> {
    vec![
        ("x-twilio-signature", signature),
        ("content-type", "application/x-www-form-urlencoded".into()),
    ]
}

fn mail_headers(secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-carekit-secret", secret.into()),
        ("content-type", "message/rfc822".into()),
    ]
}

/// One correctly signed delivery to each of the four webhook routes.
fn correctly_signed(
    tweet_body: Vec<u8>,
    fb_body: Vec<u8>,
    sms_url: &str,
    sms: &[(&str, &str)],
    mail: Vec<u8>,
) -> Vec<Delivery> {
    vec![
        (
            "/webhooks/twitter",
            json_headers(
                "x-twitter-webhooks-signature",
                x_signature(X_CONSUMER_SECRET, &tweet_body),
            ),
            tweet_body,
        ),
        (
            "/webhooks/facebook",
            json_headers(
                "x-hub-signature-256",
                meta_signature(FB_APP_SECRET, &fb_body),
            ),
            fb_body,
        ),
        (
            "/webhooks/twilio/sms",
            form_headers(twilio_signature(TWILIO_TOKEN, sms_url, sms)),
            form(sms),
        ),
        ("/webhooks/email", mail_headers(EMAIL_SECRET), mail),
    ]
}

fn form(params: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(params).unwrap().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_are_refused_and_store_nothing() {
    let _serial = SERIAL.lock().await;
    let desk = Desk::start().await;
    let sms_url = desk.url("/webhooks/twilio/sms");

    let tweet_body = tweet("1800000000000000101", "1111", "ann", "@acme forged");
    let other_tweet = tweet("1800000000000000102", "1111", "ann", "@acme other");
    let fb_body = messenger("m_forged", "6000000000000009", "forged");
    let sms = sms_params(
        "SM99999999999999999999999999999999",
        "+14155550199",
        "forged",
    );
    let mut forgeries: Vec<Delivery> = vec![
        // X: wrong secret, a signature for another body, none at all, junk.
        (
            "/webhooks/twitter",
            json_headers(
                "x-twitter-webhooks-signature",
                x_signature("guess", &tweet_body),
            ),
            tweet_body.clone(),
        ),
        (
            "/webhooks/twitter",
            json_headers(
                "x-twitter-webhooks-signature",
                x_signature(X_CONSUMER_SECRET, &other_tweet),
            ),
            tweet_body.clone(),
        ),
        (
            "/webhooks/twitter",
            vec![("content-type", "application/json".into())],
            tweet_body.clone(),
        ),
        (
            "/webhooks/twitter",
            json_headers("x-twitter-webhooks-signature", "sha256=AAAA".into()),
            tweet_body.clone(),
        ),
        // Facebook: wrong secret, SHA-1 only, none, malformed.
        (
            "/webhooks/facebook",
            json_headers("x-hub-signature-256", meta_signature("guess", &fb_body)),
            fb_body.clone(),
        ),
        (
            "/webhooks/facebook",
            json_headers(
                "x-hub-signature",
                "sha1=0123456789abcdef0123456789abcdef01234567".into(),
            ),
            fb_body.clone(),
        ),
        (
            "/webhooks/facebook",
            vec![("content-type", "application/json".into())],
            fb_body.clone(),
        ),
        (
            "/webhooks/facebook",
            json_headers("x-hub-signature-256", "sha256=zz".into()),
            fb_body.clone(),
        ),
        // Twilio: wrong token, signed for another URL, none.
        (
            "/webhooks/twilio/sms",
            form_headers(twilio_signature("guess", &sms_url, &sms)),
            form(&sms),
        ),
        (
            "/webhooks/twilio/sms",
            form_headers(twilio_signature(
                TWILIO_TOKEN,
                "https://elsewhere.example/sms",
                &sms,
            )),
            form(&sms),
        ),
        (
            "/webhooks/twilio/sms",
            vec![("content-type", "application/x-www-form-urlencoded".into())],
            form(&sms),
        ),
        // Email: wrong secret, none.
        (
            "/webhooks/email",
            mail_headers("guess"),
            email(
                "forged@evil.example",
                "eve@evil.example",
                "forged",
                "forged",
            ),
        ),
        (
            "/webhooks/email",
            vec![("content-type", "message/rfc822".into())],
            email(
                "forged2@evil.example",
                "eve@evil.example",
                "forged",
                "forged",
            ),
        ),
    ];
    // A signed body with one byte changed afterwards.
    let mut tampered = tweet("1800000000000000103", "1111", "ann", "@acme refund me $10");
    let sig = x_signature(X_CONSUMER_SECRET, &tampered);
    let at = tampered.windows(3).position(|w| w == b"$10").unwrap();
    tampered[at + 1] = b'9';
    forgeries.push((
        "/webhooks/twitter",
        json_headers("x-twitter-webhooks-signature", sig),
        tampered,
    ));

    for (path, headers, body) in forgeries {
        let status = desk.post(path, &headers, body).await;
        assert!(
            status == 401 || status == 403,
            "{path} {headers:?} got {status}"
        );
    }
    assert_eq!(desk.stored().await, Vec::<String>::new());

    // The same route does store a genuine request: the check above is not vacuous.
    let genuine = tweet("1800000000000000104", "1111", "ann", "@acme genuine");
    let sig = x_signature(X_CONSUMER_SECRET, &genuine);
    assert_eq!(
        desk.post(
            "/webhooks/twitter",
            &json_headers("x-twitter-webhooks-signature", sig),
            genuine
        )
        .await,
        200
    );
    assert_eq!(desk.stored().await, ["twitter: @acme genuine"]);
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_deliveries_are_acknowledged_and_stored_once() {
    let _serial = SERIAL.lock().await;
    let desk = Desk::start().await;
    let sms_url = desk.url("/webhooks/twilio/sms");
    let tweet_body = tweet("1800000000000000201", "2222", "bo", "@acme replayed tweet");
    let fb_body = messenger("m_replayed", "6000000000000002", "replayed messenger");
    let sms = sms_params(
        "SM20000000000000000000000000000001",
        "+14155552671",
        "replayed sms",
    );
    let mail = email(
        "replayed@customer.example",
        "dana@customer.example",
        "Replayed",
        "replayed mail",
    );
    let deliveries = correctly_signed(tweet_body, fb_body, &sms_url, &sms, mail);
    // Each delivery five times: twice in sequence, then three at once (the
    // platform retrying while the first attempt is still in flight).
    for (path, headers, body) in &deliveries {
        for _ in 0..2 {
            let status = desk.post(path, headers, body.clone()).await;
            assert!((200..300).contains(&status), "{path} replay got {status}");
        }
        let concurrent = tokio::join!(
            desk.post(path, headers, body.clone()),
            desk.post(path, headers, body.clone()),
            desk.post(path, headers, body.clone()),
        );
        for status in [concurrent.0, concurrent.1, concurrent.2] {
            assert!(
                (200..300).contains(&status),
                "{path} concurrent replay got {status}"
            );
        }
    }
    assert_eq!(
        desk.stored().await,
        [
            "email: replayed mail",
            "facebook: replayed messenger",
            "sms: replayed sms",
            "twitter: @acme replayed tweet",
        ]
    );
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_store_nothing() {
    let _serial = SERIAL.lock().await;
    let desk = Desk::start().await;
    let sms_url = desk.url("/webhooks/twilio/sms");
    let big_text = "x".repeat(MAX_BODY + 1);
    let tweet_body = tweet("1800000000000000301", "3333", "cy", &big_text);
    let fb_body = messenger("m_big", "6000000000000003", &big_text);
    let sms = sms_params(
        "SM30000000000000000000000000000001",
        "+14155552672",
        &big_text,
    );
    let mail = email(
        "big@customer.example",
        "dana@customer.example",
        "Big",
        &big_text,
    );
    let requests = correctly_signed(tweet_body, fb_body, &sms_url, &sms, mail);
    for (path, headers, body) in &requests {
        assert!(body.len() > MAX_BODY);
        // Correctly signed, still refused: the limit comes before the signature.
        assert_eq!(desk.post(path, headers, body.clone()).await, 413, "{path}");
        // Chunked (no Content-Length): refused once the limit is crossed.
        let status = raw_chunked_post(desk.addr, path, headers, body).await;
        assert_eq!(status, Some(413), "{path} chunked");
    }
    // A Content-Length that lies about a huge body is refused up front.
    let status = raw_request(
        desk.addr,
        b"POST /webhooks/twitter HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{",
    )
    .await;
    assert_eq!(status, Some(413));
    assert_eq!(desk.stored().await, Vec::<String>::new());
    desk.stop().await;
}

/// Sends `body` chunked in 8 KiB pieces and returns the status line's code.
async fn raw_chunked_post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: desk\r\nTransfer-Encoding: chunked\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(8 * 1024) {
        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
        piece.extend_from_slice(chunk);
        piece.extend_from_slice(b"\r\n");
        // The server may answer and close before the rest arrives.
        if stream.write_all(&piece).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    read_status(&mut stream).await
}

async fn raw_request(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_status(&mut stream).await
}

async fn read_status(stream: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&piece[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// How a slow connection behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slow {
    /// Connects and sends nothing.
    Silent,
    /// Trickles request headers a byte at a time, forever.
    Headers,
    /// Sends complete headers, then trickles the body a byte at a time.
    Body,
}

/// What happened to one slow connection: when the server closed it, and
/// the status it answered, if any.
struct Closed {
    kind: Slow,
    after: Duration,
    status: Option<u16>,
}

async fn slow_connection(addr: std::net::SocketAddr, kind: Slow, signature: String) -> Closed {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = match kind {
        Slow::Silent => Vec::new(),
        Slow::Headers => b"POST /webhooks/twitter HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\nX-Padding: ".to_vec(),
        Slow::Body => format!(
            "POST /webhooks/twitter HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\nx-twitter-webhooks-signature: {signature}\r\nContent-Length: 4000\r\n\r\n"
        )
        .into_bytes(),
    };
    let trickle = async move {
        if kind == Slow::Body {
            writer.write_all(&head).await?;
        }
        let mut i = 0usize;
        loop {
            let byte = match kind {
                Slow::Silent => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    continue;
                }
                Slow::Headers => *head.get(i).unwrap_or(&b'a'),
                Slow::Body => b' ',
            };
            writer.write_all(&[byte]).await?;
            i += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    let closed = async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&answer)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
    };
    // Whichever ends first: the server closing, or a write failing on the
    // closed socket (then the read side sees the end right after).
    tokio::pin!(closed);
    let status = tokio::select! {
        status = &mut closed => status,
        _ = trickle => tokio::time::timeout(Duration::from_secs(5), closed).await.ok().flatten(),
    };
    Closed {
        kind,
        after: started.elapsed(),
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_connections_are_closed_while_normal_requests_stay_fast() {
    let _serial = SERIAL.lock().await;
    let desk = Desk::start().await;
    // Warm up: the first requests allocate pools and caches.
    for _ in 0..5 {
        desk.http.get(desk.url("/healthz")).send().await.unwrap();
    }
    let rss_before = rss_kib();

    const CONNECTIONS: usize = 200;
    let body_sig = x_signature(X_CONSUMER_SECRET, &[b' '; 4000]);
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..CONNECTIONS {
        let kind = match i % 4 {
            0 => Slow::Silent,
            1 | 2 => Slow::Headers,
            _ => Slow::Body,
        };
        slow.spawn(slow_connection(desk.addr, kind, body_sig.clone()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Meanwhile: health checks stay fast and a genuine webhook is stored.
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let response = desk.http.get(desk.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let genuine = tweet("1800000000000000401", "4444", "di", "@acme still there?");
    let sig = x_signature(X_CONSUMER_SECRET, &genuine);
    assert_eq!(
        desk.post(
            "/webhooks/twitter",
            &json_headers("x-twitter-webhooks-signature", sig),
            genuine
        )
        .await,
        200
    );
    let rss_during = rss_kib();

    let mut results = Vec::new();
    let all_closed = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(closed) = slow.join_next().await {
            results.push(closed.unwrap());
        }
    })
    .await;
    assert!(
        all_closed.is_ok(),
        "{} of {CONNECTIONS} slow connections still open after 20 s",
        CONNECTIONS - results.len()
    );
    let header_limit = Duration::from_millis(HEADER_TIMEOUT_MS + 3_000);
    let request_limit = Duration::from_millis(REQUEST_TIMEOUT_MS + 3_000);
    for r in &results {
        match r.kind {
            Slow::Silent | Slow::Headers => {
                assert!(
                    r.after <= header_limit,
                    "{:?} open for {:?}",
                    r.kind,
                    r.after
                );
                assert!(
                    r.after >= Duration::from_millis(HEADER_TIMEOUT_MS / 2),
                    "{:?} closed early: {:?}",
                    r.kind,
                    r.after
                );
            }
            Slow::Body => {
                assert!(
                    r.after <= request_limit,
                    "body trickle open for {:?}",
                    r.after
                );
                assert_eq!(r.status, Some(408), "body trickle answered {:?}", r.status);
            }
        }
    }
    let rss_after = rss_kib();
    latencies.sort();
    let max = *latencies.last().unwrap();
    let median = latencies[latencies.len() / 2];
    let span = |k: Slow| {
        let times = results.iter().filter(|r| r.kind == k).map(|r| r.after);
        (
            times.clone().min().unwrap_or_default(),
            times.max().unwrap_or_default(),
        )
    };
    eprintln!(
        "slow-loris: {CONNECTIONS} connections; healthz median {median:?}, max {max:?}; closed after (min, max) {:?} silent, {:?} headers, {:?} body (408); RSS {rss_before} KiB before, {rss_during} during, {rss_after} after",
        span(Slow::Silent),
        span(Slow::Headers),
        span(Slow::Body),
    );
    assert!(
        max < Duration::from_secs(1),
        "healthz took {max:?} with slow connections open"
    );
    let growth = rss_during.max(rss_after).saturating_sub(rss_before);
    assert!(growth < 64 * 1024, "RSS grew by {growth} KiB");
    // Nothing the slow connections sent was stored; the genuine one was.
    assert_eq!(desk.stored().await, ["twitter: @acme still there?"]);
    desk.stop().await;
}
