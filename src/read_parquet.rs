//! Reading bronze Parquet files without copying the payload.
//!
//! Byte columns are read as view arrays: a long value (a JSON event) stays in the
//! decompressed page it came from and the array only points at it, where a plain binary
//! read copies every value into one buffer that grows by doubling. A whole file is read
//! with its row groups in parallel; a scan reads it batch by batch on a background thread.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use crate::arrow::error::ArrowError;
use crate::arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use rayon::prelude::*;

use crate::error::{CdcError, Result};

/// The file's rows, one batch per row group, with only `columns` (all when `None`), in the
/// order asked for. Strings and binaries come back as `Utf8View` / `BinaryView`.
pub fn read_parquet(
    path: &Path,
    columns: Option<&[String]>,
) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    let source = Source::open(path, columns)?;
    let groups = source.metadata.metadata().row_groups();
    let batches = (0..groups.len())
        .into_par_iter()
        .map(|group| {
            let rows = usize::try_from(groups[group].num_rows()).unwrap_or(0);
            source
                .reader(vec![group], rows.max(1))?
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((batches.into_iter().flatten().collect(), source.schema))
}

/// Batches a scan's reading thread may hold at most, whatever `read_ahead` asks for.
pub const MAX_READ_AHEAD: usize = 64;

/// The same rows as [`read_parquet`], `batch_rows` at a time, read by a background thread
/// that stays at most `read_ahead` batches ahead of the consumer: an upsert can decode one
/// batch while the next is read, and never holds the whole file.
pub fn scan_parquet(
    path: &Path,
    columns: Option<&[String]>,
    batch_rows: usize,
    read_ahead: usize,
) -> Result<ParquetScan> {
    let source = Source::open(path, columns)?;
    let schema = source.schema.clone();
    let metadata = source.metadata.metadata();
    let groups = (0..metadata.num_row_groups()).collect();
    // Both are bounds, not reservations: the reader and the channel allocate for them up
    // front, so a huge value must not become a huge allocation.
    let file_rows = usize::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
    let reader = source.reader(groups, batch_rows.clamp(1, file_rows.max(1)))?;
    let (send, batches) = sync_channel(read_ahead.min(MAX_READ_AHEAD));
    std::thread::Builder::new()
        .name("cdc_rs-scan".into())
        .spawn(move || {
            for batch in reader {
                let failed = batch.is_err();
                // A dropped scan hangs up: stop reading.
                if send.send(batch).is_err() || failed {
                    break;
                }
            }
        })
        .map_err(|e| CdcError::Input(format!("cannot start reading {}: {e}", path.display())))?;
    Ok(ParquetScan { schema, batches })
}

/// Batches of a Parquet file as a background thread reads them (see [`scan_parquet`]).
pub struct ParquetScan {
    schema: SchemaRef,
    batches: Receiver<Result<RecordBatch>>,
}

impl Iterator for ParquetScan {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.batches.recv().ok()?;
        Some(batch.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for ParquetScan {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// An opened file: its metadata with byte columns as views, and the projection asked for.
struct Source {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// Position in the projected (file-ordered) batch of each column asked for.
    order: Vec<usize>,
    schema: SchemaRef,
}

impl Source {
    fn open(path: &Path, columns: Option<&[String]>) -> Result<Self> {
        let file = open(path)?;
        let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| not_parquet(path, e))?;
        let views = Arc::new(as_views(plain.schema()));
        let metadata = ArrowReaderMetadata::try_new(
            plain.metadata().clone(),
            ArrowReaderOptions::new().with_schema(views.clone()),
        )
        .map_err(|e| not_parquet(path, e))?;
        let roots = match columns {
            None => (0..views.fields().len()).collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    views.index_of(name).map_err(|_| {
                        CdcError::Input(format!(
                            "{} has no column {name:?} (it has {:?})",
                            path.display(),
                            views.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                        ))
                    })
                })
                .collect::<Result<Vec<usize>>>()?,
        };
        let mask = ProjectionMask::roots(metadata.parquet_schema(), roots.iter().copied());
        // The projection keeps the file's column order; the caller gets the order asked for.
        let in_file_order = sorted(&roots);
        let order: Vec<usize> = roots
            .iter()
            .map(|r| in_file_order.binary_search(r).unwrap_or(0))
            .collect();
        let schema = Arc::new(views.project(&in_file_order)?.project(&order)?);
        Ok(Self {
            path: path.to_path_buf(),
            metadata,
            mask,
            order,
            schema,
        })
    }

    /// Batches of `row_groups`, `batch_rows` at a time, in the order asked for.
    fn reader(
        &self,
        row_groups: Vec<usize>,
        batch_rows: usize,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + 'static> {
        // Its own handle: clones of one share the read position, which parallel reads race on.
        let reader: ParquetRecordBatchReader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            open(&self.path)?,
            self.metadata.clone(),
        )
        .with_projection(self.mask.clone())
        .with_row_groups(row_groups)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| not_parquet(&self.path, e))?;
        let (path, order) = (self.path.clone(), self.order.clone());
        Ok(reader.map(move |batch| {
            batch
                .and_then(|b| b.project(&order))
                .map_err(|e| CdcError::Input(format!("cannot read {}: {e}", path.display())))
        }))
    }
}

