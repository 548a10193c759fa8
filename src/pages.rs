// SPDX-License-Identifier: GPL-2.0

//! The page allocator: blocks of 2^order physically contiguous pages.
//!
//! The buddy allocator hands out memory in blocks of `2^order` pages. C
//! has two families of calls, and kalloc has one owning type for each:
//!
//! - [`LowmemPages`]: `__get_free_pages()`, `__get_free_page()`,
//!   `get_zeroed_page()`, `__get_dma_pages()`. They return the kernel
//!   virtual address of the block, so the memory is always *lowmem*,
//!   permanently mapped on every CPU: it is read and written as a byte
//!   slice. Dropped with `free_pages(addr, order)`.
//! - [`Pages`]: `alloc_pages()`, `alloc_page()`. They return the first
//!   `struct page` of the block, which may be *highmem* (with
//!   `__GFP_HIGHMEM`) and then has no permanent mapping. Its bytes are only
//!   reached through [`Pages::kmap_local`] and [`Pages::kmap_local_mut`],
//!   which map one page with `kmap_local_page()` for the length of a
//!   closure. Dropped with `__free_pages(page, order)`.
//!
//! In C, the caller must remember the order and pass it again to the free
//! call; a wrong order leaks pages or frees pages that are not its own.
//! Here the order is part of the value, checked once when the block is
//! allocated (above `MAX_PAGE_ORDER` is `EINVAL`), and the matching free
//! function runs exactly once, on drop.
//!
//! The two types convert into each other without copying, since C's
//! `free_pages(addr, order)` is `__free_pages(virt_to_page(addr), order)`:
//! [`LowmemPages::into_pages`] (`virt_to_page`) and [`Pages::into_lowmem`]
//! (`page_address`, which fails for highmem). [`PageRef`] is one page of a
//! block: its pfn, NUMA node, zone and permanent address.
//!
//! Exact accounting: [`stop_machine`] and [`free_page_count`] let a caller
//! count the allocator's free pages while nothing else can allocate, which
//! is how the `kalloc_pages` suite proves that a dropped block gives back
//! exactly its `2^order` pages.
//!
//! # Examples
//!
//! ```ignore
//! use kalloc::gfp::{GFP_DMA, GFP_HIGHUSER, GFP_KERNEL, __GFP_ZERO};
//! use kalloc::pages::{LowmemPages, Pages};
//!
//! // 4 contiguous zeroed pages in the linear mapping, as a byte slice.
//! let mut buf = LowmemPages::get_free_pages(GFP_KERNEL | __GFP_ZERO, 2)?;
//! buf.as_mut_slice()[..5].copy_from_slice(b"hello");
//! let first_pfn = buf.page(0).ok_or(EINVAL)?.pfn();
//!
//! // A page that may be highmem: only reachable through a local mapping.
//! let mut page = Pages::alloc_page(GFP_HIGHUSER)?;
//! page.kmap_local_mut(0, |map| map.write(0, b"hello"))??;
//! let mut hello = [0u8; 5];
//! page.kmap_local(0, |map| map.read(0, &mut hello))??;
//! // Both blocks are freed here, with the order they were allocated with.
//! ```

use crate::gfp::{context_may_sleep, Gfp, Zone, __GFP_NOFAIL, GFP_DMA};
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::error::to_result;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::NotThreadSafe;

/// The largest order the page allocator serves (C's `MAX_PAGE_ORDER`): a
/// block of `2^MAX_PAGE_ORDER` pages. Larger orders are `EINVAL`.
pub const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

// The shims in `shims.c`.
#[expect(
    improper_ctypes,
    reason = "bindgen renders a zero-sized member of `struct page` as an empty struct; only pointers to it cross"
)]
extern "C" {
    fn kalloc_get_free_pages(gfp: bindings::gfp_t, order: c_uint) -> c_ulong;
    fn kalloc_get_zeroed_page(gfp: bindings::gfp_t) -> c_ulong;
    fn kalloc_page_address(page: *const bindings::page) -> *mut c_void;
    fn kalloc_virt_to_page(addr: *const c_void) -> *mut bindings::page;
    fn kalloc_page_to_pfn(page: *const bindings::page) -> c_ulong;
    fn kalloc_page_zonenum(page: *const bindings::page) -> bindings::zone_type;
    fn kalloc_page_is_highmem(page: *const bindings::page) -> bool;
    fn kalloc_stop_machine(
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        data: *mut c_void,
    ) -> c_int;
    fn kalloc_nr_free_pages_stopped() -> c_ulong;
}

