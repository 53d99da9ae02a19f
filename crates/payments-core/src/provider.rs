//! The `PaymentProvider` trait every adapter implements, and the types it speaks.

use async_trait::async_trait;
use serde::Serialize;

use crate::money::{Currency, MinorUnits, Money, MoneyError};
use crate::webhook::{WebhookError, WebhookEvent, WebhookRequest};

/// A deterministic idempotency key for one operation on one of our payments: the same payment
/// and operation always give the same key, so a retried call can never charge twice.
/// (`attempt` lets a deliberately new attempt, e.g. after an expired checkout, get a new key.)
pub fn idempotency_key(payment_ref: &str, operation: &str, attempt: u32) -> String {
    format!("pay:{payment_ref}:{operation}:{attempt}")
}

/// What the server asks an adapter to start.
#[derive(Debug, Clone, Serialize)]
pub struct CheckoutRequest {
    /// Our payment id (public, random); adapters put it in the provider's metadata.
    pub payment_ref: String,
    pub amount: Money,
    pub username: String,
    pub receipt_id: i64,
    /// Shown on the provider's page.
    pub description: String,
    pub success_url: String,
    pub cancel_url: String,
    /// See [`idempotency_key`].
    pub idempotency_key: String,
    /// How long, in seconds from now, the checkout may be paid (`CHECKOUT_LIFETIME_SECS`; the
    /// server expires it locally after that). Adapters whose provider takes an expiry at creation
    /// pass it on, clamped to what the provider allows (Stripe: 30 min to 24 h); `None` leaves
    /// the provider's default.
    pub lifetime_secs: Option<u64>,
    /// When our payment was created (unix seconds). A provider expiry is counted from it, so
    /// that the same checkout asked for again (after a lost answer) carries the same expiry and
    /// the provider's idempotency check sees the same request; `None`: from now.
    pub created_at: Option<i64>,
}

/// A started checkout at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutSession {
    /// The provider's id (`cs_...`, `chrg_...`, an order id).
    pub external_id: String,
    /// Absolute URL the payer's browser is sent to.
    pub redirect_url: String,
    pub idempotency_key: String,
}

/// The normalized status of a payment at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    RequiresCapture,
    Succeeded,
    Failed,
    Expired,
    Canceled,
    Refunded,
}

impl PaymentStatus {
    /// The status of a payment of `amount` of which `refunded` (cumulative, same units) is
    /// refunded, for providers that keep a refunded payment's own status as paid (Omise,
    /// Mollie): a succeeded payment refunded in full is `Refunded`.
    pub fn after_refunds(self, amount: i64, refunded: i64) -> PaymentStatus {
        match self {
            PaymentStatus::Succeeded if amount > 0 && refunded >= amount => PaymentStatus::Refunded,
            other => other,
        }
    }
}

/// What the provider says about a payment right now (from `fetch_payment` or `capture`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentSnapshot {
    pub external_id: String,
    pub status: PaymentStatus,
    pub amount: Option<Money>,
    pub payment_ref: Option<String>,
    /// Further provider ids of this payment the answer reveals (Stripe's PaymentIntent and
    /// latest charge, PayPal's capture): the server stores them like a webhook's references, so
    /// that a later event naming only one of them (a dispute, a dashboard refund) is matched.
    pub references: Vec<String>,
    /// Everything refunded of the payment so far, as the provider reports it (same currency as
    /// `amount`); `None` when the answer does not say.
    pub refunded: Option<MinorUnits>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundRequest {
    pub external_payment_id: String,
    /// `None` refunds everything.
    pub amount: Option<Money>,
    pub idempotency_key: String,
}

/// A deterministic marker of one of our refunds that fits every provider's metadata rules
/// (letters, digits, `-`, `_`, `.`; PayPal's `custom_id` refuses `:`): the idempotency key with
/// each other character replaced by `.`. Adapters store it on the refund (metadata, `custom_id`)
/// and report it back in [`ProviderRefund::marker`], so that a refund whose answer was lost can be
/// found without sending it again.
pub fn refund_marker(idempotency_key: &str) -> String {
    idempotency_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .collect()
}

/// The metadata key under which adapters store [`refund_marker`] where the provider has free
/// metadata (Stripe, Omise, Mollie).
pub const REFUND_MARKER_KEY: &str = "refund_key";

/// One refund of a payment as the provider lists it ([`PaymentProvider::list_refunds`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderRefund {
    pub refund_id: String,
    /// This refund's amount, in the payment's currency.
    pub amount: Option<MinorUnits>,
    /// The provider's own refund status string (see `RefundState::from_provider`).
    pub status: String,
    /// The [`refund_marker`] we stored on it, when it is one of ours.
    pub marker: Option<String>,
}

