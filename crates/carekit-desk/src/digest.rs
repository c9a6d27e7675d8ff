//! `[[digest]]`: each team's digest of new mentions and SLA alerts, run by
//! the server on its schedule in the team's time zone. The time is the
//! desk's clock; when each digest last went out is kept in the store's
//! key-value ledger (`desk.digest.<team>.<schedule>`), claimed before sending, so a restart
//! or a second worker on the same store never sends one twice.

use crate::DeskServerError;
use crate::care::{check_team, time_of_day, time_zone};
use crate::config::{DeskConfig, DigestConfig, DigestCovers, Secrets};
use crate::server::{self, Background};
use carekit_core::{Channel, ChannelKind, Desk, Identity};
use carekit_insight::digest::{ChannelDigestSender, DigestSchedule, DigestSender, Digester};
use std::sync::Arc;

/// One configured digest: its team (for the log) and the digester.
pub(crate) struct TeamDigest {
    team: String,
    digester: Digester,
}

/// The digesters `[[digest]]` asks for, checked: a known team, a real time
/// zone, exactly one schedule (`daily_at` as `HH:MM`, or `every_hours`
/// above 0), and exactly one way to reach people (`route` naming a
/// `[[notify]]` entry, or `to` addresses through `[email]`).
pub(crate) fn from_config(
    config: &DeskConfig,
    secrets: &Secrets,
    channels: &[Arc<dyn Channel>],
) -> Result<Vec<TeamDigest>, DeskServerError> {
    let mut cursors = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, d) in config.digest.iter().enumerate() {
        let at = format!("[[digest]] team {:?} (entry {})", d.team, i + 1);
        let bad = |why: String| DeskServerError::Config(format!("{at}: {why}"));
        check_team(config, &d.team, &at)?;
        let zone = time_zone(&d.time_zone, &at)?;
        let (schedule, when) = schedule(d, zone, &at)?;
        let cursor = format!("desk.digest.{}.{when}", d.team);
        if !cursors.insert(cursor.clone()) {
            return Err(bad(format!(
                "the same team and schedule as another entry ({when})"
            )));
        }
        let sender: Arc<dyn DigestSender> = match (&d.route, d.to.is_empty()) {
            (Some(route), true) => {
                crate::notify::digest_sender(route, &at, config, secrets, channels)?
            }
            (None, false) => {
                if let Some(wrong) = d.to.iter().find(|a| !a.contains('@')) {
                    return Err(bad(format!("to: {wrong:?} is not an email address")));
                }
                let email = crate::notify::email_channel(channels).ok_or_else(|| {
                    bad("`to` sends through [email], which is not configured".into())
                })?;
                let to =
                    d.to.iter()
                        .map(|a| Identity::new(ChannelKind::Email, a.clone()))
                        .collect();
                Arc::new(ChannelDigestSender::new(email, to))
            }
            _ => {
                return Err(bad(
                    "give exactly one of `route` (a [[notify]] name) or `to` (email addresses)"
                        .into(),
                ));
            }
        };
        let mut builder = Digester::builder(sender)
            .schedule(schedule)
            .cursor(cursor)
            .send_empty(d.send_empty)
            .time_zone(zone);
        if d.covers == DigestCovers::Team {
            builder = builder.team(d.team.clone());
        }
        out.push(TeamDigest {
            team: d.team.clone(),
            digester: builder.build().map_err(|e| bad(e.to_string()))?,
        });
    }
    Ok(out)
}

/// The schedule, and a short name for it (part of the cursor's name).
fn schedule(
    d: &DigestConfig,
    zone: chrono_tz::Tz,
    at: &str,
) -> Result<(DigestSchedule, String), DeskServerError> {
    let bad = |why: String| DeskServerError::Config(format!("{at}: {why}"));
    match (&d.daily_at, d.every_hours) {
        (Some(daily), None) => {
            let time = time_of_day(daily, false).map_err(|e| bad(format!("daily_at {e}")))?;
            Ok((
                DigestSchedule::daily_at_in(time, zone),
                format!("daily-{}-{}", time.format("%H:%M"), zone.name()),
            ))
        }
        (None, Some(hours)) if hours > 0 => Ok((
            DigestSchedule::every_hours(hours),
            format!("every-{hours}h"),
        )),
        (None, Some(hours)) => Err(bad(format!("every_hours must be above 0, not {hours}"))),
        _ => Err(bad(
            "give exactly one schedule: daily_at = \"HH:MM\" or every_hours".into(),
        )),
    }
}

/// Runs every digest that is due, checking the desk's clock every `poll`
/// of real time (so a virtual clock works the same). A failed send is
/// logged and retried at the next check: the digester gave its period back.
pub(crate) fn digest_loop(
    desk: &Desk,
    digests: Vec<TeamDigest>,
    poll: std::time::Duration,
) -> Option<Background> {
    if digests.is_empty() {
        return None;
    }
    let desk = desk.clone();
    Some(Box::new(move |stop: server::Shutdown| {
        Box::pin(async move {
            let stopped = stop.wait();
            tokio::pin!(stopped);
            loop {
                for d in &digests {
                    match d.digester.run_due(&desk).await {
                        Ok(Some(digest)) => tracing::info!(
                            team = %d.team,
                            until = %digest.until,
                            mentions = digest.mentions.len(),
                            sla_alerts = digest.sla.len(),
                            "team digest sent"
                        ),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(team = %d.team, error = %e, "team digest failed"),
                    }
                }
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        })
    }))
}
