#![doc = include_str!("../README.md")]

use payments_core::signature::{split_secrets, StripeStyleScheme};
use payments_core::{
    async_trait, refund_marker, Capabilities, CheckoutRequest, CheckoutSession, Currency, EventKind,
    KeyLifetime, MinorUnits, Money, PaymentProvider, PaymentSnapshot, ProviderError, ProviderRefund,
    RefundOutcome, RefundReport, RefundRequest, RefundState, SignatureVerdict, WebhookError, WebhookEvent,
    WebhookRequest,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(feature = "api")]
pub mod api;

#[cfg(payments_mock)]
pub mod testing;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Dummy-Signature";

/// The dummy provider.
#[derive(Clone)]
pub struct DummyProvider {
    scheme: StripeStyleScheme,
    site_base_url: String,
    /// The refunds made through this provider value, by payment (the dummy's own books, kept
    /// in memory: what `list_refunds` reports).
    refunds: Arc<Mutex<Vec<(String, ProviderRefund)>>>,
    /// The optional API (`DUMMY_API_URL`) that `fetch_payment` and `capture` call.
    #[cfg(feature = "api")]
    api: Option<api::Api>,
}

impl std::fmt::Debug for DummyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("DummyProvider")
            .field("site_base_url", &self.site_base_url)
            .finish_non_exhaustive()
    }
}

/// The event body the dummy provider sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DummyEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: DummyPayment,
    /// For `refund.succeeded`: the one refund this event is about (the dummy, like Omise,
    /// reports refunds one at a time, never a running total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<DummyRefund>,
}

/// One refund at the dummy provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DummyRefund {
    pub id: String,
    /// Minor units of the payment's currency.
    pub amount: i64,
}

/// The dummy's event type for a refund (its checkout page's "refund at the provider" and the
/// echo of a refund made through the API send it).
pub const REFUND_EVENT: &str = "refund.succeeded";
/// The dummy's event type for a dispute.
pub const DISPUTE_EVENT: &str = "charge.dispute.created";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DummyPayment {
    /// The dummy's own payment id (`dummy_<our id>`).
    pub id: String,
    /// Our payment id.
    pub payment_ref: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
}

impl DummyProvider {
    pub const NAME: &'static str = "dummy";

    /// `webhook_secrets` may hold several comma-separated secrets (rotation); the first signs.
    pub fn new(webhook_secrets: &str, site_base_url: &str) -> Result<Self, ProviderError> {
        let secrets = split_secrets(webhook_secrets);
        if secrets.is_empty() {
            return Err(ProviderError::Config(
                "the dummy provider needs PAYMENT_WEBHOOK_SECRET to sign its webhooks".into(),
            ));
        }
        Ok(DummyProvider {
            scheme: StripeStyleScheme::new(SIGNATURE_HEADER, &secrets, 300),
            site_base_url: site_base_url.trim_end_matches('/').to_string(),
            refunds: Arc::default(),
            #[cfg(feature = "api")]
            api: None,
        })
    }

    /// The same provider, looking payments up (and capturing them) through the API at `base`
    /// (feature `api`).
    #[cfg(feature = "api")]
    pub fn with_api(mut self, base: &str) -> Result<Self, ProviderError> {
        self.api = Some(api::Api::new(base)?);
        Ok(self)
    }

    /// Whether the API is configured (`fetch_payment` and `capture` work).
    fn has_api(&self) -> bool {
        #[cfg(feature = "api")]
        return self.api.is_some();
        #[cfg(not(feature = "api"))]
        false
    }

    fn no_api(&self, operation: &'static str) -> ProviderError {
        ProviderError::NotSupported {
            provider: Self::NAME,
            operation,
        }
    }

    /// The dummy's id for one of our payments (stable, so checkouts are idempotent).
    pub fn external_id(payment_ref: &str) -> String {
        format!("dummy_{payment_ref}")
    }

