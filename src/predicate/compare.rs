//! One comparison, typed as Spark types it: a literal is read as the type of the column it
//! meets (a timestamp string in the pipeline's zone, unless it has an offset), numbers meet
//! by value (`numbers`), and a comparison with NULL is NULL.
use std::sync::Arc;

use crate::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Datum, Scalar, StringArray,
    TimestampMicrosecondArray, TimestampNanosecondArray,
};
use crate::arrow::compute::cast;
use crate::arrow::compute::kernels::cmp;
use crate::arrow::datatypes::{DataType, TimeUnit};
use crate::arrow::error::ArrowError;
use crate::decode::{cast_date, cast_timestamp, cast_timestamp_ntz, TimeZone};

use super::numbers::{self, Number};
use super::parse::{CmpOp, Literal};
use super::Failure;

/// A comparison's side, evaluated.
#[derive(Clone)]
pub(super) enum Operand<'a> {
    /// A column (or a condition's result), with how errors name it.
    Values {
        values: ArrayRef,
        what: String,
        at: usize,
    },
    Literal {
        value: &'a Literal,
        at: usize,
    },
}

/// `left op right` for `rows` rows.
pub(super) fn compare(
    op: CmpOp,
    left: Operand<'_>,
    right: Operand<'_>,
    rows: usize,
    tz: &TimeZone,
) -> Result<BooleanArray, Failure> {
    let null = |o: &Operand<'_>| {
        matches!(
            o,
            Operand::Literal {
                value: Literal::Null,
                ..
            }
        )
    };
    if null(&left) || null(&right) {
        return Ok(BooleanArray::new_null(rows));
    }
    match (left, right) {
        (
            Operand::Values {
                values: a,
                what: wa,
                at,
            },
            Operand::Values {
                values: b,
                what: wb,
                ..
            },
        ) => {
            let (a, b) = both(&a, &wa, &b, &wb).map_err(|m| Failure::new(at, m))?;
            kernel(op, &a, &b).map_err(|e| Failure::new(at, e.to_string()))
        }
        (Operand::Values { values, what, .. }, Operand::Literal { value, at }) => {
            with_literal(op, &values, &what, value, tz).map_err(|m| Failure::new(at, m))
        }
        (Operand::Literal { value, at }, Operand::Values { values, what, .. }) => {
            with_literal(op.flipped(), &values, &what, value, tz).map_err(|m| Failure::new(at, m))
        }
        (Operand::Literal { value: left, .. }, Operand::Literal { value, at }) => {
            let one = literal_column(left);
            let result =
                with_literal(op, &one, "a literal", value, tz).map_err(|m| Failure::new(at, m))?;
            Ok(BooleanArray::from(vec![
                result
                    .is_valid(0)
                    .then(|| result.value(0));
                rows
            ]))
        }
    }
}

/// A column against a literal, the literal read as the column's type.
fn with_literal(
    op: CmpOp,
    column: &ArrayRef,
    what: &str,
    literal: &Literal,
    tz: &TimeZone,
) -> Result<BooleanArray, String> {
    let column = plain(column);
    let data_type = column.data_type().clone();
    let (column, scalar) = match (&data_type, literal) {
        (DataType::Null, _) => return Ok(BooleanArray::new_null(column.len())),
        (t, Literal::Number(text)) if t.is_numeric() => {
            let number = Number::parse(text).ok_or_else(|| format!("{text} is not a number"))?;
            numbers::column_and_number(&column, number).map_err(|e| e.to_string())?
        }
        (t, Literal::Text(text)) if t.is_numeric() => text_as_number(&column, what, text)?,
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Literal::Text(text)) => {
            let one: ArrayRef = Arc::new(StringArray::from(vec![text.as_str()]));
            (
                column.clone(),
                cast(&one, &data_type).map_err(|e| e.to_string())?,
            )
        }
        (DataType::Boolean, Literal::Bool(b)) => (column.clone(), boolean(*b)),
        (DataType::Boolean, Literal::Text(text)) => {
            let b = spark_boolean(text)
                .ok_or_else(|| format!("{text:?} is not a boolean ({what} is one)"))?;
            (column.clone(), boolean(b))
        }
        (DataType::Timestamp(unit, zone), Literal::Text(text)) => {
            let micros = match zone {
                Some(_) => cast_timestamp(text.as_bytes(), tz),
                None => cast_timestamp_ntz(text.as_bytes()),
            }
            .ok_or_else(|| format!("{text:?} is not a timestamp ({what} is one)"))?;
            timestamps(&column, *unit, zone.clone(), micros).map_err(|e| e.to_string())?
        }
        (DataType::Date32 | DataType::Date64, Literal::Text(text)) => {
            let days = cast_date(text.as_bytes())
                .ok_or_else(|| format!("{text:?} is not a date ({what} is one)"))?;
            let one: ArrayRef = Arc::new(Date32Array::from(vec![days]));
            (to(&column, &DataType::Date32)?, one)
        }
        (t, literal) => return Err(mismatch(what, t, literal)),
    };
    kernel(op, &column, &Scalar::new(scalar)).map_err(|e| e.to_string())
}

