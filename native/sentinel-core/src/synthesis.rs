//! The synthesis matcher: agent fingerprints against compiled rule conditions.
//!
//! A fingerprint is a `|`-separated list of `KEY:VALUE` fields that the agent runtime sends
//! with each request (`H:3|E:6|B:2|S:1|C:4|SN:5|R:office_1|P:0|CH:0|HR:0|T:9|TMP:0|N:0|PE:I|IM:0`).
//! A rule is a list of conditions such as `B>=9`, `T<=7` or `R~^meeting_`; rules are tried in
//! order after a gate (also a list of conditions) and the first whose conditions all hold
//! wins. The matcher is compiled once and decides whole batches; the Python reference in
//! `sentinel/gateway/fingerprint.py` follows the same text rule by rule.

use regex::Regex;

use crate::compare::Op;
use crate::error::{CoreError, CoreResult};

/// Every fingerprint field, in the order of the values kept per fingerprint.
pub const FIELDS: [&str; 15] = [
    "H", "E", "B", "S", "C", "SN", "P", "CH", "HR", "T", "TMP", "N", "IM", "R", "PE",
];
/// Fields before this index are integers; the rest are text.
const FIRST_TEXT: usize = 13;
/// Inclusive upper bound of each integer field (all start at 0): buckets 0-9, others present
/// up to 999, flags 0/1, the hour 0-23.
const MAX_VALUE: [i64; FIRST_TEXT] = [9, 9, 9, 9, 9, 9, 999, 1, 1, 23, 1, 1, 1];
/// Longest text value (a room id).
const MAX_TEXT: usize = 64;

/// The fingerprint could not be parsed; the request is forwarded to a model.
pub const DECISION_MALFORMED: i32 = -3;
/// The gate is closed (speech heard, chaos, an operator impulse ...); forwarded.
pub const DECISION_GATED: i32 = -2;
/// The gate is open but no rule matched; forwarded.
pub const DECISION_NO_RULE: i32 = -1;

/// A parsed fingerprint, borrowing its text fields from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    numbers: [i64; FIRST_TEXT],
    texts: [&'a str; FIELDS.len() - FIRST_TEXT],
}

fn field_index(key: &str) -> Option<usize> {
    FIELDS.iter().position(|f| *f == key)
}

