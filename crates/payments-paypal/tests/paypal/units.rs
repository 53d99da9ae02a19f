//! Unit-level checks of the adapter's pieces (config, amounts, the verify request), moved out of
//! `src/` so the adapter's source holds only the adapter.

mod config {
    use payments_paypal::config::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_to_the_sandbox_and_hides_the_secret() {
        let c = PayPalConfig::from_lookup(&lookup(&[
            ("PAYPAL_CLIENT_ID", "cid"),
            ("PAYPAL_CLIENT_SECRET", "very-secret"),
            ("PAYPAL_WEBHOOK_ID", "4JH86294D6297924G"),
        ]))
        .unwrap();
        assert_eq!(c.api_base, SANDBOX_API_BASE);
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let e = PayPalConfig::from_lookup(&lookup(&[("PAYPAL_CLIENT_ID", "cid")])).unwrap_err();
        assert!(e.to_string().contains("PAYPAL_CLIENT_SECRET"), "{e}");
        let e = PayPalConfig::from_lookup(&lookup(&[
            ("PAYPAL_CLIENT_ID", "cid"),
            ("PAYPAL_CLIENT_SECRET", "s"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("PAYPAL_WEBHOOK_ID"), "{e}");
        for base in [
            "http://api-m.paypal.com",
            "ftp://x",
            "https://api-m.paypal.com/v2",
            "nope",
        ] {
            let e = PayPalConfig::new(base, "c", "s", "WH1").unwrap_err();
            assert!(e.to_string().contains("PAYPAL_API_BASE"), "{base}: {e}");
        }
        let e = PayPalConfig::new(LIVE_API_BASE, "c", "s", "WH-1").unwrap_err();
        assert!(e.to_string().contains("PAYPAL_WEBHOOK_ID"), "{e}");
        let local = PayPalConfig::new("http://127.0.0.1:9/", "c", "s", "WH1").unwrap();
        assert_eq!(local.api_base, "http://127.0.0.1:9");
    }
}

mod amounts {
    use payments_core::{Money, ProviderError};
    use payments_paypal::transformers::AmountWire;

    use payments_core::Currency;

    fn m(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::from_code(code).unwrap())
    }

    #[test]
    fn amounts_use_paypal_decimals() {
        let value = |a, c| AmountWire::from_money(m(a, c)).map(|w| w.value);
        assert_eq!(value(123_450, "THB").unwrap(), "1234.50");
        assert_eq!(
            (value(1200, "HUF").unwrap(), value(1200, "TWD").unwrap()),
            ("12".into(), "12".into())
        );
        assert_eq!(
            (value(1235, "JPY").unwrap(), value(5, "USD").unwrap()),
            ("1235".into(), "0.05".into())
        );
        for (a, c) in [(1250, "HUF"), (1, "TWD"), (0, "THB"), (-100, "THB")] {
            assert!(
                matches!(value(a, c), Err(ProviderError::AmountRefused(_))),
                "{a} {c} must be refused"
            );
        }
        let back = |v: &str, c: &str| {
            AmountWire {
                currency_code: c.into(),
                value: v.into(),
            }
            .to_money()
        };
        assert_eq!(back("1234.50", "THB"), Ok(m(123_450, "THB")));
        assert_eq!(back("12", "HUF"), Ok(m(1200, "HUF")));
        for (v, c) in [("12.50", "HUF"), ("-1.00", "THB"), ("1.001", "THB"), ("1", "XXX")] {
            assert!(back(v, c).is_err(), "{v} {c}");
        }
    }
}

mod verify_request {
    use payments_paypal::webhook::{verify_request_body, Transmission};

    #[test]
    fn verify_body_splices_the_raw_event() {
        let t = Transmission {
            auth_algo: "SHA256withRSA".into(),
            cert_url: "https://api.paypal.com/cert".into(),
            transmission_id: "id-1".into(),
            transmission_sig: "c2ln".into(),
            transmission_time: "2024-01-01T00:00:00Z".into(),
        };
        let raw = b"{ \"b\":1,\"a\":\"\\u00e9\" } ";
        let body = verify_request_body(&t, "WH1", raw);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.ends_with(",\"webhook_event\":{ \"b\":1,\"a\":\"\\u00e9\" } }"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["webhook_id"], "WH1");
        assert_eq!(v["webhook_event"]["a"], "é");
    }
}

mod links {
    use payments_paypal::transformers::Order;

    #[test]
    fn a_link_without_rel_does_not_fail_the_order() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "id": "5O190127TN364715T",
            "status": "APPROVED",
            "links": [
                {"href": "https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T", "method": "GET"},
                {"href": "https://www.paypal.com/checkoutnow?token=5O190127TN364715T", "rel": "approve"}
            ]
        }))
        .expect("an order whose first link has no rel");
        assert_eq!(order.links.len(), 2);
        assert!(order.payer_link().is_some_and(|l| l.contains("checkoutnow")));
    }
}

