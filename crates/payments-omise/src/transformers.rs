//! Omise wire types, status mapping into the core enums, and amount conversion with Omise's
//! rules (smallest currency unit; JPY is the only zero-decimal currency Omise supports, which
//! agrees with ISO 4217 for every currency Omise accepts, so no exponent override is needed).

use payments_core::{
    CheckoutRequest, Currency, EventKind, ExponentOverrides, MinorUnits, Money, PaymentStatus, ProviderError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::PROVIDER;

/// Omise's exponents differ from ISO 4217 for none of the currencies it supports.
pub const OMISE_EXPONENTS: ExponentOverrides = ExponentOverrides::NONE;

/// Currencies Omise accepts for charges (the union over account countries; multi-currency card
/// charges must be enabled on the account for those other than its funding currency).
pub const SUPPORTED_CURRENCIES: &[&str] = &[
    "AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "JPY", "MYR", "SGD", "THB", "USD",
];

/// Per-charge limits in the funding currencies, in Omise units: (currency, min, max).
/// For other currencies Omise applies these after conversion, which cannot be checked here.
pub const CHARGE_LIMITS: &[(&str, i64, i64)] = &[
    ("THB", 2_000, 15_000_000),
    ("JPY", 100, 6_000_000),
    ("SGD", 100, 2_000_000),
    ("MYR", 100, 10_000_000),
];

/// Metadata keys the adapter writes on charges.
pub const META_PAYMENT_ID: &str = "payment_id";
pub const META_RECEIPT_ID: &str = "receipt_id";
pub const META_IDEMPOTENCY_KEY: &str = "idempotency_key";

/// `{"object": "error", "location", "code", "message"}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OmiseError {
    pub object: Option<String>,
    pub location: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// A charge's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
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

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Successful => "successful",
            ChargeStatus::Failed => "failed",
            ChargeStatus::Pending => "pending",
            ChargeStatus::Reversed => "reversed",
            ChargeStatus::Expired => "expired",
            ChargeStatus::Unknown => "unknown",
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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

/// The charge source (only what the adapter reads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChargeSource {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    pub flow: Option<String>,
}

/// An Omise charge (API version 2019-05-29), only the fields the adapter needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OmiseCharge {
    pub object: String,
    pub id: String,
    #[serde(default)]
    pub livemode: bool,
    /// In the smallest unit of `currency`.
    pub amount: i64,
    /// Often upper-case in responses; compared case-insensitively.
    pub currency: String,
    pub status: ChargeStatus,
    #[serde(default)]
    pub paid: bool,
    pub authorize_uri: Option<String>,
    pub return_uri: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Since 2019-05-29; older versions call it `refunded`.
    pub refunded_amount: Option<i64>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub source: Option<ChargeSource>,
}

impl OmiseCharge {
    /// The charge's amount in ISO minor units.
    pub fn money(&self) -> Result<Money, ProviderError> {
        money_from_omise(self.amount, &self.currency)
    }

    /// Our payment id, from the metadata the adapter set at creation.
    pub fn payment_ref(&self) -> Option<String> {
        self.metadata_str(META_PAYMENT_ID)
    }

    pub fn metadata_str(&self, key: &str) -> Option<String> {
        match self.metadata.as_ref()?.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The normalized status: a successful charge refunded in full counts as refunded.
    pub fn payment_status(&self) -> PaymentStatus {
        let refunded = self.refunded_amount.unwrap_or(0);
        if self.status == ChargeStatus::Successful && self.amount > 0 && refunded >= self.amount {
            return PaymentStatus::Refunded;
        }
        self.status.into()
    }
}

/// An Omise refund.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OmiseRefund {
    pub object: String,
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: Option<Expandable>,
    pub status: Option<String>,
    #[serde(default)]
    pub voided: bool,
}

/// True for ids Omise issues (`chrg_test_5xyz...`, `rfnd_...`): letters, digits, underscores.
/// Anything else is refused before it is put into a URL path.
pub fn is_omise_id(id: &str, prefix: &str) -> bool {
    id.len() <= 64
        && id.len() > prefix.len()
        && id.starts_with(prefix)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Omise's currency from ours, refusing those Omise does not accept.
pub fn omise_currency(currency: Currency) -> Result<&'static str, ProviderError> {
    let code = currency.code();
    if SUPPORTED_CURRENCIES.contains(&code) {
        Ok(code)
    } else {
        Err(ProviderError::AmountRefused(format!(
            "Omise does not accept {code}; supported: {}",
            SUPPORTED_CURRENCIES.join(", ")
        )))
    }
}