fn valid_text(field: usize, value: &str) -> bool {
    if FIELDS[field] == "PE" {
        return value == "I" || value == "E";
    }
    !value.is_empty()
        && value.len() <= MAX_TEXT
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn parse_number(text: &str) -> Option<i64> {
    // Plain decimal digits only (no sign, no spaces), at most 3 of them.
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a fingerprint; `None` if any field is unknown, repeated, missing or out of range.
pub fn parse(fingerprint: &str) -> Option<Fingerprint<'_>> {
    let mut numbers = [0_i64; FIRST_TEXT];
    let mut texts = [""; FIELDS.len() - FIRST_TEXT];
    let mut seen = 0_u32;
    for part in fingerprint.split('|') {
        let (key, value) = part.split_once(':')?;
        let index = field_index(key)?;
        if seen & (1 << index) != 0 {
            return None;
        }
        seen |= 1 << index;
        if index < FIRST_TEXT {
            let number = parse_number(value)?;
            if number > MAX_VALUE[index] {
                return None;
            }
            numbers[index] = number;
        } else {
            if !valid_text(index, value) {
                return None;
            }
            texts[index - FIRST_TEXT] = value;
        }
    }
    if seen != (1 << FIELDS.len()) - 1 {
        return None;
    }
    Some(Fingerprint { numbers, texts })
}

#[derive(Debug, Clone)]
enum Condition {
    Number {
        field: usize,
        op: Op,
        value: i64,
    },
    Text {
        field: usize,
        equal: bool,
        value: String,
    },
    Matches {
        field: usize,
        pattern: Regex,
    },
}

/// Operators in the order they are looked for (two-character ones first).
const OPERATORS: [(&str, Option<Op>); 7] = [
    (">=", Some(Op::Ge)),
    ("<=", Some(Op::Le)),
    ("==", Some(Op::Eq)),
    ("!=", Some(Op::Ne)),
    ("~", None),
    (">", Some(Op::Gt)),
    ("<", Some(Op::Lt)),
];

fn rule_error(rule: usize, condition: &str, reason: &str) -> CoreError {
    CoreError::InvalidRule {
        rule,
        condition: condition.to_owned(),
        reason: reason.to_owned(),
    }
}

fn compile_condition(rule: usize, text: &str) -> CoreResult<Condition> {
    let (at, symbol, op) = OPERATORS
        .iter()
        .filter_map(|(symbol, op)| text.find(symbol).map(|at| (at, *symbol, *op)))
        .min_by_key(|(at, symbol, _)| (*at, usize::MAX - symbol.len()))
        .ok_or_else(|| rule_error(rule, text, "no operator (>=, <=, ==, !=, <, >, ~)"))?;
    let key = text[..at].trim();
    let value = text[at + symbol.len()..].trim();
    let field = field_index(key).ok_or_else(|| rule_error(rule, text, "unknown field"))?;
    match op {
        None if field < FIRST_TEXT => Err(rule_error(rule, text, "~ applies to text fields")),
        None => Regex::new(value)
            .map(|pattern| Condition::Matches { field, pattern })
            .map_err(|e| rule_error(rule, text, &format!("bad pattern: {e}"))),
        Some(op) if field < FIRST_TEXT => {
            let value = value
                .parse::<i64>()
                .map_err(|_| rule_error(rule, text, "expected an integer"))?;
            Ok(Condition::Number { field, op, value })
        }
        Some(op @ (Op::Eq | Op::Ne)) => Ok(Condition::Text {
            field,
            equal: op == Op::Eq,
            value: value.to_owned(),
        }),
        Some(_) => Err(rule_error(rule, text, "text fields take ==, != or ~")),
    }
}

impl Condition {
    fn holds(&self, fp: &Fingerprint<'_>) -> bool {
        match self {
            Condition::Number { field, op, value } => op.holds(fp.numbers[*field], *value),
            Condition::Text {
                field,
                equal,
                value,
            } => (fp.texts[*field - FIRST_TEXT] == value) == *equal,
            Condition::Matches { field, pattern } => {
                pattern.is_match(fp.texts[*field - FIRST_TEXT])
            }
        }
    }
}

/// A compiled rule set: a gate and rules, tried in order.
#[derive(Debug, Clone)]
pub struct Matcher {
    gate: Vec<Condition>,
    rules: Vec<Vec<Condition>>,
}

impl Matcher {
    /// Compiles the gate and the rules.
    ///
    /// # Errors
    /// [`CoreError::InvalidRule`] naming the rule ([`GATE_RULE`] for the gate) and the
    /// condition that does not compile.
    pub fn new<S: AsRef<str>>(gate: &[S], rules: &[Vec<S>]) -> CoreResult<Self> {
        let gate = gate
            .iter()
            .map(|c| compile_condition(GATE_RULE, c.as_ref()))
            .collect::<CoreResult<_>>()?;
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, conditions)| {
                conditions
                    .iter()
                    .map(|c| compile_condition(i, c.as_ref()))
                    .collect::<CoreResult<Vec<_>>>()
            })
            .collect::<CoreResult<_>>()?;
        Ok(Matcher { gate, rules })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The index of the first matching rule, or one of the negative `DECISION_*` codes.
    pub fn decide(&self, fingerprint: &str) -> i32 {
        let Some(fp) = parse(fingerprint) else {
            return DECISION_MALFORMED;
        };
        if !self.gate.iter().all(|c| c.holds(&fp)) {
            return DECISION_GATED;
        }
        self.rules
            .iter()
            .position(|conditions| conditions.iter().all(|c| c.holds(&fp)))
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(DECISION_NO_RULE)
    }

    /// [`Matcher::decide`] over a batch.
    pub fn decide_many<S: AsRef<str>>(&self, fingerprints: &[S]) -> Vec<i32> {
        fingerprints
            .iter()
            .map(|f| self.decide(f.as_ref()))
            .collect()
    }
}

