//! The control loop's open verifications: their measurement series, limits and verdicts.
//!
//! One store per control plane holds every applied action that still waits for a verdict
//! (Argo Rollouts' analysis: a series of measurements, limits on failures, errors and
//! inconclusive results, a TTL). A storm iteration over 1,000 agents opens and closes about
//! a hundred of these and measures about two hundred and fifty; in Python that bookkeeping
//! was about half the iteration. The Python reference is
//! `sentinel.control.verification_store.ReferenceVerificationStore` (built on
//! `sentinel.control.verification.Analysis`); a hypothesis test pins the two equal.

use std::fmt::Write as _;

pub use crate::compare::Op;

/// +1: worse is above the baseline (`<`, `<=`); -1: below it (`>`, `>=`); 0: never.
fn away(op: Op) -> i8 {
    match op {
        Op::Lt | Op::Le => 1,
        Op::Gt | Op::Ge => -1,
        Op::Eq | Op::Ne => 0,
    }
}

/// One measurement's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    Success,
    Failure,
    Inconclusive,
    Error,
}

impl Measured {
    /// The Python name (`success`, `failure`, `inconclusive`, `error`).
    pub fn name(self) -> &'static str {
        match self {
            Measured::Success => "success",
            Measured::Failure => "failure",
            Measured::Inconclusive => "inconclusive",
            Measured::Error => "error",
        }
    }
}

/// A closed verification's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Successful,
    Failed,
    Inconclusive,
}

impl Verdict {
    /// The Python name (`Successful`, `Failed`, `Inconclusive`).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Successful => "Successful",
            Verdict::Failed => "Failed",
            Verdict::Inconclusive => "Inconclusive",
        }
    }
}

/// A rule's verification settings (its `verify` table and TTL).
#[derive(Clone, Debug)]
pub struct Check {
    /// The rule's id (each record entry names it).
    pub rule: String,
    /// The condition as written in the policy.
    pub condition: String,
    /// The condition as `metric op value:g` (Python's `str(Comparison)`).
    pub text: String,
    /// The verified metric's name.
    pub metric: String,
    /// Which of the store's metric columns holds it.
    pub metric_index: usize,
    pub op: Op,
    pub threshold: f64,
    pub tolerance: f64,
    pub delay: i64,
    pub ttl: i64,
    pub failure_limit: u64,
    pub error_limit: u64,
    pub inconclusive_limit: u64,
}

/// One open verification.
#[derive(Clone, Debug)]
pub struct Open {
    pub check: usize,
    pub target_id: usize,
    pub key: String,
    pub target: String,
    pub decision: String,
    pub baseline: Option<f64>,
    pub measure_from: i64,
    pub deadline: i64,
    pub series: Vec<(i64, Option<f64>, Measured)>,
    counts: [u64; 4],
}

/// A verification with its verdict, as its record entry needs it.
#[derive(Clone, Debug)]
pub struct Closed {
    pub open: Open,
    pub verdict: Verdict,
    pub why: String,
}

/// Every open verification of one plane, in the order of their actions.
#[derive(Clone, Debug, Default)]
pub struct VerificationStore {
    checks: Vec<Check>,
    open: Vec<Open>,
    /// Per check, per target id: whether a verification of that key is open.
    verifying: Vec<Vec<bool>>,
    /// An empty list with room, which `measure` fills with the verifications still open
    /// and then swaps for `open`: a storm's ~1,000 open verifications are ~170 kB, which a
    /// new list each call took from fresh pages (the allocator maps blocks that large).
    spare: Vec<Open>,
}

