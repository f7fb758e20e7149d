//! Numbers and dates written straight into a `String`.
//!
//! `format!` and `write!` go through the formatting machinery (`fmt::write`, a call per
//! piece, padding): the dashboard's chart writes 150 numbers, its 30 day labels and ten call
//! times are dates, and with `format!` those were most of the page's own cost (callgrind:
//! ~60,000 instructions a dashboard for the dates alone, 5% of the server's work for it).

/// Appends `value` in decimal.
pub fn push_digits(out: &mut String, value: u64) {
    push_padded(out, value, 1);
}

/// Appends `value` in decimal, with leading zeros to at least `width` digits (at most 20,
/// the digits of `u64::MAX`).
pub fn push_padded(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // `value % 10` is below 10.
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let from = at.min(digits.len().saturating_sub(width));
    for &digit in &digits[from..] {
        out.push(char::from(digit));
    }
}

/// Appends `2026-01-31` (what `{:04}-{:02}-{:02}` of its year, month and day writes).
#[cfg(feature = "ssr")]
pub fn push_date(out: &mut String, day: chrono::NaiveDate) {
    use chrono::Datelike;
    push_ymd(
        out,
        i64::from(day.year()),
        i64::from(day.month()),
        i64::from(day.day()),
    );
}

/// Appends a year, month and day as `{:04}-{:02}-{:02}` writes them (negative years as
/// `-005`): what [`push_date`] and [`push_day`] both write.
fn push_ymd(out: &mut String, year: i64, month: i64, day: i64) {
    if year < 0 {
        out.push('-');
        push_padded(out, year.unsigned_abs(), 3);
    } else {
        push_padded(out, year.unsigned_abs(), 4);
    }
    out.push('-');
    push_padded(out, month.unsigned_abs(), 2);
    out.push('-');
    push_padded(out, day.unsigned_abs(), 2);
}

/// Days from 1970-01-01 to `text`, a `YYYY-MM-DD` day of the years 0000 to 9999 (the
/// proleptic Gregorian calendar, as PostgreSQL and chrono count it); `None` for anything
/// else. With [`push_day`], what lets the dashboard carry its chart's first day alone
/// (the rest follow, one a day) without a date library in the WASM bundle.
pub fn parse_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let number = |from: usize, to: usize| {
        bytes.get(from..to)?.iter().try_fold(0_i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Howard Hinnant's `days_from_civil`: years counted from March, in eras of 400 years.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Appends the day `days` after 1970-01-01 as `YYYY-MM-DD` (what [`push_date`] writes for
/// it, negative years as `-005`).
pub fn push_day(out: &mut String, days: i64) {
    // Hinnant's `civil_from_days`, the inverse of the above.
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    push_ymd(
        out,
        era * 400 + year_of_era + i64::from(month <= 2),
        month,
        day,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_full_and_padded_to_their_width() {
        for (value, width) in [
            (0, 1),
            (7, 2),
            (10, 2),
            (123, 2),
            (5, 4),
            (0, 3),
            (u64::MAX, 1),
        ] {
            let mut out = "kept ".to_owned();
            push_padded(&mut out, value, width);
            assert_eq!(out, format!("kept {value:0width$}"));
        }
        let mut out = String::new();
        push_digits(&mut out, 1_234_567_890);
        assert_eq!(out, "1234567890");
    }

    #[test]
    fn days_are_read_only_as_whole_valid_dates() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("1969-12-31"), Some(-1));
        assert_eq!(parse_day("2000-02-29"), Some(11_016));
        assert_eq!(parse_day("2026-12-04"), Some(20_791));
        for bad in [
            "",
            "2026-1-04",
            "2026-01-4 ",
            "2026/01/04",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-02-29",
            "1900-02-29",
            "2026-01-00",
            "+026-01-01",
            "２０２６-01-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn days_are_counted_and_written_as_chrono_does() {
        use chrono::NaiveDate;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
        // Every day of four centuries around now, and a sample of the rest of chrono's range.
        let days = (-400_000..400_000).chain((-3_000_000..3_000_000).step_by(997));
        for days in days {
            let Some(day) = epoch.checked_add_signed(chrono::TimeDelta::days(days)) else {
                continue;
            };
            let (mut ours, mut theirs) = (String::new(), String::new());
            push_day(&mut ours, days);
            push_date(&mut theirs, day);
            assert_eq!(ours, theirs, "day {days}");
            if (0..=9999).contains(&chrono::Datelike::year(&day)) {
                assert_eq!(parse_day(&ours), Some(days), "{ours}");
            }
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn dates_are_written_as_format_writes_them() {
        use chrono::{Datelike, NaiveDate};
        for (y, m, d) in [
            (2026, 1, 31),
            (987, 3, 4),
            (2026, 12, 1),
            (-5, 6, 7),
            (10_000, 1, 1),
        ] {
            let day = NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
            let mut out = String::new();
            push_date(&mut out, day);
            assert_eq!(
                out,
                format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
            );
        }
    }
}
