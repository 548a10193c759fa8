// SPDX-License-Identifier: GPL-2.0

//! Allocation from any context: NMI handlers, tracing, code under raw
//! spinlocks (C's `kmalloc_nolock()` and `alloc_pages_nolock()`).
//!
//! Where kalloc's other allocators answer `EAGAIN` (NMI context, or
//! sleeping flags where sleeping is not allowed), these try the
//! allocator's lock-free and trylock paths only. They never sleep, never
//! wait for a lock and never reclaim memory, so they fail more often: a
//! failure is `ENOMEM`, and trying again at once will not help. Each
//! allocation is freed by the matching free wherever it is dropped.
//!
//! They take only the flags C allows there: [`__GFP_ZERO`],
//! [`__GFP_ACCOUNT`], and [`__GFP_NOWARN`]/[`__GFP_NOMEMALLOC`], which C
//! adds anyway ([`Gfp::NONE`] for none). Other flags are `EINVAL`, as are
//! sizes C would refuse (a failure that no retry can fix, rather than a
//! warning or a silent `NULL`).
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{Gfp, __GFP_ZERO};
//! use kalloc::nolock::{KmallocNolock, NolockBox, NolockPages};
//!
//! // An NMI handler or a tracepoint could do this: nothing here waits.
//! let sample: NolockBox<[u64; 4]> = KmallocNolock::new_box([1, 2, 3, 4], Gfp::NONE)?;
//! let mut ring = NolockPages::alloc(1, Gfp::NONE)?; // two pages, zeroed
//! ring.as_mut_slice()[..8].copy_from_slice(&sample[3].to_ne_bytes());
//! assert!(ring.as_slice()[8..].iter().all(|&b| b == 0));
//! // The kernel crate's containers too (its flags: `__GFP_ZERO`, `__GFP_NOWARN`).
//! let mut v = kalloc::nolock::NolockVec::new();
//! v.push(7u32, kernel::alloc::flags::__GFP_ZERO)?;
//! assert_eq!((sample[0], v[0]), (1, 7));
//! # let _ = __GFP_ZERO;
//! ```

use crate::ffi;
use crate::gfp::{as_gfp, Gfp, Node, __GFP_ACCOUNT, __GFP_NOMEMALLOC, __GFP_ZERO};
use crate::kernel_alloc::{empty, node_number};
use crate::kmalloc::ARCH_KMALLOC_MINALIGN;
use core::alloc::Layout;
use core::ptr::{self, NonNull};
use kernel::alloc::{AllocError, Allocator, Flags, NumaNode};
use kernel::{bindings, prelude::*};

/// The largest request [`KmallocNolock`] serves, in bytes
/// (`KMALLOC_MAX_CACHE_SIZE`: C's nolock path has no large kmalloc).
pub const NOLOCK_MAX_SIZE: usize = bindings::KMALLOC_MAX_CACHE_SIZE as usize;

/// The largest order [`NolockPages`] serves (`PAGE_ALLOC_COSTLY_ORDER`:
/// C's nolock path takes pages from the per-CPU lists only).
pub const NOLOCK_MAX_ORDER: u32 = bindings::PAGE_ALLOC_COSTLY_ORDER;

/// The flags C's nolock allocators take.
const ALLOWED: Gfp = as_gfp::__GFP_ZERO
    .union(__GFP_ACCOUNT)
    .union(as_gfp::__GFP_NOWARN)
    .union(__GFP_NOMEMALLOC);

