//! A model-based test of the desk on the SQLite store.
//!
//! proptest draws sequences of what happens to a care desk: customers and
//! strangers writing on X, Facebook, SMS and email (replies to other
//! people's messages, replays, out-of-order delivery, clocks in the future),
//! echoes of the desk's own sends (also while the send is still in flight),
//! opt-outs, agent replies, handoffs (also to a number another customer
//! owns), merges, resolves, manual retries, platform faults (429, 503,
//! lost answers, a worker dying mid-send) and worker restarts. After every
//! step the desk is checked against a small reference model of who owns
//! which handle and which conversation, and against these invariants:
//!
//! 1. every message the platforms received went to its conversation's customer;
//! 2. no public message reached a platform twice;
//! 3. every accepted inbound event is stored exactly once, with its text;
//! 4. an echo never becomes a message of its own;
//! 5. ingest never changes a conversation's customer (only a merge does);
//! 6. a deadline never moves earlier without an event;
//! 7. nothing is sent to a number after its opt-out was stored;
//! 8. nothing panics, and every refusal is the typed error the model expects.
//!
//! At the end every fault clears and the outbox drains: every queued
//! message reaches a final state, and everything the platforms have is
//! recorded as sent (or dead-lettered with its outcome marked unknown).
//!
//! `CAREKIT_MODEL_CASES` sets the number of cases (default 200) and
//! `CAREKIT_MODEL_STEPS` the longest sequence (default 60).

use async_trait::async_trait;
use carekit::desk::{HandoffRequest, IngestOutcome, ReplyRequest};
use carekit::policies::{SlaPolicy, SlaSet};
use carekit::store_sql::SqlStore;
use carekit::*;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

// ------------------------------------------------------------------ the ops

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Net {
    X,
    Facebook,
    Sms,
    Email,
}

impl Net {
    const ALL: [Net; 4] = [Net::X, Net::Facebook, Net::Sms, Net::Email];
    fn kind(self) -> ChannelKind {
        match self {
            Net::X => ChannelKind::Twitter,
            Net::Facebook => ChannelKind::Facebook,
            Net::Sms => ChannelKind::Sms,
            Net::Email => ChannelKind::Email,
        }
    }
    fn of(kind: ChannelKind) -> Net {
        match kind {
            ChannelKind::Twitter => Net::X,
            ChannelKind::Facebook => Net::Facebook,
            ChannelKind::Sms => Net::Sms,
            _ => Net::Email,
        }
    }
    fn public(self) -> bool {
        matches!(self, Net::X | Net::Facebook)
    }
    fn handle(self, who: u8) -> String {
        let who = who % 3;
        match self {
            Net::X => format!("x{who}"),
            Net::Facebook => format!("f{who}"),
            Net::Sms => format!("+4915123456{who:03}"),
            Net::Email => format!("c{who}@customer.example"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 429 with a wait; nothing posted.
    RateLimited,
    /// 503; nothing posted.
    Unavailable,
    /// Posted, but the answer never came back.
    LostAnswer,
    /// Posted, then the worker died before hearing back.
    DieAfterPost,
    /// Refused for good; nothing posted.
    Rejected,
}

#[derive(Clone, Debug)]
enum Op {
    /// Someone writes; `hold` keeps the webhook back to deliver later.
    Write {
        net: Net,
        author: u8,
        reply_to: Option<u16>,
        future: bool,
        hold: bool,
    },
    DeliverHeld(u16),
    Replay(u16),
    /// The platform echoes something it posted for the desk.
    Echo(u16),
    /// The next send on `net` is echoed before the send call returns.
    EchoDuringSend(Net),
    Stop(u8),
    Reply(u16),
    Handoff {
        conversation: u16,
        number: u8,
        fresh: bool,
    },
    Merge(u16, u16),
    Resolve(u16),
    Retry(u16),
    Fault(Net, Fault),
    RunOutbox,
    Tick,
    Advance(u16),
    Restart,
}

fn net() -> impl Strategy<Value = Net> {
    prop_oneof![
        Just(Net::X),
        Just(Net::Facebook),
        Just(Net::Sms),
        Just(Net::Email)
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::RateLimited),
        Just(Fault::Unavailable),
        Just(Fault::LostAnswer),
        Just(Fault::DieAfterPost),
        Just(Fault::Rejected),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (net(), 0u8..4, proptest::option::weighted(0.6, any::<u16>()), proptest::bool::weighted(0.05), proptest::bool::weighted(0.15))
            .prop_map(|(net, author, reply_to, future, hold)| Op::Write { net, author, reply_to, future, hold }),
        2 => any::<u16>().prop_map(Op::DeliverHeld),
        2 => any::<u16>().prop_map(Op::Replay),
        3 => any::<u16>().prop_map(Op::Echo),
        1 => net().prop_map(Op::EchoDuringSend),
        1 => (0u8..3).prop_map(Op::Stop),
        6 => any::<u16>().prop_map(Op::Reply),
        3 => (any::<u16>(), 0u8..3, any::<bool>()).prop_map(|(conversation, number, fresh)| Op::Handoff { conversation, number, fresh }),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Op::Merge(a, b)),
        2 => any::<u16>().prop_map(Op::Resolve),
        2 => any::<u16>().prop_map(Op::Retry),
        3 => (net(), fault()).prop_map(|(n, f)| Op::Fault(n, f)),
        6 => Just(Op::RunOutbox),
        2 => Just(Op::Tick),
        3 => (1u16..240).prop_map(Op::Advance),
        1 => Just(Op::Restart),
    ]
}

// ------------------------------------------------------------------ the platforms

#[derive(Clone, Debug)]
struct Post {
    message: OutboundMessage,
    provider_id: String,
    /// The desk's clock when it was posted.
    at: DateTime<Utc>,
}

#[derive(Default)]
struct PlatformState {
    posts: Vec<Post>,
    faults: HashMap<Net, VecDeque<Fault>>,
    echo_next: HashSet<Net>,
    /// Numbers whose STOP the desk has stored, with the time.
    stopped: HashMap<String, DateTime<Utc>>,
    /// Sends attempted to a number after its STOP was stored.
    sends_after_stop: Vec<String>,
    counter: u64,
}

/// Local stand-ins for the four platforms: they record what they are
/// asked to post, answer as the platforms do, inject the faults the test
/// arms, and can echo a post back through the desk.
struct Platforms {
    state: Mutex<PlatformState>,
    desk: Mutex<Option<Desk>>,
    clock: FakeClock,
}

impl Platforms {
    fn state(&self) -> std::sync::MutexGuard<'_, PlatformState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn posts(&self) -> Vec<Post> {
        self.state().posts.clone()
    }
}

