//! Webhook bodies follow the API version set on the operator's endpoint in Stripe's dashboard,
//! not our pinned `Stripe-Version`: the same events as 2023-08-16 (our pin), a 2025 Basil, a
//! 2025 Clover and a 2026 Clover endpoint would send them must map the same. The bodies carry
//! what those versions put in a snapshot event (envelope with `request` and `pending_webhooks`,
//! `previous_attributes` on updates; a Charge without its `refunds` list, which is no longer
//! included; a Dispute with `payment_intent`, `enhanced_eligibility_types` and
//! `balance_transactions`; a Checkout Session with `payment_intent` set once it completes), with
//! fields this adapter does not read left as Stripe sends them, so an added field never breaks
//! parsing.

use payments_core::{Currency, EventKind, MinorUnits, Money, PaymentProvider, WebhookRequest};
use payments_stripe::testing::{sign_webhook, MockStripe};
use payments_stripe::SIGNATURE_HEADER;
use serde_json::{json, Value};

const VERSIONS: &[&str] = &[
    "2023-08-16",
    "2025-03-31.basil",
    "2025-09-30.clover",
    "2026-02-25.clover",
];

fn envelope(
    version: &str,
    id: &str,
    event_type: &str,
    object: Value,
    previous: Option<Value>,
    now: i64,
) -> Vec<u8> {
    let mut data = json!({ "object": object });
    if let Some(p) = previous {
        data["previous_attributes"] = p;
    }
    json!({
        "id": id,
        "object": "event",
        "api_version": version,
        "created": now,
        "data": data,
        "livemode": false,
        "pending_webhooks": 2,
        "request": { "id": "req_v8dWkZvYq3Lz1p", "idempotency_key": "2b7f4b1e-5d4c-4a7e-9d35-2f1f0d7d3c11" },
        "type": event_type,
    })
    .to_string()
    .into_bytes()
}

fn session(version: &str) -> Value {
    let mut s = json!({
        "id": "cs_test_a1Vv2", "object": "checkout.session", "adaptive_pricing": { "enabled": false },
        "after_expiration": null, "allow_promotion_codes": null, "amount_subtotal": 123_450,
        "amount_total": 123_450, "automatic_tax": { "enabled": false, "liability": null, "status": null },
        "billing_address_collection": null, "cancel_url": "https://portal.example/payments/cancel",
        "client_reference_id": "pay_ver", "created": 1_764_500_000, "currency": "thb",
        "customer": null, "customer_creation": "if_required",
        "customer_details": { "address": null, "email": "payer@example.com", "name": null, "phone": null,
            "tax_exempt": "none", "tax_ids": [] },
        "expires_at": 1_764_586_400, "livemode": false, "locale": null,
        "metadata": { "payment_id": "pay_ver", "receipt_id": "42" }, "mode": "payment",
        "payment_intent": "pi_3QvEr2", "payment_method_types": ["card"], "payment_status": "paid",
        "status": "complete", "success_url": "https://portal.example/payments/thanks?payment=pay_ver",
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 }, "ui_mode": "hosted",
        "url": null
    });
    if version > "2025" {
        // Fields of later versions (the adapter reads none of them).
        s["collected_information"] = json!({ "shipping_details": null });
        s["discounts"] = json!([]);
        s["permissions"] = json!(null);
        s["wallet_options"] = json!(null);
        s["presentment_details"] = json!({ "presentment_amount": 123_450, "presentment_currency": "thb" });
    }
    s
}

fn charge(version: &str, refunded: i64) -> Value {
    let mut c = json!({
        "id": "ch_3QvEr2", "object": "charge", "amount": 123_450, "amount_captured": 123_450,
        "amount_refunded": refunded, "balance_transaction": "txn_3QvEr2", "captured": true,
        "created": 1_764_500_100, "currency": "thb", "customer": null, "description": null,
        "disputed": false, "livemode": false, "metadata": {}, "paid": true,
        "payment_intent": "pi_3QvEr2", "payment_method": "pm_1QvEr2",
        "payment_method_details": { "card": { "brand": "visa", "last4": "4242" }, "type": "card" },
        "refunded": refunded == 123_450, "status": "succeeded"
    });
    if version < "2022-11-15" {
        c["refunds"] = json!({ "object": "list", "data": [], "has_more": false });
    }
    if version > "2025" {
        c["presentment_details"] = json!({ "presentment_amount": 123_450, "presentment_currency": "thb" });
    }
    c
}

fn dispute(version: &str) -> Value {
    let mut d = json!({
        "id": "du_1QvEr2", "object": "dispute", "amount": 123_450, "balance_transactions": [],
        "charge": "ch_3QvEr2", "created": 1_764_600_000, "currency": "thb",
        "evidence_details": { "due_by": 1_765_400_000, "has_evidence": false, "past_due": false,
            "submission_count": 0 },
        "is_charge_refundable": true, "livemode": false, "metadata": {},
        "payment_intent": "pi_3QvEr2", "reason": "fraudulent", "status": "warning_needs_response"
    });
    if version > "2025" {
        d["enhanced_eligibility_types"] = json!([]);
        d["payment_method_details"] =
            json!({ "card": { "brand": "visa", "network_reason_code": "10.4" }, "type": "card" });
    }
    d
}

#[tokio::test]
async fn events_of_every_api_version_map_the_same() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let thb = |a| Money::new(a, Currency::from_code("THB").unwrap());
    let now = payments_core::unix_now();
    let parse = |body: Vec<u8>| {
        let header = sign_webhook(mock.webhook_secret(), &body, now);
        WebhookRequest::new(vec![(SIGNATURE_HEADER.to_string(), header)], body, now)
    };
    for v in VERSIONS {
        let e = provider
            .parse_webhook(&parse(envelope(
                v,
                "evt_1",
                "checkout.session.completed",
                session(v),
                None,
                now,
            )))
            .await
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(e.kind, EventKind::PaymentSucceeded, "{v}");
        assert_eq!(
            (
                e.external_payment_id.as_deref(),
                e.payment_ref.as_deref(),
                e.amount
            ),
            (Some("cs_test_a1Vv2"), Some("pay_ver"), Some(thb(123_450))),
            "{v}"
        );
        assert!(
            e.references.contains(&"pi_3QvEr2".to_string()),
            "{v}: {:?}",
            e.references
        );

        // A partial refund: the charge's cumulative amount_refunded, matched by its PaymentIntent
        // and charge (the charge carries no metadata of ours).
        let previous = json!({ "amount_refunded": 0 });
        let e = provider
            .parse_webhook(&parse(envelope(
                v,
                "evt_2",
                "charge.refunded",
                charge(v, 23_450),
                Some(previous),
                now,
            )))
            .await
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(
            e.kind,
            EventKind::Refunded {
                amount: Some(MinorUnits(23_450))
            },
            "{v}"
        );
        assert_eq!(e.external_payment_id.as_deref(), Some("pi_3QvEr2"), "{v}");
        assert!(
            e.references.contains(&"ch_3QvEr2".to_string()),
            "{v}: {:?}",
            e.references
        );
        assert_eq!(e.payment_ref, None, "{v}");

        let e = provider
            .parse_webhook(&parse(envelope(
                v,
                "evt_3",
                "charge.dispute.created",
                dispute(v),
                None,
                now,
            )))
            .await
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(e.kind, EventKind::Disputed, "{v}");
        assert_eq!(e.external_payment_id.as_deref(), Some("pi_3QvEr2"), "{v}");
        assert_eq!(e.amount, Some(thb(123_450)), "{v}");
    }
    assert!(
        mock.received_requests().await.is_empty(),
        "webhooks make no calls"
    );
}
