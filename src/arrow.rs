//! The parts of Arrow the engine uses, under the module names of the `arrow` umbrella crate.
//!
//! Depending on Arrow's subcrates alone leaves out the string kernels (and the regex engine
//! under them) that we never call: a fresh machine compiles a third less Arrow. arrow-arith
//! is here for its Kleene boolean kernels only (predicates); Cargo.toml builds it
//! unoptimised in the `devel` profile.
pub mod array {
    pub use arrow_array::builder;
    pub use arrow_array::cast::*;
    pub use arrow_array::*;
}

pub mod buffer {
    pub use arrow_buffer::*;
}

pub mod compute {
    pub use arrow_cast::cast::*;
    pub use arrow_select::concat::*;
    pub use arrow_select::filter::*;
    pub use arrow_select::interleave::*;
    pub use arrow_select::take::*;

    pub mod kernels {
        pub use arrow_arith::boolean;
        pub use arrow_ord::cmp;
    }
}

pub mod datatypes {
    pub use arrow_array::types::*;
    pub use arrow_buffer::{i256, ArrowNativeType};
    pub use arrow_schema::*;
}

pub mod error {
    pub use arrow_schema::ArrowError;
}

pub mod record_batch {
    pub use arrow_array::{RecordBatch, RecordBatchOptions, RecordBatchReader};
}

pub mod row {
    pub use arrow_row::*;
}

pub mod util {
    pub mod display {
        pub use arrow_cast::display::*;
    }
}
