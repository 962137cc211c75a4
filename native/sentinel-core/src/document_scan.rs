//! The fast path of the document rules: one pass over the stored bytes that accepts a
//! document only when it is canonical and passes every member rule.
//!
//! `document::check_document` parses into a tree, re-encodes it and compares bytes; that is
//! the definition, and it stays the path for every document this scanner does not accept.
//! The scanner decides the common case without building anything: when the bytes follow
//! the canonical grammar token by token (no whitespace, members strictly sorted by UTF-16
//! code units, only the escapes the encoder writes, integers in decimal, doubles as
//! ECMAScript writes them), re-encoding their parse gives back the same bytes, so they are
//! canonical. Anything else (an unusual escape in a member, a number beyond 64 bits, a rule
//! broken) returns `None` and the tree-building path reports exactly what is wrong.

use std::cmp::Ordering;
use std::ops::Range;

use crate::canonical::{utf16_key_cmp, write_f64};
use crate::document::{MAX_EVENT_BYTES, MAX_ID_CHARS, MAX_NODE_CHARS, MAX_PAYLOAD_DEPTH, MEMBERS};

/// What a well-formed canonical document holds that the walk uses, as byte ranges into it
/// (the members concerned hold no escapes, so their bytes are their text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// `event_id`.
    pub event_id: Range<usize>,
    /// `position`.
    pub position: i64,
    /// `stream`.
    pub stream: Range<usize>,
    /// `stream_rev`.
    pub stream_rev: i64,
    /// `lamport`.
    pub lamport: i64,
    /// `type`.
    pub type_: Range<usize>,
    /// `correlation_id`, `None` for null.
    pub correlation_id: Option<Range<usize>>,
    /// `idempotency_key`, `None` for null.
    pub idempotency_key: Option<Range<usize>>,
    /// `prev_hash`.
    pub prev_hash: Range<usize>,
}

/// One member value as the scanner saw it.
enum Token {
    Null,
    /// A canonical integer; `None` when it lies above `i64::MAX`.
    Int(Option<i64>),
    /// A string without escapes.
    Plain(Range<usize>),
    /// An object.
    Object,
    /// Anything else that is canonical (booleans, arrays, doubles, escaped strings).
    Other,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    scratch: Vec<u8>,
}

