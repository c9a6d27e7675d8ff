//! Proactive outreach: a notice to every customer hit by an incident (or
//! to a list), on a private channel they use, through the desk's outbox.
//!
//! For each customer the channels are tried in order — their preferred
//! private channel first, then the configured preference — and the first
//! one that passes every check is used:
//!
//! 1. the customer has an identity there and the desk has a channel that
//!    can message privately;
//! 2. the customer has not opted out of that channel (SMS STOP, or any
//!    stored opt-out);
//! 3. the channel's reply window (Messenger: 24 hours after the customer's
//!    last message) is still open. Outreach is automated, so only the
//!    standard window counts, never the human-agent extension.
//!
//! The notice is queued in the customer's newest private conversation on
//! that channel, or in a new private conversation when there is none, so
//! delivery is tracked like any reply.

use crate::crisis::Incident;
use carekit_core::desk::ReplyRequest;
use carekit_core::{
    Author, ChannelKind, ConversationId, ConversationRecord, CustomerId, DeliveryState, Desk,
    DeskError, MessageId, StoreError, Visibility,
};
use serde::Serialize;

/// The longest email subject a notice may have: the line length RFC 5322
/// allows (998 characters; counted here in bytes).
pub const MAX_SUBJECT_BYTES: usize = 998;

/// Why outreach failed as a whole (single refusals are in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutreachError {
    /// The notice is empty.
    #[error("outreach text is empty")]
    EmptyText,
    /// A text is longer than any message may be
    /// ([`MAX_TEXT_BYTES`](carekit_core::domain::MAX_TEXT_BYTES)).
    #[error("outreach text is longer than a message may be")]
    TooLong,
    /// The email subject is longer than an RFC 5322 line
    /// ([`MAX_SUBJECT_BYTES`]) or holds a control character (a line break
    /// would start another header).
    #[error("outreach subject must be one line of at most {MAX_SUBJECT_BYTES} bytes")]
    BadSubject,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The desk failed.
    #[error(transparent)]
    Desk(#[from] DeskError),
}

/// A notice to send. Build with [`Outreach::builder`].
#[derive(Clone, Debug)]
pub struct Outreach {
    text: String,
    texts: Vec<(ChannelKind, String)>,
    subject: Option<String>,
    author: Author,
    preference: Vec<ChannelKind>,
    max_customers: Option<usize>,
}

/// Builds an [`Outreach`].
#[derive(Clone, Debug)]
pub struct OutreachBuilder {
    outreach: Outreach,
}

impl OutreachBuilder {
    /// The email subject (default none: the channel's own default).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.outreach.subject = Some(subject.into());
        self
    }
    /// Sends as this agent instead of as automation (the notice is still
    /// held to the standard reply window: it is one message to many).
    pub fn agent(mut self, agent_id: impl Into<String>) -> Self {
        self.outreach.author = Author::Agent(agent_id.into());
        self
    }
    /// Channel order after the customer's own preference (default: SMS,
    /// email, Facebook Messenger, X direct messages, web).
    pub fn preference(mut self, order: Vec<ChannelKind>) -> Self {
        self.outreach.preference = order;
        self
    }
    /// The notice's words on `channel` instead of the default text (a
    /// short SMS, a longer email).
    pub fn text_on(mut self, channel: ChannelKind, text: impl Into<String>) -> Self {
        self.outreach.texts.retain(|(kind, _)| *kind != channel);
        self.outreach.texts.push((channel, text.into()));
        self
    }
    /// Queues for at most this many customers per call; the rest are
    /// reported in [`OutreachReport::skipped_over_limit`] (default: no limit).
    pub fn max_customers(mut self, limit: usize) -> Self {
        self.outreach.max_customers = Some(limit);
        self
    }
    /// The notice.
    ///
    /// # Errors
    /// [`OutreachError::EmptyText`], also for an empty per-channel text.
    pub fn build(self) -> Result<Outreach, OutreachError> {
        if self.outreach.text.trim().is_empty()
            || self.outreach.texts.iter().any(|(_, t)| t.trim().is_empty())
        {
            return Err(OutreachError::EmptyText);
        }
        if std::iter::once(&self.outreach.text)
            .chain(self.outreach.texts.iter().map(|(_, t)| t))
            .any(|t| t.len() > carekit_core::domain::MAX_TEXT_BYTES)
        {
            return Err(OutreachError::TooLong);
        }
        if self
            .outreach
            .subject
            .as_deref()
            .is_some_and(|s| s.len() > MAX_SUBJECT_BYTES || s.chars().any(char::is_control))
        {
            return Err(OutreachError::BadSubject);
        }
        Ok(self.outreach)
    }
}

