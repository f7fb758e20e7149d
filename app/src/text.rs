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
    let year = day.year();
    if year < 0 {
        out.push('-');
        push_padded(out, u64::from(year.unsigned_abs()), 3);
    } else {
        push_padded(out, u64::from(year.unsigned_abs()), 4);
    }
    out.push('-');
    push_padded(out, u64::from(day.month()), 2);
    out.push('-');
    push_padded(out, u64::from(day.day()), 2);
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
