//! A scripted day of customer care: what customers send, when, and what
//! the agents do about it. Deterministic for a seed.

use carekit_core::ChannelKind;
use chrono::{DateTime, Duration, Utc};

/// Something a customer sends, in plain terms; [`crate::WebhookSigner`]
/// turns it into the platform's webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inbound {
    /// A public mention on X.
    Tweet {
        /// Tweet id.
        id: String,
        /// Author's user id.
        user_id: String,
        /// Author's handle.
        handle: String,
        /// Author's followers.
        followers: u64,
        /// The text.
        text: String,
        /// The tweet it replies to.
        in_reply_to: Option<String>,
    },
    /// A comment on the page.
    Comment {
        /// Comment id.
        comment_id: String,
        /// The post.
        post_id: String,
        /// Author id.
        user_id: String,
        /// Author name.
        name: String,
        /// The text.
        text: String,
    },
    /// A Messenger message.
    Messenger {
        /// Message id.
        mid: String,
        /// Page-scoped sender id.
        psid: String,
        /// The text.
        text: String,
    },
    /// A text message.
    Sms {
        /// Twilio message SID.
        sid: String,
        /// Sender number (E.164).
        from: String,
        /// The text.
        text: String,
    },
    /// An email.
    Email {
        /// Message-ID (without angle brackets).
        message_id: String,
        /// Sender address.
        from: String,
        /// Sender name.
        name: String,
        /// Subject.
        subject: String,
        /// Body.
        text: String,
        /// Message-IDs it replies to, oldest first.
        references: Vec<String>,
    },
}

impl Inbound {
    /// The channel it arrives on.
    pub fn channel(&self) -> ChannelKind {
        match self {
            Inbound::Tweet { .. } => ChannelKind::Twitter,
            Inbound::Comment { .. } | Inbound::Messenger { .. } => ChannelKind::Facebook,
            Inbound::Sms { .. } => ChannelKind::Sms,
            Inbound::Email { .. } => ChannelKind::Email,
        }
    }

    /// `channel:handle` of the sender, as the JSON API's `customer` filter takes it.
    pub fn customer(&self) -> String {
        let handle = match self {
            Inbound::Tweet { user_id, .. } => user_id,
            Inbound::Comment { user_id, .. } => user_id,
            Inbound::Messenger { psid, .. } => psid,
            Inbound::Sms { from, .. } => from,
            Inbound::Email { from, .. } => from,
        };
        format!("{}:{handle}", self.channel())
    }

    /// The text.
    pub fn text(&self) -> &str {
        match self {
            Inbound::Tweet { text, .. }
            | Inbound::Comment { text, .. }
            | Inbound::Messenger { text, .. }
            | Inbound::Sms { text, .. }
            | Inbound::Email { text, .. } => text,
        }
    }
}

/// What an agent does, through the JSON API.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentAction {
    /// Reply in the customer's latest open conversation on that channel.
    Reply {
        /// The text.
        text: String,
    },
    /// Offer a private channel in public and open a linked conversation.
    Handoff {
        /// The private channel.
        to: ChannelKind,
        /// The public offer.
        public_text: String,
        /// The first private message.
        private_text: String,
        /// The customer's handle there (a phone number for SMS).
        recipient: Option<String>,
    },
    /// Resolve the customer's conversation.
    Resolve,
}

/// One step of the day.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// A customer sends something.
    Customer(Inbound),
    /// An agent acts on a customer's conversation (`channel:handle`).
    Agent {
        /// `channel:handle`.
        customer: String,
        /// Which agent.
        agent: String,
        /// What they do.
        action: AgentAction,
    },
}

/// A step at a moment of the day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub action: Action,
    /// One line for the log.
    pub note: &'static str,
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const PRAISE: &[&str] = &[
    "@acme love the new app, checkout took ten seconds. thanks!",
    "@acme great service today, the driver was lovely",
    "@acme thank you for the quick refund, amazing",
    "@acme best support team, you fixed it in minutes",
];
const COMPLAINTS: &[&str] = &[
    "@acme my order is two weeks late and nobody answers",
    "@acme charged twice for one order, not happy",
    "@acme the parcel arrived broken, what now?",
    "@acme still waiting for my refund, this is ridiculous",
    "@acme your app logs me out every five minutes",
    "@acme wrong size delivered again, terrible",
];
const CRISIS: &[&str] = &[
    "@acme outage again? app down for an hour, can't pay",
    "@acme is the app down? outage everywhere, awful",
    "@acme payment failed three times, outage?? furious",
    "@acme app down during checkout, money taken, no order. outage",
];
const PRIVATE: &[&str] = &[
    "Hi, where is my order 4411? It was due Monday.",
    "I was charged twice, please refund one.",
    "The replacement never came.",
    "Can I change my delivery address?",
    "My discount code doesn't work.",
];
const ANSWERS: &[&str] = &[
    "So sorry about this. I've checked and your order ships today; tracking follows.",
    "Sorry for the trouble. I've refunded the duplicate charge; it shows in 3-5 days.",
    "Apologies! A replacement is on its way, no need to send the old one back.",
    "Thanks for your patience. That's sorted now; let us know if anything else comes up.",
];

