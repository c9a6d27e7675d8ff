//! Automatic acknowledgement of a customer's first message, chosen by what
//! the message says: "sorry" for a complaint, thanks (or nothing) for
//! praise, nothing for a plain question unless the app asks for it.
//! Customers resent form letters, so by default only complaints get one.

use super::actions::{Action, Rule, RuleContext};
use crate::channel::{ChannelKind, Visibility};
use crate::domain::{Conversation, Direction};
use crate::template::{Template, TemplateVars};

/// What a message says, as far as acknowledging it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mood {
    /// Sentiment at or below the complaint threshold.
    Complaint,
    /// Neither, or not scored (no classifier, or a language it cannot read).
    Neutral,
    /// Sentiment at or above the praise threshold.
    Praise,
}

#[derive(Clone, Debug, Default)]
struct Texts {
    public: Option<Template>,
    private: Option<Template>,
}

impl Texts {
    fn new(public: Template, private: Template) -> Self {
        let keep = |t: Template| (!t.is_blank()).then_some(t);
        Self {
            public: keep(public),
            private: keep(private),
        }
    }
    fn get(&self, visibility: Visibility) -> Option<&Template> {
        match visibility {
            Visibility::Public => self.public.as_ref(),
            Visibility::Private => self.private.as_ref(),
        }
    }
}

/// Acknowledges a customer's first message in a conversation, publicly or
/// privately as they wrote, with a template for the message's [`Mood`].
/// Never answers mail that forbids auto-replies, never twice in one
/// conversation, and says nothing where no template is set.
///
/// ```
/// use carekit_core::desk::AutoAcknowledge;
/// use carekit_core::template::Template;
///
/// let ack = AutoAcknowledge::builder()
///     .complaint(
///         Template::parse("Sorry to hear that, {first_name|friend}. We're on it.")?,
///         Template::parse("Thanks for writing, {first_name|there}. A person will answer shortly.")?,
///     )
///     .praise(Template::parse("Thank you, {first_name|friend}!")?, Template::parse("")?)
///     .build();
/// # Ok::<(), carekit_core::template::TemplateError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AutoAcknowledge {
    complaint: Texts,
    neutral: Texts,
    praise: Texts,
    complaint_at: f32,
    praise_at: f32,
    channels: Option<Vec<ChannelKind>>,
}

impl AutoAcknowledge {
    /// Starts a builder that acknowledges nothing until templates are set.
    pub fn builder() -> AutoAcknowledgeBuilder {
        AutoAcknowledgeBuilder {
            ack: AutoAcknowledge {
                complaint: Texts::default(),
                neutral: Texts::default(),
                praise: Texts::default(),
                complaint_at: Self::DEFAULT_COMPLAINT_AT,
                praise_at: Self::DEFAULT_PRAISE_AT,
                channels: None,
            },
        }
    }

    /// Complaint threshold by default: the usual boundary of "negative" for
    /// compound sentiment scores in [-1, 1].
    pub const DEFAULT_COMPLAINT_AT: f32 = -0.05;
    /// Praise threshold by default: clearly positive, not merely polite.
    pub const DEFAULT_PRAISE_AT: f32 = 0.5;

    /// Acknowledges complaints only, with fixed texts (empty means none).
    pub fn complaints(public: impl Into<String>, private: impl Into<String>) -> Self {
        Self::builder()
            .complaint(Template::literal(public), Template::literal(private))
            .build()
    }

    /// Acknowledges every first message with the same fixed texts, whatever
    /// it says. A form letter: prefer [`AutoAcknowledge::builder`] when a
    /// classifier scores sentiment.
    pub fn everyone(public: impl Into<String>, private: impl Into<String>) -> Self {
        let (public, private) = (Template::literal(public), Template::literal(private));
        Self::builder()
            .complaint(public.clone(), private.clone())
            .neutral(public.clone(), private.clone())
            .praise(public, private)
            .build()
    }

    /// The mood of a message with this sentiment score.
    pub fn mood(&self, sentiment: Option<f32>) -> Mood {
        match sentiment {
            Some(s) if s <= self.complaint_at => Mood::Complaint,
            Some(s) if s >= self.praise_at => Mood::Praise,
            _ => Mood::Neutral,
        }
    }

    fn texts(&self, mood: Mood) -> &Texts {
        match mood {
            Mood::Complaint => &self.complaint,
            Mood::Praise => &self.praise,
            Mood::Neutral => &self.neutral,
        }
    }
}

/// Builds an [`AutoAcknowledge`].
#[derive(Clone, Debug)]
pub struct AutoAcknowledgeBuilder {
    ack: AutoAcknowledge,
}

impl AutoAcknowledgeBuilder {
    /// Templates for complaints, public and private (a blank one: none).
    pub fn complaint(mut self, public: Template, private: Template) -> Self {
        self.ack.complaint = Texts::new(public, private);
        self
    }
    /// Templates for neutral or unscored messages (a question).
    pub fn neutral(mut self, public: Template, private: Template) -> Self {
        self.ack.neutral = Texts::new(public, private);
        self
    }
    /// Templates for praise.
    pub fn praise(mut self, public: Template, private: Template) -> Self {
        self.ack.praise = Texts::new(public, private);
        self
    }
    /// A sentiment at or below this is a complaint.
    pub fn complaint_at(mut self, score: f32) -> Self {
        self.ack.complaint_at = score;
        self
    }
    /// A sentiment at or above this is praise.
    pub fn praise_at(mut self, score: f32) -> Self {
        self.ack.praise_at = score;
        self
    }
    /// Acknowledges only on these channels (default: all).
    pub fn channels(mut self, channels: impl IntoIterator<Item = ChannelKind>) -> Self {
        self.ack.channels = Some(channels.into_iter().collect());
        self
    }
    /// The rule.
    pub fn build(self) -> AutoAcknowledge {
        self.ack
    }
}

impl Rule for AutoAcknowledge {
    fn name(&self) -> &str {
        "auto-acknowledge"
    }
    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        let already_answered = conversation
            .messages()
            .iter()
            .any(|m| m.direction == Direction::Outbound);
        let channel_ok = self
            .channels
            .as_ref()
            .is_none_or(|c| c.contains(&conversation.channel()));
        if !ctx.auto_reply_allowed || already_answered || !channel_ok {
            return Vec::new();
        }
        let sentiment = ctx
            .message
            .classification
            .as_ref()
            .and_then(|c| c.sentiment);
        let Some(template) = self
            .texts(self.mood(sentiment))
            .get(conversation.visibility())
        else {
            return Vec::new();
        };
        let text = template.render(&TemplateVars::for_author(ctx.author));
        if text.trim().is_empty() {
            return Vec::new();
        }
        vec![Action::Reply {
            text,
            visibility: None,
        }]
    }
}
