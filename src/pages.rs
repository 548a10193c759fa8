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

use crate::ffi;
use crate::gfp::{Gfp, Zone, __GFP_NOFAIL, GFP_DMA};
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::NotThreadSafe;

/// The largest order the page allocator serves (C's `MAX_PAGE_ORDER`): a
/// block of `2^MAX_PAGE_ORDER` pages. Larger orders are `EINVAL`.
pub const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

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
        let addr = unsafe { ffi::kalloc_get_free_pages(flags.as_raw(), order) };
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
        let addr = unsafe { ffi::kalloc_get_zeroed_page(flags.as_raw()) };
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
        let page = unsafe { ffi::kalloc_virt_to_page(addr.cast()) };
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
        let page = unsafe { ffi::kalloc_virt_to_page(this.addr.as_ptr().cast()) };
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
        unsafe { ffi::kalloc_page_to_pfn(self.as_ptr()) }
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
        Zone::from_zone_type(unsafe { ffi::kalloc_page_zonenum(self.as_ptr()) })
    }

    /// Whether the page is highmem, without a permanent kernel mapping (C's
    /// `PageHighMem()`). Always `false` on 64-bit systems.
    pub fn is_highmem(&self) -> bool {
        // SAFETY: `page` is a valid `struct page` (type invariants).
        unsafe { ffi::kalloc_page_is_highmem(self.as_ptr()) }
    }

    /// The page's permanent kernel address (C's `page_address()`), or `None`
    /// for a highmem page.
    pub fn address(&self) -> Option<NonNull<u8>> {
        if self.is_highmem() {
            return None;
        }
        // SAFETY: `page` is a valid `struct page` (type invariants).
        NonNull::new(unsafe { ffi::kalloc_page_address(self.as_ptr()) }.cast())
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

#[cfg(kalloc_selftest)]
mod tests;
