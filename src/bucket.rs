//! A stable hash of key values, to assign each key to one file bucket of a table layout.
//!
//! Files of a durable target are grouped by `hash(key) mod buckets`, so a batch that touches
//! few keys rewrites few files. The hash is part of the on-disk layout: it is defined on the
//! *values* (not on Arrow's in-memory encodings, which may change between versions), so
//! an `Int32` 7 and an `Int64` 7 land in the same bucket, as do the same text in `Utf8`,
//! `LargeUtf8` or `Utf8View`. Changing it would misplace rows: the layout name carries a
//! version (`LAYOUT`) to be bumped with any change here.
use crate::arrow::array::{Array, ArrayRef, AsArray};
use crate::arrow::datatypes::{self as dt, DataType};

use crate::error::{CdcError, Result};

/// The layout version written into file names; bump it when `key_hashes` changes.
pub const LAYOUT: &str = "h1";

/// One 64-bit hash per row over the given key columns (all of the same length).
pub fn key_hashes(columns: &[ArrayRef]) -> Result<Vec<u64>> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut hashes = vec![0x243f_6a88_85a3_08d3_u64; rows];
    for column in columns {
        if column.len() != rows {
            return Err(CdcError::Input("key columns differ in length".into()));
        }
        mix_column(column.as_ref(), &mut hashes)?;
    }
    Ok(hashes)
}

fn mix_column(column: &dyn Array, hashes: &mut [u64]) -> Result<()> {
    macro_rules! ints {
        ($t:ty) => {{
            let values = column.as_primitive::<$t>();
            mix_each(column, hashes, |i| mix(values.value(i) as i64 as u64))
        }};
    }
    match column.data_type() {
        DataType::Int8 => ints!(dt::Int8Type),
        DataType::Int16 => ints!(dt::Int16Type),
        DataType::Int32 => ints!(dt::Int32Type),
        DataType::Int64 => ints!(dt::Int64Type),
        DataType::UInt8 => ints!(dt::UInt8Type),
        DataType::UInt16 => ints!(dt::UInt16Type),
        DataType::UInt32 => ints!(dt::UInt32Type),
        DataType::UInt64 => ints!(dt::UInt64Type),
        DataType::Date32 => ints!(dt::Date32Type),
        DataType::Date64 => ints!(dt::Date64Type),
        // A column's unit is fixed by the table schema, so the raw count is the value.
        DataType::Timestamp(_, _) => {
            let values = crate::arrow::compute::cast(column, &DataType::Int64)?;
            let values = values.as_primitive::<dt::Int64Type>();
            mix_each(column, hashes, |i| mix(values.value(i) as u64))
        }
        DataType::Boolean => {
            let values = column.as_boolean();
            mix_each(column, hashes, |i| mix(values.value(i) as u64))
        }
        DataType::Float32 | DataType::Float64 => {
            let values = crate::arrow::compute::cast(column, &DataType::Float64)?;
            let values = values.as_primitive::<dt::Float64Type>();
            // -0.0 equals 0.0 and every NaN is one key: hash them alike.
            mix_each(column, hashes, |i| {
                let v = values.value(i);
                let v = if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    f64::NAN
                } else {
                    v
                };
                mix(v.to_bits())
            })
        }
        DataType::Decimal128(_, _) => {
            let values = column.as_primitive::<dt::Decimal128Type>();
            mix_each(column, hashes, |i| bytes(&values.value(i).to_le_bytes()))
        }
        DataType::Utf8 => {
            let values = column.as_string::<i32>();
            mix_each(column, hashes, |i| bytes(values.value(i).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let values = column.as_string::<i64>();
            mix_each(column, hashes, |i| bytes(values.value(i).as_bytes()))
        }
        DataType::Utf8View => {
            let values = column.as_string_view();
            mix_each(column, hashes, |i| bytes(values.value(i).as_bytes()))
        }
        DataType::Binary => {
            let values = column.as_binary::<i32>();
            mix_each(column, hashes, |i| bytes(values.value(i)))
        }
        DataType::LargeBinary => {
            let values = column.as_binary::<i64>();
            mix_each(column, hashes, |i| bytes(values.value(i)))
        }
        DataType::BinaryView => {
            let values = column.as_binary_view();
            mix_each(column, hashes, |i| bytes(values.value(i)))
        }
        other => {
            return Err(CdcError::Config(format!(
                "a key column of type {other} cannot be bucketed"
            )))
        }
    }
    Ok(())
}

fn mix_each(column: &dyn Array, hashes: &mut [u64], value: impl Fn(usize) -> u64) {
    for (i, hash) in hashes.iter_mut().enumerate() {
        let v = if column.is_null(i) { NULL } else { value(i) };
        *hash = mix(hash.rotate_left(29) ^ v);
    }
}

const NULL: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a over the bytes, then the finaliser (FNV alone mixes its last bytes poorly).
fn bytes(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ data.len() as u64;
    for &b in data {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::arrow::array::{
        Int32Array, Int64Array, LargeStringArray, StringArray, StringViewArray,
    };

    use super::*;

    fn one(column: ArrayRef) -> Vec<u64> {
        key_hashes(&[column]).unwrap()
    }

    #[test]
    fn integer_widths_and_string_encodings_hash_alike() {
        let a = one(Arc::new(Int32Array::from(vec![1, -7, 40_000])));
        let b = one(Arc::new(Int64Array::from(vec![1, -7, 40_000])));
        assert_eq!(a, b);
        let s = one(Arc::new(StringArray::from(vec!["C0001", "", "é"])));
        assert_eq!(
            s,
            one(Arc::new(LargeStringArray::from(vec!["C0001", "", "é"])))
        );
        assert_eq!(
            s,
            one(Arc::new(StringViewArray::from(vec!["C0001", "", "é"])))
        );
        assert_ne!(s[0], s[1]);
    }

    #[test]
    fn the_hash_is_pinned_because_files_on_disk_depend_on_it() {
        // If this fails, bump LAYOUT: tables written before would be misread.
        let int = one(Arc::new(Int64Array::from(vec![42])))[0];
        let text = one(Arc::new(StringArray::from(vec!["C000000042"])))[0];
        assert_eq!((int, text), (PINNED_INT, PINNED_STR), "{int:#x} {text:#x}");
    }

    #[test]
    fn two_columns_depend_on_order() {
        let x: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![2, 1]));
        let xy = key_hashes(&[x.clone(), y.clone()]).unwrap();
        assert_ne!(xy[0], xy[1]);
        assert_eq!(key_hashes(&[y, x]).unwrap(), vec![xy[1], xy[0]]);
    }

    #[test]
    fn keys_spread_evenly_over_buckets() {
        let keys: Vec<String> = (0..64_000).map(|i| format!("C{i:09}")).collect();
        let hashes = one(Arc::new(StringArray::from(keys)));
        let mut counts = [0u32; 64];
        for h in hashes {
            counts[(h % 64) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    const PINNED_INT: u64 = 0xf1e3_e662_6107_b1f1;
    const PINNED_STR: u64 = 0x7ea3_d269_a823_31d0;
}