/// Validates a request for a block of `2^order` pages: `EINVAL` for an
/// order above [`MAX_PAGE_ORDER`] (the allocator would WARN and fail), for
/// flags [`Gfp::check`] refuses, for `__GFP_NOFAIL` above order 1, which
/// the buddy allocator does not support (`gfp_types.h`), and for movable
/// memory ([`Gfp::movable`]).
///
/// Movable memory comes from `ZONE_MOVABLE`, CMA areas or movable
/// pageblocks, which the kernel empties by migrating their pages, to take
/// memory offline or to hand out contiguous ranges (`cma_alloc()`). A block
/// kalloc hands out stays where it is, and kalloc has no callbacks that
/// would let the kernel move it: in such places it would make offlining
/// and `cma_alloc()` fail.
fn check_request(flags: Gfp, order: u32) -> Result<Gfp> {
    if order > MAX_PAGE_ORDER {
        return Err(EINVAL);
    }
    let flags = flags.check()?;
    if (flags.contains(__GFP_NOFAIL) && order > 1) || flags.movable() {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// [`check_request`] for the calls that return an address: also `EINVAL`
/// for flags that ask for highmem, since an address cannot name a highmem
/// page (C's `__get_free_pages()` silently drops `__GFP_HIGHMEM`).
fn check_lowmem_request(flags: Gfp, order: u32) -> Result<Gfp> {
    let flags = check_request(flags, order)?;
    match flags.zone()? {
        Zone::HighMem | Zone::Movable => Err(EINVAL),
        Zone::Dma | Zone::Dma32 | Zone::Normal => Ok(flags),
    }
}

/// `2^order` physically contiguous, permanently mapped pages, from
/// `__get_free_pages()` and its relatives.
///
/// The memory is lowmem, so it is a byte slice ([`LowmemPages::as_slice`])
/// valid on every CPU. Without `__GFP_ZERO` the bytes are whatever the
/// previous owner left there: stale, meaningless contents, but initialised
/// bytes as far as Rust is concerned, since memory that C hands over counts
/// as initialised (every byte holds some value, and any value is a valid
/// `u8`). (KMSAN, which tracks initialisation in C, reports uses of them.)
///
/// # Invariants
///
/// - `addr` is the kernel virtual address, in the linear mapping, of a
///   block of `2^order` pages that the page allocator handed out as one
///   allocation of order `order`; this value owns it and nothing else
///   accesses it. So `free_pages(addr, order)` frees exactly that block.
/// - `order <= MAX_PAGE_ORDER`.
pub struct LowmemPages {
    addr: NonNull<u8>,
    order: u32,
}

// SAFETY: `LowmemPages` owns its memory like a `KBox<[u8]>` does: the
// mapping is the same on every CPU and `free_pages` may be called from any
// thread, so the owner may move to another thread.
unsafe impl Send for LowmemPages {}

// SAFETY: Shared references only give shared (`&[u8]`) access to the
// memory, which any number of threads may read at once.
unsafe impl Sync for LowmemPages {}

impl LowmemPages {
    /// Allocates `2^order` contiguous pages (C's `__get_free_pages()`).
    ///
    /// `EINVAL` for an order above [`MAX_PAGE_ORDER`], for invalid flags,
    /// for movable memory (as for [`Pages::alloc_pages`]) and for flags
    /// that ask for highmem (an address cannot name a highmem page: use
    /// [`Pages::alloc_pages`]); `ENOMEM` when the allocator has no such
    /// block. Add `__GFP_NOWARN` if failure is expected.
    pub fn get_free_pages(flags: Gfp, order: u32) -> Result<Self> {
        let flags = check_lowmem_request(flags, order)?;
        // SAFETY: The flags are a valid combination without highmem and
        // `order <= MAX_PAGE_ORDER`; the call returns 0 or a new block.
        let addr = unsafe { kalloc_get_free_pages(flags.as_raw(), order) };
        // C returns the block's address as an integer: take back the
        // provenance that `(unsigned long)page_address(page)` exposed.
        let addr = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).ok_or(ENOMEM)?;
        // INVARIANT: A non-zero return is the linear-map address of a new
        // block of order `order`, now owned by the value returned.
        Ok(Self { addr, order })
    }

    /// Allocates one page (C's `__get_free_page()`).
    pub fn get_free_page(flags: Gfp) -> Result<Self> {
        Self::get_free_pages(flags, 0)
    }

    /// Allocates one zeroed page (C's `get_zeroed_page()`).
    pub fn get_zeroed_page(flags: Gfp) -> Result<Self> {
        let flags = check_lowmem_request(flags, 0)?;
        // SAFETY: As in `get_free_pages`, for order 0.
        let addr = unsafe { kalloc_get_zeroed_page(flags.as_raw()) };
        let addr = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).ok_or(ENOMEM)?;
        // INVARIANT: A non-zero return is the linear-map address of a new
        // zeroed page (order 0), now owned by the value returned.
        Ok(Self { addr, order: 0 })
    }

    /// Allocates `2^order` contiguous pages from `ZONE_DMA`, for devices
    /// that can only address the lowest 16 MiB on x86 (C's
    /// `__get_dma_pages()`, which is `__get_free_pages(flags | GFP_DMA)`).
    ///
    /// `ZONE_DMA` is small: prefer the DMA API for device memory.
    pub fn get_dma_pages(flags: Gfp, order: u32) -> Result<Self> {
        Self::get_free_pages(flags | GFP_DMA, order)
    }

    /// The order of the block: it holds `2^order` pages.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// The number of pages in the block, `2^order`.
    pub fn nr_pages(&self) -> usize {
        1 << self.order
    }

    /// The size of the block in bytes.
    pub fn size(&self) -> usize {
        self.nr_pages() * PAGE_SIZE
    }

    /// The kernel virtual address of the block, for C functions that take
    /// one. The block stays owned by `self`.
    pub fn as_ptr(&self) -> *mut u8 {
        self.addr.as_ptr()
    }

    /// The whole block as bytes (stale ones if it was not allocated zeroed,
    /// see [`LowmemPages`]).
    pub fn as_slice(&self) -> &[u8] {
        // The bytes are initialised: memory from the C allocator counts as
        // initialised (without `__GFP_ZERO` its contents are stale, but any
        // byte is a valid `u8`).
        // SAFETY: By the type invariants the block is `self.size()` mapped
        // bytes that only `self` accesses; the borrow of `self` keeps them
        // allocated and unwritten for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr(), self.size()) }
    }

    /// The whole block as mutable bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: As in `as_slice`; the exclusive borrow of `self` makes
        // this the only access for the slice's lifetime.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr(), self.size()) }
    }

    /// The `struct page` of page `index` of the block (C's `virt_to_page()`
    /// of its address), or `None` if `index >= self.nr_pages()`.
    pub fn page(&self, index: usize) -> Option<PageRef<'_>> {
        if index >= self.nr_pages() {
            return None;
        }
        // SAFETY: `index < nr_pages()`, so the offset stays inside the
        // block.
        let addr = unsafe { self.addr.as_ptr().add(index * PAGE_SIZE) };
        // SAFETY: `addr` is in the linear mapping (type invariants), which
        // is what `virt_to_page()` requires.
        let page = unsafe { kalloc_virt_to_page(addr.cast()) };
        // SAFETY: `virt_to_page()` of a linear-map address is that page's
        // entry in the memory map, never NULL.
        let page = unsafe { NonNull::new_unchecked(page) };
        // SAFETY: `page` is the `struct page` of a page of this block, which
        // stays allocated while `self` is borrowed.
        Some(unsafe { PageRef::from_raw(page) })
    }

    /// Gives the block to a [`Pages`] (C's `virt_to_page()`), which frees it
    /// with `__free_pages()`: the same thing `free_pages()` does.
    pub fn into_pages(self) -> Pages {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this.addr` is in the linear mapping (type invariants).
        let page = unsafe { kalloc_virt_to_page(this.addr.as_ptr().cast()) };
        // INVARIANT: `page` is the first `struct page` of the block, of
        // order `this.order`. Ownership moves to the `Pages`: `this` is never
        // dropped.
        Pages {
            // SAFETY: `virt_to_page()` of a linear-map address is that
            // page's entry in the memory map, never NULL.
            page: unsafe { NonNull::new_unchecked(page) },
            order: this.order,
        }
    }
}

impl Drop for LowmemPages {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `self` owns the block at `addr`, of
        // order `order`, and this is its only free.
        unsafe { bindings::free_pages(self.addr.as_ptr().expose_provenance(), self.order) };
    }
}

/// `2^order` physically contiguous pages from `alloc_pages()`, owned
/// through their first `struct page`.
///
/// The pages may be highmem (allocated with `__GFP_HIGHMEM`), so there is
/// no slice of them: their bytes are reached one page at a time through a
/// [`LocalMapping`] ([`Pages::kmap_local`], [`Pages::kmap_local_mut`]).
/// On 64-bit systems every page is lowmem and the mapping is free, but
/// portable code must not rely on that. As for [`LowmemPages`], bytes that
/// were not allocated zeroed are stale but initialised.
///
/// # Invariants
///
/// - `page` is the first `struct page` of a block of `2^order` pages that
///   the page allocator handed out as one non-compound allocation of order
///   `order`; this value owns it and nothing else accesses it. So
///   `__free_pages(page, order)` frees exactly that block.
/// - `order <= MAX_PAGE_ORDER`.
pub struct Pages {
    page: NonNull<bindings::page>,
    order: u32,
}

// SAFETY: `Pages` owns its memory exclusively and no mapping outlives a
// method call, so it may move to another thread; `__free_pages` may be
// called from any thread.
unsafe impl Send for Pages {}

// SAFETY: Shared references only read: `kmap_local` gives read access, in
// a mapping local to the calling thread, and any number of threads may
// read at once.
unsafe impl Sync for Pages {}

impl Pages {
    /// Allocates `2^order` contiguous pages (C's `alloc_pages()`).
    ///
    /// `EINVAL` for an order above [`MAX_PAGE_ORDER`], for invalid flags,
    /// for `__GFP_NOFAIL` above order 1 and for movable memory
    /// ([`Gfp::movable`], as in `GFP_HIGHUSER_MOVABLE`: the kernel could not
    /// migrate the block, which would make memory offlining and
    /// `cma_alloc()` fail); `ENOMEM` when the allocator has no such block.
    /// Add `__GFP_NOWARN` if failure is expected.
    pub fn alloc_pages(flags: Gfp, order: u32) -> Result<Self> {
        let flags = check_request(flags, order)?;
        // SAFETY: The flags are a valid combination and
        // `order <= MAX_PAGE_ORDER`; the call returns NULL or a new block.
        let page = unsafe { bindings::alloc_pages(flags.as_raw(), order) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: A non-NULL return is the first page of a new block of
        // order `order` (without `__GFP_COMP`, which `Gfp` cannot express,
        // so not compound), now owned by the value returned.
        Ok(Self { page, order })
    }

    /// Allocates one page (C's `alloc_page()`).
    pub fn alloc_page(flags: Gfp) -> Result<Self> {
        Self::alloc_pages(flags, 0)
    }

    /// The order of the block: it holds `2^order` pages.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// The number of pages in the block, `2^order`.
    pub fn nr_pages(&self) -> usize {
        1 << self.order
    }

    /// The size of the block in bytes.
    pub fn size(&self) -> usize {
        self.nr_pages() * PAGE_SIZE
    }

    /// The first `struct page` of the block, for C functions that take one.
    /// The block stays owned by `self`.
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The `struct page` of page `index` of the block, or `None` if
    /// `index >= self.nr_pages()`.
    pub fn page(&self, index: usize) -> Option<PageRef<'_>> {
        if index >= self.nr_pages() {
            return None;
        }
        // SAFETY: The `struct page`s of one block are consecutive in the
        // memory map (the allocator itself frees a block's pages as
        // `page + i`), and `index < nr_pages()`.
        let page = unsafe { self.page.add(index) };
        // SAFETY: `page` is a page of this block, which stays allocated
        // while `self` is borrowed.
        Some(unsafe { PageRef::from_raw(page) })
    }

    /// Maps page `index` with `kmap_local_page()` and runs `f` with read
    /// access to it; the page is unmapped (`kunmap_local()`) when `f`
    /// returns. `EINVAL` if `index >= self.nr_pages()`.
    ///
    /// The mapping is only valid on this thread, and mappings must be
    /// undone in the reverse order they were made: both hold by
    /// construction, since the [`LocalMapping`] is only lent to `f` and
    /// cannot leave it, and calls nest.
    pub fn kmap_local<T>(&self, index: usize, f: impl FnOnce(&LocalMapping<'_>) -> T) -> Result<T> {
        let page = self.page(index).ok_or(EINVAL)?;
        // Unmaps happen in reverse order: mappings made before this one belong
        // to callers, still running; `f` gets only a reference with a lifetime
        // of its own, so it cannot drop, leak or swap the guard.
        // SAFETY: The page stays allocated for this call (`self` is borrowed),
        // which the guard does not outlive; the guard is dropped on this thread
        // in LIFO order (above); `f` gets shared access only, so it only reads.
        let mapping = unsafe { LocalMapping::new(page) };
        Ok(f(&mapping))
    }

    /// Like [`Pages::kmap_local`], with write access to the page.
    pub fn kmap_local_mut<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut LocalMapping<'_>) -> T,
    ) -> Result<T> {
        let page = self.page(index).ok_or(EINVAL)?;
        // SAFETY: As in `kmap_local`, except that `f` may write: the
        // exclusive borrow of `self` makes it the only code that accesses
        // the page meanwhile.
        let mut mapping = unsafe { LocalMapping::new(page) };
        Ok(f(&mut mapping))
    }

    /// Gives the block to a [`LowmemPages`] (C's `page_address()`), which
    /// frees it with `free_pages()`: the same thing `__free_pages()` does.
    ///
    /// Returns `self` unchanged if the block is highmem, which has no
    /// permanent address.
    pub fn into_lowmem(self) -> Result<LowmemPages, Self> {
        let Some(addr) = self.page(0).and_then(|page| page.address()) else {
            return Err(self);
        };
        let this = ManuallyDrop::new(self);
        // INVARIANT: `addr` is the linear-map address of the first page of
        // the block, of order `this.order`. A block never spans two zones,
        // so the whole block is lowmem and mapped contiguously from there.
        // Ownership moves to the `LowmemPages`: `this` is never dropped.
        Ok(LowmemPages {
            addr,
            order: this.order,
        })
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `self` owns the block starting at
        // `page`, of order `order`, and this is its only free.
        unsafe { bindings::__free_pages(self.page.as_ptr(), self.order) };
    }
}

/// One page of a block, borrowed from its owner ([`LowmemPages::page`],
/// [`Pages::page`]).
///
/// # Invariants
///
/// `page` points to the `struct page` of a page that stays allocated, by
/// the owner this value borrows from, for `'a`.
#[derive(Clone, Copy)]
pub struct PageRef<'a> {
    page: NonNull<bindings::page>,
    _owner: PhantomData<&'a bindings::page>,
}

