//! The dummy provider's optional API (feature `api`, `DUMMY_API_URL`): a small provider-like
//! HTTP API to look a payment up and capture it, so that reconciliation and the capture step can
//! be exercised with the dummy against a real server ([`crate::testing::DummyBank`] is one).
//!
//! - `GET {DUMMY_API_URL}/v1/payments/{id}` → [`ApiPayment`];
//! - `POST {DUMMY_API_URL}/v1/payments/{id}/capture` (`Idempotency-Key`) → [`ApiPayment`];
//! - errors: `{"error": {"code", "message"}}` with a 4xx/5xx status.

use payments_core::http::{segment, Auth, Client, Idempotency, JsonErrors, Request};
use payments_core::{Currency, Money, PaymentSnapshot, PaymentStatus, ProviderError, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::DummyProvider;

const ERRORS: JsonErrors = JsonErrors {
    provider: DummyProvider::NAME,
    code: &["/error/code"],
    message: &["/error/message"],
    field: None,
    retry_header: None,
};

/// A payment as the dummy's API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPayment {
    /// The dummy's id (`dummy_<our id>`).
    pub id: String,
    /// `pending`, `requires_capture`, `succeeded`, `failed`, `expired`, `canceled` or `refunded`.
    pub status: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// Our payment id.
    pub payment_ref: String,
}

impl ApiPayment {
    /// What the provider says, normalized; an unknown status is pending, never success.
    pub fn snapshot(&self) -> Result<PaymentSnapshot, ProviderError> {
        let currency = Currency::from_code(&self.currency)
            .map_err(|e| ProviderError::unexpected(DummyProvider::NAME, e.to_string()))?;
        let status = match self.status.as_str() {
            "requires_capture" => PaymentStatus::RequiresCapture,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "expired" => PaymentStatus::Expired,
            "canceled" => PaymentStatus::Canceled,
            "refunded" => PaymentStatus::Refunded,
            _ => PaymentStatus::Pending,
        };
        Ok(PaymentSnapshot {
            external_id: self.id.clone(),
            status,
            amount: Some(Money::new(self.amount, currency)),
            payment_ref: Some(self.payment_ref.clone()).filter(|r| !r.is_empty()),
            references: Vec::new(),
            refunded: None,
        })
    }
}

/// The client of the dummy's API.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
}

impl Api {
    /// A client for the API at `base` (an absolute http(s) URL).
    pub fn new(base: &str) -> Result<Api, ProviderError> {
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            return Err(ProviderError::Config(format!(
                "DUMMY_API_URL={base:?} is not an absolute http(s) URL"
            )));
        }
        let client = Client::new(
            DummyProvider::NAME,
            base,
            Auth::None,
            RetryPolicy::default(),
            ERRORS,
        )?;
        Ok(Api { client })
    }

    pub async fn fetch(&self, external_id: &str) -> Result<PaymentSnapshot, ProviderError> {
        let path = format!("/v1/payments/{}", segment(external_id));
        let payment: ApiPayment = self.client.json(&Request::get(path)).await?;
        payment.snapshot()
    }

    pub async fn capture(&self, external_id: &str, key: &str) -> Result<PaymentSnapshot, ProviderError> {
        let path = format!("/v1/payments/{}/capture", segment(external_id));
        let post = Request::post(path)
            .raw_json(b"{}".to_vec())
            .idempotency(Idempotency::Header("Idempotency-Key", key));
        let payment: ApiPayment = self.client.json(&post).await?;
        payment.snapshot()
    }
}
