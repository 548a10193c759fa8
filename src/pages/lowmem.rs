// SPDX-License-Identifier: GPL-2.0

//! [`LowmemPages`]: page blocks in the linear map (`__get_free_pages()`).

use super::{check_lowmem_request, Contents, Init, PageRef, Pages, Uninit};
use crate::ffi;
use crate::gfp::{Gfp, __GFP_ZERO, GFP_DMA};
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// `2^order` physically contiguous, permanently mapped pages, from
/// `__get_free_pages()` and its relatives.
///
/// The memory is lowmem, so it is a slice valid on every CPU. A block
/// allocated zeroed ([`LowmemPages::get_zeroed_pages`]) is
/// [`Init`]: bytes ([`LowmemPages::as_slice`]). One allocated without
/// `__GFP_ZERO` holds whatever the previous owner left, which Rust must not
/// read as bytes: it is [`Uninit`], reached as `MaybeUninit<u8>`
/// ([`LowmemPages::as_uninit_mut_slice`]) until [`LowmemPages::fill`] (or
/// the caller's promise, [`LowmemPages::assume_init`]) makes it [`Init`].
///
/// # Invariants
///
/// - `addr` is the kernel virtual address, in the linear mapping, of a
///   block of `2^order` pages that the page allocator handed out as one
///   allocation of order `order`; this value owns it and nothing else
///   accesses it. So `free_pages(addr, order)` frees exactly that block.
/// - `order <= MAX_PAGE_ORDER`.
/// - If `C` is [`Init`], every byte of the block is initialised.
pub struct LowmemPages<C: Contents = Init> {
    pub(super) addr: NonNull<u8>,
    pub(super) order: u32,
    pub(super) _contents: PhantomData<C>,
}

// SAFETY: `LowmemPages` owns its memory like a `KBox<[u8]>` does: the
// mapping is the same on every CPU and `free_pages` may be called from any
// thread, so the owner may move to another thread.
unsafe impl<C: Contents> Send for LowmemPages<C> {}

// SAFETY: Shared references only give shared access to the memory, which
// any number of threads may read at once.
unsafe impl<C: Contents> Sync for LowmemPages<C> {}

impl LowmemPages<Uninit> {
    /// Allocates `2^order` contiguous pages (C's `__get_free_pages()`).
    ///
    /// # Errors
    ///
    /// As for [`Pages::alloc_pages`]; `EINVAL` also for flags that ask for
    /// highmem (an address cannot name a highmem page: use
    /// [`Pages::alloc_pages`]). Add `__GFP_NOWARN` if failure is expected.
    #[inline]
    pub fn get_free_pages(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_lowmem_request(flags, order)?;
        // SAFETY: The flags are a valid combination without highmem and
        // `order <= MAX_PAGE_ORDER`; the call returns 0 or a new block.
        let addr = unsafe { ffi::get_free_pages(flags.as_raw(), order) };
        // C returns the block's address as an integer: take back the
        // provenance that `(unsigned long)page_address(page)` exposed.
        let addr = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).ok_or(ENOMEM)?;
        // INVARIANT: A non-zero return is the linear-map address of a new
        // block of order `order`, now owned by the value returned; its bytes
        // count as uninitialised.
        Ok(Self {
            addr,
            order,
            _contents: PhantomData,
        })
    }

    /// Allocates one page (C's `__get_free_page()`).
    ///
    /// # Errors
    ///
    /// As for [`LowmemPages::get_free_pages`].
    #[inline]
    pub fn get_free_page(flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        Self::get_free_pages(0, flags)
    }

    /// Allocates `2^order` contiguous pages from `ZONE_DMA`, for devices
    /// that can only address the lowest 16 MiB on x86 (C's
    /// `__get_dma_pages()`, which is `__get_free_pages(flags | GFP_DMA)`).
    ///
    /// `ZONE_DMA` is small: prefer the DMA API for device memory.
    ///
    /// # Errors
    ///
    /// As for [`LowmemPages::get_free_pages`], for `flags | GFP_DMA`: so
    /// `EINVAL` also for flags with another zone modifier (`GFP_DMA32`).
    #[inline]
    pub fn get_dma_pages(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        Self::get_free_pages(order, flags | GFP_DMA)
    }

    /// The whole block, whose bytes may be uninitialised, to write.
    pub fn as_uninit_mut_slice(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: By the type invariants the block is `self.size()` mapped
        // bytes that only `self` accesses; the exclusive borrow of `self`
        // makes this the only access for the slice's lifetime. Any byte is
        // a valid `MaybeUninit<u8>`.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr().cast(), self.size()) }
    }

    /// Sets every byte of the block to `byte`: the block is now [`Init`].
    pub fn fill(self, byte: u8) -> LowmemPages {
        // SAFETY: As in `as_uninit_mut_slice`: `self.size()` writable bytes
        // that only `self` accesses.
        unsafe { ptr::write_bytes(self.addr.as_ptr(), byte, self.size()) };
        // SAFETY: Every byte was just written.
        unsafe { self.assume_init() }
    }

    /// The block as [`Init`], without writing it.
    ///
    /// # Safety
    ///
    /// Every byte of the block must be initialised: written since it was
    /// allocated, through [`LowmemPages::as_uninit_mut_slice`] or by a C
    /// function given [`LowmemPages::as_ptr`], or allocated with
    /// `__GFP_ZERO`.
    pub unsafe fn assume_init(self) -> LowmemPages {
        let this = ManuallyDrop::new(self);
        // INVARIANT: Guaranteed by the caller; the block moves, unchanged.
        LowmemPages {
            addr: this.addr,
            order: this.order,
            _contents: PhantomData,
        }
    }
}

