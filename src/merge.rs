//! The merge rules (SCD type 1 with tombstones), decided per key against the target's state.
//!
//! A key is absent, live (its row and the sequence that wrote it) or a tombstone (the sequence
//! of the delete that removed it). Only a strictly newer event changes a key: equal sequences
//! are stale, which is what makes replays and re-splits of the same events harmless.
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::short_bytes::ShortBytes;

/// What the target holds for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot<'a> {
    pub sequence: &'a [u8],
    /// The live row's position in the row store; None for a tombstone.
    pub row: Option<u32>,
}

/// What one winning event does to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Insert,
    Update { row: u32 },
    Delete { row: u32 },
    Tombstone,
    Stale,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeCounts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub tombstoned: u64,
    pub stale: u64,
}

impl MergeCounts {
    pub fn count(&mut self, action: Action) {
        match action {
            Action::Insert => self.inserted += 1,
            Action::Update { .. } => self.updated += 1,
            Action::Delete { .. } => self.deleted += 1,
            Action::Tombstone => self.tombstoned += 1,
            Action::Stale => self.stale += 1,
        }
    }
}

/// One key of the state and what the target holds for it, in 32 bytes: the encoded key and
/// sequence share one buffer (inline when together they fit in 22 bytes, as a short string
/// key and a timestamp do), so a big state is half the memory of two separate buffers.
#[derive(Clone, Debug)]
struct Entry {
    /// key ++ sequence
    bytes: ShortBytes,
    key_len: u32,
    /// The live row, or `TOMBSTONE`.
    row: u32,
}

/// Keys `insert_absent` builds at a time.
const INSERT_CHUNK: usize = 1 << 20;

/// A row position no store reaches (positions are u32): the key is a tombstone.
const TOMBSTONE: u32 = u32::MAX;

/// Entries per block of the key state's entries (2 MB): blocks never move.
const BLOCK_BITS: u32 = 16;
const BLOCK: usize = 1 << BLOCK_BITS;

impl Entry {
    fn new(key: &[u8], sequence: &[u8], row: Option<u32>) -> Self {
        debug_assert!(row != Some(TOMBSTONE), "row positions are below u32::MAX");
        Entry {
            bytes: ShortBytes::concat(key, sequence),
            key_len: key.len() as u32,
            row: row.unwrap_or(TOMBSTONE),
        }
    }

    #[inline]
    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    fn slot(&self) -> Slot<'_> {
        Slot {
            sequence: &self.bytes[self.key_len as usize..],
            row: (self.row != TOMBSTONE).then_some(self.row),
        }
    }

    fn set(&mut self, sequence: &[u8], row: Option<u32>) {
        self.bytes.set_tail(self.key_len as usize, sequence);
        debug_assert!(row != Some(TOMBSTONE), "row positions are below u32::MAX");
        self.row = row.unwrap_or(TOMBSTONE);
    }
}

/// Key → slot, for every key the target has ever seen (tombstones included).
///
/// The entries sit in blocks, in the order their keys came: an entry's id (that order)
/// never changes, and growing never copies them. A hash index maps each key to its id,
/// with 32 bits of the key's hash beside it: the index is 9 bytes a bucket, and growing it
/// rehashes from those bits alone, without reading the entries. For 10M keys that is 320 MB
/// of entries and 151 MB of index (16.8M buckets), against 553 MB for the entries held in
/// the hash table itself, twice that while it grew.
///
/// Planning finds each key's id (`find`); applying the plan writes there (`set_found`)
/// instead of looking the key up again: on a big table each lookup is a cache miss.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    blocks: Vec<Vec<Entry>>,
    /// Entries in the blocks (the next id).
    ids: usize,
    /// Ids of entries no key holds, ascending: rows of a key given again while the state
    /// was built (`build`), left in place unless they are many. `iter` skips them.
    holes: Vec<u32>,
    /// (entry id, low 32 bits of its key's hash)
    index: HashTable<(u32, u32)>,
    hasher: foldhash::fast::RandomState,
}

