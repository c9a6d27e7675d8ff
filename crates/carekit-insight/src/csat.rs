//! CSAT surveys: a question after resolution, privately, and the customer's
//! rating read from their answer.
//!
//! [`CsatSurvey`] is a [`Rule`]: register it on the desk
//! (`DeskBuilder::rule`). On resolution it asks the desk for a survey
//! ([`Action::Survey`]); the desk sends it only in a private conversation
//! (the resolved one, or the private one a handoff linked to a public
//! complaint) and records `CsatSkipped` otherwise. When the customer writes
//! in a conversation whose survey is pending, the rule reads the text with
//! its rating parser: a rating becomes `CsatAnswered`; anything else stays
//! an ordinary customer message (the conversation reopens as usual) and the
//! parse error is noted in the audit trail.

use crate::rating::{Rating, RatingError, parse_rating};
use carekit_core::desk::{Action, Rule, RuleContext, StatusChange, SurveyAnswer, SurveyRequest};
use carekit_core::{AuditKind, Author, ChannelKind, Conversation, Direction, Message, Status};
use chrono::Duration;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// Reads a rating from an answer; [`parse_rating`] unless replaced.
pub type RatingParser = Arc<dyn Fn(&str) -> Result<Rating, RatingError> + Send + Sync>;

/// Why a [`CsatSurvey`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsatError {
    /// The question is empty.
    #[error("the survey question is empty")]
    EmptyQuestion,
    /// The delay is negative.
    #[error("the survey delay is negative")]
    NegativeDelay,
    /// No channel would ever be surveyed.
    #[error("the survey is limited to no channel at all")]
    NoChannels,
}

/// The CSAT survey rule. Build with [`CsatSurvey::builder`].
#[derive(Clone)]
pub struct CsatSurvey {
    name: String,
    question: String,
    delay: Option<Duration>,
    channels: Option<BTreeSet<ChannelKind>>,
    answer_window: Duration,
    parser: RatingParser,
}

impl fmt::Debug for CsatSurvey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsatSurvey")
            .field("name", &self.name)
            .field("question", &self.question)
            .field("delay", &self.delay)
            .field("channels", &self.channels)
            .field("answer_window", &self.answer_window)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CsatSurvey`].
#[derive(Clone)]
pub struct CsatSurveyBuilder {
    inner: CsatSurvey,
}

impl CsatSurvey {
    /// A survey asking `question` after each resolution, on every channel,
    /// with no delay, answers read for 7 days by [`parse_rating`].
    pub fn builder(question: impl Into<String>) -> CsatSurveyBuilder {
        CsatSurveyBuilder {
            inner: CsatSurvey {
                name: "csat-survey".into(),
                question: question.into(),
                delay: None,
                channels: None,
                answer_window: Duration::days(7),
                parser: Arc::new(parse_rating),
            },
        }
    }

    /// The question the customer reads.
    pub fn question(&self) -> &str {
        &self.question
    }

    /// The survey message in `conversation` still waiting for a rating at
    /// `message` (the customer's newest message), if any: the last survey
    /// the platform accepted, with no brand message since, no rating read
    /// since, and still inside the answer window.
    pub fn pending_survey<'c>(
        &self,
        conversation: &'c dyn Conversation,
        message: &Message,
    ) -> Option<&'c Message> {
        let messages = conversation.messages();
        let pos = messages.iter().rposition(|m| self.is_survey(m))?;
        let survey = &messages[pos];
        if message.at < survey.at || message.at - survey.at > self.answer_window {
            return None;
        }
        let mut since = messages[pos + 1..].iter().filter(|m| m.id != message.id);
        let moved_on =
            since.any(|m| m.direction == Direction::Outbound || (self.parser)(&m.text).is_ok());
        (!moved_on).then_some(survey)
    }

    /// Reads `message` as an answer to a pending survey: `None` when no
    /// survey is pending, else the rating or why the text is not one.
    pub fn read_answer(
        &self,
        conversation: &dyn Conversation,
        message: &Message,
    ) -> Option<Result<Rating, RatingError>> {
        self.pending_survey(conversation, message)?;
        Some((self.parser)(&message.text))
    }

    fn is_survey(&self, m: &Message) -> bool {
        m.direction == Direction::Outbound
            && matches!(m.author, Author::Bot)
            && m.text == self.question
            && m.delivery.is_some_and(|d| d.is_accepted())
    }

    fn surveys(&self, channel: ChannelKind) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(&channel))
    }
}

impl CsatSurveyBuilder {
    /// The rule's name, recorded as the actor of what it does.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.inner.name = name.into();
        self
    }
    /// Waits `delay` after the resolution before sending (`None`: at once).
    pub fn delay(mut self, delay: Option<Duration>) -> Self {
        self.inner.delay = delay;
        self
    }
    /// Only surveys conversations resolved on these channels (default: all).
    /// Whatever the channel, the survey itself only ever goes out privately.
    pub fn channels(mut self, channels: impl IntoIterator<Item = ChannelKind>) -> Self {
        self.inner.channels = Some(channels.into_iter().collect());
        self
    }
    /// How long after the survey an answer is still read as a rating.
    pub fn answer_window(mut self, window: Duration) -> Self {
        self.inner.answer_window = window;
        self
    }
    /// Replaces [`parse_rating`] (another language, another scale mapped to 1–5).
    pub fn parser(
        mut self,
        parser: impl Fn(&str) -> Result<Rating, RatingError> + Send + Sync + 'static,
    ) -> Self {
        self.inner.parser = Arc::new(parser);
        self
    }
    /// The rule.
    ///
    /// # Errors
    /// [`CsatError`] for an empty question, a negative delay, or an empty
    /// channel list.
    pub fn build(self) -> Result<CsatSurvey, CsatError> {
        let s = self.inner;
        if s.question.trim().is_empty() {
            return Err(CsatError::EmptyQuestion);
        }
        if s.delay.is_some_and(|d| d < Duration::zero()) {
            return Err(CsatError::NegativeDelay);
        }
        if s.channels.as_ref().is_some_and(|c| c.is_empty()) {
            return Err(CsatError::NoChannels);
        }
        Ok(s)
    }
}

impl Rule for CsatSurvey {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        match self.read_answer(conversation, ctx.message) {
            None => Vec::new(),
            Some(Ok(rating)) => vec![Action::SurveyAnswered(SurveyAnswer::new(
                rating.value(),
                ctx.message.text.clone(),
            ))],
            Some(Err(e)) => vec![Action::Record(AuditKind::Note {
                text: format!("{}: answer kept as a message, not a rating: {e}", self.name),
            })],
        }
    }

    fn on_status(&self, conversation: &dyn Conversation, change: &StatusChange) -> Vec<Action> {
        if change.to != Status::Resolved
            || change.from == Status::Resolved
            || !self.surveys(conversation.channel())
        {
            return Vec::new();
        }
        let mut request = SurveyRequest::new(self.question.clone());
        if let Some(delay) = self.delay {
            request = request.with_delay(delay);
        }
        vec![Action::Survey(request)]
    }
}