impl LowmemPages {
    /// Allocates `2^order` contiguous zeroed pages (C's
    /// `__get_free_pages(flags | __GFP_ZERO, order)`), as
    /// [`LowmemPages::get_free_pages`] does otherwise.
    ///
    /// # Errors
    ///
    /// As for [`LowmemPages::get_free_pages`].
    #[inline]
    pub fn get_zeroed_pages(order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let pages = LowmemPages::get_free_pages(order, flags | __GFP_ZERO)?;
        // SAFETY: The page allocator zeroed every byte (`__GFP_ZERO`).
        Ok(unsafe { pages.assume_init() })
    }

    /// Allocates one zeroed page (C's `get_zeroed_page()`).
    ///
    /// # Errors
    ///
    /// As for [`LowmemPages::get_free_pages`].
    #[inline]
    pub fn get_zeroed_page(flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_lowmem_request(flags, 0)?;
        // SAFETY: As in `get_free_pages`, for order 0.
        let addr = unsafe { ffi::get_zeroed_page(flags.as_raw()) };
        let addr = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).ok_or(ENOMEM)?;
        // INVARIANT: A non-zero return is the linear-map address of a new
        // zeroed page (order 0), now owned by the value returned: every byte
        // is initialised.
        Ok(Self {
            addr,
            order: 0,
            _contents: PhantomData,
        })
    }

    /// The whole block as bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: By the type invariants the block is `self.size()` mapped,
        // initialised bytes that only `self` accesses; the borrow of `self`
        // keeps them allocated and unwritten for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr(), self.size()) }
    }

    /// The whole block as mutable bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: As in `as_slice`; the exclusive borrow of `self` makes
        // this the only access for the slice's lifetime.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr(), self.size()) }
    }
}

impl<C: Contents> LowmemPages<C> {
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

    /// The whole block, as possibly uninitialised bytes.
    pub fn as_uninit_slice(&self) -> &[MaybeUninit<u8>] {
        // SAFETY: By the type invariants the block is `self.size()` mapped
        // bytes that only `self` accesses; the borrow of `self` keeps them
        // allocated and unwritten for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr().cast(), self.size()) }
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
    pub fn into_pages(self) -> Pages<C> {
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
            _contents: PhantomData,
        }
    }
}

impl<C: Contents> Drop for LowmemPages<C> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `self` owns the block at `addr`, of
        // order `order`, and this is its only free.
        unsafe { bindings::free_pages(self.addr.as_ptr().expose_provenance(), self.order) };
    }
}
