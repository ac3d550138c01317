//! `parse_ddl` on arbitrary UTF-8: it never panics or overflows the stack, and
//! - an error is a `Schema` error whose position is inside the text (and it formats);
//! - a parsed schema nests at most `MAX_NESTING` levels of ARRAY/MAP/STRUCT, has only nullable
//!   fields, no two fields of one struct share a name, and the JSON decoder accepts it.
#![no_main]

use arrow::array::{Array, StringArray};
use arrow::datatypes::{DataType, Fields};
use cdc_rs::decode::{from_json, DecodeOptions, Mode};
use cdc_rs::schema::{parse_ddl, MAX_NESTING};
use cdc_rs::CdcError;
use libfuzzer_sys::fuzz_target;

/// Levels of ARRAY/MAP/STRUCT in `dt` (a leaf is 0), checking every struct on the way.
fn depth(dt: &DataType) -> usize {
    match dt {
        DataType::List(f) => {
            assert!(f.is_nullable(), "list element not nullable: {dt}");
            1 + depth(f.data_type())
        }
        DataType::Struct(fs) => 1 + fields_depth(fs),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                panic!("map entries are not a struct: {dt}");
            };
            assert_eq!(kv.len(), 2, "{dt}");
            assert_eq!(kv[0].data_type(), &DataType::Utf8, "{dt}");
            1 + depth(kv[1].data_type())
        }
        _ => 0,
    }
}

fn fields_depth(fs: &Fields) -> usize {
    for (i, f) in fs.iter().enumerate() {
        assert!(f.is_nullable(), "field {:?} not nullable", f.name());
        assert!(
            fs[..i].iter().all(|g| g.name() != f.name()),
            "duplicate field name {:?}",
            f.name()
        );
    }
    fs.iter().map(|f| depth(f.data_type())).max().unwrap_or(0)
}

fuzz_target!(|ddl: &str| {
    match parse_ddl(ddl) {
        Ok(schema) => {
            let deepest = fields_depth(schema.fields());
            assert!(deepest <= MAX_NESTING, "nesting {deepest} > {MAX_NESTING}");
            // Whatever parses, the decoder takes.
            let rows = StringArray::from(vec![Some("{}"), None, Some(ddl), Some("[]")]);
            let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
            let decoded = from_json(&rows, &schema, &opts)
                .unwrap_or_else(|e| panic!("parsed schema not decodable: {e}"));
            assert_eq!(decoded.batch.num_rows(), rows.len());
        }
        Err(e) => {
            let CdcError::Schema { position, .. } = &e else {
                panic!("not a schema error: {e:?}");
            };
            assert!(*position <= ddl.chars().count(), "position {position}");
            let _ = e.to_string();
        }
    }
});
