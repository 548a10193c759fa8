// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_kmalloc` suite: C's view of kalloc's buffers.

use crate::kmalloc::{KmallocArray, KmallocBox, KmallocBuf, SensitiveBuf};
use crate::selftest::ffi::*;
use kernel::{bindings, prelude::*, transmute::FromBytes};
/// The kmalloc cache that C's `kmalloc(size, flags)` takes, for a size of
/// 1 to `KMALLOC_MAX_CACHE_SIZE` bytes.
pub(crate) fn c_kmalloc_cache(size: usize, flags: crate::gfp::Gfp) -> *mut bindings::kmem_cache {
    // SAFETY: The shim only reads `kmalloc_caches`, which is read-only
    // after boot, at indices C computes for a size in its range.
    unsafe { kalloc_test_kmalloc_cache(size, flags.as_raw()) }
}

/// Runs `f` with fault injection set to fail this task's next slab
/// allocation that failslab does not filter out (so, one that may not
/// reclaim directly: `GFP_NOWAIT`, `GFP_ATOMIC`), then turns it off.
#[cfg(CONFIG_FAILSLAB)]
pub(crate) fn fail_next_slab_allocation<R>(f: impl FnOnce() -> R) -> R {
    fail_nth_allocation(1, f)
}

/// Runs `f` with fault injection set to fail the `nth` fault-injection
/// point this task passes from now on (slab or page allocations that may
/// not reclaim directly), then turns it off, as writing
/// `/proc/self/fail-nth` does.
#[cfg(CONFIG_FAILSLAB)]
pub(crate) fn fail_nth_allocation<R>(nth: u32, f: impl FnOnce() -> R) -> R {
    // SAFETY: the shim only sets the current task's `fail_nth`.
    unsafe { kalloc_test_fail_nth(nth) };
    let result = f();
    // SAFETY: as above.
    unsafe { kalloc_test_fail_nth(0) };
    result
}

/// Hands `buf` to a C user with `into_raw`, and takes it back with
/// `from_raw`. C checks that it got what kmalloc gives for the size
/// (`ZERO_SIZE_PTR` for none, else a live object at least that big, by
/// `ksize()`), and fills it with `byte`.
pub(crate) fn array_through_c<T: FromBytes>(
    buf: KmallocArray<T>,
    byte: u8,
) -> Result<KmallocArray<T>> {
    let (ptr, len) = buf.into_raw();
    // SAFETY: `ptr` is a kmalloc allocation of `len * size_of::<T>()`
    // bytes that C may use until it is taken back below.
    let ret = unsafe { kalloc_test_c_user(ptr.cast(), len * size_of::<T>(), byte.into()) };
    // SAFETY: `ptr` and `len` come from `into_raw` above; C only wrote
    // bytes, and any bytes are a valid `T: FromBytes`.
    let buf = unsafe { KmallocArray::from_raw(ptr, len) };
    kernel::error::to_result(ret)?;
    Ok(buf)
}

/// [`array_through_c`] for a [`KmallocBox`].
pub(crate) fn box_through_c<T: FromBytes>(b: KmallocBox<T>, byte: u8) -> Result<KmallocBox<T>> {
    let ptr = b.into_raw();
    // SAFETY: `ptr` is a kmalloc allocation of `size_of::<T>()` bytes that
    // C may use until it is taken back below.
    let ret = unsafe { kalloc_test_c_user(ptr.cast(), size_of::<T>(), byte.into()) };
    // SAFETY: `ptr` comes from `into_raw` above; C only wrote bytes, and
    // any bytes are a valid `T: FromBytes`.
    let b = unsafe { KmallocBox::from_raw(ptr) };
    kernel::error::to_result(ret)?;
    Ok(b)
}

/// The zone (`enum zone_type`) of the memory under `buf`; `EINVAL` if it
/// has none.
pub(crate) fn zone_of(buf: &KmallocBuf) -> Result<bindings::zone_type> {
    if buf.is_empty() {
        return Err(EINVAL);
    }
    // SAFETY: `buf` is a live kmalloc allocation: its address is in the
    // kernel's linear map, where `virt_to_page()` works.
    let zone = unsafe { kalloc_test_zone(buf.as_ptr().cast()) };
    Ok(zone as bindings::zone_type)
}

