// SPDX-License-Identifier: GPL-2.0

//! The kmalloc family as owning Rust types.
//!
//! `kmalloc()` is the kernel's general-purpose allocator for physically
//! contiguous memory, from a few bytes up to [`KMALLOC_MAX_SIZE`]. Each type
//! here owns one kmalloc allocation and frees it exactly once, with the C
//! function that matches how it was made, when it is dropped:
//!
//! | Type                                | Allocated by C's                    | Freed by C's      |
//! |-------------------------------------|-------------------------------------|-------------------|
//! | [`KmallocBox<T>`]                   | `kmalloc`, `kzalloc`                | `kfree`           |
//! | [`KmallocArray<T>`], [`KmallocBuf`] | `kmalloc`, `kcalloc`, `krealloc`    | `kfree`           |
//! | [`SensitiveBuf`]                    | `kmalloc`, `kcalloc`                | `kfree_sensitive` |
//! | [`KString`]                         | `kasprintf`                         | `kfree`           |
//!
//! Allocation takes C's `kmalloc()` path itself, not `krealloc(NULL, ...)`:
//! as C's inline `kmalloc()`, kalloc picks the kmalloc cache (at compile
//! time for a sized `T`) and calls `__kmalloc_cache_noprof()`.
//!
//! # Bad requests
//!
//! Every constructor checks its request before C sees it, so that a bad one
//! is an error and never a warning splat:
//! - flags kmalloc cannot honour (highmem, DMA32, movable, or an invalid
//!   combination; see [`Gfp::check_slab`]): `EINVAL`;
//! - flags that may sleep where sleeping is not allowed, and any request
//!   in NMI context ([`Gfp::check`]): `EAGAIN`;
//! - `__GFP_NOFAIL` for more than [`NOFAIL_MAX_SIZE`] bytes (the page
//!   allocator does not support it above order 1): `EINVAL`;
//! - more than [`KMALLOC_MAX_SIZE`] bytes: `ENOMEM`, without the warning C
//!   would print;
//! - an element count whose size in bytes overflows `usize`: `EOVERFLOW`,
//!   never a wrapped size.
//!
//! # Zero-size requests
//!
//! For zero bytes kmalloc returns `ZERO_SIZE_PTR`, a non-NULL pointer that
//! faults when dereferenced. The types keep it (it is what
//! [`KmallocArray::into_raw`] hands to C, and `kfree()` accepts it) but never
//! dereference it: empty slices and zero-sized values are built from a
//! dangling, well-aligned pointer instead.
//!
//! # Alignment
//!
//! kmalloc aligns every object to `ARCH_KMALLOC_MINALIGN`, and an object of
//! `size` bytes to at least the largest power of two that divides `size`
//! (see `kmalloc()` in `include/linux/slab.h`). A Rust type's size is a
//! multiple of its alignment, so `n * size_of::<T>()` bytes from kmalloc are
//! always aligned for `T`, whatever `align_of::<T>()` is. kalloc relies on
//! that guarantee and passes `align_of::<T>()` to `krealloc()` as well.
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{GFP_KERNEL, GFP_ATOMIC};
//! use kalloc::kmalloc::{KmallocBox, KmallocBuf, SensitiveBuf};
//!
//! let mut counter = KmallocBox::new(0u64, GFP_KERNEL)?;
//! *counter += 1;
//!
//! let mut buf = KmallocBuf::from_slice(b"header", GFP_KERNEL)?;
//! buf.resize(64, 0, GFP_KERNEL)?; // krealloc: "header" then 58 zeros
//!
//! assert_eq!((&buf[..6], buf.len()), (&b"header"[..], 64));
//!
//! let _key = SensitiveBuf::from_slice(&[0x5a; 32], GFP_KERNEL)?; // zeroed on drop
//! let name = kalloc::kasprintf!(GFP_ATOMIC, "kalloc-{}", 3)?;
//! assert_eq!(name.to_bytes(), b"kalloc-3");
//! ```

use crate::gfp::Gfp;
use crate::request::{self, array_size};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// The largest request kmalloc serves (`KMALLOC_MAX_SIZE`). Larger requests
/// give `ENOMEM`.
pub const KMALLOC_MAX_SIZE: usize = bindings::KMALLOC_MAX_SIZE as usize;