/// How long a provider honours the idempotency key of a refund request: a call whose answer
/// was lost may be sent again with the same key only within it (and only after a look-up found
/// no such refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "secs", rename_all = "snake_case")]
pub enum KeyLifetime {
    /// The provider takes no idempotency key (Omise): a resend is never safe by itself.
    NotTaken,
    /// Seconds (Stripe about 24 h, Mollie 1 h, PayPal's payments API 45 days).
    Secs(u64),
    /// Never forgotten (the dummy: the refund id follows from the key).
    Forever,
}

impl KeyLifetime {
    /// Whether a key first sent `age_secs` ago is still honoured (with a margin of a tenth of
    /// the lifetime, for clocks and for the provider's "about").
    pub fn alive_after(self, age_secs: i64) -> bool {
        match self {
            KeyLifetime::NotTaken => false,
            KeyLifetime::Forever => true,
            KeyLifetime::Secs(secs) => {
                let secs = i64::try_from(secs).unwrap_or(i64::MAX);
                age_secs >= 0 && age_secs < secs - secs / 10
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundOutcome {
    pub refund_id: String,
    pub amount: Option<MinorUnits>,
    /// The provider's own refund status string.
    pub status: String,
}

/// Which optional operations an adapter implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Capabilities {
    pub capture: bool,
    pub refund: bool,
    pub fetch_payment: bool,
    /// [`PaymentProvider::list_refunds`]: refunds can be looked up (a lost answer is settled
    /// by asking, never by resending blindly).
    pub list_refunds: bool,
    /// [`PaymentProvider::expire_checkout`].
    pub expire_checkout: bool,
}

impl Capabilities {
    /// Refunds and `fetch_payment`, no separate capture (Stripe, Omise).
    pub const REFUND_AND_FETCH: Capabilities = Capabilities {
        capture: false,
        refund: true,
        fetch_payment: true,
        list_refunds: false,
        expire_checkout: false,
    };
    /// Capture, refunds and `fetch_payment` (PayPal).
    pub const ALL: Capabilities = Capabilities {
        capture: true,
        refund: true,
        fetch_payment: true,
        list_refunds: false,
        expire_checkout: false,
    };

    /// These, and refunds can be looked up.
    pub const fn with_refund_lookup(self) -> Capabilities {
        Capabilities {
            list_refunds: true,
            ..self
        }
    }

    /// These, and checkouts can be expired at the provider.
    pub const fn with_expire(self) -> Capabilities {
        Capabilities {
            expire_checkout: true,
            ..self
        }
    }
}

/// Failures of outbound provider calls.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider} does not support {operation}")]
    NotSupported {
        provider: &'static str,
        operation: &'static str,
    },
    #[error("{0}")]
    Amount(#[from] MoneyError),
    /// Refused before any call (below the provider's minimum, not representable, ...).
    #[error("amount refused: {0}")]
    AmountRefused(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The provider answered with an error; `code` and `message` are the provider's own.
    #[error("{provider} error (HTTP {status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Api {
        provider: &'static str,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// Network failure, timeout, or 5xx after the retries were used up.
    #[error("{provider} unreachable: {message}")]
    Unavailable { provider: &'static str, message: String },
    #[error("unexpected response from {provider}: {message}")]
    UnexpectedResponse { provider: &'static str, message: String },
}

impl ProviderError {
    /// [`ProviderError::UnexpectedResponse`] from `provider`.
    pub fn unexpected(provider: &'static str, message: impl Into<String>) -> Self {
        ProviderError::UnexpectedResponse {
            provider,
            message: message.into(),
        }
    }
}

/// Checks what a provider answered for a new checkout `id`: exactly the amount (`sent`, in the
/// provider's units) and currency we asked for, and an absolute http(s) URL for the browser,
/// which is returned.
pub fn check_checkout(
    provider: &'static str,
    id: &str,
    sent: (i64, Currency),
    got: (Option<i64>, Option<&str>),
    url: Option<&str>,
) -> Result<String, ProviderError> {
    let (amount, currency) = sent;
    if got.0 != Some(amount) || !got.1.is_some_and(|c| c.eq_ignore_ascii_case(currency.code())) {
        return Err(ProviderError::unexpected(
            provider,
            format!(
                "checkout {id} is for {:?} {:?}, not {amount} {currency}",
                got.0, got.1
            ),
        ));
    }
    url.filter(|u| url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host()))
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::unexpected(provider, format!("checkout {id} has no usable redirect URL"))
        })
}

/// An external payment provider.
///
/// Object-safe: the server holds a `Box<dyn PaymentProvider>` chosen at start-up.
#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// The name used in configuration, the database and the audit log (`stripe`).
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Whether a checkout of `amount` can be started here (its currency, minimum and maximum),
    /// decided without a call: the server offers only the providers that can take a receipt,
    /// and tells admins why the others cannot. Default: any amount (the adapter's
    /// `create_checkout` still refuses what its provider would).
    fn check_amount(&self, amount: Money) -> Result<(), ProviderError> {
        let _ = amount;
        Ok(())
    }

    /// Starts a hosted checkout for exactly `request.amount`.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError>;

    /// Verifies and normalizes a webhook. Must never panic on any input.
    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError>;

    /// Captures an approved payment (idempotent for the same key).
    async fn capture(
        &self,
        external_id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentSnapshot, ProviderError> {
        let _ = (external_id, idempotency_key);
        Err(ProviderError::NotSupported {
            provider: self.name(),
            operation: "capture",
        })
    }

    /// Refunds all or part of a payment.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let _ = request;
        Err(ProviderError::NotSupported {
            provider: self.name(),
            operation: "refund",
        })
    }

    /// Every refund of the payment `external_payment_id` (the id refunds are made against, as in
    /// [`RefundRequest::external_payment_id`]), with the [`refund_marker`] of ours.
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let _ = external_payment_id;
        Err(ProviderError::NotSupported {
            provider: self.name(),
            operation: "list_refunds",
        })
    }

    /// How long the provider honours a refund's idempotency key (default: it takes none).
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::NotTaken
    }

