//! A care desk in one file: customers complain and praise over in-memory
//! channels; the desk threads, acknowledges, hands one complaint off to a
//! private channel, escalates another, and prints what happened.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use carekit::desk::{AutoAcknowledge, DeskEvent, HandoffRequest, IngestOutcome, ReplyRequest};
use carekit::template::Template;
use carekit::*;
use carekit_testing::RecordingChannel;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use tokio::sync::broadcast::Receiver;

/// A tiny policy written against the `EscalationPolicy` trait: anyone who
/// mentions a lawyer reaches the crisis team at once. (`carekit::policies`
/// has configurable built-ins: crisis terms, sentiment, SLAs, VIPs, reach.)
struct LawyerMentioned;

impl EscalationPolicy for LawyerMentioned {
    fn name(&self) -> &str {
        "lawyer-mentioned"
    }
    fn evaluate(&self, conversation: &dyn Conversation, _: &PolicyContext<'_>) -> Vec<Escalation> {
        let mentioned = conversation
            .messages()
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .any(|m| m.text.to_lowercase().contains("lawyer"));
        if !mentioned {
            return Vec::new();
        }
        vec![
            Escalation::new(
                self.name(),
                EscalationReason::new("crisis_term").with_detail("term", "lawyer"),
                "the customer mentioned a lawyer",
            )
            .with_level(3)
            .with_team("crisis")
            .with_priority(Priority::Urgent),
        ]
    }
}

/// A toy sentiment classifier so the example runs with no setup; real apps
/// plug in `carekit::policies`' lexicon classifier or their own model.
struct Mood;

#[async_trait::async_trait]
impl Classifier for Mood {
    async fn classify(&self, text: &str) -> Classification {
        let text = text.to_lowercase();
        let score = if ["love", "great", "thanks"].iter().any(|w| text.contains(w)) {
            0.8
        } else if ["late", "twice", "nothing", "broken"]
            .iter()
            .any(|w| text.contains(w))
        {
            -0.6
        } else {
            0.0
        };
        Classification {
            sentiment: Some(score),
            ..Classification::default()
        }
    }
}

fn tweet(id: &str, user: &str, name: &str, text: &str, at: DateTime<Utc>) -> InboundEvent {
    InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Public,
        id,
        Identity::new(ChannelKind::Twitter, user).with_display_name(name),
        text,
        at,
    )
    .with_account("acme")
    .with_thread_key(id)
}

