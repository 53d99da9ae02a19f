#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(payments_mock)]
pub mod testing;

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Lookup, Request};
use payments_core::signature::Scheme;
use payments_core::wire::is_provider_id;
use payments_core::{
    async_trait, check_checkout, refund_marker, Capabilities, CheckoutRequest, CheckoutSession, KeyLifetime,
    PaymentProvider, PaymentSnapshot, ProviderError, ProviderRefund, RefundOutcome, RefundRequest,
    WebhookError, WebhookEvent, WebhookRequest, REFUND_MARKER_KEY,
};

pub use config::{OmiseConfig, API_VERSION, DEFAULT_API_BASE, DEFAULT_SOURCE_TYPE, ENV_VARS};
pub use webhook::{OmiseSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use transformers::{create_charge_form, OmiseCharge, OmiseList, OmiseRefund, AMOUNTS, META_IDEMPOTENCY_KEY};

/// The adapter's name in configuration, the database and the audit log.
pub const PROVIDER: &str = "omise";

/// Omise's error body.
pub const ERRORS: JsonErrors = JsonErrors::new(PROVIDER, &["/code"], &["/message"]);

/// `GET /charges/{id}/refunds` pages of at most 100 (Omise's largest `limit`; a charge has
/// fewer than 15 refunds), at most this many pages.
const MAX_REFUND_PAGES: u64 = 20;

/// The client for `config`: Basic auth with the secret key (empty password), the pinned
/// `Omise-Version`. Omise documents no idempotency key: `POST /charges` looks up the charge
/// first ([`ChargeLookup`]); other `POST`s keep the kit's default `OnlyIfUnsent` (repeated only
/// when the connection never opened, never once they may have reached Omise).
pub fn client(config: &OmiseConfig) -> Result<Client, ProviderError> {
    let auth = Auth::Basic {
        username: config.secret_key.clone(),
        password: String::new(),
    };
    let client = Client::new(PROVIDER, &config.api_base, auth, config.retry, ERRORS)?;
    Ok(client
        .with_connect_timeout(config.connect_timeout)?
        .with_header("Omise-Version", API_VERSION))
}

/// Finds the charge an earlier call for the same checkout created, for the kit's
/// `Idempotency::LookupFirst` (Omise has no idempotency key; docs/providers/omise.md): Omise's
/// Search API (`GET /search?scope=charge&query=<our payment id>`, which the charge description
/// carries), keeping only a charge whose `metadata.idempotency_key` is exactly this operation's.
pub struct ChargeLookup<'a> {
    pub payment_ref: &'a str,
    pub idempotency_key: &'a str,
}

#[async_trait]
impl Lookup for ChargeLookup<'_> {
    async fn find(&self, client: &Client) -> Result<Option<Vec<u8>>, ProviderError> {
        let query = segment(self.payment_ref);
        let path = format!("/search?scope=charge&order=reverse_chronological&query={query}");
        let found: serde_json::Value = client.json(&Request::get(path)).await?;
        let ours = |c: &&serde_json::Value| c["metadata"][META_IDEMPOTENCY_KEY] == self.idempotency_key;
        let charges = found["data"].as_array().into_iter().flatten();
        Ok(charges
            .filter(|c| c["object"] == "charge")
            .find(ours)
            .map(|c| c.to_string().into_bytes()))
    }
}

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::unexpected(PROVIDER, message)
}

/// The Omise adapter (its `Debug` shows no secret).
#[derive(Debug, Clone)]
pub struct OmiseProvider {
    config: OmiseConfig,
    client: Client,
    /// Omise's HMAC when `OMISE_WEBHOOK_SECRET` is set, else verify-by-refetch alone.
    scheme: Scheme,
}

impl OmiseProvider {
    pub const NAME: &'static str = PROVIDER;

    /// Validates `config` and builds the adapter.
    pub fn new(mut config: OmiseConfig) -> Result<Self, ProviderError> {
        config.validate()?;
        let (secrets, tolerance) = (&config.webhook_secrets, config.webhook_tolerance_secs);
        let signed = OmiseSignature::from_base64_secrets(secrets, tolerance);
        let signed = Scheme::Timestamped(signed.map_err(|e| ProviderError::Config(e.to_string()))?.0);
        let refetch = Scheme::VerifyByRefetch {
            event_id_header: None,
        };
        let scheme = if secrets.is_empty() { refetch } else { signed };
        let client = client(&config)?;
        Ok(OmiseProvider {
            config,
            client,
            scheme,
        })
    }

    pub fn config(&self) -> &OmiseConfig {
        &self.config
    }

    /// Whether webhooks are checked against `OMISE_WEBHOOK_SECRET` (they are re-fetched anyway).
    pub fn verifies_signatures(&self) -> bool {
        matches!(self.scheme, Scheme::Timestamped(_))
    }

    /// `GET /charges/{id}`.
    pub async fn fetch_charge(&self, charge_id: &str) -> Result<OmiseCharge, ProviderError> {
        webhook::fetch_charge(&self.client, charge_id).await
    }
}

