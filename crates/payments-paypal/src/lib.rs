#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(payments_mock)]
pub mod testing;

use payments_core::http::{bounded_key, Auth, Client, Idempotency, Request};
use payments_core::{
    async_trait, refund_marker, Capabilities, CheckoutRequest, CheckoutSession, KeyLifetime, PaymentProvider,
    PaymentSnapshot, ProviderError, ProviderRefund, RefundOutcome, RefundRequest, WebhookError, WebhookEvent,
    WebhookRequest,
};
use serde_json::json;

pub use config::{PayPalConfig, ENV_VARS};
pub use transformers::{PayPalError, PAYPAL_EXPONENTS};
pub use webhook::{transmission_message, HEADER_TRANSMISSION_SIG};

use transformers::{invoice_id, truncate_chars, AmountWire, Order, RefundWire, MAX_CUSTOM_ID};

/// The provider's name in configuration, the database and the audit log.
pub const PROVIDER: &str = "paypal";

/// PayPal keeps `PayPal-Request-Id` values up to 108 characters.
pub const MAX_REQUEST_ID: usize = 108;

/// How long PayPal keeps a `PayPal-Request-Id`: "The server stores keys for 45 days" (the
/// `PayPal-Request-Id` parameter of `POST /v2/payments/captures/{capture_id}/refund` in PayPal's
/// Payments v2 description).
pub const REQUEST_ID_LIFETIME_SECS: u64 = 45 * 86_400;

/// A `PayPal-Request-Id` for `key` (see [`bounded_key`]).
pub fn request_id(key: &str) -> String {
    bounded_key(key, MAX_REQUEST_ID)
}

/// The client for `config`.
pub fn client(config: &PayPalConfig) -> Result<Client, ProviderError> {
    let auth = Auth::OAuthClientCredentials {
        token_path: "/v1/oauth2/token".into(),
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.expose().to_string(),
        refresh_margin: config.token_refresh_margin,
    };
    // PayPal's error JSON (REST `name`/`message`/`details`, or OAuth `error`).
    let errors = |status, body: &[u8]| PayPalError::parse(body).into_provider_error(status);
    Client::new(PROVIDER, &config.api_base, auth, config.retry, errors)
}

/// The PayPal adapter. Cheap to clone; clones share the token cache.
#[derive(Debug, Clone)]
pub struct PayPalProvider {
    config: PayPalConfig,
    client: Client,
}

/// A `POST` of JSON with `PayPal-Request-Id` = `key` (the same on every retry).
fn post<'a>(path: String, body: &serde_json::Value, key: &'a str) -> Result<Request<'a>, ProviderError> {
    let request = Request::post(path)
        .json(body)?
        .header("Prefer", "return=representation");
    Ok(request.idempotency(Idempotency::Header("PayPal-Request-Id", key)))
}

impl PayPalProvider {
    pub const NAME: &'static str = PROVIDER;

    pub fn new(config: PayPalConfig) -> Result<Self, ProviderError> {
        Ok(PayPalProvider {
            client: client(&config)?,
            config,
        })
    }

    /// From the `PAYPAL_*` variables (see [`ENV_VARS`]), e.g. `&|k| std::env::var(k).ok()`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        Self::new(PayPalConfig::from_lookup(lookup)?)
    }

    pub fn config(&self) -> &PayPalConfig {
        &self.config
    }

    fn order_path(order_id: &str) -> Result<String, ProviderError> {
        Ok(format!("/v2/checkout/orders/{}", path_segment(order_id)?))
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ProviderError> {
        self.client.json(&Request::get(Self::order_path(order_id)?)).await
    }

    /// The capture to refund for `id`: when `id` is an order (what the server stores), its
    /// completed capture; when PayPal does not know such an order, `id` is taken as a capture id.
    async fn capture_id_for(&self, id: &str) -> Result<String, ProviderError> {
        match self.get_order(id).await {
            Ok(order) => order
                .decisive_capture()
                .map(|c| c.id.clone())
                .ok_or_else(|| ProviderError::Api {
                    provider: PROVIDER,
                    status: 422,
                    code: Some("NOT_CAPTURED".into()),
                    message: format!("order {id} has no capture to refund"),
                }),
            Err(ProviderError::Api { status: 404, .. }) => Ok(id.to_string()),
            Err(e) => Err(e),
        }
    }
}

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::unexpected(PROVIDER, message)
}

/// PayPal ids are letters, digits and dashes; anything else would change the URL.
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(valid) {
        Ok(id)
    } else {
        Err(unexpected(format!("{id:?} is not a PayPal id")))
    }
}

