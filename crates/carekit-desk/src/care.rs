//! How conversations are cared for, built from desk.toml: business-hours
//! calendars (`[[calendars]]`), SLA policies (`[[sla]]` before `[desk]`'s
//! defaults) and assignment (`[assignment]` and `[[assignment.teams]]`).
//! Each check names its section, key and what is wrong.

use crate::DeskServerError;
use crate::config::{AssignmentConfig, CalendarConfig, DeskConfig, SlaConfig, StrategyConfig};
use carekit_core::desk::{Agent, AssignNew, AssignStrategy, Assigner};
use carekit_core::{Priority, SlaMetric, Visibility};
use carekit_policy::{BusinessCalendar, SlaPolicy, SlaSet};
use chrono::{Duration, NaiveDate, NaiveTime};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn bad(message: String) -> DeskServerError {
    DeskServerError::Config(message)
}

/// `HH:MM` (00:00 to 23:59), or `24:00` where `end_of_day` allows it (the
/// last instant of the day).
pub(crate) fn time_of_day(text: &str, end_of_day: bool) -> Result<NaiveTime, String> {
    let wrong = || format!("{text:?} is not a time of day (HH:MM, 00:00 to 23:59)");
    if end_of_day && text.trim() == "24:00" {
        return NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).ok_or_else(wrong);
    }
    let (h, m) = text.trim().split_once(':').ok_or_else(wrong)?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let h = two_digits(h).ok_or_else(wrong)?;
    let m = two_digits(m).ok_or_else(wrong)?;
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(wrong)
}

/// An IANA time zone, or an error naming where it was written.
pub(crate) fn time_zone(text: &str, at: &str) -> Result<chrono_tz::Tz, DeskServerError> {
    text.parse().map_err(|_| {
        bad(format!(
            "{at}: time_zone {text:?} is not an IANA time zone (such as \"Europe/Berlin\")"
        ))
    })
}

/// The teams desk.toml defines: those of `[assignment]` agents and
/// `[[assignment.teams]]`, and `[crisis] team`.
pub(crate) fn known_teams(config: &DeskConfig) -> BTreeSet<String> {
    let mut teams = BTreeSet::new();
    if let Some(a) = &config.assignment {
        teams.extend(a.agents.iter().filter_map(|agent| agent.team.clone()));
        teams.extend(a.teams.iter().map(|t| t.team.clone()));
    }
    if let Some(crisis) = &config.crisis {
        teams.insert(crisis.team.clone());
    }
    teams
}

/// An error unless `team` is one desk.toml defines.
pub(crate) fn check_team(config: &DeskConfig, team: &str, at: &str) -> Result<(), DeskServerError> {
    let known = known_teams(config);
    if known.contains(team) {
        return Ok(());
    }
    let list = if known.is_empty() {
        "none: define teams under [assignment] or [crisis]".to_owned()
    } else {
        known.into_iter().collect::<Vec<_>>().join(", ")
    };
    Err(bad(format!("{at}: unknown team {team:?} (teams: {list})")))
}

/// Every `[[calendars]]` entry, by name.
pub(crate) fn calendars(
    config: &DeskConfig,
) -> Result<BTreeMap<String, Arc<BusinessCalendar>>, DeskServerError> {
    let mut out = BTreeMap::new();
    for (i, c) in config.calendars.iter().enumerate() {
        let at = format!("[[calendars]] {:?} (entry {})", c.name, i + 1);
        if c.name.trim().is_empty() {
            return Err(bad(format!("[[calendars]] entry {}: name is empty", i + 1)));
        }
        let calendar = calendar(c, &at)?;
        if out.insert(c.name.clone(), Arc::new(calendar)).is_some() {
            return Err(bad(format!("{at}: name is used by another calendar")));
        }
    }
    Ok(out)
}

fn calendar(c: &CalendarConfig, at: &str) -> Result<BusinessCalendar, DeskServerError> {
    time_zone(&c.time_zone, at)?;
    let mut builder = BusinessCalendar::builder(c.time_zone.clone());
    for (key, day, periods) in c.hours.days() {
        for period in periods {
            let wrong = |why: String| bad(format!("{at}: hours.{key} {period:?}: {why}"));
            let (start, end) = period
                .split_once('-')
                .ok_or_else(|| wrong("expected HH:MM-HH:MM".into()))?;
            let start = time_of_day(start, false).map_err(wrong)?;
            let end = time_of_day(end, true).map_err(wrong)?;
            builder = builder.period(day, start, end);
        }
    }
    for holiday in &c.holidays {
        let date = NaiveDate::parse_from_str(holiday.trim(), "%Y-%m-%d").map_err(|_| {
            bad(format!(
                "{at}: holidays {holiday:?} is not a date (YYYY-MM-DD)"
            ))
        })?;
        builder = builder.holiday(date);
    }
    builder.build().map_err(|e| bad(format!("{at}: {e}")))
}

