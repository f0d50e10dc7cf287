//! The ESRGAN-slim upscaler (UpscalerJS `@upscalerjs/esrgan-slim`, an RDN: residual dense
//! blocks, then 5x5 and 3x3 convolutions, nearest-neighbour upsampling and a last 3x3
//! convolution), x2, x3, x4 and x8. The network is read from the package's own Keras graph
//! (`xN/model.json`: Conv2D, ReLU, Concatenate, Add, UpSampling2D) and run with candle on the
//! weights the registry converted to `xN.safetensors` (kernels HWIO, as TF.js stores them).
//! Pixels go in and come out in 0..255 (the model definition's input and output range); the
//! output is clipped and rounded to the nearest level. Large images are cut into tiles with a
//! margin of the network's receptive radius, so a tile's kept pixels see exactly what they
//! would see in one pass, and memory stays bounded whatever the image size.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use image::{DynamicImage, RgbImage, RgbaImage};
use serde::Deserialize;

/// The scales the package ships.
pub const SCALES: [u32; 4] = [2, 3, 4, 8];

#[derive(Debug, thiserror::Error)]
pub enum UpscaleError {
    #[error("scale {0} is not one of 2, 3, 4, 8")]
    Scale(u32),
    #[error("{path}: {problem}")]
    Model { path: String, problem: String },
    #[error("upscaling failed: {0}")]
    Compute(#[from] candle_core::Error),
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "modelTopology")]
    topology: Topology,
}

#[derive(Deserialize)]
struct Topology {
    model_config: ModelConfig,
}

#[derive(Deserialize)]
struct ModelConfig {
    config: GraphConfig,
}

#[derive(Deserialize)]
struct GraphConfig {
    layers: Vec<Layer>,
    output_layers: Vec<(String, usize, usize)>,
}

#[derive(Deserialize)]
struct Layer {
    class_name: String,
    name: String,
    config: serde_json::Value,
    inbound_nodes: Vec<Vec<(String, usize, usize, serde_json::Value)>>,
}

enum Op {
    Input,
    Conv {
        weight: Tensor,
        bias: Tensor,
        padding: usize,
    },
    Relu,
    Concat,
    Add,
    Upsample(usize),
}

struct Node {
    op: Op,
    inputs: Vec<usize>,
}

/// One scale's network, ready to run.
pub struct Upscaler {
    scale: u32,
    nodes: Vec<Node>,
    output: usize,
    /// Input pixels a tile needs beyond the pixels it keeps.
    margin: u32,
}