struct PlatformChannel {
    net: Net,
    platforms: Arc<Platforms>,
}

fn echo_event(post: &Post) -> InboundEvent {
    let net = Net::of(post.message.channel);
    let recipient = post
        .message
        .recipient
        .clone()
        .unwrap_or_else(|| Identity::new(net.kind(), "someone"));
    // X puts the mention in front; links and `&` come back rewritten.
    let text = if net == Net::X {
        format!(
            "@{} {}",
            recipient.handle,
            post.message.text.replace('&', "&amp;")
        )
    } else {
        post.message.text.clone()
    };
    let mut event = InboundEvent::message(
        net.kind(),
        post.message.visibility,
        post.provider_id.clone(),
        recipient,
        text,
        post.at,
    )
    .with_kind(EventKind::Echo)
    .with_account(post.message.account.clone().unwrap_or_default());
    if let Some(parent) = post
        .message
        .in_reply_to
        .clone()
        .or(post.message.reply_privately_to.clone())
    {
        event = event.with_parent(parent);
    }
    if let Some(key) = &post.message.thread_key {
        event = event.with_thread_key(key.as_str());
    }
    event
}

#[async_trait]
impl Channel for PlatformChannel {
    fn kind(&self) -> ChannelKind {
        self.net.kind()
    }
    fn capabilities(&self) -> Capabilities {
        carekit_testing::RecordingChannel::new(self.net.kind()).capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let (post, fault, echo) = {
            let mut state = self.platforms.state();
            let recipient = message.recipient.as_ref().map(|r| r.handle.clone());
            if self.net == Net::Sms
                && let Some(number) = &recipient
                && state.stopped.contains_key(number)
            {
                state.sends_after_stop.push(number.clone());
                return Err(ChannelError::OptedOut);
            }
            let fault = state
                .faults
                .get_mut(&self.net)
                .and_then(VecDeque::pop_front);
            match fault {
                Some(Fault::RateLimited) => {
                    return Err(ChannelError::RateLimited {
                        retry_after: std::time::Duration::from_secs(60),
                    });
                }
                Some(Fault::Unavailable) => return Err(ChannelError::Server { status: 503 }),
                Some(Fault::Rejected) => {
                    return Err(ChannelError::Rejected {
                        code: Some("400".into()),
                        reason: "refused".into(),
                    });
                }
                _ => {}
            }
            state.counter += 1;
            let post = Post {
                message: message.clone(),
                provider_id: format!("{:?}-p{}", self.net, state.counter),
                at: self.platforms.clock.now(),
            };
            state.posts.push(post.clone());
            let echo = state.echo_next.remove(&self.net);
            (post, fault, echo)
        };
        if echo {
            let desk = self.platforms.desk.lock().unwrap().clone();
            if let Some(desk) = desk {
                desk.ingest(echo_event(&post))
                    .await
                    .expect("an echo during a send is taken");
            }
        }
        match fault {
            Some(Fault::LostAnswer) => Err(ChannelError::Timeout),
            Some(Fault::DieAfterPost) => std::future::pending().await,
            _ => Ok(Delivery::sent(post.provider_id)),
        }
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        // Facebook and Twilio can be asked; X and SMTP cannot.
        if matches!(self.net, Net::X | Net::Email) {
            return Err(ChannelError::Unsupported("find_sent"));
        }
        Ok(self
            .platforms
            .state()
            .posts
            .iter()
            .find(|p| p.message.id == message.id)
            .map(|p| Delivery::sent(p.provider_id.clone())))
    }
}