/// The rule index reported for a condition of the gate.
pub const GATE_RULE: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    const CALM: &str = "H:3|E:6|B:2|S:1|C:4|SN:5|R:office_1|P:0|CH:0|HR:0|T:9|TMP:0|N:0|PE:I|IM:0";

    fn matcher() -> Matcher {
        Matcher::new(
            &["HR==0", "CH==0", "IM==0"],
            &[
                vec!["B>=9"],
                vec!["T>=6", "T<=7", "E>5"],
                vec!["R~^meeting_", "P>0"],
                vec!["PE==E"],
            ],
        )
        .unwrap()
    }

    #[test]
    fn parses_every_field() {
        let fp = parse(CALM).unwrap();
        assert_eq!(fp.numbers[0], 3);
        assert_eq!(fp.texts, ["office_1", "I"]);
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "H:3",
            &CALM.replace("H:3", "H:10"),
            &CALM.replace("H:3", "H:-1"),
            &CALM.replace("H:3", "Q:3"),
            &CALM.replace("PE:I", "PE:X"),
            &CALM.replace("R:office_1", "R:Office"),
            &format!("{CALM}|H:3"),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn first_match_wins_and_gate_closes() {
        let m = matcher();
        assert_eq!(m.decide(&CALM.replace("B:2", "B:9")), 0);
        assert_eq!(m.decide(&CALM.replace("T:9", "T:6")), 1);
        assert_eq!(
            m.decide(
                &CALM
                    .replace("R:office_1", "R:meeting_a")
                    .replace("|P:0|", "|P:2|")
            ),
            2
        );
        assert_eq!(m.decide(CALM), DECISION_NO_RULE);
        assert_eq!(m.decide(&CALM.replace("HR:0", "HR:1")), DECISION_GATED);
        assert_eq!(m.decide("nonsense"), DECISION_MALFORMED);
        assert_eq!(m.decide_many(&[CALM, "x"]), vec![-1, -3]);
    }

    proptest::proptest! {
        #[test]
        fn formatted_fields_parse_back(
            numbers in proptest::collection::vec(0_i64..=999, FIRST_TEXT),
            room in "[a-z0-9_-]{1,64}",
            extrovert in proptest::bool::ANY,
        ) {
            let numbers: Vec<i64> = numbers
                .iter()
                .zip(MAX_VALUE)
                .map(|(n, top)| n % (top + 1))
                .collect();
            let pe = if extrovert { "E" } else { "I" };
            let mut parts: Vec<String> = FIELDS[..FIRST_TEXT]
                .iter()
                .zip(&numbers)
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            parts.push(format!("R:{room}"));
            parts.push(format!("PE:{pe}"));
            parts.reverse(); // field order does not matter
            let text = parts.join("|");
            let fp = parse(&text).expect("valid fingerprint");
            proptest::prop_assert_eq!(fp.numbers.to_vec(), numbers);
            proptest::prop_assert_eq!(fp.texts, [room.as_str(), pe]);
        }

        #[test]
        fn batch_equals_one_by_one(texts in proptest::collection::vec(".{0,40}", 0..20)) {
            let m = matcher();
            let one: Vec<i32> = texts.iter().map(|t| m.decide(t)).collect();
            proptest::prop_assert_eq!(m.decide_many(&texts), one);
        }
    }

    #[test]
    fn bad_rules_are_named() {
        let err = Matcher::new(&["HR==0"], &[vec!["B>=9"], vec!["Z>1"]]).unwrap_err();
        assert!(matches!(err, CoreError::InvalidRule { rule: 1, .. }));
        assert!(Matcher::new::<&str>(&[], &[vec!["R>=1"]]).is_err());
        assert!(Matcher::new::<&str>(&[], &[vec!["H~x"]]).is_err());
        assert!(Matcher::new::<&str>(&[], &[vec!["R~("]]).is_err());
        assert!(Matcher::new::<&str>(&[], &[vec!["H 3"]]).is_err());
    }
}
