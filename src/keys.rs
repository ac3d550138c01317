//! Composite keys and sequences as byte strings: arrow's row format makes a tuple of columns
//! hashable, and its byte order equals the tuple's sort order, so "newer" is a memcmp.
use std::sync::Arc;

use crate::arrow::array::{ArrayRef, AsArray, PrimitiveArray};
use crate::arrow::compute::{cast_with_options, CastOptions};
use crate::arrow::datatypes::DataType;
use crate::arrow::datatypes::{Float32Type, Float64Type};
use crate::arrow::row::{RowConverter, Rows, SortField};

use crate::error::{CdcError, Result};

/// Casts that fail instead of turning a value into null: a key must never change.
pub const STRICT: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: crate::arrow::util::display::FormatOptions::new(),
};

/// Encodes a fixed list of columns (types fixed at construction) into comparable rows.
#[derive(Debug)]
pub struct RowEncoder {
    converter: RowConverter,
    types: Vec<DataType>,
}

impl RowEncoder {
    pub fn new(types: Vec<DataType>) -> Result<Self> {
        let fields = types.iter().cloned().map(SortField::new).collect();
        let converter = RowConverter::new(fields)?;
        Ok(Self { converter, types })
    }

    pub fn types(&self) -> &[DataType] {
        &self.types
    }

    /// Encodes `columns`, casting any column whose type differs from the encoder's
    /// (a later batch may carry `LargeUtf8` where the first had `Utf8`). A cast that would
    /// change a value (1.5 into an integer key, microseconds into seconds) is an error, never
    /// a silent merge of two keys.
    pub fn encode(&self, columns: &[ArrayRef]) -> Result<Rows> {
        Ok(self.converter.convert_columns(&self.cast(columns)?)?)
    }

    /// No rows yet, room for `rows` of them.
    pub fn empty_rows(&self, rows: usize) -> Rows {
        self.converter.empty_rows(rows, 0)
    }

    /// Encodes `columns` (cast as in `encode`) after the rows already in `rows`.
    pub fn append(&self, rows: &mut Rows, columns: &[ArrayRef]) -> Result<()> {
        Ok(self.converter.append(rows, &self.cast(columns)?)?)
    }

    fn cast(&self, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        columns
            .iter()
            .zip(&self.types)
            .map(|(column, to)| {
                let column = if column.data_type() == to {
                    column.clone()
                } else {
                    exact_cast(column, to)?
                };
                Ok(canonical_floats(column))
            })
            .collect()
    }

    /// The rows at `indices`, without encoding their columns again.
    pub fn select(&self, rows: &Rows, indices: &[u32]) -> Rows {
        let bytes = indices
            .iter()
            .map(|&i| rows.row(i as usize).data().len())
            .sum();
        let mut out = self.converter.empty_rows(indices.len(), bytes);
        for &i in indices {
            out.push(rows.row(i as usize));
        }
        out
    }

    /// Decodes encoded rows (as stored bytes) back into columns.
    pub fn decode<'a>(&self, rows: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let parsed: Vec<_> = rows.into_iter().map(|bytes| parser.parse(bytes)).collect();
        Ok(self.converter.convert_rows(parsed)?)
    }
}

impl Clone for RowEncoder {
    fn clone(&self) -> Self {
        Self::new(self.types.clone()).expect("types were accepted once")
    }
}

/// Spark groups and joins floats with `-0.0` equal to `0.0` and every NaN equal to every
/// other (and greater than any number); the row format compares bits, so both are made
/// canonical first. A column without either is passed on as it is.
fn canonical_floats(column: ArrayRef) -> ArrayRef {
    macro_rules! canonical {
        ($type:ty, $float:ty) => {{
            let array = column.as_primitive::<$type>();
            let nan = <$float>::NAN.to_bits();
            let odd = |v: &$float| {
                (*v == 0.0 && v.is_sign_negative()) || (v.is_nan() && v.to_bits() != nan)
            };
            if !array.values().iter().any(odd) {
                return column;
            }
            let fixed: PrimitiveArray<$type> = array.unary(|v: $float| {
                if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    <$float>::NAN
                } else {
                    v
                }
            });
            Arc::new(fixed) as ArrayRef
        }};
    }
    match column.data_type() {
        DataType::Float64 => canonical!(Float64Type, f64),
        DataType::Float32 => canonical!(Float32Type, f32),
        _ => column,
    }
}

pub(crate) fn exact_cast(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let from = column.data_type();
    let refused = |e: String| {
        CdcError::Input(format!(
            "column of type {from} cannot be compared with earlier batches' {to}: {e}"
        ))
    };
    let cast_column = cast_with_options(column, to, &STRICT).map_err(|e| refused(e.to_string()))?;
    // All-null columns cast to any type unchanged.
    if from != &DataType::Null && !same_values_in_any_encoding(from, to) {
        let back =
            cast_with_options(&cast_column, from, &STRICT).map_err(|e| refused(e.to_string()))?;
        let kept = crate::arrow::compute::kernels::cmp::not_distinct(&back, column)?;
        if kept.true_count() != kept.len() {
            return Err(refused("some values would change".into()));
        }
    }
    Ok(cast_column)
}

