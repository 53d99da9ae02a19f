//! PayPal wire types, status mapping and amount conversion.

use payments_core::{
    AmountRules, ExponentOverrides, MinorUnits, Money, PaymentStatus, ProviderError, ProviderRefund,
};
use serde::{Deserialize, Serialize};

use crate::PROVIDER;

/// Where PayPal departs from ISO 4217: these currencies take no decimals ("decimal amounts
/// cause an error"). JPY has none in ISO either; it is listed for clarity.
pub const PAYPAL_EXPONENTS: ExponentOverrides = ExponentOverrides::new(&[("HUF", 0), ("JPY", 0), ("TWD", 0)]);

/// PayPal's amount rules: its decimals, at most 15 integer digits.
pub const AMOUNTS: AmountRules = AmountRules::new("PayPal", PAYPAL_EXPONENTS);

/// PayPal's `money` object: ISO code and a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountWire {
    pub currency_code: String,
    pub value: String,
}

impl AmountWire {
    /// `money` as PayPal writes it (`THB 1,234.50` → `"1234.50"`, `HUF 12.00` → `"12"`).
    /// Refuses non-positive amounts, amounts PayPal cannot represent (`HUF 12.50`) and more
    /// than 15 integer digits.
    pub fn from_money(money: Money) -> Result<AmountWire, ProviderError> {
        let value = AMOUNTS.decimal(money)?;
        if value.split('.').next().map_or(0, str::len) > 15 {
            return Err(ProviderError::AmountRefused(format!(
                "{money} exceeds PayPal's 15 integer digits"
            )));
        }
        Ok(AmountWire {
            currency_code: money.currency.code().to_string(),
            value,
        })
    }

    /// Back into ISO minor units, exactly; refuses more decimals than PayPal uses for the
    /// currency, negative values and unknown currencies.
    pub fn to_money(&self) -> Result<Money, String> {
        AMOUNTS.parse_decimal(&self.value, &self.currency_code)
    }
}

/// Cuts `s` to at most `max` characters (PayPal counts characters, limits are 127).
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The invoice id for one of our payments: `receipt-<id>-<payment id>`, at most 127 characters.
pub fn invoice_id(receipt_id: i64, payment_ref: &str) -> String {
    truncate_chars(&format!("receipt-{receipt_id}-{payment_ref}"), 127)
}

// ---------------------------------------------------------------- orders (response)

/// A HATEOAS link; PayPal's samples hold links without `rel` (or `href`): they are kept, unused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Link {
    #[serde(default)]
    pub href: String,
    #[serde(default)]
    pub rel: String,
}

/// The parts of an order we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub purchase_units: Vec<PurchaseUnit>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PurchaseUnit {
    pub custom_id: Option<String>,
    pub invoice_id: Option<String>,
    pub amount: Option<AmountWire>,
    pub payments: Option<PaymentCollection>,
}

/// `purchase_units[].payments`: the captures and, once there are any, the refunds.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentCollection {
    #[serde(default)]
    pub captures: Vec<Capture>,
    /// `None` when the answer has no `refunds` member.
    pub refunds: Option<Vec<RefundWire>>,
}

