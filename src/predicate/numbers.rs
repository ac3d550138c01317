//! Numbers compared by value, as Spark widens them: integers as BIGINT, then exact decimals,
//! and doubles as soon as one side is a float or written with an exponent. Floats compare
//! with -0.0 = 0.0 and NaN equal to itself and above every number (Spark's rules).
use std::sync::Arc;

use crate::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array};
use crate::arrow::compute::cast;
use crate::arrow::datatypes::{DataType, Float64Type};
use crate::arrow::error::ArrowError;

/// A number literal's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Number {
    Integer(i128),
    /// `unscaled / 10^scale`, exactly as written (`1.50`: 150, 2).
    Decimal {
        unscaled: i128,
        scale: i8,
    },
    /// Written with an exponent (`1e3`).
    Double(f64),
}

/// Digits a Decimal128 holds.
const MAX_DIGITS: u32 = 38;

impl Number {
    /// Spark's number literal grammar (`12`, `-1.5`, `.5`, `5.`, `1E-3`); surrounding spaces
    /// allowed (a string literal compared with a number is trimmed first, as Spark's cast).
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let (negative, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(e) => (&body[..e], Some(&body[e + 1..])),
            None => (body, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
            return None;
        }
        if let Some(e) = exponent {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if e.is_empty() || !digits(e) {
                return None;
            }
            return t.parse().ok().map(Number::Double);
        }
        let all = format!("{whole}{fraction}");
        let significant = all.trim_start_matches('0');
        if significant.len() > MAX_DIGITS as usize || fraction.len() > MAX_DIGITS as usize {
            // beyond a decimal's 38 digits: read as a double
            return t.parse().ok().map(Number::Double);
        }
        let magnitude: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        let unscaled = if negative { -magnitude } else { magnitude };
        if mantissa.contains('.') {
            let scale = i8::try_from(fraction.len()).ok()?;
            Some(Number::Decimal { unscaled, scale })
        } else {
            Some(Number::Integer(unscaled))
        }
    }

    fn to_f64(self) -> f64 {
        match self {
            Number::Integer(v) => v as f64,
            // through the text: correctly rounded (not unscaled / 10^scale in floats)
            Number::Decimal { unscaled, scale } => {
                format!("{unscaled}e-{scale}").parse().unwrap_or(f64::NAN)
            }
            Number::Double(v) => v,
        }
    }

    fn scale(self) -> i8 {
        match self {
            Number::Decimal { scale, .. } => scale,
            _ => 0,
        }
    }

    /// Digits before the decimal point.
    fn whole_digits(self) -> i32 {
        let (unscaled, scale) = match self {
            Number::Integer(v) => (v, 0),
            Number::Decimal { unscaled, scale } => (unscaled, scale),
            Number::Double(_) => return i32::MAX,
        };
        let digits = unscaled
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d + 1) as i32;
        (digits - scale as i32).max(1)
    }

    /// The literal as a one-row column of its own type (a literal compared with a literal).
    pub fn column(self) -> ArrayRef {
        match self {
            Number::Integer(v) => match i64::try_from(v) {
                Ok(v) => Arc::new(Int64Array::from(vec![v])),
                Err(_) => decimal(v, 0),
            },
            Number::Decimal { unscaled, scale } => decimal(unscaled, scale),
            Number::Double(v) => Arc::new(Float64Array::from(vec![v])),
        }
    }
}

fn decimal(unscaled: i128, scale: i8) -> ArrayRef {
    let array = Decimal128Array::from(vec![unscaled])
        .with_precision_and_scale(MAX_DIGITS as u8, scale)
        .expect("38 digits hold any literal we keep as a decimal");
    Arc::new(array)
}

/// Where two numbers meet: the type both sides are cast to.
fn meeting_type(a: &Side, b: &Side) -> DataType {
    if a.is_float || b.is_float {
        return DataType::Float64;
    }
    if a.fits_i64 && b.fits_i64 && a.scale == 0 && b.scale == 0 {
        return DataType::Int64;
    }
    let scale = a.scale.max(b.scale).max(0);
    if a.whole_digits.max(b.whole_digits) as i64 + scale as i64 <= MAX_DIGITS as i64 {
        DataType::Decimal128(MAX_DIGITS as u8, scale)
    } else {
        DataType::Float64
    }
}

/// What the meeting type depends on, for a column type or a literal.
struct Side {
    is_float: bool,
    fits_i64: bool,
    scale: i8,
    whole_digits: i32,
}

