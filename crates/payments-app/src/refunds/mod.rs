//! The admin's refund, independent of HTTP: two phases. First the store records the refund as
//! `requested` with its deterministic idempotency key (refused there, before any provider call,
//! when it is more than what remains); then the provider is called with that key and its answer
//! is stored. A call whose outcome is unknown (network, timeout, 5xx) leaves the refund
//! `requested` with its amount reserved; retrying sends the same key, so the provider never
//! refunds twice.
//!
//! A refund whose outcome is unknown is never sent again blindly: [`follow`] asks the provider
//! first (its refund list), and resends only when the provider has no such refund and still
//! honours the key.

pub mod follow;

pub use follow::{record_outcome, retry, sync_payment, RetryOffer};

use payments_core::{Currency, Money, ProviderError, RefundRequest, RefundState};
use payments_store::{PaymentRow, RefundAnswer, RefundRequested, RefundRow, RefundStatus};

use crate::{App, Error};

/// What of `payment` is refunded or reserved for a refund, in minor units: every refund of it
/// in `refunds` that did not fail, or what the provider reports refunded when that is more.
pub fn taken_minor(payment: &PaymentRow, refunds: &[RefundRow]) -> i64 {
    let reserved: i64 = refunds
        .iter()
        .filter(|r| r.payment_id == payment.id && RefundStatus::COUNTED.contains(&r.status.as_str()))
        .map(|r| r.amount_minor)
        .sum();
    reserved.max(payment.refunded_minor)
}

/// Reads the amount an admin typed (`617.25`, in the payment's currency) exactly, without floats.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("enter the amount to refund, in {currency} (e.g. 100.00)"));
    }
    let money =
        Money::parse(text, currency).map_err(|e| format!("the amount {text:?} is not usable: {e}"))?;
    if !money.amount.is_positive() {
        return Err(format!(
            "the amount to refund must be more than zero (got {money})"
        ));
    }
    Ok(money)
}

/// The longest reason a refund may be given (it is kept in the audit log).
pub const MAX_REASON_CHARS: usize = 500;

