//! Where every input row went: each row lands in exactly one counter.

/// Per-batch counters, in the order rows are screened; they add up to `rows_in`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows_in: u64,
    pub other_topics: u64,
    pub malformed: u64,
    /// Events for which `where=` is not TRUE.
    pub filtered_out: u64,
    pub ignored_operations: u64,
    pub null_keys: u64,
    pub null_sequences: u64,
    pub lookup_misses: u64,
    pub superseded: u64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub tombstoned: u64,
    pub stale: u64,
}

impl Counts {
    /// (name, value) pairs in screening order; the names are the Python report's attributes.
    pub fn fields(&self) -> [(&'static str, u64); 14] {
        [
            ("rows_in", self.rows_in),
            ("other_topics", self.other_topics),
            ("malformed", self.malformed),
            ("filtered_out", self.filtered_out),
            ("ignored_operations", self.ignored_operations),
            ("null_keys", self.null_keys),
            ("null_sequences", self.null_sequences),
            ("lookup_misses", self.lookup_misses),
            ("superseded", self.superseded),
            ("inserted", self.inserted),
            ("updated", self.updated),
            ("deleted", self.deleted),
            ("tombstoned", self.tombstoned),
            ("stale", self.stale),
        ]
    }

    /// Sum of every outcome counter; equals `rows_in` for an applied batch.
    pub fn accounted(&self) -> u64 {
        self.fields()[1..].iter().map(|(_, v)| v).sum()
    }

    pub fn add(&mut self, other: &Counts) {
        macro_rules! add { ($($f:ident),*) => { $(self.$f += other.$f;)* } }
        add!(
            rows_in,
            other_topics,
            malformed,
            filtered_out,
            ignored_operations,
            null_keys,
            null_sequences,
            lookup_misses,
            superseded,
            inserted,
            updated,
            deleted,
            tombstoned,
            stale
        );
    }
}

/// Why a row was put in `rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    MalformedJson,
    NullKey,
    NullSequence,
    LookupMiss,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed_json",
            Reason::NullKey => "null_key",
            Reason::NullSequence => "null_sequence",
            Reason::LookupMiss => "lookup_miss",
        }
    }
}
