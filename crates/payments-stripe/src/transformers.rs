//! Stripe's wire types, form encoding with bracketed keys, status mapping into the core enums and
//! Stripe's amount rules (its own decimals, three-decimal rounding, minimum amounts).

use std::collections::BTreeMap;

use payments_core::{CheckoutRequest, Currency, ExponentOverrides, Money, PaymentStatus, ProviderError};
use serde::Deserialize;

/// Where Stripe's decimals differ from ISO 4217 (docs.stripe.com/currencies): ISK is zero-decimal
/// in ISO but two-decimal in Stripe's API (amounts divisible by 100); MGA is two-decimal in ISO but
/// zero-decimal at Stripe.
pub const STRIPE_EXPONENTS: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2), ("MGA", 0)]);

/// Stripe's zero-decimal currencies.
pub const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
    "XPF",
];

/// Stripe's three-decimal currencies: the last digit of an amount must be 0.
pub const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// Stripe's published minimum charge amounts, in Stripe's units of the currency itself
/// (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). Other currencies have no local
/// floor here: Stripe converts them (about USD 0.50) and refuses a too small amount itself.
pub const MINIMUM_AMOUNTS: &[(&str, i64)] = &[
    ("AED", 200),
    ("AUD", 50),
    ("BGN", 100),
    ("BRL", 50),
    ("CAD", 50),
    ("CHF", 50),
    ("CZK", 1500),
    ("DKK", 250),
    ("EUR", 50),
    ("GBP", 30),
    ("HKD", 400),
    ("HUF", 17500),
    ("INR", 50),
    ("JPY", 50),
    ("MXN", 1000),
    ("MYR", 200),
    ("NOK", 300),
    ("NZD", 50),
    ("PLN", 200),
    ("RON", 200),
    ("SEK", 300),
    ("SGD", 50),
    ("THB", 1000),
    ("USD", 50),
];

/// Stripe amounts have at most eight digits (twelve for IDR).
pub fn maximum_amount(currency: Currency) -> i64 {
    if currency.code() == "IDR" {
        999_999_999_999
    } else {
        99_999_999
    }
}

/// Stripe's number of decimals for `currency`.
pub fn stripe_exponent(currency: Currency) -> u8 {
    STRIPE_EXPONENTS.exponent(currency)
}

/// `money` in Stripe's units, refusing what Stripe would refuse: not positive, not representable
/// with Stripe's decimals (MGA fractions), a three-decimal amount not ending in 0, above the
/// eight-digit maximum. `minimum` also applies Stripe's minimum charge (not for refunds).
fn to_stripe_units(money: Money, what: &str, minimum: bool) -> Result<i64, ProviderError> {
    let code = money.currency.code();
    if !money.amount.is_positive() {
        return Err(ProviderError::AmountRefused(format!(
            "{what} of {money} is not a positive amount"
        )));
    }
    let units = STRIPE_EXPONENTS.to_provider(money).map_err(|_| {
        ProviderError::AmountRefused(format!(
            "{what} of {money} cannot be sent to Stripe: Stripe takes {code} with {} decimals",
            stripe_exponent(money.currency)
        ))
    })?;
    if THREE_DECIMAL.contains(&code) && units % 10 != 0 {
        return Err(ProviderError::AmountRefused(format!(
            "{what} of {money} cannot be sent to Stripe: {code} amounts must end in 0 \
             (round to the nearest ten minor units)"
        )));
    }
    if minimum {
        if let Some((_, min)) = MINIMUM_AMOUNTS.iter().find(|(c, _)| *c == code) {
            if units < *min {
                let floor = STRIPE_EXPONENTS
                    .from_provider(*min, money.currency)
                    .map_or_else(|_| format!("{min} {code} units"), |m| m.to_string());
                return Err(ProviderError::AmountRefused(format!(
                    "{what} of {money} is below Stripe's minimum charge of {floor}"
                )));
            }
        }
    }
    if units > maximum_amount(money.currency) {
        return Err(ProviderError::AmountRefused(format!(
            "{what} of {money} is above the largest amount Stripe accepts"
        )));
    }
    Ok(units)
}

/// A checkout amount in Stripe's units, or why Stripe would refuse it (checked before any call).
pub fn checkout_amount(money: Money) -> Result<i64, ProviderError> {
    to_stripe_units(money, "a payment", true)
}

/// A refund amount in Stripe's units (no minimum applies to refunds).
pub fn refund_amount(money: Money) -> Result<i64, ProviderError> {
    to_stripe_units(money, "a refund", false)
}

