// SPDX-License-Identifier: GPL-2.0

//! kvmalloc: kmalloc when it can, vmalloc when it must, as the kernel
//! crate's `Allocator`: [`KVmalloc`].
//!
//! C's `kvmalloc()` first tries kmalloc (physically contiguous, fast), and
//! only if that fails for a request larger than a page, vmalloc (virtually
//! contiguous: any size up to `INT_MAX`, whatever the fragmentation);
//! `kvfree()` frees either. It suits buffers whose size user space or
//! hardware decides: small ones stay cheap, large ones still succeed.
//!
//! | C                                        | Rust                                       |
//! |------------------------------------------|--------------------------------------------|
//! | `kvmalloc(size, gfp)`, `kvzalloc(...)`   | `Box`/`Vec` of the kernel crate on [`KVmalloc`] (`__GFP_ZERO` for kvzalloc) |
//! | `kvrealloc(p, size, gfp)`                | growing a `Vec<T, KVmalloc>`               |
//! | `kvfree(p)`                              | dropping it                                |
//!
//! # Examples
//!
//! ```
//! use kalloc::kvmalloc::KVmalloc;
//! use kalloc::vmalloc::is_vmalloc_addr;
//! use kernel::alloc::{flags::GFP_KERNEL, Vec};
//!
//! // Small: kmalloc. Larger than kmalloc can ever give: vmalloc.
//! let small = Vec::<u8, KVmalloc>::with_capacity(100, GFP_KERNEL)?;
//! assert!(!is_vmalloc_addr(small.as_ptr()));
//! let large = Vec::<u8, KVmalloc>::with_capacity(8 << 20, GFP_KERNEL)?;
//! assert!(is_vmalloc_addr(large.as_ptr()));
//! ```

use crate::gfp::{context_may_sleep, Gfp, Zone};
use crate::kernel_alloc::{empty, node_number};
use crate::kmalloc::ARCH_KMALLOC_MINALIGN;
use crate::vmalloc::{is_vmalloc_addr, GFP_VMALLOC_SUPPORTED};
use core::alloc::Layout;
use core::ptr::{self, NonNull};
use kernel::alloc::{AllocError, Allocator, Flags, NumaNode};
use kernel::bindings;
use kernel::ffi::c_ulong;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// kalloc's kvmalloc path as an [`Allocator`] of the kernel crate: `Box<T,
/// KVmalloc>`, `Vec<T, KVmalloc>`. See the [module documentation](self).
///
/// Requests are checked before C sees them: flags both halves honour
/// (those of the slab allocator and of `GFP_VMALLOC_SUPPORTED`, no zone
/// modifier), at most `INT_MAX` bytes (C would warn), sleeping flags only
/// where sleeping is allowed, and no vmalloc fallback from a hard
/// interrupt (C would `BUG()`). A refused request is an allocation error:
/// so is resizing vmalloc memory where sleeping is not allowed (C may
/// `vfree()` the old area). Freeing there is deferred (`kvfree_atomic()`).
pub struct KVmalloc;

/// The kernel crate's `KVBox` on kalloc's kvmalloc path: a driver moves to
/// it by importing `kalloc::KVBox` instead of the prelude's.
pub type KVBox<T> = kernel::alloc::Box<T, KVmalloc>;

/// The kernel crate's `KVVec` on kalloc's kvmalloc path (see [`KVBox`]).
pub type KVVec<T> = kernel::alloc::Vec<T, KVmalloc>;

/// Returns the flags if kvmalloc can serve `size` bytes with them.
/// Whether a new allocation calls `__kvmalloc_node_noprof()` itself: not
/// where allocation profiling charges call sites, nor where slab buckets or
/// kmalloc partitions add parameters to it (then `kvrealloc` serves).
const NEW_IS_KVMALLOC: bool = !cfg!(CONFIG_MEM_ALLOC_PROFILING)
    && !cfg!(CONFIG_SLAB_BUCKETS)
    && !cfg!(CONFIG_KMALLOC_PARTITION_CACHES);

