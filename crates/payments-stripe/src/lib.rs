#![doc = include_str!("../README.md")]

pub mod config;
pub mod transformers;
pub mod webhook;

#[cfg(payments_mock)]
pub mod testing;

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Request};
use payments_core::signature::{Scheme, SignatureError, Timestamped};
use payments_core::{
    async_trait, check_checkout, idempotency_key, refund_marker, Capabilities, CheckoutRequest,
    CheckoutSession, KeyLifetime, PaymentProvider, PaymentSnapshot, ProviderError, ProviderRefund,
    RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookRequest, REFUND_MARKER_KEY,
};

pub use config::{StripeConfig, ENV_VARS};
pub use webhook::{HANDLED_EVENTS, SIGNATURE_HEADER};

use transformers::{
    ChargeObject, CheckoutSessionList, CheckoutSessionObject, RefundList, RefundObject, AMOUNTS,
};

/// The adapter's name in configuration, the database and the audit log.
pub const NAME: &str = "stripe";

/// The API version every request pins (`Stripe-Version`); the oracle's description is this one.
pub const STRIPE_VERSION: &str = "2023-08-16";

/// Stripe keeps idempotency keys of at most 255 characters.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// How long Stripe keeps an idempotency key (docs.stripe.com/api/idempotent_requests: keys are
/// removed once they are at least 24 hours old).
pub const IDEMPOTENCY_KEY_LIFETIME_SECS: u64 = 86_400;

/// The shortest `expires_at` Stripe accepts for a Checkout Session: 30 minutes after creation.
pub const MIN_CHECKOUT_LIFETIME_SECS: u64 = 1800;

/// `GET /v1/refunds` pages of at most 100 (Stripe's largest `limit`), at most this many pages.
const MAX_REFUND_PAGES: usize = 100;

/// Stripe's error body (`{"error": {"type", "code", "decline_code", "message", "param"}}`) and
/// its `Stripe-Should-Retry` advice.
pub const ERRORS: JsonErrors = JsonErrors {
    provider: NAME,
    code: &["/error/code", "/error/decline_code", "/error/type"],
    message: &["/error/message"],
    field: Some("/error/param"),
    retry_header: Some("Stripe-Should-Retry"),
};

/// The client for `config`.
pub fn client(config: &StripeConfig) -> Result<Client, ProviderError> {
    let auth = Auth::Bearer(config.secret_key().to_string());
    Ok(Client::new(NAME, config.api_base(), auth, config.retry, ERRORS)?
        .with_header("Stripe-Version", STRIPE_VERSION))
}

/// The Stripe adapter (its `Debug` shows no secret).
#[derive(Debug, Clone)]
pub struct StripeProvider {
    config: StripeConfig,
    client: Client,
    scheme: Scheme,
}

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::unexpected(NAME, message)
}

/// A 404 `resource_missing`, as Stripe answers for an id it does not know: for an id that Stripe
/// knows but that no Checkout Session of ours stands behind.
fn no_session(message: String) -> ProviderError {
    ProviderError::Api {
        provider: NAME,
        status: 404,
        code: Some("resource_missing".to_string()),
        message,
    }
}

impl StripeProvider {
    pub const NAME: &'static str = NAME;

