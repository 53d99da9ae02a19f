#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(payments_mock)]
pub mod testing;

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Request};
use payments_core::wire::{link, DecimalAmount};
use payments_core::{
    async_trait, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider, PaymentSnapshot,
    ProviderError, RefundOutcome, RefundRequest, RetryPolicy, WebhookError, WebhookEvent, WebhookRequest,
};
use serde_json::{json, Value};

pub use config::MollieConfig;
use transformers::{MolliePayment, MollieRefund, AMOUNTS};

/// `PAYMENT_PROVIDER` value, `provider` column and audit name.
pub const NAME: &str = "mollie";

/// Mollie's error JSON: `{"status", "title", "detail", "field"}`.
const ERRORS: JsonErrors = JsonErrors::new(NAME, &["/title"], &["/detail"]).with_field("/field");

/// The Mollie adapter: hosted checkout through the Payments API, webhooks verified by re-fetch.
#[derive(Debug)]
pub struct MollieProvider {
    config: MollieConfig,
    client: Client,
}

fn unexpected(message: String) -> ProviderError {
    ProviderError::unexpected(NAME, message)
}

impl MollieProvider {
    pub fn new(config: MollieConfig) -> Result<Self, ProviderError> {
        let auth = Auth::Bearer(config.api_key.expose().to_string());
        let client = Client::new(NAME, &config.api_base, auth, RetryPolicy::default(), ERRORS)?;
        Ok(MollieProvider { config, client })
    }

    /// The payment as Mollie has it now, and its raw JSON.
    async fn payment(&self, id: &str) -> Result<(MolliePayment, Value), ProviderError> {
        let path = format!("/v2/payments/{}", segment(id));
        self.client.json_raw(&Request::get(path)).await
    }
}

#[async_trait]
impl PaymentProvider for MollieProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::REFUND_AND_FETCH
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let body = json!({
            "amount": DecimalAmount::new(&AMOUNTS, request.amount)?,
            "description": request.description,
            "redirectUrl": request.success_url,
            "cancelUrl": request.cancel_url,
            "webhookUrl": self.config.webhook_url,
            "metadata": { "payment_ref": request.payment_ref, "receipt_id": request.receipt_id },
        });
        let key = Idempotency::key(&request.idempotency_key);
        let payment: MolliePayment = (self.client)
            .json(&Request::post("/v2/payments").json(&body)?.idempotency(key))
            .await?;
        let (got, url) = (payment.money().ok(), link(&payment.links, "checkout"));
        CheckoutSession::checked(NAME, request, &payment.id, got, url)
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        let id = webhook::payment_id(request)?;
        let (payment, raw) = WebhookError::refetched(&id, self.payment(&id).await, |p| &p.0.id)?;
        webhook::event(payment, raw)
    }

    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let (payment, _) = self.payment(external_id).await?;
        Ok(PaymentSnapshot {
            status: payment.status().map_err(unexpected)?,
            amount: Some(payment.money().map_err(unexpected)?),
            payment_ref: payment.payment_ref(),
            external_id: payment.id,
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = match request.amount {
            Some(money) => DecimalAmount::new(&AMOUNTS, money)?,
            None => self.payment(&request.external_payment_id).await?.0.amount,
        };
        let path = format!("/v2/payments/{}/refunds", segment(&request.external_payment_id));
        let key = Idempotency::key(&request.idempotency_key);
        let call = Request::post(path).json(&json!({ "amount": amount }))?;
        let refund: MollieRefund = self.client.json(&call.idempotency(key)).await?;
        Ok(RefundOutcome {
            amount: Some(refund.amount.money(&AMOUNTS).map_err(unexpected)?.amount),
            refund_id: refund.id,
            status: refund.status,
        })
    }
}

impl payments_core::Adapter for MollieProvider {
    const NAME: &'static str = NAME;
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        MollieProvider::new(MollieConfig::from_lookup(lookup)?)
    }
}
