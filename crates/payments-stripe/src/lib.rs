#![doc = include_str!("../README.md")]

pub mod client;
pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(feature = "test-support")]
pub mod testing;

use payments_core::signature::{SignatureError, StripeStyleScheme};
use payments_core::{
    async_trait, idempotency_key, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider,
    PaymentSnapshot, PaymentStatus, ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent,
    WebhookRequest,
};

pub use client::StripeClient;
pub use config::{KeyMode, StripeConfig, ENV_VARS};
pub use webhook::{HANDLED_EVENTS, SIGNATURE_HEADER};

use transformers::{CheckoutSessionObject, Form, RefundObject};

/// The adapter's name in configuration, the database and the audit log.
pub const NAME: &str = "stripe";

/// The API version every request pins (`Stripe-Version`); the oracle's description is this one.
pub const STRIPE_VERSION: &str = "2023-08-16";

/// The Stripe adapter.
#[derive(Clone)]
pub struct StripeProvider {
    config: StripeConfig,
    client: StripeClient,
    scheme: StripeStyleScheme,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config's Debug redacts its secrets; the scheme (which holds them) is left out.
        f.debug_struct("StripeProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::UnexpectedResponse {
        provider: NAME,
        message: message.into(),
    }
}

impl StripeProvider {
    pub const NAME: &'static str = NAME;

    pub fn new(config: StripeConfig) -> Result<Self, ProviderError> {
        let client = StripeClient::new(&config)?;
        let scheme = StripeStyleScheme::new(
            SIGNATURE_HEADER,
            config.webhook_secrets(),
            config.webhook_tolerance_secs,
        );
        Ok(StripeProvider {
            config,
            client,
            scheme,
        })
    }

    /// Reads the variables in [`ENV_VARS`] from the process environment.
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::new(StripeConfig::from_env()?)
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// Verifies a `Stripe-Signature` header value against the exact raw body at `now` (unix
    /// seconds) with the configured secrets and tolerance; returns the signed timestamp.
    pub fn verify_signature(&self, header: &str, body: &[u8], now: i64) -> Result<i64, SignatureError> {
        webhook::verify(&self.scheme, header, body, now)
    }

    /// The Checkout Session `session_id` as Stripe reports it.
    pub async fn retrieve_session(&self, session_id: &str) -> Result<CheckoutSessionObject, ProviderError> {
        if session_id.trim().is_empty() {
            return Err(unexpected("empty checkout session id"));
        }
        self.client.get(&["v1", "checkout", "sessions", session_id]).await
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            capture: false,
            refund: true,
            fetch_payment: true,
        }
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        // Amount rules first: a refused amount never reaches Stripe.
        let form = transformers::checkout_session_form(request)?;
        let key = if request.idempotency_key.trim().is_empty() {
            idempotency_key(&request.payment_ref, "checkout", 0)
        } else {
            request.idempotency_key.clone()
        };
        let session: CheckoutSessionObject = self
            .client
            .post_form(&["v1", "checkout", "sessions"], &form, &key)
            .await?;
        // Stripe must have created exactly what we asked for.
        let sent = transformers::checkout_amount(request.amount)?;
        let currency = request.amount.currency.code_lowercase();
        if session.amount_total != Some(sent)
            || !session
                .currency
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&currency))
        {
            return Err(unexpected(format!(
                "checkout session {} is for {:?} {:?}, not {sent} {currency}",
                session.id, session.amount_total, session.currency
            )));
        }
        let url = session
            .url
            .clone()
            .filter(|u| url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https")))
            .ok_or_else(|| unexpected(format!("checkout session {} has no usable url", session.id)))?;
        tracing::info!(
            session = %session.id,
            payment = %request.payment_ref,
            "stripe checkout session created"
        );
        Ok(CheckoutSession {
            external_id: session.id,
            redirect_url: url,
            idempotency_key: key,
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        webhook::parse(&self.scheme, self.config.mode(), request)
    }

    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let session = self.retrieve_session(external_id).await?;
        let amount = session.amount().map_err(unexpected)?;
        Ok(PaymentSnapshot {
            status: PaymentStatus::from(session.state()),
            amount,
            payment_ref: session.payment_ref(),
            external_id: session.id,
        })
    }

    /// Refunds through the PaymentIntent: a `cs_` id is looked up first (`GET` the session), a
    /// `pi_` id is used as is, a `ch_`/`py_` id is refunded as a charge.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = request.amount.map(transformers::refund_amount).transpose()?;
        if request.idempotency_key.trim().is_empty() {
            return Err(ProviderError::Config("a refund needs an idempotency key".into()));
        }
        let id = request.external_payment_id.trim();
        let mut form = Form::default();
        if id.starts_with("cs_") {
            let session = self.retrieve_session(id).await?;
            if let (Some(want), Some(have)) = (request.amount, session.currency.as_deref()) {
                if !have.eq_ignore_ascii_case(want.currency.code()) {
                    return Err(ProviderError::AmountRefused(format!(
                        "a refund in {} for a payment in {}",
                        want.currency,
                        have.to_ascii_uppercase()
                    )));
                }
            }
            let pi = session.payment_intent_id().ok_or_else(|| {
                ProviderError::AmountRefused(format!(
                    "checkout session {id} has no payment to refund (status {:?}, payment {:?})",
                    session.status, session.payment_status
                ))
            })?;
            form.push("payment_intent", pi);
            if let Some(r) = session.payment_ref() {
                form.push("metadata[payment_id]", r);
            }
        } else if id.starts_with("pi_") {
            form.push("payment_intent", id);
        } else if id.starts_with("ch_") || id.starts_with("py_") {
            form.push("charge", id);
        } else {
            return Err(unexpected(format!("{id:?} is not a Stripe payment id")));
        }
        if let Some(a) = amount {
            form.push("amount", a.to_string());
        }
        let refund: RefundObject = self
            .client
            .post_form(&["v1", "refunds"], &form, &request.idempotency_key)
            .await?;
        let refunded =
            transformers::money_from_stripe(refund.amount, &refund.currency).map_err(unexpected)?;
        Ok(RefundOutcome {
            refund_id: refund.id,
            amount: Some(refunded.amount),
            status: refund.status.unwrap_or_else(|| "unknown".into()),
        })
    }
}

impl payments_core::Adapter for StripeProvider {
    const NAME: &'static str = "stripe";
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        StripeProvider::new(StripeConfig::from_lookup(lookup)?)
    }
}
