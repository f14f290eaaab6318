//! Map errors, each carrying the errno Linux returns for the same situation.

use super::spec::MapType;
use thiserror::Error;

/// `ENOTSUPP` (524): the kernel-internal "operation not supported" code that `bpf()` leaks to
/// userspace for some map specs (an LRU hash with `BPF_F_NO_PREALLOC`). Not in libc.
pub const ENOTSUPP: i32 = 524;

/// Why a map operation or map creation failed.
///
/// Every variant maps to the errno Linux returns for the same case ([`MapError::errno`]);
/// helpers hand `-errno` to the program ([`MapError::helper_ret`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MapError {
    /// The spec was refused at creation (`EINVAL`, `E2BIG` or `ENOTSUPP`, as Linux).
    #[error("map `{name}` ({map_type}): {reason}")]
    InvalidSpec {
        name: String,
        map_type: MapType,
        errno: i32,
        reason: String,
    },
    /// A map type oxbpf cannot create in userspace.
    #[error("map `{name}`: map type {map_type} is not supported by the userspace runtime")]
    UnsupportedType { name: String, map_type: MapType },
    /// A key of the wrong length was passed (`EINVAL`).
    #[error("map `{map}`: key is {got} bytes, the map's key_size is {expected}")]
    KeySize {
        map: String,
        expected: usize,
        got: usize,
    },
    /// A value of the wrong length was passed (`EINVAL`).
    #[error("map `{map}`: value buffer is {got} bytes, {expected} expected")]
    ValueSize {
        map: String,
        expected: usize,
        got: usize,
    },
    /// Invalid flags or arguments (`EINVAL`).
    #[error("map `{map}`: {reason}")]
    InvalidArgument { map: String, reason: String },
    /// No element with that key, or the map is empty (`ENOENT`).
    #[error("map `{map}`: no such element")]
    NotFound { map: String },
    /// The key exists and `BPF_NOEXIST` was given (`EEXIST`).
    #[error("map `{map}`: element exists (BPF_NOEXIST)")]
    Exists { map: String },
    /// The map holds `max_entries` elements, or an array index is past the end (`E2BIG`).
    #[error("map `{map}`: {reason}")]
    Full { map: String, reason: String },
    /// No room left (`ENOSPC`): a full LPM trie, a full perf buffer.
    #[error("map `{map}`: {reason}")]
    NoSpace { map: String, reason: String },
    /// Try again later (`EAGAIN`): a full ring buffer.
    #[error("map `{map}`: {reason}")]
    Again { map: String, reason: String },
    /// The operation does not exist for this map type (errno as Linux returns it: `EINVAL`,
    /// `EOPNOTSUPP` or `ENOTSUPP`).
    #[error("map `{map}` ({map_type}): {op} is not supported by this map type")]
    Unsupported {
        map: String,
        map_type: MapType,
        op: &'static str,
        errno: i32,
    },
    /// The access flags or a frozen map forbid the operation (`EPERM`).
    #[error("map `{map}`: {reason}")]
    PermissionDenied { map: String, reason: String },
    /// Memory for the map could not be allocated (`ENOMEM`).
    #[error("map `{map}`: cannot allocate {bytes} bytes")]
    NoMemory { map: String, bytes: u64 },
    /// A typed view whose Rust types do not fit the map's sizes (`EINVAL`).
    #[error("map `{map}`: {reason}")]
    TypeMismatch { map: String, reason: String },
    /// A registry already holds a map of that name (`EEXIST`).
    #[error("a map named `{0}` already exists")]
    NameTaken(String),
    /// A registry holds no map of that name (`ENOENT`).
    #[error("no map named `{0}`")]
    NoSuchMap(String),
    /// The CPU count was configured after it was first used (`EBUSY`).
    #[error("the CPU count is already fixed at {current}; configure it before creating maps")]
    CpuCountFixed { current: usize },
}

impl MapError {
    /// The positive errno Linux returns for this error.
    pub fn errno(&self) -> i32 {
        match self {
            MapError::InvalidSpec { errno, .. } | MapError::Unsupported { errno, .. } => *errno,
            MapError::UnsupportedType { .. } => libc::EINVAL,
            MapError::KeySize { .. }
            | MapError::ValueSize { .. }
            | MapError::InvalidArgument { .. }
            | MapError::TypeMismatch { .. } => libc::EINVAL,
            MapError::NotFound { .. } | MapError::NoSuchMap(_) => libc::ENOENT,
            MapError::Exists { .. } | MapError::NameTaken(_) => libc::EEXIST,
            MapError::Full { .. } => libc::E2BIG,
            MapError::NoSpace { .. } => libc::ENOSPC,
            MapError::Again { .. } => libc::EAGAIN,
            MapError::PermissionDenied { .. } => libc::EPERM,
            MapError::NoMemory { .. } => libc::ENOMEM,
            MapError::CpuCountFixed { .. } => libc::EBUSY,
        }
    }

    /// The value a helper returns in `r0` for this error: `-errno` as a 64-bit register.
    pub fn helper_ret(&self) -> u64 {
        (-(self.errno() as i64)) as u64
    }

    pub(crate) fn invalid(map: &str, reason: impl Into<String>) -> MapError {
        MapError::InvalidArgument {
            map: map.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(map: &str) -> MapError {
        MapError::NotFound {
            map: map.to_string(),
        }
    }

    pub(crate) fn exists(map: &str) -> MapError {
        MapError::Exists {
            map: map.to_string(),
        }
    }

    pub(crate) fn full(map: &str, reason: impl Into<String>) -> MapError {
        MapError::Full {
            map: map.to_string(),
            reason: reason.into(),
        }
    }
}

/// A vector of `n` copies of `value`, or `ENOMEM` when the allocation fails: map sizes come
/// from untrusted objects, and an allocation failure must be an error, never an abort.
pub(crate) fn alloc_vec<T: Clone>(map: &str, n: usize, value: T) -> Result<Vec<T>, MapError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| MapError::NoMemory {
        map: map.to_string(),
        bytes: (n as u64).saturating_mul(std::mem::size_of::<T>() as u64),
    })?;
    v.resize(n, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_ret_is_negative_errno() {
        let e = MapError::not_found("m");
        assert_eq!(e.errno(), libc::ENOENT);
        assert_eq!(e.helper_ret() as i64, -(libc::ENOENT as i64));
        assert_eq!(MapError::full("m", "x").errno(), libc::E2BIG);
    }
}