    /// A webhook body for `event_type` about one payment, and its signed headers at `now`.
    pub fn signed_webhook(
        &self,
        event_id: &str,
        event_type: &str,
        payment_ref: &str,
        amount: Money,
        now: i64,
    ) -> Result<WebhookRequest, ProviderError> {
        self.signed_event(event_id, event_type, payment_ref, amount, None, now)
    }

    /// A signed `refund.succeeded` webhook about one refund (`refund_id`, `refund` of the
    /// payment's `amount`), as the dummy sends it when a refund is made at the provider.
    pub fn signed_refund_webhook(
        &self,
        event_id: &str,
        payment_ref: &str,
        amount: Money,
        refund_id: &str,
        refund: MinorUnits,
        now: i64,
    ) -> Result<WebhookRequest, ProviderError> {
        let refund = DummyRefund {
            id: refund_id.to_string(),
            amount: refund.get(),
        };
        self.signed_event(event_id, REFUND_EVENT, payment_ref, amount, Some(refund), now)
    }

    fn signed_event(
        &self,
        event_id: &str,
        event_type: &str,
        payment_ref: &str,
        amount: Money,
        refund: Option<DummyRefund>,
        now: i64,
    ) -> Result<WebhookRequest, ProviderError> {
        let event = DummyEvent {
            id: event_id.to_string(),
            event_type: event_type.to_string(),
            data: DummyPayment {
                id: Self::external_id(payment_ref),
                payment_ref: payment_ref.to_string(),
                amount: amount.amount.get(),
                currency: amount.currency.code().to_string(),
            },
            refund,
        };
        let body = serde_json::to_vec(&event).map_err(|e| ProviderError::UnexpectedResponse {
            provider: Self::NAME,
            message: e.to_string(),
        })?;
        let headers = self.sign(&body, now)?;
        Ok(WebhookRequest::new(headers, body, now))
    }

    /// The dummy's refund id for an idempotency key: the same key always names the same refund,
    /// so a retried call never refunds twice.
    pub fn refund_id(idempotency_key: &str) -> String {
        let tail: String = idempotency_key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("dummy_re_{tail}")
    }

    /// Signature headers for `body` at `timestamp`.
    pub fn sign(&self, body: &[u8], timestamp: i64) -> Result<Vec<(String, String)>, ProviderError> {
        let value = self
            .scheme
            .header_value(timestamp, body)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(vec![
            (SIGNATURE_HEADER.to_string(), value),
            ("Content-Type".to_string(), "application/json".to_string()),
        ])
    }
}

