//! The merge rules (SCD type 1 with tombstones), decided per key against the target's state.
//!
//! A key is absent, live (its row and the sequence that wrote it) or a tombstone (the sequence
//! of the delete that removed it). Only a strictly newer event changes a key: equal sequences
//! are stale, which is what makes replays and re-splits of the same events harmless.
use hashbrown::HashMap;

use crate::short_bytes::ShortBytes;

/// What the target holds for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub sequence: ShortBytes,
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

/// Key → slot, for every key the target has ever seen (tombstones included).
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    slots: HashMap<ShortBytes, Slot, foldhash::fast::RandomState>,
}

impl KeyState {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Slot> {
        self.slots.get(key)
    }

    /// The action for an event `(key, sequence)`; does not change the state.
    pub fn decide(&self, key: &[u8], sequence: &[u8], is_delete: bool) -> Action {
        match (self.slots.get(key), is_delete) {
            (None, false) => Action::Insert,
            (None, true) => Action::Tombstone,
            (Some(slot), _) if sequence <= &*slot.sequence => Action::Stale,
            (Some(Slot { row: Some(row), .. }), false) => Action::Update { row: *row },
            (Some(Slot { row: Some(row), .. }), true) => Action::Delete { row: *row },
            (Some(Slot { row: None, .. }), false) => Action::Insert,
            (Some(Slot { row: None, .. }), true) => Action::Tombstone,
        }
    }

    pub fn set(&mut self, key: &[u8], sequence: &[u8], row: Option<u32>) {
        match self.slots.get_mut(key) {
            Some(existing) => {
                existing.sequence.set(sequence);
                existing.row = row;
            }
            None => {
                let slot = Slot {
                    sequence: ShortBytes::new(sequence),
                    row,
                };
                self.slots.insert(ShortBytes::new(key), slot);
            }
        }
    }

    /// Makes room for `additional` more keys at once rather than by repeated growth.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    /// Renumbers live rows after the row store compacted (`moved[old] = new`).
    pub fn renumber_rows(&mut self, moved: &[u32]) {
        for slot in self.slots.values_mut() {
            if let Some(row) = slot.row.as_mut() {
                *row = moved[*row as usize];
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Slot)> {
        self.slots.iter().map(|(k, v)| (&**k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
