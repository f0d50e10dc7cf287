//! Quantized matrix products for the text engine, written for batches.
//!
//! A step of the engine multiplies the activations of every sequence in the batch (B rows of K
//! values) by each weight matrix (N rows of K). candle's quantized matmul has no SIMD kernel for
//! Q4_1 and gains nothing from batching; here each weight row is decoded once per step and
//! applied to every sequence while it sits in registers and L1, so a batch reads each weight
//! from memory once. Activations are quantized to 8 bits per 32-value block (scale and block
//! sum), as llama.cpp's Q8_1, so that the inner loop is integer multiply-adds (AVX2
//! `maddubs`/`madd`). Every (row, sequence) dot product runs the same instructions in the same
//! order whatever the batch size or the sequence's place in it: results do not depend on
//! batching, bit for bit.
//!
//! Layouts follow GGML: Q4_1 blocks are `f16 d, f16 m, 16 bytes of nibbles` (value = d*q + m;
//! low nibbles are elements 0..16, high nibbles 16..32), Q8_0 blocks `f16 d, 32 x i8`.

use half::f16;
use rayon::prelude::*;

/// Values per quantization block.
pub const QK: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "weights of type {0} are not supported by the text engine (Q4_1, Q8_0, F16 and F32 are)"
    )]
    Unsupported(String),
    #[error("{rows}x{cols} matrix: {got} bytes of data, expected {expected}")]
    Size {
        rows: usize,
        cols: usize,
        got: usize,
        expected: usize,
    },
    #[error("{cols} columns is not a multiple of the block size {QK}")]
    Columns { cols: usize },
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BlockQ4_1 {
    pub d: f16,
    pub m: f16,
    pub qs: [u8; QK / 2],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BlockQ8_0 {
    pub d: f16,
    pub qs: [i8; QK],
}

/// One block of quantized activations: scale, the block's sum (`d * sum(qs)`), and the values.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockQ8A {
    pub d: f32,
    pub s: f32,
    pub qs: [i8; QK],
}

/// The stored weights of a matrix.
#[derive(Debug, Clone)]
pub enum Weights {
    Q4_1(Vec<BlockQ4_1>),
    Q8_0(Vec<BlockQ8_0>),
    F32(Vec<f32>),
}

/// Which GGML type a raw tensor holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawType {
    F32,
    F16,
    Q4_1,
    Q8_0,
}

/// A weight matrix of `rows` x `cols` (`cols` is the reduction dimension).
#[derive(Debug, Clone)]
pub struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    weights: Weights,
}

fn read_blocks<T: Copy, const SIZE: usize>(
    bytes: &[u8],
    parse: impl Fn(&[u8; SIZE]) -> T,
) -> Vec<T> {
    bytes
        .chunks_exact(SIZE)
        .map(|chunk| {
            let mut array = [0u8; SIZE];
            array.copy_from_slice(chunk);
            parse(&array)
        })
        .collect()
}

