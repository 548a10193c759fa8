// SPDX-License-Identifier: GPL-2.0

//! [`DevmBox`]: a value or slice in memory that belongs to a bound device.

use super::{check_request, raw, DEVM_ALIGN};
use crate::ffi;
use crate::gfp::Gfp;
use crate::request::array_size;
use core::{
    ops::{Deref, DerefMut},
    ptr::NonNull,
};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
};

/// A value of type `T` (or a slice) in memory that belongs to a bound
/// device (C's `devm_kmalloc()` family).
///
/// The handle dereferences to the value. Dropping it leaves the memory with
/// the device, which frees it when it is unbound; [`DevmBox::free`] gives
/// it back at once. `T` may not have drop glue, and its alignment may be
/// at most [`DEVM_ALIGN`] (both checked at compile time).
///
/// # Invariants
///
/// - `ptr` points to an initialised `T` in memory from `devm_kmalloc()`
///   (or one of its inline variants) for `dev`, aligned for `T`, not empty,
///   and on `dev`'s resource list;
/// - the memory is not freed while this handle exists: only
///   [`DevmBox::free`], which consumes it, frees it early, and the device
///   frees it when it is unbound, after `'a`;
/// - no other handle refers to the memory.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmBox<'a, T: ?Sized> {
    dev: &'a Device<Bound>,
    ptr: NonNull<T>,
}

// SAFETY: A `DevmBox` is the only access path to its `T`, like `&mut T`:
// sending it sends the `T`. `&Device<Bound>` is `Send` (`Device<Bound>` is
// `Sync`).
unsafe impl<T: ?Sized + Send> Send for DevmBox<'_, T> {}

// SAFETY: `&DevmBox` only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for DevmBox<'_, T> {}

/// Whether values of `T` may live in device-scoped memory: the device frees
/// it without running destructors, and guarantees [`DEVM_ALIGN`].
pub(super) const fn storable<T>() -> bool {
    !core::mem::needs_drop::<T>() && align_of::<T>() <= DEVM_ALIGN
}

