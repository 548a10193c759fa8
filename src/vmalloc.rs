// SPDX-License-Identifier: GPL-2.0

//! vmalloc: large, virtually contiguous buffers as an owning type, [`VBuf`].
//!
//! `kmalloc()` hands out memory that is contiguous in *physical* memory, so
//! a request can be no larger than the biggest block the page allocator
//! has (4 MiB on x86-64), and large requests fail once memory is
//! fragmented. `vmalloc()` takes single pages from wherever they are and
//! maps them side by side into the kernel's vmalloc area: the CPU sees one
//! contiguous buffer, the physical pages behind it need not be. It is the
//! allocator for big buffers that only the CPU touches (tables, firmware
//! images, module text): not for DMA, and slower than kmalloc (page tables,
//! TLB entries). It may sleep.
//!
//! | C                                       | Rust                                   |
//! |-----------------------------------------|----------------------------------------|
//! | `vmalloc(size)`, `__vmalloc(size, gfp)` | [`VBuf::new_uninit`], [`VBuf::from_fn`] |
//! | `vmalloc_node()`, `vzalloc_node()`      | [`VBuf::new_uninit_on`]                |
//! | `vzalloc(size)`                         | [`VBuf::zeroed`]                       |
//! | `vrealloc(p, size, gfp)`                | [`VBuf::resize`]                       |
//! | `vfree(p)`                              | dropping the [`VBuf`]                  |
//! | `vmalloc_to_page(p)`                    | [`AsPageIter::page_iter`] on a [`VBuf`] |
//! | `vmalloc_to_pfn(p)`                     | [`VBuf::pfns`]                         |
//! | `is_vmalloc_addr(p)`                    | [`is_vmalloc_addr`]                    |
//!
//! What C leaves to the caller, [`VBuf`] checks before it calls C:
//!
//! - The size is `len * size_of::<T>()`, computed without overflow
//!   (`EOVERFLOW`) and never zero (`EINVAL`: C WARNs on a zero size).
//! - The flags are ones `__vmalloc()` supports (`EINVAL`: C WARNs on zone
//!   modifiers such as `GFP_DMA32` and drops them).
//! - The flags follow C (`GFP_VMALLOC_SUPPORTED`): `GFP_ATOMIC` and
//!   `GFP_NOWAIT` allocate without sleeping, from atomic context too (not
//!   from a hard interrupt or NMI: `EAGAIN`, where C would `BUG()`), and
//!   `__GFP_NOFAIL` with a sleeping class is the way to a large buffer that
//!   cannot fail. Flags that may sleep, from a context that cannot (spinlock
//!   held, preemption or interrupts disabled, RCU read-side critical
//!   section, interrupt), are refused with `EAGAIN` instead of sleeping
//!   there.
//! - A buffer dropped where sleeping is not allowed is freed with
//!   `vfree_atomic()` (deferred to a workqueue), because `vfree()` may sleep.
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{GFP_KERNEL, __GFP_NOWARN};
//! use kalloc::vmalloc::VBuf;
//!
//! // 16 MiB of zeroed u32s: far beyond what kmalloc can give.
//! let mut table = VBuf::<u32>::zeroed(4 << 20, GFP_KERNEL | __GFP_NOWARN)?;
//! table[12345] = 42;
//! assert!(table.iter().filter(|&&x| x != 0).count() == 1);
//! // `vfree()` runs here, when `table` goes out of scope.
//! ```

use crate::ffi;
use crate::gfp::Node;
use crate::request::array_size;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use kernel::alloc::{allocator::VmallocPageIter, VVec};
use kernel::bindings;
use kernel::page::{AsPageIter, PAGE_SIZE};
use kernel::prelude::*;

use crate::gfp::{
    as_gfp, context_may_sleep, Gfp, __GFP_NOFAIL, __GFP_NOLOCKDEP, __GFP_NORETRY,
    __GFP_RETRY_MAYFAIL, GFP_NOFS, GFP_NOIO, GFP_USER,
};

/// The fewest bytes kalloc asks vmalloc for. `vfree_atomic()` links the
/// area it defers through its first bytes (a `struct llist_node`), so an
/// area of fewer bytes would be written past its end (KASAN reports it).
const MIN_VMALLOC_SIZE: usize = size_of::<*mut c_void>();

