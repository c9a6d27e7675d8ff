//! Assignment: round-robin among agents who still have capacity.

use std::collections::HashMap;
use std::sync::Mutex;

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

/// Picks agents round-robin, skipping anyone at capacity. Loads are counted
/// per process: call [`Assigner::release`] when a conversation ends.
#[derive(Debug)]
pub struct Assigner {
    agents: Vec<Agent>,
    state: Mutex<(usize, HashMap<String, usize>)>,
}

impl Assigner {
    /// An assigner over `agents`, in order.
    pub fn new(agents: Vec<Agent>) -> Self {
        Self {
            agents,
            state: Mutex::new((0, HashMap::new())),
        }
    }

    /// The next agent with room (optionally in `team`), counting the
    /// assignment; `None` when everyone is full.
    pub fn pick(&self, team: Option<&str>) -> Option<Agent> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (cursor, loads) = &mut *guard;
        let n = self.agents.len();
        for step in 0..n {
            let agent = &self.agents[(*cursor + step) % n];
            if team.is_some_and(|t| agent.team.as_deref() != Some(t)) {
                continue;
            }
            let load = loads.entry(agent.id.clone()).or_default();
            if *load < agent.capacity {
                *load += 1;
                *cursor = (*cursor + step + 1) % n;
                return Some(agent.clone());
            }
        }
        None
    }

    /// Frees one unit of `agent`'s capacity.
    pub fn release(&self, agent: &str) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(load) = guard.1.get_mut(agent) {
            *load = load.saturating_sub(1);
        }
    }

    /// Current load of `agent`.
    pub fn load(&self, agent: &str) -> usize {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.get(agent).copied().unwrap_or(0)
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
        assert_eq!(a.pick(Some("social")).unwrap().id, "ann");
        assert_eq!(a.pick(Some("social")).unwrap().id, "bob");
        // ann is full now
        assert_eq!(a.pick(Some("social")).unwrap().id, "bob");
        assert!(a.pick(Some("social")).is_none());
        a.release("ann");
        assert_eq!(a.pick(Some("social")).unwrap().id, "ann");
        assert_eq!(a.pick(None).unwrap().id, "cy");
        assert_eq!(a.load("bob"), 2);
    }
}