impl VerificationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a rule's check; returns its index.
    pub fn add_check(&mut self, check: Check) -> usize {
        self.checks.push(check);
        self.verifying.push(Vec::new());
        self.checks.len() - 1
    }

    /// The registered check at `index`.
    pub fn check(&self, index: usize) -> Option<&Check> {
        self.checks.get(index)
    }

    /// How many verifications are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The open verifications, in the order of their actions.
    pub fn open_ones(&self) -> &[Open] {
        &self.open
    }

    /// Whether a verification of (`check`, `target_id`) is open.
    pub fn is_verifying(&self, check: usize, target_id: usize) -> bool {
        self.verifying
            .get(check)
            .and_then(|flags| flags.get(target_id))
            .copied()
            .unwrap_or(false)
    }

    /// Opens one verification of an action applied at `acted_at` (check index known).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &mut self,
        check: usize,
        target_id: usize,
        key: String,
        target: String,
        decision: String,
        acted_at: i64,
        baseline: Option<f64>,
    ) {
        let settings = &self.checks[check];
        let measure_from = acted_at.saturating_add(settings.delay);
        let deadline = acted_at.saturating_add(settings.ttl);
        let flags = &mut self.verifying[check];
        if flags.len() <= target_id {
            flags.resize(target_id + 1, false);
        }
        flags[target_id] = true;
        self.open.push(Open {
            check,
            target_id,
            key,
            target,
            decision,
            baseline,
            measure_from,
            deadline,
            series: Vec::new(),
            counts: [0; 4],
        });
    }

    /// Measures every open verification past its initial delay, in the order of actions;
    /// returns the ones that reached a verdict (in that order). `value(metric_index,
    /// target_id)` reads the target's value (None: unknown, NaN included).
    pub fn measure(
        &mut self,
        tick: i64,
        mut value: impl FnMut(usize, usize) -> Option<f64>,
    ) -> Vec<Closed> {
        let mut closed = Vec::new();
        let mut still = std::mem::take(&mut self.spare);
        still.clear();
        still.reserve(self.open.len());
        for mut open in self.open.drain(..) {
            if tick < open.measure_from {
                still.push(open);
                continue;
            }
            let check = &self.checks[open.check];
            let read = value(check.metric_index, open.target_id).filter(|v| !v.is_nan());
            match measure_one(check, &mut open, tick, read) {
                Some((verdict, why)) => {
                    self.verifying[open.check][open.target_id] = false;
                    closed.push(Closed { open, verdict, why });
                }
                None => still.push(open),
            }
        }
        self.spare = std::mem::replace(&mut self.open, still);
        closed
    }

    /// Closes every open verification as Inconclusive with `why` (the plane stopped).
    pub fn finish(&mut self, why: &str) -> Vec<Closed> {
        let open = std::mem::take(&mut self.open);
        for flags in &mut self.verifying {
            flags.iter_mut().for_each(|f| *f = false);
        }
        open.into_iter()
            .map(|open| Closed {
                open,
                verdict: Verdict::Inconclusive,
                why: why.to_owned(),
            })
            .collect()
    }
}

/// `Analysis.measure`: one point of the series and the verdict it leads to, if any.
fn measure_one(
    check: &Check,
    open: &mut Open,
    tick: i64,
    value: Option<f64>,
) -> Option<(Verdict, String)> {
    let result = match value {
        None => Measured::Error,
        Some(v) if check.op.holds(v, check.threshold) => Measured::Success,
        Some(v) => {
            let away = away(check.op);
            let worse = open.baseline.is_some_and(|b| {
                (away > 0 && v > b + check.tolerance) || (away < 0 && v < b - check.tolerance)
            });
            if worse {
                Measured::Failure
            } else {
                Measured::Inconclusive
            }
        }
    };
    open.series.push((tick, value, result));
    let counts = &mut open.counts;
    counts[result as usize] += 1;
    let mut why = String::new();
    let verdict = if result == Measured::Success {
        why.push_str(&check.text);
        why.push_str(" at tick ");
        why.push_str(itoa::Buffer::new().format(tick));
        Verdict::Successful
    } else if counts[Measured::Failure as usize] > check.failure_limit {
        let baseline = open.baseline.unwrap_or(f64::NAN);
        why.push_str(&check.metric);
        why.push_str(" worse than ");
        write_general(&mut why, baseline);
        why.push_str(" at tick ");
        why.push_str(itoa::Buffer::new().format(tick));
        Verdict::Failed
    } else if counts[Measured::Error as usize] > check.error_limit {
        let _ = write!(why, "{} could not be measured", check.metric);
        Verdict::Failed
    } else if counts[Measured::Inconclusive as usize] > check.inconclusive_limit {
        why.push_str("too many inconclusive measurements");
        Verdict::Inconclusive
    } else if tick >= open.deadline {
        why.push_str(&check.text);
        why.push_str(" not reached within ");
        why.push_str(itoa::Buffer::new().format(check.ttl));
        why.push_str(" ticks");
        Verdict::Inconclusive
    } else {
        return None;
    };
    Some((verdict, why))
}

