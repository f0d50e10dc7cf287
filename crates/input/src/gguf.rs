//! GGUF headers (versions 1 to 3), checked before candle's reader sees the file. candle 0.11
//! bounds the lengths it reads itself; this check adds what it leaves to the moment a tensor is
//! read: every tensor's ggml type known, its first dimension a whole number of blocks, its
//! bytes at an aligned offset inside the data section. A truncated download or a corrupt file
//! is refused when it is opened, naming the tensor, not part way through building a model. It
//! walks the header with every length checked against the bytes left and keeps nothing it reads
//! (strings are skipped, not copied), so a hostile header costs no more than its own size.
//!
//! Layout: `"GGUF"`, version (u32), tensor count and metadata count (u64; u32 in version 1),
//! the metadata (key string, value type, value), the tensor infos (name, dimension count,
//! dimensions, ggml type, offset), then the data at the next multiple of `general.alignment`
//! (default 32). Strings are a length (u64; u32 in version 1) and UTF-8 bytes; all little-endian.

use std::io::{self, Read};

/// Most tensors a header may list.
pub const MAX_TENSORS: u64 = 1 << 16;
/// Most metadata entries.
pub const MAX_METADATA: u64 = 1 << 16;
/// Most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// Deepest nesting of arrays in a metadata value.
pub const MAX_ARRAY_DEPTH: usize = 2;
/// Longest key or tensor name, bytes.
pub const MAX_NAME_LEN: u64 = 1 << 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufHeaderError {
    #[error("not a GGUF file (magic {0:02X?})")]
    Magic([u8; 4]),
    #[error("GGUF version {0} is not 1, 2 or 3")]
    Version(u32),
    #[error("{what}: {count} is over the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: u64,
        limit: u64,
    },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    #[error("the header ends early, at byte {0}")]
    Truncated(u64),
    #[error("reading the header: {0}")]
    Io(String),
}

/// What a checked header holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub version: u32,
    pub tensors: u64,
    pub metadata: u64,
    pub alignment: u64,
    /// Where the tensor data starts.
    pub data_offset: u64,
}

/// ggml tensor types candle reads: (id, name, elements per block, bytes per block).
const TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (30, "BF16", 1, 2),
];

