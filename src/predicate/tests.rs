//! Predicates evaluated on tiny batches: three-valued logic, typing, errors.
use std::sync::Arc;

use super::*;
use crate::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, Int8Array, StringArray, StringViewArray, TimestampMicrosecondArray,
};
use crate::arrow::datatypes::Int32Type;

/// `b` TRUE/FALSE/NULL, `i` 1/2/NULL, `s` 'x'/'y'/NULL, in every pairing with `c` (9 rows).
fn batch() -> RecordBatch {
    let b = [Some(true), Some(false), None];
    let (mut bs, mut cs, mut is, mut ss) = (vec![], vec![], vec![], vec![]);
    for x in 0..3 {
        for y in 0..3 {
            bs.push(b[x]);
            cs.push(b[y]);
            is.push([Some(1), Some(2), None][x]);
            ss.push([Some("x"), Some("y"), None][x]);
        }
    }
    RecordBatch::try_from_iter(vec![
        ("b", Arc::new(BooleanArray::from(bs)) as ArrayRef),
        ("c", Arc::new(BooleanArray::from(cs)) as ArrayRef),
        ("i", Arc::new(Int32Array::from(is)) as ArrayRef),
        ("s", Arc::new(StringArray::from(ss)) as ArrayRef),
    ])
    .unwrap()
}

fn eval_on(rows: &RecordBatch, text: &str) -> Vec<Option<bool>> {
    let p = Predicate::parse("where=", text).unwrap();
    p.evaluate(rows, &TimeZone::utc())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .iter()
        .collect()
}

fn eval(text: &str) -> Vec<Option<bool>> {
    eval_on(&batch(), text)
}

fn error_on(rows: &RecordBatch, text: &str) -> String {
    let p = Predicate::parse("where=", text).unwrap();
    p.evaluate(rows, &TimeZone::utc()).unwrap_err().to_string()
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const N: Option<bool> = None;

#[test]
fn and_or_not_follow_sql_three_valued_logic() {
    // rows: (b, c) = TT TF TN FT FF FN NT NF NN
    assert_eq!(eval("b AND c"), vec![T, F, N, F, F, F, N, F, N]);
    assert_eq!(eval("b OR c"), vec![T, T, T, T, F, N, T, N, N]);
    assert_eq!(eval("NOT b"), vec![F, F, F, T, T, T, N, N, N]);
    assert_eq!(eval("NOT (b AND c)"), vec![F, T, N, T, T, T, N, T, N]);
}

/// Rows 0, 3 and 6: `i`/`s` = 1/'x', 2/'y', NULL.
fn every_third(v: Vec<Option<bool>>) -> Vec<Option<bool>> {
    v.into_iter().step_by(3).collect()
}

#[test]
fn comparisons_with_null_are_unknown_and_is_null_is_never_unknown() {
    assert_eq!(every_third(eval("i = 1")), vec![T, F, N]);
    assert_eq!(eval("i = NULL"), vec![N; 9]);
    assert_eq!(eval("NULL <> NULL"), vec![N; 9]);
    assert_eq!(every_third(eval("i IS NULL")), vec![F, F, T]);
    assert_eq!(every_third(eval("s IS NOT NULL")), vec![T, T, F]);
    assert_eq!(every_third(eval("i = 1 IS NULL")), vec![F, F, T]);
}

#[test]
fn in_lists_are_true_on_a_match_and_unknown_when_a_null_took_part() {
    assert_eq!(every_third(eval("i IN (1, 3)")), vec![T, F, N]);
    assert_eq!(every_third(eval("i IN (1, NULL)")), vec![T, N, N]);
    assert_eq!(every_third(eval("i NOT IN (1, NULL)")), vec![F, N, N]);
    assert_eq!(every_third(eval("s NOT IN ('y')")), vec![T, F, N]);
    assert_eq!(every_third(eval("NOT s IN ('y', 'z')")), vec![T, F, N]);
}

#[test]
fn literals_compare_with_literals_and_conditions_with_booleans() {
    assert_eq!(eval("1 = 1.0 AND 'a' < 'b' AND 2 > 1e0"), vec![T; 9]);
    assert_eq!(eval("TRUE"), vec![T; 9]);
    assert_eq!(every_third(eval("(i = 1) = TRUE")), vec![T, F, N]);
    assert_eq!(
        eval("b = c").into_iter().take(3).collect::<Vec<_>>(),
        vec![T, F, N]
    );
}

#[test]
fn numbers_compare_by_value_whatever_their_types() {
    let rows = RecordBatch::try_from_iter(vec![
        ("tiny", Arc::new(Int8Array::from(vec![1, -1])) as ArrayRef),
        (
            "big",
            Arc::new(Int64Array::from(vec![i64::MAX, 0])) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float32Array::from(vec![0.1, -0.0])) as ArrayRef,
        ),
        (
            "d",
            Arc::new(Float64Array::from(vec![f64::NAN, 1.5])) as ArrayRef,
        ),
    ])
    .unwrap();
    let eval = |text| eval_on(&rows, text);
    assert_eq!(eval("tiny < 300"), vec![T, T]);
    assert_eq!(eval("tiny = 1.0"), vec![T, F]);
    assert_eq!(eval("tiny = 1.5"), vec![F, F]);
    assert_eq!(eval("tiny = '1'"), vec![T, F]);
    assert_eq!(eval("big < 9223372036854775808"), vec![T, T]);
    assert_eq!(eval("f = 0.1"), vec![F, F]); // a float's 0.1 is not the decimal 0.1, as in Spark
    assert_eq!(eval("f = 0"), vec![F, T]); // -0.0 = 0
    assert_eq!(eval("d = 'NaN' AND d > 1e308"), vec![T, F]); // NaN equals itself, above all
    assert_eq!(eval("d >= tiny"), vec![T, T]);
}

