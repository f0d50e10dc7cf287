//! Conversions from the formats models ship in to safetensors, which the engine loads.
//!
//! - `tfjs-to-safetensors`: a TF.js layers model (`model.json` plus binary shards of raw
//!   little-endian float32 in manifest order), tensor names and shapes as in the manifest.
//! - `torch-to-safetensors`: a PyTorch zip pickle of plain tensors, read without torch by
//!   candle's restricted unpickler; an optional prefix is stripped and some tensors dropped.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::Deserialize;

use super::Conversion;

pub fn run(step: &Conversion, input: &Path, output: &Path) -> Result<(), String> {
    let tensors = match step.kind.as_str() {
        "tfjs-to-safetensors" => read_tfjs(input)?,
        "torch-to-safetensors" => read_torch(input, step)?,
        other => return Err(format!("unknown conversion {other:?}")),
    };
    if tensors.is_empty() {
        return Err(format!("{} holds no tensors", input.display()));
    }
    candle_core::safetensors::save(&tensors, output)
        .map_err(|e| format!("writing safetensors: {e}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TfjsModel {
    weights_manifest: Vec<TfjsGroup>,
}

#[derive(Deserialize)]
struct TfjsGroup {
    paths: Vec<String>,
    weights: Vec<TfjsWeight>,
}

#[derive(Deserialize)]
struct TfjsWeight {
    name: String,
    shape: Vec<usize>,
    dtype: String,
}

fn read_tfjs(model_json: &Path) -> Result<HashMap<String, Tensor>, String> {
    let dir = model_json.parent().unwrap_or(Path::new("."));
    let text =
        fs::read_to_string(model_json).map_err(|e| format!("{}: {e}", model_json.display()))?;
    let model: TfjsModel = serde_json::from_str(&text).map_err(|e| format!("model.json: {e}"))?;
    let mut tensors = HashMap::new();
    for group in model.weights_manifest {
        let mut bytes = Vec::new();
        for shard in &group.paths {
            let path = dir.join(shard);
            bytes.extend(fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        let mut offset = 0usize;
        for weight in group.weights {
            if weight.dtype != "float32" {
                return Err(format!(
                    "{}: dtype {} is not supported (float32 only)",
                    weight.name, weight.dtype
                ));
            }
            let count: usize = weight.shape.iter().product();
            let end = offset + count * 4;
            let raw = bytes
                .get(offset..end)
                .ok_or_else(|| format!("{}: shards end before the weight does", weight.name))?;
            let values: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let tensor = Tensor::from_vec(values, weight.shape.as_slice(), &Device::Cpu)
                .map_err(|e| format!("{}: {e}", weight.name))?;
            tensors.insert(weight.name, tensor);
            offset = end;
        }
        if offset != bytes.len() {
            return Err(format!(
                "shards hold {} bytes but the manifest describes {offset}",
                bytes.len()
            ));
        }
    }
    Ok(tensors)
}

fn read_torch(path: &Path, step: &Conversion) -> Result<HashMap<String, Tensor>, String> {
    let all =
        candle_core::pickle::read_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tensors = HashMap::new();
    for (name, tensor) in all {
        let name = match &step.strip_prefix {
            Some(prefix) => name
                .strip_prefix(prefix.as_str())
                .unwrap_or(&name)
                .to_string(),
            None => name,
        };
        if step
            .drop_prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
        {
            continue;
        }
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}