impl Side {
    fn of_type(data_type: &DataType) -> Side {
        use DataType::*;
        let (is_float, fits_i64, scale, whole_digits) = match data_type {
            Float16 | Float32 | Float64 => (true, false, 0, i32::MAX),
            UInt64 => (false, false, 0, 20),
            Decimal32(p, s) | Decimal64(p, s) => (false, false, *s, *p as i32 - *s as i32),
            Decimal128(p, s) | Decimal256(p, s) => (false, false, *s, *p as i32 - *s as i32),
            _ => (false, true, 0, 19), // the other integers
        };
        Side {
            is_float,
            fits_i64,
            scale,
            whole_digits,
        }
    }

    fn of_number(n: Number) -> Side {
        Side {
            is_float: matches!(n, Number::Double(_)),
            fits_i64: matches!(n, Number::Integer(v) if i64::try_from(v).is_ok()),
            scale: n.scale(),
            whole_digits: n.whole_digits(),
        }
    }
}

/// A numeric column and a number, cast to where they meet: (column, one-row literal).
pub(super) fn column_and_number(
    column: &ArrayRef,
    number: Number,
) -> Result<(ArrayRef, ArrayRef), ArrowError> {
    let to = meeting_type(&Side::of_type(column.data_type()), &Side::of_number(number));
    let literal: ArrayRef = match (&to, number) {
        (DataType::Int64, Number::Integer(v)) => Arc::new(Int64Array::from(vec![v as i64])),
        (DataType::Decimal128(_, scale), n) => {
            let (unscaled, from) = match n {
                Number::Integer(v) => (v, 0),
                Number::Decimal { unscaled, scale } => (unscaled, scale),
                Number::Double(_) => unreachable!("a double meets as a double"),
            };
            // `meeting_type` kept the digits within 38: this cannot overflow
            decimal(unscaled * 10i128.pow((scale - from) as u32), *scale)
        }
        _ => Arc::new(Float64Array::from(vec![number.to_f64()])),
    };
    Ok((as_type(column, &to)?, canonical(&literal)))
}

/// Two numeric columns, cast to where they meet.
pub(super) fn columns(a: &ArrayRef, b: &ArrayRef) -> Result<(ArrayRef, ArrayRef), ArrowError> {
    let to = meeting_type(&Side::of_type(a.data_type()), &Side::of_type(b.data_type()));
    Ok((as_type(a, &to)?, as_type(b, &to)?))
}

fn as_type(column: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    let cast = if column.data_type() == to {
        column.clone()
    } else {
        cast(column, to)?
    };
    Ok(canonical(&cast))
}

/// Doubles with one zero and one NaN, so Arrow's total order compares them as Spark does.
fn canonical(column: &ArrayRef) -> ArrayRef {
    if column.data_type() != &DataType::Float64 {
        return column.clone();
    }
    let values = column.as_primitive::<Float64Type>();
    if !values.values().iter().any(|v| *v == 0.0 || v.is_nan()) {
        return column.clone();
    }
    Arc::new(values.unary::<_, Float64Type>(|v| {
        if v == 0.0 {
            0.0
        } else if v.is_nan() {
            f64::NAN
        } else {
            v
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_their_kind_and_exact_value() {
        let p = |s: &str| Number::parse(s);
        assert_eq!(p("12"), Some(Number::Integer(12)));
        assert_eq!(p(" -7 "), Some(Number::Integer(-7)));
        assert_eq!(
            p("1.50"),
            Some(Number::Decimal {
                unscaled: 150,
                scale: 2
            })
        );
        assert_eq!(
            p(".5"),
            Some(Number::Decimal {
                unscaled: 5,
                scale: 1
            })
        );
        assert_eq!(
            p("5."),
            Some(Number::Decimal {
                unscaled: 5,
                scale: 0
            })
        );
        assert_eq!(p("1e3"), Some(Number::Double(1000.0)));
        assert_eq!(p("-1.5E-1"), Some(Number::Double(-0.15)));
        assert_eq!(p(&"9".repeat(39)), Some(Number::Double(1e39)));
        assert_eq!(
            p(&format!("0.{}1", "0".repeat(40))),
            Some(Number::Double(1e-41))
        );
        for bad in ["", ".", "1e", "1.2.3", "abc", "1 2", "--1", "0x10"] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_meet_as_spark_widens_them() {
        let int8: ArrayRef = Arc::new(crate::arrow::array::Int8Array::from(vec![1]));
        let meet = |n| column_and_number(&int8, n).unwrap().0.data_type().clone();
        assert_eq!(meet(Number::Integer(300)), DataType::Int64);
        assert_eq!(
            meet(Number::Integer(i64::MAX as i128 + 1)),
            DataType::Decimal128(38, 0)
        );
        assert_eq!(
            meet(Number::Decimal {
                unscaled: 15,
                scale: 1
            }),
            DataType::Decimal128(38, 1)
        );
        assert_eq!(meet(Number::Double(1.0)), DataType::Float64);
    }
}