/// Text and bytes keep their values across views, large offsets and dictionaries.
fn same_values_in_any_encoding(from: &DataType, to: &DataType) -> bool {
    let family = |t: &DataType| match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(0),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some(1),
        DataType::Dictionary(_, values) => match values.as_ref() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(0),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some(1),
            _ => None,
        },
        _ => None,
    };
    family(from).is_some() && family(from) == family(to)
}

/// Per row: is any of `columns` null? Logical nulls, so a `Null`-typed column counts too.
pub fn any_null(columns: &[ArrayRef]) -> Vec<bool> {
    let len = columns.first().map_or(0, |c| c.len());
    let mut out = vec![false; len];
    for column in columns {
        if let Some(nulls) = column.logical_nulls() {
            for (flag, valid) in out.iter_mut().zip(nulls.iter()) {
                *flag |= !valid;
            }
        }
    }
    out
}

/// Rows where any column, or any field inside a struct column, is null: a sequence compared
/// field by field has no place in the order when one of its fields is null, so AUTO CDC's
/// struct sequences reject such an event rather than compare it by its other fields.
pub fn any_null_within(columns: &[ArrayRef]) -> Vec<bool> {
    fn leaves(column: &ArrayRef, out: &mut Vec<ArrayRef>) {
        out.push(column.clone());
        if let Some(fields) = column.as_struct_opt() {
            for child in fields.columns() {
                leaves(child, out);
            }
        }
    }
    let mut all = Vec::new();
    for column in columns {
        leaves(column, &mut all);
    }
    any_null(&all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn a_null_inside_a_struct_sequence_makes_it_null() {
        use crate::arrow::array::StructArray;
        use crate::arrow::datatypes::Field;
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![
            Some("x"),
            Some("y"),
            None,
            Some("z"),
        ]));
        let seq: ArrayRef = Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("a", DataType::Int64, true)), a),
            (Arc::new(Field::new("b", DataType::Utf8, true)), b),
        ]));
        assert_eq!(
            any_null_within(std::slice::from_ref(&seq)),
            [false, true, true, false]
        );
        assert_eq!(any_null(std::slice::from_ref(&seq)), [false; 4]);
        assert_eq!(any_null_within(&[seq.slice(2, 2)]), [true, false]);
    }

    #[test]
    fn byte_order_is_tuple_order() {
        let enc = RowEncoder::new(vec![DataType::Int64, DataType::Utf8]).unwrap();
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2, -5]));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "a", "z"]));
        let rows = enc.encode(&[a, b]).unwrap();
        assert!(rows.row(0).as_ref() > rows.row(1).as_ref());
        assert!(rows.row(2).as_ref() > rows.row(0).as_ref());
        assert!(rows.row(3).as_ref() < rows.row(1).as_ref());
    }

    #[test]
    fn lossy_casts_are_refused() {
        let enc = RowEncoder::new(vec![DataType::Int64]).unwrap();
        let floats: ArrayRef = Arc::new(crate::arrow::array::Float64Array::from(vec![1.0, 1.5]));
        assert!(enc.encode(&[floats]).is_err());
        let whole: ArrayRef = Arc::new(crate::arrow::array::Float64Array::from(vec![1.0, 2.0]));
        assert!(enc.encode(&[whole]).is_ok());
    }

    #[test]
    fn large_strings_encode_like_strings() {
        let enc = RowEncoder::new(vec![DataType::Utf8]).unwrap();
        let small: ArrayRef = Arc::new(StringArray::from(vec!["k"]));
        let large: ArrayRef = Arc::new(crate::arrow::array::LargeStringArray::from(vec!["k"]));
        let r1 = enc.encode(&[small]).unwrap();
        let r2 = enc.encode(&[large]).unwrap();
        assert_eq!(r1.row(0).as_ref(), r2.row(0).as_ref());
        let back = enc.decode([r1.row(0).as_ref()]).unwrap();
        assert_eq!(back[0].len(), 1);
    }

    #[test]
    fn minus_zero_equals_zero_and_every_nan_equals_every_nan_as_spark_groups_them() {
        use crate::arrow::array::Float64Array;
        let enc = RowEncoder::new(vec![DataType::Float64]).unwrap();
        let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        let negative_nan = -f64::NAN;
        let keys: ArrayRef = Arc::new(Float64Array::from(vec![
            0.0,
            -0.0,
            f64::NAN,
            other_nan,
            negative_nan,
            f64::INFINITY,
        ]));
        let rows = enc.encode(&[keys]).unwrap();
        assert_eq!(rows.row(0), rows.row(1));
        assert_eq!(rows.row(2), rows.row(3));
        assert_eq!(rows.row(2), rows.row(4));
        assert!(
            rows.row(2) > rows.row(5),
            "NaN is greater than infinity, as in Spark"
        );
        let f32s: ArrayRef = Arc::new(crate::arrow::array::Float32Array::from(vec![-0.0f32, 0.0]));
        let enc32 = RowEncoder::new(vec![DataType::Float32]).unwrap();
        let rows = enc32.encode(&[f32s]).unwrap();
        assert_eq!(rows.row(0), rows.row(1));
    }
}
