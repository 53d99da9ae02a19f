//! Stripe's amount rules (its own decimals, three-decimal steps, minimum amounts), the checkout
//! form, its wire types and their mapping into the core statuses.

use std::collections::BTreeMap;

use payments_core::{
    AmountRules, CheckoutRequest, ExponentOverrides, Money, PaymentSnapshot, PaymentStatus, ProviderError,
    ProviderRefund, REFUND_MARKER_KEY,
};
use serde::Deserialize;

/// Where Stripe's decimals differ from ISO 4217 (docs.stripe.com/currencies): ISK is zero-decimal
/// in ISO but two-decimal in Stripe's API (amounts divisible by 100); MGA is two-decimal in ISO but
/// zero-decimal at Stripe.
pub const STRIPE_EXPONENTS: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2), ("MGA", 0)]);

/// Stripe's amount rules: three-decimal currencies must end in 0, at most eight digits (twelve
/// for IDR), and the published minimum charges in Stripe's units
/// (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). Other currencies have no local
/// floor here: Stripe converts them (about USD 0.50) and refuses a too small amount itself.
pub const AMOUNTS: AmountRules = AmountRules {
    steps: &[("BHD", 10), ("JOD", 10), ("KWD", 10), ("OMR", 10), ("TND", 10)],
    maximums: &[("IDR", 999_999_999_999)],
    default_maximum: Some(99_999_999),
    minimums: &[
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
    ],
    ..AmountRules::new("Stripe", STRIPE_EXPONENTS)
};

/// A Stripe amount and lower-case currency back into ISO minor units.
pub fn money_from_stripe(amount: i64, currency: &str) -> Result<Money, String> {
    AMOUNTS.money(amount, currency)
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
pub fn checkout_session_form(request: &CheckoutRequest) -> Result<Vec<(String, String)>, ProviderError> {
    let unit_amount = AMOUNTS.charge(request.amount)?;
    let name = if request.description.trim().is_empty() {
        format!("Receipt #{}", request.receipt_id)
    } else {
        request.description.clone()
    };
    let (payment, receipt) = (request.payment_ref.as_str(), request.receipt_id.to_string());
    let fields = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        (
            "line_items[0][price_data][currency]",
            &request.amount.currency.code_lowercase(),
        ),
        ("line_items[0][price_data][unit_amount]", &unit_amount.to_string()),
        ("line_items[0][price_data][product_data][name]", &name),
        ("success_url", &success_url_with_session_id(&request.success_url)),
        ("cancel_url", &request.cancel_url),
        ("client_reference_id", payment),
        ("metadata[payment_id]", payment),
        ("metadata[receipt_id]", &receipt),
        ("payment_intent_data[metadata][payment_id]", payment),
        ("payment_intent_data[metadata][receipt_id]", &receipt),
    ];
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(lifetime) = request.lifetime_secs {
        let now = payments_core::unix_now();
        // Counted from our payment's creation, so a retry sends the same `expires_at` (Stripe
        // refuses a key reused with other parameters); never closer than Stripe's minimum.
        let at = session_expires_at(request.created_at.unwrap_or(now), lifetime);
        let at = at.max(now + i64::try_from(MIN_EXPIRY_SECS).unwrap_or(0));
        form.push(("expires_at".to_string(), at.to_string()));
    }
    Ok(form)
}

/// Stripe's `expires_at` for a session created about `now` that should be payable for
/// `lifetime` seconds: Stripe accepts 30 minutes to 24 hours after creation, so the lifetime is
/// clamped to 32 minutes .. 23 hours 58 minutes (two minutes' margin for clock skew and latency).
pub fn session_expires_at(now: i64, lifetime: u64) -> i64 {
    const MAX: u64 = 24 * 3600 - 120;
    now + i64::try_from(lifetime.clamp(MIN_EXPIRY_SECS, MAX)).unwrap_or(0)
}

/// The shortest `expires_at` we send, counted from now: Stripe's 30 minutes and two minutes'
/// margin for clock skew and latency.
const MIN_EXPIRY_SECS: u64 = 30 * 60 + 120;