// ------------------------------------------------------------------ the model

/// Who is who: persons own handles; a merge joins two persons.
#[derive(Default)]
struct Model {
    parent: Vec<usize>,
    owner: HashMap<(ChannelKind, String), usize>,
    /// The person each conversation belongs to.
    conversations: BTreeMap<ConversationId, usize>,
    /// Events the desk accepted as new messages: id → (event, conversation).
    accepted: BTreeMap<(ChannelKind, String), (InboundEvent, ConversationId)>,
    /// Every event made so far, in order (for replies, replays, out of order).
    made: Vec<InboundEvent>,
    held: Vec<InboundEvent>,
    delivered: Vec<InboundEvent>,
    /// Messages the desk queued (replies, handoff offers and first messages).
    queued: Vec<MessageId>,
    /// Roots of X/email threads, and the Facebook post of each comment.
    roots: HashMap<String, String>,
    next: u64,
}

impl Model {
    fn find(&mut self, p: usize) -> usize {
        let mut p = p;
        while self.parent[p] != p {
            self.parent[p] = self.parent[self.parent[p]];
            p = self.parent[p];
        }
        p
    }
    fn person(&mut self, kind: ChannelKind, handle: &str) -> usize {
        if let Some(p) = self.owner.get(&(kind, handle.to_owned())).copied() {
            return self.find(p);
        }
        let p = self.parent.len();
        self.parent.push(p);
        self.owner.insert((kind, handle.to_owned()), p);
        p
    }
    fn owner_of(&mut self, kind: ChannelKind, handle: &str) -> Option<usize> {
        let p = self.owner.get(&(kind, handle.to_owned())).copied()?;
        Some(self.find(p))
    }
    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

// ------------------------------------------------------------------ the run

struct World {
    dir: tempfile::TempDir,
    clock: FakeClock,
    platforms: Arc<Platforms>,
    desk: Desk,
    store: Arc<SqlStore>,
    model: Model,
    log: Vec<String>,
}

async fn open_desk(
    dir: &std::path::Path,
    clock: &FakeClock,
    platforms: &Arc<Platforms>,
) -> (Desk, Arc<SqlStore>) {
    let url = format!("sqlite://{}", dir.join("desk.db").display());
    let store = Arc::new(SqlStore::open(&url).await.expect("store opens"));
    let sla = SlaPolicy::builder("all")
        .target_all(SlaMetric::FirstResponse, Duration::minutes(60))
        .target_all(SlaMetric::NextResponse, Duration::minutes(120))
        .warn_at(0.75)
        .build()
        .unwrap();
    let mut builder = Desk::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .policy(Arc::new(SlaSet::new(vec![sla]).unwrap()))
        .outbox(
            carekit::desk::OutboxConfig::default()
                .with_max_attempts(4)
                .with_lease(Duration::minutes(5)),
        );
    for net in Net::ALL {
        builder = builder.channel(Arc::new(PlatformChannel {
            net,
            platforms: platforms.clone(),
        }));
    }
    let desk = builder.build().unwrap();
    *platforms.desk.lock().unwrap() = Some(desk.clone());
    (desk, store)
}

fn pick<T: Clone>(items: &[T], index: u16) -> Option<T> {
    (!items.is_empty()).then(|| items[index as usize % items.len()].clone())
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::new("2026-03-02T09:00:00Z".parse().unwrap());
        let platforms = Arc::new(Platforms {
            state: Mutex::new(PlatformState::default()),
            desk: Mutex::new(None),
            clock: clock.clone(),
        });
        let (desk, store) = open_desk(dir.path(), &clock, &platforms).await;
        World {
            dir,
            clock,
            platforms,
            desk,
            store,
            model: Model::default(),
            log: Vec::new(),
        }
    }

    /// Breaks the platforms' reference to the desk (a cycle through the
    /// channels) and closes the store, so a long run holds no files.
    async fn close(self) {
        *self.platforms.desk.lock().unwrap() = None;
        drop(self.desk);
        self.store.close().await;
    }

