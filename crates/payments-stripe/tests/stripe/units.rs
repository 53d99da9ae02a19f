//! Unit-level checks of the adapter's configuration, moved out of `src/` so the adapter's source
//! holds only the adapter.

mod config {
    use payments_core::ProviderError;
    use payments_stripe::config::*;

    fn from(vars: &[(&str, &str)]) -> Result<StripeConfig, ProviderError> {
        StripeConfig::from_lookup(&|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    const KEY: (&str, &str) = ("STRIPE_SECRET_KEY", "sk_test_x");
    const WHSEC: (&str, &str) = ("STRIPE_WEBHOOK_SECRET", "whsec_x");

    #[test]
    fn reads_variables_with_defaults() {
        let c = from(&[KEY, ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old")]).unwrap();
        assert_eq!(c.api_base(), "https://api.stripe.com");
        assert_eq!(c.webhook_tolerance_secs, 300);
        assert_eq!(c.webhook_secrets(), ["whsec_new", "whsec_old"]);
        assert!(!c.livemode());
        let c = from(&[
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            WHSEC,
            ("STRIPE_API_BASE", "http://127.0.0.1:9999"),
            ("STRIPE_WEBHOOK_TOLERANCE_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(
            (c.livemode(), c.webhook_tolerance_secs, c.api_base()),
            (true, 60, "http://127.0.0.1:9999")
        );
    }

    #[test]
    fn errors_name_the_variable() {
        const TOL: &str = "STRIPE_WEBHOOK_TOLERANCE_SECS";
        let cases = [
            ("STRIPE_SECRET_KEY", None, "is not set"),
            ("STRIPE_SECRET_KEY", Some("pk_test_x"), "is invalid"),
            ("STRIPE_WEBHOOK_SECRET", None, "is not set"),
            ("STRIPE_WEBHOOK_SECRET", Some(" , "), "is not set"),
            ("STRIPE_WEBHOOK_SECRET", Some("sk_test_x"), "is invalid"),
            ("STRIPE_API_BASE", Some("api.stripe.com"), "is invalid"),
            (TOL, Some("5m"), "is invalid"),
            (TOL, Some("0"), "is invalid"),
        ];
        for (var, value, want) in cases {
            let vars = [KEY, WHSEC, (var, value.unwrap_or(""))];
            let err = StripeConfig::from_lookup(&|k| {
                vars.iter()
                    .rev()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            });
            let err = err.unwrap_err();
            assert!(
                matches!(err, ProviderError::Config(ref m) if m.contains(&format!("{var} {want}"))),
                "{err}"
            );
        }
        // Debug and errors never show a secret.
        let shown = format!(
            "{:?}",
            StripeConfig::new("sk_test_SUPERSECRET", "whsec_HIDDEN1,whsec_HIDDEN2").unwrap()
        );
        assert!(
            !shown.contains("SUPERSECRET") && !shown.contains("HIDDEN") && shown.contains("sk_test_****")
        );
        let err = StripeConfig::new("sk_bogus_SUPERSECRET", "whsec_x").unwrap_err();
        assert!(!err.to_string().contains("SUPERSECRET"), "{err}");
    }
}

/// `check_amount` (whether the server offers Stripe for a receipt, decided before any call)
/// refuses exactly what a checkout would: THB below Stripe's THB 10.00 minimum, nothing
/// positive above it (docs.stripe.com/currencies, "Minimum and maximum charge amounts").
mod offered {
    use payments_core::conformance::sample_checkout_request;
    use payments_core::{Currency, Money, PaymentProvider, ProviderError};
    use payments_stripe::testing::MockStripe;

    #[tokio::test]
    async fn check_amount_refuses_what_a_checkout_would() {
        let mock = MockStripe::start().await;
        let stripe = mock.provider();
        for (units, code, takes) in [
            (999, "THB", false),
            (1_000, "THB", true),
            (123_456, "THB", true),
            (0, "THB", false),
        ] {
            let amount = Money::new(units, Currency::from_code(code).unwrap());
            let mut request = sample_checkout_request(&format!("pay_offered_{units}"));
            request.amount = amount;
            let checkout = stripe.create_checkout(&request).await;
            assert_eq!(stripe.check_amount(amount).is_ok(), takes, "{amount}");
            assert_eq!(
                matches!(checkout, Err(ProviderError::AmountRefused(_))),
                !takes,
                "{amount}: {checkout:?}"
            );
        }
    }
}
