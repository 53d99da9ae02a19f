//! The application's settings read from variables ([`Settings::from_source`]), every problem
//! noted under its variable's name.

use std::time::Duration;

use payments_core::Currency;

use super::vars::{bounded_number, get_or, grab, minor_units, path_var, set, site_url};
use super::{ConfigError, IngestSettings, ReconcileSettings, Settings, Source};
use crate::logsafe::bounded;
use crate::receipts::Issuer;
use crate::usage::RateCard;

/// Where browsers and providers are sent when `SITE_BASE_URL` is not set (the server then
/// follows the address it really listens on).
pub const DEFAULT_SITE: &str = "http://127.0.0.1:8000";

impl Settings {
    /// `PAYMENT_CURRENCY`, `SITE_BASE_URL`, `PAYMENT_SUCCESS_PATH`, `PAYMENT_CANCEL_PATH`,
    /// `RATE_*`, `RECONCILE_*`, `CHECKOUT_LIFETIME_SECS`, `ISSUER_*` and `WEBHOOK_*`, or `None`
    /// with every problem noted.
    pub fn from_source(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Option<Settings> {
        let currency_text = get_or(src, "PAYMENT_CURRENCY", "THB");
        let currency = Currency::from_code(&currency_text).map_err(|e| ConfigError::Invalid {
            name: "PAYMENT_CURRENCY",
            value: bounded(&currency_text),
            expected: e.to_string(),
        });
        let site_text = src
            .get("SITE_BASE_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SITE.into());
        let site_base_url = site_url(&site_text).map_err(|expected| ConfigError::Invalid {
            name: "SITE_BASE_URL",
            value: bounded(&site_text),
            expected,
        });
        let currency = grab(currency, problems);
        let site_base_url = grab(site_base_url, problems);
        let ingest = ingest(src, problems);
        let issuer = issuer(src, problems);
        let success_path = grab(
            path_var(src, "PAYMENT_SUCCESS_PATH", "/payments/thanks"),
            problems,
        );
        let cancel_path = grab(path_var(src, "PAYMENT_CANCEL_PATH", "/me"), problems);
        let cpu_core_hour = grab(minor_units(src, "RATE_CPU_CORE_HOUR", 100), problems);
        let gpu_hour = grab(minor_units(src, "RATE_GPU_HOUR", 5000), problems);
        let reconcile = reconcile(src, problems);
        Some(Settings {
            site_base_url: site_base_url?,
            success_path: success_path?,
            cancel_path: cancel_path?,
            rates: RateCard {
                cpu_core_hour: cpu_core_hour?,
                gpu_hour: gpu_hour?,
                currency: currency?,
            },
            issuer,
            reconcile: reconcile?,
            ingest: ingest?,
        })
    }
}

/// `WEBHOOK_QUEUE_LIMIT`, `WEBHOOK_QUEUE_WAIT_MS`, `WEBHOOK_WRITERS`.
fn ingest(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Option<IngestSettings> {
    let limit = grab(
        bounded_number(src, "WEBHOOK_QUEUE_LIMIT", 1024, 1, 1_000_000),
        problems,
    );
    let wait_ms = grab(
        bounded_number(src, "WEBHOOK_QUEUE_WAIT_MS", 2000, 1, 600_000),
        problems,
    );
    let writers = match set(src, "WEBHOOK_WRITERS") {
        Some(_) => Some(grab(bounded_number(src, "WEBHOOK_WRITERS", 1, 1, 64), problems)?),
        None => None,
    };
    Some(IngestSettings {
        queue_limit: usize::try_from(limit?).unwrap_or(usize::MAX),
        queue_wait: Duration::from_millis(wait_ms?),
        writers: writers.map(|n| usize::try_from(n).unwrap_or(1)),
    })
}

/// `RECONCILE_*` and `CHECKOUT_LIFETIME_SECS`, each problem noted.
fn reconcile(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Option<ReconcileSettings> {
    let d = ReconcileSettings::default();
    let interval = grab(
        bounded_number(src, "RECONCILE_INTERVAL_SECS", d.interval_secs, 0, 86_400),
        problems,
    );
    let after = grab(
        bounded_number(src, "RECONCILE_AFTER_SECS", d.after_secs, 60, 7 * 86_400),
        problems,
    );
    let lifetime = grab(
        bounded_number(
            src,
            "CHECKOUT_LIFETIME_SECS",
            d.checkout_lifetime_secs,
            300,
            30 * 86_400,
        ),
        problems,
    );
    let rate = grab(
        bounded_number(src, "RECONCILE_RATE", u64::from(d.rate_per_sec), 1, 100),
        problems,
    );
    let (interval, after, lifetime, rate) = (interval?, after?, lifetime?, rate?);
    if lifetime < after {
        problems.push(ConfigError::Invalid {
            name: "CHECKOUT_LIFETIME_SECS",
            value: lifetime.to_string(),
            expected: format!(
                "at least RECONCILE_AFTER_SECS ({after}): a checkout is looked up at the provider before it is expired"
            ),
        });
        return None;
    }
    Some(ReconcileSettings {
        interval_secs: interval,
        after_secs: after,
        checkout_lifetime_secs: lifetime,
        rate_per_sec: u32::try_from(rate).unwrap_or(d.rate_per_sec),
    })
}

/// `ISSUER_*`, each problem noted under its variable's name.
fn issuer(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Issuer {
    let invalid = |name: &'static str, value: &str, expected: String| ConfigError::Invalid {
        name,
        value: bounded(value),
        expected,
    };
    let mut out = Issuer::default();
    if let Some(name) = set(src, "ISSUER_NAME") {
        match Issuer::check_name(&name) {
            Ok(name) => out.name = Some(name),
            Err(e) => problems.push(invalid("ISSUER_NAME", &name, e)),
        }
    }
    if let Some(address) = set(src, "ISSUER_ADDRESS") {
        match Issuer::parse_address(&address) {
            Ok(lines) => out.address = lines,
            Err(e) => problems.push(invalid("ISSUER_ADDRESS", &address, e)),
        }
    }
    if let Some(tax_id) = set(src, "ISSUER_TAX_ID") {
        match Issuer::check_tax_id(&tax_id) {
            Ok(id) => out.tax_id = Some(id),
            Err(e) => problems.push(invalid("ISSUER_TAX_ID", &tax_id, e)),
        }
    }
    let other_given = src.get("ISSUER_ADDRESS").is_some_and(|v| !v.trim().is_empty())
        || src.get("ISSUER_TAX_ID").is_some_and(|v| !v.trim().is_empty());
    if set(src, "ISSUER_NAME").is_none() && other_given {
        problems.push(ConfigError::Missing {
            name: "ISSUER_NAME",
            expected: "the organisation's name, since ISSUER_ADDRESS or ISSUER_TAX_ID is set",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> (Option<Settings>, Vec<ConfigError>) {
        let src: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut problems = Vec::new();
        (Settings::from_source(&src, &mut problems), problems)
    }

    #[test]
    fn defaults_without_variables() {
        let (settings, problems) = read(&[]);
        let s = settings.expect("settings");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.site_base_url, DEFAULT_SITE);
        assert_eq!(
            (s.rates.cpu_core_hour, s.rates.gpu_hour, s.rates.currency.code()),
            (100, 5000, "THB")
        );
        assert_eq!(s.reconcile, ReconcileSettings::default());
        assert_eq!(
            (s.ingest.writers_for("sqlite"), s.ingest.writers_for("postgres")),
            (1, 2)
        );
    }

    #[test]
    fn every_problem_is_named_under_its_variable() {
        let (settings, problems) = read(&[
            ("PAYMENT_CURRENCY", "XXQ"),
            ("SITE_BASE_URL", "ftp://x"),
            ("RATE_GPU_HOUR", "-1"),
            ("WEBHOOK_WRITERS", "0"),
            ("CHECKOUT_LIFETIME_SECS", "600"),
            ("ISSUER_TAX_ID", "<script>"),
        ]);
        assert!(settings.is_none());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        for name in [
            "PAYMENT_CURRENCY",
            "SITE_BASE_URL",
            "RATE_GPU_HOUR",
            "WEBHOOK_WRITERS",
            "CHECKOUT_LIFETIME_SECS",
            "ISSUER_TAX_ID",
        ] {
            assert!(
                text.iter().any(|t| t.starts_with(name)),
                "{name} not named in {text:#?}"
            );
        }
    }
}
