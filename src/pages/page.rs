// SPDX-License-Identifier: GPL-2.0

//! [`Pages`] and [`PageRef`]: page blocks as `struct page` (`alloc_pages()`), any zone.

use super::{check_request, Contents, Init, LocalMapping, LowmemPages, Uninit};
use crate::ffi;
use crate::gfp::{Gfp, Node, Zone, __GFP_ZERO};
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// `2^order` physically contiguous pages from `alloc_pages()`, owned
/// through their first `struct page`.
///
/// The pages may be highmem (allocated with `__GFP_HIGHMEM`), so there is
/// no slice of them: their bytes are reached one page at a time through a
/// [`LocalMapping`] ([`Pages::kmap_local`], [`Pages::kmap_local_mut`]).
/// On 64-bit systems every page is lowmem and the mapping is free, but
/// portable code must not rely on that. As for [`LowmemPages`], a block
/// allocated without `__GFP_ZERO` is [`Uninit`]: its bytes can be written,
/// and read only as `MaybeUninit<u8>`, until it is [`Pages::fill`]ed.
///
/// # Invariants
///
/// - `page` is the first `struct page` of a block of `2^order` pages that
///   the page allocator handed out as one non-compound allocation of order
///   `order`; this value owns it and nothing else accesses it. So
///   `__free_pages(page, order)` frees exactly that block.
/// - `order <= MAX_PAGE_ORDER`.
/// - If `C` is [`Init`], every byte of the block is initialised.
pub struct Pages<C: Contents = Init> {
    pub(super) page: NonNull<bindings::page>,
    pub(super) order: u32,
    pub(super) _contents: PhantomData<C>,
}

// SAFETY: `Pages` owns its memory exclusively and no mapping outlives a
// method call, so it may move to another thread; `__free_pages` may be
// called from any thread.
unsafe impl<C: Contents> Send for Pages<C> {}

// SAFETY: Shared references only read: `kmap_local` gives read access, in
// a mapping local to the calling thread, and any number of threads may
// read at once.
unsafe impl<C: Contents> Sync for Pages<C> {}

