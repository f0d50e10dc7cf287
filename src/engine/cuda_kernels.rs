//! CUDA kernels from `kernels/*.cu`, compiled at run time with NVRTC through cudarc. This code
//! builds in the default configuration (no CUDA toolkit needed) and runs only where a GPU driver
//! and libnvrtc exist; elsewhere [`GpuKernels::load`] says why it cannot, and callers use the
//! CPU implementation beside each kernel, which is also the kernel's test reference.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};

use super::device::cuda_driver_present;

/// Source of `kernels/rgba_to_yuv420.cu`.
pub const RGBA_TO_YUV420_SRC: &str = include_str!("../../kernels/rgba_to_yuv420.cu");

#[derive(Debug, thiserror::Error)]
pub enum CudaKernelError {
    #[error("no CUDA driver on this machine (libcuda.so.1 not found)")]
    NoDriver,
    #[error("NVRTC is not available or failed: {0}")]
    Nvrtc(String),
    #[error("CUDA driver error: {0}")]
    Driver(String),
    #[error(
        "frame {width}x{height}: width and height must be even and non-zero, with 4 bytes per pixel"
    )]
    BadFrame { width: usize, height: usize },
}

/// A frame in planar YUV 4:2:0: `y` is width*height, `u` and `v` a quarter each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yuv420 {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

fn check_frame(rgba: &[u8], width: usize, height: usize) -> Result<(), CudaKernelError> {
    if width == 0
        || height == 0
        || width % 2 == 1
        || height % 2 == 1
        || rgba.len() != width * height * 4
    {
        return Err(CudaKernelError::BadFrame { width, height });
    }
    Ok(())
}

/// RGBA to YUV 4:2:0 (BT.709, limited range) on the CPU; the same arithmetic as the kernel.
pub fn rgba_to_yuv420_cpu(
    rgba: &[u8],
    width: usize,
    height: usize,
) -> Result<Yuv420, CudaKernelError> {
    check_frame(rgba, width, height)?;
    let to_u8 = |v: f32| (v + 0.5).clamp(0.0, 255.0) as u8;
    let (cw, ch) = (width / 2, height / 2);
    let mut out = Yuv420 {
        width,
        height,
        y: vec![0; width * height],
        u: vec![0; cw * ch],
        v: vec![0; cw * ch],
    };
    for by in 0..ch {
        for bx in 0..cw {
            let (mut u_sum, mut v_sum) = (0.0f32, 0.0f32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (bx * 2 + dx, by * 2 + dy);
                let p = &rgba[4 * (y * width + x)..];
                let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
                out.y[y * width + x] = to_u8(16.0 + 0.18259 * r + 0.61423 * g + 0.06201 * b);
                u_sum += -0.10064 * r - 0.33857 * g + 0.43922 * b;
                v_sum += 0.43922 * r - 0.39894 * g - 0.04027 * b;
            }
            out.u[by * cw + bx] = to_u8(128.0 + u_sum * 0.25);
            out.v[by * cw + bx] = to_u8(128.0 + v_sum * 0.25);
        }
    }
    Ok(out)
}

/// The kernels, compiled and loaded on one GPU.
pub struct GpuKernels {
    stream: Arc<CudaStream>,
    rgba_to_yuv420: CudaFunction,
}

impl GpuKernels {
    /// Compiles the kernels with NVRTC and loads them on GPU `ordinal`.
    pub fn load(ordinal: usize) -> Result<Self, CudaKernelError> {
        if !cuda_driver_present() {
            return Err(CudaKernelError::NoDriver);
        }
        // cudarc panics when a library it needs cannot be loaded: turn that into an error.
        std::panic::catch_unwind(|| Self::load_unchecked(ordinal)).unwrap_or_else(|_| {
            Err(CudaKernelError::Nvrtc(
                "libnvrtc could not be loaded".into(),
            ))
        })
    }

