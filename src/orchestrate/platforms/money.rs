//! Money, exact: [`Micros`] is an integer count of millionths of the account currency, the only
//! money type inside adforge's platform layer. Each client converts at its edge: Meta wants
//! integers in the currency's minor unit ([`Currency::exponent`], from ISO 4217), Google int64
//! micros written as JSON strings, TikTok floats in whole units. Every conversion is checked:
//! no NaN, no overflow, no silently dropped fraction of a minor unit.

use serde::{Deserialize, Serialize};

const MICROS_PER_UNIT: i64 = 1_000_000;

/// Millionths of the account currency's unit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Micros(pub i64);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {0:?} is not a decimal number with at most 6 decimals")]
    Syntax(String),
    #[error("amount {0} is not a finite number")]
    NotFinite(f64),
    #[error("amount {value} is beyond the largest amount, {max} units")]
    Overflow { value: String, max: i64 },
    #[error("amount {0} must not be negative")]
    Negative(Micros),
    #[error("amount {value} is not a whole number of {currency} minor units ({decimals} decimals)")]
    Inexact {
        value: Micros,
        currency: String,
        decimals: u8,
    },
    #[error("currency {0:?} is not a three-letter ISO 4217 code")]
    Currency(String),
}

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// Whole units, exactly.
    pub fn from_units(units: i64) -> Result<Self, MoneyError> {
        units
            .checked_mul(MICROS_PER_UNIT)
            .map(Micros)
            .ok_or_else(|| overflow(units.to_string()))
    }

    /// A decimal string such as `"12.34"`, `"-0.5"` or `"7"`, with at most 6 decimals.
    pub fn from_decimal_str(text: &str) -> Result<Self, MoneyError> {
        let syntax = || MoneyError::Syntax(text.to_string());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !all_digits(whole)
            || !all_digits(fraction)
            || fraction.len() > 6
        {
            return Err(syntax());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow(text.to_string()))?
        };
        let mut fraction_micros: i64 = 0;
        for (i, b) in fraction.bytes().enumerate() {
            fraction_micros += i64::from(b - b'0') * 10i64.pow(5 - i as u32);
        }
        let value = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(fraction_micros))
            .ok_or_else(|| overflow(text.to_string()))?;
        Ok(Micros(if negative { -value } else { value }))
    }

    /// Whole units as a float, rounded to the nearest micro; refuses NaN, infinities, overflow.
    pub fn from_f64(units: f64) -> Result<Self, MoneyError> {
        if !units.is_finite() {
            return Err(MoneyError::NotFinite(units));
        }
        let micros = (units * MICROS_PER_UNIT as f64).round();
        // i64::MAX as f64 rounds up to 2^63, which itself does not fit.
        if micros >= i64::MAX as f64 || micros < i64::MIN as f64 {
            return Err(overflow(units.to_string()));
        }
        Ok(Micros(micros as i64))
    }

    /// The same, for a budget: negative amounts are refused too.
    pub fn budget_from_decimal_str(text: &str) -> Result<Self, MoneyError> {
        Self::from_decimal_str(text)?.non_negative()
    }

    /// The same, for a budget: negative amounts are refused too.
    pub fn budget_from_f64(units: f64) -> Result<Self, MoneyError> {
        Self::from_f64(units)?.non_negative()
    }

    pub fn non_negative(self) -> Result<Self, MoneyError> {
        if self.0 < 0 {
            Err(MoneyError::Negative(self))
        } else {
            Ok(self)
        }
    }

    pub fn checked_add(self, other: Micros) -> Option<Micros> {
        self.0.checked_add(other.0).map(Micros)
    }

    /// Integer minor units of `currency` (Meta budgets); refuses a fraction of a minor unit.
    pub fn to_minor_units(self, currency: &Currency) -> Result<i64, MoneyError> {
        let per_minor = currency.micros_per_minor_unit();
        if self.0 % per_minor != 0 {
            return Err(MoneyError::Inexact {
                value: self,
                currency: currency.code().to_string(),
                decimals: currency.exponent(),
            });
        }
        Ok(self.0 / per_minor)
    }

    pub fn from_minor_units(minor: i64, currency: &Currency) -> Result<Self, MoneyError> {
        minor
            .checked_mul(currency.micros_per_minor_unit())
            .map(Micros)
            .ok_or_else(|| overflow(format!("{minor} {} minor units", currency.code())))
    }

    /// Google's int64 micros travel as JSON strings.
    pub fn to_google_string(self) -> String {
        self.0.to_string()
    }

    pub fn from_google_str(text: &str) -> Result<Self, MoneyError> {
        text.trim()
            .parse::<i64>()
            .map(Micros)
            .map_err(|_| MoneyError::Syntax(text.to_string()))
    }

    /// Whole units as a float (TikTok). Exact to the micro for amounts below 2^53 micros
    /// (about 9 billion units), which covers any budget.
    pub fn to_units_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_UNIT as f64
    }
}

