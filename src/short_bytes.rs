//! Byte strings kept inline when short (up to 22 bytes): a key state entry's encoded key and
//! sequence usually fit together, so a lookup compares the key in the hash table's own memory
//! instead of following a heap pointer (a cache miss on a big table).
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum ShortBytes {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl ShortBytes {
    pub fn new(value: &[u8]) -> Self {
        if value.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..value.len()].copy_from_slice(value);
            ShortBytes::Inline {
                len: value.len() as u8,
                bytes,
            }
        } else {
            ShortBytes::Heap(value.into())
        }
    }

    /// Replaces the value, reusing the inline space or the heap box when the length allows.
    pub fn set(&mut self, value: &[u8]) {
        self.set_tail(0, value);
    }

    /// Replaces the bytes from `at` on (`at` ≤ the length) with `tail`, in place when the
    /// new length fits the inline space or the heap box.
    pub fn set_tail(&mut self, at: usize, tail: &[u8]) {
        let new_len = at + tail.len();
        match self {
            ShortBytes::Inline { len, bytes } if new_len <= INLINE => {
                bytes[at..new_len].copy_from_slice(tail);
                *len = new_len as u8;
            }
            ShortBytes::Heap(b) if b.len() == new_len => b[at..].copy_from_slice(tail),
            _ => *self = Self::concat(&self[..at], tail),
        }
    }

    /// `head` followed by `tail`, with one allocation at most.
    pub fn concat(head: &[u8], tail: &[u8]) -> Self {
        let len = head.len() + tail.len();
        if len <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..head.len()].copy_from_slice(head);
            bytes[head.len()..len].copy_from_slice(tail);
            ShortBytes::Inline {
                len: len as u8,
                bytes,
            }
        } else {
            ShortBytes::Heap([head, tail].concat().into_boxed_slice())
        }
    }
}

impl Deref for ShortBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            ShortBytes::Inline { len, bytes } => &bytes[..*len as usize],
            ShortBytes::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for ShortBytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Hashes exactly as `[u8]` does, so maps keyed by `ShortBytes` can be probed with `&[u8]`.
impl Hash for ShortBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialEq for ShortBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ShortBytes {}

impl std::fmt::Debug for ShortBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_values_read_back() {
        for n in [0, 1, 9, 22, 23, 64] {
            let v: Vec<u8> = (0..n as u8).collect();
            let mut s = ShortBytes::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(matches!(s, ShortBytes::Inline { .. }), n <= INLINE);
            let w: Vec<u8> = (0..n as u8).rev().collect();
            s.set(&w);
            assert_eq!(&*s, &w[..]);
            s.set(b"k");
            assert_eq!(&*s, b"k");
        }
    }

    #[test]
    fn a_tail_is_replaced_inline_on_the_heap_and_across() {
        let head: Vec<u8> = (100..110).collect();
        for (first, second) in [
            (5, 9),
            (9, 5),
            (12, 20),
            (20, 12),
            (30, 30),
            (30, 3),
            (3, 30),
        ] {
            let mut s = ShortBytes::new(&head);
            for tail_len in [first, second] {
                let tail: Vec<u8> = (0..tail_len as u8).collect();
                s.set_tail(head.len(), &tail);
                assert_eq!(&s[..head.len()], &head[..]);
                assert_eq!(&s[head.len()..], &tail[..]);
                assert_eq!(
                    matches!(s, ShortBytes::Inline { .. }),
                    head.len() + tail_len <= INLINE
                );
            }
        }
    }

    #[test]
    fn concat_is_the_two_parts() {
        for (h, t) in [(0, 0), (10, 12), (10, 13), (30, 4)] {
            let head: Vec<u8> = (0..h as u8).collect();
            let tail: Vec<u8> = (100..100 + t as u8).collect();
            let s = ShortBytes::concat(&head, &tail);
            assert_eq!(&*s, &[&head[..], &tail[..]].concat()[..]);
            assert_eq!(matches!(s, ShortBytes::Inline { .. }), h + t <= INLINE);
        }
    }

    #[test]
    fn probes_by_slice() {
        let mut m = hashbrown::HashMap::new();
        m.insert(ShortBytes::new(b"customer"), 1);
        m.insert(ShortBytes::new(&[7; 40]), 2);
        assert_eq!(m.get(&b"customer"[..]), Some(&1));
        assert_eq!(m.get(&[7u8; 40][..]), Some(&2));
        assert_eq!(std::mem::size_of::<ShortBytes>(), 24);
    }
}
