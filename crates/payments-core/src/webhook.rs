//! Framework-neutral webhook requests and the normalized events adapters turn them into.

use serde::Serialize;

use crate::money::{MinorUnits, Money};
use crate::provider::PaymentStatus;
use crate::signature::SignatureError;

/// An incoming webhook exactly as it arrived: headers, the raw body bytes (signatures are over
/// these, never over re-serialized JSON) and the time it was received (unix seconds).
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: i64,
}

impl WebhookRequest {
    pub fn new(headers: Vec<(String, String)>, body: Vec<u8>, received_at: i64) -> Self {
        WebhookRequest {
            headers,
            body,
            received_at,
        }
    }

    /// The value of `name` when the body is a form holding exactly that one field (Mollie's
    /// `id=tr_...`: a verify-by-refetch webhook that only names the object); `None` otherwise.
    pub fn sole_form_field(&self, name: &str) -> Option<String> {
        let mut pairs = url::form_urlencoded::parse(&self.body);
        match (pairs.next(), pairs.next()) {
            (Some((key, value)), None) if key == name => Some(value.into_owned()),
            _ => None,
        }
    }

    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A header that must be present.
    pub fn require_header(&self, name: &'static str) -> Result<&str, WebhookError> {
        self.header(name)
            .ok_or(WebhookError::Signature(SignatureError::MissingHeader(name)))
    }

    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body parsed as JSON, or `MalformedPayload`.
    pub fn json(&self) -> Result<serde_json::Value, WebhookError> {
        serde_json::from_slice(&self.body).map_err(|e| WebhookError::MalformedPayload(e.to_string()))
    }
}

/// What the webhook means, the same for every provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    PaymentPending,
    CheckoutExpired,
    /// Approved by the payer; the merchant must capture before money moves (PayPal).
    CaptureRequired,
    /// Refunded. `amount` always means the payment's CUMULATIVE refunded amount (every refund so
    /// far, this one included) and is set only when the provider states that total (Stripe
    /// `amount_refunded`, PayPal `total_refunded_amount`, Mollie `amountRefunded`). Providers that
    /// report one refund at a time (Omise `refund.create`) leave it `None` and describe the refund
    /// in [`WebhookEvent::refund`]; the store sums those idempotently per refund id. With neither,
    /// the whole payment is taken as refunded.
    Refunded {
        amount: Option<MinorUnits>,
    },
    Disputed,
    /// Acknowledged but not acted on; carries the provider's own type.
    Other {
        raw_type: String,
    },
}

impl EventKind {
    /// What a payment's current state means as an event, for providers whose webhook only
    /// names the payment (verify by re-fetch) and whose payment status stays "paid" after a
    /// refund or a chargeback: a succeeded payment with a chargeback (`disputed`) is `Disputed`,
    /// one with a refund is `Refunded` with the cumulative `refunded` amount, and any other
    /// state is the event its status stands for.
    pub fn from_state(status: PaymentStatus, refunded: Option<MinorUnits>, disputed: bool) -> EventKind {
        match status {
            PaymentStatus::Succeeded if disputed => EventKind::Disputed,
            PaymentStatus::Succeeded if refunded.is_some() => EventKind::Refunded { amount: refunded },
            PaymentStatus::Succeeded => EventKind::PaymentSucceeded,
            PaymentStatus::Refunded => EventKind::Refunded { amount: refunded },
            PaymentStatus::RequiresCapture => EventKind::CaptureRequired,
            PaymentStatus::Failed | PaymentStatus::Canceled => EventKind::PaymentFailed,
            PaymentStatus::Expired => EventKind::CheckoutExpired,
            PaymentStatus::Pending => EventKind::PaymentPending,
        }
    }

    /// Short label for logs, the audit log and the events table.
    pub fn label(&self) -> &str {
        match self {
            EventKind::PaymentSucceeded => "payment_succeeded",
            EventKind::PaymentFailed => "payment_failed",
            EventKind::PaymentPending => "payment_pending",
            EventKind::CheckoutExpired => "checkout_expired",
            EventKind::CaptureRequired => "capture_required",
            EventKind::Refunded { .. } => "refunded",
            EventKind::Disputed => "disputed",
            EventKind::Other { raw_type } => raw_type,
        }
    }

