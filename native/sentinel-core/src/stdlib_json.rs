//! The text of Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))`.
//!
//! The control planes chain their decision records by the SHA-256 of exactly that text
//! (docs/audit-format.md, control payloads), so a native encoder must write it byte for
//! byte: strings with `ensure_ascii` escapes (lowercase `\uXXXX`, surrogate pairs above
//! the BMP) and floats as Python's `repr` (shortest round-trip digits, a tie to the even
//! digit; exponent form below 1e-4 and from 1e16, with a sign and at least two exponent
//! digits; `NaN`, `Infinity`).
//! The Python reference is the standard library itself; a hypothesis test pins the two.

use crate::canonical::{prefer_even_on_tie, StackText};

/// Writes `s` as Python's `json` writes a string with `ensure_ascii=True`.
pub fn write_ascii_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if bytes
        .iter()
        .all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            ' '..='~' => out.push(ch as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    push_unit(out, *unit);
                }
            }
        }
    }
    out.push(b'"');
}

fn push_unit(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12u16, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// The `v` with `x = m * 2^v`, `m` odd (`x` finite and not zero).
fn two_adic_valuation(x: f64) -> i32 {
    let bits = x.to_bits();
    let biased = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    exponent + i32::try_from(mantissa.trailing_zeros()).unwrap_or(0)
}

/// The shortest digits that round-trip `x` (finite, not negative) into `digits`, without
/// the point or leading and trailing zeros ("0" for zero): their count and the decimal
/// exponent of the first, as `{:e}` gives them ("d.ddde[-]x"). Ryu writes the digits (the
/// shortest, and of those the closest to `x`, as Python's repr picks them); its text is
/// read back into digits and an exponent, whatever notation it chose.
fn shortest_digits(x: f64, digits: &mut [u8; 24]) -> (usize, i32) {
    let mut text = ryu::Buffer::new();
    let text = text.format_finite(x).as_bytes();
    let (mantissa, power) = match text.iter().position(|&b| b == b'e') {
        Some(at) => (&text[..at], parse_exponent(&text[at + 1..])),
        None => (text, 0),
    };
    let integer_digits = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let (mut count, mut leading_zeros, mut seen) = (0usize, 0i32, false);
    for &byte in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if !seen && byte == b'0' {
            leading_zeros += 1;
            continue;
        }
        seen = true;
        digits[count] = byte;
        count += 1;
    }
    while count > 1 && digits[count - 1] == b'0' {
        count -= 1;
    }
    if count == 0 {
        digits[0] = b'0';
        return (1, 0);
    }
    let integer_digits = i32::try_from(integer_digits).unwrap_or(0);
    (count, integer_digits - 1 - leading_zeros + power)
}

/// Ryu's exponent text ("16", "-7") as a number.
fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, magnitude) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let value = magnitude
        .iter()
        .fold(0i32, |acc, &b| acc * 10 + i32::from(b - b'0'));
    if negative {
        -value
    } else {
        value
    }
}

/// Writes `x` (finite, not negative) as Ryu does when that is already Python's repr, and
/// says whether it did: from 1e-4 up to below 1e16 both write the shortest digits
/// positionally with at least one digit after the point ("100.0", "0.0001"), unless the
/// shortest digits tie, which Python breaks to the even one (then the caller's general
/// path checks). Most of a record's floats (measurements, baselines) take this path.
fn write_positional_directly(out: &mut Vec<u8>, x: f64) -> bool {
    if !(1e-4..1e16).contains(&x) {
        return false;
    }
    let mut text = ryu::Buffer::new();
    let text = text.format_finite(x).as_bytes();
    let Some(point) = text.iter().position(|&b| b == b'.') else {
        return false;
    };
    if text.contains(&b'e') {
        return false;
    }
    // The significant digits: from the first non-zero digit to the last.
    let Some(first) = text.iter().position(|&b| (b'1'..=b'9').contains(&b)) else {
        return false;
    };
    let Some(last) = text.iter().rposition(|&b| (b'1'..=b'9').contains(&b)) else {
        return false;
    };
    let digits_between = |from: usize, to: usize| {
        i32::try_from(
            text[from..=to]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count(),
        )
        .unwrap_or(0)
    };
    let count = digits_between(first, last);
    let point = i32::try_from(point).unwrap_or(0);
    let first = i32::try_from(first).unwrap_or(0);
    // The decimal exponent of the first significant digit ("d.ddde[-]x").
    let exponent = if first < point {
        point - first - 1
    } else {
        point - first
    };
    if two_adic_valuation(x) == exponent - count {
        return false; // a possible tie: the general path breaks it as Python does
    }
    out.extend_from_slice(text);
    true
}

/// Writes `x` as Python's `float.__repr__` (and `json`'s `NaN`, `Infinity`, `-Infinity`).
pub fn write_repr_f64(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        out.extend_from_slice(if x.is_nan() {
            &b"NaN"[..]
        } else if x > 0.0 {
            &b"Infinity"[..]
        } else {
            &b"-Infinity"[..]
        });
        return;
    }
    if x.is_sign_negative() {
        out.push(b'-');
    }
    if write_positional_directly(out, x.abs()) {
        return;
    }
    let mut buffer = [0u8; 24];
    let (count, exponent) = shortest_digits(x.abs(), &mut buffer);
    let digits = &mut buffer[..count];
    // A tie puts a 5 at 10^(exponent - count), which makes that the 2-adic valuation of
    // x: only then the (costly) exact check can change anything.
    if x != 0.0 && two_adic_valuation(x) == exponent - i32::try_from(count).unwrap_or(0) {
        prefer_even_on_tie(digits, exponent + 1, x.abs());
    }
    let digits = &digits[..];
    // Python's repr: positional from 1e-4 up to below 1e16, else an exponent.
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let point = usize::try_from(exponent).unwrap_or(0) + 1;
            if digits.len() <= point {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', point - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..point]);
                out.push(b'.');
                out.extend_from_slice(&digits[point..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            let zeros = usize::try_from(-exponent - 1).unwrap_or(0);
            out.extend(std::iter::repeat_n(b'0', zeros));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(
            StackText::format(format_args!("{magnitude}"))
                .as_str()
                .as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        let mut out = Vec::new();
        write_repr_f64(&mut out, x);
        String::from_utf8(out).expect("ascii")
    }

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        write_ascii_string(&mut out, s);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn floats_as_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.25e100, "1.25e+100"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            // Exactly halfway between ...312.2 and ...312.3: Python's repr takes the even.
            (2f64.powi(49) + 0.25, "562949953421312.2"),
            (2f64.powi(49) + 0.75, "562949953421312.8"),
            (2.5, "2.5"),
            (0.5, "0.5"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (value, text) in cases {
            assert_eq!(repr(value), text, "{value:e}");
        }
    }

    #[test]
    fn strings_as_python_ensure_ascii() {
        assert_eq!(string("AGENT-0001"), "\"AGENT-0001\"");
        assert_eq!(
            string("a\"b\\c\n\t\u{1}\u{7f}"),
            "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\""
        );
        assert_eq!(string("é😀"), "\"\\u00e9\\ud83d\\ude00\"");
    }
}
