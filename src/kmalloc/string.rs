// SPDX-License-Identifier: GPL-2.0

//! [`KString`] and [`kasprintf!`](crate::kasprintf): C strings formatted from Rust.

use super::{check_request, KBox, KmallocBuf, KMALLOC_MAX_SIZE};
use crate::gfp::Gfp;
use core::{
    ops::Deref,
    ptr::{self, NonNull},
};
use kernel::{bindings, fmt, prelude::*, str::CStrExt};

/// A NUL-terminated C string in kmalloc memory, made by C's `kasprintf()`
/// from Rust formatting arguments or by `kstrdup()` from a C string, freed
/// with `kfree()` on drop. It dereferences to [`CStr`].
///
/// Use [`kasprintf!`](crate::kasprintf) or [`KString::from_cstr`] to make
/// one.
///
/// # Invariants
///
/// The box holds what `kasprintf()` or `kstrdup()` returned: a kmalloc
/// allocation of a NUL-terminated string, its NUL the last byte and the
/// only one.
pub struct KString(KBox<[u8]>);

impl KString {
    /// A copy of `s` (C's `kstrdup()`). Any flags kmalloc honours will do,
    /// `GFP_ATOMIC` included.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, `EAGAIN` where they may not
    /// be used (see [`Gfp::check`]); `ENOMEM` if the string
    /// and its NUL would exceed [`KMALLOC_MAX_SIZE`], or if the allocation
    /// fails.
    #[inline]
    pub fn from_cstr(s: &CStr, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let flags = check_request(s.to_bytes_with_nul().len(), flags)?;
        // SAFETY: `s` is NUL-terminated; the flags and the size are ones
        // kmalloc takes without a warning.
        let ptr = unsafe { bindings::kstrdup(s.as_char_ptr(), flags.as_raw()) };
        // SAFETY: A non-NULL pointer from `kstrdup()` is a kmalloc'd copy of
        // `s`, NUL included.
        unsafe { Self::own(ptr, s.to_bytes_with_nul().len()) }
    }

    /// Formats `args` with C's `kasprintf(flags, "%pA", ...)`: C calls back
    /// into Rust's formatting for `%pA`. Any flags kmalloc honours will do,
    /// `GFP_ATOMIC` included.
    ///
    /// `kasprintf()` formats twice, once to size its buffer and once to fill
    /// it, and warns if the two lengths differ. So the arguments are formatted
    /// once and checked here (`format_once`), and `%pA` then prints that
    /// fixed text: both of C's passes give exactly the text that was
    /// checked.
    ///
    /// # Errors
    ///
    /// - `EINVAL` for flags kmalloc cannot honour, for text containing a NUL
    ///   byte (C would cut the string there), or if formatting fails;
    /// - `ENOMEM` if the string and its NUL would exceed
    ///   [`KMALLOC_MAX_SIZE`], or if an allocation fails.
    #[inline]
    pub fn from_fmt(args: fmt::Arguments<'_>, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let scratch = format_once(args, KMALLOC_MAX_SIZE - 1, flags)?;
        let flags = check_request(scratch.len() + 1, flags)?;
        // The bytes of whole `&str`s, as `format_once` wrote them: UTF-8.
        let text = core::str::from_utf8(&scratch).map_err(|_| EINVAL)?;
        // SAFETY: the format string is NUL-terminated, and its one
        // conversion, `%pA`, takes a pointer to a `fmt::Arguments`, which
        // the temporary is, valid for the whole call.
        let ptr = unsafe {
            bindings::kasprintf(
                flags.as_raw(),
                c"%pA".as_char_ptr(),
                ptr::from_ref(&fmt!("{}", text)).cast::<c_void>(),
            )
        };
        // SAFETY: A non-NULL pointer from `kasprintf()` is a kmalloc'd
        // string of the text `scratch` holds (no NUL: `format_once`), and
        // its NUL.
        unsafe { Self::own(ptr, scratch.len() + 1) }
    }