#[test]
fn strings_of_every_layout_compare_by_bytes() {
    let dict: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
    let rows = RecordBatch::try_from_iter(vec![
        (
            "view",
            Arc::new(StringViewArray::from(vec!["é", "B"])) as ArrayRef,
        ),
        ("dict", Arc::new(dict) as ArrayRef),
    ])
    .unwrap();
    assert_eq!(eval_on(&rows, "view > 'z' OR view < 'a'"), vec![T, T]);
    assert_eq!(eval_on(&rows, "dict = 'b' OR dict < view"), vec![T, T]);
    assert_eq!(eval_on(&rows, "Dict IN ('a')"), vec![T, F]);
}

#[test]
fn time_literals_are_read_as_spark_casts_them_in_the_pipelines_zone() {
    let micros = 1_704_103_200_000_000; // 2024-01-01 10:00:00 UTC
    let rows = RecordBatch::try_from_iter(vec![
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![micros]).with_timezone("UTC"))
                as ArrayRef,
        ),
        (
            "ntz",
            Arc::new(TimestampMicrosecondArray::from(vec![micros])) as ArrayRef,
        ),
        ("day", Arc::new(Date32Array::from(vec![19_723])) as ArrayRef), // 2024-01-01
    ])
    .unwrap();
    let paris = TimeZone::parse("Europe/Paris").unwrap();
    let eval = |text| {
        let p = Predicate::parse("where=", text).unwrap();
        p.evaluate(&rows, &paris)
            .unwrap()
            .iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(eval("ts = '2024-01-01 11:00:00'"), vec![T]);
    assert_eq!(eval("ts = '2024-01-01T10:00:00Z'"), vec![T]);
    assert_eq!(eval("ntz = '2024-01-01 10:00:00'"), vec![T]);
    assert_eq!(
        eval("day = '2024-01-01' AND day < '2024-1-2 10:00'"),
        vec![T]
    );
}

#[test]
fn names_resolve_ignoring_case_unless_that_is_ambiguous() {
    let rows = RecordBatch::try_from_iter(vec![
        ("Op", Arc::new(StringArray::from(vec!["d"])) as ArrayRef),
        ("op", Arc::new(StringArray::from(vec!["u"])) as ArrayRef),
        ("Kind", Arc::new(StringArray::from(vec!["k"])) as ArrayRef),
    ])
    .unwrap();
    assert_eq!(eval_on(&rows, "KIND = 'k' AND `kind` = 'k'"), vec![T]);
    assert_eq!(eval_on(&rows, "Op = 'd' AND op = 'u'"), vec![T]);
    let e = error_on(&rows, "OP = 'd'");
    assert!(
        e.contains("could be any of the columns [\"Op\", \"op\"]"),
        "{e}"
    );
}

#[test]
fn an_unknown_column_is_named_with_the_known_ones_and_a_caret() {
    let e = error_on(&batch(), "i = 1 AND sttus = 'x'");
    assert!(e.starts_with("where=: unknown column \"sttus\""), "{e}");
    assert!(e.contains("[\"b\", \"c\", \"i\", \"s\"]"), "{e}");
    assert!(e.ends_with("  i = 1 AND sttus = 'x'\n            ^"), "{e}");
}

#[test]
fn values_that_cannot_meet_are_errors_at_the_literal() {
    let cases = [
        ("s = 1", "quote it ('1')"),
        ("i = 'abc'", "\"abc\" is not a number"),
        ("i = '1.5'", "\"1.5\" is not an integer"),
        (
            "b = 1",
            "cannot compare column \"b\" (Boolean) with a number",
        ),
        ("b = 'maybe'", "not a boolean"),
        ("i", "is Int32, not a condition"),
        ("'x' OR b", "not a condition"),
        (
            "s = b",
            "cannot compare column \"s\" (Utf8) with column \"b\" (Boolean)",
        ),
    ];
    for (text, message) in cases {
        let e = error_on(&batch(), text);
        assert!(e.contains(message), "{text}: {e}");
    }
}

#[test]
fn check_raises_at_build_time_what_the_first_batch_would() {
    let schema = batch().schema();
    let check = |text| {
        Predicate::parse("apply_as_deletes=", text)
            .unwrap()
            .check(&schema, &TimeZone::utc())
    };
    assert!(check("s IN ('x', 'y') AND i > 0").is_ok());
    let e = check("i = 'one'").unwrap_err().to_string();
    assert!(
        e.starts_with("apply_as_deletes=: \"one\" is not a number"),
        "{e}"
    );
    assert!(check("nope IS NULL").is_err());
}

#[test]
fn a_syntax_error_names_the_option_and_points_at_the_token() {
    let e = Predicate::parse("where=", "op = 'd' AND").unwrap_err();
    assert!(
        matches!(e, CdcError::Predicate { position: 12, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "where=: expected a value, found the end (at position 12)\n  op = 'd' AND\n              ^"
    );
}