    /// The worker process ends (its memory is gone) and a new one starts
    /// on the same database file.
    async fn restart(&mut self) {
        *self.platforms.desk.lock().unwrap() = None;
        self.store.close().await;
        let (desk, store) = open_desk(self.dir.path(), &self.clock, &self.platforms).await;
        self.desk = desk;
        self.store = store;
    }

    async fn conversations(&self) -> Vec<ConversationRecord> {
        self.desk
            .conversations(&ConversationFilter::all())
            .await
            .unwrap()
    }

    fn make_event(
        &mut self,
        net: Net,
        author: u8,
        reply_to: Option<u16>,
        future: bool,
    ) -> InboundEvent {
        let n = self.model.id();
        let handle = net.handle(author);
        let now = self.clock.now();
        let at = if future {
            "2100-01-01T00:00:00Z".parse().unwrap()
        } else {
            now - Duration::seconds(30)
        };
        // What it can answer: earlier events and the desk's posts on this platform.
        let mut parents: Vec<(String, Option<String>)> = self
            .model
            .made
            .iter()
            .filter(|e| e.channel == net.kind())
            .map(|e| {
                (
                    e.external_id.clone(),
                    e.thread.key.as_ref().map(|k| k.as_str().to_owned()),
                )
            })
            .collect();
        parents.extend(
            self.platforms
                .posts()
                .into_iter()
                .filter(|p| {
                    p.message.channel == net.kind() && p.message.visibility == Visibility::Public
                })
                .map(|p| {
                    (
                        p.provider_id,
                        p.message.thread_key.map(|k| k.as_str().to_owned()),
                    )
                }),
        );
        let parent = reply_to.and_then(|i| pick(&parents, i));
        let text = format!("message {n} from {handle}: order {n} is late");
        let (id, visibility) = match net {
            Net::X => (format!("{n}"), Visibility::Public),
            Net::Facebook => (format!("c{n}"), Visibility::Public),
            Net::Sms => (format!("SM{n}"), Visibility::Private),
            Net::Email => (format!("<m{n}@customer.example>"), Visibility::Private),
        };
        let mut event = InboundEvent::message(
            net.kind(),
            visibility,
            id.clone(),
            Identity::new(net.kind(), handle.clone()),
            text,
            at,
        );
        let key = match (net, &parent) {
            (Net::Sms, _) => format!("+15005550006:{handle}"),
            (Net::Facebook, Some((p, _))) => {
                let post = self
                    .model
                    .roots
                    .get(p)
                    .cloned()
                    .unwrap_or_else(|| "post_1".into());
                self.model.roots.insert(id.clone(), post.clone());
                format!("{post}:{handle}")
            }
            (Net::Facebook, None) => {
                let post = format!("post_{}", n % 2);
                self.model.roots.insert(id.clone(), post.clone());
                format!("{post}:{handle}")
            }
            (_, Some((p, key))) => {
                let root = self
                    .model
                    .roots
                    .get(p)
                    .cloned()
                    .or(key.clone())
                    .unwrap_or_else(|| p.clone());
                self.model.roots.insert(id.clone(), root.clone());
                root
            }
            (_, None) => {
                self.model.roots.insert(id.clone(), id.clone());
                id.clone()
            }
        };
        event = event
            .with_account(match net {
                Net::Sms => "+15005550006",
                Net::Email => "help@brand.example",
                _ => "brand",
            })
            .with_thread_key(key);
        if let Some((p, _)) = parent
            && net != Net::Sms
        {
            event = event.with_parent(p);
        }
        self.model.made.push(event.clone());
        event
    }

    /// Delivers a customer's event and checks what the desk made of it.
    async fn deliver(&mut self, event: InboundEvent) {
        let key = (event.channel, event.external_id.clone());
        let seen_before = self
            .model
            .delivered
            .iter()
            .any(|e| e.external_id == event.external_id && e.channel == event.channel);
        let outcome = self.desk.ingest(event.clone()).await;
        let outcome =
            outcome.unwrap_or_else(|e| panic!("ingest of {} failed: {e}", event.external_id));
        self.model.delivered.push(event.clone());
        match outcome {
            IngestOutcome::Ingested {
                conversation_id, ..
            } => {
                assert!(
                    !seen_before,
                    "a replay of {} was stored again",
                    event.external_id
                );
                let author = self.model.person(event.channel, &event.author.handle);
                let owner = match self.model.conversations.get(&conversation_id).copied() {
                    Some(p) => self.model.find(p),
                    None => {
                        self.model.conversations.insert(conversation_id, author);
                        author
                    }
                };
                let record = self.desk.conversation(conversation_id).await.unwrap();
                let stored = record
                    .messages
                    .iter()
                    .find(|m| m.external_id.as_deref() == Some(&event.external_id))
                    .expect("the message is stored");
                if owner == author {
                    assert!(matches!(stored.author, Author::Customer(_)), "{stored:?}");
                } else {
                    assert!(
                        !Net::of(event.channel).public(),
                        "a stranger's public message joined someone else's conversation"
                    );
                    assert!(
                        matches!(stored.author, Author::Participant(_)),
                        "{stored:?}"
                    );
                }
                self.model.accepted.insert(key, (event, conversation_id));
            }
            IngestOutcome::Duplicate => assert!(
                seen_before,
                "{} was new but taken as a replay",
                event.external_id
            ),
            other => panic!("unexpected outcome {other:?} for {}", event.external_id),
        }
    }

