//! Webhook ingest: verify (the adapter), queue to the writers, record and act in one
//! transaction per batch (the store), capture where the provider needs it, and say what the
//! sender is to be told. Every path is audited; refusals per kind and minute.

pub mod capture;
pub mod ingest;
pub mod refusals;
mod refused;
mod reply;
mod text;

use std::sync::Arc;

use payments_core::{EventKind, PaymentProvider, SignatureVerdict, WebhookError, WebhookRequest};
use payments_store::{EventOutcome, VerifiedEvent};

pub use refused::flush_refusals;
pub use reply::{Answer, WebhookReply};

use crate::logsafe::bounded;
use crate::App;
use ingest::IngestError;
use reply::{reply_for, store_failure};

/// A provider that reports only its refunded total (Mollie) says nothing about which refund
/// moved: the payment's refund rows are settled from its refund list, in the background (the
/// webhook's answer does not wait for another call to the provider; reconciliation does the
/// same later if this fails).
fn settle_refund_rows_later(app: &App, event: &payments_core::WebhookEvent) {
    if !app
        .provider(&event.provider)
        .is_ok_and(|p| p.capabilities().list_refunds)
    {
        return;
    }
    let app = app.clone();
    let (provider, external, references, payment_ref) = (
        event.provider.clone(),
        event.external_payment_id.clone(),
        event.references.clone(),
        event.payment_ref.clone(),
    );
    tokio::spawn(async move {
        let found = app
            .db(move |s| {
                s.payment_for_event(
                    &provider,
                    external.as_deref(),
                    &references,
                    payment_ref.as_deref(),
                )
            })
            .await;
        let payment = match found {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not find the payment of a refund total");
                return;
            }
        };
        let actor = format!("provider:{}", payment.provider);
        if let Err(e) = crate::refunds::sync_payment(&app, &payment, &actor).await {
            tracing::warn!(payment = %payment.public_id, error = %e, "could not settle refunds from the provider's list; reconciliation tries again");
        }
    });
}

/// A refund or dispute naming only provider ids we never stored (Stripe's PaymentIntent or
/// charge of a payment finalized from its Checkout Session): the provider is asked which payment
/// they belong to (`fetch_payment`, whose answer echoes our payment id), the ids are remembered,
/// and the event (left unprocessed) is processed again. `None`: nothing learned.
async fn learn_payment_and_retry(
    app: &App,
    event: &payments_core::WebhookEvent,
    again: VerifiedEvent,
) -> Option<EventOutcome> {
    let provider = app.provider(&event.provider).ok()?.clone();
    if !provider.capabilities().fetch_payment {
        return None;
    }
    let id = event.external_payment_id.clone()?;
    let snapshot = match provider.fetch_payment(&id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(event = %event.event_id, id, error = %e, "could not look up the payment an event names");
            return None;
        }
    };
    let payment_ref = snapshot.payment_ref.clone()?;
    let mut references = vec![id, snapshot.external_id.clone()];
    references.extend(snapshot.references.iter().cloned());
    references.extend(event.references.iter().cloned());
    let name = provider.name();
    let learned = app
        .db(move |s| s.learn_references(&payment_ref, name, &references))
        .await
        .ok()?;
    if !learned {
        return None;
    }
    tracing::info!(event = %event.event_id, "learned the payment of an event from the provider; processing it again");
    app.ingest().submit(again).await.ok()
}

/// 503 with `Retry-After`: nothing of the webhook was written.
fn retry_later(app: &App, message: String) -> WebhookReply {
    let mut reply = WebhookReply::new(Answer::RetryLater, "retry_later", message);
    reply.retry_after = Some(app.ingest().retry_after_secs());
    reply
}

/// A webhook that could not be audited because the database does not answer.
fn database_down(app: &App) -> WebhookReply {
    let since = app.ingest().availability().since_last_answer();
    retry_later(app, IngestError::DatabaseDown(since).to_string())
}

