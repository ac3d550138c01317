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

/// Keys `insert_absent` builds and places at a time.
const INSERT_CHUNK: usize = 1 << 20;

/// A row position no store reaches (positions are u32): the key is a tombstone.
const TOMBSTONE: u32 = u32::MAX;

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
/// Planning finds each key's place (`find`); applying the plan writes there (`set_found`)
/// instead of looking the key up again: on a big table each lookup is a cache miss.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    entries: HashTable<Entry>,
    hasher: foldhash::fast::RandomState,
}

impl KeyState {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Where `key` sits, if the state has it; valid until the next insertion of a new key.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.entries
            .find_bucket_index(self.hash(key), |e| e.key() == key)
    }

    pub fn get(&self, key: &[u8]) -> Option<Slot<'_>> {
        let found = self.find(key)?;
        self.entries.get_bucket(found).map(Entry::slot)
    }

    /// The action for an event `(key, sequence)`; does not change the state.
    pub fn decide(&self, key: &[u8], sequence: &[u8], is_delete: bool) -> Action {
        self.decide_found(self.find(key), sequence, is_delete)
    }

    /// `decide` for a key already looked up with `find`.
    pub fn decide_found(&self, found: Option<usize>, sequence: &[u8], is_delete: bool) -> Action {
        let slot = found
            .and_then(|at| self.entries.get_bucket(at))
            .map(Entry::slot);
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
        let found = self.find(key);
        self.set_found(found, key, sequence, row);
    }

    /// `set` for a key looked up with `find` since the last insertion; a stale or wrong
    /// position falls back to a lookup, so it can never write to another key.
    pub fn set_found(
        &mut self,
        found: Option<usize>,
        key: &[u8],
        sequence: &[u8],
        row: Option<u32>,
    ) {
        if let Some(entry) = found.and_then(|at| self.entries.get_bucket_mut(at)) {
            if entry.key() == key {
                entry.set(sequence, row);
                return;
            }
        }
        let hash = self.hash(key);
        let hasher = &self.hasher;
        match self
            .entries
            .entry(hash, |e| e.key() == key, |e| hasher.hash_one(e.key()))
        {
            hashbrown::hash_table::Entry::Occupied(mut held) => held.get_mut().set(sequence, row),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(Entry::new(key, sequence, row));
            }
        }
    }

    /// Sets the row of `key` (at `found`, from `find`) to `row` if it is `from`; false if
    /// the key is absent or holds another row. Restoring a table claims each live key's
    /// row this way, so a key claimed twice or never is caught.
    pub fn claim(&mut self, found: Option<usize>, key: &[u8], from: u32, row: u32) -> bool {
        let at = match found {
            Some(at) => at,
            None => return false,
        };
        match self.entries.get_bucket_mut(at) {
            Some(entry) if entry.key() == key && entry.row == from => {
                entry.row = row;
                true
            }
            _ => false,
        }
    }

    /// Inserts `n` keys the state does not hold (`find` said so since the last insertion,
    /// and no key comes twice); `item(i)` is the i-th key, its sequence and its row. They are
    /// hashed and built on all cores, then placed in the order of their home buckets with one
    /// probe each and no comparison against the keys held: the placing walks the table's
    /// memory once instead of jumping around it (a cache miss per key).
    pub fn insert_absent<'k>(
        &mut self,
        n: usize,
        item: impl Fn(usize) -> (&'k [u8], &'k [u8], Option<u32>) + Sync,
    ) {
        let hasher = &self.hasher;
        self.entries.reserve(n, |e| hasher.hash_one(e.key()));
        // hashbrown's home bucket is `hash & (buckets - 1)`, buckets = capacity * 8/7 from 8 on
        let buckets = (self.entries.capacity() / 7 * 8).next_power_of_two() as u64;
        // In chunks: the entries built before placing are a second copy of the keys, which
        // for a 10M-key state would be 400 MB at the peak.
        for start in (0..n).step_by(INSERT_CHUNK) {
            let mut built: Vec<(u64, Entry)> = (start..n.min(start + INSERT_CHUNK))
                .into_par_iter()
                .map(|i| {
                    let (key, sequence, row) = item(i);
                    (hasher.hash_one(key), Entry::new(key, sequence, row))
                })
                .collect();
            if built.len() > 4096 {
                built.par_sort_unstable_by_key(|&(hash, _)| hash & (buckets - 1));
            }
            for (hash, entry) in built {
                debug_assert!(self
                    .entries
                    .find(hash, |e| e.key() == entry.key())
                    .is_none());
                self.entries
                    .insert_unique(hash, entry, |e| hasher.hash_one(e.key()));
            }
        }
    }

    /// Makes room for `additional` more keys at once rather than by repeated growth.
    pub fn reserve(&mut self, additional: usize) {
        let hasher = &self.hasher;
        self.entries
            .reserve(additional, |e| hasher.hash_one(e.key()));
    }

    /// Renumbers live rows after the row store compacted (`moved[old] = new`).
    pub fn renumber_rows(&mut self, moved: &[u32]) {
        for entry in self.entries.iter_mut() {
            if entry.row != TOMBSTONE {
                entry.row = moved[entry.row as usize];
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Slot<'_>)> {
        self.entries.iter().map(|e| (e.key(), e.slot()))
    }
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