/// `money` in Omise units (satang for THB, yen for JPY), checked against Omise's rules: a
/// supported currency, positive, and within the per-charge limits where they are known.
pub fn charge_amount(money: Money) -> Result<i64, ProviderError> {
    let code = omise_currency(money.currency)?;
    let units = OMISE_EXPONENTS.to_provider(money)?;
    if units <= 0 {
        return Err(ProviderError::AmountRefused(format!(
            "{money} is not a positive amount"
        )));
    }
    if let Some((_, min, max)) = CHARGE_LIMITS.iter().find(|(c, _, _)| *c == code) {
        let bound = |units: i64| {
            OMISE_EXPONENTS
                .from_provider(units, money.currency)
                .map_or_else(|_| format!("{units} {code} units"), |m| m.to_string())
        };
        if units < *min {
            return Err(ProviderError::AmountRefused(format!(
                "{money} is below Omise's minimum charge of {}",
                bound(*min)
            )));
        }
        if units > *max {
            return Err(ProviderError::AmountRefused(format!(
                "{money} is above Omise's maximum charge of {}",
                bound(*max)
            )));
        }
    }
    Ok(units)
}

/// A refund amount in Omise units: supported currency and positive (the charge's own limits
/// do not apply to refunds).
pub fn refund_amount(money: Money) -> Result<i64, ProviderError> {
    omise_currency(money.currency)?;
    let units = OMISE_EXPONENTS.to_provider(money)?;
    if units <= 0 {
        return Err(ProviderError::AmountRefused(format!(
            "a refund of {money} is not a positive amount"
        )));
    }
    Ok(units)
}

/// An Omise amount and currency code (any case) as ISO money.
pub fn money_from_omise(amount: i64, currency: &str) -> Result<Money, ProviderError> {
    let currency = Currency::from_code(currency).map_err(|e| ProviderError::UnexpectedResponse {
        provider: PROVIDER,
        message: format!("currency {currency:?}: {e}"),
    })?;
    Ok(OMISE_EXPONENTS.from_provider(amount, currency)?)
}

/// An Omise amount as ISO minor units of `currency`.
pub fn minor_units_from_omise(amount: i64, currency: &str) -> Result<MinorUnits, ProviderError> {
    Ok(money_from_omise(amount, currency)?.amount)
}

/// The form body of `POST /charges` for a hosted redirect charge.
pub fn create_charge_form(
    request: &CheckoutRequest,
    source_type: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let amount = charge_amount(request.amount)?;
    let currency = omise_currency(request.amount.currency)?.to_ascii_lowercase();
    let mut form = vec![
        ("amount".to_string(), amount.to_string()),
        ("currency".to_string(), currency),
        ("source[type]".to_string(), source_type.to_string()),
        ("return_uri".to_string(), request.success_url.clone()),
        (
            format!("metadata[{META_PAYMENT_ID}]"),
            request.payment_ref.clone(),
        ),
        (
            format!("metadata[{META_RECEIPT_ID}]"),
            request.receipt_id.to_string(),
        ),
        (
            format!("metadata[{META_IDEMPOTENCY_KEY}]"),
            request.idempotency_key.clone(),
        ),
    ];
    let description: String = request.description.chars().take(255).collect();
    if !description.trim().is_empty() {
        form.push(("description".to_string(), description));
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn limits_are_checked_in_omise_units() {
        assert_eq!(charge_amount(Money::new(2_000, c("THB"))).unwrap(), 2_000);
        assert_eq!(
            charge_amount(Money::new(15_000_000, c("THB"))).unwrap(),
            15_000_000
        );
        assert!(matches!(
            charge_amount(Money::new(1_999, c("THB"))),
            Err(ProviderError::AmountRefused(m)) if m.contains("THB 20.00")
        ));
        assert!(matches!(
            charge_amount(Money::new(15_000_001, c("THB"))),
            Err(ProviderError::AmountRefused(m)) if m.contains("THB 150,000.00")
        ));
        assert_eq!(charge_amount(Money::new(100, c("JPY"))).unwrap(), 100);
        assert!(charge_amount(Money::new(99, c("JPY"))).is_err());
        assert!(charge_amount(Money::new(0, c("USD"))).is_err());
        assert!(charge_amount(Money::new(-5, c("USD"))).is_err());
        assert!(matches!(
            charge_amount(Money::new(10_000, c("KRW"))),
            Err(ProviderError::AmountRefused(_))
        ));
    }

    #[test]
    fn statuses_map_without_ever_inventing_success() {
        assert_eq!(
            PaymentStatus::from(ChargeStatus::Successful),
            PaymentStatus::Succeeded
        );
        assert_eq!(PaymentStatus::from(ChargeStatus::Unknown), PaymentStatus::Pending);
        assert_eq!(EventKind::from(ChargeStatus::Reversed), EventKind::PaymentFailed);
        assert_eq!(EventKind::from(ChargeStatus::Expired), EventKind::CheckoutExpired);
        let s: ChargeStatus = serde_json::from_str("\"something_new\"").unwrap();
        assert_eq!(s, ChargeStatus::Unknown);
    }

    #[test]
    fn ids_are_checked_before_use_in_paths() {
        assert!(is_omise_id("chrg_test_5xyz01", "chrg_"));
        assert!(!is_omise_id("chrg_", "chrg_"));
        assert!(!is_omise_id("chrg_../accounts", "chrg_"));
        assert!(!is_omise_id("rfnd_1", "chrg_"));
        assert!(!is_omise_id("chrg_a/b", "chrg_"));
    }
}