/// One notice queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueuedNotice {
    /// To whom.
    pub customer: CustomerId,
    /// On which channel.
    pub channel: ChannelKind,
    /// In which conversation (existing, or opened for the notice).
    pub conversation_id: ConversationId,
    /// The outbound message, for delivery tracking.
    pub message_id: MessageId,
}

/// A customer the notice could not be queued for, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FailedNotice {
    /// The customer.
    pub customer: CustomerId,
    /// The desk's reason.
    pub reason: String,
}

/// What outreach did, per customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutreachReport {
    /// Notices queued in the outbox.
    pub queued: Vec<QueuedNotice>,
    /// Opted out of every private channel they could be reached on.
    pub skipped_opted_out: Vec<CustomerId>,
    /// Reachable only on channels whose reply window has closed.
    pub skipped_outside_window: Vec<CustomerId>,
    /// No identity on any private channel the desk can send on.
    pub no_private_channel: Vec<CustomerId>,
    /// The desk refused for another reason (too long, unknown customer).
    pub failed: Vec<FailedNotice>,
    /// Not tried: the outreach's `max_customers` was reached.
    pub skipped_over_limit: Vec<CustomerId>,
}

/// A queued notice and where its delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NoticeDelivery {
    /// The notice.
    pub notice: QueuedNotice,
    /// Its delivery state (`None` if the outbox no longer knows it).
    pub state: Option<DeliveryState>,
    /// The platform's last error, for failures.
    pub error: Option<String>,
}

impl OutreachReport {
    /// Where each queued notice stands now, read from the outbox.
    ///
    /// # Errors
    /// The store failed.
    pub async fn delivery(&self, desk: &Desk) -> Result<Vec<NoticeDelivery>, OutreachError> {
        let mut out = Vec::with_capacity(self.queued.len());
        for notice in &self.queued {
            let item = desk.store().outbox_item(notice.message_id).await?;
            out.push(NoticeDelivery {
                notice: notice.clone(),
                state: item.as_ref().map(|i| i.state),
                error: item.and_then(|i| i.last_error),
            });
        }
        Ok(out)
    }

    /// Customers considered.
    pub fn total(&self) -> usize {
        self.queued.len()
            + self.skipped_opted_out.len()
            + self.skipped_outside_window.len()
            + self.no_private_channel.len()
            + self.failed.len()
            + self.skipped_over_limit.len()
    }
}

enum Outcome {
    Queued(QueuedNotice),
    OptedOut,
    OutsideWindow,
    NoChannel,
    Failed(String),
}

impl Outreach {
    /// The same notice sent as `agent_id` (a person who chose to send a
    /// prepared notice), with its words, channels and limit unchanged.
    pub fn sent_by(&self, agent_id: impl Into<String>) -> Outreach {
        Outreach {
            author: Author::Agent(agent_id.into()),
            ..self.clone()
        }
    }

    /// A notice with `text`, sent as automation, default channel order.
    pub fn builder(text: impl Into<String>) -> OutreachBuilder {
        OutreachBuilder {
            outreach: Outreach {
                text: text.into(),
                texts: Vec::new(),
                subject: None,
                author: Author::Bot,
                preference: vec![
                    ChannelKind::Sms,
                    ChannelKind::Email,
                    ChannelKind::Facebook,
                    ChannelKind::Twitter,
                    ChannelKind::Web,
                ],
                max_customers: None,
            },
        }
    }

    /// Sends to every customer with a conversation in the incident.
    ///
    /// # Errors
    /// The store failed.
    pub async fn to_incident(
        &self,
        desk: &Desk,
        incident: &Incident,
    ) -> Result<OutreachReport, OutreachError> {
        self.to_conversations(desk, &incident.conversations).await
    }

    /// Sends to the customers of these conversations (each customer once).
    ///
    /// # Errors
    /// The store failed.
    pub async fn to_conversations(
        &self,
        desk: &Desk,
        conversations: &[ConversationId],
    ) -> Result<OutreachReport, OutreachError> {
        let mut customers = Vec::new();
        for id in conversations {
            if let Some(record) = desk.store().conversation(*id).await?
                && !customers.contains(&record.customer.id)
            {
                customers.push(record.customer.id);
            }
        }
        self.to_customers(desk, &customers).await
    }

