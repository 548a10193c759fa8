// SPDX-License-Identifier: GPL-2.0

//! [`KmallocArray`] and [`KmallocBuf`]: `len` values of `T` in one kmalloc allocation.

use super::{array_size, bucket, check_request, data, KVec};
use crate::gfp::Gfp;
use core::{
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{bindings, prelude::*};

/// `len` values of `T` in one kmalloc allocation, freed with `kfree()` on
/// drop: kalloc's [`KVec<T>`](crate::KVec) (the kernel crate's `Vec` on
/// kalloc's [`Kmalloc`](super::Kmalloc)) with C's `kcalloc()` and
/// `krealloc()`, which that vector cannot have: they take every flag
/// kmalloc honours (`GFP_DMA`, `__GFP_RETRY_MAYFAIL`, ...) and say why a
/// request was refused (`EOVERFLOW`, `EINVAL`, `EAGAIN`, `ENOMEM`), where
/// `Vec` takes the kernel crate's `Flags` and fails with `AllocError`.
/// Into a `KVec` and back is free.
///
/// # Invariants
///
/// The vector's allocation, if any, is from `kmalloc()`, `kzalloc()`,
/// `kcalloc()` or `krealloc()`.
pub struct KmallocArray<T>(KVec<T>);

/// A buffer of bytes from kmalloc: the C `void *buf` and its `size_t len`.
pub type KmallocBuf = KmallocArray<u8>;

impl<T> KmallocArray<T> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the first `len` values and drops the rest, if there are more,
    /// in the same allocation (no `krealloc()`: to give the memory back,
    /// [`KmallocArray::resize`]).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// C's `ksize()`: the size in bytes kmalloc really allocated, at least
    /// `len() * size_of::<T>()`, or 0 for a zero-size allocation.
    ///
    /// Only the first `len()` values may be used: to use the rest of the
    /// bucket, grow into it with [`KmallocArray::resize`], which `krealloc()`
    /// does in place.
    pub fn ksize(&self) -> usize {
        // SAFETY: `c_ptr()` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants); `ksize()` takes both.
        unsafe { bindings::ksize(self.c_ptr().cast()) }
    }

    /// The pointer C knows the allocation by: `ZERO_SIZE_PTR` where the
    /// vector has none.
    fn c_ptr(&self) -> *const T {
        if self.0.capacity() * size_of::<T>() == 0 {
            ptr::without_provenance(ZERO_SIZE_PTR)
        } else {
            self.0.as_ptr()
        }
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` if there are no bytes) and the number of values, for
    /// C code. The values are not dropped: C frees the memory with `kfree()`,
    /// or gives it back to [`KmallocArray::from_raw`].
    pub fn into_raw(self) -> (*mut T, usize) {
        let len = self.len();
        if len * size_of::<T>() == 0 {
            if size_of::<T>() == 0 {
                // The values are C's now: not dropped, and in no memory.
                let _ = KVec::into_raw_parts(self.0);
            } else {
                // No values, and C gets no bytes: spare capacity is freed.
                drop(self.0);
            }
            return (ptr::without_provenance_mut(ZERO_SIZE_PTR), len);
        }
        let (ptr, len, _) = KVec::into_raw_parts(self.0);
        (ptr, len)
    }

    /// Takes ownership of `len` values of `T` in kmalloc memory, such as a
    /// buffer C got from [`KmallocArray::into_raw`].
    ///
    /// # Safety
    ///
    /// - `ptr` is `ZERO_SIZE_PTR` if `len * size_of::<T>()` is 0, else what
    ///   `kmalloc()`, `kzalloc()`, `kcalloc()` or `krealloc()` returned for
    ///   at least `len * size_of::<T>()` bytes, for example through
    ///   [`KmallocArray::into_raw`], and it holds `len` valid values of `T`.
    /// - Nothing else uses or frees the allocation afterwards: the array owns
    ///   it.
    pub unsafe fn from_raw(ptr: *mut T, len: usize) -> Self {
        if len * size_of::<T>() == 0 {
            // C's `ZERO_SIZE_PTR` is no allocation.
            // SAFETY: A dangling, aligned pointer with no capacity: an empty
            // vector, or `len` zero-sized values.
            return Self(unsafe { KVec::from_raw_parts(NonNull::dangling().as_ptr(), len, 0) });
        }
        // INVARIANT: By the safety requirements.
        // SAFETY: `ptr` is a kmalloc allocation of at least `len` values,
        // aligned for `T` (see the module documentation) and holding `len`
        // valid values: memory `Kmalloc` frees with `kfree()`.
        Self(unsafe { KVec::from_raw_parts(ptr, len, len) })
    }
}

/// The value of C's `ZERO_SIZE_PTR`, what kmalloc returns for zero bytes.
const ZERO_SIZE_PTR: usize = 16;

impl<T: Zeroable> KmallocArray<T> {
    /// Allocates `len` values of `T` with C's `kcalloc()`: all bytes zero,
    /// which is a valid `T` since `T: Zeroable`. [`KmallocBuf::zeroed`] is
    /// `kcalloc(len, 1)`, the same as `kzalloc(len)`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `len * size_of::<T>()` overflows, `EINVAL` for flags
    /// kmalloc cannot honour, `ENOMEM` above [`KMALLOC_MAX_SIZE`](crate::kmalloc::KMALLOC_MAX_SIZE) bytes or if
    /// the allocation fails.
    #[inline]
    pub fn zeroed(len: usize, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let size = array_size::<T>(len)?;
        let flags = check_request(size, flags)?;
        // SAFETY: `kcalloc(len, size)` is `kzalloc(len * size)` once the
        // product is checked for overflow (`array_size` did), and
        // `check_request` has refused what would make it warn.
        let ptr = unsafe { bucket::kzalloc(size, flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `kcalloc` returned `len * size_of::<T>()` zeroed bytes
        // (`ZERO_SIZE_PTR` for none), aligned for `T`, and zeroed bytes are
        // valid values of `T`.
        Ok(unsafe { Self::from_raw(ptr.as_ptr(), len) })
    }
}

impl<T: Copy> KmallocArray<T> {
    /// Copies `src` into memory from C's `kmalloc()`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, `EAGAIN` where they may not
    /// be used (see [`Gfp::check`]), `ENOMEM` above
    /// [`KMALLOC_MAX_SIZE`](crate::kmalloc::KMALLOC_MAX_SIZE) bytes or if the allocation fails.
    #[inline]
    pub fn from_slice(src: &[T], flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let size = size_of_val(src);
        let flags = check_request(size, flags)?;
        // SAFETY: `kmalloc` takes any size and flags; `check_request` has
        // refused what would make it warn.
        let ptr = unsafe { bucket::kmalloc(size, flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `data()` is valid for writing `src.len()` values of `T`
        // (a fresh, aligned allocation of `size` bytes, or dangling and
        // aligned for none), and cannot overlap `src`.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), data(ptr, size).as_ptr(), src.len()) };
        // SAFETY: `ptr` is from `kmalloc` for `src.len()` values of `T`
        // (`ZERO_SIZE_PTR` for none), and holds them.
        Ok(unsafe { Self::from_raw(ptr.as_ptr(), src.len()) })
    }

    /// Grows or shrinks the array to `new_len` values with C's `krealloc()`,
    /// which keeps the first `min(len, new_len)` values (moving them if the
    /// allocation must move) and fills new places with `value`.
    ///
    /// On error, `self` is unchanged: same allocation, same values.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `new_len * size_of::<T>()` overflows, `EINVAL` for
    /// flags kmalloc cannot honour, `ENOMEM` above [`KMALLOC_MAX_SIZE`](crate::kmalloc::KMALLOC_MAX_SIZE) bytes
    /// or if the allocation fails.
    #[inline]
    pub fn resize(&mut self, new_len: usize, value: T, flags: impl Into<Gfp>) -> Result {
        let flags: Gfp = flags.into();
        let new_size = array_size::<T>(new_len)?;
        let flags = check_request(new_size, flags)?;
        // SAFETY: `c_ptr()` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants), both of which `krealloc()` takes. On success it
        // has freed or reused the old allocation; on failure it left it alone.
        let ptr = unsafe {
            bindings::krealloc_node_align(
                self.c_ptr().cast_mut().cast(),
                new_size,
                align_of::<T>() as c_ulong,
                flags.as_raw(),
                bindings::NUMA_NO_NODE,
            )
        };
        // On failure `self` still owns the old allocation, untouched.
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // The old allocation is `krealloc()`'s now, and so are the values
        // it kept; those cut off by a shrink are `Copy`: nothing to drop.
        let kept = self.len().min(new_len);
        let _ = KVec::into_raw_parts(core::mem::take(&mut self.0));
        let capacity = if new_size == 0 { 0 } else { new_len };
        // INVARIANT: `krealloc()` returned `new_size` bytes (`ZERO_SIZE_PTR`
        // for none, `data()` dangling then), aligned for `T`, that keep the
        // first `kept` values.
        // SAFETY: As above; `new_size` is at most `isize::MAX`
        // (`check_request`).
        self.0 = unsafe { KVec::from_raw_parts(data(ptr, new_size).as_ptr(), kept, capacity) };
        for slot in &mut self.0.spare_capacity_mut()[..new_len - kept] {
            slot.write(value);
        }
        // SAFETY: The values up to `new_len` were just written.
        unsafe { self.0.inc_len(new_len - kept) };
        Ok(())
    }
}

impl<T> Deref for KmallocArray<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for KmallocArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// The vector itself: kalloc's [`KVec`](crate::KVec), for everything the
/// kernel crate's `Vec` does (`push`, `extend_from_slice`, ...).
impl<T> From<KmallocArray<T>> for KVec<T> {
    fn from(a: KmallocArray<T>) -> KVec<T> {
        a.0
    }
}

/// A kalloc `KVec` as a `KmallocArray`: the same vector; spare capacity
/// stays allocated until it is freed or resized.
impl<T> From<KVec<T>> for KmallocArray<T> {
    fn from(v: KVec<T>) -> KmallocArray<T> {
        // INVARIANT: `Kmalloc` allocates with `kmalloc()` or `krealloc()`.
        KmallocArray(v)
    }
}

/// The same allocation as the kernel crate's own `KVec<T>`, without
/// copying (spare capacity included): both free with `kfree()`.
impl<T> From<KmallocArray<T>> for kernel::alloc::KVec<T> {
    fn from(a: KmallocArray<T>) -> kernel::alloc::KVec<T> {
        let (ptr, len, capacity) = KVec::into_raw_parts(a.0);
        // SAFETY: `ptr` is dangling and aligned with no capacity (or for a
        // zero-sized `T`), or a kmalloc allocation of at least `capacity`
        // values, aligned for `T`, holding `len` valid values: what the
        // kernel crate's `Kmalloc` (`krealloc()`/`kfree()`) allocates.
        unsafe { kernel::alloc::KVec::from_raw_parts(ptr, len, capacity) }
    }
}

/// The same allocation as a [`KmallocArray`], without copying.
impl<T> From<kernel::alloc::KVec<T>> for KmallocArray<T> {
    fn from(v: kernel::alloc::KVec<T>) -> KmallocArray<T> {
        let (ptr, len, capacity) = v.into_raw_parts();
        // INVARIANT: The kernel crate's `Kmalloc` allocates with
        // `krealloc()`.
        // SAFETY: As in the conversion the other way.
        KmallocArray(unsafe { KVec::from_raw_parts(ptr, len, capacity) })
    }
}
