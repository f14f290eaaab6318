//! The timing loop: warm up, size batches so one sample takes a set time, take several
//! samples, keep the median.

use crate::engines::Prepared;
use anyhow::Result;
use std::time::Duration;

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Time spent running before the first sample (caches, branch predictors, frequency).
    pub warmup: Duration,
    /// Target length of one sample.
    pub sample: Duration,
    /// Samples per measurement (the median is reported).
    pub samples: usize,
}

impl Settings {
    /// The defaults of a full run.
    pub fn full() -> Settings {
        Settings {
            warmup: Duration::from_millis(100),
            sample: Duration::from_millis(20),
            samples: 11,
        }
    }

    /// A shorter run (`--quick`): noisier numbers, same shape.
    pub fn quick() -> Settings {
        Settings {
            warmup: Duration::from_millis(20),
            sample: Duration::from_millis(4),
            samples: 5,
        }
    }
}

/// Nanoseconds per run of one workload on one engine.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Median of the samples.
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Runs per sample.
    pub iters: u64,
    pub samples: usize,
}

impl Measurement {
    /// (max - min) / median: how much the samples disagree.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median
        } else {
            0.0
        }
    }
}

/// Warms `p` up (doubling batches until `s.warmup` has passed) and returns the batch size
/// that makes one sample last about `s.sample`.
pub fn calibrate(p: &mut dyn Prepared, input: &mut [u8], s: &Settings) -> Result<u64> {
    let warmup_ns = s.warmup.as_nanos() as f64;
    let mut spent = 0.0;
    let mut iters = 1u64;
    let mut per_run;
    loop {
        per_run = p.sample(input, iters)?;
        spent += per_run * iters as f64;
        if spent >= warmup_ns || iters >= 1 << 40 {
            break;
        }
        iters = iters.saturating_mul(2);
    }
    let per_run = per_run.max(0.01);
    Ok(((s.sample.as_nanos() as f64 / per_run) as u64).clamp(1, 1 << 40))
}

/// Measures `p` over `input`.
pub fn measure(p: &mut dyn Prepared, input: &mut [u8], s: &Settings) -> Result<Measurement> {
    let mut one = [p];
    measure_interleaved(&mut one, input, s)
        .pop()
        .unwrap_or_else(|| Err(anyhow::anyhow!("nothing measured")))
}

/// Measures several prepared programs over the same input, taking their samples in
/// turns (round-robin) so that load from other processes falls on all of them alike.
/// A program that fails is left out of the later rounds; its entry is the error.
pub fn measure_interleaved<'p>(
    ps: &mut [&mut (dyn Prepared + 'p)],
    input: &mut [u8],
    s: &Settings,
) -> Vec<Result<Measurement>> {
    let mut iters: Vec<Result<u64>> = ps.iter_mut().map(|p| calibrate(*p, input, s)).collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(s.samples); ps.len()];
    for _ in 0..s.samples.max(1) {
        for (i, p) in ps.iter_mut().enumerate() {
            let Ok(n) = iters[i] else { continue };
            match p.sample(input, n) {
                Ok(v) => samples[i].push(v),
                Err(e) => iters[i] = Err(e),
            }
        }
    }
    iters
        .into_iter()
        .zip(samples)
        .map(|(n, mut v)| {
            let n = n?;
            v.sort_by(f64::total_cmp);
            Ok(Measurement {
                median: median(&v),
                min: v[0],
                max: v[v.len() - 1],
                iters: n,
                samples: v.len(),
            })
        })
        .collect()
}

/// Median of sorted values (mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Geometric mean (NaN when empty or when a value is not positive).
pub fn geomean(values: &[f64]) -> f64 {
    if values.is_empty() || values.iter().any(|&v| v <= 0.0 || v.is_nan()) {
        return f64::NAN;
    }
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn geomean_of_ratios() {
        assert!((geomean(&[2.0, 8.0]) - 4.0).abs() < 1e-12);
        assert!((geomean(&[0.5, 2.0]) - 1.0).abs() < 1e-12);
        assert!(geomean(&[]).is_nan());
        assert!(geomean(&[1.0, 0.0]).is_nan());
    }
}