/// The largest request kmalloc serves from its slab caches
/// (`KMALLOC_MAX_CACHE_SIZE`); larger ones come from the page allocator.
pub const KMALLOC_MAX_CACHE_SIZE: usize = bindings::KMALLOC_MAX_CACHE_SIZE as usize;

/// The alignment of every kmalloc object (`ARCH_KMALLOC_MINALIGN`).
pub const ARCH_KMALLOC_MINALIGN: usize = bindings::ARCH_KMALLOC_MINALIGN;

/// The signature of `bucket::kmalloc` and `bucket::kzalloc`.
type AllocFn = unsafe fn(usize, bindings::gfp_t) -> *mut c_void;

/// The largest request kmalloc serves with `__GFP_NOFAIL`: one page.
///
/// In 7.3 the page allocator no longer warns about it, but its contract
/// still says that `__GFP_NOFAIL` above order 1 is not supported
/// (`include/linux/gfp_types.h`: "use kvmalloc() instead"). SLUB asks for a
/// slab of its preferred order without `__GFP_NOFAIL`, then falls back to
/// the smallest order that holds one object, with the caller's flags. That
/// order depends on the object's metadata. Measured on kalloc's debug
/// kernel (KASAN, `slub_debug=P`), `/sys/kernel/slab/kmalloc-*/slab_size`:
/// `kmalloc-4k` takes 8192 bytes an object (smallest slab: order 1) and
/// `kmalloc-8k` 16384 (order 2). Without debugging metadata `kmalloc-8k`
/// takes 8192 (order 1), but one page is the limit that holds on every
/// kernel; above `KMALLOC_MAX_CACHE_SIZE` kmalloc goes to the page
/// allocator directly, at order 2 or more.
pub const NOFAIL_MAX_SIZE: usize = kernel::page::PAGE_SIZE;

/// Returns `flags` if kmalloc can serve `size` bytes with them (see the
/// module documentation).
#[inline]
pub(crate) fn check_request(size: usize, flags: Gfp) -> Result<Gfp> {
    request::slab(flags, size, KMALLOC_MAX_SIZE, Some(NOFAIL_MAX_SIZE))
}

/// The pointer Rust may use for `size` bytes that kmalloc returned at `c_ptr`:
/// `c_ptr` itself, or, for zero bytes (where C gave `ZERO_SIZE_PTR`), a
/// dangling pointer aligned for `T`.
fn data<T>(c_ptr: NonNull<T>, size: usize) -> NonNull<T> {
    if size == 0 {
        NonNull::dangling()
    } else {
        c_ptr
    }
}

/// C's `kmalloc_size_roundup()`: the size kmalloc really allocates for a
/// request of `size` bytes (the size of its bucket). `0` for `0`, and
/// `size` itself above [`KMALLOC_MAX_SIZE`].
///
/// Asking for the rounded-up size in the first place is how a caller uses
/// all of a bucket: reading or writing beyond the requested size is a bug
/// that KASAN reports.
pub fn kmalloc_size_roundup(size: usize) -> usize {
    // SAFETY: `kmalloc_size_roundup` is a pure function of its argument.
    unsafe { bindings::kmalloc_size_roundup(size) }
}

mod allocator;
mod array;
mod boxed;
mod bucket;
mod sensitive;
mod string;

pub use allocator::Kmalloc;

/// The kernel crate's `KBox` on kalloc's kmalloc path: a driver moves to it
/// by importing `kalloc::KBox` instead of the prelude's (see [`Kmalloc`] for
/// what changes).
pub type KBox<T> = kernel::alloc::Box<T, Kmalloc>;

/// The kernel crate's `KVec` on kalloc's kmalloc path (see [`KBox`]).
pub type KVec<T> = kernel::alloc::Vec<T, Kmalloc>;
pub use array::{KmallocArray, KmallocBuf};
pub use boxed::KmallocBox;
pub use sensitive::SensitiveBuf;
pub(crate) use string::format_once;
pub use string::KString;

#[cfg(kalloc_selftest)]
mod tests;
