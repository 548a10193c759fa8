// SPDX-License-Identifier: GPL-2.0

//! [`LocalMapping`]: a page mapped for the current thread (`kmap_local_page()`).

use super::{Contents, Init, PageRef};
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::NotThreadSafe;

/// One page mapped with `kmap_local_page()`, lent to the closure of
/// [`Pages::kmap_local`](crate::pages::Pages::kmap_local) or [`Pages::kmap_local_mut`](crate::pages::Pages::kmap_local_mut); dropping it runs
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
/// - If `C` is [`Init`], every byte of the page is initialised.
pub struct LocalMapping<'m, C: Contents = Init> {
    addr: NonNull<u8>,
    _scope: PhantomData<fn(&'m ()) -> &'m ()>,
    _contents: PhantomData<C>,
    _thread: NotThreadSafe,
}

impl<C: Contents> LocalMapping<'_, C> {
    /// Maps `page` with `kmap_local_page()`.
    ///
    /// # Safety
    ///
    /// - The page must stay allocated until the guard is dropped.
    /// - The guard must be dropped on this thread, after every local mapping
    ///   made after it and before every local mapping made before it.
    /// - If the guard is used mutably, nothing else may access the page
    ///   while it lives; otherwise, nothing may write to it.
    /// - If `C` is [`Init`], every byte of the page must be initialised.
    pub(super) unsafe fn new(page: PageRef<'_>) -> Self {
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
            _contents: PhantomData,
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

    /// Copies `dst.len()` possibly uninitialised bytes at `offset` in the
    /// page into `dst`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if they lie beyond the page, `EOVERFLOW` if the end
    /// overflows.
    pub fn read_uninit(&self, offset: usize, dst: &mut [MaybeUninit<u8>]) -> Result {
        let src = self.range(offset, dst.len())?;
        // SAFETY: `src` is valid for `dst.len()` bytes (checked by `range`,
        // mapping valid while `self` lives) and nothing writes to it
        // meanwhile (type invariants). `dst` cannot overlap: no reference
        // into the mapped page exists. Any byte is a `MaybeUninit<u8>`.
        unsafe { ptr::copy_nonoverlapping(src, dst.as_mut_ptr().cast(), dst.len()) };
        Ok(())
    }

    /// Copies `src` into the page at `offset`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if it would go beyond the page, `EOVERFLOW` if the end
    /// overflows.
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

impl LocalMapping<'_, Init> {
    /// Copies `dst.len()` bytes at `offset` in the page into `dst`.
    ///
    /// # Errors
    ///
    /// As for [`LocalMapping::read_uninit`].
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        let src = self.range(offset, dst.len())?;
        // SAFETY: As in `read_uninit`; the bytes are initialised (type
        // invariants), so `dst` receives valid `u8`s.
        unsafe { ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }
}

impl<C: Contents> Drop for LocalMapping<'_, C> {
    fn drop(&mut self) {
        // SAFETY: `addr` came from `kmap_local_page()` and is unmapped once,
        // here, on the mapping thread and in reverse order of mapping (type
        // invariants).
        unsafe { bindings::kunmap_local(self.addr.as_ptr().cast()) };
    }
}
