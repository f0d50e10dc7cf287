//! Ridge regression as the marketing-mix model fits it (Robyn fits glmnet with alpha = 0):
//! columns standardised, the intercept unpenalised, media coefficients held at zero or above
//! (glmnet's `lower.limits = 0`), and the penalty chosen by blocked cross-validation over a
//! log-spaced grid. Solved by Cholesky (nalgebra) with an active set for the bounds.

use nalgebra::{DMatrix, DVector};

/// A fitted ridge: coefficients on the original scale of the columns.
#[derive(Debug, Clone)]
pub struct RidgeFit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    /// The penalty on the standardised problem (response scaled to unit variance).
    pub lambda: f64,
}

/// The penalty grid: 10^-4 .. 10^1 in 16 steps, on the standardised problem where every
/// column's Gram diagonal is 1.
pub fn lambda_grid() -> Vec<f64> {
    (0..16)
        .map(|i| 10f64.powf(-4.0 + 5.0 * i as f64 / 15.0))
        .collect()
}

/// Columns standardised once; fits reuse it for every fold and penalty.
pub struct Design {
    /// n x p, standardised columns (constant columns left at zero).
    z: DMatrix<f64>,
    y: DVector<f64>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    y_mean: f64,
    y_scale: f64,
    /// Which columns must stay at zero or above.
    nonnegative: Vec<bool>,
}

impl Design {
    pub fn new(columns: &[Vec<f64>], y: &[f64], nonnegative: Vec<bool>) -> Self {
        let n = y.len();
        let p = columns.len();
        let mut mean = Vec::with_capacity(p);
        let mut scale = Vec::with_capacity(p);
        let mut z = DMatrix::zeros(n, p);
        for (j, column) in columns.iter().enumerate() {
            let (m, s) = mean_sd(column);
            mean.push(m);
            scale.push(s);
            if s > 0.0 {
                for (i, v) in column.iter().enumerate() {
                    z[(i, j)] = (v - m) / s;
                }
            }
        }
        let (y_mean, y_scale) = mean_sd(y);
        let y_scale = if y_scale > 0.0 { y_scale } else { 1.0 };
        let y = DVector::from_iterator(n, y.iter().map(|v| (v - y_mean) / y_scale));
        Self {
            z,
            y,
            mean,
            scale,
            y_mean,
            y_scale,
            nonnegative,
        }
    }

    /// The penalty with the lowest mean squared error over `folds` contiguous blocks of rows
    /// (time-series data: a block is held out whole), then the fit on all rows.
    pub fn fit_cv(&self, folds: usize) -> RidgeFit {
        let n = self.y.len();
        let folds = folds.clamp(2, n / 2);
        let grid = lambda_grid();
        let mut errors = vec![0.0; grid.len()];
        let bounds = |fold: usize| (fold * n / folds, (fold + 1) * n / folds);
        let blocks: Vec<Sums> = (0..folds)
            .map(|fold| {
                let (lo, hi) = bounds(fold);
                self.sums(lo, hi)
            })
            .collect();
        let all = blocks
            .iter()
            .fold(Sums::zero(self.z.ncols()), |a, b| a.plus(b, 1.0));
        for (fold, block) in blocks.iter().enumerate() {
            let (gram, rhs, z_mean, y_mean) = all.plus(block, -1.0).centred();
            let (lo, hi) = bounds(fold);
            for (error, &lambda) in errors.iter_mut().zip(&grid) {
                let beta = self.solve(&gram, &rhs, lambda);
                let intercept = y_mean - dot(&z_mean, &beta);
                for i in lo..hi {
                    let predicted = intercept + self.row_dot(i, &beta);
                    *error += (self.y[i] - predicted).powi(2);
                }
            }
        }
        let best = errors
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        self.fit(grid[best])
    }

    /// The fit on all rows at one penalty.
    pub fn fit(&self, lambda: f64) -> RidgeFit {
        let (gram, rhs, z_mean, y_mean) = self.sums(0, self.y.len()).centred();
        let beta = self.solve(&gram, &rhs, lambda);
        let intercept_z = y_mean - dot(&z_mean, &beta);
        // Back to the original scale: y = y_mean + y_scale (b0 + sum beta_j (x_j - m_j) / s_j).
        let coefficients: Vec<f64> = beta
            .iter()
            .zip(&self.scale)
            .map(|(b, s)| if *s > 0.0 { b * self.y_scale / s } else { 0.0 })
            .collect();
        let intercept = self.y_mean + self.y_scale * intercept_z
            - coefficients
                .iter()
                .zip(&self.mean)
                .map(|(c, m)| c * m)
                .sum::<f64>();
        RidgeFit {
            intercept,
            coefficients,
            lambda,
        }
    }

    fn row_dot(&self, i: usize, beta: &[f64]) -> f64 {
        beta.iter()
            .enumerate()
            .map(|(j, b)| self.z[(i, j)] * b)
            .sum()
    }

