#![doc = include_str!("../README.md")]

use payments_core::signature::{split_secrets, StripeStyleScheme};
use payments_core::{
    async_trait, Capabilities, CheckoutRequest, CheckoutSession, Currency, EventKind, Money, PaymentProvider,
    ProviderError, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest,
};
use serde::{Deserialize, Serialize};

#[cfg(payments_mock)]
pub mod testing;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Dummy-Signature";

/// The dummy provider.
#[derive(Clone)]
pub struct DummyProvider {
    scheme: StripeStyleScheme,
    site_base_url: String,
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
}

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
        })
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
        let event = DummyEvent {
            id: event_id.to_string(),
            event_type: event_type.to_string(),
            data: DummyPayment {
                id: Self::external_id(payment_ref),
                payment_ref: payment_ref.to_string(),
                amount: amount.amount.get(),
                currency: amount.currency.code().to_string(),
            },
        };
        let body = serde_json::to_vec(&event).map_err(|e| ProviderError::UnexpectedResponse {
            provider: Self::NAME,
            message: e.to_string(),
        })?;
        let headers = self.sign(&body, now)?;
        Ok(WebhookRequest::new(headers, body, now))
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
        Capabilities::default()
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
        Ok(WebhookEvent {
            references: Vec::new(),
            provider: Self::NAME.to_string(),
            event_id: event.id,
            kind: EventKind::from_generic_type(&event.event_type),
            raw_type: event.event_type,
            external_payment_id: Some(event.data.id),
            payment_ref: Some(event.data.payment_ref),
            amount: Some(Money::new(event.data.amount, currency)),
            raw,
            signature: SignatureVerdict::verified("hmac-sha256"),
        })
    }
}

impl payments_core::Adapter for DummyProvider {
    const NAME: &'static str = "dummy";
    const VARIABLES: &'static [(&'static str, &'static str)] = &[(
        "PAYMENT_WEBHOOK_SECRET",
        "secret the dummy provider signs its webhooks with (the server generates one per run when unset)",
    )];

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let secret = lookup("PAYMENT_WEBHOOK_SECRET").unwrap_or_default();
        let site = lookup("SITE_BASE_URL")
            .ok_or_else(|| ProviderError::Config("the dummy provider needs SITE_BASE_URL".into()))?;
        DummyProvider::new(&secret, &site)
    }
}
