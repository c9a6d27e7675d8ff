//! Reply templates with a few variables (`{first_name}`, `{handle}`,
//! `{channel}`), checked when they are made so a typo in a config file is an
//! error at start-up rather than a customer reading `{frist_name}`.
//!
//! ```
//! use carekit_core::template::{Template, TemplateVars};
//!
//! let t = Template::parse("Thanks {first_name|there}, glad it arrived!")?;
//! let ann = TemplateVars::new().first_name("Ann");
//! assert_eq!(t.render(&ann), "Thanks Ann, glad it arrived!");
//! assert_eq!(t.render(&TemplateVars::new()), "Thanks there, glad it arrived!");
//! # Ok::<(), carekit_core::template::TemplateError>(())
//! ```

use crate::channel::ChannelKind;
use crate::domain::Identity;
use std::fmt;

/// The variables a template may name.
pub const VARIABLES: [&str; 4] = ["first_name", "name", "handle", "channel"];

/// The variables a canned response an agent sends may name: those of
/// [`VARIABLES`] and `{agent}`, the sending agent's name.
pub const AGENT_VARIABLES: [&str; 5] = ["first_name", "name", "handle", "channel", "agent"];

/// A template that failed to parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// `{` without a matching `}`.
    #[error("template has an unclosed '{{' at byte {0}")]
    Unclosed(usize),
    /// A variable the template engine does not know.
    #[error("template names unknown variable {{{0}}}")]
    UnknownVariable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var {
        name: &'static str,
        fallback: Option<String>,
    },
}

/// A parsed template. `{var}` is replaced by the variable's value, or
/// removed when it has none; `{var|fallback}` uses `fallback` instead.
/// `{{` and `}}` write literal braces.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Parses `source`, refusing variables outside [`VARIABLES`] and
    /// unclosed braces.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        Self::parse_with(source, &VARIABLES)
    }

    /// Parses `source`, refusing variables outside `known` (such as
    /// [`AGENT_VARIABLES`]) and unclosed braces.
    pub fn parse_with(source: &str, known: &[&'static str]) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(i) = rest.find(['{', '}']) {
            text.push_str(&rest[..i]);
            let brace = &rest[i..];
            if brace.starts_with("{{") || brace.starts_with("}}") {
                text.push_str(&brace[..1]);
                rest = &brace[2..];
                offset += i + 2;
                continue;
            }
            if let Some(after) = brace.strip_prefix('}') {
                // A lone `}` is text.
                text.push('}');
                rest = after;
                offset += i + 1;
                continue;
            }
            let Some(end) = brace.find('}') else {
                return Err(TemplateError::Unclosed(offset + i));
            };
            let inner = &brace[1..end];
            let (name, fallback) = match inner.split_once('|') {
                Some((name, fallback)) => (name.trim(), Some(fallback.to_owned())),
                None => (inner.trim(), None),
            };
            let Some(name) = known.iter().copied().find(|v| *v == name) else {
                return Err(TemplateError::UnknownVariable(name.to_owned()));
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var { name, fallback });
            rest = &brace[end + 1..];
            offset += i + end + 1;
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    /// A template that is exactly `text`, braces and all (no variables).
    pub fn literal(text: impl Into<String>) -> Self {
        let source = text.into();
        let pieces = if source.is_empty() {
            Vec::new()
        } else {
            vec![Piece::Text(source.clone())]
        };
        Self { source, pieces }
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template renders nothing whatever the variables.
    pub fn is_blank(&self) -> bool {
        self.pieces.iter().all(|p| match p {
            Piece::Text(t) => t.trim().is_empty(),
            Piece::Var { .. } => false,
        })
    }

    /// Fills in the variables. A variable with no value and no fallback is
    /// left out, and the space or comma it leaves ("Hi , thanks") is tidied.
    pub fn render(&self, vars: &TemplateVars) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var { name, fallback } => {
                    match vars.get(name).or(fallback.as_deref()) {
                        Some(value) => out.push_str(value),
                        None => {
                            // "Hi {first_name}, thanks" -> "Hi, thanks".
                            while out.ends_with(' ') {
                                out.pop();
                            }
                        }
                    }
                }
            }
        }
        let mut tidy = String::with_capacity(out.len());
        for c in out.trim().chars() {
            if c == ' ' && tidy.ends_with(' ') {
                continue;
            }
            tidy.push(c);
        }
        tidy
    }
}

/// Values for a template's variables; absent values are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateVars {
    first_name: Option<String>,
    name: Option<String>,
    handle: Option<String>,
    channel: Option<String>,
    agent: Option<String>,
}