/// The standard sandbox day, starting at `start` (a Monday 09:00 reads
/// best): praise and complaints on X, page comments and Messenger,
/// SMS and email; a customer who tweets four times unanswered; a public
/// complaint moved to SMS and another moved to Messenger, both answered
/// privately; an SMS opt-out; a spike of negative mentions in the
/// afternoon; an email thread of three messages. Ann (SMS) and Jo (email)
/// answer the satisfaction survey sent after their resolution.
pub fn standard_day(start: DateTime<Utc>, seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed.max(1));
    let mut steps = Vec::new();
    let minute = |m: i64| start + Duration::minutes(m);
    let mut tweet_id = 1_800_000_000_000_000_000u64;
    let mut next_tweet = || {
        tweet_id += 1;
        tweet_id.to_string()
    };
    let agents = ["maya", "sam", "lee"];

    // Background traffic on X: 40 tweets between 09:00 and 17:00.
    for i in 0..40u64 {
        let at = (i as i64) * 12 + rng.below(10) as i64;
        let praise = i % 4 == 0;
        let text = if praise {
            rng.pick(PRAISE)
        } else {
            rng.pick(COMPLAINTS)
        };
        let user = format!("{}", 3_000_000 + i);
        let followers = if i == 17 {
            250_000
        } else {
            50 + rng.below(2_000)
        };
        let inbound = Inbound::Tweet {
            id: next_tweet(),
            user_id: user.clone(),
            handle: format!("customer{i}"),
            followers,
            text: text.to_owned(),
            in_reply_to: None,
        };
        let customer = inbound.customer();
        steps.push(Step {
            at: minute(at),
            action: Action::Customer(inbound),
            note: if praise {
                "praise on X"
            } else {
                "complaint on X"
            },
        });
        // Most complaints are answered within the hour; a few late.
        if !praise {
            let after = if i % 7 == 0 {
                95
            } else {
                3 + rng.below(22) as i64
            };
            steps.push(agent(
                minute(at + after),
                &customer,
                agents[i as usize % 3],
                AgentAction::Reply {
                    text: rng.pick(ANSWERS).to_owned(),
                },
                "agent replies on X",
            ));
        }
    }

    // Dana tweets four times before anyone answers, each a reply to her
    // previous tweet (how people bump a complaint on X).
    let dana = "3100001";
    let mut previous: Option<String> = None;
    for (k, text) in [
        "@acme my package says delivered but it isn't here",
        "@acme hello? still no package",
        "@acme third time asking. where is my package??",
        "@acme four tweets and no answer. unbelievable",
    ]
    .iter()
    .enumerate()
    {
        let id = next_tweet();
        let in_reply_to = previous.replace(id.clone());
        steps.push(Step {
            at: minute(60 + 20 * k as i64),
            action: Action::Customer(Inbound::Tweet {
                id,
                user_id: dana.into(),
                handle: "dana_w".into(),
                followers: 900,
                text: (*text).into(),
                in_reply_to,
            }),
            note: "Dana tweets again, unanswered",
        });
    }
    steps.push(agent(minute(135), &format!("twitter:{dana}"), "maya", AgentAction::Reply {
        text: "Dana, I'm so sorry we kept you waiting. I've opened a trace with the courier and will update you by 3pm.".into(),
    }, "agent finally answers Dana"));

    // Ann: a public complaint moved to SMS, answered there.
    let ann = "3100002";
    steps.push(Step {
        at: minute(30),
        action: Action::Customer(Inbound::Tweet {
            id: next_tweet(),
            user_id: ann.into(),
            handle: "ann_k".into(),
            followers: 300,
            text: "@acme you charged my card twice for order 5521!".into(),
            in_reply_to: None,
        }),
        note: "Ann complains on X",
    });
    steps.push(agent(
        minute(38),
        &format!("twitter:{ann}"),
        "sam",
        AgentAction::Handoff {
            to: ChannelKind::Sms,
            public_text: "So sorry, Ann! We've texted you so we can sort the refund privately."
                .into(),
            private_text:
                "Hi Ann, it's Sam from Acme. Could you confirm the last 4 digits of the card?"
                    .into(),
            recipient: Some("+14155552671".into()),
        },
        "agent moves Ann to SMS",
    ));
    steps.push(Step {
        at: minute(45),
        action: Action::Customer(Inbound::Sms {
            sid: "SM00000000000000000000000000000a01".into(),
            from: "+14155552671".into(),
            text: "Hi Sam, it's 4242. Thanks for texting.".into(),
        }),
        note: "Ann answers privately on SMS",
    });
    steps.push(agent(
        minute(52),
        "sms:+14155552671",
        "sam",
        AgentAction::Reply {
            text: "Thanks Ann, the duplicate charge is refunded. Sorry again!".into(),
        },
        "agent replies on SMS",
    ));
    steps.push(agent(
        minute(70),
        "sms:+14155552671",
        "sam",
        AgentAction::Resolve,
        "resolved",
    ));
    // The survey goes out by SMS two minutes after the resolution.
    steps.push(Step {
        at: minute(80),
        action: Action::Customer(Inbound::Sms {
            sid: "SM00000000000000000000000000000a02".into(),
            from: "+14155552671".into(),
            text: "5".into(),
        }),
        note: "Ann rates us (CSAT) on SMS",
    });

    // Omar: a page comment moved to Messenger, answered there.
    let omar = "7000001";
    steps.push(Step {
        at: minute(120),
        action: Action::Customer(Inbound::Comment {
            comment_id: "444444444_700001".into(),
            post_id: "1234567890_444444444".into(),
            user_id: omar.into(),
            name: "Omar Haddad".into(),
            text: "Ordered a sofa 3 weeks ago, still no delivery date. Disappointed.".into(),
        }),
        note: "Omar complains in a page comment",
    });
    steps.push(agent(
        minute(128),
        &format!("facebook:{omar}"),
        "lee",
        AgentAction::Handoff {
            to: ChannelKind::Facebook,
            public_text: "Sorry Omar! We've sent you a private message to sort this out.".into(),
            private_text: "Hi Omar, Lee here. Could you send your order number?".into(),
            recipient: None,
        },
        "agent moves Omar to Messenger",
    ));
    steps.push(Step {
        at: minute(140),
        action: Action::Customer(Inbound::Messenger {
            mid: "m_omar_1".into(),
            psid: omar.into(),
            text: "Hi Lee, it's 88-1200. Thanks.".into(),
        }),
        note: "Omar answers privately on Messenger",
    });
    steps.push(agent(
        minute(150),
        &format!("facebook:{omar}"),
        "lee",
        AgentAction::Reply {
            text: "Thanks Omar, delivery is booked for Thursday morning.".into(),
        },
        "agent replies on Messenger",
    ));

    // Page comments, Messenger, SMS and email through the day.
    for i in 0..12u64 {
        let at = 10 + (i as i64) * 38 + rng.below(15) as i64;
        let (inbound, note) = match i % 4 {
            0 => (
                Inbound::Comment {
                    comment_id: format!("444444444_71{i:04}"),
                    post_id: "1234567890_444444444".into(),
                    user_id: format!("{}", 7_100_000 + i),
                    name: format!("Page Visitor {i}"),
                    text: rng.pick(COMPLAINTS).trim_start_matches("@acme ").to_owned(),
                },
                "page comment",
            ),
            1 => (
                Inbound::Messenger {
                    mid: format!("m_bg_{i}"),
                    psid: format!("{}", 7_200_000 + i),
                    text: rng.pick(PRIVATE).to_owned(),
                },
                "Messenger message",
            ),
            2 => (
                Inbound::Sms {
                    sid: format!("SM{:032}", 100 + i),
                    from: format!("+1415555{:04}", 3000 + i),
                    text: rng.pick(PRIVATE).to_owned(),
                },
                "SMS",
            ),
            _ => (
                Inbound::Email {
                    message_id: format!("bg{i}@mail.customer.example"),
                    from: format!("customer{i}@mail.customer.example"),
                    name: format!("Customer {i}"),
                    subject: "Question about my order".into(),
                    text: rng.pick(PRIVATE).to_owned(),
                    references: Vec::new(),
                },
                "email",
            ),
        };
        let customer = inbound.customer();
        steps.push(Step {
            at: minute(at),
            action: Action::Customer(inbound),
            note,
        });
        steps.push(agent(
            minute(at + 10 + rng.below(80) as i64),
            &customer,
            agents[i as usize % 3],
            AgentAction::Reply {
                text: rng.pick(ANSWERS).to_owned(),
            },
            "agent replies",
        ));
    }

    // An SMS customer opts out; the agent's later reply is refused.
    steps.push(Step {
        at: minute(200),
        action: Action::Customer(Inbound::Sms {
            sid: "SM00000000000000000000000000000b01".into(),
            from: "+14155550111".into(),
            text: "Where is my refund?".into(),
        }),
        note: "SMS question",
    });
    steps.push(Step {
        at: minute(205),
        action: Action::Customer(Inbound::Sms {
            sid: "SM00000000000000000000000000000b02".into(),
            from: "+14155550111".into(),
            text: "STOP".into(),
        }),
        note: "the customer opts out (STOP)",
    });
    steps.push(agent(
        minute(215),
        "sms:+14155550111",
        "sam",
        AgentAction::Reply {
            text: "Your refund went out this morning.".into(),
        },
        "agent tries to reply after STOP",
    ));

    // An email thread of three messages.
    let first = "order-question-1@mail.example".to_owned();
    let second = "order-question-2@mail.example".to_owned();
    let email = |id: &str, refs: Vec<String>, text: &str| Inbound::Email {
        message_id: id.into(),
        from: "jo@mail.example".into(),
        name: "Jo Park".into(),
        subject: if refs.is_empty() {
            "Invoice for order 7781".into()
        } else {
            "Re: Invoice for order 7781".into()
        },
        text: text.into(),
        references: refs,
    };
    steps.push(Step {
        at: minute(180),
        action: Action::Customer(email(
            &first,
            vec![],
            "Hello, my invoice shows the wrong VAT number. Can you reissue it?",
        )),
        note: "Jo emails",
    });
    steps.push(Step {
        at: minute(190),
        action: Action::Customer(email(
            &second,
            vec![first.clone()],
            "Sorry, forgot: the right VAT number is GB123456789.",
        )),
        note: "Jo adds to the thread",
    });
    steps.push(agent(
        minute(230),
        "email:jo@mail.example",
        "lee",
        AgentAction::Reply {
            text: "Hi Jo, here is the reissued invoice with GB123456789. Sorry for the mix-up."
                .into(),
        },
        "agent answers Jo",
    ));
    steps.push(Step {
        at: minute(260),
        action: Action::Customer(email(
            "order-question-3@mail.example",
            vec![first, second],
            "Perfect, thank you!",
        )),
        note: "Jo thanks us",
    });
    steps.push(agent(
        minute(265),
        "email:jo@mail.example",
        "lee",
        AgentAction::Resolve,
        "resolved",
    ));
    steps.push(Step {
        at: minute(280),
        action: Action::Customer(email(
            "order-question-4@mail.example",
            vec![
                "order-question-1@mail.example".into(),
                "order-question-2@mail.example".into(),
                "order-question-3@mail.example".into(),
            ],
            "Great, thank you",
        )),
        note: "Jo rates us (CSAT) by email",
    });

    // 14:00–15:00: a spike of negative mentions (an outage).
    for i in 0..36u64 {
        let inbound = Inbound::Tweet {
            id: next_tweet(),
            user_id: format!("{}", 3_500_000 + i),
            handle: format!("upset{i}"),
            followers: 100 + rng.below(5_000),
            text: rng.pick(CRISIS).to_owned(),
            in_reply_to: None,
        };
        steps.push(Step {
            at: minute(300 + (i as i64 * 60) / 36),
            action: Action::Customer(inbound),
            note: "outage spike on X",
        });
    }

    steps.sort_by_key(|s| s.at);
    steps
}

fn agent(
    at: DateTime<Utc>,
    customer: &str,
    agent: &str,
    action: AgentAction,
    note: &'static str,
) -> Step {
    Step {
        at,
        action: Action::Agent {
            customer: customer.to_owned(),
            agent: agent.to_owned(),
            action,
        },
        note,
    }
}
