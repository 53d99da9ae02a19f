//! The amounts the suite chooses and their expected wire forms, computed here with the suite's
//! own ISO 4217 table and integer arithmetic (never with an adapter's or the core's helpers).

use super::fixture::WireAmount;

/// One class of currencies: a name, candidates with their ISO 4217 decimals, and the amount
/// the suite asks for in minor units (non-round, so 1/100, halves and shifted decimals show).
pub struct Class {
    pub name: &'static str,
    pub candidates: &'static [(&'static str, u8)],
    pub minor: i64,
}

impl Class {
    /// The amount chosen for this class, or a skip naming the currencies none of which the
    /// fixture supports.
    pub(crate) fn chosen_or_skip(&self, chosen: Option<Chosen>) -> Result<Chosen, super::Verdict> {
        chosen.ok_or_else(|| {
            super::skip(format!(
                "the fixture supports none of {:?}",
                self.candidates.iter().map(|(c, _)| *c).collect::<Vec<_>>()
            ))
        })
    }
}

/// Two-, zero- and three-decimal currencies (ISO 4217, list one).
pub const CLASSES: [Class; 3] = [
    Class {
        name: "two_decimal",
        candidates: &[
            ("USD", 2),
            ("EUR", 2),
            ("THB", 2),
            ("GBP", 2),
            ("SGD", 2),
            ("AUD", 2),
        ],
        // 1,234.56
        minor: 123_456,
    },
    Class {
        name: "zero_decimal",
        candidates: &[("JPY", 0), ("KRW", 0), ("VND", 0), ("CLP", 0)],
        // 4,321
        minor: 4_321,
    },
    Class {
        name: "three_decimal",
        candidates: &[("KWD", 3), ("BHD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3)],
        // 12.340: Stripe (and its partners) take three-decimal amounts only with a last digit of 0.
        minor: 12_340,
    },
];

/// An amount the suite chose: a currency of a class, its ISO decimals, the provider's, the
/// amount in ISO minor units and as the provider must receive it.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub class: &'static str,
    pub code: &'static str,
    pub iso_decimals: u8,
    pub provider_decimals: u8,
    /// ISO minor units.
    pub minor: i64,
    /// Exactly as on the wire: `123456` or `1234.56`.
    pub wire: String,
}

fn pow10(n: u8) -> i64 {
    10_i64.pow(u32::from(n))
}

/// `value` (in units of 10^-decimals) as a plain decimal string.
pub fn decimal(value: i64, decimals: u8) -> String {
    if decimals == 0 {
        return value.to_string();
    }
    let p = pow10(decimals);
    format!(
        "{}.{:0width$}",
        value / p,
        value % p,
        width = usize::from(decimals)
    )
}

/// Picks a currency of `class` among `supported` (case-insensitive) and computes its wire form.
pub fn choose(
    class: &Class,
    supported: &[&'static str],
    overrides: &[(&'static str, u8)],
    form: WireAmount,
) -> Option<Chosen> {
    let (code, iso) = class
        .candidates
        .iter()
        .copied()
        .find(|(c, _)| supported.iter().any(|s| s.eq_ignore_ascii_case(c)))?;
    let provider = overrides
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map_or(iso, |(_, d)| *d);
    let (minor, units) = if provider >= iso {
        (class.minor, class.minor * pow10(provider - iso))
    } else {
        // The provider cannot express the last digits: ask for an amount it can.
        let step = pow10(iso - provider);
        let minor = class.minor / step * step;
        (minor, minor / step)
    };
    let wire = match form {
        WireAmount::MinorUnits => units.to_string(),
        WireAmount::Decimal => decimal(units, provider),
    };
    Some(Chosen {
        class: class.name,
        code,
        iso_decimals: iso,
        provider_decimals: provider,
        minor,
        wire,
    })
}

/// Whether `text` holds `wire` as a whole number (not as part of a longer one).
pub fn contains_number(text: &str, wire: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(wire).any(|(i, m)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + m.len()).copied();
        let after2 = bytes.get(i + m.len() + 1).copied();
        let digit_before = before.is_some_and(|b| b.is_ascii_digit() || b == b'.');
        let digit_after = after.is_some_and(|b| b.is_ascii_digit())
            || (after == Some(b'.') && after2.is_some_and(|b| b.is_ascii_digit()));
        !digit_before && !digit_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_are_the_suites_own() {
        let all = ["USD", "JPY", "KWD", "ISK"];
        let two = choose(&CLASSES[0], &all, &[], WireAmount::MinorUnits).unwrap();
        assert_eq!((two.code, two.wire.as_str()), ("USD", "123456"));
        let two = choose(&CLASSES[0], &all, &[], WireAmount::Decimal).unwrap();
        assert_eq!(two.wire, "1234.56");
        let zero = choose(&CLASSES[1], &all, &[], WireAmount::Decimal).unwrap();
        assert_eq!(zero.wire, "4321");
        let zero = choose(&CLASSES[1], &all, &[("JPY", 2)], WireAmount::MinorUnits).unwrap();
        assert_eq!((zero.minor, zero.wire.as_str()), (4321, "432100"));
        let three = choose(&CLASSES[2], &all, &[], WireAmount::Decimal).unwrap();
        assert_eq!(three.wire, "12.340");
        let three = choose(&CLASSES[2], &all, &[("KWD", 2)], WireAmount::Decimal).unwrap();
        assert_eq!((three.minor, three.wire.as_str()), (12_340, "12.34"));
        let three = choose(&CLASSES[2], &all, &[("KWD", 1)], WireAmount::MinorUnits).unwrap();
        assert_eq!((three.minor, three.wire.as_str()), (12_300, "123"));
        assert!(choose(&CLASSES[2], &["USD"], &[], WireAmount::Decimal).is_none());
    }

    #[test]
    fn numbers_are_found_whole() {
        assert!(contains_number("amount=123456&x=1", "123456"));
        assert!(contains_number("{\"value\":\"1234.56\"}", "1234.56"));
        assert!(!contains_number("amount=1234560", "123456"));
        assert!(!contains_number("amount=9123456", "123456"));
        assert!(!contains_number("{\"value\":\"4321.00\"}", "4321"));
        assert!(contains_number("receipt 4321.", "4321"));
    }
}
