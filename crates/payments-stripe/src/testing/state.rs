//! The mock Stripe's state and what its routes do with it: Checkout Sessions, the PaymentIntent
//! and charge behind a paid session, and refunds (stored with their metadata, listed newest
//! first, their `status` changeable by tests; a charge's `amount_refunded` counts the refunds
//! that are not failed or canceled, as Stripe's does).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{id_suffix, now, CHECKOUT_PAGE_PREFIX};

/// A PaymentIntent behind a paid session, and its one charge.
#[derive(Debug, Clone)]
pub(super) struct Intent {
    pub session: String,
    pub charge: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub sessions: BTreeMap<String, Value>,
    /// Session ids in creation order.
    pub created: Vec<String>,
    /// PaymentIntents by id.
    pub intents: BTreeMap<String, Intent>,
    /// `payment_intent_data[metadata]` of each session (its PaymentIntent's metadata).
    pub intent_metadata: BTreeMap<String, BTreeMap<String, String>>,
    /// Every refund, oldest first.
    pub refunds: Vec<Value>,
}

/// A Stripe error answer: status and `{"error": {...}}`.
pub(super) type Failure = (u16, Value);

pub(super) fn error(
    status: u16,
    error_type: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> Failure {
    let mut e = json!({ "type": error_type, "message": message });
    if let Some(c) = code {
        e["code"] = json!(c);
        e["doc_url"] = json!(format!(
            "https://stripe.com/docs/error-codes/{}",
            c.replace('_', "-")
        ));
    }
    if let Some(p) = param {
        e["param"] = json!(p);
    }
    (status, json!({ "error": e }))
}

fn invalid(code: &str, message: &str, param: Option<&str>) -> Failure {
    error(400, "invalid_request_error", Some(code), message, param)
}

fn missing(what: &str, id: &str, param: &str) -> Failure {
    error(
        404,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such {what}: '{id}'"),
        Some(param),
    )
}

pub(super) fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `prefix[name]=value` pairs as a map (`metadata[payment_id]` -> `payment_id`).
pub(super) fn sub_map(form: &[(String, String)], prefix: &str) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
                .filter(|r| !r.contains('['))
                .map(|name| (name.to_string(), v.clone()))
        })
        .collect()
}

/// Refund statuses whose amount is (or may still be) refunded: `failed` and `canceled` ones gave
/// the amount back.
fn counts(refund: &Value) -> bool {
    !matches!(refund["status"].as_str(), Some("failed" | "canceled"))
}