#[inline]
pub(crate) fn check_request(flags: Gfp, size: usize) -> Result<Gfp> {
    let flags = flags.check_slab()?;
    if flags.zone()? != Zone::Normal || !GFP_VMALLOC_SUPPORTED.contains(flags) {
        return Err(EINVAL);
    }
    if size > i32::MAX as usize {
        return Err(ENOMEM);
    }
    if size > PAGE_SIZE && crate::context::in_hardirq() {
        return Err(EAGAIN);
    }
    Ok(flags)
}

// SAFETY: `realloc` returns memory from `kvrealloc_node_align()` of at
// least `layout.size()` bytes aligned to `layout.align()` (kmalloc's
// alignment for a padded size, or vmalloc's page alignment), which keeps
// the first `min(old, new)` bytes of an old allocation and leaves it intact
// on failure; size 0 frees with `kvfree()` (or `kvfree_atomic()`). Every
// allocation of it is freed by it or by `kvfree()`.
unsafe impl Allocator for KVmalloc {
    const MIN_ALIGN: usize = ARCH_KMALLOC_MINALIGN;

    #[inline]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // A size padded to the alignment gets it from kmalloc (see
        // `Kmalloc`); vmalloc memory is page-aligned.
        let layout = layout.pad_to_align();
        let old = ptr.filter(|_| old_layout.size() != 0);
        let size = layout.size();
        if size == 0 {
            if let Some(old) = old {
                // `vfree()` may sleep; `kvfree_atomic()` defers it.
                // SAFETY: `old` is a live allocation of this allocator (the
                // caller's guarantee), which both free.
                unsafe {
                    if context_may_sleep() {
                        bindings::kvfree(old.as_ptr().cast());
                    } else {
                        bindings::kvfree_atomic(old.as_ptr().cast());
                    }
                }
            }
            return Ok(empty(layout, Self::MIN_ALIGN));
        }
        // Resizing vmalloc memory may `vfree()` the old area inside C.
        if old.is_some_and(|old| is_vmalloc_addr(old.as_ptr())) && !context_may_sleep() {
            return Err(AllocError);
        }
        let gfp = check_request(Gfp::from(flags), size).map_err(|_| AllocError)?;
        let node = node_number(nid).ok_or(AllocError)?;
        if old.is_none() && NEW_IS_KVMALLOC {
            // A new allocation: what C's `kvmalloc_node_align()` calls
            // (with allocation profiling, `kvrealloc` below charges it).
            // SAFETY: The alignment is a power of two; the request check
            // refused what would make C warn or `BUG()`.
            let new = unsafe {
                crate::ffi::kvmalloc_node(
                    size,
                    ptr::null_mut(),
                    layout.align() as c_ulong,
                    gfp.as_raw(),
                    node,
                )
            };
            let new = NonNull::new(new.cast::<u8>()).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(new, size));
        }
        let old = old.map_or(ptr::null_mut(), |old| old.as_ptr().cast());
        // SAFETY: `old` is NULL or a live allocation of this allocator (the
        // caller's guarantee); the alignment is a power of two; the request
        // check refused what would make C warn or `BUG()`.
        let new = unsafe {
            bindings::kvrealloc_node_align(old, size, layout.align() as c_ulong, gfp.as_raw(), node)
        };
        let new = NonNull::new(new.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(new, size))
    }

    // The trait's own `alloc` and `free` call `realloc` out of line: these
    // inline it, so that the layout and the flags fold in the caller.
    #[inline(always)]
    fn alloc(layout: Layout, flags: Flags, nid: NumaNode) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `None` asks for a new allocation.
        unsafe { Self::realloc(None, layout, Layout::new::<()>(), flags, nid) }
    }

    #[inline(always)]
    unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: The caller's guarantees: `ptr` is a live allocation of
        // this allocator, of `layout`; a new size of 0 frees it.
        let _ = unsafe {
            Self::realloc(
                Some(ptr),
                Layout::new::<()>(),
                layout,
                kernel::alloc::flags::GFP_NOWAIT,
                NumaNode::NO_NODE,
            )
        };
    }
}

#[cfg(kalloc_selftest)]
mod tests;