/// The desk's SLA policies: `[[sla]]` in order, then `[desk]`'s public and
/// private defaults, so the first that matches a conversation applies.
pub(crate) fn sla_set(config: &DeskConfig) -> Result<SlaSet, DeskServerError> {
    let calendars = calendars(config)?;
    let mut policies = Vec::new();
    let mut names = BTreeSet::new();
    for (i, s) in config.sla.iter().enumerate() {
        let at = format!("[[sla]] {:?} (entry {})", s.name, i + 1);
        if s.name.trim().is_empty() || matches!(s.name.as_str(), "public" | "private") {
            return Err(bad(format!(
                "[[sla]] entry {}: name {:?} is empty or taken by [desk]'s defaults (public, private)",
                i + 1,
                s.name
            )));
        }
        if !names.insert(s.name.clone()) {
            return Err(bad(format!("{at}: name is used by another policy")));
        }
        policies.push(sla_policy(config, s, &calendars, &at)?);
    }
    let d = &config.desk;
    let default = |name: &str, visibility: Visibility, minutes: i64| {
        let target = Duration::minutes(minutes.max(1));
        SlaPolicy::builder(name)
            .visibility(visibility)
            .target_all(SlaMetric::FirstResponse, target)
            .target_all(SlaMetric::NextResponse, target)
            .target(Priority::Urgent, SlaMetric::FirstResponse, target / 4)
            .target(Priority::High, SlaMetric::FirstResponse, target / 2)
            .warn_at(d.warn_at)
            .level(1.0, 2, Some("leads"))
            .build()
            .map_err(|e| bad(format!("[desk] SLA: {e}")))
    };
    policies.push(default(
        "public",
        Visibility::Public,
        d.public_first_response_minutes,
    )?);
    policies.push(default(
        "private",
        Visibility::Private,
        d.private_first_response_minutes,
    )?);
    SlaSet::new(policies).map_err(|e| bad(format!("[desk] SLA: {e}")))
}

