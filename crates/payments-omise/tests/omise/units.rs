//! Unit-level checks of the adapter's wire types and amounts, moved out of `src/` so the
//! adapter's source holds only the adapter.

mod transformers {
    use payments_core::{EventKind, Money, PaymentStatus, ProviderError};
    use payments_omise::transformers::*;

    use payments_core::wire::is_provider_id;
    use payments_core::Currency;

    fn c(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn limits_are_checked_in_omise_units() {
        let units = |a, code| AMOUNTS.charge(Money::new(a, c(code)));
        let refused = |a, code| units(a, code).unwrap_err().to_string();
        assert_eq!(
            (units(2_000, "THB").unwrap(), units(15_000_000, "THB").unwrap()),
            (2_000, 15_000_000)
        );
        assert!(refused(1_999, "THB").contains("THB 20.00"));
        assert!(refused(15_000_001, "THB").contains("THB 150,000.00"));
        assert_eq!(units(100, "JPY").unwrap(), 100);
        for (a, code) in [(99, "JPY"), (0, "USD"), (-5, "USD"), (10_000, "KRW")] {
            assert!(
                matches!(units(a, code), Err(ProviderError::AmountRefused(_))),
                "{a} {code}"
            );
        }
    }

    #[test]
    fn statuses_map_without_ever_inventing_success() {
        assert_eq!(
            PaymentStatus::from(ChargeStatus::Successful),
            PaymentStatus::Succeeded
        );
        assert_eq!(PaymentStatus::from(ChargeStatus::Unknown), PaymentStatus::Pending);
        assert_eq!(EventKind::from(ChargeStatus::Reversed), EventKind::PaymentFailed);
        assert_eq!(EventKind::from(ChargeStatus::Expired), EventKind::CheckoutExpired);
        let s: ChargeStatus = serde_json::from_str("\"something_new\"").unwrap();
        assert_eq!(s, ChargeStatus::Unknown);
    }

    #[test]
    fn ids_are_checked_before_use_in_paths() {
        assert!(is_provider_id("chrg_test_5xyz01", "chrg_"));
        assert!(!is_provider_id("chrg_", "chrg_"));
        assert!(!is_provider_id("chrg_../accounts", "chrg_"));
        assert!(!is_provider_id("rfnd_1", "chrg_"));
        assert!(!is_provider_id("chrg_a/b", "chrg_"));
    }
}

/// `check_amount` refuses exactly what a charge would: THB from 20.00 to 150,000.00.
mod offered {
    use payments_core::conformance::sample_checkout_request;
    use payments_core::{Currency, Money, PaymentProvider, ProviderError};
    use payments_omise::testing::MockOmise;

    #[tokio::test]
    async fn check_amount_refuses_what_a_checkout_would() {
        let mock = MockOmise::start().await;
        let omise = mock.provider();
        for (units, takes) in [
            (1_999, false),
            (2_000, true),
            (15_000_000, true),
            (15_000_001, false),
        ] {
            let amount = Money::new(units, Currency::from_code("THB").unwrap());
            let mut request = sample_checkout_request(&format!("pay_offered_{units}"));
            request.amount = amount;
            let checkout = omise.create_checkout(&request).await;
            assert_eq!(omise.check_amount(amount).is_ok(), takes, "{amount}");
            assert_eq!(
                matches!(checkout, Err(ProviderError::AmountRefused(_))),
                !takes,
                "{amount}: {checkout:?}"
            );
        }
    }
}