impl<'a> PageRef<'a> {
    /// # Safety
    ///
    /// `page` must point to the `struct page` of a page that stays
    /// allocated for `'a`.
    unsafe fn from_raw(page: NonNull<bindings::page>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            page,
            _owner: PhantomData,
        }
    }

    /// The `struct page`, for C functions that take one.
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The page frame number: the physical address divided by the page
    /// size (C's `page_to_pfn()`).
    pub fn pfn(&self) -> usize {
        // SAFETY: `page` is a valid `struct page` (type invariants).
        unsafe { kalloc_page_to_pfn(self.as_ptr()) }
    }

    /// The NUMA node the page belongs to (C's `page_to_nid()`).
    pub fn nid(&self) -> i32 {
        // SAFETY: `page` is a valid `struct page` (type invariants).
        unsafe { bindings::page_to_nid(self.as_ptr()) }
    }

    /// The memory zone the page belongs to (C's `page_zonenum()`), or
    /// `None` for a zone the page allocator does not serve (`ZONE_DEVICE`).
    pub fn zone(&self) -> Option<Zone> {
        // SAFETY: `page` is a valid `struct page` (type invariants).
        Zone::from_zone_type(unsafe { kalloc_page_zonenum(self.as_ptr()) })
    }

    /// Whether the page is highmem, without a permanent kernel mapping (C's
    /// `PageHighMem()`). Always `false` on 64-bit systems.
    pub fn is_highmem(&self) -> bool {
        // SAFETY: `page` is a valid `struct page` (type invariants).
        unsafe { kalloc_page_is_highmem(self.as_ptr()) }
    }

    /// The page's permanent kernel address (C's `page_address()`), or `None`
    /// for a highmem page.
    pub fn address(&self) -> Option<NonNull<u8>> {
        if self.is_highmem() {
            return None;
        }
        // SAFETY: `page` is a valid `struct page` (type invariants).
        NonNull::new(unsafe { kalloc_page_address(self.as_ptr()) }.cast())
    }
}