/// A capture, as nested in an order and as the resource of `PAYMENT.CAPTURE.*` webhooks.
#[derive(Debug, Clone, Deserialize)]
pub struct Capture {
    pub id: String,
    pub status: String,
    pub amount: Option<AmountWire>,
    pub custom_id: Option<String>,
    pub supplementary_data: Option<SupplementaryData>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SupplementaryData {
    pub related_ids: Option<RelatedIds>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RelatedIds {
    pub order_id: Option<String>,
}

/// An order's own status (`CREATED | SAVED | APPROVED | VOIDED | COMPLETED |
/// PAYER_ACTION_REQUIRED`), before looking at captures: a `COMPLETED` order says nothing about
/// the money ([`Order::payment_status`] reads the capture), and an unknown one is pending.
pub fn order_status(status: &str) -> PaymentStatus {
    match status {
        "APPROVED" => PaymentStatus::RequiresCapture,
        "VOIDED" => PaymentStatus::Canceled,
        _ => PaymentStatus::Pending,
    }
}

/// A capture's status (`COMPLETED | DECLINED | PENDING | PARTIALLY_REFUNDED | REFUNDED |
/// FAILED`); partially refunded is still a received payment (refunds are tracked separately).
pub fn capture_status(status: &str) -> PaymentStatus {
    match status {
        "COMPLETED" | "PARTIALLY_REFUNDED" => PaymentStatus::Succeeded,
        "DECLINED" | "FAILED" => PaymentStatus::Failed,
        "REFUNDED" => PaymentStatus::Refunded,
        _ => PaymentStatus::Pending,
    }
}

impl Order {
    /// The link the payer is sent to: `payer-action`, else `approve`.
    pub fn payer_link(&self) -> Option<&str> {
        ["payer-action", "approve"].iter().find_map(|rel| {
            self.links
                .iter()
                .find(|l| l.rel.eq_ignore_ascii_case(rel))
                .map(|l| l.href.as_str())
        })
    }

    /// The capture that decides the payment: one that moved money (completed or refunded)
    /// wins over a pending one, which wins over the last declined/failed attempt.
    pub fn decisive_capture(&self) -> Option<&Capture> {
        let captures = || {
            self.purchase_units
                .iter()
                .filter_map(|pu| pu.payments.as_ref())
                .flat_map(|p| p.captures.iter())
        };
        let rank = |c: &Capture| match capture_status(&c.status) {
            PaymentStatus::Succeeded | PaymentStatus::Refunded => 0,
            PaymentStatus::Pending => 1,
            _ => 2,
        };
        (0..=2).find_map(|r| captures().rfind(|c| rank(c) == r))
    }

    /// The payment status: from the capture when there is one, else from the order.
    pub fn payment_status(&self) -> PaymentStatus {
        match self.decisive_capture() {
            Some(c) => capture_status(&c.status),
            None => order_status(&self.status),
        }
    }

    /// The captured amount when captured, else the purchase unit's amount.
    pub fn amount(&self) -> Result<Option<Money>, String> {
        let wire = self
            .decisive_capture()
            .and_then(|c| c.amount.as_ref())
            .or_else(|| self.purchase_units.first().and_then(|pu| pu.amount.as_ref()));
        wire.map(AmountWire::to_money).transpose()
    }

    /// Our payment id (`custom_id`), from the purchase unit or the capture.
    pub fn custom_id(&self) -> Option<String> {
        self.purchase_units
            .iter()
            .find_map(|pu| pu.custom_id.clone())
            .or_else(|| self.decisive_capture().and_then(|c| c.custom_id.clone()))
    }

    fn collections(&self) -> impl Iterator<Item = &PaymentCollection> {
        self.purchase_units.iter().filter_map(|pu| pu.payments.as_ref())
    }

    /// The ids of the order's captures (one per capture attempt): a dispute or a refund made in
    /// PayPal's dashboard names only the capture.
    pub fn capture_ids(&self) -> Vec<String> {
        let ids = self
            .collections()
            .flat_map(|p| p.captures.iter())
            .map(|c| c.id.clone());
        let mut ids: Vec<String> = ids.filter(|id| !id.trim().is_empty()).collect();
        ids.dedup();
        ids
    }

    /// Every refund of the order (`purchase_units[].payments.refunds[]`); `None` when the
    /// answer lists no refunds at all.
    pub fn refunds(&self) -> Option<Vec<&RefundWire>> {
        let mut lists = self.collections().filter_map(|p| p.refunds.as_ref()).peekable();
        lists.peek()?;
        Some(lists.flatten().collect())
    }

    /// Everything refunded so far: the sum of the `COMPLETED` refunds, in the payment's
    /// currency; `None` when the order lists no refunds.
    pub fn refunded(&self, currency: Option<payments_core::Currency>) -> Result<Option<MinorUnits>, String> {
        let Some(refunds) = self.refunds() else {
            return Ok(None);
        };
        let mut total: i64 = 0;
        for refund in refunds.into_iter().filter(|r| r.status == "COMPLETED") {
            let money = refund
                .money()?
                .ok_or_else(|| format!("refund {} has no amount", refund.id))?;
            if currency.is_some_and(|c| c != money.currency) {
                return Err(format!(
                    "refund {} is in {}, not the payment's currency",
                    refund.id, money.currency
                ));
            }
            total = total
                .checked_add(money.amount.get())
                .ok_or_else(|| format!("the refunds of order {} overflow", self.id))?;
        }
        Ok(Some(MinorUnits(total)))
    }

    /// What PayPal says about the payment now: status and amount from the capture, the capture
    /// ids as references, and the completed refunds' total.
    pub fn snapshot(&self) -> Result<payments_core::PaymentSnapshot, ProviderError> {
        let bad = |e: String| ProviderError::unexpected(PROVIDER, format!("order {}: {e}", self.id));
        let amount = self.amount().map_err(bad)?;
        let refunded = self.refunded(amount.map(|m| m.currency)).map_err(bad)?;
        Ok(payments_core::PaymentSnapshot {
            external_id: self.id.clone(),
            status: self.payment_status(),
            amount,
            payment_ref: self.custom_id(),
            references: self.capture_ids(),
            refunded,
        })
    }
}

// ---------------------------------------------------------------- refunds

/// A refund: the answer to a refund request, and an entry of an order's
/// `purchase_units[].payments.refunds` (`COMPLETED | PENDING | FAILED | CANCELLED`). `custom_id`
/// is our [`refund_marker`](payments_core::refund_marker) on the refunds the adapter made.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundWire {
    pub id: String,
    pub status: String,
    pub amount: Option<AmountWire>,
    pub custom_id: Option<String>,
}

impl RefundWire {
    /// Its amount in ISO minor units (PayPal's decimals read back exactly).
    pub fn money(&self) -> Result<Option<Money>, String> {
        let money = self.amount.as_ref().map(AmountWire::to_money).transpose();
        money.map_err(|e| format!("refund {}: {e}", self.id))
    }