/// Prints what the desk did since the last call.
fn report(events: &mut Receiver<DeskEvent>) {
    while let Ok(event) = events.try_recv() {
        match event {
            DeskEvent::Ingested { decision, .. } => {
                println!("   threaded: {}", decision.explanation)
            }
            DeskEvent::Duplicate { external_id, .. } => {
                println!("   replayed webhook {external_id}: ignored")
            }
            DeskEvent::Escalated { escalation, .. } => println!(
                "   escalated to {} (level {}): {}",
                escalation.team.as_deref().unwrap_or("-"),
                escalation.level,
                escalation.explanation
            ),
            DeskEvent::HandedOff { channel, .. } => {
                println!("   handed off to {channel}, linked as one case")
            }
            DeskEvent::Delivery { channel, state, .. } => {
                println!("   {channel} reply {}", state.as_str())
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let start = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")?.to_utc();
    let clock = FakeClock::new(start);
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));

    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(twitter.clone())
        .channel(sms.clone())
        .classifier(Arc::new(Mood))
        .policy(Arc::new(LawyerMentioned))
        .rule(Arc::new(
            // Sorry for a complaint, thanks for praise, nothing for the rest.
            AutoAcknowledge::builder()
                .complaint(
                    Template::parse(
                        "So sorry about this, {first_name|friend}. We're looking into it now.",
                    )?,
                    Template::parse(
                        "Thanks for writing, {first_name|there}. A person will answer shortly.",
                    )?,
                )
                .praise(
                    Template::parse("Thank you, {first_name|friend}, that made our day!")?,
                    Template::literal(""),
                )
                .build(),
        ))
        .build()?;
    let mut events = desk.subscribe();

    println!("carekit quickstart: a morning on the @acme care desk\n");
    let script = [
        tweet(
            "101",
            "u-ann",
            "@ann",
            "@acme my order #4411 is two weeks late",
            start,
        ),
        tweet(
            "102",
            "u-ben",
            "@ben",
            "@acme love the new app, great job!",
            start + Duration::minutes(2),
        ),
        tweet(
            "103",
            "u-cy",
            "@cy",
            "@acme you charged me twice. I'm talking to my lawyer.",
            start + Duration::minutes(4),
        ),
        tweet(
            "104",
            "u-ann",
            "@ann",
            "@acme still nothing?",
            start + Duration::minutes(9),
        )
        .with_parent("101"),
    ];
    let mut ann = None;
    for event in script {
        clock.set(event.occurred_at);
        let who = event.author.display_name.clone().unwrap_or_default();
        println!(
            "{} {who}: {}",
            event.occurred_at.format("%H:%M"),
            event.text
        );
        if let IngestOutcome::Ingested {
            conversation_id, ..
        } = desk.ingest(event.clone()).await?
            && who == "@ann"
        {
            ann = Some(conversation_id);
        }
        // Platforms deliver webhooks more than once; a replay changes nothing.
        desk.ingest(event).await?;
        clock.advance(Duration::seconds(40));
        desk.run_outbox_once().await?;
        report(&mut events);
    }

    // Ann's order: offer SMS in public, open a linked private conversation.
    let ann = ann.expect("ann has a conversation");
    clock.advance(Duration::minutes(3));
    println!(
        "{} agent maya: moving @ann's case to SMS",
        clock.now().format("%H:%M")
    );
    let handoff = desk
        .handoff(
            ann,
            HandoffRequest::new(
                ChannelKind::Sms,
                "Ann, so sorry. Can we text you to sort it out?",
                Actor::Agent("maya".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155550123"))
            .with_private_text("Hi Ann, Maya from Acme here about order #4411."),
        )
        .await?;
    desk.run_outbox_once().await?;
    report(&mut events);

    clock.advance(Duration::minutes(2));
    let answer = InboundEvent::message(
        ChannelKind::Sms,
        Visibility::Private,
        "SM-1",
        Identity::new(ChannelKind::Sms, "+14155550123"),
        "Yes please, I need it by Friday",
        clock.now(),
    );
    println!("{} Ann (SMS): {}", clock.now().format("%H:%M"), answer.text);
    desk.ingest(answer).await?;
    report(&mut events);
    clock.advance(Duration::minutes(1));
    println!(
        "{} agent maya (SMS): It ships today with express delivery.",
        clock.now().format("%H:%M")
    );
    desk.reply(
        handoff.private_conversation,
        ReplyRequest::agent("maya", "It ships today with express delivery."),
    )
    .await?;
    desk.run_outbox_once().await?;
    report(&mut events);

    println!("\nWhat the desk holds now:");
    for c in desk
        .conversations(&ConversationFilter::all())
        .await?
        .iter()
        .rev()
    {
        let first = c
            .first_response_at
            .map(|t| format!("{}s", (t - c.opened_at).num_seconds()));
        let human = c
            .first_human_response_at
            .map(|t| format!("{}s", (t - c.opened_at).num_seconds()));
        println!(
            "  {:<7} {:<7} {:<7} {:<6} {} msgs  first reply {:<5} first human reply {:<5} linked {}",
            c.channel.as_str(),
            c.visibility.as_str(),
            c.status.as_str(),
            c.priority.as_str(),
            c.messages.len(),
            first.as_deref().unwrap_or("-"),
            human.as_deref().unwrap_or("-"),
            c.linked.len(),
        );
    }
    println!(
        "\nSent on X: {} replies; by SMS: {} messages.",
        twitter.sent().len(),
        sms.sent().len()
    );
    Ok(())
}
