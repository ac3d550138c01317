//! A group of a snapshot's rows against the state, shard by shard.
//!
//! Each chunk of rows lays itself out by shard (its keys' hashes, fingerprints and key bytes
//! copied next to each other, one run per shard), in parallel; then each shard reads its run
//! of every chunk and probes only its own small table, so the comparison stays in the CPU
//! cache, and the shards run in parallel too.
use rayon::prelude::*;

use crate::arrow::row::Rows;

use super::shard::{shard_of, Found, Shard, SHARDS};
use super::SnapshotState;

/// Rows of a group encoded and laid out by shard.
pub struct Chunk {
    /// The rows with a key, by shard: shard `s` has `items[starts[s]..starts[s + 1]]`.
    items: Vec<Item>,
    starts: Vec<u32>,
    /// Their keys (row format), in the order of `items`.
    keys: Vec<u8>,
    /// The rows with a null key (taken: the pipeline rejects them).
    null_rows: Vec<u32>,
}

/// A row laid out in its shard's run.
struct Item {
    hash: u64,
    print: u64,
    key_at: usize,
    key_len: u32,
    /// The row's number in the group.
    row: u32,
}

impl Chunk {
    /// The rows `first_row..` of a group: their encoded `keys`, whether a key column is null,
    /// and their fingerprints; each key is hashed with `state`'s hasher.
    pub fn new(
        state: &SnapshotState,
        first_row: u32,
        keys: &Rows,
        nulls: &[bool],
        prints: &[u64],
    ) -> Self {
        let hashes: Vec<u64> = keys
            .iter()
            .zip(nulls)
            .map(|(key, &null)| if null { 0 } else { state.hash(key.data()) })
            .collect();
        // The rows with a key in shard order (a counting sort), then copied out in that order.
        let mut starts = vec![0u32; SHARDS + 1];
        let mut null_rows = Vec::new();
        for (r, &null) in nulls.iter().enumerate() {
            if null {
                null_rows.push(first_row + r as u32);
            } else {
                starts[shard_of(hashes[r]) + 1] += 1;
            }
        }
        for s in 0..SHARDS {
            starts[s + 1] += starts[s];
        }
        let mut order = vec![0u32; starts[SHARDS] as usize];
        let mut fill = starts.clone();
        for r in (0..nulls.len()).filter(|&r| !nulls[r]) {
            let s = shard_of(hashes[r]);
            order[fill[s] as usize] = r as u32;
            fill[s] += 1;
        }
        let mut items = Vec::with_capacity(order.len());
        let mut key_bytes = Vec::with_capacity(keys.lengths().sum());
        for &r in &order {
            let (r, key) = (r as usize, keys.row(r as usize).data());
            items.push(Item {
                hash: hashes[r],
                print: prints[r],
                key_at: key_bytes.len(),
                key_len: key.len() as u32,
                row: first_row + r as u32,
            });
            key_bytes.extend_from_slice(key);
        }
        Chunk {
            items,
            starts,
            keys: key_bytes,
            null_rows,
        }
    }

    fn run(&self, shard: usize) -> impl Iterator<Item = (&Item, &[u8])> {
        let run = &self.items[self.starts[shard] as usize..self.starts[shard + 1] as usize];
        run.iter().map(|item| {
            let at = item.key_at;
            (item, &self.keys[at..at + item.key_len as usize])
        })
    }
}

/// A group's rows against the state.
#[derive(Default)]
pub struct Compared {
    /// The group's rows the change batch takes (new, changed, null key), in order.
    pub take: Vec<u32>,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub null_keys: u64,
    /// The first row whose key the snapshot had already.
    pub duplicate: Option<u32>,
}

/// Groups this small are compared on one thread (spreading them costs more than it saves).
const PARALLEL_ROWS: usize = 16_384;

/// Compares the rows of `chunks` (one group) with `state`, which each shard changes in
/// place: it finds each key, updates its fingerprint or adds it, and marks it.
pub fn compare(state: &mut SnapshotState, chunks: &[Chunk]) -> Compared {
    let (mark, hasher) = (state.generation(), *state.hasher());
    let work = |(s, shard): (usize, &mut Shard)| {
        let mut out = Compared::default();
        for (item, key) in chunks.iter().flat_map(|chunk| chunk.run(s)) {
            match shard.take(item.hash, key, item.print, mark, &hasher) {
                Found::New => out.inserted += 1,
                Found::Changed => out.updated += 1,
                Found::Same => {
                    out.unchanged += 1;
                    continue;
                }
                Found::Twice => {
                    out.duplicate = Some(out.duplicate.map_or(item.row, |d| d.min(item.row)));
                    continue;
                }
            }
            out.take.push(item.row);
        }
        out
    };
    let rows: usize = chunks.iter().map(|c| c.items.len()).sum();
    let per_shard: Vec<Compared> = if rows < PARALLEL_ROWS {
        state
            .shards_mut()
            .iter_mut()
            .enumerate()
            .map(work)
            .collect()
    } else {
        state
            .shards_mut()
            .par_iter_mut()
            .enumerate()
            .map(work)
            .collect()
    };
    let mut all = Compared::default();
    for chunk in chunks {
        all.take.extend(&chunk.null_rows);
        all.null_keys += chunk.null_rows.len() as u64;
    }
    for shard in per_shard {
        all.take.extend(shard.take);
        all.inserted += shard.inserted;
        all.updated += shard.updated;
        all.unchanged += shard.unchanged;
        all.duplicate = match (all.duplicate, shard.duplicate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    all.take.sort_unstable();
    all
}