/// Checks a vmalloc request of `size` bytes (not zero) with `flags`, for
/// [`VBuf`] and [`Vmalloc`] alike.
///
/// # Errors
///
/// `EOVERFLOW` above `isize::MAX` bytes; as [`Gfp::check`] (`EAGAIN` for
/// sleeping flags where sleeping is not allowed, `EINVAL` for
/// `__GFP_NOFAIL` without sleeping); `EINVAL` for flags vmalloc does not
/// take; `EAGAIN` in hard interrupt or NMI context.
#[inline(always)]
fn check_request(size: usize, flags: Gfp) -> Result<Gfp> {
    // No Rust object may be larger, and vmalloc has no limit of its own
    // that would refuse it first.
    if size > isize::MAX as usize {
        return Err(EOVERFLOW);
    }
    let flags = flags.check()?;
    if !GFP_VMALLOC_SUPPORTED.contains(flags) {
        return Err(EINVAL);
    }
    // vmalloc BUG()s in hard interrupt (and NMI) context.
    if crate::context::in_hardirq() {
        return Err(EAGAIN);
    }
    Ok(flags)
}

/// The flags `__vmalloc()` accepts: C's `GFP_VMALLOC_SUPPORTED`, which is
/// private to `mm/vmalloc.c`. Any other flag makes C WARN and drop it.
pub(crate) const GFP_VMALLOC_SUPPORTED: Gfp = as_gfp::GFP_KERNEL
    .union(as_gfp::GFP_ATOMIC)
    .union(as_gfp::GFP_NOWAIT)
    .union(__GFP_NOFAIL)
    .union(as_gfp::__GFP_ZERO)
    .union(__GFP_NORETRY)
    .union(__GFP_RETRY_MAYFAIL)
    .union(GFP_NOFS)
    .union(GFP_NOIO)
    .union(as_gfp::GFP_KERNEL_ACCOUNT)
    .union(GFP_USER)
    .union(__GFP_NOLOCKDEP);

/// Whether `ptr` points into the vmalloc area (C's `is_vmalloc_addr()`):
/// memory from `vmalloc()` (or `vmap()`), as opposed to the kernel's
/// direct map (kmalloc, pages) or its image.
pub fn is_vmalloc_addr<T: ?Sized>(ptr: *const T) -> bool {
    // SAFETY: `is_vmalloc_addr()` only compares the address with the bounds
    // of the vmalloc area; it does not access memory.
    unsafe { bindings::is_vmalloc_addr(ptr.cast()) }
}

/// Unmaps the vmap layer's lazy mappings now (C's `vm_unmap_aliases()`).
///
/// A freed vmalloc area keeps its addresses, and CPUs their TLB entries
/// for it, until enough frees are pending to flush them in one batch; only
/// then can the addresses be handed out again. After this call no page has
/// an alias left in the vmalloc area: for memory whose attributes change
/// (`set_memory_*()`), or to start from a known state. It flushes the TLBs
/// of every CPU: slow.
///
/// # Errors
///
/// `EAGAIN` where sleeping is not allowed (it takes a mutex).
pub fn vm_unmap_aliases() -> Result {
    if !context_may_sleep() {
        return Err(EAGAIN);
    }
    // SAFETY: `vm_unmap_aliases()` takes no arguments and may be called
    // wherever sleeping is allowed, as here.
    unsafe { ffi::vm_unmap_aliases() };
    Ok(())
}

/// An owned buffer of `len` values of type `T` in vmalloc memory: the
/// kernel crate's `Vec<T, Vmalloc>` (kalloc's [`VVec`](crate::VVec)) with
/// what that vector cannot have: every flag vmalloc takes and the reason a
/// request was refused (`EOVERFLOW`, `EINVAL`, `EAGAIN`, `ENOMEM`), where
/// `Vec` takes the kernel crate's `Flags` and fails with `AllocError`; and
/// always an allocation, whose pages [`VBuf::pfns`] and
/// [`AsPageIter::page_iter`] walk.
///
/// Allocated with `__vmalloc()` ([`VBuf::new_uninit`], [`VBuf::from_fn`])
/// or with `__GFP_ZERO`, C's `vzalloc()` ([`VBuf::zeroed`]); freed with
/// `vfree()` when dropped. It dereferences to `[T]`.
///
/// # Invariants
///
/// The vector has an allocation from vmalloc, of a non-zero size (so `T`
/// is not zero-sized).
pub struct VBuf<T>(kernel::alloc::Vec<T, Vmalloc>);

