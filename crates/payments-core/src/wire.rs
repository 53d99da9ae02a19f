//! Small wire helpers adapters share: decimal amounts, and the session of a started checkout.

use serde::{Deserialize, Serialize};

use crate::amounts::AmountRules;
use crate::money::Money;
use crate::provider::ProviderError;

/// An amount as a currency code and a decimal string in the provider's decimals
/// (`{"currency": "EUR", "value": "10.00"}`: Mollie; PayPal names the code `currency_code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecimalAmount {
    #[serde(alias = "currency_code")]
    pub currency: String,
    pub value: String,
}

impl DecimalAmount {
    /// `money` in `rules`' decimals; refuses what the provider cannot represent.
    pub fn new(rules: &AmountRules, money: Money) -> Result<Self, ProviderError> {
        let value = rules.decimal(money)?;
        Ok(DecimalAmount {
            currency: money.currency.code().to_string(),
            value,
        })
    }

    /// Back into ISO money, exactly (more decimals than the provider uses is an error).
    pub fn money(&self, rules: &AmountRules) -> Result<Money, String> {
        rules.parse_decimal(&self.value, &self.currency)
    }
}

impl std::fmt::Display for DecimalAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.currency, self.value)
    }
}

impl crate::provider::CheckoutSession {
    /// The session for `request` at the provider's `external_id`, where the payer goes to `redirect_url`.
    pub fn started(
        request: &crate::provider::CheckoutRequest,
        external_id: &str,
        redirect_url: &str,
    ) -> Self {
        crate::provider::CheckoutSession {
            external_id: external_id.to_string(),
            redirect_url: redirect_url.to_string(),
            idempotency_key: request.idempotency_key.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, ExponentOverrides};

    const RULES: AmountRules = AmountRules::new("Acme", ExponentOverrides::new(&[("HUF", 0)]));

    #[test]
    fn decimal_amounts_round_trip_in_the_providers_decimals() {
        let eur = Money::new(1050, Currency::from_code("EUR").unwrap());
        let wire = DecimalAmount::new(&RULES, eur).unwrap();
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            r#"{"currency":"EUR","value":"10.50"}"#
        );
        assert_eq!(wire.money(&RULES).unwrap(), eur);
        let huf = Money::new(1200, Currency::from_code("HUF").unwrap());
        assert_eq!(DecimalAmount::new(&RULES, huf).unwrap().value, "12");
        assert!(DecimalAmount::new(&RULES, Money::new(1250, huf.currency)).is_err());
        let paypal: DecimalAmount =
            serde_json::from_str(r#"{"currency_code":"EUR","value":"10.5"}"#).unwrap();
        assert_eq!(paypal.money(&RULES).unwrap(), eur);
    }
}
