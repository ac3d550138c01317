//! Where a merge-on-read target's rows are: a *place* (a data file, a row in it) as the
//! bookkeeping records it, turned into the row position the key index uses.
use crate::arrow::array::{Array, Int32Array, UInt32Array};

use crate::error::{CdcError, Result};

/// The row position of each place, and the places in files no longer live.
///
/// `files[i]` is place i's file, an index into `starts` and `sizes` (null: no place, as for
/// a tombstone); `rows[i]` its row in that file (null read as 0). File `f`'s rows take the
/// positions `starts[f]..starts[f] + sizes[f]`; a negative start marks a file no longer
/// live. A place has no position (null) without a file, in a file no longer live, or past
/// its file's rows; those in a file no longer live are listed (ascending), for the caller
/// to follow where a compaction moved them.
pub fn place_positions(
    files: &Int32Array,
    rows: &UInt32Array,
    starts: &[i64],
    sizes: &[i64],
) -> Result<(UInt32Array, Vec<u32>)> {
    if files.len() != rows.len() || starts.len() != sizes.len() {
        return Err(CdcError::Input(
            "places: one row per file, one size per start".into(),
        ));
    }
    let mut gone = Vec::new();
    let mut bad_file = false;
    let positions = (0..files.len())
        .map(|i| {
            if files.is_null(i) {
                return None;
            }
            let Some(f) = usize::try_from(files.value(i))
                .ok()
                .filter(|&f| f < starts.len())
            else {
                bad_file = true;
                return None;
            };
            if starts[f] < 0 {
                gone.push(i as u32);
                return None;
            }
            let row = if rows.is_null(i) {
                0
            } else {
                rows.value(i) as i64
            };
            (row < sizes[f])
                .then(|| u32::try_from(starts[f] + row).ok())
                .flatten()
        })
        .collect();
    if bad_file {
        return Err(CdcError::Input(
            "places: a file index past the files given".into(),
        ));
    }
    Ok((positions, gone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_become_positions_in_the_live_files() {
        // file 0 at positions 0..3, file 1 gone, file 2 at 3..5
        let files = Int32Array::from(vec![Some(0), Some(2), None, Some(1), Some(2), Some(0)]);
        let rows = UInt32Array::from(vec![Some(2), Some(1), None, Some(0), Some(2), None]);
        let (positions, gone) = place_positions(&files, &rows, &[0, -1, 3], &[3, 4, 2]).unwrap();
        let got: Vec<Option<u32>> = positions.iter().collect();
        assert_eq!(got, vec![Some(2), Some(4), None, None, None, Some(0)]);
        assert_eq!(gone, vec![3]);
        let past = Int32Array::from(vec![3]);
        let one = UInt32Array::from(vec![0]);
        assert!(place_positions(&past, &one, &[0, 0, 0], &[1, 1, 1]).is_err());
    }
}
