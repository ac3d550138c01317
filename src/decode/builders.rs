//! Column builders that can be truncated back to an earlier length (the decoder's rollback for
//! duplicate keys, failed conversions and malformed rows).
use std::sync::Arc;

use crate::arrow::array::builder::BooleanBufferBuilder;
use crate::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray, StringArray,
    StructArray,
};
use crate::arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use crate::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Field, FieldRef, Fields, Float32Type,
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
};

use crate::error::{CdcError, Result};

/// Short byte-string equality without a libc memcmp call.
#[inline(always)]
pub(crate) fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let ld = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        let mut i = 0;
        while i + 8 < n {
            if ld(a, i) != ld(b, i) {
                return false;
            }
            i += 8;
        }
        ld(a, n - 8) == ld(b, n - 8)
    } else if n >= 4 {
        let ld = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
        ld(a, 0) == ld(b, 0) && ld(a, n - 4) == ld(b, n - 4)
    } else {
        a == b
    }
}

fn nulls(mut v: LazyValidity) -> Option<NullBuffer> {
    let b = v.bits.take()?.finish();
    let n = NullBuffer::new(b);
    (n.null_count() > 0).then_some(n)
}

/// A validity bitmap that only materialises once the first null arrives.
pub(crate) struct LazyValidity {
    len: usize,
    bits: Option<BooleanBufferBuilder>,
}