mod refunds {
    use payments_core::{EventKind, MinorUnits};
    use payments_paypal::webhook::{map_event, parse_envelope};

    /// A PAYMENT.CAPTURE.REFUNDED whose resource is the refund, shaped like PayPal's sample: the
    /// second partial refund of USD 10.00 on a capture of USD 30.00, USD 25.00 refunded in all.
    #[test]
    fn a_refund_event_reports_the_total_refunded_so_far() {
        let body = serde_json::json!({
            "id": "WH-1BW487186V6820524-8CB05584E7316453R",
            "event_version": "1.0",
            "create_time": "2024-05-01T10:00:00.000Z",
            "resource_type": "refund",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "resource": {
                "id": "1Y107995YT783435V",
                "status": "COMPLETED",
                "amount": {"currency_code": "USD", "value": "10.00"},
                "seller_payable_breakdown": {
                    "gross_amount": {"currency_code": "USD", "value": "10.00"},
                    "total_refunded_amount": {"currency_code": "USD", "value": "25.00"}
                },
                "links": [{"href": "https://api.paypal.com/v2/payments/captures/7TK53561YB803214S", "rel": "up", "method": "GET"}]
            }
        });
        let bytes = serde_json::to_vec(&body).unwrap();
        let (raw, envelope) = parse_envelope(&bytes).unwrap();
        let event = map_event(raw, envelope).unwrap();
        assert_eq!(
            event.kind,
            EventKind::Refunded {
                amount: Some(MinorUnits(2500))
            }
        );
    }
}

mod disputes {
    use payments_core::{Currency, EventKind, Money};
    use payments_paypal::webhook::{map_event, parse_envelope};

    /// A dispute event shaped like PayPal's published `CUSTOMER.DISPUTE.CREATED` sample (resource
    /// type `dispute`, Disputes API v1): no order id, no `custom_id`; the disputed transaction's
    /// `seller_transaction_id` is the capture.
    fn dispute_event(event_type: &str, transactions: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "id": "WH-2JD71524HY3316843-5RH58103PA2904512",
            "create_time": "2024-05-02T09:15:21.000Z",
            "resource_type": "dispute",
            "event_type": event_type,
            "summary": "A new dispute opened with Case # PP-D-27803",
            "resource": {
                "disputed_transactions": transactions,
                "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                "status": "OPEN",
                "dispute_amount": {"currency_code": "USD", "value": "30.00"},
                "dispute_id": "PP-D-27803",
                "dispute_life_cycle_stage": "INQUIRY",
                "dispute_channel": "INTERNAL",
                "create_time": "2024-05-02T09:14:58.000Z",
                "update_time": "2024-05-02T09:14:58.000Z",
                "messages": [{"posted_by": "BUYER", "time_posted": "2024-05-02T09:14:58.000Z", "content": "Where is it?"}],
                "links": [
                    {"href": "https://api.paypal.com/v1/customer/disputes/PP-D-27803", "rel": "self", "method": "GET"},
                    {"href": "https://api.paypal.com/v1/customer/disputes/PP-D-27803/send-message", "rel": "send_message", "method": "POST"}
                ]
            },
            "links": [{"href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-2JD71524HY3316843-5RH58103PA2904512", "rel": "self", "method": "GET"}],
            "event_version": "1.0"
        })
    }

    fn map(body: serde_json::Value) -> payments_core::WebhookEvent {
        let bytes = serde_json::to_vec(&body).unwrap();
        let (raw, envelope) = parse_envelope(&bytes).unwrap();
        map_event(raw, envelope).unwrap()
    }

    #[test]
    fn a_new_dispute_names_the_disputed_capture() {
        let event = map(dispute_event(
            "CUSTOMER.DISPUTE.CREATED",
            serde_json::json!([{
                "seller_transaction_id": "7TK53561YB803214S",
                "seller": {"merchant_id": "RD465XN5VS364", "name": "Test Store"},
                "items": [],
                "seller_protection_eligible": true
            }]),
        ));
        assert_eq!(event.kind, EventKind::Disputed);
        assert_eq!(event.references, ["7TK53561YB803214S"]);
        // A dispute event states the disputed amount (USD 30.00).
        assert_eq!(
            event.amount,
            Some(Money::new(3_000, Currency::from_code("USD").unwrap()))
        );
        assert_eq!(event.payment_ref, None);
        assert_eq!(event.external_payment_id.as_deref(), Some("7TK53561YB803214S"));
    }

    /// `dispute_amount` is what the buyer disputes, and what the event states; the disputed
    /// transaction's `gross_amount` (Disputes v1 `transaction_info`) is the payment's.
    #[test]
    fn a_partial_dispute_carries_the_disputed_amount_not_the_payments() {
        let event = map(dispute_event(
            "CUSTOMER.DISPUTE.CREATED",
            serde_json::json!([{
                "seller_transaction_id": "7TK53561YB803214S",
                "transaction_status": "COMPLETED",
                "gross_amount": {"currency_code": "USD", "value": "100.00"}
            }]),
        ));
        assert_eq!(event.kind, EventKind::Disputed);
        assert_eq!(
            event.amount,
            Some(Money::new(3_000, Currency::from_code("USD").unwrap()))
        );
        assert_eq!(event.external_payment_id.as_deref(), Some("7TK53561YB803214S"));
    }

    #[test]
    fn updates_are_matched_but_not_new_disputes_and_a_bare_dispute_still_parses() {
        let event = map(dispute_event(
            "CUSTOMER.DISPUTE.RESOLVED",
            serde_json::json!([{"seller_transaction_id": "7TK53561YB803214S"}]),
        ));
        assert!(matches!(event.kind, EventKind::Other { .. }), "{:?}", event.kind);
        assert_eq!(event.references, ["7TK53561YB803214S"]);
        // No disputed transactions (or an empty id): nothing to match by, yet acknowledged.
        let event = map(dispute_event(
            "CUSTOMER.DISPUTE.CREATED",
            serde_json::json!([{"seller_transaction_id": " "}, {"buyer_transaction_id": "4AB12"}]),
        ));
        assert_eq!(event.kind, EventKind::Disputed);
        assert!(event.references.is_empty(), "{:?}", event.references);
    }
}

