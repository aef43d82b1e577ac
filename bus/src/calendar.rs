//! Working days, for due dates: the civil service works Monday to Friday, except public holidays
//! (Tết and the others, decided each year) and with the odd Saturday worked in exchange for a
//! bridged day. Both lists are data (`[calendar]` in `config/procedures.toml`).

use std::collections::BTreeSet;

use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// Vietnam's time (UTC+7, no daylight saving): days, months and office hours are local.
pub const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+7 is a valid offset"),
};

/// When the office closes: a due date is the end of a working day.
const CLOSING: Time = time::macros::time!(17:00);

/// Most working days a procedure may take: a year and more is a typing error.
pub const MAX_PROCESSING_DAYS: u32 = 400;

/// `[calendar]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Public holidays and days off in lieu, YYYY-MM-DD.
    #[serde(default, deserialize_with = "dates")]
    pub holidays: BTreeSet<Date>,
    /// Weekend days worked in exchange for a bridged day, YYYY-MM-DD.
    #[serde(default, deserialize_with = "dates")]
    pub working_weekends: BTreeSet<Date>,
}

fn dates<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeSet<Date>, D::Error> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            Date::parse(text, format)
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a date YYYY-MM-DD")))
        })
        .collect()
}

impl Calendar {
    pub fn is_working_day(&self, day: Date) -> bool {
        if self.holidays.contains(&day) {
            return false;
        }
        let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
        !weekend || self.working_weekends.contains(&day)
    }

    /// The due date of a dossier received at `received` that the procedure gives `days` working
    /// days: the close of the `days`-th working day after the day it was received (the day of
    /// receipt is not counted, as the time limits of administrative procedures are reckoned).
    pub fn due(&self, received: OffsetDateTime, days: u32) -> OffsetDateTime {
        let mut day = received.to_offset(VIETNAM).date();
        let mut left = days.min(MAX_PROCESSING_DAYS);
        while left > 0 {
            day = day.next_day().unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        PrimitiveDateTime::new(day, CLOSING).assume_offset(VIETNAM)
    }

    /// Working days from `due` to `done` (0 when `done` is not after `due`'s day): how late.
    pub fn working_days_late(&self, due: OffsetDateTime, done: OffsetDateTime) -> u32 {
        let (mut day, last) = (due.to_offset(VIETNAM).date(), done.to_offset(VIETNAM).date());
        let mut late = 0;
        while day < last {
            day += Duration::days(1);
            late += u32::from(self.is_working_day(day));
        }
        late
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn five_working_days_from_a_friday_end_the_next_friday() {
        let calendar = Calendar::default();
        let due = calendar.due(datetime!(2026-11-20 08:30 +07:00), 5);
        assert_eq!(due, datetime!(2026-11-27 17:00 +07:00));
        assert_eq!(calendar.due(datetime!(2026-11-20 10:00 +07:00), 3), datetime!(2026-11-25 17:00 +07:00));
    }

    #[test]
    fn holidays_are_skipped_and_a_worked_saturday_counts() {
        let calendar = Calendar {
            holidays: [date!(2026 - 09 - 01), date!(2026 - 09 - 02)].into(),
            working_weekends: [date!(2026 - 09 - 05)].into(),
        };
        // Received Monday 31 August; Tuesday and Wednesday are National Day; Saturday is worked.
        let due = calendar.due(datetime!(2026-08-31 09:00 +07:00), 3);
        assert_eq!(due, datetime!(2026-09-05 17:00 +07:00));
    }

    #[test]
    fn the_day_is_reckoned_in_vietnam() {
        // 20:00 UTC on the 19th is 03:00 on Friday the 20th in Hà Nội.
        let due = Calendar::default().due(datetime!(2026-11-19 20:00 UTC), 1);
        assert_eq!(due, datetime!(2026-11-23 17:00 +07:00));
    }

    #[test]
    fn lateness_counts_working_days_only() {
        let calendar = Calendar::default();
        let due = datetime!(2026-11-27 17:00 +07:00);
        assert_eq!(calendar.working_days_late(due, datetime!(2026-11-27 16:00 +07:00)), 0);
        assert_eq!(calendar.working_days_late(due, datetime!(2026-11-30 09:00 +07:00)), 1);
        assert_eq!(calendar.working_days_late(due, datetime!(2026-12-02 09:00 +07:00)), 3);
    }
}
