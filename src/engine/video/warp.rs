//! Backward warping: each output pixel samples the input at its own position plus a flow vector,
//! bilinearly, with positions outside the image clamped to its border. This is what RIFE's
//! `warp` does with PyTorch's `grid_sample(mode="bilinear", padding_mode="border",
//! align_corners=True)` on a grid of pixel centres plus the flow, which candle lacks: here the
//! flow is used in pixels directly (the normalisation to -1..1 and back cancels out).
//!
//! Runs on the CPU over contiguous f32 NCHW data, rows in parallel (rayon); tensors on another
//! device are copied to the CPU and the result copied back. Owns nothing else.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum WarpError {
    #[error("warp input must be (N, C, H, W) and flow (N, 2, H, W); got {input:?} and {flow:?}")]
    Shape { input: Vec<usize>, flow: Vec<usize> },
    #[error("warp: {0}")]
    Compute(#[from] candle_core::Error),
}

/// `out[n, c, y, x] = input[n, c, y + flow[n, 1, y, x], x + flow[n, 0, y, x]]`, read bilinearly
/// with the position clamped to `0..=H-1` and `0..=W-1`. Input and flow are f32 (other dtypes are
/// converted); the result is f32 on the input's device.
pub fn backward_warp(input: &Tensor, flow: &Tensor) -> Result<Tensor, WarpError> {
    let shape_err = || WarpError::Shape {
        input: input.dims().to_vec(),
        flow: flow.dims().to_vec(),
    };
    let (n, c, h, w) = input.dims4().map_err(|_| shape_err())?;
    if flow.dims() != [n, 2, h, w] {
        return Err(shape_err());
    }
    let device = input.device().clone();
    let to_host = |t: &Tensor| -> Result<Vec<f32>, candle_core::Error> {
        t.to_device(&Device::Cpu)?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()
    };
    let pixels = to_host(input)?;
    let flow = to_host(flow)?;
    let mut out = vec![0f32; pixels.len()];
    if !out.is_empty() {
        let plane = h * w;
        out.par_chunks_mut(w)
            .enumerate()
            .for_each(|(row_idx, out_row)| {
                // row_idx = (n * C + c) * H + y
                let y = row_idx % h;
                let nc = row_idx / h;
                let batch = nc / c;
                let src = &pixels[nc * plane..(nc + 1) * plane];
                let fx = &flow[(batch * 2) * plane + y * w..][..w];
                let fy = &flow[(batch * 2 + 1) * plane + y * w..][..w];
                warp_row(src, h, w, y, fx, fy, out_row);
            });
    }
    Ok(Tensor::from_vec(out, (n, c, h, w), &Device::Cpu)?.to_device(&device)?)
}