    async fn step(&mut self, op: &Op) {
        self.log.push(format!("{op:?}"));
        let before = self.deadlines().await;
        let mut moved_by_event = true;
        match op.clone() {
            Op::Write {
                net,
                author,
                reply_to,
                future,
                hold,
            } => {
                let event = self.make_event(net, author, reply_to, future);
                if hold {
                    self.model.held.push(event);
                } else {
                    self.deliver(event).await;
                }
            }
            Op::DeliverHeld(i) => {
                if !self.model.held.is_empty() {
                    let event = self.model.held.remove(i as usize % self.model.held.len());
                    self.deliver(event).await;
                }
            }
            Op::Replay(i) => {
                if let Some(event) = pick(&self.model.delivered, i) {
                    moved_by_event = false;
                    self.deliver(event).await;
                }
            }
            Op::Echo(i) => {
                let posts = self.platforms.posts();
                if let Some(post) = pick(&posts, i) {
                    let before = self.outbound_count().await;
                    let outcome = self.desk.ingest(echo_event(&post)).await.unwrap();
                    assert!(
                        matches!(
                            outcome,
                            IngestOutcome::Echoed { .. }
                                | IngestOutcome::Duplicate
                                | IngestOutcome::Skipped { .. }
                        ),
                        "echo of {} gave {outcome:?}",
                        post.provider_id
                    );
                    if let IngestOutcome::Echoed { message_id, .. } = outcome {
                        assert_eq!(
                            message_id, post.message.id,
                            "an echo resolves to the message that was posted"
                        );
                    }
                    assert_eq!(
                        self.outbound_count().await,
                        before,
                        "an echo added a message"
                    );
                }
            }
            Op::EchoDuringSend(net) => {
                self.platforms.state().echo_next.insert(net);
            }
            Op::Stop(who) => {
                let number = Net::Sms.handle(who);
                let n = self.model.id();
                let stop = InboundEvent::message(
                    ChannelKind::Sms,
                    Visibility::Private,
                    format!("SM-stop-{n}"),
                    Identity::new(ChannelKind::Sms, number.clone()),
                    "STOP",
                    self.clock.now(),
                )
                .with_kind(EventKind::Consent { opted_in: false });
                let outcome = self.desk.ingest(stop).await.unwrap();
                assert!(matches!(
                    outcome,
                    IngestOutcome::Consent { opted_in: false }
                ));
                let now = self.clock.now();
                self.platforms.state().stopped.entry(number).or_insert(now);
            }
            Op::Reply(i) => {
                let all = self.conversations().await;
                if let Some(c) = pick(&all, i) {
                    let text = format!("Sorry & looking at it now ({})", self.model.id());
                    match self
                        .desk
                        .reply(c.id, ReplyRequest::agent("maya", text))
                        .await
                    {
                        Ok(id) => self.model.queued.push(id),
                        Err(DeskError::OptedOut(_) | DeskError::Unsupported { .. }) => {}
                        Err(e) => panic!("reply in {} failed: {e}", c.id),
                    }
                }
            }
            Op::Handoff {
                conversation,
                number,
                fresh,
            } => {
                let public: Vec<ConversationRecord> = self
                    .conversations()
                    .await
                    .into_iter()
                    .filter(|c| c.visibility == Visibility::Public && c.status.is_active())
                    .collect();
                if let Some(c) = pick(&public, conversation) {
                    let handle = if fresh {
                        format!("+4917612345{:03}", self.model.id() % 1000)
                    } else {
                        Net::Sms.handle(number)
                    };
                    let person = self.model.conversations[&c.id];
                    let person = self.model.find(person);
                    let owner = self.model.owner_of(ChannelKind::Sms, &handle);
                    let stopped = self.platforms.state().stopped.contains_key(&handle);
                    let n = self.model.id();
                    let request = HandoffRequest::new(
                        ChannelKind::Sms,
                        format!("Can we text you? ({n})"),
                        Actor::Agent("maya".into()),
                    )
                    .with_recipient(Identity::new(ChannelKind::Sms, handle.clone()))
                    .with_private_text(format!("Hi, it's the care team about your order ({n})"));
                    let result = self.desk.handoff(c.id, request).await;
                    match (result, owner) {
                        (Err(DeskError::IdentityOwned { customer, .. }), Some(o))
                            if o != person =>
                        {
                            let stored = self
                                .desk
                                .store()
                                .customer_by_identity(ChannelKind::Sms, &handle)
                                .await
                                .unwrap()
                                .unwrap();
                            assert_eq!(stored.id, customer);
                        }
                        (Err(DeskError::OptedOut(_)), _) if stopped => {}
                        (Ok(outcome), owner) if owner.is_none_or(|o| o == person) && !stopped => {
                            self.model
                                .owner
                                .entry((ChannelKind::Sms, handle))
                                .or_insert(person);
                            self.model
                                .conversations
                                .insert(outcome.private_conversation, person);
                            self.model.queued.push(outcome.public_reply);
                            self.model.queued.extend(outcome.private_message);
                        }
                        (result, owner) => panic!(
                            "handoff of {} to {handle}: owner {owner:?}, conversation's person {person}, stopped {stopped}: {result:?}",
                            c.id
                        ),
                    }
                }
            }
            Op::Merge(a, b) => {
                let all = self.conversations().await;
                if let (Some(a), Some(b)) = (pick(&all, a), pick(&all, b)) {
                    let (pa, pb) = (
                        self.model.conversations[&a.id],
                        self.model.conversations[&b.id],
                    );
                    let (pa, pb) = (self.model.find(pa), self.model.find(pb));
                    let result = self
                        .desk
                        .merge_customers(
                            a.customer.id,
                            b.customer.id,
                            Actor::Agent("maya".into()),
                            "same person",
                        )
                        .await;
                    match result {
                        Ok(_) => {
                            assert_ne!(pa, pb);
                            self.model.parent[pb] = pa;
                        }
                        Err(DeskError::InvalidRequest(_)) => assert_eq!(pa, pb),
                        Err(e) => panic!("merge failed: {e}"),
                    }
                }
            }
            Op::Resolve(i) => {
                let all = self.conversations().await;
                if let Some(c) = pick(&all, i) {
                    self.desk
                        .resolve(c.id, Actor::Agent("maya".into()))
                        .await
                        .unwrap();
                }
            }
            Op::Retry(i) => {
                if let Some(id) = pick(&self.model.queued, i) {
                    let state = self
                        .desk
                        .store()
                        .outbox_item(id)
                        .await
                        .unwrap()
                        .map(|i| i.state);
                    let result = self.desk.retry_message(id).await;
                    match (state, result) {
                        (Some(DeliveryState::Failed | DeliveryState::DeadLettered), Ok(())) => {}
                        (Some(s), Err(DeskError::NotRetryable { state })) => {
                            assert_eq!(s, state);
                            assert!(!matches!(
                                s,
                                DeliveryState::Failed | DeliveryState::DeadLettered
                            ));
                        }
                        (state, result) => panic!("retry of a {state:?} message: {result:?}"),
                    }
                }
            }
            Op::Fault(net, fault) => {
                self.platforms
                    .state()
                    .faults
                    .entry(net)
                    .or_default()
                    .push_back(fault);
            }
            Op::RunOutbox => self.run_outbox().await,
            Op::Tick => {
                moved_by_event = false;
                self.desk.tick().await.unwrap();
            }
            Op::Advance(minutes) => {
                moved_by_event = false;
                self.clock.advance(Duration::minutes(i64::from(minutes)));
            }
            Op::Restart => {
                moved_by_event = false;
                self.restart().await;
            }
        }
        self.check(&before, moved_by_event).await;
    }

