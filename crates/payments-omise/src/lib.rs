#![doc = include_str!("../README.md")]

pub mod client;
pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(feature = "test-support")]
pub mod testing;

use payments_core::{
    async_trait, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider, PaymentSnapshot,
    ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookRequest,
};

pub use client::OmiseClient;
pub use config::{OmiseConfig, API_VERSION, DEFAULT_API_BASE, DEFAULT_SOURCE_TYPE, ENV_VARS};
pub use webhook::{OmiseSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use transformers::{
    create_charge_form, is_omise_id, minor_units_from_omise, refund_amount, OmiseCharge, OmiseRefund,
    META_IDEMPOTENCY_KEY,
};

/// The adapter's name in configuration, the database and the audit log.
pub const PROVIDER: &str = "omise";

/// The Omise adapter.
#[derive(Clone)]
pub struct OmiseProvider {
    config: OmiseConfig,
    client: OmiseClient,
    signature: Option<OmiseSignature>,
}

impl std::fmt::Debug for OmiseProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // OmiseConfig's Debug redacts the secret key and the webhook secrets.
        f.debug_struct("OmiseProvider")
            .field("config", &self.config)
            .field("signed_webhooks", &self.signature.is_some())
            .finish()
    }
}

impl OmiseProvider {
    pub const NAME: &'static str = PROVIDER;

    /// Validates `config` and builds the adapter.
    pub fn new(mut config: OmiseConfig) -> Result<Self, ProviderError> {
        config.validate()?;
        let keys = config.webhook_keys()?;
        let signature = (!keys.is_empty()).then(|| OmiseSignature::new(keys, config.webhook_tolerance_secs));
        let client = OmiseClient::new(&config)?;
        Ok(OmiseProvider {
            config,
            client,
            signature,
        })
    }

    /// Reads `OMISE_*` from the process environment.
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::new(OmiseConfig::from_env()?)
    }

    pub fn config(&self) -> &OmiseConfig {
        &self.config
    }

    /// Whether webhooks are checked against `OMISE_WEBHOOK_SECRET` (they are re-fetched anyway).
    pub fn verifies_signatures(&self) -> bool {
        self.signature.is_some()
    }

    fn check_charge_id(id: &str) -> Result<(), ProviderError> {
        if is_omise_id(id, "chrg_") {
            Ok(())
        } else {
            Err(ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!("{id:?} is not an Omise charge id; not sent to Omise"),
            })
        }
    }

    /// `GET /charges/{id}`.
    pub async fn fetch_charge(&self, charge_id: &str) -> Result<OmiseCharge, ProviderError> {
        Self::check_charge_id(charge_id)?;
        let charge: OmiseCharge = self.client.get(&format!("/charges/{charge_id}")).await?;
        if charge.object != "charge" || charge.id != charge_id {
            return Err(ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!(
                    "asked for charge {charge_id}, got {} {:?}",
                    charge.object, charge.id
                ),
            });
        }
        Ok(charge)
    }
}

#[async_trait]
impl PaymentProvider for OmiseProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            capture: false,
            refund: true,
            fetch_payment: true,
        }
    }

    /// `POST /charges` with `source[type]` = the configured redirect source, `return_uri` = our
    /// success URL, and our payment and receipt ids in `metadata`; the payer is sent to the
    /// charge's `authorize_uri`. Amounts outside Omise's limits are refused before any call.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let form = create_charge_form(request, &self.config.source_type)?;
        let charge: OmiseCharge = self.client.post_form("/charges", &form).await?;
        if charge.object != "charge" || !is_omise_id(&charge.id, "chrg_") {
            return Err(ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!("POST /charges answered {} {:?}", charge.object, charge.id),
            });
        }
        let sent = transformers::charge_amount(request.amount)?;
        if charge.amount != sent
            || !charge
                .currency
                .eq_ignore_ascii_case(request.amount.currency.code())
        {
            return Err(ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!(
                    "charge {} was created for {} {} instead of {sent} {}",
                    charge.id,
                    charge.amount,
                    charge.currency,
                    request.amount.currency.code()
                ),
            });
        }
        let redirect_url = charge
            .authorize_uri
            .as_deref()
            .filter(|u| {
                url::Url::parse(u)
                    .map(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
                    .unwrap_or(false)
            })
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!(
                    "charge {} (source {}) has no authorize_uri to redirect to; \
                     is OMISE_SOURCE_TYPE a redirect flow enabled on the account?",
                    charge.id, self.config.source_type
                ),
            })?
            .to_string();
        tracing::info!(charge = %charge.id, payment = %request.payment_ref, "Omise charge created");
        Ok(CheckoutSession {
            external_id: charge.id,
            redirect_url,
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        webhook::parse_webhook(&self.client, self.signature.as_ref(), request).await
    }

    /// `POST /charges/{id}/refunds`. Without an amount, the rest of the charge (amount minus
    /// what is already refunded, read with `GET /charges/{id}`) is refunded.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let charge_id = request.external_payment_id.as_str();
        Self::check_charge_id(charge_id)?;
        let amount = match request.amount {
            Some(money) => refund_amount(money)?,
            None => {
                let charge = self.fetch_charge(charge_id).await?;
                let remaining = charge.amount - charge.refunded_amount.unwrap_or(0);
                if remaining <= 0 {
                    return Err(ProviderError::AmountRefused(format!(
                        "charge {charge_id} is already refunded in full"
                    )));
                }
                remaining
            }
        };
        let form = vec![
            ("amount".to_string(), amount.to_string()),
            (
                format!("metadata[{META_IDEMPOTENCY_KEY}]"),
                request.idempotency_key.clone(),
            ),
        ];
        let refund: OmiseRefund = self
            .client
            .post_form(&format!("/charges/{charge_id}/refunds"), &form)
            .await?;
        if refund.object != "refund" || refund.id.is_empty() {
            return Err(ProviderError::UnexpectedResponse {
                provider: PROVIDER,
                message: format!("refund of {charge_id} answered {} {:?}", refund.object, refund.id),
            });
        }
        Ok(RefundOutcome {
            amount: Some(minor_units_from_omise(refund.amount, &refund.currency)?),
            status: refund
                .status
                .clone()
                .unwrap_or_else(|| if refund.voided { "voided" } else { "created" }.to_string()),
            refund_id: refund.id,
        })
    }

    /// `GET /charges/{id}`: status, amount and currency as Omise has them now.
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let charge = self.fetch_charge(external_id).await?;
        Ok(PaymentSnapshot {
            external_id: charge.id.clone(),
            status: charge.payment_status(),
            amount: Some(charge.money()?),
            payment_ref: charge.payment_ref(),
        })
    }
}

impl payments_core::Adapter for OmiseProvider {
    const NAME: &'static str = "omise";
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        OmiseProvider::new(OmiseConfig::from_lookup(lookup)?)
    }
}
