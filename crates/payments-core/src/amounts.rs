//! A provider's amount rules as one declarative value: its decimals per currency, the currencies
//! it accepts, minimum and maximum charges and amounts that must be a multiple of a step (Stripe's
//! three-decimal currencies). Adapters convert with it in both directions, so the checkout, the
//! events and the refunds cannot disagree.

use crate::money::{Currency, ExponentOverrides, Money};
use crate::provider::ProviderError;

#[derive(Debug, Clone, Copy)]
pub struct AmountRules {
    /// The provider's name in messages (`Stripe`).
    pub provider: &'static str,
    /// Where the provider's decimals differ from ISO 4217.
    pub exponents: ExponentOverrides,
    /// The currencies it accepts; empty: any ISO currency.
    pub currencies: &'static [&'static str],
    /// Minimum charge per currency, in the provider's units.
    pub minimums: &'static [(&'static str, i64)],
    /// Maximum charge per currency, in the provider's units.
    pub maximums: &'static [(&'static str, i64)],
    /// The maximum for currencies not in `maximums`.
    pub default_maximum: Option<i64>,
    /// Currencies whose amounts (provider units) must be a multiple of a step.
    pub steps: &'static [(&'static str, i64)],
}

impl AmountRules {
    /// Rules with no limits beyond ISO 4217.
    pub const fn new(provider: &'static str, exponents: ExponentOverrides) -> Self {
        AmountRules {
            provider,
            exponents,
            currencies: &[],
            minimums: &[],
            maximums: &[],
            default_maximum: None,
            steps: &[],
        }
    }

    fn lookup(table: &[(&str, i64)], code: &str) -> Option<i64> {
        table.iter().find(|(c, _)| *c == code).map(|(_, v)| *v)
    }

    /// The provider's number of decimals for `currency`.
    pub fn exponent(&self, currency: Currency) -> u8 {
        self.exponents.exponent(currency)
    }

    /// `units` of the provider as money, for messages.
    fn show(&self, units: i64, currency: Currency) -> String {
        self.exponents
            .from_provider(units, currency)
            .map_or_else(|_| format!("{units} {currency} units"), |m| m.to_string())
    }

    /// A charge amount in the provider's units, or why the provider would refuse it (checked
    /// before any call): the currency, positive, representable, the step, minimum and maximum.
    pub fn charge(&self, money: Money) -> Result<i64, ProviderError> {
        self.units(money, "a payment", true)
    }

    /// A refund amount in the provider's units (no minimum applies to refunds).
    pub fn refund(&self, money: Money) -> Result<i64, ProviderError> {
        self.units(money, "a refund", false)
    }

    fn units(&self, money: Money, what: &str, minimum: bool) -> Result<i64, ProviderError> {
        let (code, p) = (money.currency.code(), self.provider);
        let refuse = |why: String| Err(ProviderError::AmountRefused(format!("{what} of {money} {why}")));
        if !self.currencies.is_empty() && !self.currencies.contains(&code) {
            return refuse(format!(
                "is in a currency {p} does not accept; supported: {}",
                self.currencies.join(", ")
            ));
        }
        if !money.amount.is_positive() {
            return refuse("is not a positive amount".into());
        }
        let Ok(units) = self.exponents.to_provider(money) else {
            let e = self.exponent(money.currency);
            return refuse(format!(
                "cannot be sent to {p}: {p} takes {code} with {e} decimals"
            ));
        };
        if let Some(step) = Self::lookup(self.steps, code).filter(|s| units % s != 0) {
            return refuse(format!(
                "cannot be sent to {p}: {code} amounts must be a multiple of {step} (must end in 0)"
            ));
        }
        if let Some(min) = Self::lookup(self.minimums, code).filter(|m| minimum && units < *m) {
            return refuse(format!(
                "is below {p}'s minimum charge of {}",
                self.show(min, money.currency)
            ));
        }
        let max = Self::lookup(self.maximums, code).or(self.default_maximum);
        if let Some(max) = max.filter(|m| units > *m) {
            return refuse(format!(
                "is above {p}'s maximum charge of {} (the largest amount {p} accepts)",
                self.show(max, money.currency)
            ));
        }
        Ok(units)
    }

