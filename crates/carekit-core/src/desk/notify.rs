//! Telling people: escalations and warnings go to a notifier the app picks
//! (Slack, email digest, pager). Best effort: a failed notification is
//! logged, never blocks care.

use crate::ids::ConversationId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A message for the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// The conversation concerned.
    pub conversation_id: ConversationId,
    /// The team to reach, if routed.
    pub team: Option<String>,
    /// Escalation level.
    pub level: u8,
    /// One line.
    pub subject: String,
    /// The explanation.
    pub body: String,
}

impl Notification {
    /// A notification about `conversation_id`.
    pub fn new(
        conversation_id: ConversationId,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            conversation_id,
            team: None,
            level: 1,
            subject: subject.into(),
            body: body.into(),
        }
    }
    /// Sets the team.
    pub fn with_team(mut self, team: Option<String>) -> Self {
        self.team = team;
        self
    }
    /// Sets the level.
    pub fn with_level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
}

/// Delivers notifications to people.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one notification.
    async fn notify(&self, notification: &Notification) -> Result<(), String>;
}

const _: fn(&dyn Notifier) = |_| {};

/// Writes notifications to the `tracing` log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        tracing::warn!(conversation = %n.conversation_id, team = ?n.team, level = n.level, "{}: {}", n.subject, n.body);
        Ok(())
    }
}

/// Sends each notification to the notifiers whose route matches its level
/// and team (a team's lead by email from level 2, the crisis room's chat at
/// level 3, …), every matching one, in the order the routes were added.
/// A notification no route matches goes to the fallback (the log unless
/// set otherwise), so nothing is dropped silently.
#[derive(Clone)]
pub struct RoutedNotifier {
    routes: Vec<NotifyRoute>,
    fallback: std::sync::Arc<dyn Notifier>,
}

/// One route: notifications at or above `min_level`, for one of `teams`
/// (any team when empty), go to `notifier`.
#[derive(Clone)]
pub struct NotifyRoute {
    min_level: u8,
    teams: Vec<String>,
    notifier: std::sync::Arc<dyn Notifier>,
}

impl NotifyRoute {
    /// Every notification, from level 1, for any team.
    pub fn to(notifier: std::sync::Arc<dyn Notifier>) -> Self {
        Self {
            min_level: 1,
            teams: Vec::new(),
            notifier,
        }
    }
    /// Only notifications at this level or above.
    pub fn min_level(mut self, level: u8) -> Self {
        self.min_level = level;
        self
    }
    /// Only notifications for these teams (a notification without a team
    /// matches no team list).
    pub fn teams<I: IntoIterator<Item = S>, S: Into<String>>(mut self, teams: I) -> Self {
        self.teams = teams.into_iter().map(Into::into).collect();
        self
    }
    fn matches(&self, n: &Notification) -> bool {
        n.level >= self.min_level
            && (self.teams.is_empty() || n.team.as_ref().is_some_and(|t| self.teams.contains(t)))
    }
}

impl std::fmt::Debug for NotifyRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyRoute")
            .field("min_level", &self.min_level)
            .field("teams", &self.teams)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RoutedNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedNotifier")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl Default for RoutedNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl RoutedNotifier {
    /// No routes yet; unmatched notifications go to the log.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            fallback: std::sync::Arc::new(LogNotifier),
        }
    }
    /// Adds a route.
    pub fn route(mut self, route: NotifyRoute) -> Self {
        self.routes.push(route);
        self
    }
    /// Where notifications no route matches go (default: the log).
    pub fn fallback(mut self, notifier: std::sync::Arc<dyn Notifier>) -> Self {
        self.fallback = notifier;
        self
    }
}

#[async_trait]
impl Notifier for RoutedNotifier {
    /// Tries every matching route; fails (naming each failure) only when
    /// one failed, after the others were tried.
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        let mut matched = false;
        let mut failures = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            if route.matches(n) {
                matched = true;
                if let Err(e) = route.notifier.notify(n).await {
                    failures.push(format!("route {}: {e}", i + 1));
                }
            }
        }
        if !matched {
            return self.fallback.notify(n).await;
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recording {
        seen: Mutex<Vec<String>>,
        fail: bool,
    }

    #[async_trait]
    impl Notifier for Recording {
        async fn notify(&self, n: &Notification) -> Result<(), String> {
            self.seen.lock().unwrap().push(n.subject.clone());
            if self.fail {
                Err("down".into())
            } else {
                Ok(())
            }
        }
    }

    fn note(level: u8, team: Option<&str>) -> Notification {
        Notification::new(ConversationId::new(), format!("L{level} {team:?}"), "why")
            .with_level(level)
            .with_team(team.map(str::to_owned))
    }

    #[tokio::test]
    async fn routes_by_level_and_team_and_falls_back() {
        let billing = Arc::new(Recording::default());
        let crisis = Arc::new(Recording::default());
        let fallback = Arc::new(Recording::default());
        let routed = RoutedNotifier::new()
            .route(
                NotifyRoute::to(billing.clone())
                    .teams(["billing"])
                    .min_level(2),
            )
            .route(NotifyRoute::to(crisis.clone()).min_level(3))
            .fallback(fallback.clone());
        for n in [
            note(1, Some("billing")),
            note(2, Some("billing")),
            note(3, Some("billing")),
            note(3, None),
            note(2, Some("support")),
        ] {
            routed.notify(&n).await.unwrap();
        }
        assert_eq!(
            *billing.seen.lock().unwrap(),
            ["L2 Some(\"billing\")", "L3 Some(\"billing\")"]
        );
        assert_eq!(
            *crisis.seen.lock().unwrap(),
            ["L3 Some(\"billing\")", "L3 None"]
        );
        assert_eq!(
            *fallback.seen.lock().unwrap(),
            ["L1 Some(\"billing\")", "L2 Some(\"support\")"]
        );
    }

    #[tokio::test]
    async fn a_failing_route_does_not_stop_the_others() {
        let down = Arc::new(Recording {
            fail: true,
            ..Recording::default()
        });
        let up = Arc::new(Recording::default());
        let routed = RoutedNotifier::new()
            .route(NotifyRoute::to(down.clone()))
            .route(NotifyRoute::to(up.clone()));
        let err = routed.notify(&note(2, None)).await.unwrap_err();
        assert_eq!(err, "route 1: down");
        assert_eq!(up.seen.lock().unwrap().len(), 1);
    }
}
