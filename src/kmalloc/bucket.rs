// SPDX-License-Identifier: GPL-2.0

//! C's inline `kmalloc()` in Rust: the kmalloc cache is picked here, at
//! compile time when the size is a constant (as C's `kmalloc()` does for a
//! constant size), and the object comes straight from
//! `__kmalloc_cache_noprof()`, without a shim or a size lookup in C.

use crate::ffi;
use crate::gfp::{RawGfp, __GFP_ACCOUNT, __GFP_RECLAIMABLE, __GFP_ZERO, GFP_DMA};
use core::ptr::addr_of;
use kernel::{bindings, ffi::c_void};

/// Whether kalloc picks the cache itself. Otherwise (the kmalloc partitions
/// of `CONFIG_KMALLOC_PARTITION_CACHES` pick a cache per call site, and
/// allocation profiling counts at the call site) C's `kmalloc()` does.
const PICKS_CACHE: bool =
    !cfg!(CONFIG_KMALLOC_PARTITION_CACHES) && !cfg!(CONFIG_MEM_ALLOC_PROFILING);

/// C's `kmalloc_index()`: the index in `kmalloc_caches[type]` of the cache
/// for `size` bytes, `1..=KMALLOC_MAX_CACHE_SIZE`.
#[inline(always)]
pub(crate) const fn kmalloc_index(size: usize) -> usize {
    const MIN_SIZE: usize = bindings::KMALLOC_MIN_SIZE as usize;
    if size <= MIN_SIZE {
        return bindings::KMALLOC_SHIFT_LOW as usize;
    }
    // The 96 and 192-byte caches, where the minimum size allows them.
    if MIN_SIZE <= 32 && size > 64 && size <= 96 {
        return 1;
    }
    if MIN_SIZE <= 64 && size > 128 && size <= 192 {
        return 2;
    }
    // Else the cache of the next power of two: its logarithm.
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

/// C's `kmalloc_type()` (without kmalloc partitions): which row of
/// `kmalloc_caches` serves `flags`.
#[inline(always)]
pub(crate) const fn kmalloc_type(flags: RawGfp) -> usize {
    let dma = if cfg!(CONFIG_ZONE_DMA) {
        GFP_DMA.as_raw()
    } else {
        0
    };
    let account = if cfg!(CONFIG_MEMCG) {
        __GFP_ACCOUNT.as_raw()
    } else {
        0
    };
    let reclaimable = __GFP_RECLAIMABLE.as_raw();
    let kind = if flags & (reclaimable | dma | account) == 0 {
        bindings::kmalloc_cache_type_KMALLOC_NORMAL
    } else if flags & dma != 0 {
        bindings::kmalloc_cache_type_KMALLOC_DMA
    } else if !cfg!(CONFIG_MEMCG) || flags & reclaimable != 0 {
        bindings::kmalloc_cache_type_KMALLOC_RECLAIM
    } else {
        bindings::kmalloc_cache_type_KMALLOC_CGROUP
    };
    kind as usize
}

/// The kmalloc cache C's `kmalloc()` takes for `size` bytes and `flags`,
/// `1..=KMALLOC_MAX_CACHE_SIZE` (for the self-tests, which compare it with
/// C's choice).
#[cfg(kalloc_selftest)]
pub(crate) fn cache_for(size: usize, flags: RawGfp) -> *mut bindings::kmem_cache {
    // SAFETY: `kmalloc_caches` is filled in at boot and read-only after.
    unsafe { (*addr_of!(bindings::kmalloc_caches))[kmalloc_type(flags)][kmalloc_index(size)] }
}

/// C's `kmalloc(size, flags)`.
///
/// # Safety
///
/// As for `kmalloc()` without a warning: `flags` are valid for kmalloc and
/// `size` is at most `KMALLOC_MAX_SIZE` (kalloc's request check).
#[inline(always)]
pub(crate) unsafe fn kmalloc(size: usize, flags: RawGfp) -> *mut c_void {
    if !PICKS_CACHE || size == 0 {
        // SAFETY: As for this function.
        return unsafe { ffi::kalloc_kmalloc(size, flags) };
    }
    if size > bindings::KMALLOC_MAX_CACHE_SIZE as usize {
        // SAFETY: As for this function: C's `kmalloc()` calls this for a
        // constant size above the largest cache.
        return unsafe { bindings::__kmalloc_large_noprof(size, flags) };
    }
    // SAFETY: `kmalloc_caches` is filled in at boot and read-only after;
    // the indices are in bounds: `kmalloc_type()` gives a row, and the
    // index of a size up to `KMALLOC_MAX_CACHE_SIZE` is at most
    // `KMALLOC_SHIFT_HIGH`.
    let cache =
        unsafe { (*addr_of!(bindings::kmalloc_caches))[kmalloc_type(flags)][kmalloc_index(size)] };
    // SAFETY: `cache` is the cache C's `kmalloc()` takes for `size` and
    // `flags` (the self-tests compare them), so the object has room for
    // `size` bytes; the flags are valid (the caller's guarantee).
    unsafe { bindings::__kmalloc_cache_noprof(cache, flags, size) }
}

/// C's `kzalloc(size, flags)`: `kmalloc(size, flags | __GFP_ZERO)`.
///
/// # Safety
///
/// As for [`kmalloc`].
#[inline(always)]
pub(crate) unsafe fn kzalloc(size: usize, flags: RawGfp) -> *mut c_void {
    // SAFETY: As for this function.
    unsafe { kmalloc(size, flags | __GFP_ZERO.as_raw()) }
}