    pub fn new(config: StripeConfig) -> Result<Self, ProviderError> {
        let secrets = config.webhook_secrets();
        let scheme = Timestamped::new(SIGNATURE_HEADER, &secrets, config.webhook_tolerance_secs);
        Ok(StripeProvider {
            client: client(&config)?,
            scheme: Scheme::Timestamped(scheme),
            config,
        })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// Verifies a `Stripe-Signature` header value against the exact raw body at `now` (unix
    /// seconds) with the configured secrets and tolerance; returns the signed timestamp.
    pub fn verify_signature(&self, header: &str, body: &[u8], now: i64) -> Result<i64, SignatureError> {
        match &self.scheme {
            Scheme::Timestamped(t) => t.verify(header, body, now),
            _ => Err(SignatureError::NoSecret),
        }
    }

    /// The Checkout Session `session_id` as Stripe reports it.
    pub async fn retrieve_session(&self, session_id: &str) -> Result<CheckoutSessionObject, ProviderError> {
        if session_id.trim().is_empty() {
            return Err(unexpected("empty checkout session id"));
        }
        let path = format!("/v1/checkout/sessions/{}", segment(session_id));
        self.client.json(&Request::get(path)).await
    }

    /// The Checkout Session with its PaymentIntent and that intent's latest charge expanded
    /// (`expand[]=payment_intent&expand[]=payment_intent.latest_charge`): the ids and the
    /// refunded total [`PaymentSnapshot`] reports.
    pub async fn retrieve_session_expanded(
        &self,
        session_id: &str,
    ) -> Result<CheckoutSessionObject, ProviderError> {
        if session_id.trim().is_empty() {
            return Err(unexpected("empty checkout session id"));
        }
        let path = format!(
            "/v1/checkout/sessions/{}?expand[]=payment_intent&expand[]=payment_intent.latest_charge",
            segment(session_id)
        );
        let session: CheckoutSessionObject = self.client.json(&Request::get(path)).await?;
        if session.id != session_id {
            return Err(unexpected(format!(
                "asked for {session_id}, Stripe answered {}",
                session.id
            )));
        }
        Ok(session)
    }

    /// The id of the Checkout Session that created the PaymentIntent `pi`
    /// (`GET /v1/checkout/sessions?payment_intent=pi_...&limit=1`). A PaymentIntent no Checkout
    /// Session created is a 404 `resource_missing` error.
    pub async fn session_id_of_payment_intent(&self, pi: &str) -> Result<String, ProviderError> {
        if pi.trim().is_empty() {
            return Err(unexpected("empty payment intent id"));
        }
        let path = format!("/v1/checkout/sessions?payment_intent={}&limit=1", segment(pi));
        let page: CheckoutSessionList = self.client.json(&Request::get(path)).await?;
        let Some(session) = page.data.into_iter().next() else {
            return Err(no_session(format!("no Checkout Session for {pi}")));
        };
        match session.payment_intent_id() {
            Some(of) if of == pi => Ok(session.id),
            of => Err(unexpected(format!(
                "session {} listed for {pi} is of {of:?}",
                session.id
            ))),
        }
    }

    /// The PaymentIntent of the charge `charge` (`GET /v1/charges/{id}`). A charge without one
    /// (made outside Checkout) is a 404 `resource_missing` error.
    pub async fn payment_intent_of_charge(&self, charge: &str) -> Result<String, ProviderError> {
        if charge.trim().is_empty() {
            return Err(unexpected("empty charge id"));
        }
        let path = format!("/v1/charges/{}", segment(charge));
        let found: ChargeObject = self.client.json(&Request::get(path)).await?;
        if found.id != charge {
            return Err(unexpected(format!(
                "asked for {charge}, Stripe answered {}",
                found.id
            )));
        }
        found
            .payment_intent
            .filter(|pi| !pi.trim().is_empty())
            .ok_or_else(|| {
                no_session(format!(
                    "no Checkout Session for {charge}: it has no PaymentIntent"
                ))
            })
    }

    /// The Checkout Session (expanded as [`Self::retrieve_session_expanded`]) behind a session id
    /// `cs_...`, a PaymentIntent id `pi_...` (the session that created it) or a charge id
    /// `ch_...`/`py_...` (the session that created its PaymentIntent).
    pub async fn session_of(&self, id: &str) -> Result<CheckoutSessionObject, ProviderError> {
        let pi = if id.starts_with("pi_") {
            id.to_string()
        } else if id.starts_with("ch_") || id.starts_with("py_") {
            self.payment_intent_of_charge(id).await?
        } else {
            return self.retrieve_session_expanded(id).await;
        };
        let session_id = self.session_id_of_payment_intent(&pi).await?;
        let session = self.retrieve_session_expanded(&session_id).await?;
        match session.payment_intent_id() {
            Some(of) if of == pi => Ok(session),
            of => Err(unexpected(format!(
                "session {session_id} listed for {pi} is of {of:?}"
            ))),
        }
    }

    /// What refunds of `id` are made against: (`payment_intent`|`charge`, id), with the session
    /// when `id` is one (`None` target: a session without a payment yet).
    async fn payment_of(&self, id: &str) -> Result<(Option<CheckoutSessionObject>, Target), ProviderError> {
        if id.starts_with("cs_") {
            let session = self.retrieve_session(id).await?;
            let target = session.payment_intent_id().map(|pi| ("payment_intent", pi));
            Ok((Some(session), target))
        } else if id.starts_with("pi_") {
            Ok((None, Some(("payment_intent", id.to_string()))))
        } else if id.starts_with("ch_") || id.starts_with("py_") {
            Ok((None, Some(("charge", id.to_string()))))
        } else {
            Err(unexpected(format!("{id:?} is not a Stripe payment id")))
        }
    }
}

/// The parameter (`payment_intent` or `charge`) and id that refunds of a payment name.
type Target = Option<(&'static str, String)>;

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::REFUND_AND_FETCH.with_refund_lookup().with_expire()
    }

