//! `refpay`: a tiny, correct reference adapter for an imaginary HTTP provider, written for the
//! planted-bug test, with the bugs that test plants (one at a time, through `Bug`).
//!
//! The provider's protocol (the mock in `refpay_mock.rs` implements it):
//! - `POST /v1/checkouts` with JSON `{"amount": <integer in the provider's minor units>,
//!   "currency", "reference": <our payment id>, "return_url"}` and an `Idempotency-Key` header
//!   (same key: the first answer again); answers the checkout object
//!   `{"id": "chk_N", "url", "amount", "currency", "reference", "status", "amount_refunded"}`.
//! - `GET /v1/checkouts/{id}`: the checkout object; `status` is `open`, `processing`,
//!   `authorized` (approved, not captured), `paid`, `failed`, `expired`, `canceled` or
//!   `refunded`.
//! - `POST /v1/checkouts/{id}/capture`: captures an `authorized` checkout (a `paid` one is
//!   answered as is; anything else is a 409).
//! - `POST /v1/checkouts/{id}/refunds` with JSON `{"amount", "currency", "metadata": {..}}` (no
//!   amount: the rest of a `paid` checkout) and an `Idempotency-Key` header (kept 24 hours);
//!   answers the refund object `{"id": "re_N", "checkout", "amount", "currency", "status",
//!   "metadata"}`. A checkout refunded in full becomes `refunded`.
//! - `GET /v1/checkouts/{id}/refunds`: `{"data": [<refund object>, ..]}`, every refund of it.
//! - Webhooks: `{"type": "checkout.<status>" | "checkout.disputed", "created", "data":
//!   {"checkout": <checkout object>, "fee": {"amount", "currency"}, "refund": <refund object>}}`
//!   (`refund` on `checkout.refunded` only: the refund this event is about; the checkout's
//!   `amount_refunded` is the running total), signed as [Standard Webhooks](https://www.standardwebhooks.com/)
//!   sign: the event id in the `webhook-id` header (not in the body), `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, the key the
//!   base64 after `whsec_`, 300 s tolerance.
//! - Currency codes are upper case (`USD`) in requests and answers; refund `status` is
//!   `pending`, `succeeded`, `failed` or `canceled`.
//! - Amounts are in ISO 4217 minor units except ISK, which has 2 decimals.

use std::sync::atomic::{AtomicU32, Ordering};

use payments_core::money::ExponentOverrides;
use payments_core::signature::{Encoding, StandardWebhooks};
use payments_core::{
    async_trait, refund_marker, Capabilities, CheckoutRequest, CheckoutSession, Currency, EventKind,
    KeyLifetime, Money, PaymentProvider, PaymentSnapshot, PaymentStatus, ProviderError, ProviderRefund,
    RefundOutcome, RefundReport, RefundRequest, RefundState, SignatureVerdict, WebhookError, WebhookEvent,
    WebhookRequest, REFUND_MARKER_KEY,
};
use serde_json::{json, Value};

pub const NAME: &str = "refpay";
pub const SIGNATURE_HEADER: &str = StandardWebhooks::SIGNATURE;
/// The header that carries the event id.
pub const EVENT_ID_HEADER: &str = StandardWebhooks::ID;
/// The provider's decimals where they differ from ISO 4217.
pub const DECIMALS: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2)]);
/// How many times [`Refpay`] sends one call (the same key each time): once, and once again
/// after a 5xx or a failed connection.
pub const ATTEMPTS: u32 = 2;
/// A table that is wrong for JPY and KWD.
const WRONG_DECIMALS: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2), ("JPY", 2), ("KWD", 2)]);