    /// Owns the C string at `ptr`, of `size` bytes with its NUL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL, or what `kasprintf()` or `kstrdup()` returned: a
    /// kmalloc allocation of `size` bytes, of which only the last is NUL.
    #[inline]
    unsafe fn own(ptr: *mut c_char, size: usize) -> Result<Self> {
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: By the safety requirements.
        // SAFETY: `size` bytes from kmalloc (not zero: there is a NUL), which
        // `Kmalloc` frees with `kfree()`; bytes need no alignment.
        Ok(Self(unsafe {
            KBox::from_raw(ptr::slice_from_raw_parts_mut(ptr.as_ptr(), size))
        }))
    }
}

/// Makes a [`KString`] with C's `kasprintf()`:
/// `kasprintf!(flags, "format", args...)`, with Rust's format syntax.
///
/// # Examples
///
/// ```
/// use kalloc::gfp::GFP_KERNEL;
///
/// let name = kalloc::kasprintf!(GFP_KERNEL, "{}-{:#x}", "dev", 255)?;
/// assert_eq!(name.to_bytes(), b"dev-0xff");
/// ```
#[macro_export]
macro_rules! kasprintf {
    ($flags:expr, $($fmt:tt)*) => {
        $crate::kmalloc::KString::from_fmt(::kernel::prelude::fmt!($($fmt)*), $flags)
    };
}

impl Deref for KString {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        // SAFETY: The bytes end with their only NUL (type invariants).
        unsafe { CStr::from_bytes_with_nul_unchecked(&self.0) }
    }
}

/// A `fmt::Write` for the text of a C string: it refuses NUL bytes (C would
/// end the string there), stops after `limit` bytes, and copies the text
/// into `buf`, which it grows as the text needs.
struct CText<'b> {
    buf: &'b mut KmallocBuf,
    len: usize,
    limit: usize,
    flags: Gfp,
    /// Why writing stopped, if it stopped.
    stop: Option<Error>,
}

impl fmt::Write for CText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.bytes().any(|b| b == 0) {
            self.stop = Some(EINVAL);
            return Err(fmt::Error);
        }
        let Some(end) = self
            .len
            .checked_add(s.len())
            .filter(|&end| end <= self.limit)
        else {
            self.stop = Some(ENOMEM);
            return Err(fmt::Error);
        };
        if end > self.buf.len() {
            // Doubling keeps the number of `krealloc()` calls logarithmic.
            let grown = end.max(2 * self.buf.len()).max(32).min(self.limit);
            if let Err(e) = self.buf.resize(grown, 0, self.flags) {
                self.stop = Some(e);
                return Err(fmt::Error);
            }
        }
        // `end <= self.buf.len()`: the range is in bounds.
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats `args` once and for all into a new kmalloc buffer, allocated with
/// `flags`: the text of a C string of at most `max_len` bytes, without its
/// NUL. C can then format that text as often as it likes (`kasprintf()`
/// does twice: to size its buffer, then to fill it) and get the same bytes.
///
/// The arguments are formatted exactly once, into a buffer that grows with
/// the text (`krealloc()`), and formatting stops at the first NUL byte or
/// past `max_len` bytes (a huge `Display` is not formatted in full).
///
/// # Errors
///
/// `EINVAL` for text with a NUL byte or if formatting fails; `ENOMEM` for
/// text longer than `max_len` or if an allocation fails; as for
/// [`KmallocBuf::resize`].
pub(crate) fn format_once(
    args: fmt::Arguments<'_>,
    max_len: usize,
    flags: Gfp,
) -> Result<KmallocBuf> {
    let mut buf = KmallocBuf::from_slice(&[], flags)?;
    let mut text = CText {
        buf: &mut buf,
        len: 0,
        limit: max_len,
        flags,
        stop: None,
    };
    if core::fmt::write(&mut text, args).is_err() {
        return Err(text.stop.unwrap_or(EINVAL));
    }
    let len = text.len;
    // The text, in the buffer it grew in: a scratch buffer needs no
    // `krealloc()` to its length.
    buf.truncate(len);
    Ok(buf)
}