impl<T> VBuf<T> {
    /// The size in bytes of `len` values and the flags, checked for vmalloc
    /// (see the module documentation).
    fn check(len: usize, flags: Gfp) -> Result<(usize, Gfp)> {
        const {
            assert!(
                align_of::<T>() <= PAGE_SIZE,
                "vmalloc memory is only page-aligned"
            )
        };
        let size = array_size::<T>(len)?;
        if size == 0 {
            return Err(EINVAL);
        }
        Ok((size, check_request(size, flags)?))
    }

    /// Allocates room for `len` values with `__vmalloc(size, flags)` on
    /// `node`, after the checks in the module documentation, as a vector of
    /// `len` values of which the first `init` are initialised.
    ///
    /// # Safety
    ///
    /// `init <= len`, and `flags` initialise the first `init` values.
    #[inline]
    unsafe fn alloc(len: usize, init: usize, flags: Gfp, node: Node) -> Result<Self> {
        let (size, flags) = Self::check(len, flags)?;
        // SAFETY: `size` is not zero, the flags are supported by vmalloc, and
        // sleeping ones come only where the context may sleep (`check()`);
        // this is not hard interrupt or NMI context; `node` is
        // `NUMA_NO_NODE` or was online (`Node`'s invariant).
        let ptr = unsafe {
            ffi::kalloc_vmalloc_node(size.max(MIN_VMALLOC_SIZE), flags.as_raw(), node.id())
        };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: A vmalloc allocation of `size` bytes, not zero.
        // SAFETY: It is what `Vmalloc` allocates for `len` values (vmalloc
        // memory is page-aligned, so aligned for `T`), at most `isize::MAX`
        // bytes (`check()`); the first `init` values are initialised (the
        // caller's guarantee).
        Ok(Self(unsafe {
            kernel::alloc::Vec::from_raw_parts(ptr.as_ptr(), init, len)
        }))
    }

    /// Allocates an uninitialised buffer of `len` values (C's `vmalloc()`,
    /// or `vzalloc()` if `flags` holds `__GFP_ZERO`).
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `len * size_of::<T>()` overflows, `EINVAL`
    /// for a zero size or flags vmalloc does not take, `EAGAIN` in a
    /// context that cannot sleep, `ENOMEM` if the memory is not there (add
    /// `__GFP_NOWARN` when that is expected).
    #[inline]
    pub fn new_uninit(len: usize, flags: impl Into<Gfp>) -> Result<VBuf<MaybeUninit<T>>> {
        Self::new_uninit_on(len, flags, Node::ANY)
    }

    /// [`VBuf::new_uninit`] with the pages from node `node` (C's
    /// `vmalloc_node()` for `GFP_KERNEL`; with any flags, `__vmalloc_node()`,
    /// which only the kernel may call: kalloc uses `vrealloc_node(NULL,
    /// ...)`, documented to behave exactly as it).
    ///
    /// # Errors
    ///
    /// As for [`VBuf::new_uninit`].
    #[inline]
    pub fn new_uninit_on(
        len: usize,
        flags: impl Into<Gfp>,
        node: Node,
    ) -> Result<VBuf<MaybeUninit<T>>> {
        // SAFETY: A `MaybeUninit` needs no initialisation.
        unsafe { VBuf::alloc(len, len, flags.into(), node) }
    }

    /// Allocates a buffer of `len` zeroed values (C's `vzalloc()`).
    ///
    /// # Errors
    ///
    /// As for [`VBuf::new_uninit`].
    #[inline]
    pub fn zeroed(len: usize, flags: impl Into<Gfp>) -> Result<Self>
    where
        T: Zeroable,
    {
        let flags: Gfp = flags.into();
        // SAFETY: `__GFP_ZERO` zeroes the `len` values, and zero bytes are a
        // valid `T` (`T: Zeroable`).
        unsafe { Self::alloc(len, len, flags | as_gfp::__GFP_ZERO, Node::ANY) }
    }