    fn load_unchecked(ordinal: usize) -> Result<Self, CudaKernelError> {
        let ptx = cudarc::nvrtc::compile_ptx(RGBA_TO_YUV420_SRC)
            .map_err(|e| CudaKernelError::Nvrtc(e.to_string()))?;
        let ctx = CudaContext::new(ordinal).map_err(|e| CudaKernelError::Driver(e.to_string()))?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| CudaKernelError::Driver(e.to_string()))?;
        let rgba_to_yuv420 = module
            .load_function("rgba_to_yuv420")
            .map_err(|e| CudaKernelError::Driver(e.to_string()))?;
        Ok(Self {
            stream: ctx.default_stream(),
            rgba_to_yuv420,
        })
    }

    /// RGBA to YUV 4:2:0 on the GPU.
    pub fn rgba_to_yuv420(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Yuv420, CudaKernelError> {
        check_frame(rgba, width, height)?;
        let driver = |e: cudarc::driver::DriverError| CudaKernelError::Driver(e.to_string());
        let (cw, ch) = (width / 2, height / 2);
        let input = self.stream.clone_htod(rgba).map_err(driver)?;
        let mut y = self
            .stream
            .alloc_zeros::<u8>(width * height)
            .map_err(driver)?;
        let mut u = self.stream.alloc_zeros::<u8>(cw * ch).map_err(driver)?;
        let mut v = self.stream.alloc_zeros::<u8>(cw * ch).map_err(driver)?;
        let (w, h) = (width as i32, height as i32);
        let config = LaunchConfig {
            grid_dim: ((cw as u32).div_ceil(16), (ch as u32).div_ceil(16), 1),
            block_dim: (16, 16, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = self.stream.launch_builder(&self.rgba_to_yuv420);
        launch
            .arg(&input)
            .arg(&mut y)
            .arg(&mut u)
            .arg(&mut v)
            .arg(&w)
            .arg(&h);
        // SAFETY: the argument list matches the kernel's signature, the buffers hold
        // width*height and (width/2)*(height/2) bytes as the kernel indexes them, and the grid
        // covers exactly the chroma blocks (the kernel bounds-checks the rest).
        unsafe { launch.launch(config) }.map_err(driver)?;
        Ok(Yuv420 {
            width,
            height,
            y: self.stream.clone_dtoh(&y).map_err(driver)?,
            u: self.stream.clone_dtoh(&u).map_err(driver)?,
            v: self.stream.clone_dtoh(&v).map_err(driver)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: usize, height: usize) -> Vec<u8> {
        (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                [
                    (x * 7 % 256) as u8,
                    (y * 13 % 256) as u8,
                    ((x + y) * 5 % 256) as u8,
                    255,
                ]
            })
            .collect()
    }

    #[test]
    fn cpu_conversion_matches_bt709_limited_range() {
        let white = vec![255u8; 2 * 2 * 4];
        let out = rgba_to_yuv420_cpu(&white, 2, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.y[0], out.u[0], out.v[0]), (235, 128, 128));
        let black: Vec<u8> = [0, 0, 0, 255].repeat(4);
        let out = rgba_to_yuv420_cpu(&black, 2, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.y[0], out.u[0], out.v[0]), (16, 128, 128));
        // Pure red: Y = 16 + 0.18259*255, Cb = 128 - 0.10064*255, Cr = 128 + 0.43922*255 (clamped).
        let red: Vec<u8> = [255, 0, 0, 255].repeat(4);
        let out = rgba_to_yuv420_cpu(&red, 2, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.y[0], out.u[0], out.v[0]), (63, 102, 240));
    }

    #[test]
    fn rejects_odd_sizes() {
        assert!(rgba_to_yuv420_cpu(&frame(3, 2), 3, 2).is_err());
        assert!(rgba_to_yuv420_cpu(&frame(2, 2)[..8], 2, 2).is_err());
    }

    #[test]
    fn gpu_kernel_matches_cpu() {
        let kernels = match GpuKernels::load(0) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("skipping gpu_kernel_matches_cpu: {e}");
                return;
            }
        };
        let (w, h) = (64, 48);
        let rgba = frame(w, h);
        let gpu = kernels
            .rgba_to_yuv420(&rgba, w, h)
            .unwrap_or_else(|e| panic!("{e}"));
        let cpu = rgba_to_yuv420_cpu(&rgba, w, h).unwrap_or_else(|e| panic!("{e}"));
        for (plane, (a, b)) in [
            ("y", (&gpu.y, &cpu.y)),
            ("u", (&gpu.u, &cpu.u)),
            ("v", (&gpu.v, &cpu.v)),
        ] {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| x.abs_diff(*y))
                .max()
                .unwrap_or(0);
            assert!(worst <= 1, "plane {plane} differs by {worst}");
        }
    }
}