#[async_trait]
impl PaymentProvider for PayPalProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL.with_refund_lookup()
    }

    fn check_amount(&self, amount: payments_core::Money) -> Result<(), ProviderError> {
        transformers::AMOUNTS.charge(amount).map(|_| ())
    }

    /// 45 days: see [`REQUEST_ID_LIFETIME_SECS`].
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::Secs(REQUEST_ID_LIFETIME_SECS)
    }

    /// `POST /v2/checkout/orders` (intent CAPTURE); the payer goes to the `payer-action` link.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        // Our payment id travels as `custom_id` (1 to 127 characters in PayPal's
        // `purchase_unit_request`) and must come back whole: a longer one is refused here,
        // never cut (a cut id would not name the payment).
        let ref_len = request.payment_ref.chars().count();
        if ref_len == 0 || ref_len > MAX_CUSTOM_ID {
            return Err(ProviderError::Config(format!(
                "the payment id {:?} does not fit PayPal's custom_id (1 to {MAX_CUSTOM_ID} characters)",
                request.payment_ref
            )));
        }
        let amount = AmountWire::from_money(request.amount)?;
        let description = truncate_chars(&request.description, 127);
        let description = match description.is_empty() {
            true => format!("Receipt #{}", request.receipt_id),
            false => description,
        };
        let experience = json!({
            "return_url": request.success_url, "cancel_url": request.cancel_url,
            "user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING",
        });
        let order = json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": truncate_chars(&request.payment_ref, 256),
                // Our payment id; PayPal echoes it on the order, the capture and in webhooks.
                "custom_id": request.payment_ref,
                // Unique per payment (PayPal refuses a duplicate invoice id).
                "invoice_id": invoice_id(request.receipt_id, &request.payment_ref),
                "description": description,
                "amount": amount,
            }],
            "payment_source": {"paypal": {"experience_context": experience}},
        });
        let key = request_id(&request.idempotency_key);
        let created: Order = self
            .client
            .json(&post("/v2/checkout/orders".into(), &order, &key)?)
            .await?;
        let no_link = || {
            unexpected(format!(
                "order {} has no payer-action or approve link",
                created.id
            ))
        };
        let redirect_url = created.payer_link().ok_or_else(no_link)?.to_string();
        tracing::info!(order = %created.id, payment = %request.payment_ref, "paypal: order created");
        Ok(CheckoutSession {
            external_id: created.id,
            redirect_url,
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        let transmission = webhook::Transmission::from_request(request)?;
        // Parse first: a malformed body is refused without asking PayPal.
        let (raw, envelope) = webhook::parse_envelope(&request.body)?;
        let webhook_id = &self.config.webhook_id;
        webhook::verify_online(&self.client, webhook_id, &transmission, &request.body).await?;
        webhook::map_event(raw, envelope)
    }

    /// `POST /v2/checkout/orders/{id}/capture`. The status comes from the capture itself (a
    /// `COMPLETED` order can hold a `DECLINED` capture). An order captured earlier under another
    /// request id is read back instead of failing.
    async fn capture(&self, external_id: &str, key: &str) -> Result<PaymentSnapshot, ProviderError> {
        let path = format!("{}/capture", Self::order_path(external_id)?);
        let key = request_id(key);
        match self.client.json::<Order>(&post(path, &json!({}), &key)?).await {
            // Not the full representation: read the order.
            Ok(order) if order.decisive_capture().is_none() => self.get_order(external_id).await?.snapshot(),
            Ok(order) => order.snapshot(),
            Err(ProviderError::Api {
                status: 422,
                code: Some(c),
                ..
            }) if c == "ORDER_ALREADY_CAPTURED" => {
                tracing::info!(order = %external_id, "paypal: already captured, reading the order");
                self.get_order(external_id).await?.snapshot()
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /v2/payments/captures/{capture_id}/refund`; `external_payment_id` may be the order
    /// id (its capture is looked up) or a capture id. No `amount` = full refund. `custom_id` is
    /// our [`refund_marker`], read back by `list_refunds`.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let marker = refund_marker(&request.idempotency_key);
        if marker.is_empty() || marker.len() > MAX_CUSTOM_ID {
            return Err(ProviderError::Config(format!(
                "the refund key {:?} does not fit PayPal's custom_id (1 to {MAX_CUSTOM_ID} characters)",
                request.idempotency_key
            )));
        }
        // Without an amount PayPal refunds what remains of the capture.
        let body = match request.amount {
            Some(a) => json!({ "amount": AmountWire::from_money(a)?, "custom_id": marker }),
            None => json!({ "custom_id": marker }),
        };
        let capture_id = self.capture_id_for(&request.external_payment_id).await?;
        let path = format!("/v2/payments/captures/{}/refund", path_segment(&capture_id)?);
        let key = request_id(&request.idempotency_key);
        let refund: RefundWire = self.client.json(&post(path, &body, &key)?).await?;
        let amount = refund.money().map_err(unexpected)?.map(|m| m.amount);
        Ok(RefundOutcome {
            refund_id: refund.id,
            amount,
            status: refund.status,
        })
    }

    /// `GET /v2/checkout/orders/{id}` and its `purchase_units[].payments.refunds[]`: every refund
    /// of the order with its status (`COMPLETED`, `PENDING`, `FAILED`, `CANCELLED`) and our marker
    /// (`custom_id`). `external_payment_id` is the order id the server stores (PayPal has no
    /// refund list for a bare capture id).
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let order = self.get_order(external_payment_id).await?;
        let refunds = order.refunds().unwrap_or_default();
        let listed = refunds.into_iter().map(RefundWire::listed);
        listed.collect::<Result<_, _>>().map_err(unexpected)
    }

    /// `GET /v2/checkout/orders/{id}`: `APPROVED` → `RequiresCapture`, `COMPLETED` with a
    /// completed capture → `Succeeded`, a declined capture → `Failed`, ...
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        self.get_order(external_id).await?.snapshot()
    }
}

impl payments_core::Adapter for PayPalProvider {
    const NAME: &'static str = "paypal";
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        PayPalProvider::new(PayPalConfig::from_lookup(lookup)?)
    }
}
