//! Delta Lake deletion vectors: the set of deleted row positions of one data file.
//!
//! The Delta protocol ("Deletion Vector Format") stores a vector as a magic number followed by
//! a 64-bit roaring bitmap in the portable format (a `RoaringTreemap`). On disk, a
//! `deletion_vector_<uuid>.bin` file starts with a format version byte, then holds vectors
//! one after another, each framed by its size and a CRC-32; a descriptor in the log points at
//! one by offset. Sizes and checksums are big-endian, the vector itself little-endian (as the
//! Java writer does). Inline vectors and the file's UUID travel in the log as Z85 text.
use roaring::RoaringTreemap;

use crate::error::{CdcError, Result};

const MAGIC: u32 = 1_681_511_377;
const FILE_FORMAT_VERSION: u8 = 1;

/// Where one vector sits in the file `write_file` made: the descriptor's `offset` and
/// `sizeInBytes`, and how many rows it deletes (`cardinality`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub offset: u32,
    pub size: u32,
    pub cardinality: u64,
}

fn corrupt(what: impl std::fmt::Display) -> CdcError {
    CdcError::Input(format!("corrupt deletion vector: {what}"))
}

/// The vector's bytes: magic number, then the treemap (what `sizeInBytes` counts).
pub fn encode(positions: &RoaringTreemap) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + positions.serialized_size());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    positions
        .serialize_into(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// The positions of a vector encoded by `encode` (or by any Delta writer).
pub fn decode(bytes: &[u8]) -> Result<RoaringTreemap> {
    let magic = bytes
        .get(..4)
        .map(|m| u32::from_le_bytes(m.try_into().unwrap()))
        .ok_or_else(|| corrupt("shorter than its magic number"))?;
    if magic != MAGIC {
        return Err(corrupt(format!("magic number {magic}, expected {MAGIC}")));
    }
    let positions = RoaringTreemap::deserialize_from(&bytes[4..]).map_err(corrupt)?;
    // The protocol keeps the top bit of every position clear (Java reads them signed).
    if positions.max().is_some_and(|max| max >> 63 == 1) {
        return Err(corrupt("a position above 2^63"));
    }
    Ok(positions)
}

/// One deletion vector file holding `vectors` in order, and where each landed in it.
pub fn write_file(vectors: &[RoaringTreemap]) -> (Vec<u8>, Vec<Stored>) {
    let mut file = vec![FILE_FORMAT_VERSION];
    let mut stored = Vec::with_capacity(vectors.len());
    for positions in vectors {
        let data = encode(positions);
        stored.push(Stored {
            offset: file.len() as u32,
            size: data.len() as u32,
            cardinality: positions.len(),
        });
        file.extend_from_slice(&(data.len() as u32).to_be_bytes());
        file.extend_from_slice(&data);
        file.extend_from_slice(&crc32fast::hash(&data).to_be_bytes());
    }
    (file, stored)
}

/// The vector stored at `offset` in a deletion vector file, checked against the size the
/// log gives and its checksum.
pub fn read_from_file(file: &[u8], offset: usize, size: usize) -> Result<RoaringTreemap> {
    if file.first() != Some(&FILE_FORMAT_VERSION) {
        return Err(corrupt(format!(
            "file format version {:?}, expected {FILE_FORMAT_VERSION}",
            file.first()
        )));
    }
    let end = offset
        .checked_add(4 + size + 4)
        .filter(|&end| end <= file.len() && offset >= 1)
        .ok_or_else(|| {
            corrupt(format!(
                "{size} bytes at offset {offset} overrun a file of {} bytes",
                file.len()
            ))
        })?;
    let framed = &file[offset..end];
    let stated = u32::from_be_bytes(framed[..4].try_into().unwrap()) as usize;
    if stated != size {
        return Err(corrupt(format!(
            "the file says {stated} bytes, the log {size}"
        )));
    }
    let data = &framed[4..4 + size];
    let checksum = u32::from_be_bytes(framed[4 + size..].try_into().unwrap());
    if crc32fast::hash(data) != checksum {
        return Err(corrupt("checksum mismatch"));
    }
    decode(data)
}

const Z85: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Z85 text of `bytes` (a multiple of 4 long), as the log spells UUIDs and inline vectors.
pub fn z85_encode(bytes: &[u8]) -> Result<String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(CdcError::Input(format!(
            "Z85 encodes whole 4-byte groups, got {} bytes",
            bytes.len()
        )));
    }
    let mut out = String::with_capacity(bytes.len() / 4 * 5);
    for group in bytes.chunks_exact(4) {
        let mut value = u32::from_be_bytes(group.try_into().unwrap());
        let mut digits = [0u8; 5];
        for digit in digits.iter_mut().rev() {
            *digit = Z85[(value % 85) as usize];
            value /= 85;
        }
        out.extend(digits.iter().map(|&d| d as char));
    }
    Ok(out)
}

