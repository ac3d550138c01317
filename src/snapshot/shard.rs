//! One shard of a snapshot state: the keys whose hash falls in it, each with its row's
//! fingerprint, found through a hash index.
//!
//! A state is split into [`SHARDS`] shards by key hash so that a snapshot is compared shard
//! by shard: each shard's index is small enough to stay in the CPU cache while its keys are
//! probed (one big index costs a cache miss or more per key), and shards run in parallel.
use hashbrown::HashTable;

pub const SHARDS: usize = 256;

/// The shard of a key hash. Bits 40..48: hashbrown takes a bucket from the low bits and its
/// control byte from the top seven, which must vary within a shard.
pub fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize & (SHARDS - 1)
}

#[derive(Default)]
pub struct Shard {
    /// The keys (row format), one after another; `ends[i]` is where key `i` ends.
    bytes: Vec<u8>,
    ends: Vec<u32>,
    fingerprints: Vec<u64>,
    /// Each key's hash, so the index grows without hashing the keys again.
    hashes: Vec<u64>,
    index: HashTable<u32>,
}

impl Shard {
    /// Room for `keys` more keys of about `key_bytes` bytes in all.
    pub fn with_capacity(keys: usize, key_bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(key_bytes),
            ends: Vec::with_capacity(keys),
            fingerprints: Vec::with_capacity(keys),
            hashes: Vec::with_capacity(keys),
            index: HashTable::with_capacity(keys),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn key_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn key(&self, at: u32) -> &[u8] {
        let at = at as usize;
        let start = if at == 0 {
            0
        } else {
            self.ends[at - 1] as usize
        };
        &self.bytes[start..self.ends[at] as usize]
    }

    pub fn fingerprint(&self, at: u32) -> u64 {
        self.fingerprints[at as usize]
    }

    pub fn fingerprints(&self) -> &[u64] {
        &self.fingerprints
    }

    /// Where `key` (of hash `hash`) is, if this shard has it.
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.index.find(hash, |&at| self.key(at) == key).copied()
    }

    /// Adds `key` with its fingerprint; `Err(at)` if the shard has it already (at `at`).
    pub fn push(&mut self, hash: u64, key: &[u8], fingerprint: u64) -> Result<(), u32> {
        if let Some(at) = self.find(hash, key) {
            return Err(at);
        }
        let at = self.ends.len() as u32;
        let hashes = &self.hashes;
        self.index.insert_unique(hash, at, |&i| hashes[i as usize]);
        self.bytes.extend_from_slice(key);
        let end = u32::try_from(self.bytes.len()).expect("a shard holds under 4 GiB of keys");
        self.ends.push(end);
        self.fingerprints.push(fingerprint);
        self.hashes.push(hash);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_finds_its_keys_and_refuses_one_twice() {
        let mut shard = Shard::default();
        for (i, key) in [&b"a"[..], b"bc", b""].iter().enumerate() {
            shard.push(i as u64, key, 10 + i as u64).unwrap();
        }
        assert_eq!(shard.push(1, b"bc", 0), Err(1));
        assert_eq!(shard.find(2, b""), Some(2));
        assert_eq!(shard.find(1, b"b"), None);
        assert_eq!((shard.key(1), shard.fingerprint(1)), (&b"bc"[..], 11));
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