impl<'a, T> DevmBox<'a, T> {
    /// Moves `value` into memory of `dev` (C's `devm_kmalloc()`).
    ///
    /// # Errors
    ///
    /// See the module documentation; `ENOMEM` if the allocation
    /// fails.
    #[inline]
    pub fn new(dev: &'a Device<Bound>, value: T, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let flags = check_request(size_of::<T>(), flags)?;
        // SAFETY: `dev` is bound (`&Device<Bound>`), so the memory goes on
        // the list of a device that releases it on unbind. The size is
        // neither zero nor too large for kmalloc.
        let ptr = unsafe { bindings::devm_kmalloc(raw(dev), size_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `ptr` is a fresh allocation of `size_of::<T>()` bytes,
        // aligned to `DEVM_ALIGN`, at least `align_of::<T>()` (checked above).
        unsafe { ptr.write(value) };
        // INVARIANT: `ptr` holds a `T` in a fresh allocation on `dev`'s list.
        Ok(Self { dev, ptr })
    }

    /// A zeroed `T` in memory of `dev` (C's `devm_kzalloc()`).
    ///
    /// # Errors
    ///
    /// As for [`DevmBox::new`].
    #[inline]
    pub fn new_zeroed(dev: &'a Device<Bound>, flags: impl Into<Gfp>) -> Result<Self>
    where
        T: Zeroable,
    {
        let flags: Gfp = flags.into();
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let flags = check_request(size_of::<T>(), flags)?;
        // SAFETY: As in `new`.
        let ptr = unsafe { ffi::kalloc_devm_kzalloc(raw(dev), size_of::<T>(), flags.as_raw()) };
        // INVARIANT: The memory is zeroed, a valid `T` (`T: Zeroable`), and
        // aligned for it; it is on `dev`'s list.
        NonNull::new(ptr.cast::<T>())
            .map(|ptr| Self { dev, ptr })
            .ok_or(ENOMEM)
    }
}

impl<'a, T> DevmBox<'a, [T]> {
    /// `len` zeroed values of `T` in memory of `dev` (C's `devm_kcalloc()`).
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `len * size_of::<T>()` overflows; otherwise
    /// as for [`DevmBox::new`], for the size in bytes.
    #[inline]
    pub fn new_slice_zeroed(
        dev: &'a Device<Bound>,
        len: usize,
        flags: impl Into<Gfp>,
    ) -> Result<Self>
    where
        T: Zeroable,
    {
        let flags: Gfp = flags.into();
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let size = array_size::<T>(len)?;
        let flags = check_request(size, flags)?;
        // SAFETY: As in `new`; `len * size_of::<T>()` does not overflow.
        let ptr =
            unsafe { ffi::kalloc_devm_kcalloc(raw(dev), len, size_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: `len` zeroed, valid (`T: Zeroable`) and aligned values
        // of `T`, in memory on `dev`'s list.
        Ok(Self {
            dev,
            ptr: NonNull::slice_from_raw_parts(ptr, len),
        })
    }
}

impl<'a, T: Copy> DevmBox<'a, [T]> {
    /// A copy of `src` in memory of `dev` (C's `devm_kmemdup()`).
    ///
    /// # Errors
    ///
    /// As for [`DevmBox::new_slice_zeroed`]; `EINVAL` for an empty
    /// `src` (a device holds no empty allocation).
    #[inline]
    pub fn from_slice(dev: &'a Device<Bound>, src: &[T], flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let size = size_of_val(src);
        let flags = check_request(size, flags)?;
        // SAFETY: As in `new`; `src` is readable for `size` bytes.
        let ptr =
            unsafe { bindings::devm_kmemdup(raw(dev), src.as_ptr().cast(), size, flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: A copy of `src.len()` valid values of `T` (`T: Copy`),
        // aligned, in memory on `dev`'s list.
        Ok(Self {
            dev,
            ptr: NonNull::slice_from_raw_parts(ptr, src.len()),
        })
    }

    /// Resizes the memory to `new_len` values (C's `devm_krealloc()`): the
    /// first `min(len, new_len)` values stay, new ones are `value`; the
    /// memory stays on the device's list (moved, if C had to move it).
    ///
    /// # Errors
    ///
    /// As for [`DevmBox::new_slice_zeroed`], for the new size; a
    /// new length of 0 is `EINVAL` (C would free the memory). On an error
    /// the memory is unchanged.
    #[inline]
    pub fn resize(&mut self, new_len: usize, value: T, flags: impl Into<Gfp>) -> Result {
        let flags: Gfp = flags.into();
        let size = array_size::<T>(new_len)?;
        let flags = check_request(size, flags)?;
        // SAFETY: By the type invariants `ptr` is a live `devm_kmalloc()`
        // allocation on the list of `dev`, which is bound; the size and
        // flags are checked; on failure C leaves it as it was.
        let new = unsafe {
            bindings::devm_krealloc(
                raw(self.dev),
                self.ptr.as_ptr().cast(),
                size,
                flags.as_raw(),
            )
        };
        let new = NonNull::new(new.cast::<T>()).ok_or(ENOMEM)?;
        let old_len = self.ptr.len();
        for i in old_len..new_len {
            // SAFETY: `new` has room for `new_len` values; `i < new_len`.
            unsafe { new.as_ptr().add(i).write(value) };
        }
        // INVARIANT: C moved or kept the first `min(old_len, new_len)`
        // values (`T: Copy`, so nothing to drop for a shrink) and the rest
        // were written above; the allocation replaced the old one on `dev`'s
        // list.
        self.ptr = NonNull::slice_from_raw_parts(new, new_len);
        Ok(())
    }
}

impl<'a, T: ?Sized> DevmBox<'a, T> {
    /// The device the memory belongs to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the memory back now (C's `devm_kfree()`): takes it off the
    /// device's list and frees it. The device does not free it again.
    pub fn free(self) {
        // SAFETY: By the type invariants, `ptr` is a live `devm_kmalloc()`
        // allocation on `dev`'s list, which `dev` (bound for `'a`) still
        // holds; `self` is consumed, so the memory is not used again.
        unsafe { bindings::devm_kfree(raw(self.dev), self.ptr.as_ptr().cast()) };
    }
}

impl<T: ?Sized> Deref for DevmBox<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants, `ptr` points to a valid `T` that
        // stays allocated while `self` exists.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for DevmBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: As in `deref`; no other handle refers to the value, and
        // `&mut self` is unique.
        unsafe { self.ptr.as_mut() }
    }
}
