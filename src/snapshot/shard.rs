//! One shard of a snapshot state: the keys whose hash falls in it, each with its row's
//! fingerprint, in a hash table.
//!
//! A state is split into [`SHARDS`] shards by key hash so that a snapshot is compared shard
//! by shard: each shard's table is small enough to stay in the CPU cache while its keys are
//! probed (one big table costs a cache miss or more per key), and shards run in parallel.
//! An entry holds its key inline (up to 22 bytes), its fingerprint and the snapshot that last
//! saw it, so a probe touches one entry. The next state starts as a copy of the previous one
//! and is changed in place: one probe per key finds it, a changed row's fingerprint is
//! overwritten, a new key is added, and the keys no snapshot row marked leave at the end.
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::short_bytes::ShortBytes;

pub const SHARDS: usize = 256;

/// The shard of a key hash. Bits 40..48: hashbrown takes a bucket from the low bits and its
/// control byte from the top seven, which must vary within a shard.
pub fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize & (SHARDS - 1)
}

/// What a snapshot's row found in a shard.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// A key the shard did not have: added.
    New,
    /// A key it had, with the same fingerprint.
    Same,
    /// A key it had, with another fingerprint (now this one).
    Changed,
    /// A key this snapshot had already.
    Twice,
}

#[derive(Clone)]
struct Entry {
    key: ShortBytes,
    fingerprint: u64,
    /// The snapshot (a state's generation) that last had this key.
    mark: u32,
}

#[derive(Clone, Default)]
pub struct Shard {
    table: HashTable<Entry>,
}

impl Shard {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Each key and its fingerprint.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.table.iter().map(|e| (&*e.key, e.fingerprint))
    }

    /// The fingerprint of `key` (of hash `hash`), if this shard has it.
    #[cfg(test)]
    pub fn fingerprint(&self, hash: u64, key: &[u8]) -> Option<u64> {
        self.table
            .find(hash, |e| &*e.key == key)
            .map(|e| e.fingerprint)
    }

    /// Marks `key` as seen by snapshot `mark`, adding it or updating its fingerprint.
    pub fn take(
        &mut self,
        hash: u64,
        key: &[u8],
        fingerprint: u64,
        mark: u32,
        hasher: &RandomState,
    ) -> Found {
        match self.table.find_mut(hash, |e| &*e.key == key) {
            Some(e) if e.mark == mark => Found::Twice,
            Some(e) => {
                e.mark = mark;
                if e.fingerprint == fingerprint {
                    Found::Same
                } else {
                    e.fingerprint = fingerprint;
                    Found::Changed
                }
            }
            None => {
                let entry = Entry {
                    key: ShortBytes::new(key),
                    fingerprint,
                    mark,
                };
                self.table
                    .insert_unique(hash, entry, |e| hasher.hash_one(&*e.key));
                Found::New
            }
        }
    }

    /// Takes out the keys snapshot `mark` did not see, and returns them.
    pub fn remove_unmarked(&mut self, mark: u32) -> Vec<ShortBytes> {
        self.table
            .extract_if(|e| e.mark != mark)
            .map(|e| e.key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_adds_updates_and_finds_keys_once_per_snapshot() {
        let hasher = RandomState::default();
        let h = |k: &[u8]| hasher.hash_one(k);
        let mut shard = Shard::default();
        let long = [7u8; 40];
        for (i, key) in [&b"a"[..], b"bc", b"", &long].iter().enumerate() {
            assert_eq!(shard.take(h(key), key, i as u64, 1, &hasher), Found::New);
        }
        assert_eq!(shard.take(h(b"bc"), b"bc", 0, 1, &hasher), Found::Twice);
        let mut next = shard.clone();
        assert_eq!(next.take(h(b"bc"), b"bc", 1, 2, &hasher), Found::Same);
        assert_eq!(next.take(h(b"a"), b"a", 99, 2, &hasher), Found::Changed);
        assert_eq!(next.take(h(&long), &long, 3, 2, &hasher), Found::Same);
        assert_eq!(next.fingerprint(h(b"a"), b"a"), Some(99));
        assert_eq!(
            shard.fingerprint(h(b"a"), b"a"),
            Some(0),
            "the copy changed alone"
        );
        let gone = next.remove_unmarked(2);
        assert_eq!(
            gone.iter().map(|k| &**k).collect::<Vec<_>>(),
            vec![&b""[..]]
        );
        assert_eq!((next.len(), next.fingerprint(h(b""), b"")), (3, None));
    }

    #[test]
    fn shards_spread_hashes_and_keep_the_bits_the_index_uses_varied() {
        let mut seen = [0usize; SHARDS];
        for i in 0..SHARDS as u64 * 64 {
            seen[shard_of(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0));
        assert_eq!(shard_of(u64::MAX >> 16), SHARDS - 1);
        assert_eq!(
            shard_of(0xFF00_0000_00FF_FFFF),
            0,
            "top and low bits are not the shard"
        );
    }
}
