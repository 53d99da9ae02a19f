//! This process's counters in the Prometheus text format (served by the server's `/metrics`):
//! webhooks by provider and result, refused webhooks by reason, webhook latency, logins by
//! outcome, the database pool, the webhook writers' batches. Counters are kept in memory per
//! process (each instance is scraped on its own).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket bounds in microseconds, with their `le` labels in seconds.
const BUCKETS: [(u64, &str); 11] = [
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (5_000_000, "5"),
    (10_000_000, "10"),
];

#[derive(Debug, Default)]
pub struct Metrics {
    webhooks: Mutex<BTreeMap<(String, String, u16), u64>>,
    refused: Mutex<BTreeMap<(String, String), u64>>,
    logins: Mutex<BTreeMap<&'static str, u64>>,
    latency: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    *m.entry(key).or_insert(0) += 1;
}

/// A label value as Prometheus wants it: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// One answered webhook: its result (`finalized`, `duplicate`, `refused`, ...), status and
    /// how long it took.
    pub fn webhook(&self, provider: &str, result: &str, status: u16, took: Duration) {
        bump(&self.webhooks, (provider.to_string(), result.to_string(), status));
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        for (i, (bound, _)) in BUCKETS.iter().enumerate() {
            if us <= *bound {
                self.latency[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// A webhook refused before verification, by reason code.
    pub fn refused(&self, provider: &str, code: &str) {
        bump(&self.refused, (provider.to_string(), code.to_string()));
    }

    /// A login attempt: `ok`, `wrong_password`, `unknown_user`, `rate_limited`.
    pub fn login(&self, outcome: &'static str) {
        bump(&self.logins, outcome);
    }

    /// The text exposition, with the database pool's open and idle connections and the webhook
    /// writers' figures.
    pub fn render(&self, pool: (u32, u32), writers: &WriterFigures, database_up: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP payments_webhooks_total Webhooks answered, by provider, result and HTTP status.\n",
        );
        out.push_str("# TYPE payments_webhooks_total counter\n");
        for ((p, r, s), n) in self.webhooks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "payments_webhooks_total{{provider=\"{}\",result=\"{}\",status=\"{s}\"}} {n}",
                label(p),
                label(r)
            );
        }
        out.push_str("# HELP payments_webhook_verification_failures_total Webhooks refused before verification, by reason.\n");
        out.push_str("# TYPE payments_webhook_verification_failures_total counter\n");
        for ((p, c), n) in self.refused.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "payments_webhook_verification_failures_total{{provider=\"{}\",reason=\"{}\"}} {n}",
                label(p),
                label(c)
            );
        }
        out.push_str("# HELP payments_webhook_duration_seconds Time to answer a webhook.\n");
        out.push_str("# TYPE payments_webhook_duration_seconds histogram\n");
        for (i, (_, le)) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "payments_webhook_duration_seconds_bucket{{le=\"{le}\"}} {}",
                self.latency[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_sum_us.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "payments_webhook_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "payments_webhook_duration_seconds_sum {}.{:06}",
            sum / 1_000_000,
            sum % 1_000_000
        );
        let _ = writeln!(out, "payments_webhook_duration_seconds_count {count}");
        out.push_str("# HELP payments_logins_total Login attempts by outcome.\n");
        out.push_str("# TYPE payments_logins_total counter\n");
        for (o, n) in self.logins.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "payments_logins_total{{outcome=\"{o}\"}} {n}");
        }
        out.push_str("# HELP payments_db_pool_connections Database pool connections, open and idle.\n");
        out.push_str("# TYPE payments_db_pool_connections gauge\n");
        let _ = writeln!(out, "payments_db_pool_connections{{state=\"open\"}} {}", pool.0);
        let _ = writeln!(out, "payments_db_pool_connections{{state=\"idle\"}} {}", pool.1);
        let WriterFigures {
            batches,
            events,
            largest,
            set_based,
            set_based_undone,
        } = *writers;
        let scalars: [(&str, &str, &str, u64); 6] = [
            (
                "payments_webhook_batches_total",
                "counter",
                "Webhook batches committed by the writers.",
                batches,
            ),
            (
                "payments_webhook_batched_events_total",
                "counter",
                "Webhook events written in those batches.",
                events,
            ),
            (
                "payments_webhook_largest_batch",
                "gauge",
                "Most events committed in one batch since start.",
                largest,
            ),
            (
                "payments_webhook_set_based_batches_total",
                "counter",
                "Batches of plain payment successes written with one statement per kind of write.",
                set_based,
            ),
            (
                "payments_webhook_set_based_undone_total",
                "counter",
                "Batches tried set-based and undone (read out of date), then written event by event.",
                set_based_undone,
            ),
            (
                "payments_database_up",
                "gauge",
                "1 while the database answers, 0 while webhooks are answered 503 for want of it.",
                u64::from(database_up),
            ),
        ];
        for (name, kind, help, value) in scalars {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}

/// The webhook writers' figures since start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterFigures {
    /// Batches committed (one transaction, one sync each).
    pub batches: u64,
    /// Events written in them.
    pub events: u64,
    /// The most events in one batch.
    pub largest: u64,
    /// Batches written set-based (see `Store::set_based_batches`).
    pub set_based: u64,
    /// Batches tried set-based and undone.
    pub set_based_undone: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_counts_and_buckets() {
        let m = Metrics::default();
        m.webhook("dummy", "finalized", 200, Duration::from_millis(7));
        m.webhook("dummy", "refused", 400, Duration::from_millis(300));
        m.refused("dummy", "bad_signature");
        m.login("ok");
        let writers = WriterFigures {
            batches: 4,
            events: 9,
            largest: 3,
            set_based: 2,
            set_based_undone: 1,
        };
        let text = m.render((3, 2), &writers, false);
        assert!(text
            .contains("payments_webhooks_total{provider=\"dummy\",result=\"finalized\",status=\"200\"} 1"));
        assert!(text.contains("payments_webhook_duration_seconds_bucket{le=\"0.01\"} 1"));
        assert!(text.contains("payments_webhook_duration_seconds_bucket{le=\"0.5\"} 2"));
        assert!(text.contains("payments_webhook_duration_seconds_sum 0.307000"));
        assert!(text.contains(
            "payments_webhook_verification_failures_total{provider=\"dummy\",reason=\"bad_signature\"} 1"
        ));
        assert!(text.contains("payments_db_pool_connections{state=\"idle\"} 2"));
        assert!(text.contains("payments_webhook_batches_total 4\n"));
        assert!(text.contains("payments_webhook_batched_events_total 9\n"));
        assert!(text.contains("payments_webhook_largest_batch 3\n"));
        assert!(text.contains("payments_webhook_set_based_batches_total 2\n"));
        assert!(text.contains("payments_webhook_set_based_undone_total 1\n"));
        assert!(text.contains("payments_database_up 0\n"));
    }
}
