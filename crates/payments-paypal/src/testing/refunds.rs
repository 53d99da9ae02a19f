//! The mock's refunds: `POST /v2/payments/captures/{id}/refund` (the request's `custom_id` kept,
//! as PayPal does), the refunds listed in the order's `purchase_units[].payments.refunds`, and the
//! tests' levers: a refund made in PayPal's dashboard and a refund moved to another status.

use payments_core::mock::Reply;
use payments_core::{Money, RefundState};
use serde_json::{json, Value};

use super::{error_json, not_found, unprocessable, MockCapture, State};
use crate::transformers::{AmountWire, MAX_CUSTOM_ID};

/// One refund of a capture as the mock holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockRefund {
    pub id: String,
    /// PayPal's refund status: `COMPLETED`, `PENDING`, `FAILED`, `CANCELLED`.
    pub status: String,
    pub amount: AmountWire,
    /// The request's `custom_id` (our refund marker); `None` for a dashboard refund.
    pub custom_id: Option<String>,
}

impl MockRefund {
    /// The refund as PayPal shows it (in a refund answer and in the order).
    pub fn json(&self, uri: &str, capture_id: &str) -> Value {
        let mut value = json!({
            "id": self.id,
            "status": self.status,
            "amount": self.amount,
            "create_time": "2024-05-01T10:05:00Z",
            "update_time": "2024-05-01T10:05:00Z",
            "links": [
                {"href": format!("{uri}/v2/payments/refunds/{}", self.id), "rel": "self", "method": "GET"},
                {"href": format!("{uri}/v2/payments/captures/{capture_id}"), "rel": "up", "method": "GET"},
            ],
        });
        if let Some(custom_id) = &self.custom_id {
            value["custom_id"] = json!(custom_id);
        }
        value
    }
}

/// A failed or cancelled refund gave nothing back: it no longer counts against the capture.
fn is_void(status: &str) -> bool {
    RefundState::from_provider(status).is_void()
}

impl MockCapture {
    /// Minor units refunded or being refunded (every refund that is not void).
    pub fn refunded(&self) -> i64 {
        let live = self.refunds.iter().filter(|r| !is_void(&r.status));
        live.filter_map(|r| r.amount.to_money().ok())
            .map(|m| m.amount.get())
            .sum()
    }

    /// The capture's status after its refunds: `REFUNDED` when nothing remains,
    /// `PARTIALLY_REFUNDED` when some was refunded, else `COMPLETED` again.
    fn settle(&mut self) {
        if !matches!(
            self.status.as_str(),
            "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED"
        ) {
            return;
        }
        let captured = self.amount.to_money().map_or(0, |m| m.amount.get());
        self.status = match self.refunded() {
            0 => "COMPLETED",
            r if r >= captured => "REFUNDED",
            _ => "PARTIALLY_REFUNDED",
        }
        .into();
    }
}

/// What the next refund request asks: `amount` (none: what remains) and `custom_id`.
fn asked(body: &Value, captured: Money, remaining: i64) -> Result<(Money, Option<String>), Reply> {
    let invalid = |field: &str| {
        error_json(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            Some(("INVALID_PARAMETER_SYNTAX", field)),
        )
    };
    let custom_id = match body.get("custom_id") {
        None => None,
        Some(Value::String(c))
            if (1..=MAX_CUSTOM_ID).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.,".contains(&b)) =>
        {
            Some(c.clone())
        }
        Some(_) => return Err(invalid("custom_id")),
    };
    let amount = match body.get("amount") {
        None => Money::new(remaining, captured.currency),
        Some(a) => {
            let wire: AmountWire = serde_json::from_value(a.clone()).map_err(|_| invalid("amount"))?;
            let m = wire
                .to_money()
                .map_err(|_| unprocessable("DECIMAL_PRECISION", "The amount has too many decimals."))?;
            if m.currency != captured.currency {
                return Err(unprocessable(
                    "REFUND_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture.",
                ));
            }
            m
        }
    };
    Ok((amount, custom_id))
}

/// `POST /v2/payments/captures/{capture_id}/refund`.
pub fn refund(st: &mut State, capture_id: &str, body: &Value) -> Result<(u16, Value), Reply> {
    let refund_id = st.next_id("1R");
    let uri = st.uri.clone();
    let Some(cap) = st.capture_mut(capture_id) else {
        return Err(not_found(capture_id));
    };
    if cap.status != "COMPLETED" && cap.status != "PARTIALLY_REFUNDED" {
        return Err(unprocessable(
            "CAPTURE_FULLY_REFUNDED",
            "The capture has already been fully refunded or was not completed.",
        ));
    }
    let captured = cap.amount.to_money().map_err(|_| not_found(capture_id))?;
    let remaining = captured.amount.get() - cap.refunded();
    let (amount, custom_id) = asked(body, captured, remaining)?;
    if !amount.amount.is_positive() || amount.amount.get() > remaining {
        return Err(unprocessable("REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture amount that has not yet been refunded."));
    }
    let wire = AmountWire::from_money(amount).map_err(|_| unprocessable("DECIMAL_PRECISION", "amount"))?;
    let refund = MockRefund {
        id: refund_id,
        status: "COMPLETED".into(),
        amount: wire,
        custom_id,
    };
    let value = refund.json(&uri, capture_id);
    cap.refunds.push(refund);
    cap.settle();
    st.refunds.push(value.clone());
    Ok((201, value))
}

impl State {
    fn capture_mut(&mut self, capture_id: &str) -> Option<&mut MockCapture> {
        let mut captures = self.orders.iter_mut().filter_map(|o| o.capture.as_mut());
        captures.find(|c| c.id == capture_id)
    }

    /// A refund of `units` of order `order_id`'s capture made in PayPal's dashboard (no
    /// `custom_id`), with `status`; `None` when the order has no capture.
    pub fn dashboard_refund(&mut self, order_id: &str, units: i64, status: &str) -> Option<String> {
        let refund_id = self.next_id("1R");
        let cap = self.order_mut(order_id)?.capture.as_mut()?;
        let currency = cap.amount.to_money().ok()?.currency;
        let amount = AmountWire::from_money(Money::new(units, currency)).ok()?;
        cap.refunds.push(MockRefund {
            id: refund_id.clone(),
            status: status.into(),
            amount,
            custom_id: None,
        });
        cap.settle();
        Some(refund_id)
    }

    /// Moves refund `refund_id` to `status`; the capture's status follows. False if unknown.
    pub fn set_refund_status(&mut self, refund_id: &str, status: &str) -> bool {
        let captures = self.orders.iter_mut().filter_map(|o| o.capture.as_mut());
        for cap in captures {
            if let Some(r) = cap.refunds.iter_mut().find(|r| r.id == refund_id) {
                r.status = status.into();
                cap.settle();
                return true;
            }
        }
        false
    }
}