/// The bugs the planted-bug test plants into the reference adapter, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    CheckoutSendsHundredth,
    WrongDecimalsBothSides,
    AmountFromWrongObject,
    NotCapturedIsSuccess,
    NewCheckoutOnRetry,
    FetchUnpaidIsSucceeded,
    PaymentRefDropped,
    ExpiredIsSuccess,
    AmountCheckRemoved,
    AnySignatureAccepted,
    SignatureOverTrimmedBody,
    WebhookAmountHalved,
    PanicsOnWrongType,
    RefundMarkerNotStored,
    RefundSendsHundredth,
    RefundNotIdempotent,
    SignatureHexNotBase64,
    WrongSignatureHeader,
    EventIdFromBody,
    RefundEventThisRefundAsTotal,
    CurrencyLowerCase,
    RefundStatusIgnored,
}

impl Bug {
    pub const ALL: [Bug; 22] = [
        Bug::CheckoutSendsHundredth,
        Bug::WrongDecimalsBothSides,
        Bug::AmountFromWrongObject,
        Bug::NotCapturedIsSuccess,
        Bug::NewCheckoutOnRetry,
        Bug::FetchUnpaidIsSucceeded,
        Bug::PaymentRefDropped,
        Bug::ExpiredIsSuccess,
        Bug::AmountCheckRemoved,
        Bug::AnySignatureAccepted,
        Bug::SignatureOverTrimmedBody,
        Bug::WebhookAmountHalved,
        Bug::PanicsOnWrongType,
        Bug::RefundMarkerNotStored,
        Bug::RefundSendsHundredth,
        Bug::RefundNotIdempotent,
        Bug::SignatureHexNotBase64,
        Bug::WrongSignatureHeader,
        Bug::EventIdFromBody,
        Bug::RefundEventThisRefundAsTotal,
        Bug::CurrencyLowerCase,
        Bug::RefundStatusIgnored,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Bug::CheckoutSendsHundredth => "checkout sends 1/100 of the amount",
            Bug::WrongDecimalsBothSides => "wrong decimals table used on both sides",
            Bug::AmountFromWrongObject => "amount read from the wrong object",
            Bug::NotCapturedIsSuccess => "not-captured payment treated as success",
            Bug::NewCheckoutOnRetry => "new provider checkout on every retry",
            Bug::FetchUnpaidIsSucceeded => "fetch_payment reports unpaid as succeeded",
            Bug::PaymentRefDropped => "our payment id dropped from events",
            Bug::ExpiredIsSuccess => "\"expired\" event mapped to success",
            Bug::AmountCheckRemoved => "check of the created amount removed",
            Bug::AnySignatureAccepted => "any signature accepted",
            Bug::SignatureOverTrimmedBody => "signature over a trimmed body",
            Bug::WebhookAmountHalved => "webhook amount halved",
            Bug::PanicsOnWrongType => "parse_webhook panics on a wrongly typed amount",
            Bug::RefundMarkerNotStored => "the refund's marker is not stored",
            Bug::RefundSendsHundredth => "refund sends 1/100 of the amount",
            Bug::RefundNotIdempotent => "refund sent without its idempotency key",
            Bug::SignatureHexNotBase64 => "signature compared in hex, not base64",
            Bug::WrongSignatureHeader => "signature read from another header",
            Bug::EventIdFromBody => "event id taken from the body, not the header",
            Bug::RefundEventThisRefundAsTotal => "refund event: this refund taken as the total",
            Bug::CurrencyLowerCase => "currency sent in lower case",
            Bug::RefundStatusIgnored => "refund status ignored (always succeeded)",
        }
    }
}

/// The reference adapter (`bug: None`) or a distorted one.
#[derive(Debug)]
pub struct Refpay {
    http: reqwest::Client,
    base: String,
    scheme: StandardWebhooks,
    bug: Option<Bug>,
    /// Checkout calls so far (the `NewCheckoutOnRetry` bug puts it into the key).
    calls: AtomicU32,
}

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::UnexpectedResponse {
        provider: NAME,
        message: message.into(),
    }
}

fn malformed(message: impl Into<String>) -> WebhookError {
    WebhookError::MalformedPayload(message.into())
}

