//! Refused webhooks in the audit log and the log, bounded: nothing of the request but an
//! escaped reason, its claimed event id and its size; per reason and minute one record and one
//! log line, then a count (see `refusals`).

use payments_core::WebhookRequest;
use payments_store::NewAudit;
use serde_json::json;

use super::refusals::{Refusal, Summary};
use crate::format::format_time;
use crate::logsafe::{bounded, clean};
use crate::App;

/// The event id a refused body claims, for the audit log only (never trusted, never stored as a
/// key), escaped and bounded.
fn claimed_event_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("id").and_then(|id| id.as_str()).map(|s| clean(s, 100))
}

/// Audits and logs a refused webhook (the first of its kind this minute; the rest are counted).
/// `false`, with nothing counted: the database does not answer, so the refusal could not be
/// audited; the sender is to be told to retry later (a genuine sender's redelivery is then
/// refused and audited once the database is back, and nothing waits for the pool meanwhile).
#[must_use]
pub(super) async fn audit_refused(
    app: &App,
    provider: &'static str,
    request: &WebhookRequest,
    reason: &str,
    code: &str,
) -> bool {
    if !app.ingest().database_up() {
        tracing::warn!(provider, code, "a webhook was refused while the database does not answer; answered retry-later so that it is audited when delivered again");
        return false;
    }
    let reason = bounded(reason);
    app.metrics().refused(provider, code);
    let (refusal, previous) = app.refusals().note(provider, code, request.received_at);
    let mut entries: Vec<NewAudit> = previous.iter().map(refusal_summary).collect();
    if refusal == Refusal::First {
        tracing::warn!(provider, error = %reason, code, "webhook refused (further ones of this kind are counted for the rest of the minute)");
        entries.push(NewAudit::new(
            &format!("provider:{provider}"),
            "payment.webhook",
            format!(
                "event {}",
                claimed_event_id(&request.body).unwrap_or_else(|| "(unknown)".into())
            ),
            json!({
                "provider": provider,
                "signature": format!("❌ {reason}"),
                "error": code,
                "body_bytes": request.body.len(),
                "outcome": "refused",
            }),
        ));
    }
    for entry in entries {
        if let Err(e) = app.db(move |s| s.append_audit(&entry)).await {
            tracing::error!(error = %e, "could not audit a refused webhook");
        }
    }
    true
}

/// The audit record of refusals that were only counted during one minute.
fn refusal_summary(s: &Summary) -> NewAudit {
    let minute = format_time(s.minute);
    tracing::warn!(provider = %s.provider, code = %s.code, count = s.more, "{} more webhooks refused in the minute from {minute}", s.more);
    NewAudit::new(
        &format!("provider:{}", s.provider),
        "payment.webhook",
        format!("{} more refused in the minute from {minute}", s.more),
        json!({
            "provider": s.provider,
            "signature": "❌",
            "error": s.code,
            "count": s.more,
            "minute": s.minute,
            "outcome": "refused",
        }),
    )
}

/// Audits the counted refusals of every minute that is over (called every few seconds).
pub async fn flush_refusals(app: &App) {
    for summary in app.refusals().due(payments_core::unix_now()) {
        let entry = refusal_summary(&summary);
        if let Err(e) = app.db(move |s| s.append_audit(&entry)).await {
            tracing::error!(error = %e, "could not audit refused webhooks");
        }
    }
}
