//! Evaluating a predicate's tree on a batch: names resolved as Spark resolves them, and
//! NOT / AND / OR with Arrow's Kleene kernels (FALSE AND NULL is FALSE, TRUE OR NULL is TRUE).
use std::sync::Arc;

use crate::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use crate::arrow::compute::kernels::boolean::{and_kleene, not, or_kleene};
use crate::arrow::datatypes::DataType;
use crate::decode::TimeZone;

use super::compare::{compare, Operand};
use super::parse::{CmpOp, Expr, Literal};
use super::Failure;

/// The batch a predicate is evaluated on, and the zone its timestamp strings are read in.
pub(super) struct Rows<'a> {
    batch: &'a RecordBatch,
    tz: &'a TimeZone,
}

impl<'a> Rows<'a> {
    pub fn new(batch: &'a RecordBatch, tz: &'a TimeZone) -> Self {
        Rows { batch, tz }
    }

    fn len(&self) -> usize {
        self.batch.num_rows()
    }
}

/// Per row: true, false or null.
pub(super) fn condition(expr: &Expr, rows: &Rows<'_>) -> Result<BooleanArray, Failure> {
    let n = rows.len();
    let logic = |r: Result<BooleanArray, _>, at| {
        r.map_err(|e: crate::arrow::error::ArrowError| Failure::new(at, e.to_string()))
    };
    match expr {
        Expr::And(terms) | Expr::Or(terms) => {
            let kernel = match expr {
                Expr::And(_) => and_kleene,
                _ => or_kleene,
            };
            let mut all = condition(&terms[0], rows)?;
            for term in &terms[1..] {
                all = logic(kernel(&all, &condition(term, rows)?), start(term))?;
            }
            Ok(all)
        }
        Expr::Not(a) => logic(not(&condition(a, rows)?), start(a)),
        Expr::Compare {
            op, left, right, ..
        } => compare(*op, operand(left, rows)?, operand(right, rows)?, n, rows.tz),
        Expr::In {
            value,
            list,
            negated,
        } => {
            // SQL's IN is an OR of equalities: NULL when nothing matched and a NULL took part.
            let value = operand(value, rows)?;
            let mut any = BooleanArray::from(vec![false; n]);
            for item in list {
                let equal = compare(CmpOp::Eq, value.clone(), operand(item, rows)?, n, rows.tz)?;
                any = logic(or_kleene(&any, &equal), start(item))?;
            }
            if *negated {
                any = logic(not(&any), start(expr))?;
            }
            Ok(any)
        }
        Expr::IsNull { value, negated } => {
            let is_null: BooleanArray = match operand(value, rows)? {
                Operand::Values { values, .. } => match values.logical_nulls() {
                    Some(nulls) => BooleanArray::new(!nulls.inner(), None),
                    None => BooleanArray::from(vec![false; n]),
                },
                Operand::Literal { value, .. } => {
                    BooleanArray::from(vec![*value == Literal::Null; n])
                }
            };
            if *negated {
                return logic(not(&is_null), start(expr));
            }
            Ok(is_null)
        }
        Expr::Column { name, at } => {
            let (values, what) = column(name, *at, rows)?;
            match values.data_type() {
                DataType::Boolean => Ok(values.as_boolean().clone()),
                DataType::Null => Ok(BooleanArray::new_null(n)),
                other => Err(Failure::new(
                    *at,
                    format!("{what} is {other}, not a condition: compare it with a value"),
                )),
            }
        }
        Expr::Literal { value, at } => match value {
            Literal::Bool(b) => Ok(BooleanArray::from(vec![*b; n])),
            Literal::Null => Ok(BooleanArray::new_null(n)),
            Literal::Number(_) | Literal::Text(_) => Err(Failure::new(
                *at,
                "a number or string alone is not a condition: compare it with a column",
            )),
        },
    }
}

/// A comparison's side: a column, a literal, or a condition's result.
fn operand<'e>(expr: &'e Expr, rows: &Rows<'_>) -> Result<Operand<'e>, Failure> {
    Ok(match expr {
        Expr::Column { name, at } => {
            let (values, what) = column(name, *at, rows)?;
            Operand::Values {
                values,
                what,
                at: *at,
            }
        }
        Expr::Literal { value, at } => Operand::Literal { value, at: *at },
        other => Operand::Values {
            values: Arc::new(condition(other, rows)?),
            what: "a condition".into(),
            at: start(other),
        },
    })
}

/// The column `name` stands for: the one matching it ignoring case (Spark's default), or
/// among several such, the one spelled exactly so.
fn column(
    name: &str,
    at: usize,
    rows: &Rows<'_>,
) -> Result<(crate::arrow::array::ArrayRef, String), Failure> {
    let schema = rows.batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let lower = name.to_lowercase();
    let alike: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_lowercase() == lower)
        .collect();
    let found = match alike[..] {
        [one] => Some(one),
        _ => alike.iter().copied().find(|&i| names[i] == name),
    };
    match found {
        Some(i) => Ok((
            rows.batch.column(i).clone(),
            format!("column {:?}", names[i]),
        )),
        None if alike.is_empty() => Err(Failure::new(
            at,
            format!("unknown column {name:?}; the event columns are {names:?}"),
        )),
        None => Err(Failure::new(
            at,
            format!(
                "{name:?} could be any of the columns {:?}: write one of them exactly",
                alike.iter().map(|&i| names[i]).collect::<Vec<_>>()
            ),
        )),
    }
}

/// Where `expr` starts in the text.
fn start(expr: &Expr) -> usize {
    match expr {
        Expr::Column { at, .. } | Expr::Literal { at, .. } => *at,
        Expr::Compare { left, .. } => start(left),
        Expr::In { value, .. } | Expr::IsNull { value, .. } => start(value),
        Expr::Not(e) => start(e),
        Expr::And(terms) | Expr::Or(terms) => start(&terms[0]),
    }
}