    /// Whether a verified-by-re-fetch webhook naming a payment the provider does not know
    /// ([`WebhookError::UnknownPayment`]) is answered 200 with nothing changed, as the provider's
    /// docs ask (Mollie: so that nobody learns which ids exist), rather than refused with a 400.
    fn acknowledges_unknown_ids(&self) -> bool {
        false
    }

    /// The shortest checkout lifetime the provider accepts, in seconds (Stripe: 30 minutes):
    /// a `CHECKOUT_LIFETIME_SECS` below it is refused at start-up, because the server would
    /// expire a checkout the payer can still pay. `None`: no minimum.
    fn min_checkout_lifetime_secs(&self) -> Option<u64> {
        None
    }

    /// Expires an open checkout at the provider, so that it can no longer be paid (Stripe's
    /// `POST /v1/checkout/sessions/{id}/expire`). Returns the payment as it now stands: a
    /// checkout paid meanwhile is reported paid, not expired.
    async fn expire_checkout(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let _ = external_id;
        Err(ProviderError::NotSupported {
            provider: self.name(),
            operation: "expire_checkout",
        })
    }

    /// The payment's current status at the provider.
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let _ = external_id;
        Err(ProviderError::NotSupported {
            provider: self.name(),
            operation: "fetch_payment",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_markers_fit_every_provider_and_keys_age() {
        assert_eq!(refund_marker("pay:pay_07:refund:1"), "pay.pay_07.refund.1");
        assert_eq!(refund_marker("a b/c-d_e.f"), "a.b.c-d_e.f");
        assert!(KeyLifetime::Secs(86_400).alive_after(3_600));
        assert!(!KeyLifetime::Secs(86_400).alive_after(80_000));
        assert!(!KeyLifetime::Secs(3_600).alive_after(-1));
        assert!(!KeyLifetime::NotTaken.alive_after(0));
        assert!(KeyLifetime::Forever.alive_after(i64::MAX));
    }

    #[test]
    fn a_payment_refunded_in_full_is_refunded() {
        use PaymentStatus::*;
        assert_eq!(Succeeded.after_refunds(500, 500), Refunded);
        assert_eq!(Succeeded.after_refunds(500, 499), Succeeded);
        assert_eq!(Succeeded.after_refunds(0, 0), Succeeded);
        assert_eq!(Failed.after_refunds(500, 500), Failed);
    }

    #[test]
    fn a_checkout_must_be_what_we_asked_for_with_a_usable_url() {
        let thb = Currency::from_code("THB").unwrap();
        let ok = check_checkout(
            "p",
            "c1",
            (5000, thb),
            (Some(5000), Some("thb")),
            Some("https://pay.example/c1"),
        );
        assert_eq!(ok.unwrap(), "https://pay.example/c1");
        for (got, url) in [
            ((Some(50), Some("thb")), Some("https://pay.example/c1")),
            ((Some(5000), Some("usd")), Some("https://pay.example/c1")),
            ((None, Some("thb")), Some("https://pay.example/c1")),
            ((Some(5000), Some("thb")), Some("javascript:alert(1)")),
            ((Some(5000), Some("thb")), None),
        ] {
            let e = check_checkout("p", "c1", (5000, thb), got, url).unwrap_err();
            assert!(
                matches!(e, ProviderError::UnexpectedResponse { provider: "p", .. }),
                "{e:?}"
            );
        }
    }
}