    /// A provider amount and currency code (any case) as ISO money, exactly.
    pub fn money(&self, units: i64, currency: &str) -> Result<Money, String> {
        let currency = Currency::from_code(currency).map_err(|e| e.to_string())?;
        self.exponents
            .from_provider(units, currency)
            .map_err(|e| e.to_string())
    }

    /// `money` as a decimal string in the currency's units with the provider's decimals
    /// (`THB 1,234.50` → `"1234.50"`, `HUF 12.00` → `"12"` where HUF takes none).
    pub fn decimal(&self, money: Money) -> Result<String, ProviderError> {
        let units = self.units(money, "an amount", false)?;
        Ok(crate::money::format_decimal(
            units,
            self.exponent(money.currency),
            false,
        ))
    }

    /// A decimal string back into ISO money, exactly; refuses signs, more decimals than the
    /// provider uses for the currency, and unknown currencies.
    pub fn parse_decimal(&self, value: &str, currency: &str) -> Result<Money, String> {
        let currency = Currency::from_code(currency).map_err(|e| e.to_string())?;
        if value.starts_with(['-', '+']) {
            return Err(format!("amount {value:?} is not a plain positive decimal"));
        }
        let exponent = self.exponent(currency);
        let decimals = value.split_once('.').map_or(0, |(_, f)| f.len());
        if decimals > usize::from(exponent) {
            return Err(format!(
                "amount {value:?} has more than {}'s {exponent} decimals for {currency}",
                self.provider
            ));
        }
        Money::parse(value, currency).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: AmountRules = AmountRules {
        minimums: &[("THB", 1000), ("JPY", 50)],
        maximums: &[("IDR", 999_999_999_999)],
        default_maximum: Some(99_999_999),
        steps: &[("KWD", 10)],
        ..AmountRules::new(
            "Acme",
            ExponentOverrides::new(&[("ISK", 2), ("MGA", 0), ("HUF", 0)]),
        )
    };

    fn m(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::from_code(code).unwrap())
    }

    #[test]
    fn charges_follow_the_rules_in_provider_units() {
        assert_eq!(RULES.charge(m(123_450, "THB")).unwrap(), 123_450);
        assert_eq!(RULES.charge(m(1000, "ISK")).unwrap(), 100_000);
        assert_eq!(RULES.charge(m(500_000, "MGA")).unwrap(), 5000);
        assert!(RULES.charge(m(500_050, "MGA")).is_err());
        let e = RULES.charge(m(5124, "KWD")).unwrap_err().to_string();
        assert!(e.contains("must end in 0"), "{e}");
        let e = RULES.charge(m(999, "THB")).unwrap_err().to_string();
        assert!(e.contains("minimum") && e.contains("THB 10.00"), "{e}");
        assert_eq!(RULES.refund(m(1, "THB")).unwrap(), 1, "no minimum for refunds");
        assert!(RULES.charge(m(0, "USD")).is_err());
        assert!(RULES.charge(m(100_000_000, "USD")).is_err());
        let only = AmountRules {
            currencies: &["THB"],
            ..RULES
        };
        assert!(matches!(
            only.charge(m(100_000, "KRW")),
            Err(ProviderError::AmountRefused(_))
        ));
        assert_eq!(RULES.money(100_000, "isk").unwrap(), m(1000, "ISK"));
        assert!(RULES.money(100_050, "isk").is_err());
        assert!(RULES.money(1, "xyz").is_err());
    }

    #[test]
    fn decimals_round_trip_exactly() {
        assert_eq!(RULES.decimal(m(123_450, "THB")).unwrap(), "1234.50");
        assert_eq!(RULES.decimal(m(1200, "HUF")).unwrap(), "12");
        assert!(RULES.decimal(m(1250, "HUF")).is_err());
        let e = RULES.decimal(m(1, "KWD")).unwrap_err().to_string();
        assert!(e.contains("end in 0"), "{e}");
        assert_eq!(RULES.parse_decimal("1234.5", "THB").unwrap(), m(123_450, "THB"));
        assert_eq!(RULES.parse_decimal("12", "HUF").unwrap(), m(1200, "HUF"));
        assert!(RULES.parse_decimal("12.5", "HUF").is_err());
        assert!(RULES.parse_decimal("-1", "THB").is_err());
    }
}
