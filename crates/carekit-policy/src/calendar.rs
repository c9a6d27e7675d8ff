//! Business hours in a time zone. Periods are local wall-clock times,
//! converted to instants per day, so a DST change moves them correctly.

use crate::PolicyError;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Working hours: periods per weekday, holidays, a time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessCalendar {
    tz: Tz,
    week: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Builds a [`BusinessCalendar`]; checked when built.
#[derive(Clone, Debug)]
pub struct BusinessCalendarBuilder {
    tz: String,
    week: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Days looked at before giving up on finding working time (10 years).
const HORIZON_DAYS: i64 = 3660;

impl BusinessCalendar {
    /// A calendar in the IANA zone `tz` (`"Europe/London"`).
    pub fn builder(tz: impl Into<String>) -> BusinessCalendarBuilder {
        BusinessCalendarBuilder {
            tz: tz.into(),
            week: Default::default(),
            holidays: BTreeSet::new(),
        }
    }

    /// The time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Working periods of a local date, as UTC instants.
    fn periods(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        self.week[date.weekday().num_days_from_monday() as usize]
            .iter()
            .map(|(start, end)| {
                (
                    self.instant(date, *start, true),
                    self.instant(date, *end, false),
                )
            })
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// A local time on a date as an instant. In a DST gap the time does not
    /// exist: take the first instant after the gap. In an overlap it exists
    /// twice: starts take the earlier, ends the later.
    fn instant(&self, date: NaiveDate, time: NaiveTime, start: bool) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.to_utc(),
            LocalResult::Ambiguous(a, b) => if start { a.min(b) } else { a.max(b) }.to_utc(),
            LocalResult::None => {
                let mut probe = local;
                for _ in 0..180 {
                    probe += Duration::minutes(1);
                    if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                        return t.to_utc();
                    }
                }
                Utc.from_utc_datetime(&local)
            }
        }
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Working time between two instants (zero if `b <= a`).
    pub fn working_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut date = self.local_date(a) - Duration::days(1);
        let last = self.local_date(b) + Duration::days(1);
        while date <= last {
            for (s, e) in self.periods(date) {
                let (s, e) = (s.max(a), e.min(b));
                if e > s {
                    total += e - s;
                }
            }
            date += Duration::days(1);
        }
        total
    }

    /// The instant when `amount` of working time has passed after `start`.
    pub fn add_working(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount <= Duration::zero() {
            return start;
        }
        let mut remaining = amount;
        let mut date = self.local_date(start) - Duration::days(1);
        for _ in 0..HORIZON_DAYS {
            for (s, e) in self.periods(date) {
                let s = s.max(start);
                if e <= s {
                    continue;
                }
                if remaining <= e - s {
                    return s + remaining;
                }
                remaining -= e - s;
            }
            date += Duration::days(1);
        }
        DateTime::<Utc>::MAX_UTC
    }
}

fn day_name(day: usize) -> String {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][day]
        .to_string()
}

impl BusinessCalendarBuilder {
    /// Adds a working period on `day` (local times; `end` after `start`).
    pub fn period(mut self, day: Weekday, start: NaiveTime, end: NaiveTime) -> Self {
        self.week[day.num_days_from_monday() as usize].push((start, end));
        self
    }

    /// Adds the same period Monday to Friday.
    pub fn weekdays(mut self, start: NaiveTime, end: NaiveTime) -> Self {
        for day in 0..5 {
            self.week[day].push((start, end));
        }
        self
    }

    /// A day off (local date).
    pub fn holiday(mut self, date: NaiveDate) -> Self {
        self.holidays.insert(date);
        self
    }

