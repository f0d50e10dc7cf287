//! Reading GGUF files: metadata, the model's hyper-parameters, and raw tensor bytes for the
//! engine's own matrices. Parsing is candle's (`gguf_file`); only the bytes are taken from it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::{Content, Value};

use super::kernels::{KernelError, QMatrix, RawType};

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("metadata {key}: {message}")]
    Metadata { key: String, message: String },
    #[error("tensor {name}: {message}")]
    Tensor { name: String, message: String },
    #[error("tensor {name}: {source}")]
    Kernel { name: String, source: KernelError },
}

/// An open GGUF file: its parsed header and a handle to read tensors from.
pub struct GgufFile {
    content: Content,
    file: File,
    path: String,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let display = path.display().to_string();
        let read_err = |message: String| GgufError::Read {
            path: display.clone(),
            message,
        };
        // Every tensor's type, shape and extent checked against the file before candle reads it.
        adforge_input::gguf::check_path(path).map_err(|e| read_err(e.to_string()))?;
        let mut file = File::open(path).map_err(|e| read_err(e.to_string()))?;
        let content = Content::read(&mut file).map_err(|e| read_err(e.to_string()))?;
        Ok(Self {
            content,
            file,
            path: display,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn metadata(&self) -> &HashMap<String, Value> {
        &self.content.metadata
    }

    fn get(&self, key: &str) -> Result<&Value, GgufError> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| GgufError::Metadata {
                key: key.to_string(),
                message: "missing".into(),
            })
    }

    pub fn string(&self, key: &str) -> Result<String, GgufError> {
        self.get(key)?
            .to_string()
            .cloned()
            .map_err(|e| GgufError::Metadata {
                key: key.into(),
                message: e.to_string(),
            })
    }

    pub fn u32(&self, key: &str) -> Result<u32, GgufError> {
        let value = self.get(key)?;
        value
            .to_u32()
            .or_else(|_| value.to_u64().map(|v| v as u32))
            .or_else(|_| value.to_i32().map(|v| v as u32))
            .map_err(|e| GgufError::Metadata {
                key: key.into(),
                message: e.to_string(),
            })
    }

    pub fn f32(&self, key: &str) -> Result<f32, GgufError> {
        self.get(key)?.to_f32().map_err(|e| GgufError::Metadata {
            key: key.into(),
            message: e.to_string(),
        })
    }

    pub fn bool(&self, key: &str) -> Result<bool, GgufError> {
        self.get(key)?.to_bool().map_err(|e| GgufError::Metadata {
            key: key.into(),
            message: e.to_string(),
        })
    }

    pub fn array(&self, key: &str) -> Result<&Vec<Value>, GgufError> {
        self.get(key)?.to_vec().map_err(|e| GgufError::Metadata {
            key: key.into(),
            message: e.to_string(),
        })
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Dimensions of a tensor, outermost first (rows, cols for a matrix).
    pub fn dims(&self, name: &str) -> Result<Vec<usize>, GgufError> {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| info.shape.dims().to_vec())
            .ok_or_else(|| GgufError::Tensor {
                name: name.into(),
                message: "missing".into(),
            })
    }

    fn raw(&mut self, name: &str) -> Result<(RawType, Vec<usize>, Vec<u8>), GgufError> {
        let err = |message: String| GgufError::Tensor {
            name: name.into(),
            message,
        };
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| err("missing".into()))?;
        let kind = match info.ggml_dtype {
            GgmlDType::F32 => RawType::F32,
            GgmlDType::F16 => RawType::F16,
            GgmlDType::Q4_1 => RawType::Q4_1,
            GgmlDType::Q8_0 => RawType::Q8_0,
            other => {
                return Err(GgufError::Kernel {
                    name: name.into(),
                    source: KernelError::Unsupported(format!("{other:?}")),
                });
            }
        };
        let dims = info.shape.dims().to_vec();
        let elements: usize = dims.iter().product();
        let bytes = elements / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let mut data = vec![0u8; bytes];
        self.file
            .seek(SeekFrom::Start(
                self.content.tensor_data_offset + info.offset,
            ))
            .and_then(|_| self.file.read_exact(&mut data))
            .map_err(|e| err(e.to_string()))?;
        Ok((kind, dims, data))
    }

    /// A 2-D weight as a matrix (rows x cols).
    pub fn matrix(&mut self, name: &str) -> Result<QMatrix, GgufError> {
        if !self.has_native_kernel(name) {
            return self.requantized(name);
        }
        let (kind, dims, data) = self.raw(name)?;
        let [rows, cols] = dims[..] else {
            return Err(GgufError::Tensor {
                name: name.into(),
                message: format!("expected 2 dimensions, got {dims:?}"),
            });
        };
        QMatrix::from_raw(kind, rows, cols, &data).map_err(|source| GgufError::Kernel {
            name: name.into(),
            source,
        })
    }

    /// Whether the engine's kernels read this tensor's storage type as it is.
    fn has_native_kernel(&self, name: &str) -> bool {
        self.content.tensor_infos.get(name).is_none_or(|info| {
            matches!(
                info.ggml_dtype,
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::Q4_1 | GgmlDType::Q8_0
            )
        })
    }

    /// A matrix stored in a type the engine has no kernel for (Q4_K, Q5_0, Q6_K, ...): decoded
    /// to f32 by candle and re-encoded as Q8_0, which the engine's kernels read. Q8_0 holds
    /// every value of those 4-6 bit types within half a step of its 8-bit grid, so the
    /// difference is rounding, at about twice the memory of the file's encoding.
    fn requantized(&mut self, name: &str) -> Result<QMatrix, GgufError> {
        let err = |message: String| GgufError::Tensor {
            name: name.into(),
            message,
        };
        let tensor = self
            .content
            .tensor(&mut self.file, name, &candle_core::Device::Cpu)
            .map_err(|e| err(e.to_string()))?;
        let dims = tensor.shape().dims().to_vec();
        let [rows, cols] = dims[..] else {
            return Err(err(format!("expected 2 dimensions, got {dims:?}")));
        };
        let values = tensor
            .dequantize(&candle_core::Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| err(e.to_string()))?;
        QMatrix::q8_0_from_f32(rows, cols, &values).map_err(|source| GgufError::Kernel {
            name: name.into(),
            source,
        })
    }

    /// A 1-D weight (norms) as f32.
    pub fn vector(&mut self, name: &str) -> Result<Vec<f32>, GgufError> {
        let (kind, dims, data) = self.raw(name)?;
        let len: usize = dims.iter().product();
        let matrix =
            QMatrix::from_raw(kind, 1, len, &data).map_err(|source| GgufError::Kernel {
                name: name.into(),
                source,
            })?;
        let mut out = vec![0.0; len];
        matrix.row_f32(0, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file cut short inside its tensor data (an interrupted download): candle's header
    /// reader accepts it, and the loss would surface part way through building the model; the
    /// header check refuses it at open, naming the tensor.
    #[test]
    fn a_file_cut_short_is_refused_at_open_naming_the_tensor() {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/gguf/q8_0.gguf");
        assert!(GgufFile::open(&seed).is_ok());
        let bytes = std::fs::read(&seed).unwrap();
        let cut = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cut.path(), &bytes[..bytes.len() - 1]).unwrap();
        let mut file = File::open(cut.path()).unwrap();
        assert!(Content::read(&mut file).is_ok(), "candle reads the header");
        let Err(error) = GgufFile::open(cut.path()) else {
            panic!("a truncated file was opened");
        };
        assert!(
            error
                .to_string()
                .contains("tensor \"w\": its 68 bytes at offset 0 run past"),
            "{error}"
        );
    }
}
