//! Assignment: round-robin among agents who still have capacity. The
//! round-robin position and each agent's open load live in the store
//! ([`AssignmentState`]) and change in the same commit as the assignment
//! they decide, so any number of workers share one rotation.

use super::actions::{Action, Rule, RuleContext};
use crate::domain::Conversation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An agent who can take conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// The app's agent id.
    pub id: String,
    /// The agent's team.
    pub team: Option<String>,
    /// Most active conversations at once.
    pub capacity: usize,
}

impl Agent {
    /// An agent with a capacity.
    pub fn new(id: impl Into<String>, capacity: usize) -> Self {
        Self {
            id: id.into(),
            team: None,
            capacity,
        }
    }
    /// Sets the team.
    pub fn in_team(mut self, team: impl Into<String>) -> Self {
        self.team = Some(team.into());
        self
    }
}

/// Where the rotation stands and how many active conversations each agent
/// holds, as stored for every worker of a desk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentState {
    /// The index of the agent the next pick starts from.
    pub position: usize,
    /// Active conversations per agent (absent: none).
    pub loads: BTreeMap<String, usize>,
}

impl AssignmentState {
    /// Active conversations assigned to `agent`.
    pub fn load(&self, agent: &str) -> usize {
        self.loads.get(agent).copied().unwrap_or(0)
    }

    /// One more (or one fewer) active conversation for `agent`.
    pub(crate) fn adjust(&mut self, agent: &str, more: bool) {
        let load = self.loads.entry(agent.to_owned()).or_default();
        *load = if more {
            *load + 1
        } else {
            load.saturating_sub(1)
        };
        if *load == 0 {
            self.loads.remove(agent);
        }
    }
}

/// How an [`Assigner`] chooses among the agents who have room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssignStrategy {
    /// The next agent in rotation order.
    #[default]
    RoundRobin,
    /// The agent with the most room left (capacity minus open load); ties
    /// go to the next in rotation order.
    Capacity,
}

/// Picks agents round-robin (or by room left, per team), skipping anyone
/// at capacity.
#[derive(Clone, Debug)]
pub struct Assigner {
    agents: Vec<Agent>,
    strategies: BTreeMap<String, AssignStrategy>,
}

impl Assigner {
    /// An assigner over `agents`, in order, round-robin.
    pub fn new(agents: Vec<Agent>) -> Self {
        Self {
            agents,
            strategies: BTreeMap::new(),
        }
    }

    /// Picks within `team` by `strategy` (teams not named: round-robin).
    pub fn team_strategy(mut self, team: impl Into<String>, strategy: AssignStrategy) -> Self {
        self.strategies.insert(team.into(), strategy);
        self
    }

    /// The agents, in rotation order.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// The next agent with room in `state` (optionally in `team`), moving
    /// the rotation past them; `None` when everyone is full. The load is
    /// counted when the assignment is committed.
    pub fn pick(&self, state: &mut AssignmentState, team: Option<&str>) -> Option<Agent> {
        let n = self.agents.len();
        let strategy = team
            .and_then(|t| self.strategies.get(t))
            .copied()
            .unwrap_or_default();
        let mut best: Option<(usize, usize)> = None;
        for step in 0..n {
            let agent = &self.agents[(state.position + step) % n];
            if team.is_some_and(|t| agent.team.as_deref() != Some(t)) {
                continue;
            }
            let load = state.load(&agent.id);
            if load >= agent.capacity {
                continue;
            }
            let room = agent.capacity - load;
            if best.is_none_or(|(_, most)| room > most) {
                best = Some((step, room));
            }
            if strategy == AssignStrategy::RoundRobin {
                break;
            }
        }
        let (step, _) = best?;
        let index = (state.position + step) % n;
        state.position = (index + 1) % n;
        Some(self.agents[index].clone())
    }
}

/// A rule that assigns each new conversation to the next agent with room
/// (the desk's [`Assigner`], round-robin), optionally within one team. A
/// conversation that already has an assignee (a merge, a reopen) is left
/// alone, and so is a customer's later message.
#[derive(Clone, Debug, Default)]
pub struct AssignNew {
    team: Option<String>,
    routes: Vec<(crate::ChannelKind, String)>,
}

impl AssignNew {
    /// Assigns among all agents.
    pub fn new() -> Self {
        Self::default()
    }

    /// Assigns among the agents of `team` only.
    pub fn in_team(team: impl Into<String>) -> Self {
        Self {
            team: Some(team.into()),
            routes: Vec::new(),
        }
    }

    /// New conversations on `channel` go to `team`'s agents (the first
    /// route for a channel wins; other channels keep the default).
    pub fn route(mut self, channel: crate::ChannelKind, team: impl Into<String>) -> Self {
        self.routes.push((channel, team.into()));
        self
    }
}

impl Rule for AssignNew {
    fn name(&self) -> &str {
        "assign-new"
    }

    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        if ctx.new_conversation && conversation.assignee().is_none() {
            let routed = self
                .routes
                .iter()
                .find(|(channel, _)| *channel == conversation.channel())
                .map(|(_, team)| team.clone());
            vec![Action::AutoAssign {
                team: routed.or_else(|| self.team.clone()),
            }]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_full_agents_and_respects_teams() {
        let a = Assigner::new(vec![
            Agent::new("ann", 1).in_team("social"),
            Agent::new("bob", 2).in_team("social"),
            Agent::new("cy", 5).in_team("billing"),
        ]);
        let mut s = AssignmentState::default();
        let take = |s: &mut AssignmentState, team| {
            let agent = a.pick(s, team)?;
            s.adjust(&agent.id, true);
            Some(agent.id)
        };
        assert_eq!(take(&mut s, Some("social")).unwrap(), "ann");
        assert_eq!(take(&mut s, Some("social")).unwrap(), "bob");
        // ann is full now
        assert_eq!(take(&mut s, Some("social")).unwrap(), "bob");
        assert!(take(&mut s, Some("social")).is_none());
        s.adjust("ann", false);
        assert_eq!(take(&mut s, Some("social")).unwrap(), "ann");
        assert_eq!(take(&mut s, None).unwrap(), "cy");
        assert_eq!(s.load("bob"), 2);
    }

    #[test]
    fn by_capacity_the_agent_with_most_room_gets_the_next_one() {
        let a = Assigner::new(vec![
            Agent::new("ann", 2).in_team("email"),
            Agent::new("bob", 4).in_team("email"),
            Agent::new("cy", 3).in_team("x"),
        ])
        .team_strategy("email", AssignStrategy::Capacity);
        let mut s = AssignmentState::default();
        let mut take = |team| {
            let agent = a.pick(&mut s, team)?;
            s.adjust(&agent.id, true);
            Some(agent.id)
        };
        // Room (ann, bob): (2, 4) bob, (2, 3) bob, (2, 2) a tie goes on in
        // rotation: ann, (1, 2) bob, (1, 1) ann, (0, 1) bob.
        let picks: Vec<String> = (0..6).filter_map(|_| take(Some("email"))).collect();
        assert_eq!(picks, ["bob", "bob", "ann", "bob", "ann", "bob"]);
        assert!(take(Some("email")).is_none(), "everyone full");
        // another team keeps its round-robin
        assert_eq!(take(Some("x")).unwrap(), "cy");
    }
}
