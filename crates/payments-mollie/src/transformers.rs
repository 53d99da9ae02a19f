//! Mollie's wire types (docs/providers/mollie.md) and their mapping into the core's types.

use payments_core::wire::{is_provider_id, link, metadata, DecimalAmount};
use payments_core::{
    AmountRules, EventKind, ExponentOverrides, MinorUnits, Money, PaymentStatus, ProviderRefund,
    REFUND_MARKER_KEY,
};
use serde::Deserialize;

/// Mollie's payment currencies; its decimals are ISO 4217's (JPY and ISK without).
pub const AMOUNTS: AmountRules = AmountRules {
    currencies: &[
        "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "ISK",
        "JPY", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SEK", "SGD", "THB", "TWD", "USD", "ZAR",
    ],
    ..AmountRules::new("Mollie", ExponentOverrides::NONE)
};

/// A payment as Mollie reports it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MolliePayment {
    pub id: String,
    pub status: String,
    pub amount: DecimalAmount,
    pub amount_refunded: Option<DecimalAmount>,
    /// "The remaining amount that can be refunded": with Mollie's over-refunding (up to
    /// EUR 25.00 more than the payment, for most methods) it can exceed what is left of `amount`.
    pub amount_remaining: Option<DecimalAmount>,
    pub amount_charged_back: Option<DecimalAmount>,
    #[serde(default)]
    pub metadata: serde_json::Value,
    #[serde(rename = "_links", default)]
    pub links: serde_json::Value,
}

/// A refund as Mollie reports it (`queued`, `pending`, `processing`, `refunded`, `failed`,
/// `canceled`); `metadata` holds our [`REFUND_MARKER_KEY`] on the refunds the adapter made.
#[derive(Debug, Deserialize)]
pub struct MollieRefund {
    pub id: String,
    pub status: String,
    pub amount: DecimalAmount,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

impl MollieRefund {
    /// As the core's listed refund: its own amount (exactly, in Mollie's decimals) and status,
    /// and our marker read back from `metadata`.
    pub fn listed(self) -> Result<ProviderRefund, String> {
        let amount = self
            .amount
            .money(&AMOUNTS)
            .map_err(|e| format!("refund {}: {e}", self.id))?;
        Ok(ProviderRefund {
            marker: metadata(&self.metadata, REFUND_MARKER_KEY),
            amount: Some(amount.amount),
            status: self.status,
            refund_id: self.id,
        })
    }
}

/// One page of `GET /v2/payments/{id}/refunds` (HAL: `_embedded.refunds`, `_links.next`).
#[derive(Debug, Deserialize)]
pub struct RefundPage {
    #[serde(rename = "_embedded", default)]
    pub embedded: RefundsEmbedded,
    #[serde(rename = "_links", default)]
    pub links: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
pub struct RefundsEmbedded {
    #[serde(default)]
    pub refunds: Vec<MollieRefund>,
}

/// The most refunds Mollie lists on one page.
pub const REFUND_PAGE_LIMIT: usize = 250;

impl RefundPage {
    /// The `from` of the next page (`_links.next.href`'s `from=re_...`), when there is one.
    /// Only the refund id is taken from the link: the next request goes to our own API base.
    pub fn next_from(&self) -> Result<Option<String>, String> {
        let Some(href) = link(&self.links, "next") else {
            return Ok(None);
        };
        let query = href.split_once('?').map_or("", |(_, q)| q);
        let query = query.split('#').next().unwrap_or_default();
        let from = query.split('&').find_map(|pair| pair.strip_prefix("from="));
        match from {
            // A refund id is letters, digits and `_`: nothing to percent-decode.
            Some(id) if is_provider_id(id, "re_") => Ok(Some(id.to_string())),
            _ => Err(format!(
                "the next page link {href:?} names no refund to start from"
            )),
        }
    }
}

/// Mollie's payment status as the core's: `open`, `pending` and any status Mollie adds later
/// are pending; a refunded or charged-back payment stays `paid` (see [`MolliePayment::event_kind`]).
pub fn payment_status(status: &str) -> PaymentStatus {
    match status {
        "paid" => PaymentStatus::Succeeded,
        "authorized" => PaymentStatus::RequiresCapture,
        "failed" => PaymentStatus::Failed,
        "expired" => PaymentStatus::Expired,
        "canceled" => PaymentStatus::Canceled,
        _ => PaymentStatus::Pending,
    }
}

impl MolliePayment {
    pub fn money(&self) -> Result<Money, String> {
        self.amount.money(&AMOUNTS)
    }

