//! Money as integer minor units: the amount type, ISO 4217 currencies, display, parsing and
//! provider-specific exponents. No floating point anywhere.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Everything that can go wrong with an amount or a currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?} (expected an ISO 4217 code such as THB)")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit and cannot be used for payments")]
    NotPayable(&'static str),
    #[error("amount overflows a 64-bit count of minor units")]
    Overflow,
    #[error("{input:?} has more than {max} decimal places for {currency}")]
    TooManyDecimals {
        input: String,
        max: u8,
        currency: &'static str,
    },
    #[error("{input:?} is not an amount: {reason}")]
    InvalidAmount { input: String, reason: &'static str },
    #[error("{amount} minor units of {currency} cannot be expressed with {exponent} decimals")]
    NotRepresentable {
        amount: i64,
        currency: &'static str,
        exponent: u8,
    },
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch { left: &'static str, right: &'static str },
}

/// A count of a currency's minor units (satang, cents, yen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MinorUnits(pub i64);

impl MinorUnits {
    pub const ZERO: MinorUnits = MinorUnits(0);

    pub const fn new(value: i64) -> Self {
        MinorUnits(value)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: MinorUnits) -> Result<MinorUnits, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: MinorUnits) -> Result<MinorUnits, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<MinorUnits, MoneyError> {
        self.0
            .checked_mul(factor)
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }

    /// Sums without silent overflow.
    pub fn checked_sum<I: IntoIterator<Item = MinorUnits>>(items: I) -> Result<MinorUnits, MoneyError> {
        items
            .into_iter()
            .try_fold(MinorUnits::ZERO, |acc, x| acc.checked_add(x))
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An ISO 4217 currency that has a minor unit (from the maintained `iso_currency` table).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Looks a code up case-insensitively ("thb", "THB").
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
        if iso.exponent().is_none() {
            return Err(MoneyError::NotPayable(iso.code()));
        }
        Ok(Currency(iso))
    }

    /// The upper-case ISO code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The lower-case code, as Stripe and Omise write it.
    pub fn code_lowercase(self) -> String {
        self.code().to_ascii_lowercase()
    }

    /// ISO 4217 number of decimals (THB 2, JPY 0, KWD 3).
    pub fn exponent(self) -> u8 {
        // Constructed only for currencies with an exponent; ISO exponents are at most 4.
        self.0.exponent().map_or(0, |e| e as u8)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount in a currency's ISO minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: MinorUnits,
    pub currency: Currency,
}

fn pow10(exp: u8) -> Result<i64, MoneyError> {
    10i64.checked_pow(u32::from(exp)).ok_or(MoneyError::Overflow)
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money {
            amount: MinorUnits(amount),
            currency,
        }
    }

    /// Parses a user-entered decimal such as `"1234.5"` or `"-3"` exactly. More decimals than
    /// the currency has, thousands separators, exponents and blanks are refused.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let exp = currency.exponent();
        let bad = |reason| MoneyError::InvalidAmount {
            input: input.to_string(),
            reason,
        };
        let (negative, body) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input.strip_prefix('+').unwrap_or(input)),
        };
        let (whole, frac) = match body.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (body, None),
        };
        if whole.is_empty() && frac.is_none_or(str::is_empty) {
            return Err(bad("no digits"));
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("only digits and one decimal point are allowed"));
        }
        let frac = frac.unwrap_or("");
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("only digits and one decimal point are allowed"));
        }
        if frac.len() > usize::from(exp) {
            return Err(MoneyError::TooManyDecimals {
                input: input.to_string(),
                max: exp,
                currency: currency.code(),
            });
        }
        let mut value: i64 = 0;
        for b in whole.bytes().chain(frac.bytes()) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        // `frac.len() <= exp` was checked above, so the difference fits in a u8.
        let pad = exp - frac.len() as u8;
        value = value.checked_mul(pow10(pad)?).ok_or(MoneyError::Overflow)?;
        if negative {
            value = -value;
        }
        Ok(Money::new(value, currency))
    }

    /// The amount expressed with `exponent` decimals instead of the ISO exponent, for providers
    /// that disagree with ISO (Stripe sends ISK with 2 decimals, PayPal HUF with none).
    /// Scaling down refuses an amount that would lose precision.
    pub fn to_provider_units(self, exponent: u8) -> Result<i64, MoneyError> {
        let iso = self.currency.exponent();
        let v = self.amount.0;
        if exponent >= iso {
            v.checked_mul(pow10(exponent - iso)?).ok_or(MoneyError::Overflow)
        } else {
            let div = pow10(iso - exponent)?;
            if v % div != 0 {
                return Err(MoneyError::NotRepresentable {
                    amount: v,
                    currency: self.currency.code(),
                    exponent,
                });
            }
            Ok(v / div)
        }
    }

    /// The inverse of [`Money::to_provider_units`].
    pub fn from_provider_units(amount: i64, currency: Currency, exponent: u8) -> Result<Money, MoneyError> {
        let iso = currency.exponent();
        let v = if iso >= exponent {
            amount
                .checked_mul(pow10(iso - exponent)?)
                .ok_or(MoneyError::Overflow)?
        } else {
            let div = pow10(exponent - iso)?;
            if amount % div != 0 {
                return Err(MoneyError::NotRepresentable {
                    amount,
                    currency: currency.code(),
                    exponent: iso,
                });
            }
            amount / div
        };
        Ok(Money::new(v, currency))
    }

    /// Plain decimal with the ISO exponent and no grouping: `"1234.50"`, `"1235"`.
    pub fn decimal_string(self) -> String {
        format_decimal(self.amount.0, self.currency.exponent(), false)
    }

    /// Decimal with `exponent` decimals (see [`Money::to_provider_units`]), e.g. PayPal's `value`.
    pub fn decimal_string_with_exponent(self, exponent: u8) -> Result<String, MoneyError> {
        Ok(format_decimal(self.to_provider_units(exponent)?, exponent, false))
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency.code(),
                right: other.currency.code(),
            });
        }
        Ok(Money {
            amount: self.amount.checked_add(other.amount)?,
            currency: self.currency,
        })
    }
}