impl LazyValidity {
    pub fn new(_cap: usize) -> Self {
        LazyValidity { len: 0, bits: None }
    }
    #[inline(always)]
    pub fn append(&mut self, v: bool) {
        match &mut self.bits {
            Some(b) => b.append(v),
            None if v => {}
            None => {
                let mut b = BooleanBufferBuilder::new((self.len + 1).max(1024));
                b.append_n(self.len, true);
                b.append(false);
                self.bits = Some(b);
            }
        }
        self.len += 1;
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn truncate(&mut self, n: usize) {
        if n < self.len {
            self.len = n;
            if let Some(b) = &mut self.bits {
                b.truncate(n);
            }
        }
    }
    pub fn reserve(&mut self, extra: usize) {
        if let Some(b) = &mut self.bits {
            b.reserve(extra);
        }
    }
    /// Drops entries `from..to`; the later ones move down.
    pub fn remove_range(&mut self, from: usize, to: usize) {
        debug_assert!(from <= to && to <= self.len);
        if let Some(b) = &mut self.bits {
            for i in to..self.len {
                let v = b.get_bit(i);
                b.set_bit(from + i - to, v);
            }
            b.truncate(self.len - (to - from));
        }
        self.len -= to - from;
    }
}

/// Drops the offsets of entries `from..to`, shifting the later ones down; returns the range
/// of child values (or bytes) those entries held, for the caller to drop in turn.
fn remove_offsets(offsets: &mut Vec<i32>, from: usize, to: usize) -> (usize, usize) {
    let (start, end) = (offsets[from], offsets[to]);
    offsets.drain(from + 1..=to);
    for o in &mut offsets[from + 1..] {
        *o -= end - start;
    }
    (start as usize, end as usize)
}

pub(crate) struct PrimitiveBuilder<T> {
    pub vals: Vec<T>,
    pub valid: LazyValidity,
}

impl<T: Copy + Default> PrimitiveBuilder<T> {
    fn new() -> Self {
        PrimitiveBuilder {
            vals: Vec::new(),
            valid: LazyValidity::new(0),
        }
    }
    #[inline]
    pub fn push(&mut self, v: T) {
        self.vals.push(v);
        self.valid.append(true);
    }
    fn null(&mut self) {
        self.vals.push(T::default());
        self.valid.append(false);
    }
    fn truncate(&mut self, n: usize) {
        self.vals.truncate(n);
        self.valid.truncate(n);
    }
    fn reserve(&mut self, extra: usize) {
        self.vals.reserve(extra);
        self.valid.reserve(extra);
    }
    fn remove_range(&mut self, from: usize, to: usize) {
        self.vals.drain(from..to);
        self.valid.remove_range(from, to);
    }
}

impl<T: crate::arrow::datatypes::ArrowNativeType> PrimitiveBuilder<T> {
    fn finish<P: ArrowPrimitiveType<Native = T>>(&mut self, dt: &DataType) -> ArrayRef {
        let vals = std::mem::take(&mut self.vals);
        let valid = std::mem::replace(&mut self.valid, LazyValidity::new(0));
        Arc::new(
            PrimitiveArray::<P>::new(ScalarBuffer::from(vals), nulls(valid))
                .with_data_type(dt.clone()),
        )
    }
}

pub(crate) struct Bytes {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
    pub valid: LazyValidity,
}

impl Bytes {
    fn new() -> Self {
        Bytes {
            offsets: vec![0],
            data: Vec::new(),
            valid: LazyValidity::new(0),
        }
    }
    #[inline]
    pub fn push(&mut self, v: &[u8]) {
        self.data.extend_from_slice(v);
        self.offsets.push(self.data.len() as i32);
        self.valid.append(true);
    }
    /// Close a value whose bytes were appended to `data` directly.
    #[inline]
    pub fn commit(&mut self) {
        self.offsets.push(self.data.len() as i32);
        self.valid.append(true);
    }
    fn null(&mut self) {
        self.offsets.push(self.data.len() as i32);
        self.valid.append(false);
    }
    fn truncate(&mut self, n: usize) {
        self.offsets.truncate(n + 1);
        self.data
            .truncate(*self.offsets.last().unwrap_or(&0) as usize);
        self.valid.truncate(n);
    }
    fn remove_range(&mut self, from: usize, to: usize) {
        let (start, end) = remove_offsets(&mut self.offsets, from, to);
        self.data.drain(start..end);
        self.valid.remove_range(from, to);
    }
    fn check(&self) -> Result<()> {
        if self.data.len() > i32::MAX as usize {
            return Err(CdcError::Input(
                "decoded string data exceeds 2 GiB in one chunk".into(),
            ));
        }
        Ok(())
    }
}

pub(crate) struct ListBuilder {
    pub offsets: Vec<i32>,
    pub valid: LazyValidity,
    pub child: Builder,
    pub field: FieldRef,
}

pub(crate) struct StructBuilder {
    pub fields: Fields,
    pub children: Vec<Builder>,
    pub names: Vec<Box<[u8]>>,
    /// names[i] has no quote, backslash or control byte: it can be matched against raw input.
    pub simple: Vec<bool>,
    pub map: Option<hashbrown::HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>>,
    pub valid: LazyValidity,
}

impl StructBuilder {
    pub fn new(fields: &Fields) -> Self {
        let names: Vec<Box<[u8]>> = fields.iter().map(|f| f.name().as_bytes().into()).collect();
        let map = (names.len() > 8).then(|| {
            let mut m = hashbrown::HashMap::with_hasher(foldhash::fast::RandomState::default());
            for (i, n) in names.iter().enumerate() {
                m.insert(n.clone(), i); // duplicate names: last wins
            }
            m
        });
        let simple = names
            .iter()
            .map(|n| {
                !n.iter()
                    .any(|&c| c < 0x20 || c == b'"' || c == b'\'' || c == b'\\')
            })
            .collect();
        StructBuilder {
            simple,
            fields: fields.clone(),
            children: fields.iter().map(|f| Builder::new(f.data_type())).collect(),
            names,
            map,
            valid: LazyValidity::new(0),
        }
    }
    /// If the raw key at `b[i]` (an opening quote) is exactly the simple name `hint`, the index
    /// just past its closing quote.
    #[inline]
    pub fn match_raw(&self, b: &[u8], i: usize, hint: usize) -> Option<usize> {
        let name = self.names.get(hint)?;
        if !self.simple[hint] {
            return None;
        }
        let q = b[i];
        let e = i + 1 + name.len();
        (b.len() > e && b[e] == q && eq_bytes(&b[i + 1..e], name)).then_some(e + 1)
    }
    /// Field index of `key`, trying `hint` (the field after the previous match) first.
    #[inline]
    pub fn find(&self, key: &[u8], hint: usize) -> Option<usize> {
        if let Some(n) = self.names.get(hint) {
            if eq_bytes(n, key) {
                return Some(hint);
            }
        }
        match &self.map {
            Some(m) => m.get(key).copied(),
            None => self.names.iter().rposition(|n| eq_bytes(n, key)),
        }
    }
    /// Grow capacity for `extra_rows` more rows, extrapolating from what is built so far.
    pub fn reserve_like(&mut self, done: usize, extra_rows: usize) {
        self.valid.reserve(extra_rows);
        for c in &mut self.children {
            c.reserve_like(done, extra_rows);
        }
    }
    pub fn len(&self) -> usize {
        self.valid.len()
    }
    pub fn truncate(&mut self, n: usize) {
        self.valid.truncate(n);
        for c in &mut self.children {
            c.truncate(n);
        }
    }
    pub fn null(&mut self) {
        self.valid.append(false);
        for c in &mut self.children {
            c.null();
        }
    }
    fn remove_range(&mut self, from: usize, to: usize) {
        self.valid.remove_range(from, to);
        for c in &mut self.children {
            c.remove_range(from, to);
        }
    }
    pub fn finish_children(&mut self) -> Result<Vec<ArrayRef>> {
        self.children
            .iter_mut()
            .zip(self.fields.iter())
            .map(|(c, f)| c.finish(f.data_type()))
            .collect()
    }
    fn finish(&mut self) -> Result<ArrayRef> {
        let kids = self.finish_children()?;
        let valid = std::mem::replace(&mut self.valid, LazyValidity::new(0));
        let len = valid.len();
        Ok(Arc::new(StructArray::try_new_with_length(
            self.fields.clone(),
            kids,
            nulls(valid),
            len,
        )?))
    }
}

pub(crate) struct MapBuilder {
    pub offsets: Vec<i32>,
    pub valid: LazyValidity,
    pub keys: Bytes,
    pub values: Builder,
    pub entries: FieldRef,
}

pub(crate) enum Builder {
    Bool(PrimitiveBuilder<bool>),
    I8(PrimitiveBuilder<i8>),
    I16(PrimitiveBuilder<i16>),
    I32(PrimitiveBuilder<i32>),
    I64(PrimitiveBuilder<i64>),
    F32(PrimitiveBuilder<f32>),
    F64(PrimitiveBuilder<f64>),
    Dec(PrimitiveBuilder<i128>, u8, i8),
    Date(PrimitiveBuilder<i32>),
    Ts(PrimitiveBuilder<i64>),
    TsNtz(PrimitiveBuilder<i64>),
    Str(Bytes),
    Bin(Bytes),
    List(Box<ListBuilder>),
    Struct(Box<StructBuilder>),
    Map(Box<MapBuilder>),
    /// A type the decoder does not produce (always null).
    Null(usize, DataType),
}

impl Builder {
    pub fn new(dt: &DataType) -> Builder {
        match dt {
            DataType::Boolean => Builder::Bool(PrimitiveBuilder::new()),
            DataType::Int8 => Builder::I8(PrimitiveBuilder::new()),
            DataType::Int16 => Builder::I16(PrimitiveBuilder::new()),
            DataType::Int32 => Builder::I32(PrimitiveBuilder::new()),
            DataType::Int64 => Builder::I64(PrimitiveBuilder::new()),
            DataType::Float32 => Builder::F32(PrimitiveBuilder::new()),
            DataType::Float64 => Builder::F64(PrimitiveBuilder::new()),
            DataType::Decimal128(p, s) => Builder::Dec(PrimitiveBuilder::new(), *p, *s),
            DataType::Date32 => Builder::Date(PrimitiveBuilder::new()),
            DataType::Timestamp(_, Some(_)) => Builder::Ts(PrimitiveBuilder::new()),
            DataType::Timestamp(_, None) => Builder::TsNtz(PrimitiveBuilder::new()),
            DataType::Utf8 => Builder::Str(Bytes::new()),
            DataType::Binary => Builder::Bin(Bytes::new()),
            DataType::List(f) => Builder::List(Box::new(ListBuilder {
                offsets: vec![0],
                valid: LazyValidity::new(0),
                child: Builder::new(f.data_type()),
                field: f.clone(),
            })),
            DataType::Struct(fs) => Builder::Struct(Box::new(StructBuilder::new(fs))),
            DataType::Map(entries, _) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Builder::Null(0, dt.clone());
                };
                Builder::Map(Box::new(MapBuilder {
                    offsets: vec![0],
                    valid: LazyValidity::new(0),
                    keys: Bytes::new(),
                    values: Builder::new(kv[1].data_type()),
                    entries: entries.clone(),
                }))
            }
            other => Builder::Null(0, other.clone()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Builder::Bool(p) => p.vals.len(),
            Builder::I8(p) => p.vals.len(),
            Builder::I16(p) => p.vals.len(),
            Builder::I32(p) | Builder::Date(p) => p.vals.len(),
            Builder::I64(p) | Builder::Ts(p) | Builder::TsNtz(p) => p.vals.len(),
            Builder::F32(p) => p.vals.len(),
            Builder::F64(p) => p.vals.len(),
            Builder::Dec(p, ..) => p.vals.len(),
            Builder::Str(b) | Builder::Bin(b) => b.valid.len(),
            Builder::List(l) => l.valid.len(),
            Builder::Struct(s) => s.len(),
            Builder::Map(m) => m.valid.len(),
            Builder::Null(n, _) => *n,
        }
    }