    async fn run_outbox(&mut self) {
        let armed = self
            .platforms
            .state()
            .faults
            .values()
            .any(|f| f.iter().any(|f| matches!(f, Fault::DieAfterPost)));
        if armed {
            // The worker dies mid-send: its future is dropped and it restarts.
            let run = self.desk.run_outbox_once();
            if tokio::time::timeout(std::time::Duration::from_millis(300), run)
                .await
                .is_err()
            {
                self.log.push("worker died mid-send".into());
                self.restart().await;
            }
        } else {
            self.desk.run_outbox_once().await.unwrap();
        }
    }

    async fn outbound_count(&self) -> usize {
        self.conversations()
            .await
            .iter()
            .flat_map(|c| &c.messages)
            .filter(|m| m.direction == Direction::Outbound)
            .count()
    }

    async fn deadlines(&self) -> BTreeMap<ConversationId, Option<DateTime<Utc>>> {
        self.conversations()
            .await
            .into_iter()
            .map(|c| (c.id, c.next_deadline))
            .collect()
    }

    async fn check(
        &mut self,
        before: &BTreeMap<ConversationId, Option<DateTime<Utc>>>,
        moved_by_event: bool,
    ) {
        let all = self.conversations().await;
        let by_id: HashMap<ConversationId, &ConversationRecord> =
            all.iter().map(|c| (c.id, c)).collect();
        // 5: whose conversation it is follows the model (merges included).
        for c in &all {
            let Some(person) = self.model.conversations.get(&c.id).copied() else {
                panic!(
                    "conversation {} appeared without an ingest or handoff",
                    c.id
                );
            };
            let person = self.model.find(person);
            for identity in &c.customer.identities {
                let owner = self.model.owner_of(identity.channel, &identity.handle);
                assert!(
                    owner.is_none_or(|o| o == person),
                    "conversation {} belongs to the owner of {} {}, who is someone else",
                    c.id,
                    identity.channel,
                    identity.handle
                );
            }
        }
        // The store's owners agree with the model's: one person, one customer.
        let mut customer_of_person: HashMap<usize, CustomerId> = HashMap::new();
        let mut person_of_customer: HashMap<CustomerId, usize> = HashMap::new();
        let owned: Vec<(ChannelKind, String)> = self.model.owner.keys().cloned().collect();
        for (kind, handle) in owned {
            let person = self.model.owner_of(kind, &handle).unwrap();
            let Some(stored) = self
                .desk
                .store()
                .customer_by_identity(kind, &handle)
                .await
                .unwrap()
            else {
                continue; // an event still held back
            };
            let known = *customer_of_person.entry(person).or_insert(stored.id);
            assert_eq!(
                known, stored.id,
                "{kind} {handle} belongs to the wrong customer"
            );
            let known = *person_of_customer.entry(stored.id).or_insert(person);
            assert_eq!(
                known, person,
                "customer {} holds handles of two people",
                stored.id
            );
        }
        // 3: every accepted event is stored once, with its text.
        let mut seen: HashMap<(ChannelKind, String), usize> = HashMap::new();
        for c in &all {
            for m in &c.messages {
                if let Some(id) = &m.external_id {
                    *seen.entry((c.channel, id.clone())).or_default() += 1;
                }
                // 4: the desk only echoes what it sent, so no brand message of its own.
                assert_ne!(m.author, Author::Brand, "an echo became a message: {m:?}");
            }
        }
        for (key, (event, conversation)) in &self.model.accepted {
            assert_eq!(
                seen.get(key),
                Some(&1),
                "{key:?} stored {:?} times",
                seen.get(key)
            );
            let c = by_id[conversation];
            let m = c
                .messages
                .iter()
                .find(|m| m.external_id.as_deref() == Some(&event.external_id))
                .unwrap();
            assert_eq!(m.text, event.text, "the customer's words changed");
            assert!(m.at <= self.clock.now() + Duration::minutes(2));
            if event.occurred_at > self.clock.now() + Duration::days(365) {
                assert_eq!(
                    m.platform_at,
                    Some(event.occurred_at),
                    "the platform's time is kept for display"
                );
            }
        }
        // 1, 2: what the platforms received.
        let posts = self.platforms.posts();
        let mut public: HashMap<MessageId, usize> = HashMap::new();
        for post in &posts {
            let conversation = post
                .message
                .conversation_id
                .expect("desk sends name their conversation");
            let c = by_id[&conversation];
            let recipient = post
                .message
                .recipient
                .as_ref()
                .expect("every send has a recipient");
            assert!(
                c.customer
                    .identities
                    .iter()
                    .any(|i| i.same_account(recipient)),
                "{} went to {} {}, not to the customer of {conversation} ({:?})",
                post.message.id,
                recipient.channel,
                recipient.handle,
                c.customer.identities
            );
            if let Some(parent) = &post.message.in_reply_to {
                let at = self
                    .desk
                    .store()
                    .locate_message(c.channel, parent)
                    .await
                    .unwrap();
                assert_eq!(
                    at.map(|l| l.conversation_id),
                    Some(conversation),
                    "a reply answered another conversation's message"
                );
            }
            if post.message.visibility == Visibility::Public {
                let n = public.entry(post.message.id).or_default();
                *n += 1;
                assert_eq!(*n, 1, "public message {} posted twice", post.message.id);
            }
        }
        // 7: nothing to a number after its opt-out was stored.
        assert!(
            self.platforms.state().sends_after_stop.is_empty(),
            "sent to opted-out numbers: {:?}",
            self.platforms.state().sends_after_stop
        );
        // 6: deadlines only move later unless something happened.
        if !moved_by_event {
            for c in &all {
                if let (Some(Some(old)), Some(new)) = (before.get(&c.id), c.next_deadline) {
                    assert!(
                        new >= *old,
                        "deadline of {} moved from {old} to {new} without an event",
                        c.id
                    );
                }
            }
        }
    }

