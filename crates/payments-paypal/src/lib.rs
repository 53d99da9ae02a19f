#![doc = include_str!("../README.md")]

pub mod client;
pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(feature = "test-support")]
pub mod testing;

use std::sync::Arc;

use payments_core::{
    async_trait, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider, PaymentSnapshot,
    ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookRequest,
};

pub use client::PayPalClient;
pub use config::{PayPalConfig, ENV_VARS};
pub use transformers::{PayPalError, PAYPAL_EXPONENTS};
pub use webhook::{transmission_message, HEADER_TRANSMISSION_SIG};

use client::{request_id, Call, CallError};
use transformers::{
    invoice_id, truncate_chars, AmountWire, ExperienceContext, Order, OrderRequest, PayPalWalletRequest,
    PaymentSourceRequest, PurchaseUnitRequest, RefundRequestWire, RefundWire,
};

/// The provider's name in configuration, the database and the audit log.
pub const PROVIDER: &str = "paypal";

/// The PayPal adapter. Cheap to clone; clones share the token cache.
#[derive(Debug, Clone)]
pub struct PayPalProvider {
    client: Arc<PayPalClient>,
}

impl PayPalProvider {
    pub const NAME: &'static str = PROVIDER;

    pub fn new(config: PayPalConfig) -> Result<Self, ProviderError> {
        Ok(PayPalProvider {
            client: Arc::new(PayPalClient::new(config)?),
        })
    }

    /// From the `PAYPAL_*` variables (see [`ENV_VARS`]), e.g. `&|k| std::env::var(k).ok()`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        Self::new(PayPalConfig::from_lookup(lookup)?)
    }

    pub fn config(&self) -> &PayPalConfig {
        self.client.config()
    }

    fn order_path(order_id: &str) -> Result<String, ProviderError> {
        Ok(format!("/v2/checkout/orders/{}", path_segment(order_id)?))
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ProviderError> {
        self.client.json(&Call::get(Self::order_path(order_id)?)).await
    }

    /// The capture to refund for `id`: when `id` is an order (what the server stores), its
    /// completed capture; when PayPal does not know such an order, `id` is taken as a capture id.
    async fn capture_id_for(&self, id: &str) -> Result<String, ProviderError> {
        match self.client.execute(&Call::get(Self::order_path(id)?)).await {
            Ok(body) => {
                let order: Order =
                    serde_json::from_slice(&body).map_err(|e| ProviderError::UnexpectedResponse {
                        provider: PROVIDER,
                        message: format!("order {id}: {e}"),
                    })?;
                order
                    .decisive_capture()
                    .map(|c| c.id.clone())
                    .ok_or_else(|| ProviderError::Api {
                        provider: PROVIDER,
                        status: 422,
                        code: Some("NOT_CAPTURED".into()),
                        message: format!("order {id} has no capture to refund"),
                    })
            }
            Err(CallError::Api { status: 404, .. }) => Ok(id.to_string()),
            Err(e) => Err(e.into()),
        }
    }
}

/// PayPal ids are letters, digits and dashes; anything else would change the URL.
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(ProviderError::UnexpectedResponse {
            provider: PROVIDER,
            message: format!("{id:?} is not a PayPal id"),
        })
    }
}

#[async_trait]
impl PaymentProvider for PayPalProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            capture: true,
            refund: true,
            fetch_payment: true,
        }
    }

    /// `POST /v2/checkout/orders` (intent CAPTURE); the payer goes to the `payer-action` link.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let amount = AmountWire::from_money(request.amount)?;
        let description = truncate_chars(&request.description, 127);
        let order = OrderRequest {
            intent: "CAPTURE",
            purchase_units: vec![PurchaseUnitRequest {
                reference_id: truncate_chars(&request.payment_ref, 256),
                custom_id: request.payment_ref.clone(),
                invoice_id: invoice_id(request.receipt_id, &request.payment_ref),
                description: if description.is_empty() {
                    format!("Receipt #{}", request.receipt_id)
                } else {
                    description
                },
                amount,
            }],
            payment_source: PaymentSourceRequest {
                paypal: PayPalWalletRequest {
                    experience_context: ExperienceContext {
                        return_url: request.success_url.clone(),
                        cancel_url: request.cancel_url.clone(),
                        user_action: "PAY_NOW",
                        shipping_preference: "NO_SHIPPING",
                    },
                },
            },
        };
        let body = serde_json::to_vec(&order).map_err(|e| ProviderError::UnexpectedResponse {
            provider: PROVIDER,
            message: e.to_string(),
        })?;
        let call = Call::post("/v2/checkout/orders", body, request_id(&request.idempotency_key));
        let created: Order = self.client.json(&call).await?;
        let redirect_url = created
            .payer_link()
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!("order {} has no payer-action or approve link", created.id),
            })?
            .to_string();
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
        webhook::verify_online(&self.client, &transmission, &request.body).await?;
        webhook::map_event(raw, envelope)
    }

    /// `POST /v2/checkout/orders/{id}/capture`. The status comes from the capture itself (a
    /// `COMPLETED` order can hold a `DECLINED` capture). An order captured earlier under another
    /// request id is read back instead of failing.
    async fn capture(
        &self,
        external_id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentSnapshot, ProviderError> {
        let path = format!("{}/capture", Self::order_path(external_id)?);
        let call = Call::post(path, b"{}".to_vec(), request_id(idempotency_key));
        match self.client.execute(&call).await {
            Ok(body) => {
                let order: Order =
                    serde_json::from_slice(&body).map_err(|e| ProviderError::UnexpectedResponse {
                        provider: PROVIDER,
                        message: format!("capture of {external_id}: {e}"),
                    })?;
                if order.decisive_capture().is_none() {
                    // Not the full representation: read the order.
                    return self.get_order(external_id).await?.snapshot();
                }
                order.snapshot()
            }
            Err(CallError::Api { status: 422, error }) if error.has_issue("ORDER_ALREADY_CAPTURED") => {
                tracing::info!(order = %external_id, "paypal: already captured, reading the order");
                self.get_order(external_id).await?.snapshot()
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v2/payments/captures/{capture_id}/refund`; `external_payment_id` may be the order
    /// id (its capture is looked up) or a capture id. Empty body = full refund.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let wire = RefundRequestWire {
            amount: request.amount.map(AmountWire::from_money).transpose()?,
        };
        let capture_id = self.capture_id_for(&request.external_payment_id).await?;
        let body = serde_json::to_vec(&wire).map_err(|e| ProviderError::UnexpectedResponse {
            provider: PROVIDER,
            message: e.to_string(),
        })?;
        let path = format!("/v2/payments/captures/{}/refund", path_segment(&capture_id)?);
        let refund: RefundWire = self
            .client
            .json(&Call::post(path, body, request_id(&request.idempotency_key)))
            .await?;
        let amount = refund
            .amount
            .as_ref()
            .map(AmountWire::to_money)
            .transpose()
            .map_err(|message| ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!("refund {}: {message}", refund.id),
            })?
            .map(|m| m.amount);
        Ok(RefundOutcome {
            refund_id: refund.id,
            amount,
            status: refund.status,
        })
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
