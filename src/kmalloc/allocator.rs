// SPDX-License-Identifier: GPL-2.0

//! [`Kmalloc`]: kalloc's kmalloc path as the kernel crate's `Allocator`.

use super::{bucket, check_request, ARCH_KMALLOC_MINALIGN};
use crate::gfp::Gfp;
use crate::kernel_alloc::{empty, node_number};
use core::alloc::Layout;
use core::ptr::{self, NonNull};
use kernel::alloc::{AllocError, Allocator, Flags, NumaNode};
use kernel::bindings;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

/// kalloc's kmalloc path as an [`Allocator`] of the kernel crate, so that
/// its `Box<T, A>` and `Vec<T, A>` (with `pin_init`, `ForeignOwnable`,
/// `push`, `extend_from_slice`, `truncate`, ...) run on it.
///
/// What it adds to the kernel crate's own `Kmalloc`: a request kmalloc
/// cannot serve is an allocation error before C sees it (kalloc's request
/// check: no highmem, no DMA32, nothing above `KMALLOC_MAX_SIZE`, sleeping
/// flags only where sleeping is allowed), and a new allocation is a plain
/// `kmalloc()`, as C's `kmalloc()` is, rather than `krealloc(NULL, ...)`.
///
/// # Examples
///
/// ```
/// use kalloc::kmalloc::Kmalloc;
/// use kernel::alloc::{flags::GFP_KERNEL, Box, Vec};
///
/// let b = Box::<_, Kmalloc>::new([7u32; 4], GFP_KERNEL)?;
/// assert_eq!(b[3], 7);
/// let mut v = Vec::<u32, Kmalloc>::new();
/// v.extend_from_slice(&[1, 2, 3], GFP_KERNEL)?;
/// v.truncate(2);
/// assert_eq!(&v[..], &[1, 2]);
/// ```
pub struct Kmalloc;

// SAFETY: `realloc` returns memory from `kmalloc()` or `krealloc()` of at
// least `layout.size()` bytes aligned to `layout.align()` (kmalloc's
// alignment guarantee for a size padded to the alignment),
// keeps the first `min(old, new)` bytes of an old allocation, leaves it
// intact on failure and frees it with `kfree()` semantics, as the trait
// requires; every allocation of it is freed by it or by `kfree()`.
unsafe impl Allocator for Kmalloc {
    const MIN_ALIGN: usize = ARCH_KMALLOC_MINALIGN;

    #[inline(always)]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // kmalloc aligns an object to the largest power of two its size is
        // a multiple of (at least `ARCH_KMALLOC_MINALIGN`), also under SLUB
        // debugging, KASAN and KFENCE: a size padded to the alignment gets
        // it, from `kmalloc()` as from `krealloc()`, which only uses the
        // alignment to decide whether it can keep the old object.
        let layout = layout.pad_to_align();
        // The fast paths, inline: a new allocation on any node (`Box::new`,
        // `Vec::with_capacity`), and a free (`A::free`, a new size of 0).
        if ptr.is_none() && nid == NumaNode::NO_NODE && layout.size() != 0 {
            return Self::alloc_new(layout, flags);
        }
        if layout.size() == 0 && old_layout.size() != 0 {
            if let Some(old) = ptr {
                // SAFETY: `old` is a live allocation of this allocator of
                // `old_layout.size()` bytes (the caller's guarantee), which
                // `kfree()` frees.
                unsafe { bindings::kfree(old.as_ptr().cast()) };
                return Ok(empty(layout, Self::MIN_ALIGN));
            }
        }
        // SAFETY: The caller's guarantees, passed on.
        unsafe { Self::realloc_slow(ptr, layout, old_layout, flags, nid) }
    }

    // The trait's own `alloc` and `free` call `realloc` out of line, where
    // neither the layout nor the flags are constants: these inline, so that
    // `Box::new` picks the cache at compile time, as `kmalloc()` does.
    #[inline(always)]
    fn alloc(layout: Layout, flags: Flags, nid: NumaNode) -> Result<NonNull<[u8]>, AllocError> {
        let layout = layout.pad_to_align();
        if nid == NumaNode::NO_NODE && layout.size() != 0 {
            return Self::alloc_new(layout, flags);
        }
        // SAFETY: `None` asks for a new allocation.
        unsafe { Self::realloc_slow(None, layout, Layout::new::<()>(), flags, nid) }
    }

    #[inline(always)]
    unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: `ptr` is a live allocation of this allocator of
            // `layout.size()` bytes (the caller's guarantee), which `kfree()`
            // frees.
            unsafe { bindings::kfree(ptr.as_ptr().cast()) };
        }
    }
}

impl Kmalloc {
    /// A new allocation for `layout` (padded to its alignment, not of size
    /// 0) on any node: C's `kmalloc()`.
    #[inline(always)]
    fn alloc_new(layout: Layout, flags: Flags) -> Result<NonNull<[u8]>, AllocError> {
        let size = layout.size();
        let gfp = check_request(size, Gfp::from(flags)).map_err(|_| AllocError)?;
        // SAFETY: `kmalloc()` takes any size and flags; the request check
        // refused what would make it warn.
        let new = unsafe { bucket::kmalloc(size, gfp.as_raw()) };
        let new = NonNull::new(new.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(new, size))
    }

    /// [`Allocator::realloc`] in full, for `layout` padded to its
    /// alignment.
    ///
    /// # Safety
    ///
    /// As for [`Allocator::realloc`].
    #[inline(never)]
    unsafe fn realloc_slow(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // An old allocation of size 0 is a dangling pointer, not kmalloc's.
        let old = ptr.filter(|_| old_layout.size() != 0);
        let size = layout.size();
        if size == 0 {
            if let Some(old) = old {
                // SAFETY: `old` is a live allocation of this allocator
                // (the caller's guarantee), which `kfree()` frees.
                unsafe { bindings::kfree(old.as_ptr().cast()) };
            }
            return Ok(empty(layout, Self::MIN_ALIGN));
        }
        let gfp = check_request(size, Gfp::from(flags)).map_err(|_| AllocError)?;
        let node = node_number(nid).ok_or(AllocError)?;
        let new = match old {
            None if node == bindings::NUMA_NO_NODE => {
                // SAFETY: `kmalloc()` takes any size and flags; the request
                // check refused what would make it warn.
                unsafe { bucket::kmalloc(size, gfp.as_raw()) }
            }
            _ => {
                let old = old.map_or(ptr::null_mut(), |old| old.as_ptr().cast());
                // SAFETY: `old` is NULL or a live allocation of this
                // allocator (the caller's guarantee), which `krealloc()`
                // takes; the alignment is a power of two; the request
                // check refused what would make it warn.
                unsafe {
                    bindings::krealloc_node_align(
                        old,
                        size,
                        layout.align() as c_ulong,
                        gfp.as_raw(),
                        node,
                    )
                }
            }
        };
        let new = NonNull::new(new.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(new, size))
    }
}
