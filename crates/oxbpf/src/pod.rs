//! The facade's only `unsafe`: viewing plain-old-data values as bytes and back, for typed
//! map access.

pub use oxbpf_runtime::maps::Pod;

/// The bytes of `v`.
pub fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding bytes (the trait's contract), so all
    // `size_of::<T>()` bytes behind `v` are initialised; the slice borrows `v` and cannot
    // outlive it.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// A `T` read from the first `size_of::<T>()` bytes of `b`, or `None` when `b` is shorter.
pub fn from_bytes<T: Pod>(b: &[u8]) -> Option<T> {
    let b = b.get(..std::mem::size_of::<T>())?;
    // SAFETY: `b` has exactly `size_of::<T>()` readable bytes; `read_unaligned` needs no
    // alignment; every bit pattern is a valid `T` (the `Pod` contract).
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v: [u32; 3] = [1, 0xdead_beef, 7];
        let b = bytes_of(&v);
        assert_eq!(b.len(), 12);
        assert_eq!(from_bytes::<[u32; 3]>(b), Some(v));
        assert_eq!(
            from_bytes::<u64>(&b[1..9]),
            Some(u64::from_ne_bytes(b[1..9].try_into().unwrap()))
        );
        assert_eq!(from_bytes::<u64>(&b[..7]), None);
    }
}