// ---------------------------------------------------------------------------------------------
// Wire types (only the fields we use; unknown fields are ignored)

/// A Checkout Session object (API responses and `checkout.session.*` events).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSessionObject {
    pub id: String,
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub client_reference_id: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// An id, or the expanded object.
    pub payment_intent: Option<serde_json::Value>,
    pub livemode: Option<bool>,
}

impl CheckoutSessionObject {
    /// Paid is final whatever the session status says; complete but unpaid is a delayed
    /// method (bank debit) still processing; anything unknown is pending, never success.
    pub fn payment_status(&self) -> PaymentStatus {
        match (self.status.as_deref(), self.payment_status.as_str()) {
            (_, "paid" | "no_payment_required") => PaymentStatus::Succeeded,
            (Some("expired"), _) => PaymentStatus::Expired,
            _ => PaymentStatus::Pending,
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

    /// The PaymentIntent's latest charge: its id (expanded PaymentIntent), and the charge itself
    /// when that is expanded too (`expand[]=payment_intent.latest_charge`).
    pub fn latest_charge(&self) -> Result<(Option<String>, Option<ChargeObject>), String> {
        let Some(serde_json::Value::Object(intent)) = &self.payment_intent else {
            return Ok((None, None));
        };
        match intent.get("latest_charge") {
            Some(serde_json::Value::String(id)) if !id.is_empty() => Ok((Some(id.clone()), None)),
            Some(charge @ serde_json::Value::Object(_)) => {
                let charge: ChargeObject = serde_json::from_value(charge.clone())
                    .map_err(|e| format!("the latest charge of session {} is not a charge: {e}", self.id))?;
                Ok((Some(charge.id.clone()), Some(charge)))
            }
            _ => Ok((None, None)),
        }
    }

    /// The payment as this session shows it: status, amount, our id, the PaymentIntent and its
    /// latest charge, and (with the charge expanded) Stripe's cumulative `amount_refunded`. A
    /// paid session whose charge is refunded in full is `Refunded` (the session itself stays
    /// `complete`/`paid` at Stripe).
    pub fn snapshot(self) -> Result<PaymentSnapshot, String> {
        let amount = self.amount()?;
        let (charge_id, charge) = self.latest_charge()?;
        let mut references: Vec<String> = self.payment_intent_id().into_iter().chain(charge_id).collect();
        references.retain(|r| !r.trim().is_empty() && *r != self.id);
        references.dedup();
        let mut status = self.payment_status();
        let mut refunded = None;
        if let Some(c) = charge {
            refunded = Some(money_from_stripe(c.amount_refunded, &c.currency)?.amount);
            status = status.after_refunds(c.amount, c.amount_refunded);
        }
        Ok(PaymentSnapshot {
            status,
            amount,
            payment_ref: self.payment_ref(),
            references,
            refunded,
            external_id: self.id,
        })
    }
}

pub fn metadata_payment_id(metadata: Option<&BTreeMap<String, String>>) -> Option<String> {
    metadata
        .and_then(|m| m.get("payment_id"))
        .filter(|s| !s.trim().is_empty())
        .cloned()
}

/// A Refund object (API answers, `GET /v1/refunds` lists and `charge.refund.updated`,
/// `refund.*` events).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundObject {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: Option<String>,
    pub charge: Option<String>,
    pub payment_intent: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

impl RefundObject {
    /// The [`payments_core::refund_marker`] we stored under [`REFUND_MARKER_KEY`], if any.
    pub fn marker(&self) -> Option<String> {
        self.metadata
            .as_ref()?
            .get(REFUND_MARKER_KEY)
            .filter(|m| !m.trim().is_empty())
            .cloned()
    }

    /// Stripe's status word (`unknown` when Stripe gives none: never taken for a success).
    pub fn status_word(&self) -> String {
        self.status.clone().unwrap_or_else(|| "unknown".into())
    }

    /// This refund's amount in ISO minor units.
    pub fn money(&self) -> Result<Money, String> {
        money_from_stripe(self.amount, &self.currency).map_err(|e| format!("refund {}: {e}", self.id))
    }

    /// As [`payments_core::PaymentProvider::list_refunds`] reports it.
    pub fn provider_refund(&self) -> Result<ProviderRefund, String> {
        Ok(ProviderRefund {
            refund_id: self.id.clone(),
            amount: Some(self.money()?.amount),
            status: self.status_word(),
            marker: self.marker(),
        })
    }
}

/// A page of `GET /v1/refunds` (newest first).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundList {
    pub data: Vec<RefundObject>,
    #[serde(default)]
    pub has_more: bool,
}

/// A page of `GET /v1/checkout/sessions` (newest first; the sessions are not expanded).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSessionList {
    pub data: Vec<CheckoutSessionObject>,
    #[serde(default)]
    pub has_more: bool,
}