    /// Our payment id from `metadata` (an object, or the same as a JSON string).
    pub fn payment_ref(&self) -> Option<String> {
        metadata(&self.metadata, "payment_ref")
    }

    /// Mollie's cumulative `amountRefunded`, as reported (`None` when the payment has none).
    pub fn refunded(&self) -> Result<Option<MinorUnits>, String> {
        let money = self
            .amount_refunded
            .as_ref()
            .map(|a| a.money(&AMOUNTS))
            .transpose()?;
        Ok(money.map(|m| m.amount))
    }

    /// What is left of the payment to refund ("refund everything"): its `amount` less
    /// `amountRefunded` (the total already refunded), and never more than `amountRemaining`
    /// when Mollie states it. Not `amountRemaining` alone: "most payment methods ... support
    /// over refunding, where you can refund an additional EUR 25.00 more than the original
    /// payment's amount" (https://docs.mollie.com/payments/refunds), so it may exceed what the
    /// customer paid. Nor the whole `amount`: after a partial refund that would refund twice.
    /// `None` when nothing is left.
    pub fn unrefunded(&self) -> Result<Option<Money>, String> {
        let amount = self.money()?;
        let refunded = Self::total(&self.amount_refunded)?.unwrap_or(0);
        let mut left = amount.amount.0 - refunded;
        if let Some(remaining) = &self.amount_remaining {
            let remaining = remaining.money(&AMOUNTS)?;
            if remaining.currency != amount.currency {
                return Err(format!(
                    "payment {}: amountRemaining is {remaining}, the payment is in {}",
                    self.id,
                    amount.currency.code()
                ));
            }
            left = left.min(remaining.amount.0);
        }
        Ok((left > 0).then(|| Money::new(left, amount.currency)))
    }

    /// The cumulative amount refunded or charged back, when positive.
    fn total(amount: &Option<DecimalAmount>) -> Result<Option<i64>, String> {
        let money = amount.as_ref().map(|a| a.money(&AMOUNTS)).transpose()?;
        Ok(money.map(|m| m.amount.0).filter(|units| *units > 0))
    }

    /// What the payment's state means. A refunded or charged-back payment stays `paid` at
    /// Mollie: the cumulative `amountRefunded` / `amountChargedBack` tell.
    pub fn event_kind(&self) -> Result<EventKind, String> {
        let refunded = Self::total(&self.amount_refunded)?.map(MinorUnits);
        let charged_back = Self::total(&self.amount_charged_back)?.is_some();
        let status = payment_status(&self.status);
        Ok(EventKind::from_state(status, refunded, charged_back))
    }

    /// `fetch_payment`'s status: fully refunded is `Refunded` (Mollie keeps `paid`).
    pub fn status(&self) -> Result<PaymentStatus, String> {
        let refunded = Self::total(&self.amount_refunded)?.unwrap_or(0);
        Ok(payment_status(&self.status).after_refunds(self.money()?.amount.0, refunded))
    }

    /// This state of the payment as an event id: Mollie's webhook carries none, so the same
    /// state re-delivered is one event, and each new state (refund, chargeback) a new one.
    pub fn state_id(&self) -> String {
        let value = |a: &Option<DecimalAmount>| a.as_ref().map_or("0", |a| a.value.as_str()).to_string();
        let (refunded, charged_back) = (value(&self.amount_refunded), value(&self.amount_charged_back));
        format!("{}:{}:r{refunded}:c{charged_back}", self.id, self.status)
    }
}