/// A Stripe amount and lower-case currency back into ISO minor units.
pub fn money_from_stripe(amount: i64, currency: &str) -> Result<Money, String> {
    let currency = Currency::from_code(currency).map_err(|e| e.to_string())?;
    STRIPE_EXPONENTS
        .from_provider(amount, currency)
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Form encoding

/// A form body with Stripe's bracketed keys (`metadata[payment_id]`), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), value.into()));
    }

    /// `application/x-www-form-urlencoded`; brackets in keys are kept literal (as Stripe's own
    /// libraries send them), everything else is percent-encoded.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| {
                let key: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                let key = key.replace("%5B", "[").replace("%5D", "]");
                let value: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                format!("{key}={value}")
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The success URL with `session_id={CHECKOUT_SESSION_ID}` added as a query parameter (the
/// existing query and fragment are kept; nothing is added when the placeholder is already there).
pub fn success_url_with_session_id(url: &str) -> String {
    const PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";
    if url.contains(PLACEHOLDER) {
        return url.to_string();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut out = format!("{base}{sep}session_id={PLACEHOLDER}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The `POST /v1/checkout/sessions` form for a one-off payment of exactly `request.amount`.
pub fn checkout_session_form(request: &CheckoutRequest) -> Result<Form, ProviderError> {
    let unit_amount = checkout_amount(request.amount)?;
    let name = if request.description.trim().is_empty() {
        format!("Receipt #{}", request.receipt_id)
    } else {
        request.description.clone()
    };
    let receipt_id = request.receipt_id.to_string();
    let mut f = Form::default();
    f.push("mode", "payment");
    f.push("line_items[0][quantity]", "1");
    f.push(
        "line_items[0][price_data][currency]",
        request.amount.currency.code_lowercase(),
    );
    f.push("line_items[0][price_data][unit_amount]", unit_amount.to_string());
    f.push("line_items[0][price_data][product_data][name]", name);
    f.push("success_url", success_url_with_session_id(&request.success_url));
    f.push("cancel_url", request.cancel_url.clone());
    f.push("client_reference_id", request.payment_ref.clone());
    f.push("metadata[payment_id]", request.payment_ref.clone());
    f.push("metadata[receipt_id]", receipt_id.clone());
    f.push(
        "payment_intent_data[metadata][payment_id]",
        request.payment_ref.clone(),
    );
    f.push("payment_intent_data[metadata][receipt_id]", receipt_id);
    Ok(f)
}

// ---------------------------------------------------------------------------------------------
// Wire types (only the fields we use; unknown fields are ignored)

/// `checkout.session.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
    #[serde(other)]
    Unknown,
}

/// `checkout.session.payment_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    #[serde(other)]
    Unknown,
}

/// A Checkout Session's two statuses together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    pub status: Option<SessionStatus>,
    pub payment_status: SessionPaymentStatus,
}

impl From<SessionState> for PaymentStatus {
    fn from(s: SessionState) -> Self {
        match (s.status, s.payment_status) {
            // Paid is final whatever the session status says.
            (_, SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired) => {
                PaymentStatus::Succeeded
            }
            (Some(SessionStatus::Expired), _) => PaymentStatus::Expired,
            // Complete but unpaid: a delayed method (bank debit) is still processing.
            _ => PaymentStatus::Pending,
        }
    }
}

/// A Checkout Session object (API responses and `checkout.session.*` events).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSessionObject {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status: Option<SessionStatus>,
    pub payment_status: SessionPaymentStatus,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// An id, or the expanded object.
    #[serde(default)]
    pub payment_intent: Option<serde_json::Value>,
    #[serde(default)]
    pub livemode: Option<bool>,
}

impl CheckoutSessionObject {
    pub fn state(&self) -> SessionState {
        SessionState {
            status: self.status,
            payment_status: self.payment_status,
        }
    }

    /// Our payment id: `metadata[payment_id]`, else `client_reference_id`.
    pub fn payment_ref(&self) -> Option<String> {
        metadata_payment_id(self.metadata.as_ref())
            .or_else(|| self.client_reference_id.clone().filter(|s| !s.trim().is_empty()))
    }

    /// The PaymentIntent id, expanded or not.
    pub fn payment_intent_id(&self) -> Option<String> {
        match &self.payment_intent {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Object(o)) => o.get("id").and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        }
    }

    /// `amount_total` and `currency` in ISO minor units.
    pub fn amount(&self) -> Result<Option<Money>, String> {
        match (self.amount_total, self.currency.as_deref()) {
            (Some(a), Some(c)) => money_from_stripe(a, c).map(Some),
            _ => Ok(None),
        }
    }
}

