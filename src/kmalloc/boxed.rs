// SPDX-License-Identifier: GPL-2.0

//! [`KmallocBox`]: one `T` from kmalloc.

use super::{bucket, check_request, data, AllocFn};
use crate::ffi;
use crate::gfp::{Gfp, Node};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::{Deref, DerefMut},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*};
use pin_init::ZeroableOption;

/// A `T` in memory from kmalloc, freed with `kfree()` on drop: the kmalloc
/// counterpart of `Box<T>`.
///
/// # Invariants
///
/// - `ptr` is what `kmalloc()`, `kzalloc()` or `krealloc()` returned for
///   `size_of::<T>()` bytes (`ZERO_SIZE_PTR` for a zero-sized `T`), and
///   `self` owns that allocation.
/// - `data(ptr, size_of::<T>())` is aligned for `T` (see the module
///   documentation) and points to a valid `T`.
#[repr(transparent)]
pub struct KmallocBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

impl<T> KmallocBox<T> {
    /// Allocates `size_of::<T>()` bytes with `alloc` (`kmalloc` or `kzalloc`).
    fn alloc(alloc: AllocFn, flags: Gfp) -> Result<NonNull<T>> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        // SAFETY: `alloc` is `kmalloc` or `kzalloc`, which take any size and
        // flags; `check_request` has refused what would make them warn.
        let ptr = unsafe { alloc(size, flags.as_raw()) };
        NonNull::new(ptr.cast()).ok_or(ENOMEM)
    }

    /// Moves `value` into memory from C's `kmalloc()`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, `ENOMEM` if `T` is larger
    /// than [`KMALLOC_MAX_SIZE`](crate::kmalloc::KMALLOC_MAX_SIZE) or the allocation fails.
    pub fn new(value: T, flags: Gfp) -> Result<Self> {
        let ptr = Self::alloc(bucket::kmalloc, flags)?;
        // SAFETY: `data()` is valid for writing a `T`: a fresh allocation of
        // `size_of::<T>()` bytes, aligned for `T`, or a dangling aligned
        // pointer for a zero-sized `T`.
        unsafe { data(ptr, size_of::<T>()).write(value) };
        // INVARIANT: `ptr` is from `kmalloc` and now holds a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Moves `value` into memory from node `node` (C's `kmalloc_node()`).
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    pub fn new_on(value: T, flags: Gfp, node: Node) -> Result<Self> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        // SAFETY: `kmalloc_node()` takes any size and flags, and a node that
        // is `NUMA_NO_NODE` or was online (`Node`'s invariant); the request
        // check refused what would make it warn.
        let ptr = unsafe { ffi::kalloc_kmalloc_node(size, flags.as_raw(), node.id()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: As in `new`.
        unsafe { data(ptr, size).write(value) };
        // INVARIANT: `ptr` is from `kmalloc_node` and now holds a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` for a zero-sized `T`), for C code. The value is not
    /// dropped: C frees the memory with `kfree()`, or gives the pointer back
    /// to [`KmallocBox::from_raw`].
    pub fn into_raw(self) -> *mut T {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    /// Takes ownership of a `T` in kmalloc memory, such as a pointer C got
    /// from [`KmallocBox::into_raw`].
    ///
    /// # Safety
    ///
    /// - `ptr` is what `kmalloc()`, `kzalloc()` or `krealloc()` returned for
    ///   `size_of::<T>()` bytes (`ZERO_SIZE_PTR` if `T` is zero-sized), for
    ///   example through [`KmallocBox::into_raw`], and it holds a valid `T`.
    /// - Nothing else uses or frees the allocation afterwards: the box owns it.
    pub unsafe fn from_raw(ptr: *mut T) -> Self {
        // SAFETY: kmalloc never returns NULL for a successful allocation, and
        // `ptr` is one by the safety requirements.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: Zeroable> KmallocBox<T> {
    /// Allocates a `T` with C's `kzalloc()`: all its bytes are zero, which is a
    /// valid `T` since `T: Zeroable`. Nothing is built on the stack first, so
    /// this also suits large `T`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    pub fn new_zeroed(flags: Gfp) -> Result<Self> {
        let ptr = Self::alloc(bucket::kzalloc, flags)?;
        // INVARIANT: `kzalloc` returned `size_of::<T>()` zeroed bytes, aligned
        // for `T`, and zeroed bytes are a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }
}

impl<T> Deref for KmallocBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: by the type invariants, `data()` is aligned and points to a
        // valid `T` that `self` owns; `&self` keeps it alive and unchanged.
        unsafe { data(self.ptr, size_of::<T>()).as_ref() }
    }
}

impl<T> DerefMut for KmallocBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { data(self.ptr, size_of::<T>()).as_mut() }
    }
}

impl<T> Drop for KmallocBox<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariants the `T` is valid and owned by `self`;
        // it is not used again.
        unsafe { data(self.ptr, size_of::<T>()).drop_in_place() };
        // SAFETY: `self.ptr` is what kmalloc returned (type invariants) and is
        // freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

/// The same allocation as the kernel crate's `KBox<T>`, without copying:
/// both free with `kfree()`. For the kernel crate's APIs that take a `KBox`
/// (`ForeignOwnable`: XArray entries, private data).
impl<T> From<KmallocBox<T>> for KBox<T> {
    fn from(b: KmallocBox<T>) -> KBox<T> {
        let b = ManuallyDrop::new(b);
        // A zero-sized `T` is at a dangling pointer in both; C's
        // `ZERO_SIZE_PTR` needs no `kfree()`.
        let ptr = data(b.ptr, size_of::<T>());
        // SAFETY: For a sized `T`, `ptr` is a kmalloc allocation of
        // `size_of::<T>()` bytes, aligned for `T`, holding a valid `T`: what
        // `KBox`'s allocator (`krealloc()`/`kfree()`) allocates for a `T`.
        // For a zero-sized `T`, it is dangling and aligned. `b` is never
        // dropped: ownership moves to the `KBox`.
        unsafe { KBox::from_raw(ptr.as_ptr()) }
    }
}

/// The same allocation as a [`KmallocBox`], without copying.
impl<T> From<KBox<T>> for KmallocBox<T> {
    fn from(b: KBox<T>) -> KmallocBox<T> {
        let ptr = if size_of::<T>() == 0 {
            // C's `ZERO_SIZE_PTR`, what kmalloc gives for zero bytes.
            core::ptr::without_provenance_mut(16)
        } else {
            KBox::into_raw(b)
        };
        // SAFETY: For a sized `T`, `ptr` is `KBox`'s allocation: from
        // `krealloc()` for `size_of::<T>()` bytes (padded to its alignment,
        // which it is already), holding a valid `T`, now owned by the
        // `KmallocBox`. For a zero-sized `T`, `ZERO_SIZE_PTR` (the `KBox`
        // owned no memory).
        unsafe { KmallocBox::from_raw(ptr) }
    }
}

// SAFETY: a `KmallocBox<T>` owns its `T` like a `Box<T>`, and `kfree()` may be
// called from any thread.
unsafe impl<T: Send> Send for KmallocBox<T> {}

// SAFETY: a shared `KmallocBox<T>` only gives out `&T`.
unsafe impl<T: Sync> Sync for KmallocBox<T> {}

// SAFETY: `KmallocBox` is a transparent `NonNull`, so `None` is all zeroes.
unsafe impl<T> ZeroableOption for KmallocBox<T> {}
