//! Fault injection across the four channels: the real desk and adapters
//! against the sandbox platforms, which fail 30% of calls at random (500,
//! 503, 429 with reset headers, accepted-then-lost answers; SMTP 4xx and
//! dropped connections) and enforce a rate limit. 1,000 agent replies; each
//! must reach its platform (none lost), public replies exactly once,
//! private messages at least once with the duplicates counted, and no call
//! may land while a platform's limit is spent.

use carekit_sandbox::{
    Action, AgentAction, FaultKind, Faults, Inbound, SandboxDay, Step, StepResult,
};
use chrono::{Duration, TimeZone, Utc};
use std::collections::BTreeMap;

fn replies() -> usize {
    std::env::var("CAREKIT_FAULT_REPLIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}
const LIMIT_PER_SECOND: u32 = 40;

fn customer(k: usize) -> Inbound {
    match k % 4 {
        0 => Inbound::Tweet {
            id: format!("{}", 1_810_000_000_000_000_000u64 + k as u64),
            user_id: format!("{}", 5_000_000 + k),
            handle: format!("c{k}"),
            followers: 10,
            text: format!("@acme order {k} is late"),
            in_reply_to: None,
        },
        1 if k % 8 == 1 => Inbound::Comment {
            comment_id: format!("444444444_9{k:05}"),
            post_id: "1234567890_444444444".into(),
            user_id: format!("{}", 8_000_000 + k),
            name: format!("Visitor {k}"),
            text: format!("order {k} never came"),
        },
        1 => Inbound::Messenger {
            mid: format!("m_fault_{k}"),
            psid: format!("{}", 8_000_000 + k),
            text: format!("where is order {k}?"),
        },
        2 => Inbound::Sms {
            sid: format!("SM{k:032}"),
            from: format!("+1415556{k:04}"),
            text: format!("order {k}?"),
        },
        _ => Inbound::Email {
            message_id: format!("fault{k}@mail.example"),
            from: format!("c{k}@mail.example"),
            name: format!("Customer {k}"),
            subject: format!("Order {k}"),
            text: format!("Where is order {k}?"),
            references: Vec::new(),
        },
    }
}

fn reply_text(k: usize) -> String {
    format!("Sorry about order {k}, it ships today (ref R{k:04}).")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_replies_through_thirty_percent_faults() {
    let replies = replies();
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut steps = Vec::new();
    // Ten customers a minute write in, then agents answer ten a minute.
    for k in 0..replies {
        let inbound = customer(k);
        let who = inbound.customer();
        steps.push(Step {
            at: start + Duration::minutes((k / 10) as i64),
            action: Action::Customer(inbound),
            note: "customer",
        });
        steps.push(Step {
            at: start + Duration::minutes(120 + (k / 10) as i64),
            action: Action::Agent {
                customer: who,
                agent: "maya".into(),
                action: AgentAction::Reply {
                    text: reply_text(k),
                },
            },
            note: "reply",
        });
    }
    steps.sort_by_key(|s| s.at);

    let dir = tempfile::tempdir().unwrap();
    let outcome = SandboxDay::builder()
        .store_url(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("faults.db").display()
        ))
        .faults(Faults::random(0.30, 20_261_123).with_limit(LIMIT_PER_SECOND))
        .send_rate(LIMIT_PER_SECOND / 2)
        .acknowledge(false)
        .steps(steps)
        .build()
        .run(|_| {})
        .await
        .expect("the run finished");

    for (step, result) in &outcome.steps {
        let ok = matches!(
            result,
            StepResult::Webhook(200..=299) | StepResult::Api(200..=299, _)
        );
        assert!(ok, "{}: {result:?} ({:?})", step.note, step.action);
    }

    // Count what each platform accepted, per reply.
    let mut duplicates: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut lost = Vec::new();
    for k in 0..replies {
        let text = reply_text(k);
        let copies: Vec<_> = outcome
            .delivered
            .iter()
            .filter(|d| d.text.contains(&text))
            .collect();
        match copies.len() {
            0 => lost.push(k),
            1 => {}
            n => *duplicates.entry(copies[0].kind).or_default() += n - 1,
        }
    }
    let faults = outcome.faults.clone();
    let injected: u64 = faults.values().sum();
    eprintln!(
        "fault suite: {replies} replies; faults injected {faults:?} ({injected} in all); \
         calls {:?}; duplicates by kind {duplicates:?}; lost {}; over limit {:?}; \
         unsent {}; refused {}; wall {:.1} s",
        outcome.calls,
        lost.len(),
        outcome.over_limit,
        outcome.unsent(),
        outcome.refused.len(),
        outcome.wall.as_secs_f64()
    );

    assert!(
        injected as f64 > 0.2 * outcome.calls.values().sum::<u64>() as f64,
        "faults were injected: {faults:?}"
    );
    for (channel, state) in outcome.pending.iter().take(10) {
        eprintln!("pending {channel}: {state}");
    }
    assert!(lost.is_empty(), "replies lost: {lost:?}");
    assert_eq!(outcome.unsent(), 0);
    assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);
    // Public replies are reconciled before a retry: never posted twice.
    for public in ["reply", "comment_reply"] {
        assert_eq!(
            duplicates.get(public).copied().unwrap_or(0),
            0,
            "{public} posted twice"
        );
    }
    // Private messages are at-least-once: duplicates only from answers the
    // platform accepted and then lost.
    let lost_answers = faults.get(&FaultKind::LostResponse).copied().unwrap_or(0) as usize;
    assert!(duplicates.values().sum::<usize>() <= lost_answers);
    assert!(
        outcome.over_limit.values().all(|n| *n == 0),
        "a platform's limit was exceeded: {:?}",
        outcome.over_limit
    );
}
