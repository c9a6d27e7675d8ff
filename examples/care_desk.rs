//! A whole day of customer care in a few seconds, with no credentials.
//!
//! Starts local fakes of X, the Graph API, Twilio and an SMTP server, runs
//! the real carekit desk server against them on the embedded SQLite store,
//! and plays a scripted day: praise and complaints on X, page comments,
//! Messenger, SMS and email; a customer who tweets four times unanswered; a
//! complaint moved to SMS and one to Messenger; an opt-out; an outage spike.
//! Prints what arrived and what the desk did, then the report, and writes
//! it as JSON and as an HTML page with a chart.
//!
//! ```text
//! cargo run --release --example care_desk [-- --seed 7 --out target/care_desk --quiet]
//! ```

use carekit_desk::report::{attainment, csat, secs};
use carekit_sandbox::{Action, Happening, SandboxDay, StepResult};
use std::io::Write as _;
use std::path::PathBuf;

struct Args {
    seed: u64,
    out: PathBuf,
    store: Option<String>,
    quiet: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        seed: 7,
        out: PathBuf::from("target/care_desk"),
        store: None,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seed" => {
                args.seed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seed takes a number")?;
            }
            "--out" => args.out = it.next().ok_or("--out takes a directory")?.into(),
            "--store" => args.store = Some(it.next().ok_or("--store takes a URL")?),
            "--quiet" => args.quiet = true,
            "-h" | "--help" => {
                return Err(
                    "usage: care_desk [--seed N] [--out DIR] [--store URL] [--quiet]".into(),
                );
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(args)
}

/// `[████████░░░░░░░░]` for `done` of `total`.
fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(WIDTH - filled))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    std::fs::create_dir_all(&args.out)?;
    let store = match args.store {
        Some(url) => url,
        None => {
            // A fresh database for a fresh day.
            let db = args.out.join("care-desk.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            format!("sqlite://{}?mode=rwc", db.display())
        }
    };
    println!("carekit sandbox: a day on a care desk (store: {store})\n");

    let quiet = args.quiet;
    let mut stdout = std::io::stdout();
    let outcome = SandboxDay::builder()
        .seed(args.seed)
        .store_url(store)
        .title(format!("carekit sandbox day (seed {})", args.seed))
        .build()
        .run(|happening| match &happening {
            Happening::Step {
                index,
                total,
                step,
                result,
            } => {
                let refused = !matches!(
                    result,
                    StepResult::Webhook(200..=299) | StepResult::Api(200..=299, _)
                );
                if !quiet || refused || matches!(step.action, Action::Agent { .. }) {
                    let _ = writeln!(stdout, "{} {happening}", bar(index + 1, *total));
                }
            }
            Happening::Sent { .. } if quiet => {}
            _ => {
                let _ = writeln!(stdout, "{:22} {happening}", "");
            }
        })
        .await?;

    let report = &outcome.report;
    let total = &report.summary.total;
    println!("\n=== The day in figures ===\n");
    println!(
        "First response: \"ack\" counts the automatic acknowledgement, \"human\" the first agent reply.\n"
    );
    println!(
        "{:<10} {:>5} {:>11} {:>11} {:>11} {:>8} {:>14}",
        "channel", "convs", "ack p50", "human p50", "human p90", "SLA met", "CSAT"
    );
    for (channel, s) in report
        .summary
        .by_channel
        .iter()
        .chain([(&"all".to_owned(), total)])
    {
        println!(
            "{:<10} {:>5} {:>11} {:>11} {:>11} {:>8} {:>14}",
            channel,
            s.conversations,
            secs(s.first_response.p50_s),
            secs(s.first_human_response.p50_s),
            secs(s.first_human_response.p90_s),
            attainment(s),
            csat(s),
        );
    }
    println!("\nEscalations by reason:");
    for (reason, n) in &total.escalations {
        println!("  {reason:<20} {n}");
    }
    println!(
        "\nHandoffs to a private channel: {}, answered there by the customer: {}",
        total.handoffs, total.handoffs_answered_privately
    );
    if total.csat_requested > 0 {
        println!(
            "CSAT: {} surveys, {} answers",
            total.csat_requested, total.csat_answered
        );
    }
    if !report.crisis.is_empty() {
        println!("\n=== Crisis ===\n");
        for i in &report.crisis {
            println!(
                "{}  {}  opened {}  closed {}  {} conversations  peak {} negative / window (baseline {:.1} ± {:.1})",
                i.id,
                i.key,
                i.opened_at.format("%H:%M"),
                i.closed_at.map_or_else(
                    || "still open".to_owned(),
                    |t| t.format("%H:%M").to_string()
                ),
                i.conversations.len(),
                i.peak_negative,
                i.baseline.negative_mean,
                i.baseline.negative_sd,
            );
        }
    }
    if let Some(issues) = &report.top_issues {
        println!(
            "\n=== Top issues ===  ({} complaints, {} matched no topic)\n",
            issues.complaints, issues.unclassified
        );
        for t in &issues.topics {
            println!(
                "  {:<12} {:>3}  e.g. \"{}\"",
                t.topic,
                t.count,
                t.examples.first().map_or("", String::as_str)
            );
        }
        if !issues.near_duplicates.is_empty() {
            println!("\nWorded nearly the same:");
            for g in &issues.near_duplicates {
                println!("  {:>3} × \"{}\"", g.count, g.example);
            }
        }
    }
    if !outcome.refused.is_empty() {
        println!("\nRefused by the desk or the platform (not retried):");
        for (channel, to, reason) in &outcome.refused {
            println!("  {channel} to {to}: {reason}");
        }
    }
    let platforms: Vec<String> = outcome
        .calls
        .iter()
        .map(|(p, n)| format!("{} {n}", p.label()))
        .collect();
    println!(
        "\nPlatform calls: {}; messages delivered: {}; still unsent: {}",
        platforms.join(", "),
        outcome.delivered.len(),
        outcome.unsent()
    );

    let json = args.out.join("report.json");
    let html = args.out.join("report.html");
    std::fs::write(&json, report.to_json())?;
    std::fs::write(&html, report.to_html())?;
    println!(
        "\nWrote {} and {} (open it in a browser).",
        json.display(),
        html.display()
    );
    println!(
        "Ran {} steps in {:.1} s of wall time.",
        outcome.steps.len(),
        outcome.wall.as_secs_f64()
    );
    Ok(())
}