impl Refpay {
    pub fn new(base: &str, secrets: &[String], bug: Option<Bug>) -> Refpay {
        Refpay {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            scheme: StandardWebhooks::new(secrets).expect("refpay secrets are whsec_<base64>"),
            bug,
            calls: AtomicU32::new(0),
        }
    }

    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    fn decimals(&self) -> ExponentOverrides {
        if self.has(Bug::WrongDecimalsBothSides) {
            WRONG_DECIMALS
        } else {
            DECIMALS
        }
    }

    /// One call, sent [`ATTEMPTS`] times at most: again (with the same key) after a 5xx or a
    /// failed connection.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let mut last = String::new();
        for _attempt in 0..ATTEMPTS {
            let mut rb = self.http.request(method.clone(), format!("{}{path}", self.base));
            if let Some(k) = key {
                rb = rb.header("Idempotency-Key", k);
            }
            if let Some(b) = &body {
                rb = rb.json(b);
            }
            match rb.send().await {
                Ok(resp) if resp.status().is_server_error() => last = format!("HTTP {}", resp.status()),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let v: Value = resp.json().await.map_err(|e| unexpected(e.to_string()))?;
                    if status >= 400 {
                        return Err(ProviderError::Api {
                            provider: NAME,
                            status,
                            code: v["error"].as_str().map(str::to_string),
                            message: v.to_string(),
                        });
                    }
                    return Ok(v);
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(ProviderError::Unavailable {
            provider: NAME,
            message: last,
        })
    }

    /// Our currency code as refpay takes it (upper case).
    fn currency_code(&self, money: Money) -> String {
        if self.has(Bug::CurrencyLowerCase) {
            money.currency.code_lowercase()
        } else {
            money.currency.code().to_string()
        }
    }

    fn money(&self, amount: &Value, currency: &Value) -> Result<Money, String> {
        let currency =
            Currency::from_code(currency.as_str().ok_or("no currency")?).map_err(|e| e.to_string())?;
        let units = amount.as_i64().ok_or("amount is not an integer")?;
        self.decimals()
            .from_provider(units, currency)
            .map_err(|e| e.to_string())
    }

    fn status(&self, s: &str) -> Option<PaymentStatus> {
        Some(match s {
            "open" if self.has(Bug::FetchUnpaidIsSucceeded) => PaymentStatus::Succeeded,
            "open" | "processing" => PaymentStatus::Pending,
            "authorized" if self.has(Bug::NotCapturedIsSuccess) => PaymentStatus::Succeeded,
            "authorized" => PaymentStatus::RequiresCapture,
            "paid" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "expired" => PaymentStatus::Expired,
            "canceled" => PaymentStatus::Canceled,
            "refunded" => PaymentStatus::Refunded,
            _ => return None,
        })
    }

    fn snapshot(&self, v: &Value) -> Result<PaymentSnapshot, ProviderError> {
        let status = v["status"].as_str().and_then(|s| self.status(s));
        Ok(PaymentSnapshot {
            external_id: v["id"].as_str().ok_or_else(|| unexpected("no id"))?.to_string(),
            status: status.ok_or_else(|| unexpected(format!("status {}", v["status"])))?,
            amount: Some(self.money(&v["amount"], &v["currency"]).map_err(unexpected)?),
            payment_ref: v["reference"].as_str().map(str::to_string),
            references: Vec::new(),
            refunded: None,
        })
    }

    /// A refund object as [`list_refunds`](PaymentProvider::list_refunds) reports it.
    fn listed(&self, v: &Value) -> Result<ProviderRefund, ProviderError> {
        Ok(ProviderRefund {
            refund_id: v["id"]
                .as_str()
                .ok_or_else(|| unexpected("a refund without id"))?
                .to_string(),
            amount: Some(
                self.money(&v["amount"], &v["currency"])
                    .map_err(unexpected)?
                    .amount,
            ),
            status: if self.has(Bug::RefundStatusIgnored) {
                "succeeded".to_string()
            } else {
                v["status"]
                    .as_str()
                    .ok_or_else(|| unexpected("a refund without status"))?
                    .to_string()
            },
            marker: v["metadata"][REFUND_MARKER_KEY].as_str().map(str::to_string),
        })
    }

    fn verify(&self, request: &WebhookRequest) -> Result<(), WebhookError> {
        if self.has(Bug::AnySignatureAccepted) {
            return Ok(());
        }
        let id = request.require_header(EVENT_ID_HEADER)?;
        let timestamp = request.require_header(StandardWebhooks::TIMESTAMP)?;
        let signature = if self.has(Bug::WrongSignatureHeader) {
            request.require_header("refpay-signature")?
        } else {
            request.require_header(SIGNATURE_HEADER)?
        };
        let body = if self.has(Bug::SignatureOverTrimmedBody) {
            request.body.trim_ascii()
        } else {
            &request.body[..]
        };
        let mut scheme = self.scheme.clone();
        if self.has(Bug::SignatureHexNotBase64) {
            scheme.hmac.encoding = Encoding::Hex;
        }
        scheme.verify(id, timestamp, signature, body, request.received_at)?;
        Ok(())
    }
}

#[async_trait]
impl PaymentProvider for Refpay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            capture: true,
            refund: true,
            fetch_payment: true,
            list_refunds: true,
            expire_checkout: false,
        }
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let mut units = self.decimals().to_provider(request.amount)?;
        if self.has(Bug::CheckoutSendsHundredth) {
            units /= 100;
        }
        let body = json!({
            "amount": units,
            "currency": self.currency_code(request.amount),
            "reference": request.payment_ref,
            "return_url": request.success_url,
        });
        let mut key = request.idempotency_key.clone();
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        if self.has(Bug::NewCheckoutOnRetry) {
            key = format!("{key}:{n}");
        }
        let v = self
            .call(reqwest::Method::POST, "/v1/checkouts", Some(body), Some(&key))
            .await?;
        let created = self.money(&v["amount"], &v["currency"]).map_err(unexpected)?;
        if created != request.amount && !self.has(Bug::AmountCheckRemoved) {
            return Err(unexpected(format!(
                "asked for {}, the provider created {created}",
                request.amount
            )));
        }
        Ok(CheckoutSession {
            external_id: v["id"].as_str().ok_or_else(|| unexpected("no id"))?.to_string(),
            redirect_url: v["url"].as_str().ok_or_else(|| unexpected("no url"))?.to_string(),
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn parse_webhook(&self, request: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        self.verify(request)?;
        let raw = request.json()?;
        let checkout = &raw["data"]["checkout"];
        let id = if self.has(Bug::EventIdFromBody) {
            checkout["id"].as_str().ok_or_else(|| malformed("no id"))?
        } else {
            request.require_header(EVENT_ID_HEADER)?
        }
        .to_string();
        let raw_type = raw["type"]
            .as_str()
            .ok_or_else(|| malformed("no type"))?
            .to_string();
        if self.has(Bug::PanicsOnWrongType) {
            let _ = checkout["amount"].as_i64().expect("the amount is an integer");
        }
        let amount_source = if self.has(Bug::AmountFromWrongObject) {
            &raw["data"]["fee"]
        } else {
            checkout
        };
        let mut amount = self
            .money(&amount_source["amount"], &amount_source["currency"])
            .map_err(malformed)?;
        if self.has(Bug::WebhookAmountHalved) {
            amount = Money::new(amount.amount.get() / 2, amount.currency);
        }
        let kind = match raw_type.as_str() {
            "checkout.paid" => EventKind::PaymentSucceeded,
            "checkout.authorized" if self.has(Bug::NotCapturedIsSuccess) => EventKind::PaymentSucceeded,
            "checkout.authorized" => EventKind::CaptureRequired,
            "checkout.failed" => EventKind::PaymentFailed,
            "checkout.processing" => EventKind::PaymentPending,
            "checkout.expired" if self.has(Bug::ExpiredIsSuccess) => EventKind::PaymentSucceeded,
            "checkout.expired" => EventKind::CheckoutExpired,
            "checkout.refunded" => {
                let total = if self.has(Bug::RefundEventThisRefundAsTotal) {
                    &raw["data"]["refund"]["amount"]
                } else {
                    &checkout["amount_refunded"]
                };
                EventKind::Refunded {
                    amount: Some(
                        self.money(total, &checkout["currency"])
                            .map_err(malformed)?
                            .amount,
                    ),
                }
            }
            "checkout.disputed" => EventKind::Disputed,
            other => EventKind::Other {
                raw_type: other.to_string(),
            },
        };
        let payment_ref = if self.has(Bug::PaymentRefDropped) {
            None
        } else {
            checkout["reference"].as_str().map(str::to_string)
        };
        let refund = match &raw["data"]["refund"] {
            Value::Null => None,
            r => Some(RefundReport {
                id: r["id"]
                    .as_str()
                    .ok_or_else(|| malformed("a refund without id"))?
                    .to_string(),
                amount: Some(
                    self.money(&r["amount"], &r["currency"])
                        .map_err(malformed)?
                        .amount,
                ),
                state: RefundState::from_provider(r["status"].as_str().unwrap_or("pending")),
            }),
        };
        Ok(WebhookEvent {
            references: Vec::new(),
            refund,
            provider: NAME.to_string(),
            event_id: id,
            raw_type,
            kind,
            external_payment_id: Some(
                checkout["id"]
                    .as_str()
                    .ok_or_else(|| malformed("no checkout id"))?
                    .to_string(),
            ),
            payment_ref,
            amount: Some(amount),
            raw: raw.clone(),
            signature: SignatureVerdict::verified("hmac-sha256"),
        })
    }

    async fn capture(
        &self,
        external_id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentSnapshot, ProviderError> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/checkouts/{external_id}/capture"),
                None,
                Some(idempotency_key),
            )
            .await?;
        self.snapshot(&v)
    }

    /// `POST /v1/checkouts/{id}/refunds` with our [`refund_marker`] in `metadata`, so that
    /// `list_refunds` finds the refund even if this answer is lost.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let marker = if self.has(Bug::RefundMarkerNotStored) {
            json!({})
        } else {
            json!({ REFUND_MARKER_KEY: refund_marker(&request.idempotency_key) })
        };
        let body = match request.amount {
            Some(money) => json!({
                "amount": if self.has(Bug::RefundSendsHundredth) {
                    self.decimals().to_provider(money)? / 100
                } else {
                    self.decimals().to_provider(money)?
                },
                "currency": self.currency_code(money),
                "metadata": marker,
            }),
            None => json!({ "metadata": marker }),
        };
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/checkouts/{}/refunds", request.external_payment_id),
                Some(body),
                Some(request.idempotency_key.as_str()).filter(|_| !self.has(Bug::RefundNotIdempotent)),
            )
            .await?;
        let refund = self.listed(&v)?;
        Ok(RefundOutcome {
            refund_id: refund.refund_id,
            amount: refund.amount,
            status: refund.status,
        })
    }

    /// `GET /v1/checkouts/{id}/refunds`: every refund, with our marker from its `metadata`.
    async fn list_refunds(&self, external_payment_id: &str) -> Result<Vec<ProviderRefund>, ProviderError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/checkouts/{external_payment_id}/refunds"),
                None,
                None,
            )
            .await?;
        v["data"]
            .as_array()
            .ok_or_else(|| unexpected("a refund list without data"))?
            .iter()
            .map(|r| self.listed(r))
            .collect()
    }

    /// Refpay keeps idempotency keys for 24 hours.
    fn refund_key_lifetime(&self) -> KeyLifetime {
        KeyLifetime::Secs(86_400)
    }

    async fn fetch_payment(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/checkouts/{external_id}"),
                None,
                None,
            )
            .await?;
        self.snapshot(&v)
    }
}
