//! Context types of embedder hooks: which bytes of a `#[repr(C)]` struct programs may read
//! and write.
//!
//! A hook's context is an ordinary Rust struct. [`HookContext`] describes its fields
//! ([`CtxField`]); the hook turns the description into a [`ContextLayout`] once, when it
//! is created, and grants each run exactly those bytes: readable fields as read-only
//! regions, writable ones as writable regions (adjacent fields with the same access are
//! merged). Padding and undeclared fields are not accessible, so engines that check
//! memory (the interpreter, the checked JIT) refuse a program that touches them.
//!
//! Implement the trait with [`hook_context!`](crate::hook_context), which computes offsets
//! and sizes with `offset_of!` and requires every declared field to be [`Pod`].

use super::HookError;
use std::mem::size_of;

/// Plain data: every bit pattern is a valid value and the type has no padding bytes.
///
/// Programs write arbitrary bytes into writable fields and read every byte of readable
/// ones, so declared fields must be `Pod`.
///
/// # Safety
/// Implementors must have no padding and no invalid bit patterns (no `bool`, `char`,
/// enums, references or pointers with validity requirements).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: primitive integers have no padding and every bit pattern is valid.
        unsafe impl Pod for $t {}
    )* };
}
pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

// SAFETY: an array of padding-free, any-bit-pattern elements is itself padding-free and
// valid for every bit pattern.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// What programs may do with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Loads only.
    Read,
    /// Loads and stores.
    ReadWrite,
}

/// One field of a hook context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxField {
    /// The field name (diagnostics, future verifier context descriptions).
    pub name: &'static str,
    /// Byte offset in the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Read-only or writable.
    pub access: Access,
}

/// A context type of a [`Hook`](super::Hook).
///
/// # Safety
/// The type must be `#[repr(C)]` (or otherwise have a fixed layout), `fields()` must
/// describe fields that really are at those offsets with those sizes, inside
/// `size_of::<Self>()`, and every described field must be [`Pod`]. Programs read and
/// write those bytes directly. [`hook_context!`](crate::hook_context) upholds all of
/// this.
pub unsafe trait HookContext: Send + 'static {
    /// The fields programs may access.
    fn fields() -> Vec<CtxField>;
}

/// The size of the field a projection closure points at (for [`hook_context!`]).
#[doc(hidden)]
pub const fn pod_field_size<T, F: Pod>(_project: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Implements [`HookContext`] for a `#[repr(C)]` struct.
///
/// ```
/// use oxbpf_runtime::hook_context;
///
/// #[repr(C)]
/// #[derive(Default)]
/// pub struct Request {
///     pub method: u32,
///     pub path_len: u32,
///     pub path: [u8; 32],
///     pub verdict: u32,
///     pub counter: u64,
/// }
///
/// hook_context!(Request {
///     method: read,
///     path_len: read,
///     path: read,
///     verdict: write,
///     counter: write,
/// });
///
/// let hook = oxbpf_runtime::hook::Hook::<Request>::new("request").unwrap();
/// let mut req = Request::default();
/// assert_eq!(hook.fire(&mut req).ran, 0);
/// // method..path read-only; verdict; counter (after 4 bytes of padding): three runs.
/// assert_eq!(hook.layout().runs().len(), 3);
/// ```
///
/// Fields not listed are invisible to programs. Every listed field must be [`Pod`]
/// (a compile error otherwise).
#[macro_export]
macro_rules! hook_context {
    ($ty:ident { $($field:ident : $access:ident),* $(,)? }) => {
        // SAFETY: offsets come from `offset_of!`, sizes from the field types, which
        // `pod_field_size` requires to be `Pod`; the struct layout is the caller's
        // `#[repr(C)]` declaration (checked by `Hook::new` for bounds).
        unsafe impl $crate::hook::HookContext for $ty {
            fn fields() -> ::std::vec::Vec<$crate::hook::CtxField> {
                ::std::vec![$(
                    $crate::hook::CtxField {
                        name: ::std::stringify!($field),
                        offset: ::std::mem::offset_of!($ty, $field),
                        size: $crate::hook::context::pod_field_size::<$ty, _>(|c: &$ty| &c.$field),
                        access: $crate::hook_context!(@access $access),
                    }
                ),*]
            }
        }
    };
    (@access read) => { $crate::hook::Access::Read };
    (@access write) => { $crate::hook::Access::ReadWrite };
}

/// The most regions a context may need. Runs keep up to eight regions without
/// allocating and engines add the stack during helper calls, so a layout gets six.
pub const MAX_CONTEXT_REGIONS: usize = 6;

/// One contiguous run of accessible bytes of a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutRun {
    pub offset: usize,
    pub len: usize,
    pub writable: bool,
}

/// The checked, merged description of a context type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextLayout {
    /// `size_of` the context struct.
    pub size: usize,
    /// The declared fields, by offset.
    pub fields: Vec<CtxField>,
    runs: [LayoutRun; MAX_CONTEXT_REGIONS],
    nruns: usize,
}

impl ContextLayout {
    /// Checks `fields` against a struct of `size` bytes and merges them into runs.
    pub fn new(
        type_name: &'static str,
        size: usize,
        mut fields: Vec<CtxField>,
    ) -> Result<ContextLayout, HookError> {
        fields.sort_by_key(|f| (f.offset, f.size));
        let mut runs = [LayoutRun {
            offset: 0,
            len: 0,
            writable: false,
        }; MAX_CONTEXT_REGIONS];
        let mut nruns = 0usize;
        let mut end = 0usize;
        for (i, f) in fields.iter().enumerate() {
            let field_end = f.offset.checked_add(f.size).filter(|&e| e <= size).ok_or(
                HookError::FieldOutOfBounds {
                    context: type_name,
                    field: f.name,
                    offset: f.offset,
                    size: f.size,
                    struct_size: size,
                },
            )?;
            if i > 0 && f.offset < end {
                return Err(HookError::OverlappingFields {
                    context: type_name,
                    first: fields[i - 1].name,
                    second: f.name,
                });
            }
            if f.size == 0 {
                end = field_end;
                continue;
            }
            let writable = f.access == Access::ReadWrite;
            match nruns.checked_sub(1).map(|j| &mut runs[j]) {
                Some(last) if last.offset + last.len == f.offset && last.writable == writable => {
                    last.len += f.size;
                }
                _ => {
                    if nruns == MAX_CONTEXT_REGIONS {
                        return Err(HookError::TooManyRegions {
                            context: type_name,
                            max: MAX_CONTEXT_REGIONS,
                        });
                    }
                    runs[nruns] = LayoutRun {
                        offset: f.offset,
                        len: f.size,
                        writable,
                    };
                    nruns += 1;
                }
            }
            end = field_end;
        }
        Ok(ContextLayout {
            size,
            fields,
            runs,
            nruns,
        })
    }

    /// The layout of a [`HookContext`] type.
    pub fn of<C: HookContext>() -> Result<ContextLayout, HookError> {
        ContextLayout::new(std::any::type_name::<C>(), size_of::<C>(), C::fields())
    }

    /// The merged runs of accessible bytes.
    #[inline]
    pub fn runs(&self) -> &[LayoutRun] {
        &self.runs[..self.nruns]
    }

    /// The field covering byte `offset`, if any.
    pub fn field_at(&self, offset: usize) -> Option<&CtxField> {
        self.fields
            .iter()
            .find(|f| offset >= f.offset && offset < f.offset + f.size)
    }
}