impl State {
    pub(super) fn create_session(&mut self, form: &[(String, String)], base: &str) -> (u16, Value) {
        let Some(success_url) = field(form, "success_url") else {
            return error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                "Missing required param: success_url.",
                Some("success_url"),
            );
        };
        let currency = field(form, "line_items[0][price_data][currency]");
        let unit_amount = field(form, "line_items[0][price_data][unit_amount]").map(str::parse::<i64>);
        let quantity = field(form, "line_items[0][quantity]")
            .unwrap_or("1")
            .parse::<i64>();
        let (Some(currency), Some(Ok(unit_amount)), Ok(quantity)) = (currency, unit_amount, quantity) else {
            return error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                "You must specify either `price` or `price_data` with `currency` and `unit_amount` in `line_items[0]`.",
                Some("line_items[0]"),
            );
        };
        if field(form, "line_items[0][price_data][product_data][name]").is_none_or(str::is_empty) {
            return error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                "Missing required param: line_items[0][price_data][product_data][name].",
                Some("line_items[0][price_data][product_data][name]"),
            );
        }
        let created = now();
        // Stripe: `expires_at` from 30 minutes to 24 hours after creation (default 24 hours).
        let expires_at = match field(form, "expires_at").map(str::parse::<i64>) {
            None => created + 86_400,
            Some(Ok(at)) if (created + 1800..=created + 86_400).contains(&at) => at,
            Some(_) => {
                return error(
                    400,
                    "invalid_request_error",
                    Some("parameter_invalid_integer"),
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                    Some("expires_at"),
                )
            }
        };
        let id = format!("cs_{}", id_suffix("test"));
        let total = unit_amount.saturating_mul(quantity);
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": { "enabled": false, "status": null },
            "billing_address_collection": null,
            "cancel_url": field(form, "cancel_url"),
            "client_reference_id": field(form, "client_reference_id"),
            "consent": null,
            "consent_collection": null,
            "created": created,
            "currency": currency.to_ascii_lowercase(),
            "custom_fields": [],
            "custom_text": { "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
            "customer": null,
            "customer_creation": "if_required",
            "customer_details": null,
            "customer_email": null,
            "expires_at": expires_at,
            "invoice": null,
            "livemode": false,
            "locale": null,
        });
        let more = json!({
            "metadata": sub_map(form, "metadata"),
            "mode": field(form, "mode").unwrap_or("payment"),
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "if_required",
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "phone_number_collection": { "enabled": false },
            "recovered_from": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_details": null,
            "shipping_options": [],
            "status": "open",
            "submit_type": null,
            "subscription": null,
            "success_url": success_url,
            "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
            "url": format!("{}{CHECKOUT_PAGE_PREFIX}{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0", base),
        });
        let mut session = session;
        if let (Some(a), Value::Object(b)) = (session.as_object_mut(), more) {
            a.extend(b);
        }
        self.intent_metadata
            .insert(id.clone(), sub_map(form, "payment_intent_data[metadata]"));
        self.created.push(id.clone());
        self.sessions.insert(id, session.clone());
        (200, session)
    }

    /// The session, its PaymentIntent expanded for `expand[]=payment_intent` (and the intent's
    /// latest charge for `expand[]=payment_intent.latest_charge`), as Stripe answers a `GET`.
    pub(super) fn get_session(&self, id: &str, expand: &[String]) -> Result<Value, Failure> {
        let mut session = self
            .sessions
            .get(id)
            .cloned()
            .ok_or_else(|| missing("checkout.session", id, "session"))?;
        if let Some(bad) = expand
            .iter()
            .find(|e| !matches!(e.as_str(), "payment_intent" | "payment_intent.latest_charge"))
        {
            return Err(invalid(
                "parameter_invalid_string",
                &format!("This property cannot be expanded ({bad})."),
                Some("expand"),
            ));
        }
        let pi = session["payment_intent"].as_str().map(str::to_string);
        if let Some(pi) = pi.filter(|_| !expand.is_empty()) {
            let with_charge = expand.iter().any(|e| e == "payment_intent.latest_charge");
            session["payment_intent"] = self.intent_json(&pi, with_charge).unwrap_or(Value::Null);
        }
        Ok(session)
    }

    /// `GET /v1/checkout/sessions?payment_intent=&limit=`: newest first, not expanded; the
    /// `payment_intent` filter keeps the session that created that PaymentIntent (an unknown
    /// PaymentIntent is `resource_missing`).
    pub(super) fn list_sessions(&self, query: &[(String, String)]) -> Result<Value, Failure> {
        let of = field(query, "payment_intent");
        if let Some(pi) = of {
            if !self.intents.contains_key(pi) {
                return Err(missing("payment_intent", pi, "payment_intent"));
            }
        }
        let limit = match field(query, "limit").map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => {
                return Err(invalid(
                    "parameter_invalid_integer",
                    "Invalid integer: limit must be between 1 and 100",
                    Some("limit"),
                ))
            }
        };
        let mut newest_first = self
            .created
            .iter()
            .rev()
            .filter_map(|id| self.sessions.get(id))
            .filter(|s| of.is_none_or(|pi| s["payment_intent"] == pi))
            .peekable();
        let data: Vec<Value> = newest_first.by_ref().take(limit).cloned().collect();
        let has_more = newest_first.peek().is_some();
        Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/checkout/sessions"}))
    }

    /// `GET /v1/charges/{id}`: the charge of a paid session's PaymentIntent.
    pub(super) fn get_charge(&self, id: &str) -> Result<Value, Failure> {
        self.intents
            .iter()
            .find(|(_, i)| i.charge == id)
            .and_then(|(pi, _)| self.charge_json(pi))
            .ok_or_else(|| missing("charge", id, "id"))
    }

    /// `POST /v1/checkout/sessions/{id}/expire`: only an `open` session can be expired.
    pub(super) fn expire(&mut self, id: &str) -> Result<Value, Failure> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| missing("checkout.session", id, "session"))?;
        if session["status"] != "open" {
            return Err(error(
                400,
                "invalid_request_error",
                None,
                &format!(
                    "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout \
                     Session has a status of {}.",
                    session["status"]
                ),
                None,
            ));
        }
        session["status"] = json!("expired");
        session["url"] = Value::Null;
        Ok(session.clone())
    }

    /// The PaymentIntent behind a session, PaymentIntent or charge id.
    pub(super) fn intent_id(&self, id: &str) -> Option<String> {
        if self.intents.contains_key(id) {
            return Some(id.to_string());
        }
        if let Some(pi) = self.sessions.get(id).and_then(|s| s["payment_intent"].as_str()) {
            return Some(pi.to_string());
        }
        self.intents
            .iter()
            .find(|(_, i)| i.charge == id)
            .map(|(pi, _)| pi.clone())
    }

    /// The PaymentIntent a `payment_intent=` or `charge=` parameter names.
    fn target(&self, param: &str, id: &str) -> Option<String> {
        match param {
            "charge" => self
                .intents
                .iter()
                .find(|(_, i)| i.charge == id)
                .map(|(pi, _)| pi.clone()),
            _ => self.intents.contains_key(id).then(|| id.to_string()),
        }
    }

    /// What the refunds of `pi` still count (Stripe units).
    pub(super) fn amount_refunded(&self, pi: &str) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r["payment_intent"] == pi && counts(r))
            .filter_map(|r| r["amount"].as_i64())
            .sum()
    }

    /// The charge of `pi` as Stripe reports it now.
    pub(super) fn charge_json(&self, pi: &str) -> Option<Value> {
        let i = self.intents.get(pi)?;
        let refunded = self.amount_refunded(pi);
        Some(json!({
            "id": i.charge, "object": "charge", "amount": i.amount, "amount_captured": i.amount,
            "amount_refunded": refunded, "captured": true, "created": now(), "currency": i.currency,
            "disputed": false, "failure_code": null, "failure_message": null, "livemode": false,
            "metadata": {}, "paid": true, "payment_intent": pi, "refunded": refunded >= i.amount,
            "status": "succeeded",
        }))
    }

    /// The PaymentIntent `pi`, its latest charge as an id or (`with_charge`) expanded.
    pub(super) fn intent_json(&self, pi: &str, with_charge: bool) -> Option<Value> {
        let i = self.intents.get(pi)?;
        let charge = if with_charge {
            self.charge_json(pi)?
        } else {
            json!(i.charge)
        };
        Some(json!({
            "id": pi, "object": "payment_intent", "amount": i.amount, "amount_received": i.amount,
            "currency": i.currency, "latest_charge": charge, "livemode": false,
            "metadata": self.intent_metadata.get(&i.session).cloned().unwrap_or_default(),
            "status": "succeeded",
        }))
    }

    /// `POST /v1/refunds` (also a refund made in the dashboard): of the `payment_intent` or
    /// `charge`, at most what is left, with the request's metadata.
    pub(super) fn refund(&mut self, form: &[(String, String)]) -> Result<Value, Failure> {
        let (param, id) = match (field(form, "payment_intent"), field(form, "charge")) {
            (Some(pi), _) => ("payment_intent", pi),
            (None, Some(ch)) => ("charge", ch),
            (None, None) => return Err(error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                "One of the following params should be provided for this request: payment_intent or charge.",
                None,
            )),
        };
        let pi = self.target(param, id).ok_or_else(|| missing(param, id, param))?;
        let intent = self.intents[&pi].clone();
        let left = intent.amount - self.amount_refunded(&pi);
        let currency = intent.currency.clone();
        if left <= 0 {
            return Err(invalid(
                "charge_already_refunded",
                &format!("Charge {} has already been refunded.", intent.charge),
                None,
            ));
        }
        let amount = match field(form, "amount").map(str::parse::<i64>) {
            None => left,
            Some(Ok(a)) if a > 0 && a <= left => a,
            Some(Ok(a)) if a > left => {
                return Err(invalid(
                    "amount_too_large",
                    &format!(
                        "Refund amount ({a} {currency}) is greater than unrefunded amount on charge ({left} {currency})"
                    ),
                    Some("amount"),
                ))
            }
            Some(_) => {
                return Err(invalid(
                    "parameter_invalid_integer",
                    "Invalid positive integer",
                    Some("amount"),
                ))
            }
        };
        let refund = json!({
            "id": format!("re_{}", id_suffix("test")),
            "object": "refund",
            "amount": amount,
            "balance_transaction": format!("txn_{}", id_suffix("test")),
            "charge": intent.charge,
            "created": now(),
            "currency": currency,
            "failure_reason": null,
            "metadata": sub_map(form, "metadata"),
            "payment_intent": pi,
            "reason": field(form, "reason"),
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null,
        });
        self.refunds.push(refund.clone());
        Ok(refund)
    }

    /// `GET /v1/refunds?payment_intent=|charge=&limit=&starting_after=`: newest first.
    pub(super) fn list_refunds(&self, query: &[(String, String)]) -> Result<Value, Failure> {
        let mut of = None;
        for param in ["payment_intent", "charge"] {
            if let Some(id) = field(query, param) {
                of = Some(self.target(param, id).ok_or_else(|| missing(param, id, param))?);
            }
        }
        let limit = match field(query, "limit").map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => {
                return Err(invalid(
                    "parameter_invalid_integer",
                    "Invalid integer: limit must be between 1 and 100",
                    Some("limit"),
                ))
            }
        };
        let mut newest_first = self
            .refunds
            .iter()
            .rev()
            .filter(|r| of.as_ref().is_none_or(|pi| r["payment_intent"] == pi.as_str()))
            .peekable();
        if let Some(after) = field(query, "starting_after") {
            if !self.refunds.iter().any(|r| r["id"] == after) {
                return Err(missing("refund", after, "starting_after"));
            }
            for r in newest_first.by_ref() {
                if r["id"] == after {
                    break;
                }
            }
        }
        let data: Vec<Value> = newest_first.by_ref().take(limit).cloned().collect();
        let has_more = newest_first.peek().is_some();
        Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/refunds"}))
    }

    /// Moves a refund to `status` (`failed`: with a `failure_reason`; its amount no longer counts
    /// in the charge's `amount_refunded`).
    pub(super) fn set_refund_status(&mut self, refund_id: &str, status: &str) -> Option<Value> {
        let refund = self.refunds.iter_mut().find(|r| r["id"] == refund_id)?;
        refund["status"] = json!(status);
        refund["failure_reason"] = if status == "failed" {
            json!("expired_or_canceled_card")
        } else {
            Value::Null
        };
        Some(refund.clone())
    }
}
