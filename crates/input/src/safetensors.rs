//! safetensors headers, checked before a file is mapped: an 8-byte little-endian header length,
//! that many bytes of JSON (`{"__metadata__": {..}, "<name>": {"dtype", "shape",
//! "data_offsets": [begin, end]}}`), then the data. Every tensor's dtype must be known, its shape's
//! element count times the dtype's size must equal its extent, and the extents must tile the
//! data section exactly, in order, as the format requires.

use std::io::Read;

use serde_json::{Map, Value};

/// Largest header, bytes (the `safetensors` crate's own limit).
pub const MAX_HEADER: u64 = 100_000_000;
/// Most tensors one file may hold.
pub const MAX_TENSORS: usize = 1 << 16;
/// Most dimensions a tensor may have.
pub const MAX_DIMS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    #[error("the header claims {0} bytes; the file holds {1} after the length")]
    HeaderLength(u64, u64),
    #[error("the header is {0} bytes, over the limit of {MAX_HEADER}")]
    HeaderTooLarge(u64),
    #[error("the header is not a JSON object: {0}")]
    Json(String),
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    #[error("reading the header: {0}")]
    Io(String),
}

/// What a checked header holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub tensors: usize,
    /// Bytes of tensor data, right after the header.
    pub data_bytes: u64,
}

const DTYPES: &[(&str, u64)] = &[
    ("BOOL", 1),
    ("U8", 1),
    ("I8", 1),
    ("F8_E5M2", 1),
    ("F8_E4M3", 1),
    ("I16", 2),
    ("U16", 2),
    ("F16", 2),
    ("BF16", 2),
    ("I32", 4),
    ("U32", 4),
    ("F32", 4),
    ("I64", 8),
    ("U64", 8),
    ("F64", 8),
];

/// Checks the header of a safetensors file of `len` bytes read from `reader` (at its start).
pub fn check(mut reader: impl Read, len: u64) -> Result<Summary, SafetensorsError> {
    let io = |e: std::io::Error| SafetensorsError::Io(e.to_string());
    let mut n = [0u8; 8];
    reader.read_exact(&mut n).map_err(io)?;
    let n = u64::from_le_bytes(n);
    let after = len.saturating_sub(8);
    if n > MAX_HEADER {
        return Err(SafetensorsError::HeaderTooLarge(n));
    }
    if n > after {
        return Err(SafetensorsError::HeaderLength(n, after));
    }
    let mut header = vec![0u8; n as usize];
    reader.read_exact(&mut header).map_err(io)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|e| SafetensorsError::Json(e.to_string()))?;
    let data_bytes = after - n;

    let mut extents = Vec::new();
    for (name, info) in &header {
        if name == "__metadata__" {
            let ok = info
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string));
            if !ok {
                return Err(invalid(name, "must map names to strings"));
            }
            continue;
        }
        if extents.len() == MAX_TENSORS {
            return Err(invalid(name, format!("more than {MAX_TENSORS} tensors")));
        }
        extents.push(tensor(name, info)?);
    }
    extents.sort_by_key(|e| (e.0, e.1));
    let mut end = 0;
    for (begin, stop, name) in &extents {
        if *begin != end {
            return Err(invalid(
                name,
                format!(
                    "starts at {begin}; the tensors must tile the data, and the last ended at {end}"
                ),
            ));
        }
        end = *stop;
    }
    if end != data_bytes {
        return Err(SafetensorsError::Invalid {
            at: "data".into(),
            message: format!("the tensors cover {end} bytes; the file holds {data_bytes}"),
        });
    }
    Ok(Summary {
        tensors: extents.len(),
        data_bytes,
    })
}

/// One tensor's (begin, end, name), its shape and dtype agreeing with its extent.
fn tensor<'a>(name: &'a str, info: &Value) -> Result<(u64, u64, &'a str), SafetensorsError> {
    let field = |key: &str| {
        info.get(key)
            .ok_or_else(|| invalid(name, format!("{key}: required")))
    };
    let dtype = field("dtype")?
        .as_str()
        .ok_or_else(|| invalid(name, "dtype: must be a string"))?;
    let &(_, size) = DTYPES
        .iter()
        .find(|d| d.0 == dtype)
        .ok_or_else(|| invalid(name, format!("dtype: `{dtype}` is not a safetensors dtype")))?;
    let shape = field("shape")?
        .as_array()
        .filter(|s| s.len() <= MAX_DIMS)
        .ok_or_else(|| {
            invalid(
                name,
                format!("shape: must be an array of at most {MAX_DIMS} sizes"),
            )
        })?;
    let mut elements = 1u64;
    for dim in shape {
        elements = dim
            .as_u64()
            .and_then(|d| elements.checked_mul(d))
            .ok_or_else(|| {
                invalid(
                    name,
                    "shape: sizes must be integers whose product fits 64 bits",
                )
            })?;
    }
    let offsets = field("data_offsets")?
        .as_array()
        .filter(|o| o.len() == 2)
        .and_then(|o| Some((o[0].as_u64()?, o[1].as_u64()?)))
        .ok_or_else(|| invalid(name, "data_offsets: must be [begin, end]"))?;
    let (begin, end) = offsets;
    let bytes = elements
        .checked_mul(size)
        .ok_or_else(|| invalid(name, "shape: too many bytes"))?;
    if end < begin || end - begin != bytes {
        return Err(invalid(
            name,
            format!(
                "data_offsets [{begin}, {end}] do not hold {elements} {dtype} values ({bytes} bytes)"
            ),
        ));
    }
    Ok((begin, end, name))
}

fn invalid(at: &str, message: impl Into<String>) -> SafetensorsError {
    SafetensorsError::Invalid {
        at: at.to_string(),
        message: message.into(),
    }
}

/// Checks the header of the file at `path`.
pub fn check_path(path: &std::path::Path) -> Result<Summary, SafetensorsError> {
    let (reader, len) = crate::open_sized(path).map_err(SafetensorsError::Io)?;
    check(reader, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend(header.as_bytes());
        b.extend(vec![0u8; data]);
        b
    }

    fn check_bytes(b: &[u8]) -> Result<Summary, SafetensorsError> {
        check(b, b.len() as u64)
    }

    #[test]
    fn tensors_that_tile_the_data_pass() {
        let b = file(
            r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}"#,
            14,
        );
        assert_eq!(
            check_bytes(&b),
            Ok(Summary {
                tensors: 2,
                data_bytes: 14
            })
        );
    }

    #[test]
    fn gaps_overlaps_and_wrong_sizes_are_named() {
        let gap = file(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
        );
        assert!(
            matches!(check_bytes(&gap), Err(SafetensorsError::Invalid { at, .. }) if at == "a")
        );
        let short = file(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(
            matches!(check_bytes(&short), Err(SafetensorsError::Invalid { message, .. }) if message.contains("3 F32 values"))
        );
        let trailing = file(
            r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#,
            3,
        );
        assert!(
            matches!(check_bytes(&trailing), Err(SafetensorsError::Invalid { at, .. }) if at == "data")
        );
        let mut lying = file("{}", 0);
        lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            check_bytes(&lying),
            Err(SafetensorsError::HeaderTooLarge(_))
        ));
        lying[..8].copy_from_slice(&1000u64.to_le_bytes());
        assert!(matches!(
            check_bytes(&lying),
            Err(SafetensorsError::HeaderLength(1000, 2))
        ));
        let dtype = file(
            r#"{"a":{"dtype":"F31","shape":[],"data_offsets":[0,4]}}"#,
            4,
        );
        assert!(check_bytes(&dtype).unwrap_err().to_string().contains("F31"));
    }
}
