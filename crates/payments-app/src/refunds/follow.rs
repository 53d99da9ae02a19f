//! Refunds kept in step with the provider: a refund whose answer was lost is settled by asking
//! the provider (its refund list, matched by our key's marker), never by resending blindly; the
//! rows of providers that report only totals are settled from the same list; where the provider
//! cannot be asked, the admin records what they saw at the provider.

use payments_core::{unix_now, KeyLifetime, ProviderError};
use payments_store::{PaymentRow, RefundRow, RefundStatus, RefundSync};

use super::{check_provider, send};
use crate::{App, Error};

/// How long a refund whose outcome is unknown must have rested before it may be sent again to a
/// provider that takes no idempotency key, so that a call still under way there has landed and
/// shows in its list.
pub const SETTLE_SECS: i64 = 60;

/// What the receipt page offers for a refund whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOffer {
    /// Nothing: the refund's outcome is known.
    None,
    /// "Retry": the provider is asked first, then (only if it has no such refund) sent again.
    Retry,
    /// The provider cannot be asked: the admin checks at the provider and records the outcome.
    RecordByHand,
}

impl RetryOffer {
    /// What `row` offers with its provider.
    pub fn of(app: &App, row: &RefundRow) -> RetryOffer {
        if row.status != RefundStatus::Requested.as_str() || row.idempotency_key.is_none() {
            RetryOffer::None
        } else if app
            .provider(&row.provider)
            .is_ok_and(|p| p.capabilities().list_refunds)
        {
            RetryOffer::Retry
        } else {
            RetryOffer::RecordByHand
        }
    }
}

/// Asks the provider for the payment's refunds and brings ours in line (states, refunds made at
/// the provider, the receipt); audited as `actor`.
pub async fn sync_payment(app: &App, payment: &PaymentRow, actor: &str) -> Result<RefundSync, Error> {
    check_provider(app, payment)?;
    let provider = app.provider(&payment.provider)?.clone();
    if !provider.capabilities().list_refunds {
        return Err(Error::Conflict(format!(
            "{} refunds cannot be looked up: check them in its dashboard",
            payment.provider
        )));
    }
    let external = payment
        .external_id
        .clone()
        .ok_or_else(|| Error::Conflict(format!("payment {} has no provider id", payment.public_id)))?;
    let listed = provider.list_refunds(&external).await.map_err(|e| match e {
        ProviderError::NotSupported { .. } => Error::Conflict(e.to_string()),
        other => Error::Provider(other),
    })?;
    let (id, actor) = (payment.id, actor.to_string());
    app.db(move |s| s.sync_refunds(id, &listed, &actor)).await
}

/// Retries a refund whose outcome is unknown: asks the provider first; a refund it lists takes
/// the provider's state and nothing is sent. Only when it has none is the refund sent again,
/// and only while the provider still honours the key (for a provider that takes no key, once
/// the last attempt has rested [`SETTLE_SECS`]). Otherwise the admin is told what to do.
pub async fn retry(
    app: &App,
    payment: &PaymentRow,
    row: RefundRow,
    actor: String,
) -> Result<RefundRow, Error> {
    check_provider(app, payment)?;
    if row.status != RefundStatus::Requested.as_str() {
        return Ok(row);
    }
    if RetryOffer::of(app, &row) != RetryOffer::Retry {
        return Err(Error::Conflict(format!(
            "{} refunds cannot be looked up, so refund #{} is not sent again: check it in {}'s \
             dashboard and record what you find",
            payment.provider, row.id, payment.provider
        )));
    }
    let rested = unix_now() - row.updated_at;
    let sync = sync_payment(app, payment, &actor).await?;
    let id = row.id;
    let row = app
        .db(move |s| s.refund(id))
        .await?
        .ok_or_else(|| Error::Internal(format!("refund #{id} vanished")))?;
    if row.status != RefundStatus::Requested.as_str() || !sync.not_listed.contains(&row.id) {
        tracing::info!(payment = %payment.public_id, refund = row.id, status = %row.status, "refund found at the provider");
        return Ok(row);
    }
    let lifetime = app.provider(&payment.provider)?.refund_key_lifetime();
    let age = unix_now() - row.created_at;
    let may_send = match lifetime {
        KeyLifetime::NotTaken => rested >= SETTLE_SECS,
        alive => alive.alive_after(age),
    };
    if !may_send {
        return Err(Error::Conflict(match lifetime {
            KeyLifetime::NotTaken => format!(
                "{} does not list refund #{} yet; it takes no idempotency key, so wait a minute for a call \
                 still under way to show, then press Retry again",
                payment.provider, row.id
            ),
            _ => format!(
                "{} has no record of refund #{} and no longer honours its idempotency key (sent {} ago): \
                 check its dashboard; if the refund is not there, record it as not made and refund again",
                payment.provider,
                row.id,
                crate::format::format_duration(age)
            ),
        }));
    }
    tracing::info!(payment = %payment.public_id, refund = row.id, "refund not at the provider: sent again");
    send(app, payment, row, actor).await
}

/// The admin's record of a refund the provider cannot be asked about (or no longer knows):
/// `succeeded` when they saw it at the provider; otherwise the amount is free again.
pub async fn record_outcome(
    app: &App,
    refund_id: i64,
    succeeded: bool,
    note: String,
    actor: String,
) -> Result<RefundRow, Error> {
    app.db(move |s| s.record_refund_outcome(refund_id, succeeded, &note, &actor))
        .await
}
