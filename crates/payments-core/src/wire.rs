//! Small wire helpers adapters share: decimal amounts, secrets that never print, and (feature
//! `http`) error JSON read from named fields.

use serde::{Deserialize, Serialize};

use crate::amounts::AmountRules;
use crate::money::Money;
use crate::provider::ProviderError;
use crate::webhook::WebhookError;

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

/// [`ProviderError::UnexpectedResponse`]: the provider answered something we cannot use.
pub fn unexpected(provider: &'static str, message: impl Into<String>) -> ProviderError {
    ProviderError::UnexpectedResponse {
        provider,
        message: message.into(),
    }
}

/// Refuses a checkout `id` the provider created for `got` instead of the `asked` amount (as the
/// provider writes amounts): the payer must never be shown another amount than the receipt's.
pub fn check_created<T: PartialEq + std::fmt::Display>(
    provider: &'static str,
    id: &str,
    asked: &T,
    got: &T,
) -> Result<(), ProviderError> {
    if asked == got {
        return Ok(());
    }
    Err(unexpected(
        provider,
        format!("{id} was created for {got}, not the {asked} asked for"),
    ))
}

/// The webhook error when re-fetching `id` (a verify-by-refetch scheme) failed: an object the
/// provider does not know (404) is refused as not genuine; anything else is retried later.
pub fn refetch_failed(provider: &str, id: &str, error: ProviderError) -> WebhookError {
    match error {
        ProviderError::Api { status: 404, .. } => {
            WebhookError::MalformedPayload(format!("{provider} has no object {id}: not a genuine event"))
        }
        other => WebhookError::Upstream(other.to_string()),
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

/// A secret from configuration: `Debug` never shows it, and it is read only through
/// [`Secret::expose`], so a config struct can derive `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An [`ApiErrors`](crate::http::ApiErrors) that reads the provider's error JSON from named
/// fields (JSON pointers): `code` (`/title`, `/error/type`), and `message` parts joined by `: `
/// (`["/detail", "/field"]` gives `The amount is invalid: amount`).
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy)]
pub struct JsonErrors {
    pub provider: &'static str,
    pub code: &'static str,
    pub message: &'static [&'static str],
}

#[cfg(feature = "http")]
impl JsonErrors {
    pub const fn new(provider: &'static str, code: &'static str, message: &'static [&'static str]) -> Self {
        JsonErrors {
            provider,
            code,
            message,
        }
    }
}

#[cfg(feature = "http")]
impl crate::http::ApiErrors for JsonErrors {
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str()).map(str::to_string);
        let parts: Vec<String> = self.message.iter().filter_map(|p| text(p)).collect();
        let message = (!parts.is_empty()).then(|| parts.join(": "));
        crate::http::api_error(self.provider, status, text(self.code), message, body)
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

    #[test]
    fn a_checkout_for_another_amount_is_refused_and_a_lost_object_is_not_genuine() {
        let (asked, got) = (
            DecimalAmount {
                currency: "EUR".into(),
                value: "10.00".into(),
            },
            DecimalAmount {
                currency: "EUR".into(),
                value: "0.10".into(),
            },
        );
        assert!(check_created("acme", "tr_1", &asked, &asked).is_ok());
        let refused = check_created("acme", "tr_1", &asked, &got)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("tr_1 was created for EUR 0.10, not the EUR 10.00 asked for"),
            "{refused}"
        );
        let gone = ProviderError::Api {
            provider: "acme",
            status: 404,
            code: None,
            message: "no".into(),
        };
        assert!(matches!(
            refetch_failed("acme", "tr_1", gone),
            WebhookError::MalformedPayload(_)
        ));
        let down = ProviderError::Unavailable {
            provider: "acme",
            message: "timeout".into(),
        };
        assert!(matches!(
            refetch_failed("acme", "tr_1", down),
            WebhookError::Upstream(_)
        ));
    }

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("sk_live_abc");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "sk_live_abc");
    }

    #[cfg(feature = "http")]
    #[test]
    fn error_json_is_read_from_the_named_fields() {
        use crate::http::ApiErrors;
        let errors = JsonErrors {
            provider: "acme",
            code: "/title",
            message: &["/detail", "/field"],
        };
        let body = br#"{"status":422,"title":"Unprocessable Entity","detail":"The amount is invalid","field":"amount"}"#;
        match errors.api_error(422, body) {
            ProviderError::Api {
                status,
                code,
                message,
                ..
            } => {
                assert_eq!((status, code.as_deref()), (422, Some("Unprocessable Entity")));
                assert_eq!(message, "The amount is invalid: amount");
            }
            other => panic!("{other:?}"),
        }
        match errors.api_error(502, b"<html>bad gateway</html>") {
            ProviderError::Api { code, message, .. } => {
                assert_eq!(code, None);
                assert!(message.contains("bad gateway"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