/// An admin's refund request for `payment`, of which `taken_minor` is refunded or reserved
/// already: the amount read exactly in the payment's currency and no more than what remains, a
/// reason, a provider that can refund it. Returns the amount when it is usable and every
/// problem found, in words.
pub fn check_request(
    app: &App,
    payment: &PaymentRow,
    taken_minor: i64,
    amount_text: &str,
    reason: &str,
    payer_note: &str,
) -> (Option<Money>, Vec<String>) {
    let mut problems = Vec::new();
    let remaining = payment.amount_minor - taken_minor;
    let amount = match payment
        .amount()
        .map_err(|e| e.to_string())
        .and_then(|paid| parse_amount(amount_text, paid.currency))
    {
        Ok(m) if m.amount.get() > remaining => {
            problems.push(format!(
                "{m} is more than the {} that remains to refund",
                Money::new(remaining.max(0), m.currency)
            ));
            None
        }
        Ok(m) => Some(m),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    if reason.is_empty() {
        problems.push("give a reason for the refund (it is kept in the audit log)".into());
    } else if reason.chars().count() > MAX_REASON_CHARS {
        problems.push(format!("the reason is longer than {MAX_REASON_CHARS} characters"));
    }
    if payer_note.chars().count() > MAX_REASON_CHARS {
        problems.push(format!(
            "the note to the payer is longer than {MAX_REASON_CHARS} characters"
        ));
    }
    if let Err(e) = check_provider(app, payment) {
        problems.push(e.to_string());
    }
    (amount, problems)
}

/// What the provider's answer (or error) means for a refund we asked for.
pub fn answer_of(result: Result<payments_core::RefundOutcome, ProviderError>) -> RefundAnswer {
    match result {
        Ok(o) => RefundAnswer::Accepted {
            amount_minor: o.amount.map(|a| a.get()),
            state: RefundState::from_provider(&o.status),
            external_id: o.refund_id,
        },
        // It may have happened: keep the amount reserved, a retry uses the same key.
        Err(e @ (ProviderError::Unavailable { .. } | ProviderError::UnexpectedResponse { .. })) => {
            RefundAnswer::Unknown { error: e.to_string() }
        }
        Err(e @ ProviderError::Api { status, .. }) if status >= 500 || status == 409 || status == 429 => {
            RefundAnswer::Unknown { error: e.to_string() }
        }
        // Refused before or by the provider: nothing was refunded.
        Err(e) => RefundAnswer::Refused { error: e.to_string() },
    }
}

/// The payment a refund may be asked for through its own provider (enabled or retired).
pub fn check_provider(app: &App, payment: &PaymentRow) -> Result<(), Error> {
    let provider = app.provider(&payment.provider).map_err(|_| {
        Error::Conflict(format!(
            "payment {} was made through {}, which this server no longer has configured: refund it in {}'s \
             dashboard (or add {}'s settings back)",
            payment.public_id, payment.provider, payment.provider, payment.provider
        ))
    })?;
    if !provider.capabilities().refund {
        return Err(Error::Conflict(format!(
            "{} refunds are not supported by this server: refund it in the provider's dashboard",
            provider.name()
        )));
    }
    Ok(())
}

/// Records the refund (phase one), then asks the provider and stores its answer (phase two).
pub async fn refund(
    app: &App,
    payment: &PaymentRow,
    amount: Money,
    reason: String,
    actor: String,
) -> Result<RefundRow, Error> {
    check_provider(app, payment)?;
    let (pid, who) = (payment.public_id.clone(), actor.clone());
    let minor = amount.amount.get();
    let row = app
        .db(move |s| s.request_refund(&pid, minor, &reason, &who))
        .await?;
    tracing::info!(payment = %payment.public_id, refund = row.id, amount = %amount, "refund requested");
    send(app, payment, row, actor).await
}

/// [`refund`] from the confirmation page whose random `token` the request carries: however
/// often the page is posted (one after the other or at once, from one browser or two), one
/// refund is made; a repeated post gets that refund as it stands, with `true`.
pub async fn refund_once(
    app: &App,
    payment: &PaymentRow,
    amount: Money,
    reason: String,
    payer_note: String,
    actor: String,
    token: String,
) -> Result<(RefundRow, bool), Error> {
    check_provider(app, payment)?;
    if token.trim().is_empty() {
        return Err(Error::Invalid(
            "this confirmation carries no refund token: review the refund again".into(),
        ));
    }
    let (pid, who) = (payment.public_id.clone(), actor.clone());
    let minor = amount.amount.get();
    let requested = app
        .db(move |s| s.request_refund_once(&pid, minor, &reason, &payer_note, &who, &token))
        .await?;
    match requested {
        RefundRequested::Repeated(row) => {
            tracing::info!(payment = %payment.public_id, refund = row.id, "refund confirmation posted again");
            Ok((row, true))
        }
        RefundRequested::New(row) => {
            tracing::info!(payment = %payment.public_id, refund = row.id, amount = %amount, "refund requested");
            Ok((send(app, payment, row, actor).await?, false))
        }
    }
}

/// Phase two for a stored refund: call the provider with the refund's own key, store the answer.
/// A refund whose outcome is unknown is retried through [`retry`], which asks first.
pub async fn send(
    app: &App,
    payment: &PaymentRow,
    row: RefundRow,
    actor: String,
) -> Result<RefundRow, Error> {
    check_provider(app, payment)?;
    let Some(key) = row.idempotency_key.clone() else {
        return Err(Error::Conflict(format!(
            "refund #{} was made at the provider; there is nothing to send",
            row.id
        )));
    };
    if row.status != "requested" {
        return Ok(row);
    }
    let external = payment
        .external_id
        .clone()
        .ok_or_else(|| Error::Conflict(format!("payment {} has no provider id", payment.public_id)))?;
    let request = RefundRequest {
        external_payment_id: external,
        amount: Some(row.amount()?),
        idempotency_key: key,
    };
    let result = app.provider(&payment.provider)?.refund(&request).await;
    if let Err(e) = &result {
        tracing::warn!(payment = %payment.public_id, refund = row.id, error = %e, "refund call failed");
    }
    let answer = answer_of(result);
    let id = row.id;
    let stored = app
        .db(move |s| s.record_refund_answer(id, &answer, &actor))
        .await?;
    tracing::info!(payment = %payment.public_id, refund = stored.id, status = %stored.status, "refund answered");
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(amount_minor: i64, refunded_minor: i64) -> PaymentRow {
        PaymentRow {
            id: 7,
            public_id: "pay_07".into(),
            receipt_id: 3,
            provider: "dummy".into(),
            external_id: Some("dummy_pay_07".into()),
            idempotency_key: "pay:pay_07:checkout:0".into(),
            amount_minor,
            currency: "THB".into(),
            status: "succeeded".into(),
            checkout_url: None,
            created_at: 0,
            updated_at: 0,
            refunded_minor,
            second_payment: false,
        }
    }

    fn refund(payment_id: i64, amount_minor: i64, status: &str) -> RefundRow {
        RefundRow {
            id: amount_minor,
            payment_id,
            provider: "dummy".into(),
            seq: Some(1),
            idempotency_key: Some("pay:pay_07:refund:1".into()),
            external_id: None,
            amount_minor,
            currency: "THB".into(),
            status: status.into(),
            origin: "admin".into(),
            reason: "r".into(),
            requested_by: "user:admin".into(),
            error: None,
            created_at: 0,
            updated_at: 0,
            request_token: None,
        }
    }

    #[test]
    fn what_is_taken_counts_every_refund_that_did_not_fail_or_what_the_provider_reports() {
        let refunds = [
            refund(7, 1_000, "succeeded"),
            refund(7, 500, "requested"),
            refund(7, 2_000, "failed"),
            refund(7, 3_000, "canceled"),
            refund(8, 4_000, "succeeded"),
        ];
        assert_eq!(taken_minor(&payment(10_000, 0), &refunds), 1_500);
        assert_eq!(taken_minor(&payment(10_000, 6_000), &refunds), 6_000);
        assert_eq!(taken_minor(&payment(10_000, 0), &[]), 0);
    }

    #[test]
    fn amounts_are_read_exactly_in_the_currency() {
        let thb = Currency::from_code("THB").unwrap();
        assert_eq!(parse_amount(" 617.25 ", thb).unwrap().amount.get(), 61_725);
        assert!(parse_amount("", thb).unwrap_err().contains("enter the amount"));
        assert!(parse_amount("0", thb).unwrap_err().contains("more than zero"));
        assert!(parse_amount("1.005", thb).unwrap_err().contains("not usable"));
    }
}
