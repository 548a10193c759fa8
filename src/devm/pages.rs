// SPDX-License-Identifier: GPL-2.0

//! [`DevmPages`]: pages that belong to a bound device (`devm_get_free_pages()`).

use super::raw;
use crate::gfp::{Gfp, __GFP_NOFAIL, __GFP_ZERO};
use crate::pages::{Contents, Init, Uninit};
use crate::request;
use core::{
    marker::PhantomData,
    mem::MaybeUninit,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
};

/// `2^order` contiguous pages that belong to a bound device (C's
/// `devm_get_free_pages()`).
///
/// As for [`LowmemPages`](crate::pages::LowmemPages), what the handle
/// dereferences to says whether the bytes were initialised: zeroed pages
/// ([`DevmPages::alloc_zeroed`], [`Init`]) are `[u8]`, pages allocated
/// without `__GFP_ZERO` ([`DevmPages::alloc`], [`Uninit`]) are
/// `[MaybeUninit<u8>]`.
///
/// Dropping the handle leaves the pages with the device, which frees them
/// when it is unbound; [`DevmPages::free`] gives them back at once.
///
/// # Invariants
///
/// `addr` is the kernel address of `2^order` pages from
/// `devm_get_free_pages()` for `dev`, on `dev`'s resource list, not freed
/// while this handle exists (as for [`DevmBox`](crate::devm::DevmBox)). If `C` is [`Init`], they
/// are initialised. No other handle refers to them.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmPages<'a, C: Contents = Init> {
    dev: &'a Device<Bound>,
    addr: NonNull<u8>,
    order: u32,
    _contents: PhantomData<C>,
}

// SAFETY: The handle is the only access path to the bytes, like `&mut [u8]`.
unsafe impl<C: Contents> Send for DevmPages<'_, C> {}

// SAFETY: `&DevmPages` only gives shared access to the bytes.
unsafe impl<C: Contents> Sync for DevmPages<'_, C> {}

impl<'a> DevmPages<'a> {
    /// `2^order` zeroed pages for `dev` (C's `devm_get_free_pages()` with
    /// `__GFP_ZERO`), as for [`DevmPages::alloc`].
    ///
    /// # Errors
    ///
    /// As for [`DevmPages::alloc`].
    #[inline]
    pub fn alloc_zeroed(dev: &'a Device<Bound>, order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let pages = DevmPages::alloc(dev, order, flags | __GFP_ZERO)?;
        // INVARIANT: The page allocator zeroed every byte (`__GFP_ZERO`).
        Ok(DevmPages {
            dev: pages.dev,
            addr: pages.addr,
            order: pages.order,
            _contents: PhantomData,
        })
    }
}

impl<'a> DevmPages<'a, Uninit> {
    /// `2^order` pages for `dev` (C's `devm_get_free_pages()`), whose bytes
    /// are whatever their previous owner left.
    ///
    /// May sleep, whatever the flags: C allocates its bookkeeping with
    /// `GFP_KERNEL`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an order above [`MAX_PAGE_ORDER`](crate::pages::MAX_PAGE_ORDER), for invalid
    /// flags, flags that may not sleep or hold `__GFP_NOFAIL`, and for the
    /// highmem and movable zones (the pages need a kernel address);
    /// `ENOMEM` if the allocation fails.
    #[inline]
    pub fn alloc(dev: &'a Device<Bound>, order: u32, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = request::pages(flags, order, true)?;
        if flags.contains(__GFP_NOFAIL) || !flags.may_sleep() {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is bound; the flags are valid, may sleep and ask for
        // a zone with kernel addresses, and `order <= MAX_PAGE_ORDER`.
        let addr = unsafe { bindings::devm_get_free_pages(raw(dev), flags.as_raw(), order) };
        // INVARIANT: Pages on `dev`'s list, or 0 on failure.
        NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr as usize))
            .map(|addr| Self {
                dev,
                addr,
                order,
                _contents: PhantomData,
            })
            .ok_or(ENOMEM)
    }

    /// Sets every byte of the block to `byte`: the block is now [`Init`].
    pub fn fill(self, byte: u8) -> DevmPages<'a> {
        // SAFETY: By the type invariants `addr` is `self.size()` bytes of
        // pages that only this handle accesses, and `self` is consumed.
        unsafe { ptr::write_bytes(self.addr.as_ptr(), byte, self.size()) };
        // SAFETY: Every byte was just written.
        unsafe { self.assume_init() }
    }

    /// The block as [`Init`], without writing it.
    ///
    /// # Safety
    ///
    /// Every byte of the block must be initialised: written since it was
    /// allocated, through the handle's `[MaybeUninit<u8>]` or by a device
    /// or C function given its address.
    pub unsafe fn assume_init(self) -> DevmPages<'a> {
        // INVARIANT: The same pages, still on `dev`'s list; initialised by
        // the caller's guarantee.
        DevmPages {
            dev: self.dev,
            addr: self.addr,
            order: self.order,
            _contents: PhantomData,
        }
    }
}

impl<'a, C: Contents> DevmPages<'a, C> {
    /// The length of the block in bytes.
    fn size(&self) -> usize {
        bindings::PAGE_SIZE << self.order
    }

    /// The order of the allocation: it spans `2^order` pages.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// The device the pages belong to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the pages back now (C's `devm_free_pages()`): takes them off
    /// the device's list and frees them. The device does not free them
    /// again.
    pub fn free(self) {
        let addr = self.addr.as_ptr().expose_provenance() as c_ulong;
        // SAFETY: By the type invariants, `addr` is a live allocation of
        // `devm_get_free_pages()` on `dev`'s list; `self` is consumed.
        unsafe { bindings::devm_free_pages(raw(self.dev), addr) };
    }
}

impl Deref for DevmPages<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: By the type invariants, `addr` points to `size()`
        // initialised bytes that stay allocated while `self` exists.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr(), self.size()) }
    }
}

impl DerefMut for DevmPages<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: As in `deref`; `&mut self` is the only access path.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr(), self.size()) }
    }
}

impl Deref for DevmPages<'_, Uninit> {
    type Target = [MaybeUninit<u8>];

    fn deref(&self) -> &[MaybeUninit<u8>] {
        // SAFETY: By the type invariants, `addr` points to `size()` bytes
        // that stay allocated while `self` exists; any byte is a valid
        // `MaybeUninit<u8>`.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr().cast(), self.size()) }
    }
}

impl DerefMut for DevmPages<'_, Uninit> {
    fn deref_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: As in `deref`; `&mut self` is the only access path.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr().cast(), self.size()) }
    }
}
