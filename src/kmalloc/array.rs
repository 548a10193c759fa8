// SPDX-License-Identifier: GPL-2.0

//! [`KmallocArray`] and [`KmallocBuf`]: `len` values of `T` in one kmalloc allocation.

use super::{array_size, bucket, check_request, data};
use crate::gfp::Gfp;
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{bindings, prelude::*};

/// `len` values of `T` in one kmalloc allocation, freed with `kfree()` on
/// drop: the kmalloc counterpart of `Box<[T]>`, with C's `kcalloc()` and
/// `krealloc()`.
///
/// # Invariants
///
/// - `ptr` is `ZERO_SIZE_PTR` if `len * size_of::<T>()` is 0, else what
///   `kmalloc()`, `kzalloc()`, `kcalloc()` or `krealloc()` returned for at
///   least `len * size_of::<T>()` bytes (more when it came from a `KVec`
///   with spare capacity), and `self` owns that allocation.
/// - `data(ptr, len * size_of::<T>())` is aligned for `T` (see the module
///   documentation) and points to `len` valid values of `T`.
pub struct KmallocArray<T> {
    ptr: NonNull<T>,
    len: usize,
    _owns: PhantomData<T>,
}

/// A buffer of bytes from kmalloc: the C `void *buf` and its `size_t len`.
pub type KmallocBuf = KmallocArray<u8>;

