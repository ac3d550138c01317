//! The one error type of the core. The Python layer maps each variant to a `cdc_rs` exception.
use crate::arrow::error::ArrowError;

#[derive(Debug, thiserror::Error)]
pub enum CdcError {
    /// A DDL schema string that does not parse; `position` is a 0-based character offset.
    #[error("invalid schema at position {position}: {message}\n{}", pointer(ddl, *position))]
    Schema {
        ddl: String,
        position: usize,
        message: String,
    },

    /// A predicate option (`where=`, `apply_as_deletes=`) that does not parse, names an
    /// unknown column, or compares values that cannot meet; `position` is a 0-based
    /// character offset.
    #[error("{option}: {message} (at position {position})\n{}", pointer(text, *position))]
    Predicate {
        option: String,
        text: String,
        position: usize,
        message: String,
    },

    /// A snapshot whose columns differ from the previous snapshot's (names or types).
    #[error("{0}")]
    SchemaChange(String),

    /// FAILFAST decoding met a value that is not a JSON object of the schema.
    #[error("malformed JSON at row {row}: {message}")]
    Decode { row: usize, message: String },

    /// A configuration that cannot work (bad option, missing column, duplicate lookup key...).
    #[error("{0}")]
    Config(String),

    /// The batch does not have the shape the pipeline needs (missing or mistyped column).
    #[error("{0}")]
    Input(String),

    /// A target's rows and its per-key bookkeeping do not match (restoring a table).
    #[error("{0}")]
    State(String),

    /// The caller raised an [`crate::interrupt::Interrupt`]: nothing of the batch applied.
    #[error("interrupted; nothing of the batch was applied")]
    Interrupted,

    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

pub type Result<T, E = CdcError> = std::result::Result<T, E>;

/// The line of text around `position` (a character offset) with a caret under it; a long
/// line is cut to a window, so an error on a huge string stays readable.
fn pointer(text: &str, position: usize) -> String {
    const SIDE: usize = 40;
    let chars: Vec<char> = text.chars().collect();
    let position = position.min(chars.len());
    // Only the line holding `position`: under a multi-line text the caret would be misplaced.
    let line_start = chars[..position]
        .iter()
        .rposition(|&c| c == '\n')
        .map_or(0, |i| i + 1);
    let line_end = chars[position..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |i| position + i);
    let from = position.saturating_sub(SIDE).max(line_start);
    let to = (position + SIDE).min(line_end);
    let before = if from > line_start { "…" } else { "" };
    let after = if to < line_end { "…" } else { "" };
    let shown: String = chars[from..to]
        .iter()
        .map(|&c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let caret = before.chars().count() + position - from + 1;
    format!("  {before}{shown}{after}\n  {:>caret$}", "^")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_error_shows_a_window_of_a_long_schema_with_the_caret_under_the_position() {
        let ddl = format!("a {}", "x".repeat(1000));
        let shown = pointer(&ddl, 500);
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[0].chars().count() < 100, "{shown}");
        let caret = lines[1].chars().count() - 1;
        assert_eq!(lines[0].chars().nth(caret), Some('x'));
        assert_eq!(pointer("a INT", 2), "  a INT\n    ^");
        assert_eq!(pointer("a = 1\nAND\tb ==", 13), "  AND b ==\n         ^");
    }
}
