//! Comparison operators, shared by the synthesis rules and the control loop's verifications.

/// A comparison operator (`>=`, `<=`, `>`, `<`, `==`, `!=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
    Ne,
}

impl Op {
    /// The operator of its text (`>=`, `<=`, `>`, `<`, `==`, `!=`); None for anything else.
    pub fn parse(text: &str) -> Option<Op> {
        Some(match text {
            ">=" => Op::Ge,
            "<=" => Op::Le,
            ">" => Op::Gt,
            "<" => Op::Lt,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }

    /// Whether `value <op> threshold` holds.
    pub fn holds<T: PartialOrd>(self, value: T, threshold: T) -> bool {
        match self {
            Op::Ge => value >= threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Lt => value < threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn every_operator_parses_and_compares() {
        for (text, below, equal, above) in [
            (">=", false, true, true),
            ("<=", true, true, false),
            (">", false, false, true),
            ("<", true, false, false),
            ("==", false, true, false),
            ("!=", true, false, true),
        ] {
            let op = Op::parse(text).unwrap();
            assert_eq!(
                (op.holds(1, 2), op.holds(2, 2), op.holds(3, 2)),
                (below, equal, above),
                "{text}"
            );
            assert_eq!(op.holds(1.5, 2.0), below, "{text} on floats");
        }
        assert_eq!(Op::parse("=>"), None);
        assert!(!Op::Eq.holds(f64::NAN, f64::NAN) && Op::Ne.holds(f64::NAN, f64::NAN));
    }
}