    /// As the core's listed refund, with our marker read back from `custom_id`.
    pub fn listed(&self) -> Result<ProviderRefund, String> {
        Ok(ProviderRefund {
            refund_id: self.id.clone(),
            amount: self.money()?.map(|m| m.amount),
            status: self.status.clone(),
            marker: self.custom_id.clone().filter(|c| !c.is_empty()),
        })
    }
}

/// The longest `custom_id` PayPal takes on a refund (`maxLength` in its Payments v2
/// description; pattern `^[A-Za-z0-9-_.,]*$`, which every refund marker fits) and on a purchase
/// unit (Orders v2 `purchase_unit_request.custom_id`, 1 to 127 characters).
pub const MAX_CUSTOM_ID: usize = 127;

/// Whether a refund resource's `custom_id` is one of our refund markers
/// (`refund_marker(idempotency_key(payment, "refund", n))` = `pay.<payment>.refund.<n>`) rather
/// than our payment id (`pay_...`, which has no `.`).
pub fn is_refund_marker(custom_id: &str) -> bool {
    custom_id.starts_with("pay.") && custom_id.contains(".refund.")
}

// ---------------------------------------------------------------- errors

/// One entry of PayPal's error `details`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PayPalErrorDetail {
    pub field: Option<String>,
    pub value: Option<String>,
    pub location: Option<String>,
    pub issue: Option<String>,
    pub description: Option<String>,
}

/// PayPal's error JSON: `{name, message, debug_id, details[]}` (REST APIs) or
/// `{error, error_description}` (the OAuth2 endpoint and some 401s).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PayPalError {
    pub name: Option<String>,
    pub message: Option<String>,
    pub debug_id: Option<String>,
    #[serde(default)]
    pub details: Vec<PayPalErrorDetail>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl PayPalError {
    /// The most specific code: the first detail's `issue` (`ORDER_NOT_APPROVED`), else `name`
    /// (`UNPROCESSABLE_ENTITY`), else the OAuth2 `error`.
    pub fn code(&self) -> Option<String> {
        self.details
            .iter()
            .find_map(|d| d.issue.clone())
            .or_else(|| self.name.clone())
            .or_else(|| self.error.clone())
    }

    /// `NAME: message [ISSUE: description (field); ...] (debug_id X)`.
    pub fn describe(&self) -> String {
        let name = self
            .name
            .as_ref()
            .or(self.error.as_ref())
            .map(|n| format!("{n}: "));
        let message = self.message.as_ref().or(self.error_description.as_ref());
        let detail = |d: &PayPalErrorDetail| {
            let description = d.description.as_ref().map(|x| format!(": {x}"));
            let field = d.field.as_ref().map(|f| format!(" ({f})"));
            [d.issue.clone(), description, field]
                .into_iter()
                .flatten()
                .collect::<String>()
        };
        let details: Vec<String> = self.details.iter().map(detail).collect();
        let details = (!details.is_empty()).then(|| format!(" [{}]", details.join("; ")));
        let debug_id = self.debug_id.as_ref().map(|id| format!(" (debug_id {id})"));
        let message = Some(message.map_or("(no message)", |m| m.as_str()).to_string());
        [name, message, details, debug_id].into_iter().flatten().collect()
    }

    /// Parses an error body; a body that is not PayPal's JSON is kept as the message.
    pub fn parse(body: &[u8]) -> PayPalError {
        serde_json::from_slice::<PayPalError>(body).unwrap_or_else(|_| PayPalError {
            message: Some(truncate_chars(&String::from_utf8_lossy(body), 300)),
            ..PayPalError::default()
        })
    }

    /// As the core's typed error.
    pub fn into_provider_error(self, status: u16) -> ProviderError {
        ProviderError::Api {
            provider: PROVIDER,
            status,
            code: self.code(),
            message: self.describe(),
        }
    }
}

#[cfg(test)]
mod marker_tests {
    #[test]
    fn refund_markers_are_told_from_payment_ids() {
        assert!(super::is_refund_marker("pay.pay_07.refund.1"));
        // Our payment id, and ids that have only one of the two parts, are not markers.
        assert!(!super::is_refund_marker("pay_07"));
        assert!(!super::is_refund_marker("pay.pay_07"));
        assert!(!super::is_refund_marker("order.refund.1"));
    }
}
