//! Times and durations as people read them on pages, receipts and exports.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// `unix` seconds in `format` (UTC); the number itself when it is out of range.
fn formatted(unix: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `2026-11-26 15:40 UTC` from unix seconds.
pub fn format_time(unix: i64) -> String {
    formatted(
        unix,
        format_description!("[year]-[month]-[day] [hour]:[minute] UTC"),
    )
}

/// `2026-11-26T15:40:12Z` (ISO 8601, to the second) from unix seconds.
pub fn format_time_seconds(unix: i64) -> String {
    formatted(
        unix,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
    )
}

/// `2026-11-26 15:40:12 UTC` from unix seconds: to the second, and breakable at the space.
pub fn format_time_exact(unix: i64) -> String {
    formatted(
        unix,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"),
    )
}

/// `3h 05m 10s` from seconds.
pub fn format_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_people_write_them() {
        assert_eq!(format_time(1_764_171_612), "2025-11-26 15:40 UTC");
        assert_eq!(format_time_seconds(1_764_171_612), "2025-11-26T15:40:12Z");
        assert_eq!(format_time_exact(1_764_171_612), "2025-11-26 15:40:12 UTC");
        assert_eq!(format_time(i64::MAX), i64::MAX.to_string());
        assert_eq!(format_duration(3600 * 3 + 310), "3h 05m 10s");
        assert_eq!(format_duration(61), "1m 01s");
        assert_eq!(format_duration(9), "9s");
    }
}