/// Checks the header of a GGUF file of `len` bytes read from `reader` (positioned at its start).
pub fn check(reader: impl Read, len: u64) -> Result<Summary, GgufHeaderError> {
    let mut r = Cursor {
        inner: reader,
        at: 0,
        len,
    };
    let mut magic = [0u8; 4];
    r.exact(&mut magic)?;
    if &magic != b"GGUF" {
        return Err(GgufHeaderError::Magic(magic));
    }
    let version = r.u32()?;
    if !(1..=3).contains(&version) {
        return Err(GgufHeaderError::Version(version));
    }
    let wide = version >= 2;
    let tensors = r.count(wide)?;
    let metadata = r.count(wide)?;
    limit("tensors", tensors, MAX_TENSORS)?;
    limit("metadata entries", metadata, MAX_METADATA)?;
    // Every metadata entry takes at least 12 bytes and every tensor info at least 24.
    if metadata * 12 + tensors * 24 > r.left() {
        return Err(GgufHeaderError::Truncated(len));
    }

    let mut alignment = 32u64;
    for i in 0..metadata {
        let key = r.name(wide, &format!("metadata[{i}].key"))?;
        let kind = r.u32()?;
        let at = format!("metadata {key:?}");
        if key == "general.alignment" {
            if kind != 4 {
                return Err(invalid(&at, "must be a u32"));
            }
            alignment = u64::from(r.u32()?);
            if alignment == 0 || !alignment.is_power_of_two() || alignment > 1 << 20 {
                return Err(invalid(
                    &at,
                    format!("{alignment} is not a power of two up to 1 MiB"),
                ));
            }
        } else {
            r.value(kind, wide, 0, &at)?;
        }
    }

    let mut extents = Vec::with_capacity(usize::try_from(tensors).unwrap_or(0));
    for i in 0..tensors {
        let name = r.name(wide, &format!("tensors[{i}].name"))?;
        let at = format!("tensor {name:?}");
        let dims = r.u32()?;
        if !(1..=MAX_DIMS).contains(&dims) {
            return Err(invalid(
                &at,
                format!("{dims} dimensions; 1 to {MAX_DIMS} allowed"),
            ));
        }
        let mut elements = 1u64;
        let mut first = 0;
        for d in 0..dims {
            let size = r.count(wide)?;
            if d == 0 {
                first = size;
            }
            elements = elements
                .checked_mul(size)
                .filter(|&n| n > 0 && n <= len.saturating_mul(8))
                .ok_or_else(|| invalid(&at, "its dimensions' product is 0 or beyond the file"))?;
        }
        let kind = r.u32()?;
        let &(_, type_name, block, block_bytes) = TYPES
            .iter()
            .find(|t| t.0 == kind)
            .ok_or_else(|| invalid(&at, format!("ggml type {kind} is not one candle reads")))?;
        if first % block != 0 {
            return Err(invalid(
                &at,
                format!(
                    "its first dimension {first} is not a multiple of {type_name}'s block of {block}"
                ),
            ));
        }
        let offset = r.u64()?;
        let bytes = elements / block * block_bytes;
        extents.push((offset, bytes, at));
    }

    let data_offset = r.at.div_ceil(alignment) * alignment;
    let data = len.saturating_sub(data_offset);
    for (offset, bytes, at) in extents {
        if offset % alignment != 0 {
            return Err(invalid(
                &at,
                format!("offset {offset} is not aligned to {alignment}"),
            ));
        }
        if offset.checked_add(bytes).is_none_or(|end| end > data) {
            return Err(invalid(
                &at,
                format!("its {bytes} bytes at offset {offset} run past the data section's {data}"),
            ));
        }
    }
    Ok(Summary {
        version,
        tensors,
        metadata,
        alignment,
        data_offset,
    })
}

fn limit(what: &'static str, count: u64, limit: u64) -> Result<(), GgufHeaderError> {
    if count > limit {
        return Err(GgufHeaderError::TooMany { what, count, limit });
    }
    Ok(())
}

fn invalid(at: &str, message: impl Into<String>) -> GgufHeaderError {
    GgufHeaderError::Invalid {
        at: at.to_string(),
        message: message.into(),
    }
}

/// A reader that knows how many bytes are left.
struct Cursor<R> {
    inner: R,
    at: u64,
    len: u64,
}

impl<R: Read> Cursor<R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.at)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), GgufHeaderError> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => GgufHeaderError::Truncated(self.at),
            _ => GgufHeaderError::Io(e.to_string()),
        })?;
        self.at += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufHeaderError> {
        if n > self.left() {
            return Err(GgufHeaderError::Truncated(self.len));
        }
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
            .map_err(|e| GgufHeaderError::Io(e.to_string()))?;
        self.at += copied;
        if copied < n {
            return Err(GgufHeaderError::Truncated(self.at));
        }
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, GgufHeaderError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, GgufHeaderError> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A count or length: u64, or u32 in version 1.
    fn count(&mut self, wide: bool) -> Result<u64, GgufHeaderError> {
        if wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// A key or tensor name: read (it is short), checked as UTF-8.
    fn name(&mut self, wide: bool, at: &str) -> Result<String, GgufHeaderError> {
        let n = self.count(wide)?;
        if n > MAX_NAME_LEN || n > self.left() {
            return Err(invalid(at, format!("a name of {n} bytes")));
        }
        let mut bytes = vec![0u8; n as usize];
        self.exact(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| invalid(at, "not UTF-8"))
    }

    /// A string value: its length checked against the file, its bytes skipped.
    fn string(&mut self, wide: bool) -> Result<(), GgufHeaderError> {
        let n = self.count(wide)?;
        self.skip(n)
    }

    fn value(
        &mut self,
        kind: u32,
        wide: bool,
        depth: usize,
        at: &str,
    ) -> Result<(), GgufHeaderError> {
        match kind {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => self.string(wide),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(invalid(
                        at,
                        format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"),
                    ));
                }
                let item = self.u32()?;
                let count = self.count(wide)?;
                // Each item takes at least one byte (a string or array at least its length).
                if count > self.left() {
                    return Err(invalid(
                        at,
                        format!("an array of {count} items in {} bytes", self.left()),
                    ));
                }
                match item {
                    0 | 1 | 7 => self.skip(count),
                    2 | 3 => self.skip(count.saturating_mul(2)),
                    4..=6 => self.skip(count.saturating_mul(4)),
                    10..=12 => self.skip(count.saturating_mul(8)),
                    _ => (0..count).try_for_each(|_| self.value(item, wide, depth + 1, at)),
                }
            }
            _ => Err(invalid(at, format!("value type {kind} is not a GGUF type"))),
        }
    }
}

