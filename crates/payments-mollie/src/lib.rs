#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(feature = "test-support")]
pub mod testing;

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Request};
use payments_core::provider::check_checkout;
use payments_core::wire::DecimalAmount;
use payments_core::{
    async_trait, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider, PaymentSnapshot,
    ProviderError, RefundOutcome, RefundRequest, RetryPolicy, WebhookError, WebhookEvent, WebhookRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

pub use config::MollieConfig;
use transformers::{MolliePayment, AMOUNTS};

/// `PAYMENT_PROVIDER` value, `provider` column and audit name.
pub const NAME: &str = "mollie";

/// Mollie's error JSON: `{"status", "title", "detail", "field"}`.
const ERRORS: JsonErrors = JsonErrors {
    provider: NAME,
    code: &["/title"],
    message: &["/detail"],
    field: Some("/field"),
    retry_header: None,
};

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
        let raw: Value = self.client.json(&Request::get(path)).await?;
        let payment =
            MolliePayment::deserialize(&raw).map_err(|e| unexpected(format!("payment {id}: {e}")))?;
        Ok((payment, raw))
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
        let amount = DecimalAmount::new(&AMOUNTS, request.amount)?;
        let body = json!({
            "amount": amount, "description": request.description, "redirectUrl": request.success_url,
            "cancelUrl": request.cancel_url, "webhookUrl": self.config.webhook_url,
            "metadata": { "payment_ref": request.payment_ref, "receipt_id": request.receipt_id },
        });
        let key = Idempotency::Header("Idempotency-Key", &request.idempotency_key);
        let call = Request::post("/v2/payments").json(&body)?.idempotency(key);
        let payment: MolliePayment = self.client.json(&call).await?;
        let sent = (request.amount.amount.0, request.amount.currency);
        let got = (
            payment.money().ok().map(|m| m.amount.0),
            Some(payment.amount.currency.as_str()),
        );
        let link = payment.links.pointer("/checkout/href").and_then(Value::as_str);
        let url = check_checkout(NAME, &payment.id, sent, got, link)?;
        Ok(CheckoutSession::started(request, &payment.id, &url))
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        let id = webhook::payment_id(request)?;
        match self.payment(&id).await {
            Ok((payment, raw)) if payment.id == id => webhook::event(payment, raw),
            Ok(_) => Err(WebhookError::MalformedPayload(format!(
                "mollie answered for another id than {id}"
            ))),
            Err(e) => Err(WebhookError::refetch(&id, e)),
        }
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
        let key = Idempotency::Header("Idempotency-Key", &request.idempotency_key);
        let call = Request::post(path)
            .json(&json!({ "amount": amount }))?
            .idempotency(key);
        let refund: Value = self.client.json(&call).await?;
        let text = |field: &str| refund[field].as_str().unwrap_or_default().to_string();
        let money =
            serde_json::from_value::<DecimalAmount>(refund["amount"].clone()).map_err(|e| e.to_string());
        let amount = Some(money.and_then(|a| a.money(&AMOUNTS)).map_err(unexpected)?.amount);
        Ok(RefundOutcome {
            refund_id: text("id"),
            amount,
            status: text("status"),
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