/// One page mapped with `kmap_local_page()`, lent to the closure of
/// [`Pages::kmap_local`] or [`Pages::kmap_local_mut`]; dropping it runs
/// `kunmap_local()`.
///
/// A local mapping is only valid on the thread that made it, and nested
/// mappings must be undone in reverse order. Hence:
/// - this guard is neither `Send` nor `Sync`, and gives no reference into
///   the mapping (a `&[u8]` could be sent to another CPU): bytes are copied
///   in and out with [`LocalMapping::read`] and [`LocalMapping::write`];
/// - the closure only gets a reference, so it can neither drop nor leak the
///   guard, and the lifetime `'m` is distinct for every call, so two guards
///   cannot be swapped: each guard is dropped by the call that made it,
///   after all later ones.
///
/// # Invariants
///
/// - `addr` is the address `kmap_local_page()` returned for a page that
///   stays allocated while this guard lives; it maps `PAGE_SIZE` bytes on
///   this thread until the guard is dropped.
/// - The guard is dropped on this thread, after every local mapping made
///   after it, and before every local mapping made before it.
/// - Only a guard lent as `&mut` writes to the page; nothing else accesses
///   the page meanwhile.
pub struct LocalMapping<'m> {
    addr: NonNull<u8>,
    _scope: PhantomData<fn(&'m ()) -> &'m ()>,
    _thread: NotThreadSafe,
}