/// A Charge (`GET /v1/charges/{id}`, `charge.refunded`) or a Dispute (`charge.dispute.created`): the fields both have.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeObject {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    /// Disputes only: the disputed charge.
    pub charge: Option<String>,
    pub payment_intent: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_core::Currency;

    fn m(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::from_code(code).unwrap())
    }

    #[test]
    fn stripe_units() {
        let ok = |a, c| AMOUNTS.charge(m(a, c)).unwrap();
        let refused = |a, c| AMOUNTS.charge(m(a, c)).unwrap_err().to_string();
        assert_eq!(
            (ok(123_450, "THB"), ok(500, "JPY"), ok(5120, "KWD")),
            (123_450, 500, 5120)
        );
        // ISK: ISO zero-decimal, Stripe two-decimal; MGA: ISO two-decimal, Stripe zero-decimal.
        assert_eq!((ok(1000, "ISK"), ok(500_000, "MGA")), (100_000, 5000));
        assert!(matches!(
            AMOUNTS.charge(m(500_050, "MGA")),
            Err(ProviderError::AmountRefused(_))
        ));
        assert!(refused(5124, "KWD").contains("must end in 0"));
        assert!(refused(999, "THB").contains("minimum") && refused(999, "THB").contains("THB 10.00"));
        assert!(refused(49, "JPY").contains("JPY 50"));
        assert_eq!((ok(1000, "THB"), ok(99_999_999, "USD")), (1000, 99_999_999));
        for (a, c) in [(0, "USD"), (-100, "USD"), (100_000_000, "USD")] {
            assert!(AMOUNTS.charge(m(a, c)).is_err());
        }
        // Refunds have no minimum.
        assert_eq!(AMOUNTS.refund(m(1, "THB")).unwrap(), 1);
        assert!(AMOUNTS.refund(m(5125, "KWD")).is_err());
        assert_eq!(money_from_stripe(100_000, "isk").unwrap(), m(1000, "ISK"));
        assert!(money_from_stripe(100_050, "isk").is_err());
        assert_eq!(money_from_stripe(5000, "mga").unwrap(), m(500_000, "MGA"));
        assert!(money_from_stripe(1, "xyz").is_err());
    }

    #[test]
    fn the_session_expiry_is_clamped_to_what_stripe_accepts() {
        let now = 1_700_000_000;
        assert_eq!(session_expires_at(now, 3600), now + 3600);
        assert_eq!(session_expires_at(now, 60), now + 1800 + 120);
        assert_eq!(session_expires_at(now, 7 * 86_400), now + 86_400 - 120);
    }

    #[test]
    fn a_snapshot_names_only_other_real_ids_of_the_payment() {
        let session = |pi: serde_json::Value| -> CheckoutSessionObject {
            serde_json::from_value(serde_json::json!({
                "id": "cs_1", "payment_status": "paid", "status": "complete",
                "amount_total": 5000, "currency": "thb", "payment_intent": pi,
            }))
            .unwrap()
        };
        let refs = |pi| session(pi).snapshot().unwrap().references;
        assert_eq!(refs(serde_json::json!("pi_1")), ["pi_1"]);
        // An expanded PaymentIntent with an empty id, or one naming the session itself, adds nothing.
        assert!(refs(serde_json::json!({"id": ""})).is_empty());
        assert!(refs(serde_json::json!({"id": "cs_1"})).is_empty());
    }

    #[test]
    fn empty_ids_name_no_payment_intent_or_charge() {
        let session = |pi: serde_json::Value| -> CheckoutSessionObject {
            serde_json::from_value(serde_json::json!({
                "id": "cs_1", "payment_status": "paid", "payment_intent": pi,
            }))
            .unwrap()
        };
        assert_eq!(
            session(serde_json::json!("pi_1")).payment_intent_id().as_deref(),
            Some("pi_1")
        );
        assert_eq!(session(serde_json::json!("")).payment_intent_id(), None);
        let charge = |c: serde_json::Value| {
            session(serde_json::json!({"id": "pi_1", "latest_charge": c}))
                .latest_charge()
                .unwrap()
                .0
        };
        assert_eq!(charge(serde_json::json!("ch_1")).as_deref(), Some("ch_1"));
        assert_eq!(charge(serde_json::json!("")), None);
    }

    #[test]
    fn the_same_checkout_asked_again_carries_the_same_expiry() {
        let mut request = payments_core::conformance::sample_checkout_request("pay_expiry");
        request.lifetime_secs = Some(3600);
        request.created_at = Some(payments_core::unix_now() - 5);
        let first = checkout_session_form(&request).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(checkout_session_form(&request).unwrap(), first);
        let at = |form: &[(String, String)]| {
            form.iter()
                .find(|(k, _)| k == "expires_at")
                .map(|(_, v)| v.parse::<i64>().unwrap())
        };
        assert_eq!(at(&first), Some(request.created_at.unwrap() + 3600));
        // Asked again long after the payment was created: never closer than Stripe allows.
        request.created_at = Some(payments_core::unix_now() - 3500);
        let late = checkout_session_form(&request).unwrap();
        assert!(at(&late).unwrap() >= payments_core::unix_now() + 1800);
    }

    #[test]
    fn success_url_keeps_query_and_fragment() {
        let cases = [
            (
                "http://h/thanks?payment=p1",
                "http://h/thanks?payment=p1&session_id={CHECKOUT_SESSION_ID}",
            ),
            (
                "http://h/thanks",
                "http://h/thanks?session_id={CHECKOUT_SESSION_ID}",
            ),
            (
                "http://h/t?a=1#top",
                "http://h/t?a=1&session_id={CHECKOUT_SESSION_ID}#top",
            ),
            (
                "http://h/t?s={CHECKOUT_SESSION_ID}",
                "http://h/t?s={CHECKOUT_SESSION_ID}",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(success_url_with_session_id(url), want);
        }
    }

    #[test]
    fn a_success_url_ending_in_a_separator_gets_no_second_one() {
        let cases = [
            ("http://h/t?", "http://h/t?session_id={CHECKOUT_SESSION_ID}"),
            (
                "http://h/t?a=1&",
                "http://h/t?a=1&session_id={CHECKOUT_SESSION_ID}",
            ),
            (
                "http://h/t?a=1&#top",
                "http://h/t?a=1&session_id={CHECKOUT_SESSION_ID}#top",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(success_url_with_session_id(url), want, "{url}");
        }
    }

    #[test]
    fn session_states_map_to_core_statuses() {
        let st = |s: &str, p: &str| {
            let v = serde_json::json!({"id": "cs_1", "status": s, "payment_status": p});
            serde_json::from_value::<CheckoutSessionObject>(v)
                .unwrap()
                .payment_status()
        };
        assert_eq!(st("open", "unpaid"), PaymentStatus::Pending);
        assert_eq!(st("complete", "paid"), PaymentStatus::Succeeded);
        assert_eq!(st("complete", "unpaid"), PaymentStatus::Pending);
        assert_eq!(st("expired", "unpaid"), PaymentStatus::Expired);
        assert_eq!(st("new", "new"), PaymentStatus::Pending);
    }
}