/// Writes `x` as Python's `format(x, "g")`: six significant digits, trailing zeros dropped,
/// positional for decimal exponents from -4 up to below 6, else `d.ddddde+XX`.
pub fn write_general(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:.5e}` rounds the exact binary value half to even, as Python's does.
    let sci = format!("{x:.5e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        let places = usize::try_from(5 - exponent).unwrap_or(0);
        let fixed = format!("{x:.places$}");
        out.push_str(strip_zeros(&fixed));
    } else {
        out.push_str(strip_zeros(mantissa));
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.unsigned_abs());
    }
}

fn strip_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(x: f64) -> String {
        let mut out = String::new();
        write_general(&mut out, x);
        out
    }

    #[test]
    fn general_as_python_format_g() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (90.0, "90"),
            (0.5, "0.5"),
            (12.345678, "12.3457"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.000123456789, "0.000123457"),
            (1e100, "1e+100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (0.25, "0.25"),
            (1234565.0, "1.23456e+06"),
            (1234575.0, "1.23458e+06"),
        ];
        for (value, text) in cases {
            assert_eq!(general(value), text, "{value:e}");
        }
    }

    fn check(delay: i64, ttl: i64) -> Check {
        Check {
            rule: "r".into(),
            condition: "a < 5".into(),
            text: "a < 5".into(),
            metric: "a".into(),
            metric_index: 0,
            op: Op::Lt,
            threshold: 5.0,
            tolerance: 0.0,
            delay,
            ttl,
            failure_limit: 0,
            error_limit: 1,
            inconclusive_limit: 1000,
        }
    }

    #[test]
    fn a_verification_waits_out_its_delay_then_closes() {
        let mut store = VerificationStore::new();
        let c = store.add_check(check(60, 600));
        store.open(c, 3, "k".into(), "T".into(), "d".into(), 0, Some(7.0));
        assert!(store.is_verifying(c, 3) && !store.is_verifying(c, 2));
        assert!(store.measure(30, |_, _| Some(9.0)).is_empty());
        assert!(store.measure(60, |_, _| Some(7.0)).is_empty()); // inconclusive
        let closed = store.measure(120, |_, _| Some(4.0));
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].verdict, Verdict::Successful);
        assert_eq!(closed[0].why, "a < 5 at tick 120");
        assert_eq!(closed[0].open.series.len(), 2);
        assert!(!store.is_verifying(c, 3) && store.is_empty());
    }

    #[test]
    fn worse_than_the_baseline_fails() {
        let mut store = VerificationStore::new();
        let c = store.add_check(check(0, 600));
        store.open(c, 0, "k".into(), "T".into(), "d".into(), 0, Some(7.5));
        let closed = store.measure(60, |_, _| Some(8.0));
        assert_eq!(closed[0].verdict, Verdict::Failed);
        assert_eq!(closed[0].why, "a worse than 7.5 at tick 60");
    }

    #[test]
    fn finish_closes_everything_inconclusive() {
        let mut store = VerificationStore::new();
        let c = store.add_check(check(0, 600));
        store.open(c, 0, "k".into(), "T".into(), "d".into(), 0, None);
        let closed = store.finish("stopped");
        assert_eq!(closed[0].verdict, Verdict::Inconclusive);
        assert_eq!(closed[0].why, "stopped");
        assert!(store.is_empty() && !store.is_verifying(c, 0));
    }
}