/// The bytes of Z85 `text` (a multiple of 5 long).
pub fn z85_decode(text: &str) -> Result<Vec<u8>> {
    let bad = || corrupt(format!("{text:?} is not Z85 text"));
    if !text.len().is_multiple_of(5) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for group in text.as_bytes().chunks_exact(5) {
        let mut value: u64 = 0;
        for &c in group {
            let digit = Z85.iter().position(|&z| z == c).ok_or_else(bad)?;
            value = value * 85 + digit as u64;
        }
        let value = u32::try_from(value).map_err(|_| bad())?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn treemap(positions: &[u64]) -> RoaringTreemap {
        positions.iter().copied().collect()
    }

    #[test]
    fn a_file_of_several_vectors_reads_back_each_by_its_offset() {
        let vectors = [
            treemap(&[0, 3, 70_000]),
            treemap(&(0..10_000).collect::<Vec<_>>()),
            treemap(&[5, 1 << 33]),
        ];
        let (file, stored) = write_file(&vectors);
        assert_eq!(stored[0].offset, 1);
        for (positions, at) in vectors.iter().zip(&stored) {
            assert_eq!(at.cardinality, positions.len());
            let back = read_from_file(&file, at.offset as usize, at.size as usize).unwrap();
            assert_eq!(&back, positions);
        }
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_panic() {
        let (mut file, stored) = write_file(&[treemap(&[1, 2, 3])]);
        let (offset, size) = (stored[0].offset as usize, stored[0].size as usize);
        assert!(read_from_file(&file, offset, size + 1).is_err());
        assert!(read_from_file(&file, offset + 1000, size).is_err());
        assert!(read_from_file(&file, usize::MAX - 2, size).is_err());
        assert!(read_from_file(&file[..file.len() - 1], offset, size).is_err());
        file[offset + 8] ^= 0xff;
        assert!(read_from_file(&file, offset, size)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        assert!(decode(&[1, 2]).is_err());
        assert!(decode(&[0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn the_encoding_starts_with_the_magic_number_and_an_8_byte_bucket_count() {
        let bytes = encode(&treemap(&[7]));
        assert_eq!(&bytes[..4], &MAGIC.to_le_bytes());
        assert_eq!(&bytes[4..12], &1u64.to_le_bytes());
        assert_eq!(&bytes[12..16], &0u32.to_le_bytes()); // the bucket's high 32 bits
        assert_eq!(decode(&bytes).unwrap(), treemap(&[7]));
    }

    #[test]
    fn z85_matches_the_spec_example_and_round_trips() {
        // The example of the ZeroMQ RFC 32.
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(z85_encode(&bytes).unwrap(), "HelloWorld");
        assert_eq!(z85_decode("HelloWorld").unwrap(), bytes);
        assert!(z85_encode(&[1, 2, 3]).is_err());
        assert!(z85_decode("Hello").is_ok());
        assert!(z85_decode("Hell~").is_err());
        assert!(z85_decode("%%%%%").is_err()); // above 2^32
    }
}