    /// Allocates a buffer of `len` values (C's `vmalloc()`) and sets the
    /// value at each index `i` to `f(i)`.
    ///
    /// # Errors
    ///
    /// As for [`VBuf::new_uninit`].
    #[inline]
    pub fn from_fn(
        len: usize,
        flags: impl Into<Gfp>,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<Self> {
        // SAFETY: No value is initialised yet.
        let mut buf = unsafe { Self::alloc(len, 0, flags.into(), Node::ANY)? };
        for i in 0..len {
            // Within the capacity: no allocation, and no error.
            buf.0.push_within_capacity(f(i)).map_err(|_| ENOMEM)?;
        }
        Ok(buf)
    }

    /// The page frame number of each page of the buffer's allocation, in the order of
    /// their virtual addresses (C's `vmalloc_to_pfn()` on each page).
    ///
    /// Consecutive pages of the buffer are consecutive in virtual memory;
    /// their page frames can be anywhere in physical memory.
    pub fn pfns(&self) -> impl Iterator<Item = usize> + '_ {
        let base = self.0.as_ptr().cast::<u8>();
        (0..self.size().div_ceil(PAGE_SIZE)).map(move |i| {
            // `wrapping_add` stays within the allocation: `i * PAGE_SIZE`
            // is less than its size.
            let page = base.wrapping_add(i * PAGE_SIZE);
            // SAFETY: `page` is an address inside this vmalloc allocation,
            // which `&self` keeps mapped.
            unsafe { bindings::vmalloc_to_pfn(page.cast()) }
        })
    }

    /// The size of the allocation in bytes.
    fn size(&self) -> usize {
        // No overflow: it is the size of the allocation.
        self.0.capacity() * size_of::<T>()
    }
}

impl<T: Copy> VBuf<T> {
    /// Resizes the buffer to `new_len` values with C's `vrealloc()`: the
    /// first `min(len, new_len)` values stay, new ones are `value`. C
    /// shrinks in place and grows in place where the area has room, else
    /// moves the values to a new area and frees the old one.
    ///
    /// # Errors
    ///
    /// As for [`VBuf::new_uninit`], and `EAGAIN` wherever sleeping
    /// is not allowed, whatever the flags (`vrealloc()` may free the old
    /// area, and `vfree()` may sleep). On an error the buffer is unchanged.
    #[inline]
    pub fn resize(&mut self, new_len: usize, value: T, flags: impl Into<Gfp>) -> Result {
        let flags: Gfp = flags.into();
        let (size, flags) = Self::check(new_len, flags)?;
        if !context_may_sleep() {
            return Err(EAGAIN);
        }
        // SAFETY: By the type invariant the vector's allocation is from
        // vmalloc; `size` is not zero and the flags are supported by
        // vmalloc, in a context that may sleep; on failure C leaves the old
        // allocation as it was.
        let new = unsafe {
            ffi::kalloc_vrealloc(
                self.0.as_mut_ptr().cast(),
                size.max(MIN_VMALLOC_SIZE),
                flags.as_raw(),
            )
        };
        let new = NonNull::new(new.cast::<T>()).ok_or(ENOMEM)?;
        // The old allocation is `vrealloc()`'s now, and so are the values
        // it kept; those cut off by a shrink are `Copy`: nothing to drop.
        let kept = self.0.len().min(new_len);
        let _ = core::mem::take(&mut self.0).into_raw_parts();
        // INVARIANT: `new` is the vmalloc allocation of `size` bytes that
        // replaced the old one (C freed that, or kept it as `new`), with
        // its first `kept` values copied or kept by C.
        // SAFETY: As above; `size` is at most `isize::MAX` (`check()`).
        self.0 = unsafe { kernel::alloc::Vec::from_raw_parts(new.as_ptr(), kept, new_len) };
        for slot in &mut self.0.spare_capacity_mut()[..new_len - kept] {
            slot.write(value);
        }
        // SAFETY: The values up to `new_len` were just written.
        unsafe { self.0.inc_len(new_len - kept) };
        Ok(())
    }
}