/// Two columns, cast to one type where Spark would compare them.
fn both(a: &ArrayRef, wa: &str, b: &ArrayRef, wb: &str) -> Result<(ArrayRef, ArrayRef), String> {
    let (a, b) = (plain(a), plain(b));
    let (ta, tb) = (a.data_type().clone(), b.data_type().clone());
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    match (&ta, &tb) {
        _ if ta.is_numeric() && tb.is_numeric() => {
            numbers::columns(&a, &b).map_err(|e| e.to_string())
        }
        _ if text(&ta) && text(&tb) => Ok((to(&a, &DataType::Utf8)?, to(&b, &DataType::Utf8)?)),
        (DataType::Timestamp(_, za), DataType::Timestamp(_, zb))
            if za.is_some() == zb.is_some() =>
        {
            let t = DataType::Timestamp(TimeUnit::Microsecond, za.as_ref().map(|_| "UTC".into()));
            Ok((to(&a, &t)?, to(&b, &t)?))
        }
        (DataType::Date32 | DataType::Date64, DataType::Date32 | DataType::Date64) => {
            Ok((to(&a, &DataType::Date32)?, to(&b, &DataType::Date32)?))
        }
        (DataType::Null, _) | (_, DataType::Null) => Ok((
            Arc::new(BooleanArray::new_null(a.len())) as ArrayRef,
            Arc::new(BooleanArray::new_null(b.len())) as ArrayRef,
        )),
        _ if ta == tb && comparable(&ta) => Ok((a, b)),
        _ => Err(format!("cannot compare {wa} ({ta}) with {wb} ({tb})")),
    }
}

/// A string literal met by a numeric column: read as a number, as Spark's cast does.
fn text_as_number(
    column: &ArrayRef,
    what: &str,
    text: &str,
) -> Result<(ArrayRef, ArrayRef), String> {
    let float = matches!(
        column.data_type(),
        DataType::Float16 | DataType::Float32 | DataType::Float64
    );
    let number = match Number::parse(text) {
        Some(n) => n,
        // a float column also reads 'NaN' and 'Infinity'
        None if float => Number::Double(
            text.trim()
                .parse()
                .map_err(|_| format!("{text:?} is not a number ({what} is one)"))?,
        ),
        None => return Err(format!("{text:?} is not a number ({what} is one)")),
    };
    if column.data_type().is_integer() && !matches!(number, Number::Integer(_)) {
        return Err(format!("{text:?} is not an integer ({what} is one)"));
    }
    numbers::column_and_number(column, number).map_err(|e| e.to_string())
}

/// A timestamp column in microseconds (nanoseconds kept) and the literal in its unit.
fn timestamps(
    column: &ArrayRef,
    unit: TimeUnit,
    zone: Option<Arc<str>>,
    micros: i64,
) -> Result<(ArrayRef, ArrayRef), ArrowError> {
    if let (TimeUnit::Nanosecond, Some(nanos)) = (unit, micros.checked_mul(1000)) {
        let one = TimestampNanosecondArray::from(vec![nanos]).with_timezone_opt(zone);
        return Ok((column.clone(), Arc::new(one)));
    }
    let micro = DataType::Timestamp(TimeUnit::Microsecond, zone.clone());
    let one = TimestampMicrosecondArray::from(vec![micros]).with_timezone_opt(zone);
    Ok((cast(column, &micro)?, Arc::new(one)))
}

fn to(column: &ArrayRef, data_type: &DataType) -> Result<ArrayRef, String> {
    if column.data_type() == data_type {
        return Ok(column.clone());
    }
    cast(column, data_type).map_err(|e| e.to_string())
}

/// A dictionary column as its values' type (every other column as it is).
fn plain(column: &ArrayRef) -> ArrayRef {
    match column.data_type() {
        DataType::Dictionary(_, values) => cast(column, values).unwrap_or_else(|_| column.clone()),
        _ => column.clone(),
    }
}

/// A literal compared with a literal: a one-row column of its own type.
fn literal_column(literal: &Literal) -> ArrayRef {
    match literal {
        Literal::Null => Arc::new(BooleanArray::new_null(1)),
        Literal::Bool(b) => boolean(*b),
        Literal::Number(text) => Number::parse(text)
            .map(Number::column)
            .unwrap_or_else(|| Arc::new(StringArray::from(vec![text.as_str()]))),
        Literal::Text(text) => Arc::new(StringArray::from(vec![text.as_str()])),
    }
}

fn boolean(b: bool) -> ArrayRef {
    Arc::new(BooleanArray::from(vec![b]))
}

/// Spark's `CAST(string AS BOOLEAN)`.
fn spark_boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "0" => Some(false),
        _ => None,
    }
}

fn comparable(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Boolean | Binary | LargeBinary | BinaryView | FixedSizeBinary(_)
    )
}

fn mismatch(what: &str, data_type: &DataType, literal: &Literal) -> String {
    let (shown, kind) = match literal {
        Literal::Number(n) => (n.clone(), "a number"),
        Literal::Text(t) => (format!("'{t}'"), "a string"),
        Literal::Bool(b) => (b.to_string().to_uppercase(), "a boolean"),
        Literal::Null => ("NULL".into(), "NULL"),
    };
    let hint = match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            format!(": quote it ('{shown}')")
        }
        DataType::Timestamp(..) => ": write it as a string ('2024-01-31 12:00:00')".into(),
        DataType::Date32 | DataType::Date64 => ": write it as a string ('2024-01-31')".into(),
        _ => String::new(),
    };
    format!("cannot compare {what} ({data_type}) with {kind}, {shown}{hint}")
}

fn kernel(op: CmpOp, a: &dyn Datum, b: &dyn Datum) -> Result<BooleanArray, ArrowError> {
    match op {
        CmpOp::Eq => cmp::eq(a, b),
        CmpOp::NotEq => cmp::neq(a, b),
        CmpOp::Lt => cmp::lt(a, b),
        CmpOp::LtEq => cmp::lt_eq(a, b),
        CmpOp::Gt => cmp::gt(a, b),
        CmpOp::GtEq => cmp::gt_eq(a, b),
    }
}
