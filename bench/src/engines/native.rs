//! The native Rust version of each program, called through a function pointer.

use super::{time_loop, Class, Engine, Footprint, Origin, Prepared};
use crate::programs::Workload;
use anyhow::{anyhow, Result};
use std::convert::Infallible;
use std::hint::black_box;

pub struct Native;

struct NativeFn(fn(&[u8]) -> u64);

impl Engine for Native {
    fn name(&self) -> &'static str {
        "native"
    }
    fn class(&self) -> Class {
        Class::Native
    }
    fn origin(&self) -> Origin {
        Origin::Native
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        let f = w
            .native
            .ok_or_else(|| anyhow!("`{}` has no native version", w.name))?;
        Ok(Box::new(NativeFn(f)))
    }
}

impl Prepared for NativeFn {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        Ok((self.0)(input))
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        // The pointer goes through `black_box` so the call stays a call and the input
        // cannot be folded in.
        let f = black_box(self.0);
        let r = time_loop(iters, || Ok::<u64, Infallible>(f(black_box(&*input))));
        Ok(r.unwrap_or_else(|e| match e {}))
    }
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: None,
            note: "compiled into the binary".into(),
        }
    }
}