    pub fn null(&mut self) {
        match self {
            Builder::Bool(p) => p.null(),
            Builder::I8(p) => p.null(),
            Builder::I16(p) => p.null(),
            Builder::I32(p) | Builder::Date(p) => p.null(),
            Builder::I64(p) | Builder::Ts(p) | Builder::TsNtz(p) => p.null(),
            Builder::F32(p) => p.null(),
            Builder::F64(p) => p.null(),
            Builder::Dec(p, ..) => p.null(),
            Builder::Str(b) | Builder::Bin(b) => b.null(),
            Builder::List(l) => {
                l.offsets.push(*l.offsets.last().unwrap_or(&0));
                l.valid.append(false);
            }
            Builder::Struct(s) => s.null(),
            Builder::Map(m) => {
                m.offsets.push(*m.offsets.last().unwrap_or(&0));
                m.valid.append(false);
            }
            Builder::Null(n, _) => *n += 1,
        }
    }

    /// Grow capacity for `extra` more entries, extrapolating child sizes from `done` rows.
    pub fn reserve_like(&mut self, done: usize, extra: usize) {
        let scale = |len: usize| (len as u128 * extra as u128 / done.max(1) as u128) as usize + 16;
        match self {
            Builder::Bool(p) => p.reserve(extra),
            Builder::I8(p) => p.reserve(extra),
            Builder::I16(p) => p.reserve(extra),
            Builder::I32(p) | Builder::Date(p) => p.reserve(extra),
            Builder::I64(p) | Builder::Ts(p) | Builder::TsNtz(p) => p.reserve(extra),
            Builder::F32(p) => p.reserve(extra),
            Builder::F64(p) => p.reserve(extra),
            Builder::Dec(p, ..) => p.reserve(extra),
            Builder::Str(b) | Builder::Bin(b) => {
                b.offsets.reserve(extra);
                b.valid.reserve(extra);
                let d = scale(b.data.len());
                b.data.reserve(d);
            }
            Builder::List(l) => {
                l.offsets.reserve(extra);
                l.valid.reserve(extra);
                let k = scale(l.child.len());
                l.child.reserve_like(l.child.len().max(1), k);
            }
            Builder::Struct(s) => s.reserve_like(done, extra),
            Builder::Map(m) => {
                m.offsets.reserve(extra);
                m.valid.reserve(extra);
                let k = scale(m.values.len());
                let n = m.values.len().max(1);
                m.values.reserve_like(n, k);
                let d = scale(m.keys.data.len());
                m.keys.data.reserve(d);
                m.keys.offsets.reserve(k);
                m.keys.valid.reserve(k);
            }
            Builder::Null(..) => {}
        }
    }

