#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(payments_mock)]
pub mod testing;

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Request};
use payments_core::wire::{link, DecimalAmount};
use payments_core::{
    async_trait, refund_marker, Capabilities, CheckoutRequest, CheckoutSession, KeyLifetime, PaymentProvider,
    PaymentSnapshot, ProviderError, ProviderRefund, RefundOutcome, RefundRequest, RetryPolicy, WebhookError,
    WebhookEvent, WebhookRequest, REFUND_MARKER_KEY,
};
use serde_json::{json, Value};

pub use config::MollieConfig;
use transformers::{MolliePayment, MollieRefund, RefundPage, AMOUNTS, REFUND_PAGE_LIMIT};

/// `PAYMENT_PROVIDER` value, `provider` column and audit name.
pub const NAME: &str = "mollie";

/// How long Mollie honours an `Idempotency-Key`: "If another request is made with the exact same
/// header value within one hour, the Mollie API will return a cached version of the initial
/// response" and "Keys older than 1 hour will be removed from our cache"
/// (https://docs.mollie.com/overview/api-idempotency; docs/providers/mollie.md, Idempotency).
pub const IDEMPOTENCY_KEY_LIFETIME_SECS: u64 = 3_600;

/// The most pages of refunds `list_refunds` reads (250 refunds each) before it gives up.
const MAX_REFUND_PAGES: usize = 40;

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

    /// One page of the payment's refunds, from refund `from` on (Mollie's cursor).
    async fn refund_page(&self, id: &str, from: Option<&str>) -> Result<RefundPage, ProviderError> {
        let mut path = format!("/v2/payments/{}/refunds?limit={REFUND_PAGE_LIMIT}", segment(id));
        if let Some(from) = from {
            path.push_str(&format!("&from={}", segment(from)));
        }
        self.client.json(&Request::get(path)).await
    }
}

#[async_trait]
impl PaymentProvider for MollieProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::REFUND_AND_FETCH.with_refund_lookup()
    }

    fn check_amount(&self, amount: payments_core::Money) -> Result<(), ProviderError> {
        transformers::AMOUNTS.charge(amount).map(|_| ())
    }

    /// One hour: see [`IDEMPOTENCY_KEY_LIFETIME_SECS`].
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::Secs(IDEMPOTENCY_KEY_LIFETIME_SECS)
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

    /// A payment Mollie does not know (its `404` on the re-fetch) is
    /// [`WebhookError::UnknownPayment`], distinct from Mollie being unreachable (`Upstream`).
    /// Mollie's docs: answer 200 for an id it does not know, so nobody learns which ids exist.
    fn acknowledges_unknown_ids(&self) -> bool {
        true
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
            // A Mollie payment has no other id of its own; refunds and chargebacks name it.
            references: Vec::new(),
            refunded: payment.refunded().map_err(unexpected)?,
            external_id: payment.id,
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        // Everything: what is left of the payment (see `MolliePayment::unrefunded`), read once
        // before the call, so that the client's retries send the same body under the same key.
        let money = match request.amount {
            Some(money) => money,
            None => {
                let (payment, _) = self.payment(&request.external_payment_id).await?;
                payment.unrefunded().map_err(unexpected)?.ok_or_else(|| {
                    ProviderError::AmountRefused(format!("payment {} is refunded in full", payment.id))
                })?
            }
        };
        let amount = DecimalAmount::new(&AMOUNTS, money)?;
        let path = format!("/v2/payments/{}/refunds", segment(&request.external_payment_id));
        let key = Idempotency::key(&request.idempotency_key);
        // Our marker, so that `list_refunds` finds this refund even if its answer is lost.
        let metadata = json!({ REFUND_MARKER_KEY: refund_marker(&request.idempotency_key) });
        let call = Request::post(path).json(&json!({ "amount": amount, "metadata": metadata }))?;
        let refund: MollieRefund = self.client.json(&call.idempotency(key)).await?;
        Ok(RefundOutcome {
            amount: Some(refund.amount.money(&AMOUNTS).map_err(unexpected)?.amount),
            refund_id: refund.id,
            status: refund.status,
        })
    }

    /// `GET /v2/payments/{id}/refunds`, page by page (`_links.next`): every refund with its own
    /// status and amount, and our marker from its `metadata`.
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let mut refunds = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..MAX_REFUND_PAGES {
            let page = self.refund_page(external_payment_id, from.as_deref()).await?;
            let next = page.next_from().map_err(unexpected)?;
            for refund in page.embedded.refunds {
                refunds.push(refund.listed().map_err(unexpected)?);
            }
            match next {
                Some(next) if from.as_deref() != Some(next.as_str()) => from = Some(next),
                Some(next) => {
                    return Err(unexpected(format!(
                        "the refunds page from {next} links to itself"
                    )))
                }
                None => return Ok(refunds),
            }
        }
        Err(unexpected(format!(
            "payment {external_payment_id} has more than {} refunds",
            MAX_REFUND_PAGES * REFUND_PAGE_LIMIT
        )))
    }
}

impl payments_core::Adapter for MollieProvider {
    const NAME: &'static str = NAME;
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        MollieProvider::new(MollieConfig::from_lookup(lookup)?)
    }
}