impl QMatrix {
    /// Builds a matrix from GGML bytes (row-major, `rows` rows of `cols` values).
    pub fn from_raw(
        kind: RawType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
    ) -> Result<Self, KernelError> {
        let expected = match kind {
            RawType::F32 => rows * cols * 4,
            RawType::F16 => rows * cols * 2,
            RawType::Q4_1 | RawType::Q8_0 if !cols.is_multiple_of(QK) => {
                return Err(KernelError::Columns { cols });
            }
            RawType::Q4_1 => rows * cols / QK * 20,
            RawType::Q8_0 => rows * cols / QK * 34,
        };
        if bytes.len() != expected {
            return Err(KernelError::Size {
                rows,
                cols,
                got: bytes.len(),
                expected,
            });
        }
        let half = |b: [u8; 2]| f16::from_bits(u16::from_le_bytes(b));
        let weights = match kind {
            RawType::F32 => Weights::F32(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            RawType::F16 => Weights::F32(
                bytes
                    .chunks_exact(2)
                    .map(|c| half([c[0], c[1]]).to_f32())
                    .collect(),
            ),
            RawType::Q4_1 => Weights::Q4_1(read_blocks::<_, 20>(bytes, |b| {
                let mut qs = [0u8; 16];
                qs.copy_from_slice(&b[4..20]);
                BlockQ4_1 {
                    d: half([b[0], b[1]]),
                    m: half([b[2], b[3]]),
                    qs,
                }
            })),
            RawType::Q8_0 => Weights::Q8_0(read_blocks::<_, 34>(bytes, |b| {
                let mut qs = [0i8; 32];
                for (q, byte) in qs.iter_mut().zip(&b[2..34]) {
                    *q = *byte as i8;
                }
                BlockQ8_0 {
                    d: half([b[0], b[1]]),
                    qs,
                }
            })),
        };
        Ok(Self {
            rows,
            cols,
            weights,
        })
    }

    pub fn from_f32(rows: usize, cols: usize, values: Vec<f32>) -> Self {
        assert_eq!(values.len(), rows * cols, "matrix shape");
        Self {
            rows,
            cols,
            weights: Weights::F32(values),
        }
    }

    /// Encodes f32 values as Q8_0 blocks (per block of 32: scale = max |v| / 127).
    pub fn q8_0_from_f32(rows: usize, cols: usize, values: &[f32]) -> Result<Self, KernelError> {
        if !cols.is_multiple_of(QK) {
            return Err(KernelError::Columns { cols });
        }
        if values.len() != rows * cols {
            return Err(KernelError::Size {
                rows,
                cols,
                got: values.len() * 4,
                expected: rows * cols * 4,
            });
        }
        let blocks = values
            .chunks_exact(QK)
            .map(|chunk| {
                let amax = chunk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
                let mut qs = [0i8; QK];
                for (q, v) in qs.iter_mut().zip(chunk) {
                    *q = (v * inv).round() as i8;
                }
                BlockQ8_0 {
                    d: f16::from_f32(d),
                    qs,
                }
            })
            .collect();
        Ok(Self {
            rows,
            cols,
            weights: Weights::Q8_0(blocks),
        })
    }

    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Stacks matrices with the same column count and storage type into one (their rows in
    /// order), so that one product computes them all. `None` when they cannot be stacked.
    pub fn stack(parts: &[QMatrix]) -> Option<QMatrix> {
        let first = parts.first()?;
        if parts.iter().any(|p| p.cols != first.cols) {
            return None;
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        let weights = match &first.weights {
            Weights::Q4_1(_) => Weights::Q4_1(
                parts
                    .iter()
                    .map(|p| match &p.weights {
                        Weights::Q4_1(w) => Some(w.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            ),
            Weights::Q8_0(_) => Weights::Q8_0(
                parts
                    .iter()
                    .map(|p| match &p.weights {
                        Weights::Q8_0(w) => Some(w.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            ),
            Weights::F32(_) => Weights::F32(
                parts
                    .iter()
                    .map(|p| match &p.weights {
                        Weights::F32(w) => Some(w.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            ),
        };
        Some(QMatrix {
            rows,
            cols: first.cols,
            weights,
        })
    }

    /// Row `row` as f32 (embedding lookups).
    pub fn row_f32(&self, row: usize, out: &mut [f32]) {
        let nb = self.cols / QK;
        match &self.weights {
            Weights::F32(w) => out.copy_from_slice(&w[row * self.cols..(row + 1) * self.cols]),
            Weights::Q4_1(w) => {
                for (block, chunk) in w[row * nb..(row + 1) * nb]
                    .iter()
                    .zip(out.chunks_exact_mut(QK))
                {
                    let (d, m) = (block.d.to_f32(), block.m.to_f32());
                    for (j, q) in block.qs.iter().enumerate() {
                        chunk[j] = d * f32::from(q & 0x0F) + m;
                        chunk[j + QK / 2] = d * f32::from(q >> 4) + m;
                    }
                }
            }
            Weights::Q8_0(w) => {
                for (block, chunk) in w[row * nb..(row + 1) * nb]
                    .iter()
                    .zip(out.chunks_exact_mut(QK))
                {
                    let d = block.d.to_f32();
                    for (v, q) in chunk.iter_mut().zip(&block.qs) {
                        *v = d * f32::from(*q);
                    }
                }
            }
        }
    }

    /// `out[b * rows + r] = dot(x[b], row r)` for every sequence b of the batch.
    pub fn matmul(&self, x: &Activations, out: &mut [f32], scratch: &mut Vec<f32>) {
        assert_eq!(x.cols, self.cols, "activation width");
        let batch = x.batch;
        assert!(out.len() >= batch * self.rows, "output buffer");
        // Computed row-major by weight row (each task owns a contiguous slice), then transposed.
        scratch.clear();
        scratch.resize(self.rows * batch, 0.0);
        let rows_per_task = (self.rows / (rayon::current_num_threads() * 4)).clamp(8, 256);
        let nb = self.cols / QK;
        scratch
            .par_chunks_mut(rows_per_task * batch)
            .enumerate()
            .for_each(|(task, chunk)| {
                let first = task * rows_per_task;
                let count = chunk.len() / batch;
                match &self.weights {
                    Weights::Q4_1(w) => q4_1_rows(
                        &w[first * nb..(first + count) * nb],
                        &x.q8,
                        nb,
                        batch,
                        chunk,
                    ),
                    Weights::Q8_0(w) => q8_0_rows(
                        &w[first * nb..(first + count) * nb],
                        &x.q8,
                        nb,
                        batch,
                        chunk,
                    ),
                    Weights::F32(w) => f32_rows(
                        &w[first * self.cols..(first + count) * self.cols],
                        &x.f32,
                        self.cols,
                        batch,
                        chunk,
                    ),
                }
            });
        for (r, values) in scratch.chunks_exact(batch).enumerate() {
            for (b, v) in values.iter().enumerate() {
                out[b * self.rows + r] = *v;
            }
        }
    }
}

/// Activations of a batch, kept as f32 and as 8-bit blocks; buffers are reused across steps.
#[derive(Debug, Default)]
pub struct Activations {
    pub batch: usize,
    pub cols: usize,
    pub f32: Vec<f32>,
    pub q8: Vec<BlockQ8A>,
}

impl Activations {
    /// Loads `x` (batch x cols, row-major) and quantizes it.
    pub fn set(&mut self, x: &[f32], batch: usize, cols: usize) {
        assert_eq!(x.len(), batch * cols);
        assert!(
            cols.is_multiple_of(QK),
            "activation width must be a multiple of 32"
        );
        self.batch = batch;
        self.cols = cols;
        self.f32.clear();
        self.f32.extend_from_slice(x);
        self.q8.clear();
        self.q8.extend(x.chunks_exact(QK).map(quantize_block));
    }
}

fn quantize_block(values: &[f32]) -> BlockQ8A {
    let amax = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    let mut block = BlockQ8A {
        d,
        s: 0.0,
        qs: [0; QK],
    };
    let mut sum = 0i32;
    for (q, v) in block.qs.iter_mut().zip(values) {
        *q = (v * inv).round() as i8;
        sum += i32::from(*q);
    }
    block.s = d * sum as f32;
    block
}

fn q4_1_rows(w: &[BlockQ4_1], x: &[BlockQ8A], nb: usize, batch: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2::q4_1_rows(w, x, nb, batch, out) };
        return;
    }
    for (r, row) in w.chunks_exact(nb).enumerate() {
        for b in 0..batch {
            let xs = &x[b * nb..(b + 1) * nb];
            out[r * batch + b] = row
                .iter()
                .zip(xs)
                .map(|(wb, xb)| q4_1_dot_scalar(wb, xb))
                .sum();
        }
    }
}

fn q8_0_rows(w: &[BlockQ8_0], x: &[BlockQ8A], nb: usize, batch: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2::q8_0_rows(w, x, nb, batch, out) };
        return;
    }
    for (r, row) in w.chunks_exact(nb).enumerate() {
        for b in 0..batch {
            let xs = &x[b * nb..(b + 1) * nb];
            out[r * batch + b] = row
                .iter()
                .zip(xs)
                .map(|(wb, xb)| q8_0_dot_scalar(wb, xb))
                .sum();
        }
    }
}

fn f32_rows(w: &[f32], x: &[f32], cols: usize, batch: usize, out: &mut [f32]) {
    for (r, row) in w.chunks_exact(cols).enumerate() {
        for b in 0..batch {
            let xs = &x[b * cols..(b + 1) * cols];
            out[r * batch + b] = row.iter().zip(xs).map(|(a, c)| a * c).sum();
        }
    }
}

/// Reference dot product of a Q4_1 block with an activation block (the scalar fallback).
pub fn q4_1_dot_scalar(w: &BlockQ4_1, x: &BlockQ8A) -> f32 {
    let mut sum = 0i32;
    for j in 0..QK / 2 {
        sum += i32::from(w.qs[j] & 0x0F) * i32::from(x.qs[j]);
        sum += i32::from(w.qs[j] >> 4) * i32::from(x.qs[j + QK / 2]);
    }
    w.d.to_f32() * x.d * sum as f32 + w.m.to_f32() * x.s
}

pub fn q8_0_dot_scalar(w: &BlockQ8_0, x: &BlockQ8A) -> f32 {
    let sum: i32 =
        w.qs.iter()
            .zip(&x.qs)
            .map(|(a, b)| i32::from(*a) * i32::from(*b))
            .sum();
    w.d.to_f32() * x.d * sum as f32
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{BlockQ4_1, BlockQ8_0, BlockQ8A};

    /// Sequences processed together per weight row: 4 accumulators stay in registers.
    const LANES: usize = 4;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_q8(x: &BlockQ8A) -> __m256i {
        // SAFETY: `qs` is 32 readable bytes; unaligned loads are allowed.
        unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) }
    }

    /// The 32 nibbles of a Q4_1 block as bytes 0..16 in element order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn unpack_q4(w: &BlockQ4_1) -> __m256i {
        // SAFETY: `qs` is 16 readable bytes.
        let bytes = unsafe { _mm_loadu_si128(w.qs.as_ptr().cast()) };
        let mask = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(bytes, mask);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(bytes), mask);
        _mm256_set_m128i(hi, lo)
    }

    /// `out[r * batch + b]` for every row of `w` and every sequence of `x`, `LANES` sequences at
    /// a time (then the remainder) through `$lanes::<L>`: each weight block is unpacked once per
    /// group of lanes, whose accumulators stay in registers.
    macro_rules! rows_by_lane_groups {
        ($lanes:ident, $w:expr, $x:expr, $nb:expr, $batch:expr, $out:expr) => {
            for (r, row) in $w.chunks_exact($nb).enumerate() {
                let out_row = &mut $out[r * $batch..(r + 1) * $batch];
                let mut b0 = 0;
                while $batch - b0 >= LANES {
                    // SAFETY: AVX2 and FMA are enabled for the caller; the slice holds LANES.
                    unsafe { $lanes::<LANES>(row, $x, $nb, b0, &mut out_row[b0..b0 + LANES]) };
                    b0 += LANES;
                }
                match $batch - b0 {
                    // SAFETY: as above; the slice holds the remaining 3 sequences.
                    3 => unsafe { $lanes::<3>(row, $x, $nb, b0, &mut out_row[b0..]) },
                    // SAFETY: as above; the slice holds the remaining 2 sequences.
                    2 => unsafe { $lanes::<2>(row, $x, $nb, b0, &mut out_row[b0..]) },
                    // SAFETY: as above; the slice holds the remaining sequence.
                    1 => unsafe { $lanes::<1>(row, $x, $nb, b0, &mut out_row[b0..]) },
                    _ => {}
                }
            }
        };
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q4_1_rows(
        w: &[BlockQ4_1],
        x: &[BlockQ8A],
        nb: usize,
        batch: usize,
        out: &mut [f32],
    ) {
        rows_by_lane_groups!(q4_1_lanes, w, x, nb, batch, out);
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn q4_1_lanes<const L: usize>(
        row: &[BlockQ4_1],
        x: &[BlockQ8A],
        nb: usize,
        b0: usize,
        out: &mut [f32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let xs: [&[BlockQ8A]; L] =
            std::array::from_fn(|lane| &x[(b0 + lane) * nb..(b0 + lane + 1) * nb]);
        let mut acc = [_mm256_setzero_ps(); L];
        let mut msum = [0.0f32; L];
        for (k, block) in row.iter().enumerate() {
            // SAFETY: reads within `block`.
            let wq = unsafe { unpack_q4(block) };
            let (dw, mw) = (block.d.to_f32(), block.m.to_f32());
            for lane in 0..L {
                let xb = &xs[lane][k];
                // SAFETY: reads within `xb`.
                let xq = unsafe { load_q8(xb) };
                let products = _mm256_madd_epi16(_mm256_maddubs_epi16(wq, xq), ones);
                acc[lane] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(products),
                    _mm256_set1_ps(dw * xb.d),
                    acc[lane],
                );
                msum[lane] += mw * xb.s;
            }
        }
        for lane in 0..L {
            out[lane] = hsum(acc[lane]) + msum[lane];
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q8_0_rows(
        w: &[BlockQ8_0],
        x: &[BlockQ8A],
        nb: usize,
        batch: usize,
        out: &mut [f32],
    ) {
        rows_by_lane_groups!(q8_0_lanes, w, x, nb, batch, out);
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn q8_0_lanes<const L: usize>(
        row: &[BlockQ8_0],
        x: &[BlockQ8A],
        nb: usize,
        b0: usize,
        out: &mut [f32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let xs: [&[BlockQ8A]; L] =
            std::array::from_fn(|lane| &x[(b0 + lane) * nb..(b0 + lane + 1) * nb]);
        let mut acc = [_mm256_setzero_ps(); L];
        for (k, block) in row.iter().enumerate() {
            // SAFETY: `qs` is 32 readable bytes.
            let wq = unsafe { _mm256_loadu_si256(block.qs.as_ptr().cast()) };
            let w_abs = _mm256_sign_epi8(wq, wq);
            let dw = block.d.to_f32();
            for lane in 0..L {
                let xb = &xs[lane][k];
                // SAFETY: reads within `xb`.
                let xq = unsafe { load_q8(xb) };
                let x_signed = _mm256_sign_epi8(xq, wq);
                let products = _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, x_signed), ones);
                acc[lane] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(products),
                    _mm256_set1_ps(dw * xb.d),
                    acc[lane],
                );
            }
        }
        for lane in 0..L {
            out[lane] = hsum(acc[lane]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn q4_1_matrix(rows: usize, cols: usize, seed: &mut u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..rows * cols / QK {
            bytes.extend(
                f16::from_f32(0.05 + 0.02 * lcg(seed))
                    .to_bits()
                    .to_le_bytes(),
            );
            bytes.extend(
                f16::from_f32(-0.3 * lcg(seed).abs())
                    .to_bits()
                    .to_le_bytes(),
            );
            bytes.extend((0..16).map(|_| ((lcg(seed) + 1.0) * 127.9) as u8));
        }
        bytes
    }

    fn q8_0_matrix(rows: usize, cols: usize, seed: &mut u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..rows * cols / QK {
            bytes.extend(
                f16::from_f32(0.01 + 0.005 * lcg(seed))
                    .to_bits()
                    .to_le_bytes(),
            );
            bytes.extend((0..32).map(|_| ((lcg(seed) * 127.0) as i8) as u8));
        }
        bytes
    }

    /// Dense f32 reference: dequantized weights times unquantized activations.
    fn reference(m: &QMatrix, x: &[f32], batch: usize) -> Vec<f32> {
        let mut out = vec![0.0; batch * m.rows];
        let mut row = vec![0.0; m.cols];
        for r in 0..m.rows {
            m.row_f32(r, &mut row);
            for b in 0..batch {
                out[b * m.rows + r] = row
                    .iter()
                    .zip(&x[b * m.cols..(b + 1) * m.cols])
                    .map(|(a, c)| a * c)
                    .sum();
            }
        }
        out
    }

    fn check(kind: RawType, bytes: Vec<u8>, rows: usize, cols: usize, seed: &mut u64) {
        let m = QMatrix::from_raw(kind, rows, cols, &bytes).unwrap();
        let batch = 7;
        let x: Vec<f32> = (0..batch * cols).map(|_| lcg(seed)).collect();
        let mut acts = Activations::default();
        acts.set(&x, batch, cols);
        let mut out = vec![0.0; batch * rows];
        let mut scratch = Vec::new();
        m.matmul(&acts, &mut out, &mut scratch);
        let want = reference(&m, &x, batch);
        let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        for (got, want) in out.iter().zip(&want) {
            // 8-bit activations: errors of a fraction of a percent of the largest output.
            assert!(
                (got - want).abs() <= 0.01 * scale,
                "{got} vs {want} (scale {scale})"
            );
        }
        // The same sequence alone, or anywhere in another batch, gives the same bits.
        for b in 0..batch {
            let mut single = Activations::default();
            single.set(&x[b * cols..(b + 1) * cols], 1, cols);
            let mut alone = vec![0.0; rows];
            m.matmul(&single, &mut alone, &mut scratch);
            assert_eq!(
                alone,
                out[b * rows..(b + 1) * rows].to_vec(),
                "sequence {b}"
            );
        }
    }

    #[test]
    fn q4_1_products_match_the_dense_reference_and_ignore_batching() {
        let mut seed = 1;
        let bytes = q4_1_matrix(70, 96, &mut seed);
        check(RawType::Q4_1, bytes, 70, 96, &mut seed);
    }

    #[test]
    fn q8_0_products_match_the_dense_reference_and_ignore_batching() {
        let mut seed = 2;
        let bytes = q8_0_matrix(45, 64, &mut seed);
        check(RawType::Q8_0, bytes, 45, 64, &mut seed);
    }

    #[test]
    fn simd_and_scalar_dots_agree() {
        let mut seed = 3;
        let w = QMatrix::from_raw(RawType::Q4_1, 1, 32, &q4_1_matrix(1, 32, &mut seed)).unwrap();
        let x: Vec<f32> = (0..32).map(|_| lcg(&mut seed)).collect();
        let mut acts = Activations::default();
        acts.set(&x, 1, 32);
        let mut out = vec![0.0; 1];
        w.matmul(&acts, &mut out, &mut Vec::new());
        let Weights::Q4_1(blocks) = w.weights() else {
            panic!("q4_1")
        };
        let scalar = q4_1_dot_scalar(&blocks[0], &acts.q8[0]);
        assert!(
            (out[0] - scalar).abs() <= 1e-5 * scalar.abs().max(1.0),
            "{} vs {scalar}",
            out[0]
        );
    }

    #[test]
    fn stacking_concatenates_rows() {
        let mut seed = 4;
        let a = QMatrix::from_raw(RawType::Q4_1, 3, 32, &q4_1_matrix(3, 32, &mut seed)).unwrap();
        let b = QMatrix::from_raw(RawType::Q4_1, 2, 32, &q4_1_matrix(2, 32, &mut seed)).unwrap();
        let both = QMatrix::stack(&[a.clone(), b.clone()]).unwrap();
        assert_eq!((both.rows, both.cols), (5, 32));
        let (mut r1, mut r2) = (vec![0.0; 32], vec![0.0; 32]);
        both.row_f32(3, &mut r1);
        b.row_f32(0, &mut r2);
        assert_eq!(r1, r2);
        let f = QMatrix::from_f32(1, 32, vec![0.0; 32]);
        assert!(QMatrix::stack(&[a, f]).is_none());
    }
}