/// The two characters after `\u00` that the encoder writes: controls without a short escape.
fn canonical_u_escape(high: u8, low: u8) -> bool {
    let value = match (high, low) {
        (b'0' | b'1', b'0'..=b'9') => (high - b'0') * 16 + (low - b'0'),
        (b'0' | b'1', b'a'..=b'f') => (high - b'0') * 16 + (low - b'a' + 10),
        _ => return false,
    };
    !matches!(value, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string at `self.at`: its content range and whether it holds escapes.
    fn string(&mut self) -> Option<(Range<usize>, bool)> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => return Some((start..self.at - 1, escaped)),
                0x00..=0x1f => return None,
                b'\\' => {
                    escaped = true;
                    match self.peek()? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                            if !(hex[0] == b'0'
                                && hex[1] == b'0'
                                && canonical_u_escape(hex[2], hex[3]))
                            {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number at `self.at`, when it is written canonically.
    fn number(&mut self) -> Option<Token> {
        let start = self.at;
        let negative = self.eat(b'-').is_some();
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut integral = true;
        if self.eat(b'.').is_some() {
            integral = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        if !integral && short_fixed_decimal(&self.bytes[start..self.at]) {
            return Some(Token::Other);
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        if integral {
            // Integers are written exactly within 64 bits; "-0" and larger magnitudes are
            // read as doubles and left to the tree-building path.
            if negative {
                let value: i64 = text.parse().ok()?;
                return (value != 0).then_some(Token::Int(Some(value)));
            }
            let value: u64 = text.parse().ok()?;
            return Some(Token::Int(i64::try_from(value).ok()));
        }
        let value: f64 = text.parse().ok()?;
        self.scratch.clear();
        write_f64(&mut self.scratch, value).ok()?;
        (self.scratch == text.as_bytes()).then_some(Token::Other)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A value at `self.at`; a container is at nesting `level` (the payload object is 1).
    fn value(&mut self, level: usize) -> Option<Token> {
        match self.peek()? {
            b'{' => self.object(level).map(|()| Token::Object),
            b'[' => self.array(level).map(|()| Token::Other),
            b'"' => self.string().map(|(range, escaped)| {
                if escaped {
                    Token::Other
                } else {
                    Token::Plain(range)
                }
            }),
            b't' => self.literal(b"true").map(|()| Token::Other),
            b'f' => self.literal(b"false").map(|()| Token::Other),
            b'n' => self.literal(b"null").map(|()| Token::Null),
            _ => self.number(),
        }
    }

    fn array(&mut self, level: usize) -> Option<()> {
        if level > MAX_PAYLOAD_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(level + 1)?;
            if self.eat(b']').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }

    fn object(&mut self, level: usize) -> Option<()> {
        if level > MAX_PAYLOAD_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut previous: Option<Range<usize>> = None;
        loop {
            let (name, escaped) = self.string()?;
            if escaped {
                return None;
            }
            if let Some(previous) = previous {
                let order = names_order(&self.bytes[previous], &self.bytes[name.clone()])?;
                if order != Ordering::Less {
                    return None;
                }
            }
            previous = Some(name);
            self.eat(b':')?;
            self.value(level + 1)?;
            if self.eat(b'}').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }
}

/// The canonical order of two member names given as UTF-8 without escapes.
fn names_order(a: &[u8], b: &[u8]) -> Option<Ordering> {
    if a.is_ascii() && b.is_ascii() {
        return Some(a.cmp(b));
    }
    Some(utf16_key_cmp(
        std::str::from_utf8(a).ok()?,
        std::str::from_utf8(b).ok()?,
    ))
}

fn lower_hex(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'a'..=b'f')
}

/// `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
/// Whether `text` (a JSON number) is a decimal that ECMAScript writes back as it is, decided
/// without converting it: fixed notation, no trailing zero in the fraction, at most 15
/// significant digits and at most five zeros after `0.`. Two decimals of at most 15
/// significant digits never round to the same double (`DBL_DIG`), so the shortest digits
/// that round-trip are these very digits, and ECMAScript writes numbers from 1e-6 up to
/// 1e21 in fixed notation. `false` only means "not decided here": the caller then
/// converts and compares (a proptest pins the two).
fn short_fixed_decimal(text: &[u8]) -> bool {
    let unsigned = text.strip_prefix(b"-").unwrap_or(text);
    let Some(dot) = unsigned.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (whole, fraction) = (&unsigned[..dot], &unsigned[dot + 1..]);
    if whole.is_empty()
        || fraction.last().is_none_or(|&b| b == b'0')
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
    {
        return false;
    }
    if whole == b"0" {
        let zeros = fraction.iter().take_while(|&&b| b == b'0').count();
        zeros <= 5 && fraction.len() - zeros <= 15
    } else {
        whole[0] != b'0' && whole.len() + fraction.len() <= 15
    }
}

fn is_uuid7(text: &[u8]) -> bool {
    text.len() == 36
        && text.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            14 => b == b'7',
            19 => matches!(b, b'8' | b'9' | b'a' | b'b'),
            _ => lower_hex(b),
        })
}

/// `^[0-9a-f]{64}$`
fn is_hash(text: &[u8]) -> bool {
    text.len() == 64 && text.iter().all(|&b| lower_hex(b))
}

/// `^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$`
fn is_stream(text: &[u8]) -> bool {
    matches!(text.first(), Some(b) if b.is_ascii_alphanumeric())
        && text.len() <= 128
        && text[1..].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'@' | b'-')
        })
}

/// `^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,7}$`, at most 64 characters.
fn is_type(text: &[u8]) -> bool {
    let word = |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_');
    let mut parts = text.split(|b| *b == b'.');
    let first_ok = parts
        .next()
        .is_some_and(|first| matches!(first.first(), Some(b'a'..=b'z')) && first.iter().all(word));
    let mut rest = 0;
    first_ok
        && text.len() <= crate::document::MAX_TYPE_CHARS
        && parts.all(|part| {
            rest += 1;
            !part.is_empty() && part.iter().all(word)
        })
        && rest <= 7
}

fn chars(text: &[u8]) -> usize {
    text.iter().filter(|b| (**b as i8) >= -0x40).count()
}

fn natural(token: &Token) -> Option<i64> {
    match token {
        Token::Int(Some(value)) if *value >= 0 => Some(*value),
        _ => None,
    }
}

fn optional_id(token: &Token, bytes: &[u8]) -> Option<Option<Range<usize>>> {
    match token {
        Token::Null => Some(None),
        Token::Plain(range) if (1..=MAX_ID_CHARS).contains(&chars(&bytes[range.clone()])) => {
            Some(Some(range.clone()))
        }
        _ => None,
    }
}

/// The facts of `bytes` when they are a canonical document that passes every rule of
/// sections 1 and 2; `None` when the full check must decide.
pub fn scan_document(bytes: &[u8]) -> Option<Scanned> {
    if bytes.len() > MAX_EVENT_BYTES || std::str::from_utf8(bytes).is_err() {
        return None;
    }
    let mut scanner = Scanner {
        bytes,
        at: 0,
        scratch: Vec::new(),
    };
    scanner.eat(b'{')?;
    let mut tokens: [Token; 15] = std::array::from_fn(|_| Token::Other);
    for (index, name) in MEMBERS.iter().enumerate() {
        if index > 0 {
            scanner.eat(b',')?;
        }
        let (key, _) = scanner.string()?;
        if &bytes[key] != name.as_bytes() {
            return None;
        }
        scanner.eat(b':')?;
        tokens[index] = scanner.value(1)?;
    }
    scanner.eat(b'}')?;
    if scanner.at != bytes.len() {
        return None;
    }
    let [causation_id, correlation_id, event_id, idempotency_key, lamport, node, payload, position, prev_hash, stream, stream_rev, tick, type_, v, wall_ns] =
        tokens;
    let plain = |token: &Token, rule: fn(&[u8]) -> bool| match token {
        Token::Plain(range) if rule(&bytes[range.clone()]) => Some(range.clone()),
        _ => None,
    };
    if !matches!(v, Token::Int(Some(1))) {
        return None;
    }
    let event_id = plain(&event_id, is_uuid7)?;
    let position = natural(&position)?;
    let stream_rev = natural(&stream_rev)?;
    natural(&wall_ns)?;
    let lamport = natural(&lamport).filter(|l| *l >= 1)?;
    let stream = plain(&stream, is_stream)?;
    let type_ = plain(&type_, is_type)?;
    plain(&node, |text| (1..=MAX_NODE_CHARS).contains(&chars(text)))?;
    if !matches!(tick, Token::Null) {
        natural(&tick)?;
    }
    let correlation_id = optional_id(&correlation_id, bytes)?;
    optional_id(&causation_id, bytes)?;
    let idempotency_key = optional_id(&idempotency_key, bytes)?;
    let prev_hash = plain(&prev_hash, is_hash)?;
    if !matches!(payload, Token::Object) {
        return None;
    }
    Some(Scanned {
        event_id,
        position,
        stream,
        stream_rev,
        lamport,
        type_,
        correlation_id,
        idempotency_key,
        prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{scan_document, short_fixed_decimal};
    use crate::canonical::write_f64;
    use crate::document::{check_document, check_document_fully};

    /// Member values: valid ones, and ones that break a rule or the canonical form.
    const VALUES: [&[&str]; 15] = [
        &["null", r#""c""#, r#""""#, r#""\n""#, "1"],
        &["null", r#""corr-1""#, r#""é😀""#, r#""\u0061""#, "[]"],
        &[
            r#""01934b6e-5a00-7000-8000-000000000001""#,
            r#""01934b6e-5a00-6000-8000-000000000001""#,
            r#""01934B6E-5a00-7000-8000-000000000001""#,
            r#""01934b6e-5a00-7000-c000-000000000001""#,
            r#""01934b6e-5a00-7000-8000-0000000000011""#,
        ],
        &["null", r#""k""#, r#""\u001f""#, r#""\u001F""#, "true"],
        &[
            "1",
            "0",
            "-1",
            "9223372036854775807",
            "9223372036854775808",
            "1.5",
            "1e2",
        ],
        &[r#""host-a""#, r#""""#, r#""h\tb""#, r#""h\/b""#, r#""ü""#],
        &[
            r#"{"a":[1,2.5]}"#,
            r#"{}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"\r":1,"1":2,"€":3,"😀":4,"דּ":5}"#,
            r#"{"€":1,"😀":2}"#,
            r#"{"x":[[[[[[[[]]]]]]]]}"#,
            r#"{"x":1e21,"y":1e+21,"z":0.000001,"w":1e-7,"v":-0,"u":-0.0}"#,
            r#"{"x":18446744073709551615,"y":18446744073709551616,"z":100000000000000000000}"#,
            r#"{"x":"\u007f\b\f\u0000\u0008","y":"\ud83d\ude00"}"#,
            r#"[]"#,
            "null",
        ],
        &["0", "7", "-0", "01", "7.0", r#""7""#],
        &[
            r#""0000000000000000000000000000000000000000000000000000000000000000""#,
            r#""000000000000000000000000000000000000000000000000000000000000000g""#,
            r#""00""#,
        ],
        &[
            r#""agent/AGENT-07""#,
            r#""_a""#,
            r#""a b""#,
            r#""a@b:c.d-e_f/g""#,
            r#""aé""#,
        ],
        &["0", "3", "-3", "null"],
        &["120", "null", "-1", "false"],
        &[
            r#""sandbox.violation""#,
            r#""a.b.c.d.e.f.g.h""#,
            r#""a.b.c.d.e.f.g.h.i""#,
            r#""a..b""#,
            r#""A.b""#,
            r#""a.""#,
            r#""_a""#,
        ],
        &["1", "2", "1.0", r#""1""#, "01"],
        &["1732780800000000000", "-5", "0"],
    ];

    fn document(choices: &[usize], gap: &str, extra: Option<&str>) -> String {
        let mut out = String::from("{");
        if let Some(extra) = extra {
            out.push_str(extra);
            out.push(',');
        }
        for (index, name) in crate::document::MEMBERS.iter().enumerate() {
            if index > 0 {
                out.push(',');
                out.push_str(gap);
            }
            let options = VALUES[index];
            out.push_str(&format!(
                "\"{name}\":{}",
                options.get(choices[index]).unwrap_or(&options[0])
            ));
        }
        out.push('}');
        out
    }

    fn equal_to_the_full_check(bytes: &[u8]) {
        let mut fast = check_document(bytes);
        fast.scanned = None;
        assert_eq!(
            fast,
            check_document_fully(bytes),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn the_usual_document_takes_the_fast_path() {
        let doc = document(&[0; 15], "", None);
        assert!(scan_document(doc.as_bytes()).is_some());
        equal_to_the_full_check(doc.as_bytes());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]
        #[test]
        fn the_scanner_never_changes_a_finding(
            choices in proptest::collection::vec(0_usize..24, 15),
            spaced in proptest::bool::weighted(0.05),
            extra in proptest::option::weighted(0.05, proptest::sample::select(vec![r#""a":1"#, r#""zz":1"#])),
            cut in proptest::option::weighted(0.1, 0_usize..400),
            splice in proptest::sample::select(vec!["", " ", "\"", "\\", ",", "}", "\u{1}", "1", "é"]),
        ) {
            let mut bytes = document(&choices, if spaced { " " } else { "" }, extra).into_bytes();
            if let Some(cut) = cut {
                let cut = cut.min(bytes.len());
                bytes.splice(cut..cut, splice.bytes());
            }
            equal_to_the_full_check(&bytes);
            let mut invalid = bytes.clone();
            invalid.push(0xff);
            equal_to_the_full_check(&invalid);
        }
    }

    /// What the conversion says: the text parses to a double that writes back as the text.
    fn writes_back(text: &str) -> bool {
        let Ok(value) = text.parse::<f64>() else {
            return false;
        };
        let mut out = Vec::new();
        write_f64(&mut out, value).is_ok() && out == text.as_bytes()
    }

    proptest! {
        /// The shortcut never calls a decimal canonical that converting and writing back
        /// does not (random doubles as written, and random digit strings around them).
        #[test]
        fn short_fixed_decimals_write_back(
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
            sign in any::<bool>(),
            whole in "(0|[1-9][0-9]{0,17})",
            zeros in 0usize..9,
            fraction in "[0-9]{0,18}",
        ) {
            let mut written = Vec::new();
            if write_f64(&mut written, value).is_ok() {
                let text = String::from_utf8(written).unwrap();
                prop_assert!(!short_fixed_decimal(text.as_bytes()) || writes_back(&text), "{}", text);
            }
            let text = format!(
                "{}{whole}.{}{fraction}",
                if sign { "-" } else { "" },
                "0".repeat(zeros)
            );
            if short_fixed_decimal(text.as_bytes()) {
                prop_assert!(writes_back(&text), "{}", text);
            }
        }
    }

    #[test]
    fn short_fixed_decimals_are_decided_both_ways() {
        for yes in ["0.0123", "-0.5", "123.25", "0.000001", "12345678901234.5"] {
            assert!(
                short_fixed_decimal(yes.as_bytes()) && writes_back(yes),
                "{yes}"
            );
        }
        for no in [
            "0.50",
            "1e5",
            "0.0000001",
            "1234567890123456.5",
            "1",
            "01.5",
            "1.",
        ] {
            assert!(!short_fixed_decimal(no.as_bytes()), "{no}");
        }
    }
}