mod published_signature {
    use payments_paypal::testing::published_key;
    use payments_paypal::transmission_message;

    fn vectors() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/evidence/signatures.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The mock's RSA check (PKCS#1 v1.5, SHA-256) accepts PayPal's published delivery with the
    /// certificate PayPal published, and refuses it once anything signed is changed.
    #[test]
    fn the_published_vector_verifies_with_the_published_certificate() {
        use base64::Engine as _;
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/evidence"));
        let key = published_key(dir).expect("the certificate in signatures.json");
        let doc = vectors();
        let case = &doc["cases"][0];
        assert_eq!(case["valid"], true);
        let h = |name: &str| case["headers"][name].as_str().unwrap().to_string();
        let body = case["body"].as_str().unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(h("PAYPAL-TRANSMISSION-SIG"))
            .unwrap();
        let secret = case["secret"].as_str().unwrap();
        let message = |id: &str, body: &str| {
            transmission_message(id, &h("PAYPAL-TRANSMISSION-TIME"), secret, body.as_bytes())
        };
        let id = h("PAYPAL-TRANSMISSION-ID");
        assert!(key.verify_sha256(message(&id, body).as_bytes(), &sig));
        assert!(!key.verify_sha256(message(&id, &format!("{body}\n")).as_bytes(), &sig));
        assert!(!key.verify_sha256(message("dfb3be50", body).as_bytes(), &sig));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(!key.verify_sha256(message(&id, body).as_bytes(), &bad));
    }
}

mod approval_reversed {
    use payments_core::EventKind;
    use payments_paypal::webhook::{map_event, parse_envelope};

    /// PayPal's own sample (Handle uncaptured payments): the approved order was not captured in
    /// time, PayPal cancelled it and refunded the buyer: a failed payment, named by `order_id`.
    #[test]
    fn an_approval_reversed_by_paypal_is_a_failed_payment() {
        let body = serde_json::json!({
            "id": "WH-COC11055RA711503B-4YM959094A144403T",
            "create_time": "2020-01-25T21:21:49.000Z",
            "event_type": "CHECKOUT.PAYMENT-APPROVAL.REVERSED",
            "summary": "A payment has been reversed after approval.",
            "resource": {
                "order_id": "5O190127TN364715T",
                "purchase_units": [{"reference_id": "d9f80740-38f0-11e8-b467-0ed5f89f718b",
                                    "custom_id": "MERCHANT_CUSTOM_ID", "invoice_id": "MERCHANT_INVOICE_ID"}],
                "payment_source": {"ideal": {"name": "John Doe", "country_code": "NL"}}
            },
            "event_version": "1.0"
        });
        let bytes = serde_json::to_vec(&body).unwrap();
        let (raw, envelope) = parse_envelope(&bytes).unwrap();
        let event = map_event(raw, envelope).unwrap();
        assert_eq!(event.kind, EventKind::PaymentFailed);
        assert_eq!(event.external_payment_id.as_deref(), Some("5O190127TN364715T"));
        assert_eq!(event.payment_ref.as_deref(), Some("MERCHANT_CUSTOM_ID"));
        assert_eq!(event.amount, None);
    }
}
