// SPDX-License-Identifier: GPL-2.0

//! [`KString`] and [`kasprintf!`](crate::kasprintf): C strings formatted from Rust.

use super::{check_request, KmallocBuf, KMALLOC_MAX_SIZE};
use crate::gfp::Gfp;
use core::{
    ops::Deref,
    ptr::{self, NonNull},
};
use kernel::{bindings, fmt, prelude::*, str::CStrExt};

/// A NUL-terminated C string made by C's `kasprintf()` from Rust formatting
/// arguments, freed with `kfree()` on drop. It dereferences to [`CStr`].
///
/// Use [`kasprintf!`](crate::kasprintf) to make one.
///
/// # Invariants
///
/// `ptr` is what `kasprintf()` returned: a kmalloc allocation holding a
/// NUL-terminated string, owned by `self`.
pub struct KString {
    ptr: NonNull<c_char>,
}

impl KString {
    /// Formats `args` with C's `kasprintf(flags, "%pA", ...)`: C calls back
    /// into Rust's formatting for `%pA`. Any flags kmalloc honours will do,
    /// `GFP_ATOMIC` included.
    ///
    /// `kasprintf()` formats twice, once to size its buffer and once to fill
    /// it, and warns if the two texts differ. So the arguments are formatted
    /// once and checked here ([`format_once`]), and `%pA` then prints that
    /// fixed text: both of C's passes give exactly the text that was
    /// checked.
    ///
    /// # Errors
    ///
    /// - `EINVAL` for flags kmalloc cannot honour, for text containing a NUL
    ///   byte (C would cut the string there), if formatting fails, or if it
    ///   gives a different text the second time;
    /// - `ENOMEM` if the string and its NUL would exceed
    ///   [`KMALLOC_MAX_SIZE`], or if an allocation fails.
    pub fn from_fmt(flags: Gfp, args: fmt::Arguments<'_>) -> Result<Self> {
        let scratch = format_once(args, KMALLOC_MAX_SIZE - 1, flags)?;
        let flags = check_request(scratch.len() + 1, flags)?;
        // The bytes of whole `&str`s, as `format_once` wrote them: UTF-8.
        let text = core::str::from_utf8(&scratch).map_err(|_| EINVAL)?;
        let fixed = fmt!("{}", text);
        // SAFETY: the format string is NUL-terminated, and its one
        // conversion, `%pA`, takes a pointer to a `fmt::Arguments`, which
        // `&fixed` is, valid for the whole call.
        let ptr = unsafe {
            bindings::kasprintf(
                flags.as_raw(),
                c"%pA".as_char_ptr(),
                ptr::from_ref(&fixed).cast::<c_void>(),
            )
        };
        // INVARIANT: a non-NULL pointer from `kasprintf()` is a kmalloc'd,
        // NUL-terminated string, now owned by the new `KString`.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
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
        $crate::kmalloc::KString::from_fmt($flags, ::kernel::prelude::fmt!($($fmt)*))
    };
}

impl Deref for KString {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        // SAFETY: `self.ptr` points to a NUL-terminated string that `self`
        // owns and never changes (type invariants).
        unsafe { CStr::from_char_ptr(self.ptr.as_ptr()) }
    }
}

impl Drop for KString {
    fn drop(&mut self) {
        // SAFETY: `self.ptr` is what `kasprintf()` returned (type invariants)
        // and is freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

// SAFETY: a `KString` owns its bytes, and `kfree()` may be called from any
// thread.
unsafe impl Send for KString {}

// SAFETY: a shared `KString` only gives out `&CStr`, and the bytes never change.
unsafe impl Sync for KString {}

/// A `fmt::Write` for the text of a C string: it refuses NUL bytes (C would
/// end the string there) and stops after `limit` bytes. It copies the text
/// into `out`, if there is one, which then is `limit` bytes long.
struct CText<'b> {
    out: Option<&'b mut [u8]>,
    len: usize,
    limit: usize,
    /// Why writing stopped, if it stopped.
    stop: Option<Error>,
    /// The error for text beyond `limit`.
    too_long: Error,
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
            self.stop = Some(self.too_long);
            return Err(fmt::Error);
        };
        if let Some(out) = self.out.as_deref_mut() {
            // `end <= limit`, the length of `out`: the range is in bounds.
            out[self.len..end].copy_from_slice(s.as_bytes());
        }
        self.len = end;
        Ok(())
    }
}

impl CText<'_> {
    /// Formats `args` into `self`: the length of the text, or why it stopped
    /// (`EINVAL` if a formatting trait implementation failed).
    fn write(mut self, args: fmt::Arguments<'_>) -> Result<usize> {
        match core::fmt::write(&mut self, args) {
            Ok(()) => Ok(self.len),
            Err(fmt::Error) => Err(self.stop.unwrap_or(EINVAL)),
        }
    }
}

/// Formats `args` once and for all into a new kmalloc buffer, allocated with
/// `flags`: the text of a C string of at most `max_len` bytes, without its
/// NUL. C can then format that text as often as it likes (`kasprintf()`
/// does twice: to size its buffer, then to fill it) and get the same bytes.
///
/// The arguments are formatted twice here: to measure the text, stopping at
/// the first NUL byte or at `max_len` bytes (a huge `Display` is not
/// formatted in full), then into a buffer of exactly that size.
///
/// Errors: `EINVAL` for text with a NUL byte, if formatting fails, or if
/// the text differs between the two passes; `ENOMEM` for text longer than
/// `max_len` or if the allocation fails; as for [`KmallocBuf::zeroed`].
pub(crate) fn format_once(
    args: fmt::Arguments<'_>,
    max_len: usize,
    flags: Gfp,
) -> Result<KmallocBuf> {
    let measure = CText {
        out: None,
        len: 0,
        limit: max_len,
        stop: None,
        too_long: ENOMEM,
    };
    let len = measure.write(args)?;
    let mut buf = KmallocBuf::zeroed(len, flags)?;
    let fill = CText {
        out: Some(&mut buf),
        len: 0,
        limit: len,
        stop: None,
        // Longer the second time: the text changed.
        too_long: EINVAL,
    };
    if fill.write(args)? != len {
        return Err(EINVAL);
    }
    Ok(buf)
}
