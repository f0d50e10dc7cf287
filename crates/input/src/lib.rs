//! Every parser of input that comes from outside adforge, apart from the model stack: video,
//! creative and job specs, JOBS.jsonl batch files, marketing-mix CSV datasets, webhook
//! deliveries, uploaded images, and GGUF and safetensors headers. The server re-exports these
//! modules where it uses them; the fuzz targets in `fuzz/` link this crate alone, so that a
//! coverage-guided build instruments the parsers without building candle or FFmpeg.
//!
//! Each parser either returns a value that passed its limits or an error naming the field (or
//! line, or header) and the limit. None panics, allocates in proportion to a length it read
//! before checking it, or recurses without bound: that is what the fuzz targets check.

pub mod brand;
pub mod colour;
pub mod creative;
pub mod dataset;
pub mod formats;
pub mod fuzzing;
pub mod gguf;
pub mod image;
pub mod jobs_file;
pub mod platform;
pub mod safetensors;
pub mod video_spec;
pub mod webhook;

/// A file opened for a header check, buffered, with its length.
fn open_sized(path: &std::path::Path) -> Result<(std::io::BufReader<std::fs::File>, u64), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    Ok((std::io::BufReader::new(file), len))
}

/// Input refused, named by field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
