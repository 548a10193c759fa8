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
//! Pages allocated without `__GFP_ZERO` hold whatever their previous owner
//! left: stale bytes that Rust must treat as uninitialised (KMSAN reports
//! reads of them). The type says which it is: a block is
//! [`Uninit`] until it is written in full, and only an [`Init`] block
//! (allocated zeroed, or filled) gives `&[u8]` or copies bytes out;
//! an [`Uninit`] one gives `MaybeUninit<u8>`.
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
//! The `kalloc_pages` suite proves that a dropped block gives back exactly
//! its `2^order` pages by counting the allocator's free pages while the
//! machine is stopped (test aids in `src/selftest/pages.rs`).
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{GFP_HIGHUSER, GFP_KERNEL};
//! use kalloc::pages::{LowmemPages, Pages};
//!
//! // 4 contiguous zeroed pages in the linear mapping, as a byte slice.
//! let mut buf = LowmemPages::get_zeroed_pages(2, GFP_KERNEL)?;
//! buf.as_mut_slice()[..5].copy_from_slice(b"hello");
//! let first_pfn = buf.page(0).ok_or(EINVAL)?.pfn();
//! assert_eq!(buf.page(1).ok_or(EINVAL)?.pfn(), first_pfn + 1);
//!
//! // Stale bytes are not readable until written: `fill` makes them so.
//! let scratch = LowmemPages::get_free_page(GFP_KERNEL)?.fill(0xa5);
//! assert!(scratch.as_slice().iter().all(|&b| b == 0xa5));
//!
//! // A page that may be highmem: only reachable through a local mapping.
//! let mut page = Pages::alloc_zeroed_page(GFP_HIGHUSER)?;
//! page.kmap_local_mut(0, |map| map.write(0, b"hello"))??;
//! let mut hello = [0u8; 5];
//! page.kmap_local(0, |map| map.read(0, &mut hello))??;
//! assert_eq!(&hello, b"hello");
//! // Both blocks are freed here, with the order they were allocated with.
//! ```

use crate::gfp::Gfp;
use crate::request;
use kernel::prelude::*;

pub use crate::request::MAX_PAGE_ORDER;

/// Returns `flags` if the page allocator can serve a block of `2^order`
/// pages with them (see the module documentation).
#[inline]
fn check_request(flags: Gfp, order: u32) -> Result<Gfp> {
    request::pages(flags, order, false)
}

/// [`check_request`] for the calls that return an address: also `EINVAL`
/// for a zone without one (highmem, movable).
#[inline]
fn check_lowmem_request(flags: Gfp, order: u32) -> Result<Gfp> {
    request::pages(flags, order, true)
}

/// What the bytes of a block are: [`Init`] or [`Uninit`].
///
/// Sealed: those are the only two.
pub trait Contents: private::Sealed {}

/// The block's bytes are initialised: it was allocated zeroed, or written
/// in full. Its bytes can be read.
pub enum Init {}

/// The block's bytes may be uninitialised: allocated without `__GFP_ZERO`,
/// they are whatever the previous owner left. They can be written, and
/// read as `MaybeUninit<u8>`.
pub enum Uninit {}

impl Contents for Init {}
impl Contents for Uninit {}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Init {}
    impl Sealed for super::Uninit {}
}

mod kmap;
mod lowmem;
mod page;

pub use kmap::LocalMapping;
pub use lowmem::LowmemPages;
pub use page::{PageRef, Pages};

#[cfg(kalloc_selftest)]
mod tests;
