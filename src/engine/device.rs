//! Choosing the device models run on. The default build computes on the CPU (with the SIMD
//! features it was compiled for) and still detects a GPU at run time through cudarc, for the
//! NVRTC kernels and for `/ready`; `--features cuda` adds candle's CUDA backend so models can run
//! on it. cudarc panics when libcuda is absent, so the library is probed before cudarc is called.

use std::str::FromStr;

use serde::Serialize;

/// The device asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePreference {
    /// CUDA when compiled in and a GPU is present, otherwise the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DevicePreference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("device {other:?}: expected auto, cpu, cuda or cuda:N")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device cuda:{0} was requested but {1}")]
    CudaUnavailable(usize, String),
}

/// A GPU seen through the CUDA driver.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpuInfo {
    pub ordinal: usize,
    pub name: String,
    pub memory_bytes: u64,
}

/// The device in use, as `/ready` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// `cpu` or `cuda:N`: where model weights live.
    pub compute: String,
    /// SIMD features the CPU kernels were compiled with.
    pub cpu_features: Vec<&'static str>,
    pub cpu_threads: usize,
    /// GPUs the driver reports (empty when there is no driver).
    pub gpus: Vec<GpuInfo>,
    /// Whether this binary was built with candle's CUDA backend.
    pub cuda_compiled: bool,
    /// Why a present GPU is not used, if it is not.
    pub note: Option<String>,
}

/// SIMD features enabled at compile time (candle picks its kernels by these).
pub fn compiled_cpu_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(target_feature = "avx") {
        features.push("avx");
    }
    if cfg!(target_feature = "avx2") {
        features.push("avx2");
    }
    if cfg!(target_feature = "fma") {
        features.push("fma");
    }
    if cfg!(target_feature = "f16c") {
        features.push("f16c");
    }
    if cfg!(target_feature = "avx512f") {
        features.push("avx512f");
    }
    if cfg!(target_feature = "neon") {
        features.push("neon");
    }
    features
}

/// True when the CUDA driver library can be loaded on this machine.
pub fn cuda_driver_present() -> bool {
    ["libcuda.so.1", "libcuda.so"].iter().any(|name| {
        // SAFETY: loading the NVIDIA driver library runs its initialisers, which have no
        // preconditions; the handle is dropped at once.
        unsafe { libloading::Library::new(name) }.is_ok()
    })
}

/// GPUs the driver reports; empty without a driver or when the driver fails.
pub fn list_gpus() -> Vec<GpuInfo> {
    if !cuda_driver_present() {
        return Vec::new();
    }
    let probe = std::panic::catch_unwind(|| {
        let count = cudarc::driver::CudaContext::device_count()
            .unwrap_or(0)
            .max(0) as usize;
        (0..count)
            .filter_map(|ordinal| {
                let ctx = cudarc::driver::CudaContext::new(ordinal).ok()?;
                Some(GpuInfo {
                    ordinal,
                    name: ctx.name().unwrap_or_else(|_| "unknown".into()),
                    memory_bytes: ctx.total_mem().unwrap_or(0) as u64,
                })
            })
            .collect::<Vec<_>>()
    });
    probe.unwrap_or_default()
}

/// Resolves the preference against what this machine and this build have.
pub fn select(preference: DevicePreference) -> Result<DeviceInfo, DeviceError> {
    let gpus = list_gpus();
    let cuda_compiled = cfg!(feature = "cuda");
    let mut info = DeviceInfo {
        compute: "cpu".into(),
        cpu_features: compiled_cpu_features(),
        cpu_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        gpus,
        cuda_compiled,
        note: None,
    };
    let wanted = match preference {
        DevicePreference::Cpu => None,
        DevicePreference::Auto => (!info.gpus.is_empty() && cuda_compiled).then_some(0),
        DevicePreference::Cuda(n) => Some(n),
    };
    match wanted {
        Some(n) if !cuda_compiled => {
            return Err(DeviceError::CudaUnavailable(
                n,
                "this binary was built without the `cuda` feature (see Dockerfile.cuda)".into(),
            ));
        }
        Some(n) if !info.gpus.iter().any(|g| g.ordinal == n) => {
            return Err(DeviceError::CudaUnavailable(
                n,
                format!("the CUDA driver reports {} GPU(s)", info.gpus.len()),
            ));
        }
        Some(n) => info.compute = format!("cuda:{n}"),
        None => {}
    }
    if info.compute == "cpu" && !info.gpus.is_empty() && !cuda_compiled {
        info.note = Some(
            "a GPU is present but models run on the CPU: build with --features cuda to use it"
                .into(),
        );
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_preferences() {
        assert_eq!("auto".parse(), Ok(DevicePreference::Auto));
        assert_eq!("cpu".parse(), Ok(DevicePreference::Cpu));
        assert_eq!("cuda".parse(), Ok(DevicePreference::Cuda(0)));
        assert_eq!("cuda:2".parse(), Ok(DevicePreference::Cuda(2)));
        assert!("gpu".parse::<DevicePreference>().is_err());
    }

    #[test]
    fn cpu_is_always_available_and_reports_simd() {
        let info = select(DevicePreference::Cpu).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.compute, "cpu");
        assert!(info.cpu_threads >= 1);
        #[cfg(target_arch = "x86_64")]
        assert!(
            info.cpu_features.contains(&"avx2"),
            "build without AVX2: see .cargo/config.toml"
        );
    }
}