#[async_trait]
impl PaymentProvider for OmiseProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::REFUND_AND_FETCH.with_refund_lookup()
    }

    fn check_amount(&self, amount: payments_core::Money) -> Result<(), ProviderError> {
        transformers::AMOUNTS.charge(amount).map(|_| ())
    }

    /// Omise takes no idempotency key: a refund whose answer was lost is settled by
    /// [`PaymentProvider::list_refunds`], never by sending it again.
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::NotTaken
    }

    /// `POST /charges` with the configured redirect `source[type]`, `return_uri` and our ids in
    /// `metadata`; the payer goes to `authorize_uri`. Refused amounts never reach Omise.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let form = create_charge_form(request, &self.config.source_type)?;
        let (payment_ref, idempotency_key) = (&request.payment_ref, &request.idempotency_key);
        let lookup = ChargeLookup {
            payment_ref,
            idempotency_key,
        };
        let call = Request::post("/charges")
            .form(form)
            .idempotency(Idempotency::LookupFirst(&lookup));
        let charge: OmiseCharge = self.client.json(&call).await?;
        if charge.object != "charge" || !is_provider_id(&charge.id, "chrg_") {
            let (object, id) = (&charge.object, &charge.id);
            return Err(unexpected(format!("POST /charges answered {object} {id:?}")));
        }
        // Omise must have created exactly what we asked for, with a page to send the payer to.
        let sent = (AMOUNTS.charge(request.amount)?, request.amount.currency);
        let got = (Some(charge.amount), Some(charge.currency.as_str()));
        let redirect_url = check_checkout(PROVIDER, &charge.id, sent, got, charge.authorize_uri.as_deref())?;
        tracing::info!(charge = %charge.id, payment = %request.payment_ref, "Omise charge created");
        Ok(CheckoutSession {
            external_id: charge.id,
            redirect_url,
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        webhook::parse_webhook(&self.client, &self.scheme, request).await
    }

    /// `POST /charges/{id}/refunds` with our [`refund_marker`] in `metadata[refund_key]`.
    /// Without an amount, the rest of the charge (amount minus what is already refunded, read
    /// with `GET /charges/{id}`) is refunded.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let charge_id = webhook::charge_id(&request.external_payment_id)?;
        // Refused amounts reach no server.
        let asked = request.amount.map(|money| AMOUNTS.refund(money)).transpose()?;
        // Omise takes no idempotency key: the refund is looked up by our marker first, so that
        // the same request asked again (a retry after a lost answer) never refunds twice.
        let marker = refund_marker(&request.idempotency_key);
        if let Some(made) = self
            .list_refunds(charge_id)
            .await?
            .into_iter()
            .find(|r| r.marker.as_deref() == Some(marker.as_str()))
        {
            return Ok(RefundOutcome {
                refund_id: made.refund_id,
                amount: made.amount,
                status: made.status,
            });
        }
        let amount = match asked {
            Some(units) => units,
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
            (format!("metadata[{REFUND_MARKER_KEY}]"), marker),
        ];
        let path = format!("/charges/{}/refunds", segment(charge_id));
        let refund: OmiseRefund = self.client.json(&Request::post(path).form(form)).await?;
        if refund.object != "refund" || refund.id.is_empty() {
            return Err(unexpected(format!(
                "refund of {charge_id} answered {} {:?}",
                refund.object, refund.id
            )));
        }
        Ok(RefundOutcome {
            amount: Some(refund.money()?.amount),
            status: refund.status_word(),
            refund_id: refund.id,
        })
    }

    /// `GET /charges/{id}/refunds?limit=100&offset=...` (Omise's list object: `data`, `offset`,
    /// `total`), page after page: every refund of the charge with the marker read back from its
    /// metadata.
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let charge_id = webhook::charge_id(external_payment_id.trim())?;
        let mut listed = Vec::new();
        for _ in 0..MAX_REFUND_PAGES {
            let offset = listed.len();
            let path = format!(
                "/charges/{}/refunds?limit=100&offset={offset}&order=chronological",
                segment(charge_id)
            );
            let page: OmiseList<OmiseRefund> = self.client.json(&Request::get(path)).await?;
            if page.object != "list" || page.offset != u64::try_from(offset).unwrap_or(u64::MAX) {
                let what = format!("{} from offset {}", page.object, page.offset);
                return Err(unexpected(format!(
                    "refunds of {charge_id} answered {what}, not from {offset}"
                )));
            }
            for refund in &page.data {
                if refund.object != "refund" || refund.charge.as_ref().is_some_and(|c| c.id() != charge_id) {
                    let (object, id) = (&refund.object, &refund.id);
                    return Err(unexpected(format!("refunds of {charge_id} listed {object} {id}")));
                }
                listed.push(refund.provider_refund()?);
            }
            if page.data.is_empty() || u64::try_from(listed.len()).unwrap_or(u64::MAX) >= page.total {
                return Ok(listed);
            }
        }
        Err(unexpected(format!(
            "{charge_id} has more than {} refunds",
            MAX_REFUND_PAGES * 100
        )))
    }

    /// `GET /charges/{id}`: status, amount, currency and `refunded_amount` as Omise has them now.
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let charge = self.fetch_charge(external_id).await?;
        Ok(PaymentSnapshot {
            external_id: charge.id.clone(),
            status: charge.payment_status(),
            amount: Some(charge.money()?),
            payment_ref: charge.payment_ref(),
            references: Vec::new(),
            refunded: charge.refunded()?.map(|m| m.amount),
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