    /// Every fault clears; the outbox drains; everything ends settled.
    async fn settle(&mut self) {
        self.platforms.state().faults.clear();
        self.platforms.state().echo_next.clear();
        for _ in 0..12 {
            self.clock.advance(Duration::minutes(30));
            self.desk.run_outbox_once().await.unwrap();
        }
        let before = self.deadlines().await;
        self.check(&before, true).await;
        let posts = self.platforms.posts();
        for id in self.model.queued.clone() {
            let item = self.desk.store().outbox_item(id).await.unwrap().unwrap();
            let posted = posts.iter().any(|p| p.message.id == id);
            match item.state {
                s if s.is_accepted() => assert!(posted, "{id} recorded sent but never posted"),
                DeliveryState::Failed => {}
                DeliveryState::DeadLettered => {}
                other => panic!("{id} still {other:?} after the outbox drained"),
            }
            if posted && !item.state.is_accepted() {
                assert!(
                    item.outcome_unknown,
                    "{id} is on the platform but recorded {:?}",
                    item.state
                );
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("CAREKIT_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn steps() -> usize {
    std::env::var("CAREKIT_MODEL_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

static STEPS_RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn the_desk_keeps_its_promises(ops in proptest::collection::vec(op(), 1..steps())) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut world = World::new().await;
            for op in &ops {
                world.step(op).await;
            }
            world.settle().await;
            world.close().await;
            let total = STEPS_RUN.fetch_add(ops.len(), std::sync::atomic::Ordering::Relaxed) + ops.len();
            if std::env::var_os("CAREKIT_MODEL_REPORT").is_some() {
                eprintln!("desk model: case of {} steps passed; {total} steps so far", ops.len());
            }
        });
    }
}

/// Cases the model found, kept as examples.
fn run_case(ops: Vec<Op>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = World::new().await;
        for op in &ops {
            world.step(op).await;
            if std::env::var_os("CAREKIT_MODEL_TRACE").is_some() {
                for c in world.conversations().await {
                    eprintln!(
                        "  {} {:?} {:?} key={:?} awaiting={} msgs={}",
                        c.id,
                        c.channel,
                        c.status,
                        c.thread_key,
                        c.awaiting_customer,
                        c.messages.len()
                    );
                }
            }
        }
        world.settle().await;
        world.close().await;
    });
}