impl<T> KmallocArray<T> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// C's `ksize()`: the size in bytes kmalloc really allocated, at least
    /// `len() * size_of::<T>()`, or 0 for a zero-size allocation.
    ///
    /// Only the first `len()` values may be used: to use the rest of the
    /// bucket, grow into it with [`KmallocArray::resize`], which `krealloc()`
    /// does in place.
    pub fn ksize(&self) -> usize {
        // SAFETY: `self.ptr` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants); `ksize()` takes both.
        unsafe { bindings::ksize(self.ptr.as_ptr().cast()) }
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` if there are no bytes) and the number of values, for
    /// C code. The values are not dropped: C frees the memory with `kfree()`,
    /// or gives it back to [`KmallocArray::from_raw`].
    pub fn into_raw(self) -> (*mut T, usize) {
        let this = ManuallyDrop::new(self);
        (this.ptr.as_ptr(), this.len)
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
        // SAFETY: kmalloc never returns NULL for a successful allocation, and
        // `ptr` is one by the safety requirements.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            len,
            _owns: PhantomData,
        }
    }

    /// The pointer to the values, for slices.
    fn data(&self) -> NonNull<T> {
        // `len * size_of::<T>()` does not overflow: it is the size of an
        // allocation (type invariants).
        data(self.ptr, self.len * size_of::<T>())
    }
}

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
        let ptr = NonNull::new(ptr.cast()).ok_or(ENOMEM)?;
        // INVARIANT: `kcalloc` returned `len * size_of::<T>()` zeroed bytes,
        // aligned for `T`, and zeroed bytes are valid values of `T`.
        Ok(Self {
            ptr,
            len,
            _owns: PhantomData,
        })
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
        // INVARIANT: `ptr` is from `kmalloc` and holds `src.len()` values.
        Ok(Self {
            ptr,
            len: src.len(),
            _owns: PhantomData,
        })
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
        // SAFETY: `self.ptr` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants), both of which `krealloc()` takes. On success it
        // has freed or reused the old allocation; on failure it left it alone.
        let ptr = unsafe {
            bindings::krealloc_node_align(
                self.ptr.as_ptr().cast(),
                new_size,
                align_of::<T>() as c_ulong,
                flags.as_raw(),
                bindings::NUMA_NO_NODE,
            )
        };
        // On failure `self` still owns the old allocation, untouched.
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        let new_data = data(ptr, new_size).as_ptr();
        for i in self.len..new_len {
            // SAFETY: the new allocation has room for `new_len` values; the
            // ones from `self.len` on are not initialised yet, and `T: Copy`
            // has no destructor to run on what they held.
            unsafe { new_data.add(i).write(value) };
        }
        // INVARIANT: `krealloc()` returned `new_size` bytes, aligned for `T`,
        // that keep the first `min(len, new_len)` values; the rest were just
        // written. Values cut off by a shrink are `Copy`: nothing to drop.
        self.ptr = ptr;
        self.len = new_len;
        Ok(())
    }
}

impl<T> Deref for KmallocArray<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: by the type invariants, `data()` is aligned and points to
        // `len` valid values that `self` owns; `&self` keeps them unchanged.
        unsafe { core::slice::from_raw_parts(self.data().as_ptr(), self.len) }
    }
}

impl<T> DerefMut for KmallocArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { core::slice::from_raw_parts_mut(self.data().as_ptr(), self.len) }
    }
}

impl<T> Drop for KmallocArray<T> {
    fn drop(&mut self) {
        let values = ptr::slice_from_raw_parts_mut(self.data().as_ptr(), self.len);
        // SAFETY: by the type invariants the values are valid and owned by
        // `self`; they are not used again.
        unsafe { values.drop_in_place() };
        // SAFETY: `self.ptr` is what kmalloc returned (type invariants) and is
        // freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

/// The same allocation as the kernel crate's `KVec<T>`, without copying:
/// both free with `kfree()`. The vector's length and capacity are `len()`.
impl<T> From<KmallocArray<T>> for KVec<T> {
    fn from(a: KmallocArray<T>) -> KVec<T> {
        let (ptr, len) = a.into_raw();
        if len * size_of::<T>() == 0 {
            // No allocation (C's `ZERO_SIZE_PTR` needs no `kfree()`).
            // SAFETY: A dangling, aligned pointer with no capacity: an empty
            // vector, or `len` zero-sized values.
            return unsafe { KVec::from_raw_parts(NonNull::dangling().as_ptr(), len, 0) };
        }
        // SAFETY: `ptr` is a kmalloc allocation of at least
        // `len * size_of::<T>()` bytes (no more than `isize::MAX`), aligned
        // for `T` and holding `len` valid values: what `KVec`'s allocator
        // (`krealloc()`/`kfree()`) allocates. The array gave it up.
        unsafe { KVec::from_raw_parts(ptr, len, len) }
    }
}

/// The same allocation as a [`KmallocArray`], without copying: its length
/// is the vector's; spare capacity stays allocated until it is freed or
/// resized.
impl<T> From<KVec<T>> for KmallocArray<T> {
    fn from(v: KVec<T>) -> KmallocArray<T> {
        let (ptr, len, capacity) = v.into_raw_parts();
        let ptr = if size_of::<T>() == 0 || len == 0 {
            if size_of::<T>() != 0 && capacity != 0 {
                // SAFETY: An empty vector's spare capacity: `KVec`'s
                // allocation, from `krealloc()`, which the vector gave up
                // and nothing else uses.
                unsafe { bindings::kfree(ptr.cast()) };
            }
            // No bytes: C's `ZERO_SIZE_PTR`, what kmalloc gives for zero.
            core::ptr::without_provenance_mut(16)
        } else {
            ptr
        };
        // SAFETY: `ptr` is `KVec`'s allocation, from `krealloc()` for
        // `capacity * size_of::<T>()` bytes, at least `len` values, aligned
        // for `T`, holding `len` valid values; or `ZERO_SIZE_PTR` where
        // `len * size_of::<T>()` is 0.
        unsafe { KmallocArray::from_raw(ptr, len) }
    }
}

// SAFETY: a `KmallocArray<T>` owns its values like a `Box<[T]>`, and `kfree()`
// may be called from any thread.
unsafe impl<T: Send> Send for KmallocArray<T> {}

// SAFETY: a shared `KmallocArray<T>` only gives out `&[T]`.
unsafe impl<T: Sync> Sync for KmallocArray<T> {}