impl Pages<Uninit> {
    /// Allocates `2^order` contiguous pages (C's `alloc_pages()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an order above
    /// [`MAX_PAGE_ORDER`](crate::pages::MAX_PAGE_ORDER), for invalid flags
    /// ([`Gfp::check`]), for `__GFP_NOFAIL` above order 1, for `__GFP_COMP`
    /// (the block is not a compound page) and for movable memory
    /// ([`Gfp::movable`], as in `GFP_HIGHUSER_MOVABLE`: the kernel could not
    /// migrate the block, which would make memory offlining and
    /// `cma_alloc()` fail); `EAGAIN` for flags that may sleep in a context
    /// that may not; `ENOMEM` when the allocator has no such block. Add
    /// `__GFP_NOWARN` if failure is expected.
    #[inline]
    pub fn alloc_pages(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_request(flags, order)?;
        // SAFETY: The flags are a valid combination and
        // `order <= MAX_PAGE_ORDER`; the call returns NULL or a new block.
        let page = unsafe { bindings::alloc_pages(flags.as_raw(), order) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: A non-NULL return is the first page of a new block of
        // order `order` (not compound: the request check refuses
        // `__GFP_COMP`), now owned by the value returned; its bytes count as
        // uninitialised.
        Ok(Self {
            page,
            order,
            _contents: PhantomData,
        })
    }

    /// Allocates one page (C's `alloc_page()`).
    ///
    /// # Errors
    ///
    /// As for [`Pages::alloc_pages`].
    #[inline]
    pub fn alloc_page(flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        Self::alloc_pages(0, flags)
    }

    /// Allocates `2^order` contiguous pages on node `node` (C's
    /// `alloc_pages_node()`), as [`Pages::alloc_pages`] does otherwise.
    ///
    /// # Errors
    ///
    /// As for [`Pages::alloc_pages`].
    #[inline]
    pub fn alloc_pages_on(order: u32, flags: impl Into<Gfp>, node: Node) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_request(flags, order)?;
        // SAFETY: As in `alloc_pages`; the node is `NUMA_NO_NODE` or was
        // online (`Node`'s invariant).
        let page = unsafe { ffi::kalloc_alloc_pages_node(node.id(), flags.as_raw(), order) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: As in `alloc_pages`.
        Ok(Self {
            page,
            order,
            _contents: PhantomData,
        })
    }

    /// Sets every byte of the block to `byte`, one local mapping at a time:
    /// the block is now [`Init`].
    pub fn fill(mut self, byte: u8) -> Pages {
        for index in 0..self.nr_pages() {
            // `index < nr_pages()`: the page exists.
            let _ = self.kmap_local_mut(index, |map| map.fill(byte));
        }
        // SAFETY: Every byte of every page was just written.
        unsafe { self.assume_init() }
    }

    /// The block as [`Init`], without writing it.
    ///
    /// # Safety
    ///
    /// Every byte of the block must be initialised: written since it was
    /// allocated (through a [`LocalMapping`] or by a C function), or
    /// allocated with `__GFP_ZERO`.
    pub unsafe fn assume_init(self) -> Pages {
        let this = ManuallyDrop::new(self);
        // INVARIANT: Guaranteed by the caller; the block moves, unchanged.
        Pages {
            page: this.page,
            order: this.order,
            _contents: PhantomData,
        }
    }
}

impl Pages {
    /// Allocates `2^order` contiguous zeroed pages (C's
    /// `alloc_pages(flags | __GFP_ZERO, order)`), as [`Pages::alloc_pages`]
    /// does otherwise.
    ///
    /// # Errors
    ///
    /// As for [`Pages::alloc_pages`].
    #[inline]
    pub fn alloc_zeroed_pages(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let pages = Pages::alloc_pages(order, flags | __GFP_ZERO)?;
        // SAFETY: The page allocator zeroed every byte (`__GFP_ZERO`).
        Ok(unsafe { pages.assume_init() })
    }

    /// Allocates one zeroed page.
    ///
    /// # Errors
    ///
    /// As for [`Pages::alloc_pages`].
    #[inline]
    pub fn alloc_zeroed_page(flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        Self::alloc_zeroed_pages(0, flags)
    }
}

impl<C: Contents> Pages<C> {
    /// The block of `2^order` pages that starts at `page`, as a `Pages`.
    ///
    /// # Safety
    ///
    /// `page` and `order` meet the type invariants: the block is the
    /// caller's to give, from a non-compound `alloc_pages()` of order
    /// `order`, with its bytes initialised if `C` is [`Init`].
    pub(crate) unsafe fn from_raw(page: NonNull<bindings::page>, order: u32) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            page,
            order,
            _contents: PhantomData,
        }
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
    /// returns.
    ///
    /// The mapping is only valid on this thread, and mappings must be
    /// undone in the reverse order they were made: both hold by
    /// construction, since the [`LocalMapping`] is only lent to `f` and
    /// cannot leave it, and calls nest.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `index >= self.nr_pages()`; `f` does not run then.
    pub fn kmap_local<T>(
        &self,
        index: usize,
        f: impl FnOnce(&LocalMapping<'_, C>) -> T,
    ) -> Result<T> {
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
    ///
    /// # Errors
    ///
    /// As for [`Pages::kmap_local`].
    pub fn kmap_local_mut<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut LocalMapping<'_, C>) -> T,
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
    /// # Errors
    ///
    /// Gives `self` back unchanged if the block is highmem, which has no
    /// permanent address.
    pub fn into_lowmem(self) -> Result<LowmemPages<C>, Self> {
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
            _contents: PhantomData,
        })
    }
}

impl<C: Contents> Drop for Pages<C> {
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
    pub(super) unsafe fn from_raw(page: NonNull<bindings::page>) -> Self {
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