/// Checks the header of the file at `path`.
pub fn check_path(path: &std::path::Path) -> Result<Summary, GgufHeaderError> {
    let (reader, len) = crate::open_sized(path).map_err(GgufHeaderError::Io)?;
    check(reader, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 3 header: `general.architecture = "llama"`, a token array, one Q8_0 tensor of
    /// 2 x 32 at offset 0, and its 68 bytes of data.
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        let string = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        };
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        string(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes());
        string(&mut b, "llama");
        string(&mut b, "tokenizer.ggml.tokens");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        string(&mut b, "<s>");
        string(&mut b, "hi");
        string(&mut b, "w");
        b.extend(2u32.to_le_bytes());
        b.extend(32u64.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.resize(b.len().div_ceil(32) * 32, 0);
        b.extend([0u8; 68]);
        b
    }

    fn check_bytes(b: &[u8]) -> Result<Summary, GgufHeaderError> {
        check(b, b.len() as u64)
    }

    #[test]
    fn a_well_formed_header_is_summarised() {
        let b = sample();
        let s = check_bytes(&b).unwrap();
        assert_eq!(
            (s.version, s.tensors, s.metadata, s.alignment),
            (3, 1, 2, 32)
        );
        assert_eq!(s.data_offset as usize, b.len() - 68);
    }

    #[test]
    fn lies_about_lengths_are_refused_without_allocating_them() {
        let b = sample();
        // The architecture string claims 2^60 bytes.
        let mut huge = b.clone();
        huge[56..64].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(
            check_bytes(&huge),
            Err(GgufHeaderError::Truncated(_))
        ));
        // The data is one byte short of the tensor.
        assert!(matches!(
            check_bytes(&b[..b.len() - 1]),
            Err(GgufHeaderError::Invalid { message, .. }) if message.contains("run past")
        ));
        // A million tensors in a small file.
        let mut many = b.clone();
        many[8..16].copy_from_slice(&1_000_000u64.to_le_bytes());
        assert!(matches!(
            check_bytes(&many),
            Err(GgufHeaderError::TooMany {
                what: "tensors",
                ..
            })
        ));
        assert!(matches!(
            check_bytes(b"GGML"),
            Err(GgufHeaderError::Truncated(_)) | Err(GgufHeaderError::Magic(_))
        ));
        assert!(matches!(
            check_bytes(b"GGUF\x07\0\0\0"),
            Err(GgufHeaderError::Version(7))
        ));
    }

    #[test]
    fn arrays_nest_at_most_twice() {
        let mut b = Vec::new();
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.push(b'k');
        b.extend(9u32.to_le_bytes());
        for _ in 0..64 {
            b.extend(9u32.to_le_bytes());
            b.extend(1u64.to_le_bytes());
        }
        b.extend([0u8; 64]);
        assert!(matches!(
            check_bytes(&b),
            Err(GgufHeaderError::Invalid { message, .. }) if message.contains("nested deeper")
        ));
    }
}