#[async_trait]
impl PaymentProvider for DummyProvider {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            refund: true,
            capture: self.has_api(),
            fetch_payment: self.has_api(),
            list_refunds: true,
            expire_checkout: false,
        }
    }

    /// The dummy's refund ids follow from the key, so a key is never forgotten.
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::Forever
    }

    /// The refunds made through this provider value for the payment.
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let books = self.refunds.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(books
            .iter()
            .filter(|(payment, _)| payment == external_payment_id)
            .map(|(_, refund)| refund.clone())
            .collect())
    }

    /// Through the API (`DUMMY_API_URL`); not supported without it.
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        #[cfg(feature = "api")]
        if let Some(api) = &self.api {
            return api.fetch(external_id).await;
        }
        let _ = external_id;
        Err(self.no_api("fetch_payment"))
    }

    /// Through the API (`DUMMY_API_URL`); not supported without it.
    async fn capture(
        &self,
        external_id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentSnapshot, ProviderError> {
        #[cfg(feature = "api")]
        if let Some(api) = &self.api {
            return api.capture(external_id, idempotency_key).await;
        }
        let _ = (external_id, idempotency_key);
        Err(self.no_api("capture"))
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        if !request.amount.amount.is_positive() {
            return Err(ProviderError::AmountRefused(format!(
                "{} is not a positive amount",
                request.amount
            )));
        }
        Ok(CheckoutSession {
            external_id: Self::external_id(&request.payment_ref),
            redirect_url: format!(
                "{}/payments/simulate?payment={}",
                self.site_base_url, request.payment_ref
            ),
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        let header = request.require_header(SIGNATURE_HEADER)?;
        self.scheme.verify(header, &request.body, request.received_at)?;
        let raw = request.json()?;
        let event: DummyEvent = serde_json::from_value(raw.clone())
            .map_err(|e| WebhookError::MalformedPayload(format!("not a dummy event: {e}")))?;
        let currency = Currency::from_code(&event.data.currency)
            .map_err(|e| WebhookError::MalformedPayload(e.to_string()))?;
        let (kind, refund) = match (event.event_type.as_str(), &event.refund) {
            (REFUND_EVENT, Some(r)) => (
                EventKind::Refunded { amount: None },
                Some(RefundReport {
                    id: r.id.clone(),
                    amount: Some(MinorUnits(r.amount)),
                    state: RefundState::Succeeded,
                }),
            ),
            (REFUND_EVENT, None) => {
                return Err(WebhookError::MalformedPayload(format!(
                    "{REFUND_EVENT} without a refund"
                )))
            }
            (DISPUTE_EVENT, _) => (EventKind::Disputed, None),
            (other, _) => (EventKind::from_generic_type(other), None),
        };
        Ok(WebhookEvent {
            references: Vec::new(),
            refund,
            provider: Self::NAME.to_string(),
            event_id: event.id,
            kind,
            raw_type: event.event_type,
            external_payment_id: Some(event.data.id),
            payment_ref: Some(event.data.payment_ref),
            amount: Some(Money::new(event.data.amount, currency)),
            raw,
            signature: SignatureVerdict::verified("hmac-sha256"),
        })
    }

    /// Refunds at once (the dummy has no money to move): the refund id follows from the
    /// idempotency key, the amount is what was asked (`None`: refused, the dummy does not know
    /// what remains).
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = request.amount.ok_or_else(|| {
            ProviderError::AmountRefused("the dummy provider refunds only a stated amount".into())
        })?;
        if !amount.amount.is_positive() {
            return Err(ProviderError::AmountRefused(format!(
                "{amount} is not a positive amount"
            )));
        }
        if request.idempotency_key.trim().is_empty() {
            return Err(ProviderError::Config("a refund needs an idempotency key".into()));
        }
        let refund_id = Self::refund_id(&request.idempotency_key);
        let mut books = self.refunds.lock().unwrap_or_else(PoisonError::into_inner);
        if !books.iter().any(|(_, r)| r.refund_id == refund_id) {
            books.push((
                request.external_payment_id.clone(),
                ProviderRefund {
                    refund_id: refund_id.clone(),
                    amount: Some(amount.amount),
                    status: "succeeded".into(),
                    marker: Some(refund_marker(&request.idempotency_key)),
                },
            ));
        }
        Ok(RefundOutcome {
            refund_id,
            amount: Some(amount.amount),
            status: "succeeded".into(),
        })
    }
}

impl payments_core::Adapter for DummyProvider {
    const NAME: &'static str = "dummy";
    const VARIABLES: &'static [(&'static str, &'static str)] = &[
        (
            "PAYMENT_WEBHOOK_SECRET",
            "secret the dummy provider signs its webhooks with (the server generates one per run when unset)",
        ),
        (
            "DUMMY_API_URL",
            "optional: base URL of a dummy provider API to look payments up and capture them \
             (reconciliation tests; needs the payments-dummy `api` feature)",
        ),
    ];

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let secret = lookup("PAYMENT_WEBHOOK_SECRET").unwrap_or_default();
        let site = lookup("SITE_BASE_URL")
            .ok_or_else(|| ProviderError::Config("the dummy provider needs SITE_BASE_URL".into()))?;
        let provider = DummyProvider::new(&secret, &site)?;
        match lookup("DUMMY_API_URL").filter(|u| !u.trim().is_empty()) {
            None => Ok(provider),
            #[cfg(feature = "api")]
            Some(base) => provider.with_api(base.trim()),
            #[cfg(not(feature = "api"))]
            Some(_) => Err(ProviderError::Config(
                "DUMMY_API_URL is set, but this binary was built without the payments-dummy `api` feature"
                    .into(),
            )),
        }
    }
}