fn not_parquet(path: &Path, e: ParquetError) -> CdcError {
    CdcError::Input(format!("cannot read {} as Parquet: {e}", path.display()))
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| CdcError::Input(format!("cannot open {}: {e}", path.display())))
}

fn sorted(roots: &[usize]) -> Vec<usize> {
    let mut sorted = roots.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The schema with every top-level string and binary column as its view type.
fn as_views(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let view = match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                other => other.clone(),
            };
            field.as_ref().clone().with_data_type(view)
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    fn write(path: &Path, batch: &RecordBatch, rows_per_group: usize) {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(rows_per_group))
            .build();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    /// A fresh folder of this test process (removed by the test at its end).
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn bronze(rows: usize) -> RecordBatch {
        let value: ArrayRef = Arc::new(BinaryArray::from_iter((0..rows).map(|i| {
            (i % 7 != 0).then(|| {
                format!(
                    "{{\"customer_id\":\"c{i}\",\"padding\":\"{}\"}}",
                    "x".repeat(i % 40)
                )
                .into_bytes()
            })
        })));
        let topic: ArrayRef = Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
            if i % 3 == 0 {
                "books"
            } else {
                "customers"
            }
        })));
        let offset: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
        RecordBatch::try_from_iter([("value", value), ("topic", topic), ("offset", offset)])
            .unwrap()
    }

    #[test]
    fn views_of_the_asked_columns_in_the_asked_order_across_row_groups() {
        let dir = scratch("cdc_rs-read");
        let path = dir.join("bronze.parquet");
        let batch = bronze(10_000);
        write(&path, &batch, 3_000);

        let (batches, schema) =
            read_parquet(&path, Some(&["topic".into(), "value".into()])).unwrap();
        assert_eq!(batches.len(), 4);
        assert_eq!(schema.field(0).name(), "topic");
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8View);
        assert_eq!(schema.field(1).data_type(), &DataType::BinaryView);
        let read = crate::arrow::compute::concat_batches(&schema, &batches).unwrap();
        let values = read.column(1).as_binary_view();
        let expected = batch.column(0).as_binary::<i32>();
        assert_eq!(values.len(), expected.len());
        for i in 0..values.len() {
            assert_eq!(values.is_null(i), expected.is_null(i));
            if !expected.is_null(i) {
                assert_eq!(values.value(i), expected.value(i));
            }
        }
        let topics = read.column(0).as_string_view();
        assert!((0..topics.len())
            .all(|i| topics.value(i) == batch.column(1).as_string::<i32>().value(i)));

        let (all, schema) = read_parquet(&path, None).unwrap();
        assert_eq!(schema.fields().len(), 3);
        assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 10_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_scan_yields_the_same_rows_in_batches_and_stops_when_dropped() {
        let dir = scratch("cdc_rs-scan");
        let path = dir.join("bronze.parquet");
        write(&path, &bronze(10_000), 3_000);
        let columns = ["offset".to_string(), "value".to_string()];
        let (whole, schema) = read_parquet(&path, Some(&columns)).unwrap();

        let scan = scan_parquet(&path, Some(&columns), 1_000, 2).unwrap();
        assert_eq!(scan.schema(), schema);
        let batches = scan.collect::<std::result::Result<Vec<_>, _>>().unwrap();
        assert!(batches.iter().all(|b| b.num_rows() <= 1_000));
        assert_eq!(
            crate::arrow::compute::concat_batches(&schema, &batches).unwrap(),
            crate::arrow::compute::concat_batches(&schema, &whole).unwrap()
        );

        let mut early = scan_parquet(&path, None, 10, 1).unwrap();
        assert_eq!(early.next().unwrap().unwrap().num_rows(), 10);
        drop(early); // the reading thread sees the hang-up and stops
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_column_or_format_is_an_input_error() {
        let dir = scratch("cdc_rs-read-err");
        let path = dir.join("bronze.parquet");
        write(&path, &bronze(10), 100);
        let not_parquet = dir.join("notes.txt");
        std::fs::write(&not_parquet, b"not a parquet file").unwrap();

        let missing = read_parquet(&dir.join("nope.parquet"), None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot open"), "{missing}");
        let column = read_parquet(&path, Some(&["partition".into()]))
            .unwrap_err()
            .to_string();
        assert!(column.contains("no column \"partition\""), "{column}");
        let format = read_parquet(&not_parquet, None).unwrap_err().to_string();
        assert!(format.contains("as Parquet"), "{format}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
