// SPDX-License-Identifier: GPL-2.0

//! [`SensitiveBuf`]: bytes wiped before they are freed (`kfree_sensitive()`).

use super::KmallocBuf;
use crate::gfp::Gfp;
use core::{
    mem::ManuallyDrop,
    ops::{Deref, DerefMut},
};
use kernel::{bindings, prelude::*};

/// Bytes that are wiped before they are freed, for keys, passwords and other
/// secrets: dropping it calls C's `kfree_sensitive()`, which zeroes the
/// whole allocation ([`KmallocArray::ksize`](crate::kmalloc::KmallocArray::ksize) bytes) before `kfree()`.
///
/// It cannot grow or shrink: `krealloc()` would leave a copy of the secret
/// in the freed memory.
///
/// # Invariants
///
/// `buf` is only ever freed by `SensitiveBuf`'s `drop`, with
/// `kfree_sensitive()`.
pub struct SensitiveBuf {
    pub(crate) buf: ManuallyDrop<KmallocBuf>,
}

impl SensitiveBuf {
    /// `len` zeroed bytes, from C's `kcalloc()` ([`KmallocBuf::zeroed`]).
    ///
    /// # Errors
    ///
    /// As for [`KmallocArray::zeroed`](crate::kmalloc::KmallocArray::zeroed).
    #[inline]
    pub fn zeroed(len: usize, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        // INVARIANT: the buffer is new and only `SensitiveBuf` will free it.
        Ok(Self {
            buf: ManuallyDrop::new(KmallocBuf::zeroed(len, flags)?),
        })
    }

    /// A copy of `src`, in memory from C's `kmalloc()`
    /// ([`KmallocBuf::from_slice`]).
    ///
    /// # Errors
    ///
    /// As for [`KmallocArray::from_slice`](crate::kmalloc::KmallocArray::from_slice).
    #[inline]
    pub fn from_slice(src: &[u8], flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        // INVARIANT: the buffer is new and only `SensitiveBuf` will free it.
        Ok(Self {
            buf: ManuallyDrop::new(KmallocBuf::from_slice(src, flags)?),
        })
    }
}

impl Deref for SensitiveBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl DerefMut for SensitiveBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl Drop for SensitiveBuf {
    fn drop(&mut self) {
        // SAFETY: `self.buf` is not used again: this is its owner's `drop`.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        let (ptr, _) = buf.into_raw();
        // SAFETY: `ptr` is the kmalloc allocation (or `ZERO_SIZE_PTR`) that
        // `buf` owned and handed over; by the type invariants it is freed
        // only here.
        unsafe { bindings::kfree_sensitive(ptr.cast()) };
    }
}
