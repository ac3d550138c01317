//! Core errors as the `cdc_rs.exceptions` classes (defined in Python so that each can also
//! be a `ValueError`).
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::CdcError;

pub fn to_py(err: CdcError) -> PyErr {
    let class = match &err {
        CdcError::Schema { .. } | CdcError::SchemaChange(_) => "SchemaError",
        CdcError::Decode { .. } => "DecodeError",
        CdcError::Config(_) | CdcError::Predicate { .. } => "ConfigError",
        CdcError::Input(_) | CdcError::Arrow(_) => "InputError",
        CdcError::State(_) => "TargetStateError",
        CdcError::Interrupted => {
            return pyo3::exceptions::PyKeyboardInterrupt::new_err(err.to_string());
        }
    };
    let message = err.to_string();
    Python::attach(|py| {
        match py
            .import("cdc_rs.exceptions")
            .and_then(|m| m.getattr(class))
        {
            Ok(class) => PyErr::from_type(
                class.cast_into().expect("exception classes are types"),
                message,
            ),
            Err(_) => PyValueError::new_err(message),
        }
    })
}

pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, CdcError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
