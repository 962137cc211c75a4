//! Which rows of an observation each control rule fires for: every comparison of the rule
//! holds (an unknown value, NaN, never does; a metric not observed fires nothing). The
//! Python reference is `sentinel.control.policy.reference_fired_rows` (numpy masks, one
//! per comparison); a hypothesis test pins the two.

use crate::compare::Op;

/// One comparison of a rule: `columns[column] <op> value`.
#[derive(Clone, Copy, Debug)]
pub struct Condition {
    pub column: usize,
    pub op: Op,
    pub value: f64,
}

/// Narrows `mask` to the rows where `value[row] <op> threshold` holds (NaN never does).
fn narrow(mask: &mut [bool], values: &[f64], op: Op, threshold: f64) {
    let rows = mask.iter_mut().zip(values);
    // One loop per operator, each simple enough to vectorise; IEEE comparisons with NaN
    // are false except `!=`, which checks for it.
    match op {
        Op::Ge => rows.for_each(|(m, &v)| *m &= v >= threshold),
        Op::Le => rows.for_each(|(m, &v)| *m &= v <= threshold),
        Op::Gt => rows.for_each(|(m, &v)| *m &= v > threshold),
        Op::Lt => rows.for_each(|(m, &v)| *m &= v < threshold),
        Op::Eq => rows.for_each(|(m, &v)| *m &= v == threshold),
        Op::Ne => rows.for_each(|(m, &v)| *m &= v != threshold && !v.is_nan()),
    }
}

/// Sets `rows` to the rows below `count` where every condition holds; `columns[c]` is
/// column c's values (`count` of them; None: not observed, so nothing fires). `mask` is
/// scratch space.
pub fn rows_where(
    conditions: &[Condition],
    columns: &[Option<&[f64]>],
    count: usize,
    mask: &mut Vec<bool>,
    rows: &mut Vec<usize>,
) {
    rows.clear();
    mask.clear();
    mask.resize(count, true);
    for condition in conditions {
        match columns.get(condition.column).copied().flatten() {
            Some(values) if values.len() == count => {
                narrow(mask, values, condition.op, condition.value);
            }
            _ => return,
        }
    }
    rows.extend(
        mask.iter()
            .enumerate()
            .filter(|(_, &m)| m)
            .map(|(row, _)| row),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_must_hold_and_nan_never_does() {
        let a = [1.0, 5.0, f64::NAN, 7.0];
        let b = [0.0, 1.0, 1.0, 0.0];
        let conditions = [
            Condition {
                column: 0,
                op: Op::Ne,
                value: 5.0,
            },
            Condition {
                column: 1,
                op: Op::Eq,
                value: 0.0,
            },
        ];
        let (mut mask, mut rows) = (Vec::new(), Vec::new());
        rows_where(&conditions, &[Some(&a), Some(&b)], 4, &mut mask, &mut rows);
        assert_eq!(rows, [0, 3]);
        rows_where(&conditions, &[Some(&a), None], 4, &mut mask, &mut rows);
        assert!(rows.is_empty());
        rows_where(&[], &[], 2, &mut mask, &mut rows);
        assert_eq!(rows, [0, 1]);
    }
}