impl LocalMapping<'_> {
    /// Maps `page` with `kmap_local_page()`.
    ///
    /// # Safety
    ///
    /// - The page must stay allocated until the guard is dropped.
    /// - The guard must be dropped on this thread, after every local mapping
    ///   made after it and before every local mapping made before it.
    /// - If the guard is used mutably, nothing else may access the page
    ///   while it lives; otherwise, nothing may write to it.
    unsafe fn new(page: PageRef<'_>) -> Self {
        // SAFETY: `page` is a valid `struct page` (type invariants of
        // `PageRef`); mapping it has no other requirement.
        let addr = unsafe { bindings::kmap_local_page(page.as_ptr()) };
        // INVARIANT: `kmap_local_page()` maps the page for this thread, and
        // the caller guarantees lifetime, order and exclusivity.
        Self {
            // SAFETY: `kmap_local_page()` never fails: it returns the
            // linear-map address or a fixmap slot, never NULL.
            addr: unsafe { NonNull::new_unchecked(addr.cast()) },
            _scope: PhantomData,
            _thread: NotThreadSafe,
        }
    }

    /// The start of `len` bytes at `offset` in the page: `EOVERFLOW` if the
    /// end overflows, `EINVAL` if it lies beyond the page.
    fn range(&self, offset: usize, len: usize) -> Result<*mut u8> {
        let end = offset.checked_add(len).ok_or(EOVERFLOW)?;
        if end > PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `offset <= PAGE_SIZE`: inside the mapping or one past it.
        Ok(unsafe { self.addr.as_ptr().add(offset) })
    }

    /// Copies `dst.len()` bytes at `offset` in the page into `dst`.
    /// `EINVAL` if they lie beyond the page, `EOVERFLOW` if the end
    /// overflows.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        let src = self.range(offset, dst.len())?;
        // The bytes are initialised, so `dst` receives valid `u8`s: memory
        // from the C allocator counts as initialised (it may be stale).
        // SAFETY: `src` is valid for `dst.len()` bytes (checked by `range`,
        // mapping valid while `self` lives) and nothing writes to it
        // meanwhile (type invariants). `dst` cannot overlap: no reference
        // into the mapped page exists.
        unsafe { ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copies `src` into the page at `offset`. `EINVAL` if it would go
    /// beyond the page, `EOVERFLOW` if the end overflows.
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        let dst = self.range(offset, src.len())?;
        // SAFETY: `dst` is valid for `src.len()` bytes (checked by `range`,
        // mapping valid while `self` lives); `&mut self` means this guard
        // has exclusive access to the page (type invariants). `src` cannot
        // overlap: no reference into the mapped page exists.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    /// Sets every byte of the page to `byte`.
    pub fn fill(&mut self, byte: u8) {
        // SAFETY: The mapping is valid for `PAGE_SIZE` bytes while `self`
        // lives and `&mut self` means exclusive access (type invariants).
        unsafe { ptr::write_bytes(self.addr.as_ptr(), byte, PAGE_SIZE) };
    }
}

impl Drop for LocalMapping<'_> {
    fn drop(&mut self) {
        // SAFETY: `addr` came from `kmap_local_page()` and is unmapped once,
        // here, on the mapping thread and in reverse order of mapping (type
        // invariants).
        unsafe { bindings::kunmap_local(self.addr.as_ptr().cast()) };
    }
}

/// Proof that the machine is stopped: the current code runs in the
/// callback of [`stop_machine`], with local interrupts disabled, while
/// every other online CPU spins with interrupts disabled.
///
/// Only [`stop_machine`] makes one, and lends it to its closure.
///
/// # Invariants
///
/// A `MachineStopped` only exists in a `stop_machine()` callback, on the
/// thread running it, until the callback returns.
pub struct MachineStopped(NotThreadSafe);

/// Runs `f` while every other CPU is stopped (C's `stop_machine()`), and
/// returns its result.
///
/// `f` runs on the first online CPU, in a stopper thread, with interrupts
/// disabled: it must not sleep (allocate with `GFP_ATOMIC`). Nothing else in
/// the system runs meanwhile, which makes the allocator's counters exact
/// (see [`free_page_count`]).
///
/// This call sleeps until `f` has run, so it fails with `EAGAIN` in a
/// context that cannot sleep, without running `f`. It fails with the C
/// error if the stopper threads could not run `f`.
///
/// Stopping the machine is expensive: it is a tool for tests and for rare
/// global changes, not for normal driver paths.
pub fn stop_machine<F, T>(f: F) -> Result<T>
where
    F: FnOnce(&MachineStopped) -> T + Send,
    T: Send,
{
    struct Call<F, T> {
        f: Option<F>,
        result: Option<T>,
    }

    /// The `cpu_stop_fn_t` that runs the closure.
    ///
    /// # Safety
    ///
    /// `data` must point to a `Call<F, T>` that nothing else accesses until
    /// this function returns, and the caller must be `stop_machine()`'s
    /// callback context.
    unsafe extern "C" fn run<F, T>(data: *mut c_void) -> c_int
    where
        F: FnOnce(&MachineStopped) -> T,
    {
        // SAFETY: Guaranteed by the caller.
        let call = unsafe { &mut *data.cast::<Call<F, T>>() };
        if let Some(f) = call.f.take() {
            // INVARIANT: This is the callback (guaranteed by the caller); the
            // token is only lent to `f`, and `!Send`, so it cannot leave it.
            call.result = Some(f(&MachineStopped(NotThreadSafe)));
        }
        0
    }

    if !context_may_sleep() {
        return Err(EAGAIN);
    }
    let mut call = Call {
        f: Some(f),
        result: None,
    };
    // `stop_machine()` calls `run` at most once, on one CPU, and returns only
    // when that call is over. `F` and `T` are `Send`, so running `F` and
    // producing `T` on another CPU is fine.
    // SAFETY: `run::<F, T>` matches `call`'s type, and `call` outlives the
    // callback while this thread does not touch it (see above).
    let ret = unsafe { kalloc_stop_machine(run::<F, T>, (&raw mut call).cast()) };
    to_result(ret)?;
    call.result.ok_or(ENOENT)
}

/// The number of free pages the page allocator holds: on its buddy free
/// lists (`NR_FREE_PAGES`), on the per-CPU lists (which cache freed pages
/// of small orders without counting them in `NR_FREE_PAGES`), and on the
/// lists of frees that `free_pages_nolock()` deferred, summed over every
/// populated zone.
///
/// A page the allocator manages is either allocated or in exactly one of
/// these places, so the count falls by exactly `2^order` when a block is
/// allocated and rises by exactly `2^order` when it is freed; but only if
/// nothing else allocates or frees at the same time, hence the
/// [`MachineStopped`] proof. (It is also what makes walking the deferred
/// lists safe.) Like `NR_FREE_PAGES`, the count leaves out free pages in
/// pageblocks isolated for memory offlining or contiguous allocation.
pub fn free_page_count(_stopped: &MachineStopped) -> usize {
    // SAFETY: The machine is stopped (`_stopped`): no other CPU runs and
    // local interrupts are disabled, so no list the shim walks changes.
    unsafe { kalloc_nr_free_pages_stopped() }
}

