//! The rows a batch writes, assembled once the merge has decided: picked from the screened
//! pieces (and the lookup), in the target's columns and types.

use crate::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use crate::arrow::compute::interleave;
use crate::arrow::datatypes::{Field, FieldRef, SchemaRef};
use rayon::prelude::*;

use crate::enrich::Lookup;
use crate::error::{CdcError, Result};

/// `rows` in the target's columns (by name), cast where a batch's types differ.
pub(crate) fn fit_to(rows: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if rows.schema() == *schema {
        return Ok(rows.clone());
    }
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = rows
                .column_by_name(field.name())
                .ok_or_else(|| no_column(field))?;
            fit_column(column, field)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows.num_rows())),
    )?)
}

/// The rows at `at` ((piece, row) pairs) of `pieces`, in the target's columns: a column
/// the pieces lack comes from `lookup` at `matches` (one per row of `at`). One copy, and none
/// when `at` is every row of a single piece in order and `pieces_owned`: the pieces are the
/// engine's own arrays (decoded JSON), not the caller's, which may alias memory the caller
/// can still change (numpy arrays behind a pandas frame).
pub(crate) fn gather(
    pieces: &[&RecordBatch],
    at: &[(usize, usize)],
    lookup: Option<(&Lookup, &[Option<u32>])>,
    schema: &SchemaRef,
    pieces_owned: bool,
) -> Result<RecordBatch> {
    let whole = pieces_owned
        && pieces.len() == 1
        && at.len() == pieces[0].num_rows()
        && at.iter().enumerate().all(|(i, &(_, r))| r == i);
    let gather_column = |field: &FieldRef| -> Result<ArrayRef> {
        let own: Option<Vec<&dyn Array>> = pieces
            .iter()
            .map(|p| p.column_by_name(field.name()).map(|c| c.as_ref()))
            .collect();
        let column = match (own, lookup) {
            (Some(own), _) if whole => own[0].slice(0, own[0].len()),
            (Some(own), _) => interleave(&own, at)?,
            (None, Some((lookup, matches))) => lookup
                .column_at(field.name(), matches)?
                .ok_or_else(|| no_column(field))?,
            (None, None) => return Err(no_column(field)),
        };
        fit_column(&column, field)
    };
    // Columns are independent copies: on both cores once there is enough to copy.
    let columns = if at.len() >= 4096 && !whole {
        schema
            .fields()
            .par_iter()
            .map(gather_column)
            .collect::<Result<Vec<_>>>()?
    } else {
        schema
            .fields()
            .iter()
            .map(gather_column)
            .collect::<Result<Vec<_>>>()?
    };
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(at.len())),
    )?)
}

fn fit_column(column: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    if column.data_type() == field.data_type() {
        return Ok(column.clone());
    }
    crate::keys::exact_cast(column, field.data_type()).map_err(|e| {
        CdcError::Input(format!(
            "column {:?} does not fit the target: {e}",
            field.name()
        ))
    })
}

fn no_column(field: &Field) -> CdcError {
    CdcError::Input(format!(
        "batch has no column {:?} for the target",
        field.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{AsArray, Int32Array, StringArray};
    use crate::arrow::datatypes::Int64Type;
    use crate::arrow::datatypes::{DataType, Schema};
    use crate::enrich::JoinHow;
    use std::sync::Arc;

    fn piece(ids: Vec<i32>, codes: Vec<&str>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int32Array::from(ids)) as ArrayRef),
            ("cc", Arc::new(StringArray::from(codes)) as ArrayRef),
        ])
        .unwrap()
    }

    fn target(fields: Vec<(&str, DataType)>) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .into_iter()
                .map(|(n, t)| Field::new(n, t, true))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn gather_picks_rows_across_pieces_with_lookup_columns() {
        let countries = RecordBatch::try_from_iter(vec![
            (
                "code",
                Arc::new(StringArray::from(vec!["FR", "CN"])) as ArrayRef,
            ),
            (
                "country",
                Arc::new(StringArray::from(vec!["France", "China"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let lookup =
            Lookup::new(countries, &[("cc".into(), "code".into())], JoinHow::Left).unwrap();
        let (a, b) = (
            piece(vec![1, 2], vec!["FR", "XX"]),
            piece(vec![3], vec!["CN"]),
        );
        let schema = target(vec![("country", DataType::Utf8), ("id", DataType::Int64)]);
        let out = gather(
            &[&a, &b],
            &[(1, 0), (0, 1), (0, 0)],
            Some((&lookup, &[Some(1), None, Some(0)])),
            &schema,
            false,
        )
        .unwrap();
        let country = out.column(0).as_string::<i32>();
        assert_eq!(
            country.iter().collect::<Vec<_>>(),
            vec![Some("China"), None, Some("France")]
        );
        let id = out.column(1).as_primitive::<Int64Type>();
        assert_eq!(id.values().to_vec(), vec![3, 2, 1]);
    }

    #[test]
    fn gather_of_every_owned_row_in_order_copies_nothing() {
        let a = piece(vec![1, 2], vec!["FR", "CN"]);
        let schema = target(vec![("cc", DataType::Utf8)]);
        let given = a.column(1).as_string::<i32>().values().as_ptr();
        let ptr = |b: &RecordBatch| b.column(0).as_string::<i32>().values().as_ptr();
        let shared = gather(&[&a], &[(0, 0), (0, 1)], None, &schema, true).unwrap();
        assert_eq!(given, ptr(&shared));
        // the caller's arrays are copied: they may alias memory it can still change
        let copied = gather(&[&a], &[(0, 0), (0, 1)], None, &schema, false).unwrap();
        assert_ne!(given, ptr(&copied));
        assert_eq!(copied.column(0).as_ref(), a.column(1).as_ref());
    }

    #[test]
    fn gather_names_a_missing_column() {
        let a = piece(vec![1], vec!["FR"]);
        let err = gather(
            &[&a],
            &[(0, 0)],
            None,
            &target(vec![("nope", DataType::Utf8)]),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }
}
