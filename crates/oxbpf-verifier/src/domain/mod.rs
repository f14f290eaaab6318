//! Abstract domains: tristate numbers, scalar bounds, and the exact concrete semantics
//! they approximate.

pub mod concrete;
pub mod scalar;
pub mod tnum;

#[cfg(test)]
pub(crate) mod testutil;

pub use scalar::Scalar;
pub use tnum::Tnum;