/// Whether the kernel zeroes all memory it frees (`init_on_free=1`), which
/// makes plain `kfree()` wipe buffers too.
pub(crate) fn init_on_free() -> bool {
    // SAFETY: the shim only reads a static key.
    unsafe { kalloc_test_init_on_free() }
}

/// Something that owns a [`KmallocBuf`] and frees it when dropped.
pub(crate) trait Owner {
    /// The buffer.
    fn kmalloc_buf(&self) -> &KmallocBuf;
}

impl Owner for KmallocBuf {
    fn kmalloc_buf(&self) -> &KmallocBuf {
        self
    }
}

impl Owner for SensitiveBuf {
    fn kmalloc_buf(&self) -> &KmallocBuf {
        &self.buf
    }
}

/// Drops `owner` and returns a copy of what its buffer's memory holds
/// right after the free.
///
/// The memory is read through a second mapping of its pages (`vmap()`),
/// made before the free: reading freed memory through the allocator's
/// own address is a use after free, which KASAN reports.
pub(crate) fn bytes_after_free<O: Owner>(owner: O) -> Result<KmallocBuf> {
    let (ptr, len) = {
        let buf = owner.kmalloc_buf();
        (buf.as_ptr(), buf.len())
    };
    if len == 0 {
        return Err(EINVAL);
    }
    let mut copy = KmallocBuf::zeroed(len, crate::gfp::GFP_KERNEL)?;
    // SAFETY: `ptr` is a live kmalloc allocation of `len` bytes; the shim
    // only maps the pages under it, read-only.
    let alias = unsafe { kalloc_test_alias(ptr.cast(), len) };
    if alias.is_null() {
        return Err(ENOMEM);
    }
    drop(owner);
    // SAFETY: `alias` maps `len` readable bytes until this call unmaps
    // it, and `copy` has room for `len` bytes.
    unsafe { kalloc_test_read_unalias(copy.as_mut_ptr().cast(), alias, len) };
    Ok(copy)
}

/// Whether allocator `A` returns memory aligned for `layout` even when the
/// layout's size is not a multiple of its alignment (as `Box` and `Vec`
/// make it), for each of 16 allocations alive at once (an allocator that
/// is aligned by chance is caught), half from `A::alloc` and half from
/// `A::realloc` without an old allocation (an allocator may implement both),
/// and can write all of it; the memory is freed again, half with `A::free`
/// and half with `A::realloc` to size 0.
pub(crate) fn allocator_aligns<A: kernel::alloc::Allocator>(layout: core::alloc::Layout) -> bool {
    use core::alloc::Layout;
    use core::ptr::NonNull;
    use kernel::alloc::{flags::GFP_KERNEL, NumaNode};
    let mut held: [Option<NonNull<u8>>; 16] = [None; 16];
    let mut aligned = true;
    for (i, slot) in held.iter_mut().enumerate() {
        let mem = if i % 2 == 0 {
            A::alloc(layout, GFP_KERNEL, NumaNode::NO_NODE)
        } else {
            // SAFETY: No old allocation: `realloc` makes a new one.
            unsafe {
                A::realloc(
                    None,
                    layout,
                    Layout::new::<()>(),
                    GFP_KERNEL,
                    NumaNode::NO_NODE,
                )
            }
        };
        let Ok(mem) = mem else {
            aligned = false;
            break;
        };
        let ptr = mem.cast::<u8>();
        aligned &= ptr.as_ptr().align_offset(layout.align()) == 0 && mem.len() >= layout.size();
        // SAFETY: `mem` is a new allocation of at least `layout.size()` bytes.
        unsafe { core::ptr::write_bytes(ptr.as_ptr(), 0x5a, layout.size()) };
        *slot = Some(ptr);
    }
    for (i, ptr) in held.into_iter().enumerate() {
        let Some(ptr) = ptr else { continue };
        if i % 2 == 0 {
            // SAFETY: `ptr` was allocated by `A` with `layout`, and is not
            // used again.
            unsafe { A::free(ptr, layout) };
        } else {
            // SAFETY: As above; a new size of 0 frees it.
            let _ = unsafe {
                A::realloc(
                    Some(ptr),
                    Layout::new::<()>(),
                    layout,
                    GFP_KERNEL,
                    NumaNode::NO_NODE,
                )
            };
        }
    }
    aligned
}