impl Upscaler {
    /// Loads scale `scale` from an installed `esrgan-slim` model folder.
    pub fn load(dir: &Path, scale: u32) -> Result<Self, UpscaleError> {
        if !SCALES.contains(&scale) {
            return Err(UpscaleError::Scale(scale));
        }
        let model_err = |path: &Path, problem: String| UpscaleError::Model {
            path: path.display().to_string(),
            problem,
        };
        let graph_path = dir.join(format!("x{scale}/model.json"));
        let text = std::fs::read_to_string(&graph_path)
            .map_err(|e| model_err(&graph_path, e.to_string()))?;
        let graph: ModelJson =
            serde_json::from_str(&text).map_err(|e| model_err(&graph_path, e.to_string()))?;
        let weights_path = dir.join(format!("x{scale}.safetensors"));
        adforge_input::safetensors::check_path(&weights_path)
            .map_err(|e| model_err(&weights_path, e.to_string()))?;
        let weights = candle_core::safetensors::load(&weights_path, &Device::Cpu)?;
        let graph = graph.topology.model_config.config;
        build(graph, &weights, scale).map_err(|problem| model_err(&graph_path, problem))
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Runs the network on (1, 3, H, W) pixels in 0..255; (1, 3, H s, W s) out, unclipped.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, UpscaleError> {
        let mut values: Vec<Option<Tensor>> = (0..self.nodes.len()).map(|_| None).collect();
        for (i, node) in self.nodes.iter().enumerate() {
            let input_of = |k: usize| -> Result<&Tensor, UpscaleError> {
                values[node.inputs[k]]
                    .as_ref()
                    .ok_or_else(|| UpscaleError::Model {
                        path: "model.json".into(),
                        problem: "a layer is used before it is computed".into(),
                    })
            };
            let value = match &node.op {
                Op::Input => input.clone(),
                Op::Conv {
                    weight,
                    bias,
                    padding,
                } => input_of(0)?
                    .conv2d(weight, *padding, 1, 1, 1)?
                    .broadcast_add(bias)?,
                Op::Relu => input_of(0)?.relu()?,
                Op::Concat => {
                    let parts: Vec<&Tensor> = (0..node.inputs.len())
                        .map(input_of)
                        .collect::<Result<_, _>>()?;
                    Tensor::cat(&parts, 1)?
                }
                Op::Add => (input_of(0)? + input_of(1)?)?,
                Op::Upsample(s) => {
                    let x = input_of(0)?;
                    let (_, _, h, w) = x.dims4()?;
                    x.upsample_nearest2d(h * s, w * s)?
                }
            };
            values[i] = Some(value);
        }
        values[self.output]
            .take()
            .ok_or_else(|| UpscaleError::Model {
                path: "model.json".into(),
                problem: "the output layer was not computed".into(),
            })
    }

    /// Upscales an RGB image. `tile`: the largest side, in input pixels, run at once (plus the
    /// margin); `None` runs the whole image in one pass.
    pub fn upscale_rgb(
        &self,
        image: &RgbImage,
        tile: Option<u32>,
    ) -> Result<RgbImage, UpscaleError> {
        let (width, height) = image.dimensions();
        let s = self.scale;
        let mut out = RgbImage::new(width * s, height * s);
        let tile = tile.unwrap_or(width.max(height)).max(1);
        for y0 in (0..height).step_by(tile as usize) {
            for x0 in (0..width).step_by(tile as usize) {
                let (x1, y1) = ((x0 + tile).min(width), (y0 + tile).min(height));
                // The tile with its margin, clipped to the image: at the image's edges the
                // network pads with zeros exactly as in one pass.
                let (ex0, ey0) = (
                    x0.saturating_sub(self.margin),
                    y0.saturating_sub(self.margin),
                );
                let (ex1, ey1) = (
                    (x1 + self.margin).min(width),
                    (y1 + self.margin).min(height),
                );
                let (w, h) = (ex1 - ex0, ey1 - ey0);
                let mut pixels = vec![0f32; 3 * (w * h) as usize];
                for y in 0..h {
                    for x in 0..w {
                        let p = image.get_pixel(ex0 + x, ey0 + y);
                        for c in 0..3 {
                            pixels[(c * h as usize + y as usize) * w as usize + x as usize] =
                                f32::from(p[c]);
                        }
                    }
                }
                let input = Tensor::from_vec(pixels, (1, 3, h as usize, w as usize), &Device::Cpu)?;
                let result = self
                    .forward(&input)?
                    .clamp(0f32, 255f32)?
                    .round()?
                    .to_dtype(DType::U8)?
                    .squeeze(0)?;
                let values: Vec<u8> = result.flatten_all()?.to_vec1()?;
                let (ow, oh) = ((w * s) as usize, (h * s) as usize);
                for y in (y0 - ey0) * s..(y1 - ey0) * s {
                    for x in (x0 - ex0) * s..(x1 - ex0) * s {
                        let at = |c: usize| values[(c * oh + y as usize) * ow + x as usize];
                        out.put_pixel(ex0 * s + x, ey0 * s + y, image::Rgb([at(0), at(1), at(2)]));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Upscales any image; an alpha channel is resized on its own (Catmull-Rom).
    pub fn upscale(
        &self,
        image: &DynamicImage,
        tile: Option<u32>,
    ) -> Result<DynamicImage, UpscaleError> {
        let rgb = self.upscale_rgb(&image.to_rgb8(), tile)?;
        if !image.color().has_alpha() {
            return Ok(DynamicImage::ImageRgb8(rgb));
        }
        let alpha = image::imageops::resize(
            &image.to_luma_alpha8(),
            rgb.width(),
            rgb.height(),
            image::imageops::FilterType::CatmullRom,
        );
        let mut out = RgbaImage::new(rgb.width(), rgb.height());
        for (x, y, p) in out.enumerate_pixels_mut() {
            let c = rgb.get_pixel(x, y);
            *p = image::Rgba([c[0], c[1], c[2], alpha.get_pixel(x, y)[1]]);
        }
        Ok(DynamicImage::ImageRgba8(out))
    }
}

/// The graph in execution order (Keras lists layers after their inputs), and the receptive
/// radius in input pixels that sets the tile margin.
fn build(
    graph: GraphConfig,
    weights: &HashMap<String, Tensor>,
    scale: u32,
) -> Result<Upscaler, String> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut nodes = Vec::new();
    // (radius in input pixels, pixels of this node per input pixel) per node.
    let mut reach: Vec<(f64, f64)> = Vec::new();
    for layer in graph.layers {
        let inputs: Vec<usize> = layer
            .inbound_nodes
            .first()
            .map(|n| {
                n.iter()
                    .map(|(name, ..)| {
                        index.get(name).copied().ok_or_else(|| {
                            format!("{}: input {name} is not defined before it", layer.name)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let (radius, density) = inputs.iter().fold((0.0f64, 1.0f64), |(r, d), &i| {
            (r.max(reach[i].0), d.max(reach[i].1))
        });
        let (op, reached) = match layer.class_name.as_str() {
            "InputLayer" => (Op::Input, (0.0, 1.0)),
            "Conv2D" => {
                let kernel = weights
                    .get(&format!("{}/kernel", layer.name))
                    .ok_or_else(|| format!("{}: no kernel in the weights", layer.name))?;
                let bias = weights
                    .get(&format!("{}/bias", layer.name))
                    .ok_or_else(|| format!("{}: no bias in the weights", layer.name))?;
                let (kh, kw, _, out) = kernel.dims4().map_err(|e| e.to_string())?;
                if kh != kw || kh % 2 == 0 {
                    return Err(format!(
                        "{}: only odd square kernels are supported",
                        layer.name
                    ));
                }
                let padding = match layer.config["padding"].as_str() {
                    Some("same") => kh / 2,
                    Some("valid") if kh == 1 => 0,
                    other => {
                        return Err(format!(
                            "{}: padding {other:?} is not supported",
                            layer.name
                        ));
                    }
                };
                let weight = kernel
                    .permute((3, 2, 0, 1))
                    .and_then(|k| k.contiguous())
                    .map_err(|e| e.to_string())?;
                let bias = bias.reshape((1, out, 1, 1)).map_err(|e| e.to_string())?;
                (
                    Op::Conv {
                        weight,
                        bias,
                        padding,
                    },
                    (radius + padding as f64 / density, density),
                )
            }
            "Activation" if layer.config["activation"] == "relu" => (Op::Relu, (radius, density)),
            "Concatenate" if layer.config["axis"] == 3 || layer.config["axis"] == -1 => {
                (Op::Concat, (radius, density))
            }
            "Add" => (Op::Add, (radius, density)),
            "UpSampling2D" if layer.config["interpolation"] == "nearest" => {
                let size = layer.config["size"][0].as_u64().unwrap_or(1) as usize;
                (Op::Upsample(size), (radius, density * size as f64))
            }
            other => return Err(format!("{}: layer {other} is not supported", layer.name)),
        };
        index.insert(layer.name, nodes.len());
        nodes.push(Node { op, inputs });
        reach.push(reached);
    }
    let output_name = &graph
        .output_layers
        .first()
        .ok_or("the graph names no output")?
        .0;
    let output = *index
        .get(output_name)
        .ok_or_else(|| format!("output {output_name} is not a layer"))?;
    if (reach[output].1 - f64::from(scale)).abs() > 1e-9 {
        return Err(format!(
            "the graph upsamples by {}, not {scale}",
            reach[output].1
        ));
    }
    Ok(Upscaler {
        scale,
        nodes,
        output,
        margin: reach[output].0.ceil() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-layer graph built in memory: conv 3x3 (same) -> upsample x2 -> conv 3x3.
    fn tiny() -> Upscaler {
        let layer =
            |class: &str, name: &str, config: serde_json::Value, input: Option<&str>| Layer {
                class_name: class.into(),
                name: name.into(),
                config,
                inbound_nodes: input
                    .map(|i| vec![vec![(i.to_string(), 0, 0, serde_json::json!({}))]])
                    .unwrap_or_default(),
            };
        let graph = GraphConfig {
            layers: vec![
                layer("InputLayer", "LR", serde_json::json!({}), None),
                layer(
                    "Conv2D",
                    "A",
                    serde_json::json!({"padding": "same"}),
                    Some("LR"),
                ),
                layer(
                    "UpSampling2D",
                    "U",
                    serde_json::json!({"size": [2, 2], "interpolation": "nearest"}),
                    Some("A"),
                ),
                layer(
                    "Conv2D",
                    "SR",
                    serde_json::json!({"padding": "same"}),
                    Some("U"),
                ),
            ],
            output_layers: vec![("SR".into(), 0, 0)],
        };
        let device = Device::Cpu;
        let ramp = |n: usize| {
            (0..n)
                .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.4)
                .collect::<Vec<_>>()
        };
        let mut weights = HashMap::new();
        for (name, cin, cout) in [("A", 3, 4), ("SR", 4, 3)] {
            weights.insert(
                format!("{name}/kernel"),
                Tensor::from_vec(ramp(9 * cin * cout), (3, 3, cin, cout), &device).unwrap(),
            );
            weights.insert(
                format!("{name}/bias"),
                Tensor::from_vec(ramp(cout), cout, &device).unwrap(),
            );
        }
        build(graph, &weights, 2).unwrap()
    }

    #[test]
    fn margin_is_the_receptive_radius_in_input_pixels() {
        // 1 pixel before the upsampling, 1 output pixel (half an input pixel) after: 1.5 -> 2.
        assert_eq!(tiny().margin, 2);
    }

    #[test]
    fn tiles_give_the_pixels_of_one_pass() {
        let up = tiny();
        let image = RgbImage::from_fn(23, 17, |x, y| {
            image::Rgb([
                (x * 11 % 255) as u8,
                (y * 13 % 255) as u8,
                ((x * y) % 255) as u8,
            ])
        });
        let whole = up.upscale_rgb(&image, None).unwrap();
        assert_eq!(whole.dimensions(), (46, 34));
        for tile in [4, 5, 16] {
            let tiled = up.upscale_rgb(&image, Some(tile)).unwrap();
            let worst = whole
                .pixels()
                .zip(tiled.pixels())
                .flat_map(|(a, b)| (0..3).map(move |c| (i16::from(a[c]) - i16::from(b[c])).abs()))
                .max()
                .unwrap();
            assert!(worst <= 1, "tile {tile}: {worst} levels apart");
        }
    }
}