    /// Maps the generic success types used by simple providers and the seed
    /// (`payment.succeeded`, `charge.succeeded`, `checkout.session.completed`).
    pub fn from_generic_type(raw_type: &str) -> EventKind {
        match raw_type {
            "payment.succeeded" | "charge.succeeded" | "checkout.session.completed" => {
                EventKind::PaymentSucceeded
            }
            "payment.failed" | "charge.failed" => EventKind::PaymentFailed,
            "payment.pending" => EventKind::PaymentPending,
            "checkout.session.expired" | "payment.canceled" => EventKind::CheckoutExpired,
            other => EventKind::Other {
                raw_type: other.to_string(),
            },
        }
    }
}

/// Where a refund stands at the provider, whatever its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Accepted, money not yet moved (or not yet known to have moved).
    Pending,
    Succeeded,
    /// Failed (or reversed): nothing was refunded.
    Failed,
    /// Cancelled or voided before it was carried out: nothing was refunded.
    Canceled,
}

impl RefundState {
    /// Maps a provider's refund status (Stripe `succeeded`/`pending`/`failed`/`canceled`, Omise
    /// `closed`/`pending`/`voided`, PayPal `COMPLETED`/`PENDING`/`CANCELLED`/`FAILED`, Mollie
    /// `queued`/`pending`/`processing`/`refunded`/`failed`/`canceled`); unknown words are pending.
    pub fn from_provider(status: &str) -> RefundState {
        match status.trim().to_ascii_lowercase().as_str() {
            "succeeded" | "completed" | "closed" | "refunded" | "successful" => RefundState::Succeeded,
            "failed" | "reversed" | "declined" => RefundState::Failed,
            "canceled" | "cancelled" | "voided" => RefundState::Canceled,
            _ => RefundState::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Failed => "failed",
            RefundState::Canceled => "canceled",
        }
    }

    /// Failed or canceled: nothing was refunded, the amount can be refunded again.
    pub fn is_void(self) -> bool {
        matches!(self, RefundState::Failed | RefundState::Canceled)
    }
}

/// One refund as a provider's event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RefundReport {
    /// The provider's refund id (`re_...`, `rfnd_...`, a PayPal refund id).
    pub id: String,
    /// This refund's amount (not a total), in the payment's currency.
    pub amount: Option<MinorUnits>,
    pub state: RefundState,
}

/// How the adapter established that the event is genuine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum SignatureVerdict {
    /// Verified; `method` says how (e.g. `hmac-sha256`, `api-refetch`, `paypal-verify-api`).
    Verified { method: String },
    /// The signature was checked and is wrong (kept for the audit log).
    Invalid { reason: String },
    /// The provider sent nothing to verify; such an event is never acted on.
    NotSigned,
}

impl SignatureVerdict {
    pub fn verified(method: &str) -> Self {
        SignatureVerdict::Verified {
            method: method.to_string(),
        }
    }

    pub fn is_verified(&self) -> bool {
        matches!(self, SignatureVerdict::Verified { .. })
    }
}

/// A provider's webhook, normalized.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// The adapter's name (`stripe`, `omise`, ...).
    pub provider: String,
    /// The provider's event id (`evt_...`, `evnt_...`, `WH-...`): the idempotency key of the event.
    pub event_id: String,
    /// The provider's own type string (`checkout.session.completed`).
    pub raw_type: String,
    pub kind: EventKind,
    /// The provider's id of the payment this is about (checkout session, charge, order).
    pub external_payment_id: Option<String>,
    /// Our own payment id when the provider echoes it back (metadata, custom_id).
    pub payment_ref: Option<String>,
    /// Further provider ids of the same payment the event reveals (a Stripe PaymentIntent or
    /// charge, a PayPal capture): the store matches by any of them and remembers them, so later
    /// events naming only one of these ids (a dispute) find the payment. Empty when unknown.
    #[serde(default)]
    pub references: Vec<String>,
    /// Amount and currency as the (verified) provider says, in ISO minor units: the payment's
    /// (a refund event may state the running refunded total instead); for a dispute, the
    /// disputed amount, which may be part of the payment (Stripe's and Omise's dispute
    /// `amount`, PayPal's `dispute_amount`).
    pub amount: Option<Money>,
    /// The one refund a refund event is about, when the provider names it (its id, amount and
    /// state): recorded per refund id, so a redelivery or a second event about the same refund
    /// never counts it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundReport>,
    pub raw: serde_json::Value,
    pub signature: SignatureVerdict,
}