    fn check_amount(&self, amount: payments_core::Money) -> Result<(), ProviderError> {
        transformers::AMOUNTS.charge(amount).map(|_| ())
    }

    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::Secs(IDEMPOTENCY_KEY_LIFETIME_SECS)
    }

    fn min_checkout_lifetime_secs(&self) -> Option<u64> {
        Some(MIN_CHECKOUT_LIFETIME_SECS)
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        // Amount rules first: a refused amount never reaches Stripe.
        let form = transformers::checkout_session_form(request)?;
        let key = if request.idempotency_key.trim().is_empty() {
            idempotency_key(&request.payment_ref, "checkout", 0)
        } else {
            request.idempotency_key.clone()
        };
        if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
            let n = key.len();
            let e =
                format!("a Stripe Idempotency-Key has 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, not {n}");
            return Err(ProviderError::Config(e));
        }
        let post = Request::post("/v1/checkout/sessions").form(form);
        let post = post.idempotency(Idempotency::Header("Idempotency-Key", &key));
        let session: CheckoutSessionObject = self.client.json(&post).await?;
        // Stripe must have created exactly what we asked for.
        let sent = (AMOUNTS.charge(request.amount)?, request.amount.currency);
        let got = (session.amount_total, session.currency.as_deref());
        let url = check_checkout(NAME, &session.id, sent, got, session.url.as_deref())?;
        tracing::info!(session = %session.id, payment = %request.payment_ref, "stripe checkout created");
        Ok(CheckoutSession {
            external_id: session.id,
            redirect_url: url,
            idempotency_key: key,
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        webhook::parse(&self.scheme, self.config.livemode(), request)
    }

    /// `GET /v1/checkout/sessions/{id}` with the PaymentIntent and its latest charge expanded:
    /// status, amount, the `pi_`/`ch_` ids and the refunded total. A `pi_` id is first resolved
    /// to the session that created it (`GET /v1/checkout/sessions?payment_intent=`), a
    /// `ch_`/`py_` id through its PaymentIntent (`GET /v1/charges/{id}`): the snapshot is the
    /// session's (`external_id` `cs_...`), with our payment id.
    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let session = self.session_of(external_id.trim()).await?;
        session.snapshot().map_err(unexpected)
    }

    /// `POST /v1/checkout/sessions/{id}/expire` (key `expire:{id}`). Stripe expires only an open
    /// session; when it refuses, the session is read again and reported as it stands (a session
    /// paid meanwhile is `Succeeded`, never `Expired`).
    async fn expire_checkout(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let id = external_id.trim();
        if !id.starts_with("cs_") {
            return Err(unexpected(format!("{id:?} is not a Checkout Session id")));
        }
        let key = format!("expire:{id}");
        let post = Request::post(format!("/v1/checkout/sessions/{}/expire", segment(id)))
            .idempotency(Idempotency::Header("Idempotency-Key", &key));
        match self.client.json::<CheckoutSessionObject>(&post).await {
            Ok(session) if session.id == id => session.snapshot().map_err(unexpected),
            Ok(session) => Err(unexpected(format!(
                "expired {id}, Stripe answered {}",
                session.id
            ))),
            Err(
                refused @ ProviderError::Api {
                    status: 400 | 409, ..
                },
            ) => {
                let session = self.retrieve_session_expanded(id).await?;
                if session.status.as_deref() == Some("open") {
                    return Err(refused);
                }
                tracing::info!(session = %id, status = ?session.status, "stripe checkout no longer open: not expired");
                session.snapshot().map_err(unexpected)
            }
            Err(e) => Err(e),
        }
    }

    /// Refunds through the PaymentIntent: a `cs_` id is looked up first (`GET` the session), a
    /// `pi_` id is used as is, a `ch_`/`py_` id is refunded as a charge. Our
    /// [`refund_marker`] goes into `metadata[refund_key]`.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = request.amount.map(|a| AMOUNTS.refund(a)).transpose()?;
        if request.idempotency_key.trim().is_empty() {
            return Err(ProviderError::Config("a refund needs an idempotency key".into()));
        }
        let id = request.external_payment_id.trim();
        let (session, target) = self.payment_of(id).await?;
        if let Some(session) = &session {
            if let (Some(want), Some(have)) = (request.amount, session.currency.as_deref()) {
                if !have.eq_ignore_ascii_case(want.currency.code()) {
                    return Err(ProviderError::AmountRefused(format!(
                        "a refund in {} for a payment in {}",
                        want.currency,
                        have.to_ascii_uppercase()
                    )));
                }
            }
        }
        let (param, payment) = target.ok_or_else(|| {
            let (status, paid) = session
                .as_ref()
                .map(|s| (s.status.clone(), s.payment_status.clone()))
                .unwrap_or_default();
            ProviderError::AmountRefused(format!(
                "checkout session {id} has no payment to refund (status {status:?}, payment {paid:?})"
            ))
        })?;
        let mut form: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: &str| form.push((k.to_string(), v.to_string()));
        push(param, &payment);
        if let Some(r) = session.as_ref().and_then(CheckoutSessionObject::payment_ref) {
            push("metadata[payment_id]", &r);
        }
        push(
            &format!("metadata[{REFUND_MARKER_KEY}]"),
            &refund_marker(&request.idempotency_key),
        );
        if let Some(a) = amount {
            push("amount", &a.to_string());
        }
        let key = Idempotency::Header("Idempotency-Key", &request.idempotency_key);
        let refund: RefundObject = self
            .client
            .json(&Request::post("/v1/refunds").form(form).idempotency(key))
            .await?;
        let refunded =
            transformers::money_from_stripe(refund.amount, &refund.currency).map_err(unexpected)?;
        Ok(RefundOutcome {
            amount: Some(refunded.amount),
            status: refund.status_word(),
            refund_id: refund.id,
        })
    }

    /// `GET /v1/refunds?payment_intent=pi_...&limit=100` (or `charge=ch_...`), following
    /// `has_more` with `starting_after`; a `cs_` id is resolved to its PaymentIntent first (a
    /// session without one has no refunds).
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let (_, target) = self.payment_of(external_payment_id.trim()).await?;
        let Some((param, payment)) = target else {
            return Ok(Vec::new());
        };
        let mut listed = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_REFUND_PAGES {
            let mut path = format!("/v1/refunds?{param}={}&limit=100", segment(&payment));
            if let Some(last) = &after {
                path.push_str(&format!("&starting_after={}", segment(last)));
            }
            let page: RefundList = self.client.json(&Request::get(path)).await?;
            for refund in &page.data {
                let of = match param {
                    "charge" => refund.charge.as_deref(),
                    _ => refund.payment_intent.as_deref(),
                };
                if of.is_some_and(|p| p != payment) {
                    return Err(unexpected(format!(
                        "refund {} listed for {payment} is of {of:?}",
                        refund.id
                    )));
                }
                listed.push(refund.provider_refund().map_err(unexpected)?);
            }
            match page.data.last() {
                Some(last) if page.has_more && after.as_deref() != Some(last.id.as_str()) => {
                    after = Some(last.id.clone());
                }
                _ => return Ok(listed),
            }
        }
        Err(unexpected(format!(
            "{payment} has more than {} refunds",
            MAX_REFUND_PAGES * 100
        )))
    }
}