impl std::fmt::Display for Micros {
    /// Whole units with six decimals, `-12.340000`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = MICROS_PER_UNIT as u64;
        write!(f, "{sign}{}.{:06}", abs / per, abs % per)
    }
}

fn overflow(value: String) -> MoneyError {
    MoneyError::Overflow {
        value,
        max: i64::MAX / MICROS_PER_UNIT,
    }
}

/// An ISO 4217 currency and the number of decimals of its minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency {
    code: String,
    exponent: u8,
}

/// ISO 4217 currencies without a minor unit in use.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// ISO 4217 currencies with thousandths.
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Currency {
    /// From a three-letter code (any case); every code not in the zero- or three-decimal tables
    /// has two decimals, as ISO 4217 gives for all other currencies in use.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 3 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::Currency(code.to_string()));
        }
        let exponent = if ZERO_DECIMALS.contains(&upper.as_str()) {
            0
        } else if THREE_DECIMALS.contains(&upper.as_str()) {
            3
        } else {
            2
        };
        Ok(Self {
            code: upper,
            exponent,
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// Decimals of the minor unit: 0 (JPY), 2 (USD), 3 (KWD).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Micros in one minor unit: 10,000 for USD, 1,000,000 for JPY, 1,000 for KWD.
    pub fn micros_per_minor_unit(&self) -> i64 {
        10i64.pow(6 - u32::from(self.exponent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn decimal_strings_parse_exactly() {
        assert_eq!(Micros::from_decimal_str("12.34"), Ok(Micros(12_340_000)));
        assert_eq!(Micros::from_decimal_str("0.000001"), Ok(Micros(1)));
        assert_eq!(Micros::from_decimal_str("-3"), Ok(Micros(-3_000_000)));
        assert_eq!(Micros::from_decimal_str(".5"), Ok(Micros(500_000)));
        for bad in ["", ".", "1.2345678", "1e3", "12,5", "abc", "--1"] {
            assert!(
                matches!(Micros::from_decimal_str(bad), Err(MoneyError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Micros::from_decimal_str("9300000000000000"),
            Err(MoneyError::Overflow { .. })
        ));
        assert_eq!(
            Micros::budget_from_decimal_str("-1.00"),
            Err(MoneyError::Negative(Micros(-1_000_000)))
        );
    }

    #[test]
    fn floats_are_checked() {
        assert_eq!(Micros::from_f64(12.34), Ok(Micros(12_340_000)));
        assert_eq!(Micros::from_f64(0.1 + 0.2), Ok(Micros(300_000)));
        assert!(matches!(
            Micros::from_f64(f64::NAN),
            Err(MoneyError::NotFinite(_))
        ));
        assert!(matches!(
            Micros::from_f64(f64::INFINITY),
            Err(MoneyError::NotFinite(_))
        ));
        assert!(matches!(
            Micros::from_f64(1e13),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(Micros::budget_from_f64(-0.01).is_err());
        assert_eq!(Micros(12_340_000).to_units_f64(), 12.34);
        assert_eq!(Micros(-1_500).to_string(), "-0.001500");
    }

    #[test]
    fn minor_units_follow_the_currency_exponent() {
        let m = Micros::from_decimal_str("1234.5").unwrap();
        assert_eq!(m.to_minor_units(&currency("usd")), Ok(123_450));
        assert_eq!(m.to_minor_units(&currency("KWD")), Ok(1_234_500));
        assert!(matches!(
            m.to_minor_units(&currency("JPY")),
            Err(MoneyError::Inexact { decimals: 0, .. })
        ));
        assert_eq!(
            Micros::from_units(1500)
                .unwrap()
                .to_minor_units(&currency("KRW")),
            Ok(1500)
        );
        assert_eq!(
            Micros::from_minor_units(1999, &currency("EUR")),
            Ok(Micros(19_990_000))
        );
        assert!(Micros::from_minor_units(i64::MAX, &currency("EUR")).is_err());
        assert!(Currency::from_code("US").is_err());
        assert!(Currency::from_code("U$D").is_err());
    }

    #[test]
    fn google_micros_are_strings() {
        assert_eq!(Micros(5_000_000).to_google_string(), "5000000");
        assert_eq!(Micros::from_google_str("1230000"), Ok(Micros(1_230_000)));
        assert!(Micros::from_google_str("1.5").is_err());
    }
}