/// Verifies, records and acts on one webhook delivered to `provider`'s URL (the adapter that
/// verifies it: an event of another provider posted there is refused by its signature check
/// and changes nothing). Every path is audited. The answer comes only after what it changed
/// was committed.
pub async fn process_webhook(
    app: &App,
    provider: &Arc<dyn PaymentProvider>,
    request: WebhookRequest,
) -> WebhookReply {
    let provider = provider.clone();
    let event = match provider.parse_webhook(&request).await {
        Ok(ev) => ev,
        Err(e) => {
            if !refused::audit_refused(app, provider.name(), &request, &e.to_string(), e.code()).await {
                return database_down(app);
            }
            let (answer, result) = match e {
                WebhookError::Upstream(_) => (Answer::RetryLater, "retry_later"),
                // Nothing changed, nothing stored: only the answer differs (Mollie).
                WebhookError::UnknownPayment(_) if provider.acknowledges_unknown_ids() => {
                    (Answer::Processed, "unknown_id_ignored")
                }
                _ => (Answer::Refused, "refused"),
            };
            return WebhookReply::new(answer, result, bounded(&e.to_string()));
        }
    };
    let verified_by = match &event.signature {
        SignatureVerdict::Verified { method } => method.clone(),
        other => {
            let reason = bounded(&format!("not verified: {other:?}"));
            if !refused::audit_refused(app, provider.name(), &request, &reason, "not_verified").await {
                return database_down(app);
            }
            return WebhookReply::new(Answer::Refused, "refused", reason);
        }
    };
    // Verified, but text no store may hold (a NUL): refused like an unreadable event, before
    // anything of it is logged, queued or stored.
    let raw_payload = String::from_utf8_lossy(&request.body).into_owned();
    if let Err(e) = text::check(&event, &raw_payload) {
        let reason = e.to_string();
        if !refused::audit_refused(app, provider.name(), &request, &reason, text::CODE).await {
            return database_down(app);
        }
        return WebhookReply::new(Answer::Refused, "refused", reason);
    }
    tracing::info!(provider = provider.name(), event = %event.event_id, kind = event.kind.label(), "webhook verified");
    let verified = VerifiedEvent {
        provider: event.provider.clone(),
        event_id: event.event_id.clone(),
        raw_type: event.raw_type.clone(),
        kind: event.kind.clone(),
        external_payment_id: event.external_payment_id.clone(),
        payment_ref: event.payment_ref.clone(),
        references: event.references.clone(),
        refund: event.refund.clone(),
        amount: event.amount,
        verified_by,
        raw_payload,
        received_at: request.received_at,
    };
    let total_only_refund = matches!(event.kind, EventKind::Refunded { .. }) && event.refund.is_none();
    let after_look_up =
        matches!(event.kind, EventKind::Refunded { .. } | EventKind::Disputed).then(|| verified.clone());
    // Written by a writer, in a batch with whatever else arrived meanwhile; the outcome comes
    // back only after that batch was committed.
    let outcome = match app.ingest().submit(verified).await {
        Ok(o) => o,
        Err(IngestError::Store(e)) => return store_failure(&e),
        Err(e) => {
            tracing::warn!(error = %e, "webhook not written; the provider will retry");
            return retry_later(app, e.to_string());
        }
    };
    let outcome = match (outcome, after_look_up) {
        (EventOutcome::Unmatched, Some(again)) => learn_payment_and_retry(app, &event, again)
            .await
            .unwrap_or(EventOutcome::Unmatched),
        (outcome, _) => outcome,
    };
    if total_only_refund {
        settle_refund_rows_later(app, &event);
    }
    match outcome {
        EventOutcome::CaptureRequired {
            event_row_id,
            public_id,
            ..
        } => capture::capture_and_finalize(app, event_row_id, public_id).await,
        other => reply_for(&other),
    }
}