/// Why a webhook was refused. Signature failures and malformed payloads are the sender's fault
/// (answer 4xx); `Upstream` means we could not verify right now (answer 5xx so it is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("malformed payload: {0}")]
    MalformedPayload(String),
    #[error("the provider does not know payment {0:?}")]
    UnknownPayment(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("could not verify with the provider right now: {0}")]
    Upstream(String),
}

impl WebhookError {
    /// A failed re-fetch of `id` while verifying by re-fetch: a 404 is `UnknownPayment` (a
    /// forged or foreign id), anything else `Upstream` (answered 5xx, so the provider retries).
    pub fn refetch(id: &str, error: crate::provider::ProviderError) -> Self {
        match error {
            crate::provider::ProviderError::Api { status: 404, .. } => {
                WebhookError::UnknownPayment(id.to_string())
            }
            e => WebhookError::Upstream(e.to_string()),
        }
    }

    /// The object re-fetched for a verify-by-refetch webhook about `id`: kept only when the
    /// provider answered for that very id (`id_of` reads it), else why not ([`Self::refetch`]).
    pub fn refetched<T>(
        id: &str,
        fetched: Result<T, crate::provider::ProviderError>,
        id_of: impl FnOnce(&T) -> &str,
    ) -> Result<T, WebhookError> {
        let fetched = fetched.map_err(|e| WebhookError::refetch(id, e))?;
        match id_of(&fetched) {
            answered if answered == id => Ok(fetched),
            other => Err(WebhookError::MalformedPayload(format!(
                "asked for {id}, the provider answered for {other:?}"
            ))),
        }
    }

    /// A stable short code for logs and audit entries.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::Signature(e) => e.code(),
            WebhookError::MalformedPayload(_) => "malformed_payload",
            WebhookError::UnknownPayment(_) => "unknown_payment",
            WebhookError::Refused(_) => "refused",
            WebhookError::Upstream(_) => "upstream_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{WebhookError, WebhookRequest};
    use crate::provider::ProviderError;

    #[test]
    fn a_sole_form_field_is_the_only_field() {
        let body = |b: &str| WebhookRequest::new(Vec::new(), b.as_bytes().to_vec(), 0);
        assert_eq!(body("id=tr_1").sole_form_field("id").as_deref(), Some("tr_1"));
        assert_eq!(body("id=tr%5F1").sole_form_field("id").as_deref(), Some("tr_1"));
        for bad in ["", "id=tr_1&x=2", "x=2&id=tr_1", "ids=tr_1", "{\"id\":\"tr_1\"}"] {
            assert_eq!(body(bad).sole_form_field("id"), None, "{bad}");
        }
    }

    #[test]
    fn a_state_is_the_event_its_status_refund_or_chargeback_stands_for() {
        use super::EventKind as E;
        use crate::provider::PaymentStatus as S;
        let units = Some(crate::MinorUnits(500));
        assert_eq!(E::from_state(S::Succeeded, None, false), E::PaymentSucceeded);
        assert_eq!(
            E::from_state(S::Succeeded, units, false),
            E::Refunded { amount: units }
        );
        assert_eq!(E::from_state(S::Succeeded, units, true), E::Disputed);
        assert_eq!(E::from_state(S::Canceled, None, false), E::PaymentFailed);
        assert_eq!(E::from_state(S::Expired, None, false), E::CheckoutExpired);
        assert_eq!(E::from_state(S::Pending, units, true), E::PaymentPending);
        assert_eq!(E::from_state(S::RequiresCapture, None, false), E::CaptureRequired);
    }

    #[test]
    fn a_refetched_object_must_be_the_one_asked_for() {
        fn id(s: &String) -> &str {
            s
        }
        assert_eq!(
            WebhookError::refetched("tr_1", Ok("tr_1".to_string()), id),
            Ok("tr_1".into())
        );
        let other = WebhookError::refetched("tr_1", Ok("tr_2".to_string()), id);
        assert!(
            matches!(other, Err(WebhookError::MalformedPayload(_))),
            "{other:?}"
        );
        let api = |status| ProviderError::Api {
            provider: "p",
            status,
            code: None,
            message: "m".into(),
        };
        let unknown = WebhookError::refetched::<String>("tr_1", Err(api(404)), id);
        assert_eq!(unknown, Err(WebhookError::UnknownPayment("tr_1".into())));
        let down = WebhookError::refetched::<String>("tr_1", Err(api(503)), id);
        assert!(matches!(down, Err(WebhookError::Upstream(_))), "{down:?}");
    }
}
