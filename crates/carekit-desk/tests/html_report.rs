//! The day report's HTML page: its figures, and that a real browser
//! (headless Chromium from Debian's packages; CI installs it) renders the
//! chart and the tables.

use carekit_core::desk::ReplyRequest;
use carekit_core::{ChannelKind, Desk, FakeClock};
use carekit_desk::DayReport;
use carekit_insight::ReportOptions;
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::Duration;
use std::sync::Arc;

/// Three conversations: a tweet answered in 3 minutes, an SMS answered in
/// 50 minutes, a tweet never answered.
async fn day() -> DayReport {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Sms)))
        .build()
        .unwrap();
    let t0 = at("2026-03-02T09:00:00Z");
    let a = desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "t1",
            "ann",
            "@acme late <again>",
            t0,
        ))
        .await
        .unwrap();
    let b = desk
        .ingest(sample_event(
            ChannelKind::Sms,
            "s1",
            "+14155552671",
            "broken",
            t0,
        ))
        .await
        .unwrap();
    desk.ingest(sample_event(
        ChannelKind::Twitter,
        "t2",
        "bob",
        "@acme hello?",
        t0,
    ))
    .await
    .unwrap();
    clock.advance(Duration::minutes(3));
    desk.reply(
        a.conversation_id().unwrap(),
        ReplyRequest::agent("sam", "Sorry Ann!"),
    )
    .await
    .unwrap();
    desk.run_outbox_once().await.unwrap();
    clock.advance(Duration::minutes(47));
    desk.reply(
        b.conversation_id().unwrap(),
        ReplyRequest::agent("sam", "On it."),
    )
    .await
    .unwrap();
    desk.run_outbox_once().await.unwrap();
    DayReport::build(&desk, "Acme care desk <test>", &ReportOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn figures_and_buckets_match_the_day() {
    let report = day().await;
    let bucket = |label: &str, channel: &str| {
        report
            .first_response_histogram
            .iter()
            .find(|b| b.label == label)
            .and_then(|b| b.by_channel.get(channel).copied())
            .unwrap_or(0)
    };
    assert_eq!(bucket("< 5 min", "twitter"), 1);
    assert_eq!(bucket("30–60 min", "sms"), 1);
    assert_eq!(bucket("unanswered", "twitter"), 1);
    let total: usize = report
        .first_response_histogram
        .iter()
        .flat_map(|b| b.by_channel.values())
        .sum();
    assert_eq!(total, 3);
    assert_eq!(report.summary.total.conversations, 3);

    let html = report.to_html();
    assert!(html.contains("<svg id=\"response-chart\""));
    assert!(html.contains("<table id=\"channels\">"));
    // Titles and customer text are escaped.
    assert!(html.contains("Acme care desk &lt;test&gt;"));
    assert!(!html.contains("<test>"));
    // The SMS row: one conversation answered in 50 minutes.
    assert!(
        html.contains("<tr><td>sms</td><td>1</td><td>50m 00s</td>"),
        "{html}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["summary"]["total"]["conversations"], 3);
}

#[tokio::test]
async fn chromium_renders_the_chart_and_the_table() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| which(b))
    else {
        if std::env::var("CI").is_ok() {
            panic!("CI must install chromium (apt-get install chromium)");
        }
        eprintln!(
            "\n!!! SKIPPED chromium_renders_the_chart_and_the_table: no chromium on PATH !!!\n"
        );
        return;
    };
    let report = day().await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, report.to_html()).unwrap();
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ];
    let profile = format!("--user-data-dir={}", dir.path().join("profile").display());

    let dom = std::process::Command::new(chromium)
        .args(common)
        .arg(&profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // What the browser parsed: the chart with its bars, and the table rows.
    assert!(dom.contains("id=\"response-chart\""), "{dom}");
    assert_eq!(dom.matches("class=\"bar\"").count(), 3, "{dom}");
    assert!(dom.contains("<td>twitter</td>") && dom.contains("<td>sms</td>"));

    let shot = dir.path().join("report.png");
    let out = std::process::Command::new(chromium)
        .args(common)
        .arg(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=900,900")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    if let Ok(keep) = std::env::var("CAREKIT_KEEP_SCREENSHOT") {
        std::fs::write(keep, &png).unwrap();
    }
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 10_000,
        "a blank page compresses to almost nothing"
    );
}

fn which(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
}
