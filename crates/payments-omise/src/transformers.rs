//! Omise's amount rules, wire types and status mapping into the core enums.

use payments_core::{
    AmountRules, CheckoutRequest, EventKind, ExponentOverrides, Money, PaymentStatus, ProviderError,
    ProviderRefund, REFUND_MARKER_KEY,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::PROVIDER;

/// Omise's amount rules: the currencies it accepts for charges (the union over account
/// countries; multi-currency card charges must be enabled for those other than the account's
/// funding currency) and the per-charge limits in the funding currencies, in Omise units (for
/// other currencies Omise applies them after conversion, which cannot be checked here). Omise's
/// decimals agree with ISO 4217 for every currency it accepts.
pub const AMOUNTS: AmountRules = AmountRules {
    currencies: &[
        "AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "JPY", "MYR", "SGD", "THB", "USD",
    ],
    minimums: &[("THB", 2_000), ("JPY", 100), ("SGD", 100), ("MYR", 100)],
    maximums: &[
        ("THB", 15_000_000),
        ("JPY", 6_000_000),
        ("SGD", 2_000_000),
        ("MYR", 10_000_000),
    ],
    ..AmountRules::new("Omise", ExponentOverrides::NONE)
};

/// Metadata keys the adapter writes on charges (and `idempotency_key` on refunds, with our
/// [`payments_core::refund_marker`] under [`REFUND_MARKER_KEY`]).
pub const META_PAYMENT_ID: &str = "payment_id";
pub const META_IDEMPOTENCY_KEY: &str = "idempotency_key";

/// A charge's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Successful,
    Failed,
    Pending,
    Reversed,
    Expired,
    #[serde(other)]
    Unknown,
}

impl From<ChargeStatus> for PaymentStatus {
    fn from(s: ChargeStatus) -> Self {
        match s {
            ChargeStatus::Successful => PaymentStatus::Succeeded,
            ChargeStatus::Failed => PaymentStatus::Failed,
            ChargeStatus::Expired => PaymentStatus::Expired,
            ChargeStatus::Reversed => PaymentStatus::Canceled,
            // An unknown status is never taken for money received.
            ChargeStatus::Pending | ChargeStatus::Unknown => PaymentStatus::Pending,
        }
    }
}

/// What a charge's (re-fetched) status means for a `charge.*` event.
impl From<ChargeStatus> for EventKind {
    fn from(s: ChargeStatus) -> Self {
        match s {
            ChargeStatus::Successful => EventKind::PaymentSucceeded,
            // A reversed charge is an authorization released without capture: no money moved.
            ChargeStatus::Failed | ChargeStatus::Reversed => EventKind::PaymentFailed,
            ChargeStatus::Expired => EventKind::CheckoutExpired,
            ChargeStatus::Pending | ChargeStatus::Unknown => EventKind::PaymentPending,
        }
    }
}

/// An id or an expanded object with an `id` (Omise's `object_id_expandable`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

/// An Omise charge (API version 2019-05-29), only the fields the adapter reads.
#[derive(Debug, Clone, Deserialize)]
pub struct OmiseCharge {
    pub object: String,
    pub id: String,
    /// In the smallest unit of `currency` (often upper-case; compared case-insensitively).
    pub amount: i64,
    pub currency: String,
    pub status: ChargeStatus,
    pub authorize_uri: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    /// Since 2019-05-29; older versions call it `refunded`.
    pub refunded_amount: Option<i64>,
}

impl OmiseCharge {
    /// The charge's amount in ISO minor units.
    pub fn money(&self) -> Result<Money, ProviderError> {
        AMOUNTS
            .money(self.amount, &self.currency)
            .map_err(|e| ProviderError::unexpected(PROVIDER, format!("charge {}: {e}", self.id)))
    }