#[kunit_tests(kalloc_pages)]
mod tests {
    use super::*;
    use crate::gfp::{
        __GFP_HIGHMEM, __GFP_NOFAIL, __GFP_NORETRY, __GFP_NOWARN, __GFP_ZERO, GFP_ATOMIC, GFP_DMA,
        GFP_DMA32, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL,
    };
    use kernel::sync::new_spinlock;
    use pin_init::stack_pin_init;

    // The helpers below report with `pr_err!` and a return value: KUnit's
    // `assert!` is only in scope in the test functions.

    /// Orders checked one by one: at least 0..=4 as the issue asks, and a
    /// few more of the orders above `PAGE_ALLOC_COSTLY_ORDER` (3), whose
    /// blocks bypass the per-CPU lists.
    const TEST_MAX_ORDER: u32 = 6;

    /// A byte pattern with a period (251, prime) that does not divide the
    /// page size, so no two pages of a block hold the same bytes.
    fn pattern(pos: usize) -> u8 {
        (pos % 251) as u8
    }

    /// Whether the mapped page holds `expected(offset)` at every offset,
    /// read in small chunks (a page is too big for the stack).
    fn page_matches(map: &LocalMapping<'_>, expected: impl Fn(usize) -> u8) -> Result<bool> {
        let mut chunk = [0u8; 64];
        for offset in (0..PAGE_SIZE).step_by(chunk.len()) {
            map.read(offset, &mut chunk)?;
            if let Some(i) = (0..chunk.len()).find(|&i| chunk[i] != expected(offset + i)) {
                pr_err!(
                    "byte {}: {:#x}, expected {:#x}\n",
                    offset + i,
                    chunk[i],
                    expected(offset + i)
                );
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `page(i)` gives the pages of a block of `order`: `2^order` of
    /// them, the first at a pfn that is a multiple of `2^order` (the buddy
    /// allocator aligns blocks to their size), all in one zone and on one
    /// NUMA node (node 0 without NUMA), as their `struct page`s record, and
    /// none past the end.
    ///
    /// That the pfns are consecutive is not checked: with
    /// `CONFIG_SPARSEMEM_VMEMMAP` the memory map is one array, so the pfn of
    /// `page + i` is the pfn of `page` plus `i` by construction, and the
    /// check could not fail. What shows that the pages are the block's:
    /// `free_count_returns_after_batch_drop` (the allocator's free count
    /// drops by exactly `2^order` pages), the address of each page below
    /// (`virt_to_page()` and `page_address()` agree with the block's
    /// address plus the page's offset) and `views_share_contents` (each
    /// page holds the bytes at its offset in the block).
    fn is_block<'a>(
        order: u32,
        nr_pages: usize,
        page: impl Fn(usize) -> Option<PageRef<'a>>,
    ) -> bool {
        let Some(first) = page(0) else {
            pr_err!("order {}: no first page\n", order);
            return false;
        };
        let node_ok = if cfg!(CONFIG_NUMA) {
            first.nid() >= 0
        } else {
            first.nid() == 0
        };
        if nr_pages != 1 << order || first.pfn() % nr_pages != 0 || !node_ok {
            pr_err!(
                "order {}: {} pages, pfn {:#x}, node {}\n",
                order,
                nr_pages,
                first.pfn(),
                first.nid()
            );
            return false;
        }
        for i in 1..nr_pages {
            let p = page(i);
            if p.map(|p| (p.zone(), p.nid())) != Some((first.zone(), first.nid())) {
                pr_err!(
                    "order {}: page {} is not in the zone and node of page 0\n",
                    order,
                    i
                );
                return false;
            }
        }
        page(nr_pages).is_none()
    }

    /// Zeroed allocations are zero in every byte, through every constructor
    /// and view.
    #[test]
    fn zeroed_pages_are_zero() -> Result {
        // Dirty some blocks and free them first: freed pages are handed out
        // again first (per-CPU lists are LIFO), so the zeroed blocks below
        // most likely reuse these 0xa5 bytes, and skipped zeroing would show.
        for order in 0..=3 {
            LowmemPages::get_free_pages(GFP_KERNEL, order)?
                .as_mut_slice()
                .fill(0xa5);
            let mut pages = Pages::alloc_pages(GFP_KERNEL, order)?;
            for i in 0..pages.nr_pages() {
                pages.kmap_local_mut(i, |map| map.fill(0xa5))?;
            }
        }

        let page = LowmemPages::get_zeroed_page(GFP_KERNEL)?;
        assert_eq!(page.order(), 0);
        assert!(page.as_slice().iter().all(|&b| b == 0));

        for order in 0..=3 {
            let lowmem = LowmemPages::get_free_pages(GFP_KERNEL | __GFP_ZERO, order)?;
            assert_eq!(lowmem.as_slice().len(), lowmem.size());
            assert!(lowmem.as_slice().iter().all(|&b| b == 0));

            for flags in [GFP_KERNEL | __GFP_ZERO, GFP_HIGHUSER | __GFP_ZERO] {
                let pages = Pages::alloc_pages(flags, order)?;
                for i in 0..pages.nr_pages() {
                    assert!(pages.kmap_local(i, |map| page_matches(map, |_| 0))??);
                }
            }
        }
        Ok(())
    }

    /// Every order from 0 to `TEST_MAX_ORDER` gives `2^order` pages with
    /// consecutive pfns, through both families; each page's
    /// `page_address()` is the block's address plus its offset.
    #[test]
    fn each_order_gives_contiguous_pages() -> Result {
        for order in 0..=TEST_MAX_ORDER {
            let lowmem = LowmemPages::get_free_pages(GFP_KERNEL, order)?;
            assert_eq!(lowmem.order(), order);
            assert_eq!(lowmem.size(), lowmem.nr_pages() * PAGE_SIZE);
            assert!(is_block(order, lowmem.nr_pages(), |i| lowmem.page(i)));
            for i in 0..lowmem.nr_pages() {
                // page_address(virt_to_page(addr)) == addr, page by page.
                let addr = lowmem.as_ptr().wrapping_add(i * PAGE_SIZE);
                assert_eq!(lowmem.page(i).and_then(|p| p.address()), NonNull::new(addr));
            }

            let pages = Pages::alloc_pages(GFP_KERNEL, order)?;
            assert_eq!(pages.order(), order);
            assert_eq!(pages.size(), pages.nr_pages() * PAGE_SIZE);
            assert!(is_block(order, pages.nr_pages(), |i| pages.page(i)));
            let base = pages.page(0).and_then(|p| p.address()).ok_or(EINVAL)?;
            for i in 0..pages.nr_pages() {
                let page = pages.page(i).ok_or(EINVAL)?;
                assert!(!page.is_highmem());
                assert_eq!(
                    page.address(),
                    NonNull::new(base.as_ptr().wrapping_add(i * PAGE_SIZE))
                );
            }
        }

        // The order-0 constructors.
        let page = LowmemPages::get_free_page(GFP_KERNEL)?;
        assert!(is_block(0, page.nr_pages(), |i| page.page(i)));
        let page = Pages::alloc_page(GFP_KERNEL)?;
        assert!(is_block(0, page.nr_pages(), |i| page.page(i)));
        Ok(())
    }

    /// Bytes written through one view are read back through the other: the
    /// permanent mapping of a [`LowmemPages`] and local mappings of the
    /// same block as [`Pages`], converted back and forth with
    /// `virt_to_page()` and `page_address()`.
    #[test]
    fn views_share_contents() -> Result {
        let mut lowmem = LowmemPages::get_free_pages(GFP_KERNEL, 2)?;
        for (pos, byte) in lowmem.as_mut_slice().iter_mut().enumerate() {
            *byte = pattern(pos);
        }
        let addr = lowmem.as_ptr();
        let pfn = lowmem.page(0).map(|p| p.pfn());

        let mut pages = lowmem.into_pages();
        assert_eq!(pages.order(), 2);
        assert_eq!(pages.page(0).map(|p| p.pfn()), pfn);
        for i in 0..pages.nr_pages() {
            assert!(pages.kmap_local(i, |map| page_matches(map, |off| pattern(
                i * PAGE_SIZE + off
            )))??);
            pages.kmap_local_mut(i, |map| map.fill(0x10 + i as u8))?;
        }

        // GFP_KERNEL pages are lowmem: the conversion must succeed.
        let lowmem = pages.into_lowmem().map_err(|_| EINVAL)?;
        assert_eq!(lowmem.as_ptr(), addr);
        assert_eq!(lowmem.order(), 2);
        for (pos, &byte) in lowmem.as_slice().iter().enumerate() {
            assert_eq!(byte, 0x10 + (pos / PAGE_SIZE) as u8);
        }

        // Pages that may be highmem convert only if they are not; a 64-bit
        // kernel has no highmem.
        let highuser = Pages::alloc_pages(GFP_HIGHUSER, 1)?;
        let highmem = highuser.page(0).is_some_and(|p| p.is_highmem());
        #[cfg(not(CONFIG_HIGHMEM))]
        assert!(!highmem);
        assert_eq!(highuser.into_lowmem().is_err(), highmem);
        Ok(())
    }

    /// Local mappings nest (the inner one is unmapped first, and the outer
    /// one still works after it) and are bounds checked.
    ///
    /// On x86-64 there is no highmem and `kmap_local_page()` is
    /// `page_address()`: no fixmap slot is taken, and `kunmap_local()`
    /// undoes nothing. So a mapping used after it was unmapped, or undone
    /// out of order, cannot show there; only a kernel with highmem (32-bit,
    /// or `CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP`) would catch it. Here the
    /// case checks the nesting and the bounds checks.
    #[test]
    fn kmap_local_nests_and_checks_bounds() -> Result {
        let mut a = Pages::alloc_page(GFP_HIGHUSER)?;
        let mut b = Pages::alloc_pages(GFP_HIGHUSER, 1)?;
        a.kmap_local_mut(0, |map| map.fill(0xaa))?;
        b.kmap_local_mut(0, |map| map.fill(0xb0))?;
        b.kmap_local_mut(1, |map| map.fill(0xb1))?;

        a.kmap_local(0, |outer| -> Result {
            b.kmap_local(1, |inner| -> Result {
                assert!(page_matches(outer, |_| 0xaa)?);
                assert!(page_matches(inner, |_| 0xb1)?);
                Ok(())
            })??;
            assert!(page_matches(outer, |_| 0xaa)?);
            Ok(())
        })??;

        a.kmap_local_mut(0, |map| -> Result {
            let mut buf = [0u8; 16];
            map.write(100, b"kalloc")?;
            map.read(100, &mut buf[..6])?;
            assert_eq!(&buf[..6], b"kalloc");
            assert!(map.read(PAGE_SIZE - 16, &mut buf).is_ok());
            assert!(map.write(PAGE_SIZE, &[]).is_ok());
            assert!(map.read(PAGE_SIZE - 15, &mut buf) == Err(EINVAL));
            assert!(map.write(PAGE_SIZE, &buf[..1]) == Err(EINVAL));
            assert!(map.read(usize::MAX, &mut buf) == Err(EOVERFLOW));
            assert!(map.write(usize::MAX - 3, &buf) == Err(EOVERFLOW));
            Ok(())
        })??;

        assert!(b.kmap_local(2, |_| ()) == Err(EINVAL));
        assert!(b.kmap_local_mut(usize::MAX, |_| ()) == Err(EINVAL));
        assert!(b.kmap_local(0, |map| page_matches(map, |_| 0xb0))??);
        Ok(())
    }

    /// `__get_dma_pages()` memory lies in `ZONE_DMA`, while a `GFP_KERNEL`
    /// page does not.
    #[test]
    fn dma_pages_lie_in_zone_dma() -> Result {
        for order in [0, 2] {
            let dma = LowmemPages::get_dma_pages(GFP_KERNEL, order)?;
            for i in 0..dma.nr_pages() {
                let page = dma.page(i).ok_or(EINVAL)?;
                assert_eq!(page.zone(), Some(Zone::Dma));
                // On x86, ZONE_DMA is the first 16 MiB (MAX_DMA_PFN).
                #[cfg(CONFIG_X86)]
                assert!(page.pfn() < (16 << 20) / PAGE_SIZE);
            }
        }
        // The allocator falls back to ZONE_DMA only when every higher zone
        // is exhausted, which a test VM with free memory never is.
        let normal = LowmemPages::get_free_page(GFP_KERNEL)?;
        assert!(normal.page(0).is_some_and(|p| p.zone() != Some(Zone::Dma)));
        Ok(())
    }

    /// Orders above `MAX_PAGE_ORDER` and invalid flags are `EINVAL` before
    /// the allocator sees them (it would WARN), and so are requests for
    /// movable memory; the largest order is valid.
    #[test]
    fn bad_orders_and_flags_are_einval() {
        for order in [MAX_PAGE_ORDER + 1, MAX_PAGE_ORDER + 2, u32::MAX] {
            assert!(Pages::alloc_pages(GFP_KERNEL, order).err() == Some(EINVAL));
            assert!(LowmemPages::get_free_pages(GFP_KERNEL, order).err() == Some(EINVAL));
            assert!(LowmemPages::get_dma_pages(GFP_KERNEL, order).err() == Some(EINVAL));
        }

        // The largest order is accepted; it may still find no free block.
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY;
        match Pages::alloc_pages(flags, MAX_PAGE_ORDER) {
            Ok(pages) => assert_eq!(pages.nr_pages(), 1 << MAX_PAGE_ORDER),
            Err(e) => assert!(e == ENOMEM),
        }

        // __GFP_NOFAIL is for orders 0 and 1 only.
        assert!(Pages::alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 2).err() == Some(EINVAL));
        assert!(Pages::alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 1).is_ok());
        // Movable memory, in any zone: kalloc's blocks cannot be migrated.
        let movable = GFP_HIGHUSER_MOVABLE.without(GFP_HIGHUSER);
        for order in [0, 2] {
            assert!(Pages::alloc_pages(GFP_HIGHUSER_MOVABLE, order).err() == Some(EINVAL));
            assert!(Pages::alloc_pages(GFP_KERNEL | movable, order).err() == Some(EINVAL));
            assert!(LowmemPages::get_free_pages(GFP_KERNEL | movable, order).err() == Some(EINVAL));
        }
        assert!(LowmemPages::get_zeroed_page(GFP_HIGHUSER_MOVABLE).err() == Some(EINVAL));
        // An address cannot name a highmem page.
        assert!(LowmemPages::get_free_page(GFP_HIGHUSER).err() == Some(EINVAL));
        assert!(LowmemPages::get_zeroed_page(GFP_KERNEL | __GFP_HIGHMEM).err() == Some(EINVAL));
        // Two zones at once.
        assert!(LowmemPages::get_dma_pages(GFP_KERNEL | GFP_DMA32, 0).err() == Some(EINVAL));
        assert!(Pages::alloc_page(GFP_KERNEL | GFP_DMA | __GFP_HIGHMEM).err() == Some(EINVAL));
    }