    /// Checks and builds: a known zone, non-empty and non-overlapping periods,
    /// some working time.
    pub fn build(mut self) -> Result<BusinessCalendar, PolicyError> {
        let tz: Tz = self
            .tz
            .parse()
            .map_err(|_| PolicyError::UnknownTimeZone(self.tz.clone()))?;
        for (day, periods) in self.week.iter_mut().enumerate() {
            periods.sort();
            for (start, end) in periods.iter() {
                if end <= start {
                    return Err(PolicyError::EmptyPeriod {
                        day: day_name(day),
                        start: start.to_string(),
                        end: end.to_string(),
                    });
                }
            }
            for pair in periods.windows(2) {
                if pair[1].0 < pair[0].1 {
                    return Err(PolicyError::OverlappingPeriods {
                        day: day_name(day),
                        first: format!("{}–{}", pair[0].0, pair[0].1),
                        second: format!("{}–{}", pair[1].0, pair[1].1),
                    });
                }
            }
        }
        if self.week.iter().all(Vec::is_empty) {
            return Err(PolicyError::NoWorkingHours);
        }
        Ok(BusinessCalendar {
            tz,
            week: self.week,
            holidays: self.holidays,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }
    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn skips_the_weekend_and_a_holiday() {
        let cal = BusinessCalendar::builder("America/New_York")
            .weekdays(hm(9, 0), hm(17, 0))
            .holiday(NaiveDate::from_ymd_opt(2026, 1, 19).unwrap()) // MLK day, a Monday
            .build()
            .unwrap();
        // Friday 16:00 New York (21:00Z) + 2 working hours → Tuesday 10:00 (15:00Z).
        let due = cal.add_working(utc("2026-01-16T21:00:00Z"), Duration::hours(2));
        assert_eq!(due, utc("2026-01-20T15:00:00Z"));
        assert_eq!(
            cal.working_between(utc("2026-01-16T21:00:00Z"), due),
            Duration::hours(2)
        );
    }

    #[test]
    fn several_periods_a_day() {
        let cal = BusinessCalendar::builder("UTC")
            .weekdays(hm(9, 0), hm(12, 0))
            .weekdays(hm(13, 0), hm(17, 0))
            .build()
            .unwrap();
        assert_eq!(
            cal.add_working(utc("2026-03-02T11:30:00Z"), Duration::hours(1)),
            utc("2026-03-02T13:30:00Z")
        );
    }

    #[test]
    fn dst_changes_in_london_and_new_york() {
        // London springs forward on 2026-03-29: 09:00 local is 08:00Z before, 08:00Z... after: 08:00Z = 09:00 BST.
        let london = BusinessCalendar::builder("Europe/London")
            .weekdays(hm(9, 0), hm(17, 0))
            .build()
            .unwrap();
        // Friday 27 March 16:30 GMT + 1h → Monday 30 March 09:30 BST = 08:30Z.
        assert_eq!(
            london.add_working(utc("2026-03-27T16:30:00Z"), Duration::hours(1)),
            utc("2026-03-30T08:30:00Z")
        );
        // A 24/7 calendar across the spring-forward night has one hour less.
        let always = BusinessCalendar::builder("Europe/London")
            .period(
                Weekday::Sat,
                hm(0, 0),
                NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
            )
            .period(
                Weekday::Sun,
                hm(0, 0),
                NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
            )
            .build()
            .unwrap();
        let sunday =
            always.working_between(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T23:00:00Z"));
        assert_eq!(sunday, Duration::hours(23) - Duration::nanoseconds(1));
        // New York falls back on 2026-11-01; the working day of Monday 2 November is 09:00–17:00 EST = 14:00Z–22:00Z.
        let ny = BusinessCalendar::builder("America/New_York")
            .weekdays(hm(9, 0), hm(17, 0))
            .build()
            .unwrap();
        assert_eq!(
            ny.add_working(utc("2026-10-30T20:00:00Z"), Duration::hours(2)),
            utc("2026-11-02T15:00:00Z")
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert_eq!(
            BusinessCalendar::builder("Mars/Olympus")
                .weekdays(hm(9, 0), hm(17, 0))
                .build(),
            Err(PolicyError::UnknownTimeZone("Mars/Olympus".into()))
        );
        assert!(matches!(
            BusinessCalendar::builder("UTC")
                .weekdays(hm(9, 0), hm(13, 0))
                .weekdays(hm(12, 0), hm(17, 0))
                .build(),
            Err(PolicyError::OverlappingPeriods { .. })
        ));
        assert!(matches!(
            BusinessCalendar::builder("UTC")
                .weekdays(hm(17, 0), hm(9, 0))
                .build(),
            Err(PolicyError::EmptyPeriod { .. })
        ));
        assert_eq!(
            BusinessCalendar::builder("UTC").build(),
            Err(PolicyError::NoWorkingHours)
        );
    }
}