/// Returns `flags` if C's nolock allocators take them.
///
/// # Errors
///
/// `EINVAL` for any other flag (reclaim flags included: `GFP_ATOMIC` and
/// `GFP_NOWAIT` wake kswapd, which is not safe in every context).
#[inline]
fn check(flags: Gfp) -> Result<Gfp> {
    if flags.without(ALLOWED) != Gfp::NONE {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// `kmalloc_nolock()` as an [`Allocator`] of the kernel crate: `Box<T,
/// KmallocNolock>` ([`NolockBox`]) and `Vec<T, KmallocNolock>`
/// ([`NolockVec`]) allocate and free in any context.
///
/// Memory is freed with `kfree_nolock()`, which, unlike `kfree()`, may run
/// in NMI context and under raw spinlocks. Growing a vector allocates anew
/// and copies (C has no nolock `krealloc()`). Flags the nolock path does
/// not take and requests above [`NOLOCK_MAX_SIZE`] fail before C sees
/// them; the kernel crate's containers report that as `AllocError`,
/// [`KmallocNolock::new_box`] as `EINVAL`.
pub struct KmallocNolock;

/// A box that allocates and frees in any context.
pub type NolockBox<T> = kernel::alloc::Box<T, KmallocNolock>;

/// A vector that allocates and frees in any context.
pub type NolockVec<T> = kernel::alloc::Vec<T, KmallocNolock>;

impl KmallocNolock {
    /// `size` bytes on `node` from C's `kmalloc_nolock()`, or `NULL`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags the nolock path does not take, or more than
    /// [`NOLOCK_MAX_SIZE`] bytes.
    #[inline]
    fn raw_alloc(size: usize, flags: Gfp, node: i32) -> Result<*mut u8> {
        let flags = check(flags)?;
        if size > NOLOCK_MAX_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `kmalloc_nolock()` may be called in any context, with
        // these flags, a size it serves, and a node that is `NUMA_NO_NODE`
        // or online (the callers' `Node` or `node_number()`).
        Ok(unsafe { ffi::kalloc_kmalloc_nolock(size, flags.as_raw(), node) }.cast())
    }

    /// Moves `value` into memory from C's `kmalloc_nolock()`. Works in any
    /// context.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags other than those in the module documentation, or
    /// a `T` larger than [`NOLOCK_MAX_SIZE`]; `ENOMEM` if C found no free
    /// object without waiting.
    #[inline]
    pub fn new_box<T>(value: T, flags: impl Into<Gfp>) -> Result<NolockBox<T>> {
        Self::new_box_on(value, flags, Node::ANY)
    }

    /// Moves `value` into memory of node `node` from C's
    /// `kmalloc_nolock()`, as [`KmallocNolock::new_box`].
    ///
    /// # Errors
    ///
    /// As for [`KmallocNolock::new_box`].
    #[inline]
    pub fn new_box_on<T>(value: T, flags: impl Into<Gfp>, node: Node) -> Result<NolockBox<T>> {
        let size = size_of::<T>();
        let ptr = if size == 0 {
            let _ = check(flags.into())?;
            NonNull::<T>::dangling()
        } else {
            // kmalloc aligns an object to the largest power of two its
            // size is a multiple of: a `T`'s size is a multiple of its
            // alignment.
            let raw = Self::raw_alloc(size, flags.into(), node.id())?;
            NonNull::new(raw.cast::<T>()).ok_or(ENOMEM)?
        };
        // SAFETY: `ptr` is valid for writing a `T`: a fresh allocation of
        // `size_of::<T>()` bytes aligned for `T`, or dangling and aligned
        // for a zero-sized `T`.
        unsafe { ptr.write(value) };
        // SAFETY: `ptr` holds a valid `T` in memory that `KmallocNolock`
        // frees (`kfree_nolock()`), or dangling for a zero-sized `T`.
        Ok(unsafe { NolockBox::from_raw(ptr.as_ptr()) })
    }

    /// `len` zeroed values of `T` in memory from C's `kmalloc_nolock()`
    /// (with `__GFP_ZERO`). Works in any context.
    ///
    /// # Errors
    ///
    /// As for [`KmallocNolock::new_box`]; `EOVERFLOW` if the size in bytes
    /// overflows.
    #[inline]
    pub fn new_zeroed_slice<T: Zeroable>(
        len: usize,
        flags: impl Into<Gfp>,
    ) -> Result<NolockBox<[T]>> {
        let size = crate::request::array_size::<T>(len)?;
        let flags = flags.into() | __GFP_ZERO;
        let ptr = if size == 0 {
            let _ = check(flags)?;
            NonNull::<T>::dangling()
        } else {
            let raw = Self::raw_alloc(size, flags, bindings::NUMA_NO_NODE)?;
            NonNull::new(raw.cast::<T>()).ok_or(ENOMEM)?
        };
        let slice = ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len);
        // SAFETY: `slice` is `len` zeroed values of `T`, valid since `T:
        // Zeroable`, in memory that `KmallocNolock` frees, or dangling for
        // a size of 0.
        Ok(unsafe { NolockBox::from_raw(slice) })
    }
}

// SAFETY: `realloc` returns `kmalloc_nolock()` memory of `layout.size()`
// bytes or more, aligned (kmalloc aligns a size padded to the alignment),
// copies the first `min(old, new)` bytes of an old allocation, leaves it
// intact on failure and frees it, as every allocation, with `kfree_nolock()`.
unsafe impl Allocator for KmallocNolock {
    const MIN_ALIGN: usize = ARCH_KMALLOC_MINALIGN;

    #[inline]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let layout = layout.pad_to_align();
        // An old allocation of size 0 is a dangling pointer, not kmalloc's.
        let old = ptr.filter(|_| old_layout.size() != 0);
        let size = layout.size();
        if size == 0 {
            if let Some(old) = old {
                // SAFETY: `old` is a live allocation of this allocator (the
                // caller's guarantee), which `kfree_nolock()` frees.
                unsafe { bindings::kfree_nolock(old.as_ptr().cast()) };
            }
            return Ok(empty(layout, Self::MIN_ALIGN));
        }
        let node = node_number(nid).ok_or(AllocError)?;
        let new = Self::raw_alloc(size, Gfp::from(flags), node).map_err(|_| AllocError)?;
        let new = NonNull::new(new).ok_or(AllocError)?;
        if let Some(old) = old {
            // SAFETY: `old` holds `old_layout.size()` bytes (the caller's
            // guarantee) and `new` `size` bytes; they are distinct objects.
            unsafe {
                ptr::copy_nonoverlapping(old.as_ptr(), new.as_ptr(), old_layout.size().min(size))
            };
            // SAFETY: `old` is a live allocation of this allocator, which
            // the caller no longer uses once it has the new one.
            unsafe { bindings::kfree_nolock(old.as_ptr().cast()) };
        }
        Ok(NonNull::slice_from_raw_parts(new, size))
    }
}