impl TemplateVars {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// The values for a message's author: `{name}` is the display name when
    /// it is a person's name, `{first_name}` its first word, `{handle}` the
    /// `@screen_name` on X or the platform's handle elsewhere (an address, a
    /// number), `{channel}` the platform as customers call it.
    pub fn for_author(author: &Identity) -> Self {
        let display = author
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let person = display.filter(|d| !d.starts_with('@') && !d.contains('@'));
        let handle = match display {
            Some(d) if d.starts_with('@') => d.to_owned(),
            // A Facebook page-scoped id means nothing to the customer.
            _ if author.channel == ChannelKind::Facebook => String::new(),
            _ => author.handle.clone(),
        };
        let mut vars = Self::new().channel(channel_name(author.channel));
        if let Some(person) = person {
            vars = vars.name(person);
            if let Some(first) = person.split_whitespace().next() {
                vars = vars.first_name(first.trim_end_matches(','));
            }
        }
        if !handle.is_empty() {
            vars = vars.handle(handle);
        }
        vars
    }

    /// Sets `{first_name}`.
    pub fn first_name(mut self, value: impl Into<String>) -> Self {
        self.first_name = Some(value.into());
        self
    }
    /// Sets `{name}`.
    pub fn name(mut self, value: impl Into<String>) -> Self {
        self.name = Some(value.into());
        self
    }
    /// Sets `{handle}`.
    pub fn handle(mut self, value: impl Into<String>) -> Self {
        self.handle = Some(value.into());
        self
    }
    /// Sets `{channel}`.
    pub fn channel(mut self, value: impl Into<String>) -> Self {
        self.channel = Some(value.into());
        self
    }

    /// Sets `{name}` and `{first_name}` where they have no value yet.
    pub fn fill_name(mut self, name: &str, first_name: &str) -> Self {
        self.name.get_or_insert_with(|| name.to_owned());
        self.first_name.get_or_insert_with(|| first_name.to_owned());
        self
    }

    /// Sets `{agent}` (the name of the agent who sends).
    pub fn agent(mut self, value: impl Into<String>) -> Self {
        self.agent = Some(value.into());
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "first_name" => self.first_name.as_deref(),
            "name" => self.name.as_deref(),
            "handle" => self.handle.as_deref(),
            "channel" => self.channel.as_deref(),
            "agent" => self.agent.as_deref(),
            _ => None,
        }
    }
}

/// The platform as customers call it ("X", "email"); a kind of the app's
/// own by its name.
pub fn channel_name(channel: ChannelKind) -> &'static str {
    match channel {
        ChannelKind::Twitter => "X",
        ChannelKind::Facebook => "Facebook",
        ChannelKind::Email => "email",
        ChannelKind::Sms => "SMS",
        ChannelKind::Web => "chat",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_fallbacks_and_braces() {
        let t = Template::parse("Hi {first_name}, {{literal}} via {channel|chat}").unwrap();
        assert_eq!(t.render(&TemplateVars::new()), "Hi, {literal} via chat");
        let vars = TemplateVars::new().first_name("Ann").channel("X");
        assert_eq!(t.render(&vars), "Hi Ann, {literal} via X");
    }

    #[test]
    fn unknown_variables_and_unclosed_braces_are_refused() {
        assert_eq!(
            Template::parse("Hi {frist_name}"),
            Err(TemplateError::UnknownVariable("frist_name".into()))
        );
        assert_eq!(Template::parse("Hi {name"), Err(TemplateError::Unclosed(3)));
        // `{agent}` only where it is allowed.
        assert_eq!(
            Template::parse("Hi, {agent} here"),
            Err(TemplateError::UnknownVariable("agent".into()))
        );
        let t = Template::parse_with("Hi, {agent} here", &AGENT_VARIABLES).unwrap();
        assert_eq!(
            t.render(&TemplateVars::new().agent("Maya")),
            "Hi, Maya here"
        );
        assert_eq!(
            Template::parse("é{name").unwrap_err(),
            TemplateError::Unclosed(2)
        );
    }

    #[test]
    fn authors_give_names_and_handles_as_each_platform_has_them() {
        let x = Identity::new(ChannelKind::Twitter, "2244994945").with_display_name("@ann_lee");
        let vars = TemplateVars::for_author(&x);
        assert_eq!(vars.get("handle"), Some("@ann_lee"));
        assert_eq!(vars.get("first_name"), None);
        let fb = Identity::new(ChannelKind::Facebook, "6543210987").with_display_name("Ann Lee");
        let vars = TemplateVars::for_author(&fb);
        assert_eq!(vars.get("first_name"), Some("Ann"));
        assert_eq!(vars.get("handle"), None);
        let mail = Identity::new(ChannelKind::Email, "ann@example.com")
            .with_display_name("ann@example.com");
        let vars = TemplateVars::for_author(&mail);
        assert_eq!(vars.get("name"), None);
        assert_eq!(vars.get("handle"), Some("ann@example.com"));
        assert_eq!(vars.get("channel"), Some("email"));
    }
}
