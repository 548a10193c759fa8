// SPDX-License-Identifier: GPL-2.0

//! [`DevmStr`]: a C string that belongs to a bound device (`devm_kasprintf()`).

use super::{check_flags, check_request, raw, DEVM_KMALLOC_MAX_SIZE};
use crate::gfp::Gfp;
use core::{
    fmt,
    ops::Deref,
    ptr::{self, NonNull},
};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
    str::CStrExt,
};

/// A NUL-terminated string formatted into memory of a bound device (C's
/// `devm_kasprintf()`), for names and labels that live as long as the
/// binding.
///
/// Dereferences to [`CStr`]. Dropping the handle leaves the string with the
/// device; [`DevmStr::free`] gives it back at once.
///
/// # Invariants
///
/// `ptr` points to a NUL-terminated string in memory from
/// `devm_kasprintf()` or `devm_kstrdup()` for `dev`, on `dev`'s resource
/// list, not freed while
/// this handle exists (as for [`DevmBox`](crate::devm::DevmBox)), and never written to.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmStr<'a> {
    dev: &'a Device<Bound>,
    ptr: NonNull<c_char>,
}

// SAFETY: The string is never written to; any thread may read it.
unsafe impl Send for DevmStr<'_> {}

// SAFETY: As for `Send`.
unsafe impl Sync for DevmStr<'_> {}

impl<'a> DevmStr<'a> {
    /// Formats `args` (built with `fmt!`) into a new string of `dev`: C's
    /// `devm_kasprintf(dev, flags, "%pA", &args)`, where `%pA` runs Rust's
    /// formatting machinery from C. Any flags kmalloc honours will do.
    ///
    /// C formats twice (to size its allocation, then to fill it), so the
    /// text is formatted once beforehand, checked and kept in a temporary
    /// buffer (see `format_once`): C formats that
    /// text, the same each time.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, for text with a NUL
    /// byte (C would cut the string there) or if formatting fails; `ENOMEM`
    /// for a string longer than [`DEVM_KMALLOC_MAX_SIZE`] (with its NUL) or
    /// if an allocation fails.
    #[inline]
    pub fn format(
        dev: &'a Device<Bound>,
        args: fmt::Arguments<'_>,
        flags: impl Into<Gfp>,
    ) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_flags(flags)?;
        let text = crate::kmalloc::format_once(args, DEVM_KMALLOC_MAX_SIZE - 1, flags)?;
        // The bytes of `&str`s, as written by `format_once`.
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        let flags = check_request(text.len() + 1, flags)?;
        Self::kasprintf(dev, flags, fmt!("{text}"))
    }

    /// C's `devm_kasprintf(dev, flags, "%pA", &args)`, for `args` that give
    /// text C may format twice: at most [`DEVM_KMALLOC_MAX_SIZE`] bytes with
    /// its NUL, the same each time, and without NUL bytes.
    fn kasprintf(dev: &'a Device<Bound>, flags: Gfp, args: fmt::Arguments<'_>) -> Result<Self> {
        // SAFETY: `dev` is bound. `%pA` takes a pointer to a
        // `fmt::Arguments`, and `args` outlives the call.
        let ptr = unsafe {
            bindings::devm_kasprintf(
                raw(dev),
                flags.as_raw(),
                c"%pA".as_char_ptr(),
                ptr::from_ref(&args).cast::<c_void>(),
            )
        };
        // INVARIANT: A fresh NUL-terminated string on `dev`'s list.
        NonNull::new(ptr).map(|ptr| Self { dev, ptr }).ok_or(ENOMEM)
    }

    /// A copy of `s` in memory of `dev` (C's `devm_kstrdup()`). Any flags
    /// kmalloc honours will do.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour; `ENOMEM` for a
    /// string longer than [`DEVM_KMALLOC_MAX_SIZE`] (with its NUL) or if
    /// the allocation fails.
    #[inline]
    pub fn from_cstr(dev: &'a Device<Bound>, s: &CStr, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_request(s.to_bytes_with_nul().len(), flags)?;
        // SAFETY: `dev` is bound; `s` is NUL-terminated; the flags and the
        // size are ones `devm_kmalloc()` takes without a warning.
        let ptr = unsafe { bindings::devm_kstrdup(raw(dev), s.as_char_ptr(), flags.as_raw()) };
        // INVARIANT: A fresh NUL-terminated string on `dev`'s list.
        NonNull::new(ptr).map(|ptr| Self { dev, ptr }).ok_or(ENOMEM)
    }

    /// The device the string belongs to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the string back now (C's `devm_kfree()`): takes it off the
    /// device's list and frees it. The device does not free it again.
    pub fn free(self) {
        // SAFETY: By the type invariants, `ptr` is a live `devm_kmalloc()`
        // allocation (`devm_kasprintf()` and `devm_kstrdup()` make it with
        // `devm_kmalloc()`) on
        // `dev`'s list; `self` is consumed.
        unsafe { bindings::devm_kfree(raw(self.dev), self.ptr.as_ptr().cast()) };
    }
}

impl Deref for DevmStr<'_> {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        // SAFETY: By the type invariants, `ptr` is a NUL-terminated string
        // that stays allocated and unchanged while `self` exists.
        unsafe { CStr::from_char_ptr(self.ptr.as_ptr()) }
    }
}