/// For display: `THB 1,234.50`, `JPY 1,235`, `THB -0.50`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.currency.code(),
            format_decimal(self.amount.0, self.currency.exponent(), true)
        )
    }
}

/// Formats `amount` minor units with `exponent` decimals using integer arithmetic only.
pub fn format_decimal(amount: i64, exponent: u8, group_thousands: bool) -> String {
    let abs = amount.unsigned_abs();
    let digits = abs.to_string();
    let exp = usize::from(exponent);
    let padded = if digits.len() <= exp {
        format!("{}{}", "0".repeat(exp + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (whole, frac) = padded.split_at(padded.len() - exp);
    let mut out = String::with_capacity(padded.len() + padded.len() / 3 + 2);
    if amount < 0 {
        out.push('-');
    }
    if group_thousands {
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
    } else {
        out.push_str(whole);
    }
    if exp > 0 {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A provider's own decimals for currencies where it departs from ISO 4217.
///
/// ```
/// use payments_core::money::{Currency, ExponentOverrides};
/// const STRIPE: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2), ("MGA", 0)]);
/// assert_eq!(STRIPE.exponent(Currency::from_code("ISK").unwrap()), 2);
/// assert_eq!(STRIPE.exponent(Currency::from_code("THB").unwrap()), 2);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ExponentOverrides(&'static [(&'static str, u8)]);

impl ExponentOverrides {
    pub const NONE: ExponentOverrides = ExponentOverrides(&[]);

    pub const fn new(table: &'static [(&'static str, u8)]) -> Self {
        ExponentOverrides(table)
    }

    /// The provider's exponent for `currency`: the override if listed, else ISO's.
    pub fn exponent(&self, currency: Currency) -> u8 {
        self.0
            .iter()
            .find(|(code, _)| *code == currency.code())
            .map_or(currency.exponent(), |(_, e)| *e)
    }

    /// `money` in the provider's units.
    pub fn to_provider(&self, money: Money) -> Result<i64, MoneyError> {
        money.to_provider_units(self.exponent(money.currency))
    }

    /// A provider amount back into ISO minor units.
    pub fn from_provider(&self, amount: i64, currency: Currency) -> Result<Money, MoneyError> {
        Money::from_provider_units(amount, currency, self.exponent(currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::from_code(code).expect("known currency")
    }

    #[test]
    fn currencies_come_from_iso_table() {
        assert_eq!(c("thb").exponent(), 2);
        assert_eq!(c("JPY").exponent(), 0);
        assert_eq!(c("KWD").exponent(), 3);
        assert_eq!(c("CLF").exponent(), 4);
        assert_eq!(c("ISK").exponent(), 0);
        assert!(matches!(
            Currency::from_code("XAU"),
            Err(MoneyError::NotPayable("XAU"))
        ));
        assert!(matches!(
            Currency::from_code("ABC"),
            Err(MoneyError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn display_groups_thousands_with_integers_only() {
        assert_eq!(Money::new(123_450, c("THB")).to_string(), "THB 1,234.50");
        assert_eq!(Money::new(1235, c("JPY")).to_string(), "JPY 1,235");
        assert_eq!(Money::new(5, c("THB")).to_string(), "THB 0.05");
        assert_eq!(Money::new(-50, c("THB")).to_string(), "THB -0.50");
        assert_eq!(
            Money::new(1_000_000_000, c("KWD")).to_string(),
            "KWD 1,000,000.000"
        );
        assert_eq!(
            Money::new(i64::MIN, c("JPY")).to_string(),
            "JPY -9,223,372,036,854,775,808"
        );
        assert_eq!(Money::new(100, c("USD")).decimal_string(), "1.00");
    }

    #[test]
    fn parse_is_exact() {
        assert_eq!(
            Money::parse("1234.5", c("THB")).unwrap().amount,
            MinorUnits(123_450)
        );
        assert_eq!(Money::parse("0.01", c("THB")).unwrap().amount, MinorUnits(1));
        assert_eq!(Money::parse(".5", c("THB")).unwrap().amount, MinorUnits(50));
        assert_eq!(Money::parse("-3", c("THB")).unwrap().amount, MinorUnits(-300));
        assert_eq!(Money::parse("1235", c("JPY")).unwrap().amount, MinorUnits(1235));
        assert!(matches!(
            Money::parse("1.001", c("THB")),
            Err(MoneyError::TooManyDecimals { max: 2, .. })
        ));
        assert!(matches!(
            Money::parse("1.5", c("JPY")),
            Err(MoneyError::TooManyDecimals { max: 0, .. })
        ));
        for bad in ["", ".", "1,000", "1e3", " 1", "1.2.3", "abc", "--1"] {
            assert!(
                matches!(Money::parse(bad, c("THB")), Err(MoneyError::InvalidAmount { .. })),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(
            Money::parse("92233720368547758.07", c("THB")).unwrap().amount,
            MinorUnits(i64::MAX)
        );
        assert_eq!(
            Money::parse("92233720368547758.08", c("THB")),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn checked_arithmetic_never_wraps() {
        assert_eq!(
            MinorUnits(i64::MAX).checked_add(MinorUnits(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            MinorUnits(i64::MIN).checked_sub(MinorUnits(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            MinorUnits(i64::MAX / 2 + 1).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            MinorUnits::checked_sum([MinorUnits(1), MinorUnits(2), MinorUnits(3)]),
            Ok(MinorUnits(6))
        );
        assert_eq!(
            MinorUnits::checked_sum([MinorUnits(i64::MAX), MinorUnits(1)]),
            Err(MoneyError::Overflow)
        );
        let thb = Money::new(1, c("THB"));
        assert!(matches!(
            thb.checked_add(Money::new(1, c("JPY"))),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn provider_exponents() {
        const STRIPE: ExponentOverrides = ExponentOverrides::new(&[("ISK", 2)]);
        const PAYPAL: ExponentOverrides = ExponentOverrides::new(&[("HUF", 0), ("TWD", 0)]);
        // ISK 1,000 (ISO: no decimals) is 100000 for Stripe.
        assert_eq!(STRIPE.to_provider(Money::new(1000, c("ISK"))), Ok(100_000));
        assert_eq!(
            STRIPE.from_provider(100_000, c("ISK")),
            Ok(Money::new(1000, c("ISK")))
        );
        assert!(STRIPE.from_provider(100_050, c("ISK")).is_err());
        // HUF 12.00 (ISO: 2 decimals) is "12" for PayPal; HUF 12.50 cannot be sent.
        let huf = Money::new(1200, c("HUF"));
        assert_eq!(
            huf.decimal_string_with_exponent(PAYPAL.exponent(huf.currency))
                .unwrap(),
            "12"
        );
        assert!(matches!(
            PAYPAL.to_provider(Money::new(1250, c("HUF"))),
            Err(MoneyError::NotRepresentable { .. })
        ));
        assert_eq!(PAYPAL.from_provider(12, c("HUF")), Ok(huf));
        assert_eq!(PAYPAL.to_provider(Money::new(12345, c("THB"))), Ok(12345));
    }
}
