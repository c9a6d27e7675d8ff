//! NUL bytes, lone surrogates in JSON escapes and invalid UTF-8, correctly
//! signed, through every webhook route, on SQLite and on Postgres. Each is
//! either stored with the customer's words around it intact or refused with
//! 400, never a 5xx that the platform would retry for ever; and the route
//! keeps taking the next ordinary message, so one odd event blocks nothing.

mod support;

use support::*;

/// A correctly signed delivery of `text` to `route`, `n` making ids unique.
/// `raw` replaces the text's bytes where JSON or a form cannot carry them.
fn delivery(
    route: &str,
    n: usize,
    text: &[u8],
    base: &str,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    // JSON bodies are built as bytes so that invalid UTF-8 and escapes go
    // through as a platform (or an attacker with the secret) could send them.
    let json_text = |t: &[u8]| -> Vec<u8> {
        let mut out = b"\"".to_vec();
        out.extend_from_slice(t);
        out.push(b'"');
        out
    };
    match route {
        "/webhooks/twitter" => {
            let template = String::from_utf8(tweet(
                &format!("17700000000000{n:05}"),
                &format!("{}", 500 + n),
                "odd_bytes",
                "TEXT",
            ))
            .unwrap();
            let body = splice(&template, "\"TEXT\"", &json_text(text));
            (
                vec![
                    (
                        "x-twitter-webhooks-signature",
                        x_signature(X_CONSUMER_SECRET, &body),
                    ),
                    ("content-type", "application/json".into()),
                ],
                body,
            )
        }
        "/webhooks/facebook" => {
            let template = String::from_utf8(messenger(
                &format!("m_odd_{n}"),
                &format!("60000000000{n:05}"),
                "TEXT",
            ))
            .unwrap();
            let body = splice(&template, "\"TEXT\"", &json_text(text));
            (
                vec![
                    ("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body)),
                    ("content-type", "application/json".into()),
                ],
                body,
            )
        }
        "/webhooks/twilio/sms" => {
            // A form carries any byte percent-encoded; Twilio signs the
            // decoded values, so sign what the desk will decode.
            let sid = format!("SM{n:032}");
            let from = format!("+1415555{:04}", 1000 + n);
            let decoded = String::from_utf8_lossy(text).into_owned();
            let params = sms_params(&sid, &from, &decoded);
            let url = format!("{base}/webhooks/twilio/sms");
            let mut body = Vec::new();
            for (k, v) in &params {
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(k.as_bytes());
                body.push(b'=');
                let value: &[u8] = if *k == "Body" { text } else { v.as_bytes() };
                for b in value {
                    body.extend_from_slice(format!("%{b:02X}").as_bytes());
                }
            }
            (
                vec![
                    (
                        "x-twilio-signature",
                        twilio_signature(TWILIO_TOKEN, &url, &params),
                    ),
                    ("content-type", "application/x-www-form-urlencoded".into()),
                ],
                body,
            )
        }
        _ => {
            let head = email(
                &format!("odd-{n}@mail.example"),
                &format!("odd{n}@mail.example"),
                "Odd bytes",
                "BODY",
            );
            let template = String::from_utf8(head).unwrap();
            let body = splice(&template, "BODY", text);
            (
                vec![
                    ("x-carekit-secret", EMAIL_SECRET.into()),
                    ("content-type", "message/rfc822".into()),
                ],
                body,
            )
        }
    }
}

fn splice(template: &str, marker: &str, bytes: &[u8]) -> Vec<u8> {
    let at = template.find(marker).expect("marker in template");
    let mut out = template.as_bytes()[..at].to_vec();
    out.extend_from_slice(bytes);
    out.extend_from_slice(&template.as_bytes()[at + marker.len()..]);
    out
}

const ROUTES: [&str; 4] = [
    "/webhooks/twitter",
    "/webhooks/facebook",
    "/webhooks/twilio/sms",
    "/webhooks/email",
];

/// (name, bytes as they appear in the body, whether JSON routes see an
/// escape rather than the raw byte)
fn oddities(route: &str) -> Vec<(&'static str, Vec<u8>)> {
    let json = route != "/webhooks/twilio/sms" && route != "/webhooks/email";
    let mut out = vec![
        (
            "NUL",
            if json {
                b"before \\u0000 after".to_vec()
            } else {
                b"before \0 after".to_vec()
            },
        ),
        ("invalid UTF-8", b"before \xff\xfe after".to_vec()),
        ("surrogate bytes", b"before \xed\xa0\x80 after".to_vec()),
    ];
    if json {
        out.push(("lone surrogate escape", b"before \\ud800 after".to_vec()));
        out.push((
            "reversed surrogate escapes",
            b"before \\udc00\\ud800 after".to_vec(),
        ));
    }
    out
}

async fn every_route_survives_awkward_bytes(desk: &TestDesk) {
    let mut n = 0;
    let mut stored_ok = 0;
    for route in ROUTES {
        for (name, bytes) in oddities(route) {
            n += 1;
            let (headers, body) = delivery(route, n, &bytes, &desk.base);
            let status = desk.post(route, &headers, body).await;
            eprintln!("{route} {name}: {status}");
            assert!(
                matches!(status, 200 | 202 | 204 | 400),
                "{route} {name}: {status}"
            );
            // The next ordinary message on the route is stored: nothing is
            // blocked behind the odd one.
            n += 1;
            let marker = format!("ordinary message {n}");
            let (headers, body) = delivery(route, n, marker.as_bytes(), &desk.base);
            let ok = desk.post(route, &headers, body).await;
            assert!(matches!(ok, 200 | 202 | 204), "{route} after {name}: {ok}");
            let stored = wait_for(desk, &marker).await;
            assert!(
                stored,
                "{route} after {name}: the next message was not stored"
            );
            if status != 400 {
                stored_ok += 1;
                // Accepted means kept, with the customer's words around the
                // odd bytes.
                let all = desk.stored().await;
                assert!(
                    all.iter()
                        .any(|m| m.contains("before") && m.contains("after")),
                    "{route} {name}: accepted but not stored whole: {all:?}"
                );
            }
        }
    }
    assert!(stored_ok > 0, "some odd text must be storable");
    let metrics = desk.metrics().await;
    let health = desk.http.get(desk.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "{metrics}");
}

async fn wait_for(desk: &TestDesk, marker: &str) -> bool {
    for _ in 0..250 {
        if desk.stored().await.iter().any(|m| m.contains(marker)) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_bytes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start(&url, None).await;
    every_route_survives_awkward_bytes(&desk).await;
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_bytes_on_postgres() {
    let Some(url) = postgres_url("awkward_bytes_on_postgres") else {
        return;
    };
    let schema = format!("desk_bytes_{}", std::process::id());
    let desk = TestDesk::start(&url, Some(&schema)).await;
    every_route_survives_awkward_bytes(&desk).await;
    desk.stop().await;
}
