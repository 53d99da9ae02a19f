//! Refused webhooks, counted instead of recorded one by one. Anybody can send junk to the
//! webhook URL; what it leaves behind must not grow with the number of requests. Per (provider,
//! reason) and minute, the first refusal is audited and logged (its reason escaped and bounded);
//! the rest of that minute is only counted, and the count is audited once the minute is over.

use std::collections::HashMap;
use std::sync::Mutex;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The first of its kind this minute: audit and log it.
    First,
    /// Counted only.
    Counted,
}

/// A closed minute with refusals that were only counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub provider: String,
    pub code: String,
    /// Unix seconds of the minute's start.
    pub minute: i64,
    /// Refusals after the first one in that minute.
    pub more: u64,
}

#[derive(Debug, Default)]
pub struct Refusals {
    windows: Mutex<HashMap<(String, String), (i64, u64)>>,
}

/// Kinds of refusal tracked at once; junk cannot invent codes (they come from the adapters'
/// error types), this only bounds the map should that ever change.
const MAX_KINDS: usize = 256;

impl Refusals {
    /// Notes one refusal at `now` (unix seconds); returns what to do with it, and the summary of
    /// this kind's previous minute when that one ended with refusals only counted.
    pub fn note(&self, provider: &str, code: &str, now: i64) -> (Refusal, Option<Summary>) {
        let minute = now - now.rem_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_KINDS && !windows.contains_key(&(provider.to_string(), code.to_string())) {
            return (Refusal::Counted, None);
        }
        let window = windows
            .entry((provider.to_string(), code.to_string()))
            .or_insert((minute, 0));
        if window.0 == minute && window.1 > 0 {
            window.1 += 1;
            return (Refusal::Counted, None);
        }
        let previous = (window.1 > 1).then(|| Summary {
            provider: provider.to_string(),
            code: code.to_string(),
            minute: window.0,
            more: window.1 - 1,
        });
        *window = (minute, 1);
        (Refusal::First, previous)
    }

    /// Summaries of every minute that ended before `now` with refusals only counted; they are
    /// reported once.
    pub fn due(&self, now: i64) -> Vec<Summary> {
        let minute = now - now.rem_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        windows.retain(|(provider, code), (start, count)| {
            if *start >= minute {
                return true;
            }
            if *count > 1 {
                out.push(Summary {
                    provider: provider.clone(),
                    code: code.clone(),
                    minute: *start,
                    more: *count - 1,
                });
            }
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_kind_and_minute_then_one_count() {
        let r = Refusals::default();
        assert_eq!(r.note("dummy", "bad_signature", 600).0, Refusal::First);
        for s in 601..660 {
            assert_eq!(r.note("dummy", "bad_signature", s), (Refusal::Counted, None));
        }
        assert_eq!(r.note("dummy", "malformed_payload", 610).0, Refusal::First);
        assert!(r.due(659).is_empty(), "the minute is not over");
        let (first, summary) = r.note("dummy", "bad_signature", 660);
        assert_eq!(first, Refusal::First);
        assert_eq!(
            summary,
            Some(Summary {
                provider: "dummy".into(),
                code: "bad_signature".into(),
                minute: 600,
                more: 59
            })
        );
        // malformed_payload had one refusal only: nothing more to say; the new minute is open.
        assert!(r.due(700).is_empty());
        r.note("dummy", "bad_signature", 700);
        r.note("dummy", "bad_signature", 701);
        assert_eq!(
            r.due(720)[0].more,
            2,
            "660 opened the window, 700 and 701 were counted"
        );
        assert!(r.due(780).is_empty(), "reported once");
    }
}