    /// A dropped batch gives back exactly its pages: the allocator's free
    /// page count falls by exactly the batch's size when it is allocated and
    /// returns to its earlier value when it is dropped.
    ///
    /// Why this proof is exact, not statistical: comparing `NR_FREE_PAGES`
    /// around the test would be flaky twice over. Freed blocks of orders up
    /// to 3 go to the freeing CPU's per-CPU list, which `NR_FREE_PAGES` does
    /// not count (and which refills or drains in batches), and the other CPU
    /// allocates concurrently. So [`free_page_count`] counts the per-CPU
    /// lists too, and the whole test runs under [`stop_machine`]: every other
    /// CPU spins with interrupts disabled and this one has them disabled, so
    /// no allocation but ours happens between the three counts. A block
    /// freed with a wrong order would change the count by the wrong amount.
    /// The batch covers orders on both sides of `PAGE_ALLOC_COSTLY_ORDER`
    /// and both families (`__free_pages` and `free_pages`).
    #[test]
    fn free_count_returns_after_batch_drop() -> Result {
        const ORDERS: usize = 6;
        let (before, allocated, after, batch_pages) = stop_machine(|stopped| -> Result<_> {
            // No heap: a slab allocation here could take pages too.
            let mut pages: [Option<Pages>; ORDERS] = [const { None }; ORDERS];
            let mut lowmem: [Option<LowmemPages>; ORDERS] = [const { None }; ORDERS];
            let flags = GFP_ATOMIC | __GFP_NOWARN;

            let before = free_page_count(stopped);
            let mut batch_pages = 0;
            for (order, (p, l)) in (0u32..).zip(pages.iter_mut().zip(lowmem.iter_mut())) {
                let block = p.insert(Pages::alloc_pages(flags, order)?);
                batch_pages += block.nr_pages();
                let block = l.insert(LowmemPages::get_free_pages(flags, order)?);
                batch_pages += block.nr_pages();
            }
            let allocated = free_page_count(stopped);
            drop(pages);
            drop(lowmem);
            let after = free_page_count(stopped);
            Ok((before, allocated, after, batch_pages))
        })??;

        assert_eq!(batch_pages, 2 * ((1 << ORDERS) - 1));
        assert_eq!(before.checked_sub(allocated), Some(batch_pages));
        assert_eq!(after, before);
        Ok(())
    }

    /// `stop_machine` sleeps until its closure has run, so where sleeping is
    /// not allowed it fails with `EAGAIN` without running the closure;
    /// outside, the closure runs once and its result comes back.
    #[test]
    fn stop_machine_in_atomic_context_is_eagain() -> Result {
        let mut runs = 0;
        stack_pin_init!(let lock = new_spinlock!(()));
        {
            let _guard = lock.lock();
            assert!(stop_machine(|_| runs += 1) == Err(EAGAIN));
        }
        assert_eq!(runs, 0);
        assert_eq!(
            stop_machine(|_| {
                runs += 1;
                42
            })?,
            42
        );
        assert_eq!(runs, 1);
        Ok(())
    }
}
