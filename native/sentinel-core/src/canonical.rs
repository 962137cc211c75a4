//! Canonical JSON, the byte encoding that audit hashes are computed over.
//!
//! The rules are RFC 8785 (JSON Canonicalization Scheme) with one stated difference:
//! integers are written exactly, in decimal, at any magnitude that fits 64 bits, where JCS
//! would first round them to an IEEE double. Everything else follows JCS:
//!
//! * no whitespace; object members sorted by the UTF-16 code units of their names;
//! * strings escape `"` and `\`, `\b \f \n \r \t`, other controls below U+0020 as `\u00xx`
//!   (lower-case hex); every other character is written as UTF-8;
//! * non-integral numbers use ECMAScript's `Number.prototype.toString` (shortest round-trip
//!   digits; exponent form below 1e-6 and from 1e21); NaN and infinities are refused.
//!
//! `docs/audit-format.md` states the same rules for independent verifiers.

use std::cmp::Ordering;

/// A JSON value, for building canonical documents from Rust.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A signed integer, written exactly.
    Int(i64),
    /// An unsigned integer above `i64::MAX`, written exactly.
    UInt(u64),
    /// A double, written as ECMAScript would.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Value>),
    /// An object; member order is irrelevant, the encoder sorts.
    Object(Vec<(String, Value)>),
}

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalError {
    /// NaN or an infinity.
    NonFiniteNumber,
    /// Two members of one object share a name.
    DuplicateKey(String),
}