    /// Back to `n` entries, also dropping any junk a failed parse left in children.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Builder::Bool(p) => p.truncate(n),
            Builder::I8(p) => p.truncate(n),
            Builder::I16(p) => p.truncate(n),
            Builder::I32(p) | Builder::Date(p) => p.truncate(n),
            Builder::I64(p) | Builder::Ts(p) | Builder::TsNtz(p) => p.truncate(n),
            Builder::F32(p) => p.truncate(n),
            Builder::F64(p) => p.truncate(n),
            Builder::Dec(p, ..) => p.truncate(n),
            Builder::Str(b) | Builder::Bin(b) => b.truncate(n),
            Builder::List(l) => {
                l.offsets.truncate(n + 1);
                l.valid.truncate(n);
                let c = *l.offsets.last().unwrap_or(&0) as usize;
                l.child.truncate(c);
            }
            Builder::Struct(s) => s.truncate(n),
            Builder::Map(m) => {
                m.offsets.truncate(n + 1);
                m.valid.truncate(n);
                let c = *m.offsets.last().unwrap_or(&0) as usize;
                m.keys.truncate(c);
                m.values.truncate(c);
            }
            Builder::Null(k, _) => *k = (*k).min(n),
        }
    }

    /// Drops entries `from..to` (and what they hold); the later entries move down. The
    /// decoder's duplicate keys: the newer value, converted after the one it replaces, takes
    /// its place without being converted a second time.
    pub fn remove_range(&mut self, from: usize, to: usize) {
        match self {
            Builder::Bool(p) => p.remove_range(from, to),
            Builder::I8(p) => p.remove_range(from, to),
            Builder::I16(p) => p.remove_range(from, to),
            Builder::I32(p) | Builder::Date(p) => p.remove_range(from, to),
            Builder::I64(p) | Builder::Ts(p) | Builder::TsNtz(p) => p.remove_range(from, to),
            Builder::F32(p) => p.remove_range(from, to),
            Builder::F64(p) => p.remove_range(from, to),
            Builder::Dec(p, ..) => p.remove_range(from, to),
            Builder::Str(b) | Builder::Bin(b) => b.remove_range(from, to),
            Builder::List(l) => {
                let (start, end) = remove_offsets(&mut l.offsets, from, to);
                l.child.remove_range(start, end);
                l.valid.remove_range(from, to);
            }
            Builder::Struct(s) => s.remove_range(from, to),
            Builder::Map(m) => {
                let (start, end) = remove_offsets(&mut m.offsets, from, to);
                m.keys.remove_range(start, end);
                m.values.remove_range(start, end);
                m.valid.remove_range(from, to);
            }
            Builder::Null(n, _) => *n -= to - from,
        }
    }

    pub fn finish(&mut self, dt: &DataType) -> Result<ArrayRef> {
        Ok(match self {
            Builder::Bool(p) => {
                let vals = std::mem::take(&mut p.vals);
                let valid = std::mem::replace(&mut p.valid, LazyValidity::new(0));
                Arc::new(BooleanArray::new(BooleanBuffer::from(vals), nulls(valid)))
            }
            Builder::I8(p) => p.finish::<Int8Type>(dt),
            Builder::I16(p) => p.finish::<Int16Type>(dt),
            Builder::I32(p) => p.finish::<Int32Type>(dt),
            Builder::Date(p) => p.finish::<Date32Type>(dt),
            Builder::I64(p) => p.finish::<Int64Type>(dt),
            Builder::Ts(p) | Builder::TsNtz(p) => p.finish::<TimestampMicrosecondType>(dt),
            Builder::F32(p) => p.finish::<Float32Type>(dt),
            Builder::F64(p) => p.finish::<Float64Type>(dt),
            Builder::Dec(p, ..) => p.finish::<Decimal128Type>(dt),
            Builder::Str(b) => {
                b.check()?;
                let (o, d, v) = take_bytes(b);
                // SAFETY-free: validated UTF-8 was only ever appended (input is UTF-8, escapes
                // decode to UTF-8); still use the checked constructor.
                Arc::new(StringArray::try_new(o, d.into(), nulls(v))?)
            }
            Builder::Bin(b) => {
                b.check()?;
                let (o, d, v) = take_bytes(b);
                Arc::new(BinaryArray::try_new(o, d.into(), nulls(v))?)
            }
            Builder::List(l) => {
                let child = l.child.finish(l.field.data_type())?;
                let offs = std::mem::replace(&mut l.offsets, vec![0]);
                let valid = std::mem::replace(&mut l.valid, LazyValidity::new(0));
                Arc::new(ListArray::try_new(
                    l.field.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    child,
                    nulls(valid),
                )?)
            }
            Builder::Struct(s) => s.finish()?,
            Builder::Map(m) => {
                let DataType::Struct(kv) = m.entries.data_type() else {
                    unreachable!()
                };
                let keys = Builder::Str(std::mem::replace(&mut m.keys, Bytes::new()))
                    .finish(&DataType::Utf8)?;
                let vals = m.values.finish(kv[1].data_type())?;
                let entries = StructArray::try_new(kv.clone(), vec![keys, vals], None)?;
                let offs = std::mem::replace(&mut m.offsets, vec![0]);
                let valid = std::mem::replace(&mut m.valid, LazyValidity::new(0));
                Arc::new(MapArray::try_new(
                    m.entries.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    entries,
                    nulls(valid),
                    false,
                )?)
            }
            Builder::Null(n, dt) => crate::arrow::array::new_null_array(dt, *n),
        })
    }
}