impl payments_core::Adapter for StripeProvider {
    const NAME: &'static str = "stripe";
    const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        StripeProvider::new(StripeConfig::from_lookup(lookup)?)
    }
}

#[cfg(test)]
mod tests {
    use payments_core::http::ApiErrors;
    use payments_core::ProviderError::Api;

    #[test]
    fn error_json_becomes_typed_error() {
        let body = br#"{"error":{"type":"invalid_request_error","code":"amount_too_small","message":"Amount must be at least 10.00 thb","param":"line_items[0][price_data][unit_amount]"}}"#;
        let Api {
            provider,
            status,
            code,
            message,
        } = super::ERRORS.api_error(400, body)
        else {
            panic!()
        };
        assert_eq!(
            (provider, status, code.as_deref()),
            ("stripe", 400, Some("amount_too_small"))
        );
        assert!(message.starts_with("Amount must be at least 10.00 thb") && message.contains("unit_amount"));
        let body = br#"{"error":{"type":"invalid_request_error","message":"Invalid API Key"}}"#;
        let e = super::ERRORS.api_error(401, body);
        assert!(matches!(e, Api { status: 401, code: Some(ref c), .. } if c == "invalid_request_error"));
        let e = super::ERRORS.api_error(502, b"<html>bad gateway</html>");
        assert!(
            matches!(
                e,
                Api {
                    status: 502,
                    code: None,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