    /// Sends to these customers (each once, in order).
    ///
    /// # Errors
    /// The store failed; refusals for single customers are in the report.
    pub async fn to_customers(
        &self,
        desk: &Desk,
        customers: &[CustomerId],
    ) -> Result<OutreachReport, OutreachError> {
        let mut report = OutreachReport::default();
        let mut seen = Vec::new();
        for id in customers {
            if seen.contains(id) {
                continue;
            }
            seen.push(*id);
            if self
                .max_customers
                .is_some_and(|limit| report.queued.len() >= limit)
            {
                report.skipped_over_limit.push(*id);
                continue;
            }
            match self.reach(desk, *id).await? {
                Outcome::Queued(notice) => report.queued.push(notice),
                Outcome::OptedOut => report.skipped_opted_out.push(*id),
                Outcome::OutsideWindow => report.skipped_outside_window.push(*id),
                Outcome::NoChannel => report.no_private_channel.push(*id),
                Outcome::Failed(reason) => report.failed.push(FailedNotice {
                    customer: *id,
                    reason,
                }),
            }
        }
        Ok(report)
    }

    /// The words sent on `channel`.
    pub fn text_for(&self, channel: ChannelKind) -> &str {
        self.texts
            .iter()
            .find(|(kind, _)| *kind == channel)
            .map_or(self.text.as_str(), |(_, text)| text.as_str())
    }

    fn request(&self, channel: ChannelKind) -> ReplyRequest {
        let text = self.text_for(channel).to_owned();
        let request = match &self.author {
            Author::Agent(agent) => ReplyRequest::agent(agent.clone(), text),
            _ => ReplyRequest::bot(text),
        }
        .with_visibility(Visibility::Private);
        match &self.subject {
            Some(subject) => request.with_subject(subject.clone()),
            None => request,
        }
    }

    async fn reach(&self, desk: &Desk, customer_id: CustomerId) -> Result<Outcome, OutreachError> {
        let Some(customer) = desk.store().customer(customer_id).await? else {
            return Ok(Outcome::Failed("unknown customer".into()));
        };
        let filter = carekit_core::ConversationFilter::all().with_customer(customer_id);
        let conversations = desk.store().list_conversations(&filter).await?;
        let mut order: Vec<ChannelKind> = customer.preferred_private.into_iter().collect();
        for kind in &self.preference {
            if !order.contains(kind) {
                order.push(*kind);
            }
        }
        let now = desk.clock().now();
        let (mut opted_out, mut outside_window) = (false, false);
        for kind in order {
            let Some(identity) = customer.identity_on(kind) else {
                continue;
            };
            let private: Vec<&ConversationRecord> = conversations
                .iter()
                .filter(|c| c.channel == kind && c.visibility == Visibility::Private)
                .collect();
            let newest = private
                .iter()
                .max_by_key(|c| (c.last_inbound_at, c.opened_at));
            let account = newest.map_or("", |c| c.account.as_str());
            let Some(caps) = desk.channel_capabilities(kind, account) else {
                continue;
            };
            if !caps.private_message {
                continue;
            }
            if desk.opted_out(kind, &identity.handle).await? {
                opted_out = true;
                continue;
            }
            if let Some(window) = caps.reply_window {
                let last = private.iter().filter_map(|c| c.last_inbound_at).max();
                if last.is_none_or(|t| now - t > window.standard) {
                    outside_window = true;
                    continue;
                }
            }
            let sent = match newest {
                Some(record) => desk
                    .reply(record.id, self.request(kind))
                    .await
                    .map(|m| (record.id, m)),
                None => {
                    desk.message_privately(customer_id, kind, self.request(kind))
                        .await
                }
            };
            return Ok(match sent {
                Ok((conversation_id, message_id)) => Outcome::Queued(QueuedNotice {
                    customer: customer_id,
                    channel: kind,
                    conversation_id,
                    message_id,
                }),
                Err(DeskError::OptedOut(_)) => Outcome::OptedOut,
                Err(DeskError::Store(e)) => return Err(e.into()),
                Err(other) => Outcome::Failed(other.to_string()),
            });
        }
        Ok(if opted_out {
            Outcome::OptedOut
        } else if outside_window {
            Outcome::OutsideWindow
        } else {
            Outcome::NoChannel
        })
    }
}
