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

    /// The webhook id is up to 50 letters and digits (the verify request's `webhook_id`).
    #[test]
    fn the_webhook_id_takes_up_to_fifty_characters() {
        let with_id = |id: &'static str| {
            let vars: &'static [(&str, &str)] = Box::leak(Box::new([
                ("PAYPAL_CLIENT_ID", "cid"),
                ("PAYPAL_CLIENT_SECRET", "s"),
                ("PAYPAL_WEBHOOK_ID", id),
            ]));
            PayPalConfig::from_lookup(&lookup(vars))
        };
        let fifty: &'static str = Box::leak("A".repeat(50).into_boxed_str());
        let fifty_one: &'static str = Box::leak("A".repeat(51).into_boxed_str());
        assert!(with_id(fifty).is_ok(), "50 characters");
        let e = with_id(fifty_one).unwrap_err();
        assert!(e.to_string().contains("PAYPAL_WEBHOOK_ID"), "{e}");
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

    /// Orders v2 `amount_with_breakdown`: "The `amount.value` field supports up to 15 digits
    /// preceding the decimal": 15 integer digits go through, 16 are refused (in PayPal's decimals:
    /// HUF has none, so its ISO minor units hold two more digits).
    #[test]
    fn amounts_take_at_most_fifteen_integer_digits() {
        let value = |a, c| AmountWire::from_money(m(a, c)).map(|w| w.value);
        assert_eq!(
            value(99_999_999_999_999_999, "USD").unwrap(),
            "999999999999999.99"
        );
        assert_eq!(value(999_999_999_999_999, "JPY").unwrap(), "999999999999999");
        assert_eq!(value(99_999_999_999_999_900, "HUF").unwrap(), "999999999999999");
        for (a, c) in [
            (100_000_000_000_000_000, "USD"),
            (1_000_000_000_000_000, "JPY"),
            (100_000_000_000_000_000, "HUF"),
        ] {
            assert!(
                matches!(value(a, c), Err(ProviderError::AmountRefused(_))),
                "{a} {c} has 16 integer digits at PayPal"
            );
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

mod transmission_limits {
    use payments_core::{SignatureError, WebhookError, WebhookRequest};
    use payments_paypal::webhook::Transmission;

    /// The headers of PayPal's published, genuinely signed delivery (evidence/signatures.json).
    fn published() -> Vec<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/evidence/signatures.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let headers = doc["cases"][0]["headers"].as_object().unwrap();
        headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }

    /// The published delivery with `header` set to `value`, read as PayPal's transmission.
    fn with(header: &str, value: &str) -> Result<Transmission, WebhookError> {
        let mut headers = published();
        headers.iter_mut().find(|(k, _)| k == header).unwrap().1 = value.to_string();
        Transmission::from_request(&WebhookRequest::new(headers, b"{}".to_vec(), 0))
    }

    fn refused(header: &str, value: &str) -> bool {
        matches!(
            with(header, value),
            Err(WebhookError::Signature(SignatureError::MalformedHeader { header: h, .. })) if h == header
        )
    }

    /// The verify-webhook-signature request's limits (Webhooks v1 `verify_webhook_signature`):
    /// `transmission_id` at most 50 characters and `transmission_sig` at most 500, both
    /// `^(?!\d+$)\w+\S+`; `transmission_time` at most 100; `cert_url` at most 500; `auth_algo`
    /// at most 100 of `^[a-zA-Z0-9]+$`. Values within them are taken (and sent on to PayPal), at
    /// each bound included; one past a bound, or of another form, is refused as malformed.
    #[test]
    fn headers_are_held_to_the_verify_request_limits() {
        let genuine = published();
        let t = Transmission::from_request(&WebhookRequest::new(genuine, b"{}".to_vec(), 0))
            .expect("PayPal's published delivery");
        assert_eq!(t.transmission_id, "dfb3be50-fd74-11e4-8bf3-77339302725b");

        let rep = |c: &str, n: usize| c.repeat(n);
        let cases = [
            ("PAYPAL-TRANSMISSION-ID", 50),
            ("PAYPAL-TRANSMISSION-SIG", 500),
            ("PAYPAL-TRANSMISSION-TIME", 100),
            ("PAYPAL-CERT-URL", 500),
            ("PAYPAL-AUTH-ALGO", 100),
        ];
        for (header, max) in cases {
            assert!(with(header, &rep("a", max)).is_ok(), "{header}: {max} characters");
            assert!(
                refused(header, &rep("a", max + 1)),
                "{header}: {} characters",
                max + 1
            );
        }
        // Characters, not bytes: 500 characters of which most take two bytes.
        let url = format!("https://x/{}", rep("é", 490));
        assert!(with("PAYPAL-CERT-URL", &url).is_ok());
        assert!(refused("PAYPAL-CERT-URL", &format!("{url}é")));

        // `^(?!\d+$)\w+\S+`: a word character, then at least one non-space; not only digits.
        for header in ["PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-SIG"] {
            for ok in ["ab", "_1", "a_", "9b", "12345a", "thy4/U0+q=="] {
                assert!(
                    with(header, ok).is_ok(),
                    "{header}: {ok:?} is of the documented form"
                );
            }
            for bad in ["a", "_", "-abc", "/thy4", "+a", "a b", "a\tb", "12345", "00"] {
                assert!(refused(header, bad), "{header}: {bad:?} is not");
            }
        }
        // `^[a-zA-Z0-9]+$`.
        assert!(with("PAYPAL-AUTH-ALGO", "SHA256withRSA").is_ok());
        for bad in ["SHA256-withRSA", "SHA256_RSA", "SHA256 RSA"] {
            assert!(refused("PAYPAL-AUTH-ALGO", bad), "{bad:?}");
        }
    }
}

mod envelope {
    use payments_core::WebhookError;
    use payments_paypal::webhook::parse_envelope;
    use serde_json::{json, Value};

    fn event() -> Value {
        json!({
            "id": "WH-58D329510W468432D-8HN650336L201105X",
            "create_time": "2019-02-14T21:50:07.940Z",
            "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "summary": "Payment completed for $ 2.51 USD",
            "resource": {"id": "27M47624FP291604U", "status": "COMPLETED"},
            "event_version": "1.0"
        })
    }

    fn parse(body: &Value) -> Result<(), WebhookError> {
        parse_envelope(&serde_json::to_vec(body).unwrap()).map(|_| ())
    }

    fn set(key: &str, value: Value) -> Value {
        let mut body = event();
        body[key] = value;
        body
    }

    /// An event names itself (`id`, the key it is deduplicated by) and its `event_type`: either
    /// blank alone is a malformed event.
    #[test]
    fn an_event_without_id_or_type_is_malformed() {
        assert!(parse(&event()).is_ok());
        for (key, value) in [("id", ""), ("id", "  "), ("event_type", ""), ("event_type", " ")] {
            assert!(
                matches!(
                    parse(&set(key, value.into())),
                    Err(WebhookError::MalformedPayload(_))
                ),
                "{key} = {value:?}"
            );
        }
    }

    /// Webhooks v1 `event_version`: `^([0-9]+.[0-9]+)$` (digits, a dot, digits); absent is fine
    /// (the member is deprecated). `create_time` is a string.
    #[test]
    fn the_event_version_is_digits_dot_digits() {
        for ok in ["1.0", "10.25", "0.0"] {
            assert!(parse(&set("event_version", ok.into())).is_ok(), "{ok}");
        }
        let mut bare = event();
        bare.as_object_mut().unwrap().remove("event_version");
        assert!(parse(&bare).is_ok());
        for bad in ["1.", ".0", ".", "1.x", "x.0", "a.b", "1", "", "1.0.0"] {
            assert!(
                matches!(
                    parse(&set("event_version", bad.into())),
                    Err(WebhookError::MalformedPayload(_))
                ),
                "{bad:?}"
            );
        }
        assert!(parse(&set("event_version", json!(1.0))).is_err());
        assert!(parse(&set("create_time", json!(1_550_181_007))).is_err());
    }
}

mod captures {
    use payments_core::{Currency, Money, PaymentStatus};
    use payments_paypal::transformers::Order;
    use serde_json::json;

    /// An order as `GET /v2/checkout/orders/{id}` returns it: one purchase unit per slice, each
    /// with its captures `(id, status, USD value)` in the order PayPal lists them.
    fn order(units: &[&[(&str, &str, &str)]]) -> Order {
        let units: Vec<_> = units
            .iter()
            .enumerate()
            .map(|(i, captures)| {
                let captures: Vec<_> = captures
                    .iter()
                    .map(|(id, status, value)| {
                        json!({"id": id, "status": status,
                               "amount": {"currency_code": "USD", "value": value}})
                    })
                    .collect();
                json!({"reference_id": format!("unit-{i}"), "custom_id": "pay_multi",
                       "amount": {"currency_code": "USD", "value": "99.00"},
                       "payments": {"captures": captures}})
            })
            .collect();
        serde_json::from_value(json!({"id": "5O190127TN364715T", "status": "COMPLETED",
                                      "purchase_units": units}))
        .unwrap()
    }

    fn usd(cents: i64) -> Option<Money> {
        Some(Money::new(cents, Currency::from_code("USD").unwrap()))
    }

    fn seen(o: &Order) -> (PaymentStatus, Option<Money>) {
        let snap = o.snapshot().unwrap();
        (snap.status, snap.amount)
    }

    /// The payment's status and amount come from the capture that decides it: one that moved
    /// money (COMPLETED, PARTIALLY_REFUNDED, REFUNDED) over a PENDING one, a PENDING one over the
    /// DECLINED/FAILED attempts, and among those the last.
    #[test]
    fn the_capture_that_moved_money_decides_the_payment() {
        // A declined attempt, then the capture that went through.
        let o = order(&[&[("C1", "DECLINED", "10.00"), ("C2", "COMPLETED", "10.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Succeeded, usd(1000)));
        // Two purchase units captured with different outcomes.
        let o = order(&[&[("C1", "COMPLETED", "10.00")], &[("C2", "DECLINED", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Succeeded, usd(1000)));
        let o = order(&[&[("C1", "COMPLETED", "10.00")], &[("C2", "PENDING", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Succeeded, usd(1000)));
        let o = order(&[
            &[("C1", "PARTIALLY_REFUNDED", "10.00")],
            &[("C2", "FAILED", "5.00")],
        ]);
        assert_eq!(seen(&o), (PaymentStatus::Succeeded, usd(1000)));
        let o = order(&[&[("C1", "REFUNDED", "10.00")], &[("C2", "PENDING", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Refunded, usd(1000)));
        let o = order(&[&[("C1", "REFUNDED", "10.00")], &[("C2", "DECLINED", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Refunded, usd(1000)));
    }

    #[test]
    fn a_pending_capture_outranks_failed_attempts() {
        let o = order(&[&[("C1", "PENDING", "10.00")], &[("C2", "DECLINED", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Pending, usd(1000)));
        let o = order(&[&[("C1", "PENDING", "10.00"), ("C2", "FAILED", "5.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Pending, usd(1000)));
        // Only failed attempts: the last one.
        let o = order(&[&[("C1", "DECLINED", "10.00"), ("C2", "FAILED", "7.00")]]);
        assert_eq!(seen(&o), (PaymentStatus::Failed, usd(700)));
        // No capture yet: the order's status and the purchase unit's amount.
        let o = order(&[&[]]);
        assert_eq!(seen(&o), (PaymentStatus::Pending, usd(9900)));
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

mod unknown_events {
    use payments_core::EventKind;
    use payments_paypal::webhook::{map_event, parse_envelope};

    /// "Anything else: `Other`, acknowledged, not acted on" (docs/providers/paypal.md): PayPal's
    /// deprecated `RISK.DISPUTE.CREATED`, whose resource is shaped like a dispute, names no
    /// payment and states no amount, even a `dispute_amount` PayPal's money object would refuse.
    #[test]
    fn a_dispute_shaped_event_of_another_type_is_only_acknowledged() {
        for amount in [
            serde_json::json!({"currency_code": "USD", "value": "30.00"}),
            serde_json::json!({"currency_code": "USD", "value": "-3.000"}),
        ] {
            let body = serde_json::json!({
                "id": "WH-4M0448861G563140B-9EX36365822141321",
                "create_time": "2018-06-21T13:36:33.000Z",
                "resource_type": "dispute",
                "event_type": "RISK.DISPUTE.CREATED",
                "summary": "A new dispute opened with Case # PP-000-042-663-135",
                "resource": {
                    "disputed_transactions": [{"seller_transaction_id": "7TK53561YB803214S"}],
                    "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                    "status": "OPEN",
                    "dispute_amount": amount,
                    "dispute_id": "PP-000-042-663-135"
                },
                "event_version": "1.0"
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            let (raw, envelope) = parse_envelope(&bytes).unwrap();
            let event = map_event(raw, envelope).expect("acknowledged");
            assert_eq!(
                event.kind,
                EventKind::Other {
                    raw_type: "RISK.DISPUTE.CREATED".into()
                }
            );
            assert!(event.references.is_empty(), "{:?}", event.references);
            assert_eq!(event.external_payment_id, None);
            assert_eq!(event.amount, None);
        }
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

/// `check_amount` refuses exactly what an order would: nothing positive is refused here, a zero
/// amount is.
mod offered {
    use payments_core::conformance::sample_checkout_request;
    use payments_core::{Currency, Money, PaymentProvider, ProviderError};
    use payments_paypal::testing::MockPayPal;

    #[tokio::test]
    async fn check_amount_refuses_what_a_checkout_would() {
        let mock = MockPayPal::start().await;
        let paypal = mock.provider();
        for (units, takes) in [(0, false), (1, true), (123_456, true)] {
            let amount = Money::new(units, Currency::from_code("THB").unwrap());
            let mut request = sample_checkout_request(&format!("pay_offered_{units}"));
            request.amount = amount;
            let checkout = paypal.create_checkout(&request).await;
            assert_eq!(paypal.check_amount(amount).is_ok(), takes, "{amount}");
            assert_eq!(
                matches!(checkout, Err(ProviderError::AmountRefused(_))),
                !takes,
                "{amount}: {checkout:?}"
            );
        }
    }
}