fn take_bytes(b: &mut Bytes) -> (OffsetBuffer<i32>, Vec<u8>, LazyValidity) {
    let o = std::mem::replace(&mut b.offsets, vec![0]);
    let d = std::mem::take(&mut b.data);
    let v = std::mem::replace(&mut b.valid, LazyValidity::new(0));
    (OffsetBuffer::new(ScalarBuffer::from(o)), d, v)
}

/// Types the decoder can produce (what `parse_ddl` emits); anything else is a config error.
pub(crate) fn check_type(dt: &DataType) -> Result<()> {
    use crate::arrow::datatypes::TimeUnit;
    match dt {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Date32
        | DataType::Utf8
        | DataType::Binary
        | DataType::Timestamp(TimeUnit::Microsecond, _) => Ok(()),
        DataType::List(f) => check_type(f.data_type()),
        DataType::Struct(fs) => fs.iter().try_for_each(|f| check_type(f.data_type())),
        DataType::Map(e, _) => match e.data_type() {
            DataType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &DataType::Utf8 => {
                check_type(kv[1].data_type())
            }
            _ => Err(CdcError::Config(format!(
                "from_json: unsupported map type {dt}: keys must be Utf8"
            ))),
        },
        other => Err(CdcError::Config(format!(
            "from_json: unsupported type {other} in the schema"
        ))),
    }
}

/// The same type with every field (recursively) nullable, as from_json produces.
pub(crate) fn nullable_type(dt: &DataType) -> DataType {
    match dt {
        DataType::List(f) => DataType::List(Arc::new(nullable_field(f))),
        DataType::Struct(fs) => DataType::Struct(fs.iter().map(|f| nullable_field(f)).collect()),
        DataType::Map(e, sorted) => {
            let DataType::Struct(kv) = e.data_type() else {
                return dt.clone();
            };
            let kv: Fields = vec![
                Field::new(kv[0].name(), kv[0].data_type().clone(), false),
                nullable_field(&kv[1]),
            ]
            .into();
            DataType::Map(
                Arc::new(Field::new(e.name(), DataType::Struct(kv), false)),
                *sorted,
            )
        }
        other => other.clone(),
    }
}

pub(crate) fn nullable_field(f: &Field) -> Field {
    Field::new(f.name(), nullable_type(f.data_type()), true).with_metadata(f.metadata().clone())
}