    /// Raw sums over rows lo..hi, from which any union of blocks gets its normal equations.
    fn sums(&self, lo: usize, hi: usize) -> Sums {
        let p = self.z.ncols();
        let mut sums = Sums::zero(p);
        let mut row = vec![0.0; p];
        for i in lo..hi {
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.z[(i, j)];
            }
            let y = self.y[i];
            for a in 0..p {
                sums.z[a] += row[a];
                sums.zy[a] += row[a] * y;
                for b in a..p {
                    sums.zz[(a, b)] += row[a] * row[b];
                }
            }
            sums.y += y;
            sums.count += 1.0;
        }
        sums
    }

    /// (G + lambda I) beta = r with beta_j >= 0 where required: solve, then drop the most
    /// negative bounded coefficient to zero and solve the rest again until none is negative.
    fn solve(&self, gram: &DMatrix<f64>, rhs: &DVector<f64>, lambda: f64) -> Vec<f64> {
        let p = gram.nrows();
        let mut active: Vec<usize> = (0..p).filter(|&j| self.scale[j] > 0.0).collect();
        loop {
            let k = active.len();
            let mut beta = vec![0.0; p];
            if k == 0 {
                return beta;
            }
            let a = DMatrix::from_fn(k, k, |r, c| {
                gram[(active[r], active[c])] + if r == c { lambda } else { 0.0 }
            });
            let b = DVector::from_fn(k, |r, _| rhs[active[r]]);
            let solution = match a.cholesky() {
                Some(cholesky) => cholesky.solve(&b),
                None => return beta,
            };
            for (r, &j) in active.iter().enumerate() {
                beta[j] = solution[r];
            }
            let worst = active
                .iter()
                .copied()
                .filter(|&j| self.nonnegative[j] && beta[j] < 0.0)
                .min_by(|&x, &y| beta[x].total_cmp(&beta[y]));
            match worst {
                Some(j) => active.retain(|&a| a != j),
                None => return beta,
            }
        }
    }
}

/// Sums over a block of rows: count, sum z, sum y, sum z z' (upper triangle), sum z y.
struct Sums {
    count: f64,
    z: Vec<f64>,
    y: f64,
    zz: DMatrix<f64>,
    zy: Vec<f64>,
}

impl Sums {
    fn zero(p: usize) -> Self {
        Self {
            count: 0.0,
            z: vec![0.0; p],
            y: 0.0,
            zz: DMatrix::zeros(p, p),
            zy: vec![0.0; p],
        }
    }

    fn plus(&self, other: &Sums, sign: f64) -> Sums {
        let add = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x + sign * y).collect();
        Sums {
            count: self.count + sign * other.count,
            z: add(&self.z, &other.z),
            y: self.y + sign * other.y,
            zz: &self.zz + &other.zz * sign,
            zy: add(&self.zy, &other.zy),
        }
    }

    /// The Gram matrix and right-hand side centred on the rows' means (the intercept is
    /// fitted, not penalised), scaled by 1 / rows; with those means.
    fn centred(&self) -> (DMatrix<f64>, DVector<f64>, Vec<f64>, f64) {
        let p = self.z.len();
        let n = self.count.max(1.0);
        let z_mean: Vec<f64> = self.z.iter().map(|v| v / n).collect();
        let y_mean = self.y / n;
        let gram = DMatrix::from_fn(p, p, |a, b| {
            let (a, b) = (a.min(b), a.max(b));
            self.zz[(a, b)] / n - z_mean[a] * z_mean[b]
        });
        let rhs = DVector::from_fn(p, |a, _| self.zy[a] / n - z_mean[a] * y_mean);
        (gram, rhs, z_mean, y_mean)
    }
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x1: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + 20.0)
            .collect();
        let x2: Vec<f64> = (0..50).map(|i| ((i * 7) % 11) as f64).collect();
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .enumerate()
            .map(|(i, (a, b))| 5.0 + 2.0 * a - 0.5 * b + 0.01 * ((i * 13) % 7) as f64)
            .collect();
        (vec![x1, x2], y)
    }

    #[test]
    fn tiny_penalty_recovers_least_squares() {
        let (x, y) = columns();
        let fit = Design::new(&x, &y, vec![false, false]).fit(1e-9);
        assert!((fit.coefficients[0] - 2.0).abs() < 0.01, "{fit:?}");
        assert!((fit.coefficients[1] + 0.5).abs() < 0.01, "{fit:?}");
        assert!((fit.intercept - 5.0).abs() < 0.1, "{fit:?}");
    }

    #[test]
    fn penalty_shrinks_and_bounds_hold() {
        let (x, y) = columns();
        let design = Design::new(&x, &y, vec![false, false]);
        let loose = design.fit(1e-6);
        let tight = design.fit(1.0);
        assert!(tight.coefficients[0].abs() < loose.coefficients[0].abs());
        // The second column's true effect is negative: with a bound it is held at zero and
        // the first column is refitted alone.
        let bounded = Design::new(&x, &y, vec![false, true]).fit(1e-9);
        assert_eq!(bounded.coefficients[1], 0.0);
        assert!(bounded.coefficients[0] > 1.5);
        // Cross-validation picks a small penalty on nearly noiseless data.
        let cv = design.fit_cv(5);
        assert!(cv.lambda <= 1e-2, "{}", cv.lambda);
    }
}