impl<T> VBuf<MaybeUninit<T>> {
    /// Declares every value initialised.
    ///
    /// # Safety
    ///
    /// Every value of the buffer must have been initialised.
    pub unsafe fn assume_init(self) -> VBuf<T> {
        let (ptr, len, capacity) = self.0.into_raw_parts();
        // INVARIANT: The same allocation; `MaybeUninit<T>` has the layout
        // of `T`.
        // SAFETY: The vector's allocation, for `capacity` values of `T`,
        // whose first `len` are initialised (the caller's guarantee).
        VBuf(unsafe { kernel::alloc::Vec::from_raw_parts(ptr.cast(), len, capacity) })
    }
}

impl<T> Deref for VBuf<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for VBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// The vector itself: kalloc's [`VVec`](crate::VVec), for everything the
/// kernel crate's `Vec` does.
impl<T> From<VBuf<T>> for kernel::alloc::Vec<T, Vmalloc> {
    fn from(b: VBuf<T>) -> Self {
        b.0
    }
}

/// The same allocation as the kernel crate's own `VVec<T>`, without
/// copying: both free with `vfree()`. The vector's length is `len()`.
impl<T> From<VBuf<T>> for VVec<T> {
    fn from(b: VBuf<T>) -> VVec<T> {
        let (ptr, len, capacity) = b.0.into_raw_parts();
        // SAFETY: By the type invariant `ptr` is a vmalloc allocation of
        // `capacity * size_of::<T>()` bytes (non-zero and no more than
        // `isize::MAX`), page-aligned, holding `len` valid values: what
        // `VVec`'s allocator (`vrealloc()`/`vfree()`) allocates.
        unsafe { VVec::from_raw_parts(ptr, len, capacity) }
    }
}

/// The same allocation as a [`VBuf`], without copying: its length is the
/// vector's; spare capacity stays allocated (and goes back to a vector
/// with it) until the buffer is freed or resized.
impl<T> TryFrom<kernel::alloc::Vec<T, Vmalloc>> for VBuf<T> {
    type Error = Error;

    /// # Errors
    ///
    /// `EINVAL` for a vector without an allocation (empty, or of
    /// zero-sized values): a `VBuf` always has memory. The vector is
    /// dropped then.
    fn try_from(v: kernel::alloc::Vec<T, Vmalloc>) -> Result<VBuf<T>> {
        if v.capacity() == 0 || size_of::<T>() == 0 {
            return Err(EINVAL);
        }
        // INVARIANT: `Vmalloc`'s allocation, of a non-zero size.
        Ok(VBuf(v))
    }
}

/// The kernel crate's own `VVec<T>` as a [`VBuf`], without copying.
impl<T> TryFrom<VVec<T>> for VBuf<T> {
    type Error = Error;

    /// # Errors
    ///
    /// `EINVAL` for an empty vector (or one of zero-sized values): a
    /// `VBuf` always has memory. The vector is dropped then.
    fn try_from(v: VVec<T>) -> Result<VBuf<T>> {
        if v.is_empty() || size_of::<T>() == 0 {
            return Err(EINVAL);
        }
        let (ptr, len, capacity) = v.into_raw_parts();
        // SAFETY: The vector's allocation, from vmalloc (`vrealloc()`) for
        // `capacity` values, a non-zero size no larger than `isize::MAX`,
        // holding `len <= capacity` valid values: what `Vmalloc` frees.
        let v = unsafe { kernel::alloc::Vec::from_raw_parts(ptr, len, capacity) };
        // INVARIANT: A vmalloc allocation of a non-zero size.
        Ok(VBuf(v))
    }
}

/// Walks the pages behind the buffer with `vmalloc_to_page()`, for APIs
/// that take pages (such as scatter-gather tables).
impl<T> AsPageIter for VBuf<T> {
    type Iter<'a>
        = VmallocPageIter<'a>
    where
        T: 'a;