fn write(net: Net, author: u8) -> Op {
    Op::Write {
        net,
        author,
        reply_to: None,
        future: false,
        hold: false,
    }
}

/// Two handoffs of one tweet to one number, then the customer texts twice:
/// the second text could never be stored (the waiting conversation took a
/// thread key the first one held).
#[test]
fn found_two_handoffs_to_one_number() {
    let handoff = Op::Handoff {
        conversation: 0,
        number: 0,
        fresh: false,
    };
    run_case(vec![
        write(Net::X, 0),
        handoff.clone(),
        write(Net::Sms, 0),
        handoff,
        write(Net::Sms, 3),
    ]);
}

/// A reply by email whose answer was lost is sent again (SMTP cannot be
/// asked); the echo of the first copy became a second message.
#[test]
fn found_echo_of_a_message_sent_twice() {
    run_case(vec![
        write(Net::Email, 0),
        Op::Reply(0),
        Op::Fault(Net::Email, Fault::LostAnswer),
        Op::RunOutbox,
        Op::Advance(1),
        Op::RunOutbox,
        Op::Echo(12270),
    ]);
}

/// Two handoffs wait for one customer; the echo of the first one's message
/// was threaded into the second as a message of its own.
#[test]
fn found_echo_of_a_handoff_message_in_the_other_handoff() {
    let handoff = Op::Handoff {
        conversation: 0,
        number: 0,
        fresh: false,
    };
    run_case(vec![
        write(Net::Email, 0),
        write(Net::X, 0),
        handoff.clone(),
        handoff,
        Op::EchoDuringSend(Net::Sms),
        Op::RunOutbox,
    ]);
}

/// A text whose answer was lost, then the customer's STOP: the message that
/// went out before the opt-out was recorded as failed.
#[test]
fn found_opt_out_after_a_lost_answer() {
    run_case(vec![
        write(Net::Sms, 3),
        Op::Reply(0),
        Op::Fault(Net::Sms, Fault::LostAnswer),
        Op::RunOutbox,
        Op::Stop(0),
    ]);
}

/// A mail whose sender died mid-send is sent again (SMTP cannot be asked);
/// the second attempt was refused, and the record said "failed" although
/// the first copy had gone out.
#[test]
fn found_a_refused_resend_after_a_crash() {
    run_case(vec![
        write(Net::Email, 0),
        Op::Reply(0),
        Op::Fault(Net::Email, Fault::DieAfterPost),
        Op::RunOutbox,
        Op::Advance(10),
        Op::Fault(Net::Email, Fault::Rejected),
        Op::RunOutbox,
    ]);
}