/// A block of `2^order` zeroed pages from C's `alloc_pages_nolock()`, which
/// works in any context; freed with the free that suits the context it is
/// dropped in.
///
/// Dropped in NMI context (or, on `PREEMPT_RT`, where sleeping is not
/// allowed) the block is handed to an IRQ work item that frees it with
/// `__free_pages()` once interrupts are enabled again, as C's
/// `free_pages_nolock()` does, which is not exported to modules. The IRQ
/// work runs this module's code: module unloading waits for an RCU grace
/// period before it frees that code (`free_module()`), and a CPU with an
/// IRQ work pending takes the interrupt before it can pass one.
/// Elsewhere the block is freed at once with `__free_pages()`.
///
/// # Invariants
///
/// `page` is the first page of a block of `2^order` pages from
/// `alloc_pages_nolock()`, in lowmem, that only this value owns; every byte
/// of it is initialised.
pub struct NolockPages {
    page: NonNull<bindings::page>,
    order: u32,
}

// SAFETY: The block is plain memory that only this value owns; any task may
// free it.
unsafe impl Send for NolockPages {}

// SAFETY: `&NolockPages` only reads the bytes.
unsafe impl Sync for NolockPages {}

impl NolockPages {
    /// `2^order` zeroed pages on any node. Works in any context.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an order above [`NOLOCK_MAX_ORDER`] or flags other than
    /// those in the module documentation; `ENOMEM` if C found no free
    /// block without waiting.
    #[inline]
    pub fn alloc(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        Self::alloc_on(order, flags, Node::ANY)
    }

    /// `2^order` zeroed pages on node `node`, as [`NolockPages::alloc`].
    ///
    /// # Errors
    ///
    /// As for [`NolockPages::alloc`].
    #[inline]
    pub fn alloc_on(order: u32, flags: impl Into<Gfp>, node: Node) -> Result<Self> {
        let flags = check(flags.into())?;
        if order > NOLOCK_MAX_ORDER {
            return Err(EINVAL);
        }
        // Only `__GFP_ACCOUNT`: C adds the others itself, and Linux 7.2
        // warns at any other.
        let raw = flags.as_raw() & __GFP_ACCOUNT.as_raw();
        // SAFETY: `alloc_pages_nolock()` may be called in any context, with
        // `__GFP_ACCOUNT` or no flag, an order it serves and a node that is
        // `NUMA_NO_NODE` or was online (`Node`'s invariant).
        let page = unsafe { ffi::kalloc_alloc_pages_nolock(raw, node.id(), order) };
        // INVARIANT: C zeroes every block of its nolock path
        // (`__GFP_ZERO`), never from highmem (no `__GFP_HIGHMEM`).
        NonNull::new(page)
            .map(|page| Self { page, order })
            .ok_or(ENOMEM)
    }

    /// The order of the block.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// The size of the block in bytes.
    pub fn size(&self) -> usize {
        bindings::PAGE_SIZE << self.order
    }

    /// The first `struct page` of the block.
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The block's kernel address.
    fn address(&self) -> *mut u8 {
        // SAFETY: `page` is a lowmem page (the type invariants), which has
        // a kernel address.
        unsafe { ffi::kalloc_page_address(self.page.as_ptr()) }.cast()
    }

    /// The bytes of the block.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: The block is `self.size()` initialised bytes at its
        // address, owned by `self` and only written through `&mut self`.
        unsafe { core::slice::from_raw_parts(self.address(), self.size()) }
    }

    /// The bytes of the block, to write.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: As for `as_slice`; `&mut self` is the only access.
        unsafe { core::slice::from_raw_parts_mut(self.address(), self.size()) }
    }
}

impl Drop for NolockPages {
    fn drop(&mut self) {
        let defer =
            crate::context::in_nmi() || (cfg!(CONFIG_PREEMPT_RT) && !crate::context::may_sleep());
        if defer {
            // SAFETY: The block is this value's (the type invariants), in
            // lowmem, not used after this; the shim may run in any context.
            unsafe { ffi::kalloc_defer_free_pages(self.page.as_ptr(), self.order) };
        } else {
            // SAFETY: The block is this value's, from the page allocator, of
            // this order; outside NMI context `__free_pages()` may run.
            unsafe { bindings::__free_pages(self.page.as_ptr(), self.order) };
        }
    }
}

#[cfg(kalloc_selftest)]
mod tests;