/// One output row `y` of one (H, W) plane `src`.
fn warp_row(src: &[f32], h: usize, w: usize, y: usize, fx: &[f32], fy: &[f32], out: &mut [f32]) {
    let (max_x, max_y) = ((w - 1) as f32, (h - 1) as f32);
    for (x, value) in out.iter_mut().enumerate() {
        // NaN flows land on pixel 0, as `max`/`min` return the other operand.
        let sx = (x as f32 + fx[x]).max(0.0).min(max_x);
        let sy = (y as f32 + fy[x]).max(0.0).min(max_y);
        let (x0, y0) = (sx.floor(), sy.floor());
        let (wx, wy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as usize, y0 as usize);
        let x1 = (x0 + 1).min(w - 1);
        let y1 = (y0 + 1).min(h - 1);
        let top = &src[y0 * w..(y0 + 1) * w];
        let bottom = &src[y1 * w..(y1 + 1) * w];
        let upper = top[x0] * (1.0 - wx) + top[x1] * wx;
        let lower = bottom[x0] * (1.0 - wx) + bottom[x1] * wx;
        *value = upper * (1.0 - wy) + lower * wy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (1, 2, 3, 4) input: channel 0 holds 10 y + x, channel 1 its negative.
    fn input() -> Tensor {
        let values: Vec<f32> = (0..2)
            .flat_map(|c| {
                (0..3).flat_map(move |y| {
                    (0..4).map(move |x| {
                        let v = (10 * y + x) as f32;
                        if c == 0 { v } else { -v }
                    })
                })
            })
            .collect();
        Tensor::from_vec(values, (1, 2, 3, 4), &Device::Cpu).unwrap()
    }

    fn constant_flow(fx: f32, fy: f32) -> Tensor {
        let values: Vec<f32> = [fx, fy].iter().flat_map(|&v| [v; 12]).collect();
        Tensor::from_vec(values, (1, 2, 3, 4), &Device::Cpu).unwrap()
    }

    fn channel0(t: &Tensor) -> Vec<Vec<f32>> {
        t.get(0).unwrap().get(0).unwrap().to_vec2().unwrap()
    }

    #[test]
    fn zero_flow_returns_the_input_exactly() {
        let x = input();
        let out = backward_warp(&x, &constant_flow(0.0, 0.0)).unwrap();
        assert_eq!(
            out.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }

    #[test]
    fn integer_shifts_move_pixels_and_clamp_at_the_border() {
        let out = backward_warp(&input(), &constant_flow(1.0, 0.0)).unwrap();
        assert_eq!(
            channel0(&out),
            [[1., 2., 3., 3.], [11., 12., 13., 13.], [21., 22., 23., 23.]]
        );
        let out = backward_warp(&input(), &constant_flow(0.0, -1.0)).unwrap();
        assert_eq!(
            channel0(&out),
            [[0., 1., 2., 3.], [0., 1., 2., 3.], [10., 11., 12., 13.]]
        );
        // Channel 1 follows the same flow.
        let ch1: Vec<Vec<f32>> = out.get(0).unwrap().get(1).unwrap().to_vec2().unwrap();
        assert_eq!(ch1[2], [-10., -11., -12., -13.]);
    }

    #[test]
    fn half_pixel_shifts_average_neighbours() {
        let out = backward_warp(&input(), &constant_flow(0.5, 0.5)).unwrap();
        // (v(y, x) + v(y, x+1) + v(y+1, x) + v(y+1, x+1)) / 4, clamped at the last row/column.
        assert_eq!(
            channel0(&out),
            [
                [5.5, 6.5, 7.5, 8.0],
                [15.5, 16.5, 17.5, 18.0],
                [20.5, 21.5, 22.5, 23.0]
            ]
        );
        let out = backward_warp(&input(), &constant_flow(-0.25, 0.0)).unwrap();
        // x = 0 clamps to 0; elsewhere 0.75 v(x) + 0.25 v(x-1).
        assert_eq!(channel0(&out)[1], [10.0, 10.75, 11.75, 12.75]);
    }

    #[test]
    fn far_flows_clamp_to_the_border() {
        let out = backward_warp(&input(), &constant_flow(-100.0, 100.0)).unwrap();
        assert_eq!(channel0(&out), [[20.; 4]; 3]);
        let out = backward_warp(&input(), &constant_flow(100.0, -100.0)).unwrap();
        assert_eq!(channel0(&out), [[3.; 4]; 3]);
    }

    #[test]
    fn each_pixel_uses_its_own_flow_and_batch() {
        // Batch of two: the second sample warps with the flow of the second batch entry.
        let x = Tensor::cat(&[input(), (input() * 2.0).unwrap()], 0).unwrap();
        let mut fx = vec![0f32; 12];
        fx[5] = 2.0; // (y 1, x 1) reads (1, 3)
        let flow_a =
            Tensor::from_vec([fx, vec![0f32; 12]].concat(), (1, 2, 3, 4), &Device::Cpu).unwrap();
        let flow = Tensor::cat(&[flow_a, constant_flow(0.0, 1.0)], 0).unwrap();
        let out = backward_warp(&x, &flow).unwrap();
        let first = channel0(&out);
        assert_eq!(first[1], [10., 13., 12., 13.]);
        let second: Vec<Vec<f32>> = out.get(1).unwrap().get(0).unwrap().to_vec2().unwrap();
        assert_eq!(second[0], [20., 22., 24., 26.]);
        assert_eq!(second[2], [40., 42., 44., 46.]);
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        let flow = Tensor::zeros((1, 2, 3, 5), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            backward_warp(&input(), &flow),
            Err(WarpError::Shape { .. })
        ));
    }
}