fn sla_policy(
    config: &DeskConfig,
    s: &SlaConfig,
    calendars: &BTreeMap<String, Arc<BusinessCalendar>>,
    at: &str,
) -> Result<SlaPolicy, DeskServerError> {
    let mut builder = SlaPolicy::builder(s.name.clone());
    for channel in &s.channels {
        builder = builder.channel(*channel);
    }
    for priority in &s.priorities {
        builder = builder.priority(*priority);
    }
    for team in &s.teams {
        check_team(config, team, &format!("{at} teams"))?;
        builder = builder.team(team.clone());
    }
    let targets = [
        (
            "first_response_minutes",
            SlaMetric::FirstResponse,
            s.first_response_minutes,
        ),
        (
            "next_response_minutes",
            SlaMetric::NextResponse,
            s.next_response_minutes,
        ),
        (
            "resolution_minutes",
            SlaMetric::Resolution,
            s.resolution_minutes,
        ),
    ];
    if targets.iter().all(|(_, _, m)| m.is_none()) {
        return Err(bad(format!(
            "{at}: no target: set first_response_minutes, next_response_minutes or resolution_minutes"
        )));
    }
    for (key, metric, minutes) in targets {
        if let Some(minutes) = minutes {
            if minutes <= 0 {
                return Err(bad(format!("{at}: {key} must be above 0, not {minutes}")));
            }
            builder = builder.target_all(metric, Duration::minutes(minutes));
        }
    }
    let warn_at = s.warn_at.unwrap_or(config.desk.warn_at);
    if !(warn_at > 0.0 && warn_at < 1.0) {
        return Err(bad(format!(
            "{at}: warn_at must be between 0 and 1 (exclusive), not {warn_at}"
        )));
    }
    builder =
        builder
            .warn_at(warn_at)
            .level(1.0, 2, Some(s.escalate_to.as_deref().unwrap_or("leads")));
    if let Some(name) = &s.calendar {
        let calendar = calendars.get(name).ok_or_else(|| {
            let names: Vec<&str> = calendars.keys().map(String::as_str).collect();
            bad(format!(
                "{at}: calendar {name:?} is not a [[calendars]] entry (calendars: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })?;
        builder = builder.business_hours(calendar.clone());
    }
    builder.build().map_err(|e| bad(format!("{at}: {e}")))
}

/// The `[assignment]` agents (then each team's) and the rule assigning new
/// conversations, checked: ids unique and not empty, capacities above 0,
/// every team named exists and has agents.
pub(crate) fn assignment(
    config: &AssignmentConfig,
) -> Result<(Assigner, Option<AssignNew>), DeskServerError> {
    let mut seen = BTreeSet::new();
    let mut agents = Vec::new();
    let mut add = |at: &str, id: &str, capacity: usize, team: Option<&str>| {
        let id = id.trim();
        if id.is_empty() || !seen.insert(id.to_owned()) {
            return Err(bad(format!(
                "{at}: agent id {id:?} is empty or listed twice"
            )));
        }
        if capacity == 0 {
            return Err(bad(format!("{at}: agent {id:?} has capacity 0")));
        }
        let agent = Agent::new(id, capacity);
        agents.push(match team {
            Some(team) => agent.in_team(team),
            None => agent,
        });
        Ok(())
    };
    for a in &config.agents {
        add("[assignment] agents", &a.id, a.capacity, a.team.as_deref())?;
    }
    let mut teams = BTreeSet::new();
    for (i, t) in config.teams.iter().enumerate() {
        let at = format!("[[assignment.teams]] {:?} (entry {})", t.team, i + 1);
        if t.team.trim().is_empty() || !teams.insert(t.team.clone()) {
            return Err(bad(format!("{at}: team is empty or listed twice")));
        }
        for agent in &t.agents {
            add(
                &format!("{at} agents"),
                &agent.id,
                agent.capacity,
                Some(&t.team),
            )?;
        }
    }
    let has_agents = |team: &str| agents.iter().any(|a| a.team.as_deref() == Some(team));
    let mut routes: Vec<(carekit_core::ChannelKind, String)> = Vec::new();
    for (i, t) in config.teams.iter().enumerate() {
        let at = format!("[[assignment.teams]] {:?} (entry {})", t.team, i + 1);
        if !has_agents(&t.team) {
            return Err(bad(format!("{at}: the team has no agents")));
        }
        for channel in &t.channels {
            if let Some((_, other)) = routes.iter().find(|(c, _)| c == channel) {
                return Err(bad(format!(
                    "{at}: channels: {channel} already goes to team {other:?}"
                )));
            }
            routes.push((*channel, t.team.clone()));
        }
    }
    if let Some(team) = &config.team
        && !has_agents(team)
    {
        return Err(bad(format!("[assignment] team {team:?} has no agents")));
    }
    let mut assigner = Assigner::new(agents);
    for t in &config.teams {
        let strategy = match t.strategy {
            StrategyConfig::Capacity => AssignStrategy::Capacity,
            _ => AssignStrategy::RoundRobin,
        };
        assigner = assigner.team_strategy(t.team.clone(), strategy);
    }
    let rule = config.assign_new.then(|| {
        let rule = match &config.team {
            Some(team) => AssignNew::in_team(team.clone()),
            None => AssignNew::new(),
        };
        routes
            .into_iter()
            .fold(rule, |rule, (channel, team)| rule.route(channel, team))
    });
    Ok((assigner, rule))
}

#[cfg(test)]
mod tests {
    use super::{assignment, check_team, sla_set, time_of_day};
    use crate::config::DeskConfig;

    #[test]
    fn the_example_configs_calendars_sla_and_teams_are_valid() {
        let config =
            DeskConfig::from_toml_str(include_str!("../config/desk.example.toml")).unwrap();
        let set = sla_set(&config).unwrap();
        let now = chrono::Utc::now();
        let customer = carekit_core::Customer::new(
            carekit_core::Identity::new(carekit_core::ChannelKind::Email, "kim@example.com"),
            now,
        );
        let mut email = carekit_core::ConversationRecord::new(
            carekit_core::ChannelKind::Email,
            "",
            carekit_core::Visibility::Private,
            customer,
            now,
        );
        assert_eq!(set.policy_for(&email).unwrap().name(), "private");
        email.team = Some("email-care".into());
        assert_eq!(
            set.policy_for(&email).unwrap().name(),
            "email-business-hours"
        );
        assignment(config.assignment.as_ref().unwrap()).unwrap();
        for digest in &config.digest {
            check_team(&config, &digest.team, "[[digest]]").unwrap();
        }
    }

    #[test]
    fn times_of_day_are_read_strictly() {
        assert_eq!(time_of_day("09:30", false).unwrap().to_string(), "09:30:00");
        assert!(time_of_day("24:00", true).is_ok());
        for wrong in [
            "24:00",
            "25:00",
            "9:30",
            "09:60",
            "0930",
            "",
            "٠٩:٠٠",
            "09:3x",
        ] {
            let e = time_of_day(wrong, false).unwrap_err();
            assert!(e.contains("is not a time of day"), "{wrong}: {e}");
        }
    }
}