pub fn metadata_payment_id(metadata: Option<&BTreeMap<String, String>>) -> Option<String> {
    metadata
        .and_then(|m| m.get("payment_id"))
        .filter(|s| !s.trim().is_empty())
        .cloned()
}

/// A Refund object.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundObject {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// A Charge object (`charge.refunded`).
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeObject {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A Dispute object (`charge.dispute.created`).
#[derive(Debug, Clone, Deserialize)]
pub struct DisputeObject {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Stripe's error body: `{"error": {"type", "code", "message", "param", ...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    #[serde(rename = "type", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::from_code(code).unwrap())
    }

    #[test]
    fn stripe_units() {
        assert_eq!(checkout_amount(m(123_450, "THB")).unwrap(), 123_450);
        assert_eq!(checkout_amount(m(500, "JPY")).unwrap(), 500);
        // ISK: ISO zero-decimal, Stripe two-decimal.
        assert_eq!(checkout_amount(m(1000, "ISK")).unwrap(), 100_000);
        // MGA: ISO two-decimal, Stripe zero-decimal.
        assert_eq!(checkout_amount(m(500_000, "MGA")).unwrap(), 5000);
        assert!(matches!(
            checkout_amount(m(500_050, "MGA")),
            Err(ProviderError::AmountRefused(_))
        ));
        assert_eq!(checkout_amount(m(5120, "KWD")).unwrap(), 5120);
        let e = checkout_amount(m(5124, "KWD")).unwrap_err().to_string();
        assert!(e.contains("must end in 0"), "{e}");
        let e = checkout_amount(m(999, "THB")).unwrap_err().to_string();
        assert!(e.contains("minimum") && e.contains("THB 10.00"), "{e}");
        assert_eq!(checkout_amount(m(1000, "THB")).unwrap(), 1000);
        let e = checkout_amount(m(49, "JPY")).unwrap_err().to_string();
        assert!(e.contains("JPY 50"), "{e}");
        assert!(checkout_amount(m(0, "USD")).is_err());
        assert!(checkout_amount(m(-100, "USD")).is_err());
        assert!(checkout_amount(m(100_000_000, "USD")).is_err());
        assert_eq!(checkout_amount(m(99_999_999, "USD")).unwrap(), 99_999_999);
        // Refunds have no minimum.
        assert_eq!(refund_amount(m(1, "THB")).unwrap(), 1);
        assert!(refund_amount(m(5125, "KWD")).is_err());
        assert_eq!(money_from_stripe(100_000, "isk").unwrap(), m(1000, "ISK"));
        assert!(money_from_stripe(100_050, "isk").is_err());
        assert_eq!(money_from_stripe(5000, "mga").unwrap(), m(500_000, "MGA"));
        assert!(money_from_stripe(1, "xyz").is_err());
    }

    #[test]
    fn success_url_keeps_query_and_fragment() {
        assert_eq!(
            success_url_with_session_id("http://h/thanks?payment=p1"),
            "http://h/thanks?payment=p1&session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            success_url_with_session_id("http://h/thanks"),
            "http://h/thanks?session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            success_url_with_session_id("http://h/t?a=1#top"),
            "http://h/t?a=1&session_id={CHECKOUT_SESSION_ID}#top"
        );
        assert_eq!(
            success_url_with_session_id("http://h/t?s={CHECKOUT_SESSION_ID}"),
            "http://h/t?s={CHECKOUT_SESSION_ID}"
        );
    }

    #[test]
    fn form_keeps_brackets_and_encodes_values() {
        let mut f = Form::default();
        f.push("metadata[payment_id]", "a b&c=d");
        f.push("success_url", "http://h/?x={CHECKOUT_SESSION_ID}");
        assert_eq!(
            f.encode(),
            "metadata[payment_id]=a+b%26c%3Dd&success_url=http%3A%2F%2Fh%2F%3Fx%3D%7BCHECKOUT_SESSION_ID%7D"
        );
    }

    #[test]
    fn session_states_map_to_core_statuses() {
        use SessionPaymentStatus as P;
        use SessionStatus as S;
        let st = |s, p| {
            PaymentStatus::from(SessionState {
                status: Some(s),
                payment_status: p,
            })
        };
        assert_eq!(st(S::Open, P::Unpaid), PaymentStatus::Pending);
        assert_eq!(st(S::Complete, P::Paid), PaymentStatus::Succeeded);
        assert_eq!(st(S::Complete, P::Unpaid), PaymentStatus::Pending);
        assert_eq!(st(S::Expired, P::Unpaid), PaymentStatus::Expired);
        assert_eq!(st(S::Unknown, P::Unknown), PaymentStatus::Pending);
    }
}
