//! Small wire helpers adapters share: decimal amounts, links, metadata, and the session of a
//! started (and checked) checkout.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Whether `id` looks like an id the provider issues with `prefix` (`tr_...`, `chrg_...`): the
/// prefix and then 1 to 64 ASCII letters, digits or underscores in all. Anything else is refused
/// before it is put into a URL path or trusted from a webhook.
pub fn is_provider_id(id: &str, prefix: &str) -> bool {
    id.len() <= 64
        && id.len() > prefix.len()
        && id.starts_with(prefix)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `href` of the `rel` link in a provider's links: HAL's `{rel: {"href": ...}}` (Mollie's
/// `_links`) or a list of `{"rel", "href"}` (PayPal's `links`).
pub fn link<'a>(links: &'a Value, rel: &str) -> Option<&'a str> {
    let entry = match links {
        Value::Array(list) => list
            .iter()
            .find(|l| l.get("rel").and_then(Value::as_str) == Some(rel))?,
        other => other.get(rel)?,
    };
    entry.get("href")?.as_str()
}

/// `key` of a provider's metadata, which holds our ids: a JSON object, or the same object
/// encoded as a JSON string (Mollie accepts both); a number is given as its text.
pub fn metadata(metadata: &Value, key: &str) -> Option<String> {
    let decoded;
    let object = match metadata {
        Value::String(text) => {
            decoded = serde_json::from_str::<Value>(text).ok()?;
            &decoded
        }
        other => other,
    };
    match object.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl crate::provider::CheckoutSession {
    /// [`Self::started`] once the provider's answer is checked by [`crate::check_checkout`]:
    /// checkout `id` is for exactly `request.amount` (`got`: the amount read back from the
    /// answer) and `url` is an absolute http(s) URL for the payer.
    pub fn checked(
        provider: &'static str,
        request: &crate::provider::CheckoutRequest,
        id: &str,
        got: Option<Money>,
        url: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let sent = (request.amount.amount.0, request.amount.currency);
        let got = (got.map(|m| m.amount.0), got.map(|m| m.currency.code()));
        let url = crate::check_checkout(provider, id, sent, got, url)?;
        Ok(Self::started(request, id, &url))
    }

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
    fn provider_ids_have_their_prefix_and_only_word_characters() {
        assert!(is_provider_id("tr_WDqYK6vllg", "tr_"));
        for bad in [
            "tr_",
            "tr_a/b",
            "tr_a b",
            "re_abc",
            "",
            &format!("tr_{}", "a".repeat(62)),
        ] {
            assert!(!is_provider_id(bad, "tr_"), "{bad}");
        }
    }

    #[test]
    fn links_and_metadata_in_the_shapes_providers_use() {
        let hal = serde_json::json!({"checkout": {"href": "https://pay/1"}, "self": {}});
        assert_eq!(link(&hal, "checkout"), Some("https://pay/1"));
        assert_eq!(link(&hal, "self"), None);
        let list =
            serde_json::json!([{"rel": "self", "href": "a"}, {"href": "b"}, {"rel": "approve", "href": "c"}]);
        assert_eq!(link(&list, "approve"), Some("c"));
        assert_eq!(link(&serde_json::Value::Null, "approve"), None);
        let object = serde_json::json!({"payment_ref": "pay_1", "receipt_id": 7, "empty": ""});
        assert_eq!(metadata(&object, "payment_ref").as_deref(), Some("pay_1"));
        assert_eq!(metadata(&object, "receipt_id").as_deref(), Some("7"));
        assert_eq!(metadata(&object, "empty"), None);
        let text = serde_json::Value::String(object.to_string());
        assert_eq!(metadata(&text, "payment_ref").as_deref(), Some("pay_1"));
        assert_eq!(metadata(&serde_json::json!("not json"), "payment_ref"), None);
    }

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