    fn page_iter(&mut self) -> VmallocPageIter<'_> {
        let size = self.size();
        // SAFETY: By the type invariant, the vector's pointer is the start
        // (so page-aligned) of a vmalloc allocation of `size` bytes, which
        // the borrow of `self` keeps alive.
        unsafe { VmallocPageIter::new(NonNull::new_unchecked(self.0.as_mut_ptr()).cast(), size) }
    }
}

/// kalloc's vmalloc path as an [`Allocator`](kernel::alloc::Allocator) of
/// the kernel crate: `Box<T, Vmalloc>`, `Vec<T, Vmalloc>` ([`VBox`],
/// [`VVec`](crate::VVec)).
///
/// A request is checked as [`VBuf`]'s are before C sees it (flags vmalloc
/// takes, sleeping ones only where sleeping is allowed, nothing in hard
/// interrupt or NMI context, at most `isize::MAX` bytes, an alignment of at
/// most a page); a refused request is an allocation error. Resizing where
/// sleeping is not allowed is refused too (`vrealloc()` may `vfree()` the
/// old area), and a free there is deferred (`vfree_atomic()`), as
/// [`VBuf`]'s drop does.
pub struct Vmalloc;

// SAFETY: `realloc` returns memory from `__vmalloc_node()` or `vrealloc()`
// of at least `layout.size()` bytes, page-aligned (and the alignment is at
// most a page), keeps the first `min(old, new)` bytes of an old allocation
// and leaves it intact on failure (`vrealloc()` does both), and frees with
// `vfree()` (or `vfree_atomic()`); every allocation of it is freed by it.
unsafe impl kernel::alloc::Allocator for Vmalloc {
    const MIN_ALIGN: usize = PAGE_SIZE;

    #[inline]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: core::alloc::Layout,
        old_layout: core::alloc::Layout,
        flags: kernel::alloc::Flags,
        nid: kernel::alloc::NumaNode,
    ) -> Result<NonNull<[u8]>, kernel::alloc::AllocError> {
        use kernel::alloc::AllocError;
        let old = ptr.filter(|_| old_layout.size() != 0);
        let size = layout.size();
        if size == 0 {
            if let Some(old) = old {
                let addr = old.as_ptr().cast::<c_void>().cast_const();
                // SAFETY: `old` is a live allocation of this allocator (the
                // caller's guarantee), freed only here; `vfree()` may sleep
                // and runs only where the context allows it, else
                // `kvfree_atomic()` defers it.
                unsafe {
                    if context_may_sleep() {
                        ffi::vfree(addr);
                    } else {
                        bindings::kvfree_atomic(addr);
                    }
                }
            }
            return Ok(crate::kernel_alloc::empty(layout, Self::MIN_ALIGN));
        }
        // vmalloc memory is page-aligned: no more.
        if layout.align() > PAGE_SIZE {
            return Err(AllocError);
        }
        let flags = check_request(size, Gfp::from(flags)).map_err(|_| AllocError)?;
        let size = size.max(MIN_VMALLOC_SIZE);
        let new = match old {
            None => {
                let node = crate::kernel_alloc::node_number(nid).ok_or(AllocError)?;
                // SAFETY: `size` is not zero, the flags are vmalloc's and
                // sleeping ones come only where sleeping is allowed, not in
                // hard interrupt context (`check`); `node` is a node number
                // or `NUMA_NO_NODE`.
                unsafe { ffi::kalloc_vmalloc_node(size, flags.as_raw(), node) }
            }
            Some(old) => {
                if !context_may_sleep() {
                    return Err(AllocError);
                }
                // SAFETY: `old` is a live allocation of this allocator (the
                // caller's guarantee); the request is checked as above, in a
                // context that may sleep.
                unsafe { ffi::kalloc_vrealloc(old.as_ptr().cast(), size, flags.as_raw()) }
            }
        };
        let new = NonNull::new(new.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(new, size))
    }
}

/// The kernel crate's `VBox` on kalloc's vmalloc path: a driver moves to it
/// by importing `kalloc::VBox` instead of the prelude's.
pub type VBox<T> = kernel::alloc::Box<T, Vmalloc>;

#[cfg(kalloc_selftest)]
mod tests;