/// Compares object member names by UTF-16 code units, as RFC 8785 section 3.2.3 requires.
pub fn utf16_key_cmp(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order is code point order, which is UTF-16 order unless a supplementary
    // character (4 UTF-8 bytes, lead byte 0xF0-0xF4) meets one of U+E000-U+FFFF: without
    // such lead bytes the bytes compare as the code units do, with no re-encoding.
    if !a.bytes().chain(b.bytes()).any(|byte| byte >= 0xF0) {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lower-case hex (how hashes appear in canonical documents).
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for byte in bytes {
        out.push(HEX_DIGITS[(byte >> 4) as usize]);
        out.push(HEX_DIGITS[(byte & 0xf) as usize]);
    }
}

/// Appends `s` as a canonical JSON string literal.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            push_hex(out, &[byte]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A short text formatted on the stack: numbers are written per value in hot loops (the
/// audit verifier checks every double of every event), where a heap string each is costly.
pub(crate) struct StackText {
    bytes: [u8; 48],
    len: usize,
}

impl StackText {
    /// Formats `args`; the texts formatted here (a 64-bit number, a shortest double, a
    /// digit string with an exponent) are at most 40 bytes.
    pub(crate) fn format(args: std::fmt::Arguments<'_>) -> Self {
        let mut text = StackText {
            bytes: [0; 48],
            len: 0,
        };
        std::fmt::Write::write_fmt(&mut text, args).expect("short numbers fit 48 bytes");
        text
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("formatted text is UTF-8")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends an integer in exact decimal.
pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(StackText::format(format_args!("{value}")).as_bytes());
}

/// Appends an unsigned integer in exact decimal.
pub fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(StackText::format(format_args!("{value}")).as_bytes());
}

/// Decimal digits that always survive a round trip through an IEEE 754 double (C's DBL_DIG).
const DBL_DIG: usize = 15;

/// ECMAScript (Number::toString, step 5): when two shortest digit strings both round-trip
/// and lie equally close to the exact value, the even one is written. Rust's shortest
/// formatting does not promise that tie-break, so a last digit that is odd is checked
/// against its even neighbours, exactly (ties are rare; the exact expansion is only
/// computed when a neighbour round-trips too).
pub(crate) fn prefer_even_on_tie(digits: &mut [u8], n: i32, value: f64) {
    // Two decimals of at most 15 significant digits (DBL_DIG) never round to one normal
    // double, so a neighbour of a short form cannot round-trip too: no tie to break.
    // (Subnormals carry fewer digits: 4e-324 and 6e-324 both read as 5e-324.)
    if digits.len() <= DBL_DIG && value >= f64::MIN_POSITIVE {
        return;
    }
    prefer_even_on_tie_checked(digits, n, value);
}

fn prefer_even_on_tie_checked(digits: &mut [u8], n: i32, value: f64) {
    let Some(&last) = digits.last() else { return };
    if (last - b'0') % 2 == 0 {
        return;
    }
    let as_f64 = |ds: &[u8]| -> Option<f64> {
        let digits = std::str::from_utf8(ds).expect("ASCII digits");
        StackText::format(format_args!("0.{digits}e{n}"))
            .as_str()
            .parse::<f64>()
            .ok()
    };
    for step in [-1i8, 1] {
        let neighbour = (last - b'0') as i8 + step;
        if !(0..=9).contains(&neighbour) {
            continue;
        }
        let mut candidate = [0u8; 24];
        candidate[..digits.len()].copy_from_slice(digits);
        candidate[digits.len() - 1] = b'0' + neighbour as u8;
        if as_f64(&candidate[..digits.len()]) != Some(value) {
            continue;
        }
        let candidate = candidate[..digits.len()].to_vec();
        // Both round-trip (rare): compare with the exact expansion of the double, whose
        // longest form has 767 significant digits.
        let exact = format!("{:.800e}", value);
        let exact_digits: Vec<u8> = exact
            .split_once('e')
            .expect("exponent")
            .0
            .bytes()
            .filter(|b| *b != b'.')
            .collect();
        let exact_digits = {
            let end = exact_digits
                .iter()
                .rposition(|b| *b != b'0')
                .map_or(1, |i| i + 1);
            &exact_digits[..end]
        };
        // A tie: the exact value is the midpoint, the lower string followed by a 5.
        let mut midpoint = if step < 0 {
            candidate.clone()
        } else {
            digits.to_vec()
        };
        midpoint.push(b'5');
        let same_exponent = format!("{:e}", value)
            .split_once('e')
            .map(|x| x.1.to_owned())
            == exact.split_once('e').map(|x| x.1.to_owned());
        if same_exponent && exact_digits == midpoint.as_slice() {
            *digits.last_mut().expect("not empty") = b'0' + neighbour as u8;
            return;
        }
    }
}

/// Appends a double as ECMAScript's `Number.prototype.toString` writes it.
pub fn write_f64(out: &mut Vec<u8>, value: f64) -> Result<(), CanonicalError> {
    if !value.is_finite() {
        return Err(CanonicalError::NonFiniteNumber);
    }
    if value == 0.0 {
        out.push(b'0'); // also for -0.0, as ECMAScript does
        return Ok(());
    }
    if value < 0.0 {
        out.push(b'-');
    }
    // `{:e}` gives the shortest digits that round-trip, as "d.ddde[-]x" (at most 17 digits).
    let sci = StackText::format(format_args!("{:e}", value.abs()));
    let (mantissa, exponent) = sci
        .as_str()
        .split_once('e')
        .expect("{:e} always has an exponent");
    let mut digit_buffer = [0u8; 24];
    let mut count = 0;
    for byte in mantissa.bytes().filter(|b| *b != b'.') {
        digit_buffer[count] = byte;
        count += 1;
    }
    let digits = &mut digit_buffer[..count];
    let k = count as i32;
    let n = exponent
        .parse::<i32>()
        .expect("{:e} exponent is an integer")
        + 1;
    prefer_even_on_tie(digits, n, value.abs());
    let digits = &digits[..];
    if k <= n && n <= 21 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.extend_from_slice(&digits[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-n) as usize));
        out.extend_from_slice(digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if n > 0 { b'+' } else { b'-' });
        write_i64(out, i64::from((n - 1).abs()));
    }
    Ok(())
}