    /// Our payment id, from the metadata the adapter set at creation.
    pub fn payment_ref(&self) -> Option<String> {
        match self.metadata.as_ref()?.get(META_PAYMENT_ID)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The normalized status: a successful charge refunded in full counts as refunded.
    pub fn payment_status(&self) -> PaymentStatus {
        PaymentStatus::from(self.status).after_refunds(self.amount, self.refunded_amount.unwrap_or(0))
    }

    /// `refunded_amount` in ISO minor units (`None` when Omise does not say).
    pub fn refunded(&self) -> Result<Option<Money>, ProviderError> {
        let Some(units) = self.refunded_amount else {
            return Ok(None);
        };
        AMOUNTS
            .money(units, &self.currency)
            .map(Some)
            .map_err(|e| ProviderError::unexpected(PROVIDER, format!("charge {} refunded: {e}", self.id)))
    }
}

/// An Omise refund. Its `status` is `pending` or `closed` (omise-swift `Refund.Status`, omise-go
/// `RefundClosed`); `voided` says the refund was carried out as a void of the charge (a full
/// refund before settlement, docs.opn.ooo/refunds-api): the money is returned all the same.
#[derive(Debug, Clone, Deserialize)]
pub struct OmiseRefund {
    pub object: String,
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: Option<Expandable>,
    pub status: Option<String>,
    #[serde(default)]
    pub voided: bool,
    pub metadata: Option<Map<String, Value>>,
}

impl OmiseRefund {
    /// Omise's status word. `voided` comes first: the Refunds API documents it ("Charges are
    /// voided if refund is processed before settlement time": carried out, `closed`) and lists
    /// `status` as a deprecated attribute, so a void is `closed` whatever `status` says. Else
    /// the status; without one, `pending` (never taken for money returned).
    pub fn status_word(&self) -> String {
        match (&self.status, self.voided) {
            (_, true) => "closed".into(),
            (Some(status), _) if !status.trim().is_empty() => status.clone(),
            _ => "pending".into(),
        }
    }

    /// The [`payments_core::refund_marker`] we stored under [`REFUND_MARKER_KEY`], if any.
    pub fn marker(&self) -> Option<String> {
        match self.metadata.as_ref()?.get(REFUND_MARKER_KEY)? {
            Value::String(m) if !m.trim().is_empty() => Some(m.clone()),
            _ => None,
        }
    }

    /// This refund's amount in ISO minor units.
    pub fn money(&self) -> Result<Money, ProviderError> {
        AMOUNTS
            .money(self.amount, &self.currency)
            .map_err(|e| ProviderError::unexpected(PROVIDER, format!("refund {}: {e}", self.id)))
    }

    /// As [`payments_core::PaymentProvider::list_refunds`] reports it.
    pub fn provider_refund(&self) -> Result<ProviderRefund, ProviderError> {
        Ok(ProviderRefund {
            refund_id: self.id.clone(),
            amount: Some(self.money()?.amount),
            status: self.status_word(),
            marker: self.marker(),
        })
    }
}

/// A page of an Omise list (`GET /charges/{id}/refunds`): `data` from `offset`, of `total`.
#[derive(Debug, Clone, Deserialize)]
pub struct OmiseList<T> {
    pub object: String,
    pub data: Vec<T>,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub total: u64,
}

/// The form body of `POST /charges` for a hosted redirect charge.
pub fn create_charge_form(
    request: &CheckoutRequest,
    source: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let (amount, receipt) = (
        AMOUNTS.charge(request.amount)?.to_string(),
        request.receipt_id.to_string(),
    );
    // Our payment id ends the description: a documented query attribute of Omise's search,
    // through which a repeated checkout finds the charge created before (lib.rs, `ChargeLookup`).
    let suffix = format!(" ({})", request.payment_ref);
    let kept: String = (request.description.trim().chars())
        .take(255 - suffix.chars().count().min(255))
        .collect();
    let description = format!("{kept}{suffix}").trim().to_string();
    let fields = [
        ("amount", amount.as_str()),
        ("currency", &request.amount.currency.code_lowercase()),
        ("source[type]", source),
        ("return_uri", &request.success_url),
        ("metadata[payment_id]", &request.payment_ref),
        ("metadata[receipt_id]", &receipt),
        ("metadata[idempotency_key]", &request.idempotency_key),
        ("description", &description),
    ];
    Ok(fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}
