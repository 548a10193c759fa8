// SPDX-License-Identifier: GPL-2.0

//! [`DevmPages`]: pages that belong to a bound device (`devm_get_free_pages()`).

use super::raw;
use crate::gfp::{Gfp, __GFP_NOFAIL, __GFP_ZERO};
use crate::request;
use core::{
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
};

/// `2^order` contiguous, zeroed pages that belong to a bound device (C's
/// `devm_get_free_pages()`), as bytes.
///
/// Dropping the handle leaves the pages with the device, which frees them
/// when it is unbound; [`DevmPages::free`] gives them back at once.
///
/// # Invariants
///
/// `addr` is the kernel address of `2^order` pages from
/// `devm_get_free_pages()` for `dev`, on `dev`'s resource list, not freed
/// while this handle exists (as for [`DevmBox`]), and initialised (they were
/// allocated zeroed). No other handle refers to them.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmPages<'a> {
    dev: &'a Device<Bound>,
    addr: NonNull<u8>,
    order: u32,
}

// SAFETY: The handle is the only access path to the bytes, like `&mut [u8]`.
unsafe impl Send for DevmPages<'_> {}

// SAFETY: `&DevmPages` only gives `&[u8]`.
unsafe impl Sync for DevmPages<'_> {}

impl<'a> DevmPages<'a> {
    /// `2^order` zeroed pages for `dev` (C's `devm_get_free_pages()` with
    /// `__GFP_ZERO` added, so that the bytes can be read).
    ///
    /// May sleep, whatever the flags: C allocates its bookkeeping with
    /// `GFP_KERNEL`.
    ///
    /// Errors: `EINVAL` for an order above [`MAX_PAGE_ORDER`], for invalid
    /// flags, flags that may not sleep or hold `__GFP_NOFAIL`, and for the
    /// highmem and movable zones (the pages need a kernel address);
    /// `ENOMEM` if the allocation fails.
    pub fn alloc(dev: &'a Device<Bound>, flags: Gfp, order: u32) -> Result<Self> {
        let flags = request::pages(flags, order, true)?;
        if flags.contains(__GFP_NOFAIL) || !flags.may_sleep() {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is bound; the flags are valid, may sleep and ask for
        // a zone with kernel addresses, and `order <= MAX_PAGE_ORDER`.
        let addr = unsafe {
            bindings::devm_get_free_pages(raw(dev), (flags | __GFP_ZERO).as_raw(), order)
        };
        // INVARIANT: Zeroed pages on `dev`'s list, or 0 on failure.
        NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr as usize))
            .map(|addr| Self { dev, addr, order })
            .ok_or(ENOMEM)
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
        let len = bindings::PAGE_SIZE << self.order;
        // SAFETY: By the type invariants, `addr` points to `len` initialised
        // bytes that stay allocated while `self` exists.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr(), len) }
    }
}

impl DerefMut for DevmPages<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = bindings::PAGE_SIZE << self.order;
        // SAFETY: As in `deref`; `&mut self` is the only access path.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr(), len) }
    }
}