/// Appends the canonical encoding of `value`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => write_i64(out, *i),
        Value::UInt(u) => write_u64(out, *u),
        Value::Float(f) => write_f64(out, *f)?,
        Value::Str(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<&(String, Value)> = members.iter().collect();
            sorted.sort_by(|a, b| utf16_key_cmp(&a.0, &b.0));
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                return Err(CanonicalError::DuplicateKey(pair[0].0.clone()));
            }
            out.push(b'{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// The canonical encoding of `value`.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, x).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn shortest_ties_go_to_the_even_digit() {
        // 562949953421312.25 is exactly halfway between ...312.2 and ...312.3.
        assert_eq!(num(562949953421312.2), "562949953421312.2");
        assert_eq!(num(562949953421312.3), "562949953421312.2");
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Values from RFC 8785 appendix B and the ECMAScript specification.
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (0.1, "0.1"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (4.5, "4.5"),
            (2e-3, "0.002"),
            (9007199254740994.0, "9007199254740994"),
            (333333333.3333333, "333333333.3333333"),
            (1.2345e25, "1.2345e+25"),
        ];
        for (value, want) in cases {
            assert_eq!(num(value), want, "{value:e}");
        }
        assert_eq!(
            write_f64(&mut Vec::new(), f64::NAN),
            Err(CanonicalError::NonFiniteNumber)
        );
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        let mut out = Vec::new();
        write_string(
            &mut out,
            "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀\u{2028}",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é€😀\u{2028}\""
        );
    }

    #[test]
    fn members_sort_by_utf16_code_units() {
        // RFC 8785 section 3.2.3 example: U+20AC sorts after U+1F600 in UTF-16.
        let doc = Value::Object(vec![
            ("\u{20ac}".into(), Value::Str("Euro Sign".into())),
            ("\r".into(), Value::Str("Carriage Return".into())),
            (
                "\u{fb33}".into(),
                Value::Str("Hebrew Letter Dalet With Dagesh".into()),
            ),
            ("1".into(), Value::Str("One".into())),
            (
                "\u{1f600}".into(),
                Value::Str("Emoji: Grinning Face".into()),
            ),
            ("\u{80}".into(), Value::Str("Control".into())),
            (
                "\u{f6}".into(),
                Value::Str("Latin Small Letter O With Diaeresis".into()),
            ),
        ]);
        let text = String::from_utf8(to_canonical(&doc).unwrap()).unwrap();
        let order: Vec<&str> = text
            .split("\":\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let doc = Value::Object(vec![("a".into(), Value::Null), ("a".into(), Value::Null)]);
        assert_eq!(
            to_canonical(&doc),
            Err(CanonicalError::DuplicateKey("a".into()))
        );
    }

    fn shortest_digits(value: f64) -> (Vec<u8>, i32) {
        let sci = format!("{:e}", value);
        let (mantissa, exponent) = sci.split_once('e').unwrap();
        let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
        (digits, exponent.parse::<i32>().unwrap() + 1)
    }

    #[test]
    fn subnormal_ties_still_go_to_the_even_digit() {
        assert_eq!(num(5e-324), "5e-324");
        assert_eq!(num(1.5e-323), "1.5e-323");
    }

    proptest::proptest! {
        /// The short-form shortcut never skips a tie the exact check would break.
        #[test]
        fn tie_shortcut_agrees_with_the_exact_check(
            bits in proptest::prelude::any::<u64>(),
            small in 1u64..100_000,
            decimal in 1u32..1_000_000_000,
            scale in -30i32..30,
        ) {
            let decimal = f64::from(decimal) * 10f64.powi(scale);
            for value in [f64::from_bits(bits).abs(), f64::from_bits(small), decimal] {
                if !value.is_finite() || value == 0.0 {
                    continue;
                }
                let (digits, n) = shortest_digits(value);
                let (mut fast, mut exact) = (digits.clone(), digits);
                prefer_even_on_tie(&mut fast, n, value);
                prefer_even_on_tie_checked(&mut exact, n, value);
                proptest::prop_assert_eq!(fast, exact, "{:e}", value);
            }
        }

        /// The byte-order shortcut agrees with comparing UTF-16 code units, on keys drawn
        /// around the boundaries that matter (ASCII, U+E000-U+FFFF, supplementary).
        #[test]
        fn key_order_shortcut_is_utf16_order(
            a in "[a-z\u{e000}-\u{e002}\u{fffd}\u{10000}\u{1f600}\u{7f}\u{80}]{0,6}",
            b in "[a-z\u{e000}-\u{e002}\u{fffd}\u{10000}\u{1f600}\u{7f}\u{80}]{0,6}",
        ) {
            proptest::prop_assert_eq!(
                utf16_key_cmp(&a, &b),
                a.encode_utf16().cmp(b.encode_utf16())
            );
        }
    }
}