/// The index's hash of an entry, from the 32 bits kept: a multiply by an odd constant
/// keeps the low bits (the home bucket) distinct and mixes all of them into the top seven
/// (hashbrown's tag).
#[inline]
fn spread(short: u32) -> u64 {
    (short as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn entry_of(blocks: &[Vec<Entry>], id: usize) -> &Entry {
    &blocks[id >> BLOCK_BITS][id & (BLOCK - 1)]
}

#[inline]
fn entry_of_mut(blocks: &mut [Vec<Entry>], id: usize) -> &mut Entry {
    &mut blocks[id >> BLOCK_BITS][id & (BLOCK - 1)]
}

/// What `KeyState::build` hands each row to: its key, sequence and row.
pub type Emit<'a> = dyn FnMut(&[u8], &[u8], Option<u32>) + 'a;

/// `(short << 32 | i)` for the i-th of `shorts` (a key's hash, as the index keeps it), in the
/// order of the region of the index of `buckets` buckets their home buckets are in. Taken
/// in this order, inserting walks the index through once, a region (256 buckets, 2.3 KB)
/// at a time, instead of a cache miss (and a TLB miss) per key. Two counting sorts: by the
/// first 8 bits of the region into 256 runs, then each run (a few hundred KB) by the rest.
fn home_order(shorts: Vec<Vec<u32>>, buckets: usize) -> Vec<u64> {
    let n = shorts.iter().map(Vec::len).sum();
    let each = || shorts.iter().flatten().copied();
    let pair = |i: usize, short: u32| (short as u64) << 32 | i as u64;
    let bits = buckets.trailing_zeros();
    if n < 4096 || !buckets.is_power_of_two() || bits < 8 {
        return each().enumerate().map(|(i, s)| pair(i, s)).collect();
    }
    let region_bits = bits.min(16);
    let region =
        |short: u32| ((spread(short) & (buckets as u64 - 1)) >> (bits - region_bits)) as usize;
    let high = |short: u32| region(short) >> (region_bits - 8);
    let mut starts = [0usize; 257];
    for short in each() {
        starts[high(short) + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut order = vec![0u64; n];
    let mut at = starts;
    for (i, short) in each().enumerate() {
        let run = &mut at[high(short)];
        order[*run] = pair(i, short);
        *run += 1;
    }
    drop(shorts); // peak memory: before the runs are sorted
    let low_bits = region_bits - 8;
    if low_bits > 0 {
        let mut runs = Vec::with_capacity(256);
        let mut rest = &mut order[..];
        for r in 0..256 {
            let (run, after) = rest.split_at_mut(starts[r + 1] - starts[r]);
            runs.push(run);
            rest = after;
        }
        let low = |pair: u64| region((pair >> 32) as u32) & ((1 << low_bits) - 1);
        runs.into_par_iter().for_each(|run| {
            let mut starts = vec![0usize; (1 << low_bits) + 1];
            for &p in run.iter() {
                starts[low(p) + 1] += 1;
            }
            for r in 1..starts.len() {
                starts[r] += starts[r - 1];
            }
            let mut sorted = vec![0u64; run.len()];
            for &p in run.iter() {
                let at = &mut starts[low(p)];
                sorted[*at] = p;
                *at += 1;
            }
            run.copy_from_slice(&sorted);
        });
    }
    order
}

impl KeyState {
    pub fn len(&self) -> usize {
        self.ids - self.holes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn short_hash(&self, key: &[u8]) -> u32 {
        self.hasher.hash_one(key) as u32
    }

    fn entry(&self, id: usize) -> &Entry {
        entry_of(&self.blocks, id)
    }

    /// Where `key` sits (its entry's id), if the state has it; ids never change.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.find_hashed(self.short_hash(key), key)
    }

    fn find_hashed(&self, short: u32, key: &[u8]) -> Option<usize> {
        let blocks = &self.blocks;
        self.index
            .find(spread(short), |&(id, s)| {
                s == short && entry_of(blocks, id as usize).key() == key
            })
            .map(|&(id, _)| id as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<Slot<'_>> {
        self.find(key).map(|at| self.entry(at).slot())
    }

    /// The action for an event `(key, sequence)`; does not change the state.
    pub fn decide(&self, key: &[u8], sequence: &[u8], is_delete: bool) -> Action {
        self.decide_found(self.find(key), sequence, is_delete)
    }

    /// `decide` for a key already looked up with `find`.
    pub fn decide_found(&self, found: Option<usize>, sequence: &[u8], is_delete: bool) -> Action {
        let slot = found
            .filter(|&at| at < self.ids)
            .map(|at| self.entry(at).slot());
        match (slot, is_delete) {
            (None, false) => Action::Insert,
            (None, true) => Action::Tombstone,
            (Some(slot), _) if sequence <= slot.sequence => Action::Stale,
            (Some(Slot { row: Some(row), .. }), false) => Action::Update { row },
            (Some(Slot { row: Some(row), .. }), true) => Action::Delete { row },
            (Some(Slot { row: None, .. }), false) => Action::Insert,
            (Some(Slot { row: None, .. }), true) => Action::Tombstone,
        }
    }

    pub fn set(&mut self, key: &[u8], sequence: &[u8], row: Option<u32>) {
        self.set_found(None, key, sequence, row);
    }

    /// `set` for a key looked up with `find`; a wrong id falls back to a lookup, so it can
    /// never write to another key.
    pub fn set_found(
        &mut self,
        found: Option<usize>,
        key: &[u8],
        sequence: &[u8],
        row: Option<u32>,
    ) {
        if let Some(at) = found.filter(|&at| at < self.ids) {
            let entry = entry_of_mut(&mut self.blocks, at);
            if entry.key() == key {
                entry.set(sequence, row);
                return;
            }
        }
        let short = self.short_hash(key);
        self.set_hashed(short, key, sequence, row);
    }

    /// Sets `key` (whose hash's low 32 bits are `short`) with one probe of the index.
    #[inline]
    fn set_hashed(&mut self, short: u32, key: &[u8], sequence: &[u8], row: Option<u32>) {
        let blocks = &self.blocks;
        let entry = self.index.entry(
            spread(short),
            |&(id, s)| s == short && entry_of(blocks, id as usize).key() == key,
            |&(_, s)| spread(s),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(held) => {
                let id = held.get().0 as usize;
                entry_of_mut(&mut self.blocks, id).set(sequence, row);
            }
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let id = push(
                    &mut self.blocks,
                    &mut self.ids,
                    Entry::new(key, sequence, row),
                );
                vacant.insert((id, short));
            }
        }
    }

    /// Sets the row of `key` (at `found`, from `find`) to `row` if it is `from`; false if
    /// the key is absent or holds another row. Restoring a table claims each live key's
    /// row this way, so a key claimed twice or never is caught.
    pub fn claim(&mut self, found: Option<usize>, key: &[u8], from: u32, row: u32) -> bool {
        match found.filter(|&at| at < self.ids) {
            Some(at) => {
                let entry = entry_of_mut(&mut self.blocks, at);
                if entry.key() == key && entry.row == from {
                    entry.row = row;
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// Inserts `n` keys the state does not hold (`find` said so, and no key comes twice);
    /// `item(i)` is the i-th key, its sequence and its row. They are built on all cores,
    /// appended, then indexed in the order of their home buckets (see `home_order`) with
    /// one probe each and no comparison against the keys held.
    pub fn insert_absent<'k>(
        &mut self,
        n: usize,
        item: impl Fn(usize) -> (&'k [u8], &'k [u8], Option<u32>) + Sync,
    ) {
        let hasher = self.hasher;
        let first = self.ids;
        let mut shorts = Vec::with_capacity(n);
        // In chunks: the entries built before they are stored are a second copy of the keys.
        for start in (0..n).step_by(INSERT_CHUNK) {
            let built: Vec<(u32, Entry)> = (start..n.min(start + INSERT_CHUNK))
                .into_par_iter()
                .map(|i| {
                    let (key, sequence, row) = item(i);
                    (hasher.hash_one(key) as u32, Entry::new(key, sequence, row))
                })
                .collect();
            for (short, entry) in built {
                shorts.push(short);
                push(&mut self.blocks, &mut self.ids, entry);
            }
        }
        self.index_from(first, vec![shorts], false);
    }

    /// A key state of `n` rows of keys, oldest first (a key given again keeps its last
    /// sequence and row): `fill(rows, emit)` emits the key, sequence and row of each of
    /// `rows` (a block of `BLOCK` of them, the last one shorter), in order.
    ///
    /// The blocks are filled on all cores, straight into the entries, and indexed once
    /// they all are, in one walk through the index (see `home_order`): no key is looked up
    /// at random, and there is no copy of the rows beside the entries. The index is sized
    /// once, for `n` keys: it never grows (a copy of it) on the way.
    pub fn build<E: Send>(
        n: usize,
        fill: impl Fn(std::ops::Range<usize>, &mut Emit<'_>) -> Result<(), E> + Sync,
    ) -> Result<Self, E> {
        let mut state = Self::default();
        let hasher = state.hasher;
        let built = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let rows = b * BLOCK..n.min((b + 1) * BLOCK);
                let mut block = Vec::with_capacity(rows.len());
                let mut shorts = Vec::with_capacity(rows.len());
                fill(rows.clone(), &mut |key, sequence, row| {
                    shorts.push(hasher.hash_one(key) as u32);
                    block.push(Entry::new(key, sequence, row));
                })?;
                assert_eq!(block.len(), rows.len(), "one entry per row");
                Ok((block, shorts))
            })
            .collect::<Result<Vec<_>, E>>()?;
        let (blocks, shorts) = built.into_iter().unzip();
        state.blocks = blocks;
        state.ids = n;
        state.index_from(0, shorts, true);
        Ok(state)
    }

    /// Indexes the entries from id `first` on (`shorts`: their hashes, in order, in pieces),
    /// in the order of their home buckets. With `repeats`, a key may come several times
    /// (its entry of the highest id stays, the others are dropped); without, every key is
    /// new to the state. Entries are read only to compare keys whose hashes are equal.
    fn index_from(&mut self, first: usize, shorts: Vec<Vec<u32>>, repeats: bool) {
        debug_assert_eq!(first + shorts.iter().map(Vec::len).sum::<usize>(), self.ids);
        self.index.reserve(self.ids - first, |&(_, s)| spread(s));
        let mut dropped = Vec::new();
        for pair in home_order(shorts, self.index.num_buckets()) {
            let (short, id) = ((pair >> 32) as u32, (first + pair as u32 as usize) as u32);
            if !repeats {
                self.index
                    .insert_unique(spread(short), (id, short), |&(_, s)| spread(s));
                continue;
            }
            let blocks = &self.blocks;
            let same_key = |&(held, s): &(u32, u32)| {
                s == short
                    && entry_of(blocks, held as usize).key() == entry_of(blocks, id as usize).key()
            };
            match self
                .index
                .entry(spread(short), same_key, |&(_, s)| spread(s))
            {
                hashbrown::hash_table::Entry::Occupied(mut held) => {
                    let held = &mut held.get_mut().0;
                    dropped.push(if id > *held {
                        std::mem::replace(held, id)
                    } else {
                        id
                    });
                }
                hashbrown::hash_table::Entry::Vacant(vacant) => {
                    vacant.insert((id, short));
                }
            }
        }
        if dropped.is_empty() {
            return;
        }
        dropped.sort_unstable();
        if dropped.len() * 8 > self.ids {
            // many: the entries are copied without them, the index renumbered
            self.drop_entries(&dropped);
        } else {
            // few: left where they are, as holes
            for &id in &dropped {
                entry_of_mut(&mut self.blocks, id as usize).row = TOMBSTONE;
            }
            self.holes = merge_sorted(&self.holes, &dropped);
        }
    }

    /// Removes the entries `dropped` (ascending, no longer indexed) and the holes,
    /// renumbering the others.
    fn drop_entries(&mut self, dropped: &[u32]) {
        let dropped = merge_sorted(&self.holes, dropped);
        self.holes.clear();
        for (id, _) in self.index.iter_mut() {
            *id -= dropped.partition_point(|&d| d < *id) as u32;
        }
        let mut next = dropped.into_iter().peekable();
        self.ids = 0;
        for (id, entry) in std::mem::take(&mut self.blocks)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if next.peek() == Some(&(id as u32)) {
                next.next();
            } else {
                push(&mut self.blocks, &mut self.ids, entry);
            }
        }
        if self.index.capacity() > 2 * self.ids.max(1 << 16) {
            self.index.shrink_to_fit(|&(_, s)| spread(s));
        }
    }

    /// Makes room for `additional` more keys at once rather than by repeated growth.
    pub fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional, |&(_, s)| spread(s));
    }

    /// Renumbers live rows after the row store compacted (`moved[old] = new`).
    pub fn renumber_rows(&mut self, moved: &[u32]) {
        for entry in self.blocks.iter_mut().flatten() {
            if entry.row != TOMBSTONE {
                entry.row = moved[entry.row as usize];
            }
        }
    }

    /// Every key and its slot, in the order the keys came.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Slot<'_>)> {
        let mut holes = self.holes.iter().copied().peekable();
        self.blocks
            .iter()
            .flatten()
            .enumerate()
            .filter(move |&(id, _)| {
                let hole = holes.peek() == Some(&(id as u32));
                if hole {
                    holes.next();
                }
                !hole
            })
            .map(|(_, e)| (e.key(), e.slot()))
    }
}

/// The ascending union of two ascending lists without common items.
fn merge_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] < b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Appends `entry` to the blocks; its id. A new block is allocated whole once the first
/// one (grown as a vector, for small states) is full: no entry is ever copied after that.
fn push(blocks: &mut Vec<Vec<Entry>>, len: &mut usize, entry: Entry) -> u32 {
    let id = u32::try_from(*len)
        .ok()
        .filter(|&id| id < u32::MAX)
        .expect("a key state holds fewer than 2^32 - 1 keys");
    match blocks.last_mut() {
        Some(block) if block.len() < BLOCK => block.push(entry),
        _ => {
            let mut block = Vec::with_capacity(if blocks.is_empty() { 4 } else { BLOCK });
            block.push(entry);
            blocks.push(block);
        }
    }
    *len += 1;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserting_absent_keys_gives_the_state_that_setting_them_gives() {
        let keys: Vec<Vec<u8>> = (0..10_000u32)
            .map(|i| i.to_le_bytes().repeat(1 + i as usize % 9))
            .collect();
        let new: Vec<(&[u8], &[u8], Option<u32>)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (&k[..], &k[..2], (i % 3 != 0).then_some(i as u32)))
            .collect();
        let (mut bulk, mut one_by_one) = (KeyState::default(), KeyState::default());
        bulk.set(b"held", b"1", Some(7));
        one_by_one.set(b"held", b"1", Some(7));
        bulk.insert_absent(new.len(), |i| new[i]);
        for &(key, sequence, row) in &new {
            one_by_one.set(key, sequence, row);
        }
        assert_eq!(bulk.len(), 10_001);
        for (key, slot) in one_by_one.iter() {
            let got = bulk.get(key).unwrap();
            assert_eq!((got.sequence, got.row), (slot.sequence, slot.row));
        }
    }

    /// `rows` built into a state, checked against setting them one by one.
    fn built_as_set(rows: &[(&[u8], Vec<u8>, Option<u32>)]) -> KeyState {
        let built = KeyState::build(rows.len(), |at, emit| -> Result<(), ()> {
            for (key, sequence, row) in &rows[at] {
                emit(key, sequence, *row);
            }
            Ok(())
        })
        .unwrap();
        let mut one_by_one = KeyState::default();
        for (key, sequence, row) in rows {
            one_by_one.set(key, sequence, *row);
        }
        assert_eq!(built.len(), one_by_one.len());
        assert_eq!(built.iter().count(), built.len());
        for (key, slot) in one_by_one.iter() {
            assert_eq!(built.get(key), Some(slot));
        }
        built
    }

    #[test]
    fn a_state_built_from_rows_is_the_state_that_setting_them_in_order_gives() {
        // keys short and long (inline and on the heap), given several times across blocks:
        // the last row of a key wins
        let keys: Vec<Vec<u8>> = (0..200_000u32)
            .map(|i| i.to_le_bytes().repeat(1 + i as usize % 9))
            .collect();
        let mut state = 7u64;
        let mut rows = |n: u32, distinct: usize| -> Vec<(&[u8], Vec<u8>, Option<u32>)> {
            (0..n)
                .map(|e| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let key = &keys[(state >> 33) as usize % distinct][..];
                    (
                        key,
                        vec![e as u8; e as usize % 30],
                        (e % 5 != 0).then_some(e),
                    )
                })
                .collect()
        };
        // most keys many times: the entries of older rows are dropped
        let many = rows(150_000, 40_000);
        let built = built_as_set(&many);
        assert!(built.holes.is_empty());
        // a few keys twice (as change files after a snapshot): left as holes
        let mut few: Vec<_> = keys.iter().map(|k| (&k[..], vec![1], Some(1))).collect();
        few.extend(rows(3_000, 200_000));
        let mut built = built_as_set(&few);
        assert!(!built.holes.is_empty());
        let held = built.find(&keys[3]);
        built.insert_absent(1, |_| (&b"new"[..], &b"1"[..], Some(1)));
        built.set(&keys[3], b"2", None);
        assert_eq!(built.find(&keys[3]), held, "an entry never moves");
        assert_eq!(built.iter().count(), built.len());

        let failed = KeyState::build(many.len(), |at, emit| {
            if at.start > 0 {
                return Err("a block that cannot be read");
            }
            for (key, sequence, row) in &many[at] {
                emit(key, sequence, *row);
            }
            Ok(())
        });
        assert!(failed.is_err());
    }

    #[test]
    fn rules_of_the_merge() {
        let mut s = KeyState::default();
        assert_eq!(s.decide(b"k", b"5", false), Action::Insert);
        assert_eq!(s.decide(b"k", b"5", true), Action::Tombstone);
        s.set(b"k", b"5", Some(0));
        assert_eq!(
            s.decide(b"k", b"5", false),
            Action::Stale,
            "equal is not newer"
        );
        assert_eq!(s.decide(b"k", b"4", false), Action::Stale);
        assert_eq!(s.decide(b"k", b"6", false), Action::Update { row: 0 });
        assert_eq!(s.decide(b"k", b"6", true), Action::Delete { row: 0 });
        s.set(b"k", b"6", None);
        assert_eq!(
            s.decide(b"k", b"6", false),
            Action::Stale,
            "a tombstone blocks equal upserts"
        );
        assert_eq!(s.decide(b"k", b"6", true), Action::Stale);
        assert_eq!(s.decide(b"k", b"7", true), Action::Tombstone);
        assert_eq!(
            s.decide(b"k", b"7", false),
            Action::Insert,
            "a newer upsert resurrects"
        );
        let found = s.find(b"k");
        s.set(b"other", b"1", Some(1));
        s.set_found(found, b"k", b"8", Some(2));
        assert_eq!(
            s.get(b"k").unwrap().row,
            Some(2),
            "a moved key is looked up again"
        );
        assert_eq!(s.get(b"other").unwrap().row, Some(1));
    }

    #[test]
    fn an_entry_is_32_bytes_and_keeps_long_keys_and_sequences_apart() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        let mut s = KeyState::default();
        let long_key = [b'k'; 40];
        s.set(&long_key, b"1", Some(3));
        s.set(b"k", &[9; 30], None);
        s.set(&long_key, &[2; 25], Some(4));
        s.set(b"k", b"2", Some(5));
        let got = s.get(&long_key).unwrap();
        assert_eq!((got.sequence, got.row), (&[2; 25][..], Some(4)));
        let got = s.get(b"k").unwrap();
        assert_eq!((got.sequence, got.row), (&b"2"[..], Some(5)));
        s.set(b"k", b"3", None);
        assert_eq!(s.get(b"k").unwrap().row, None, "a tombstone");
        s.renumber_rows(&[0, 0, 0, 0, 1]);
        assert_eq!(s.get(&long_key).unwrap().row, Some(1));
        assert_eq!(
            s.get(b"k").unwrap().row,
            None,
            "tombstones are not renumbered"
        );
    }
}
