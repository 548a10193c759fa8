// SPDX-License-Identifier: GPL-2.0

//! [`SlabBulk`]: many objects of a cache, allocated and freed at once.

use super::{check_alloc_flags, Plain, RawCache, SlabCache};
use crate::ffi;
use crate::gfp::Gfp;
use crate::kmalloc::KmallocArray;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::prelude::*;

/// `len` objects of a [`SlabCache`], allocated together
/// ([`SlabCache::alloc_bulk`], C's `kmem_cache_alloc_bulk()`) and given
/// back together when dropped (`kmem_cache_free_bulk()`): cheaper per
/// object than one by one.
///
/// # Invariants
///
/// Every pointer of `objects` is a distinct object allocated from `cache`,
/// owned by this value, holding a valid `T`.
pub struct SlabBulk<'c, T> {
    objects: KmallocArray<*mut c_void>,
    cache: &'c RawCache,
    _type: PhantomData<fn(T) -> T>,
}

// SAFETY: A `SlabBulk` owns its `T`s as a `KVec<T>` does, and SLUB lets any
// thread free objects.
unsafe impl<T: Send> Send for SlabBulk<'_, T> {}

// SAFETY: A shared `SlabBulk` only gives shared access to its `T`s.
unsafe impl<T: Sync> Sync for SlabBulk<'_, T> {}

impl<T> SlabCache<T, Plain> {
    /// `n` new objects of the cache, the `i`-th holding `f(i)`: all of them,
    /// or none (C's `kmem_cache_alloc_bulk()`).
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`]: `ENOMEM` if not every object could be
    /// allocated (then none is); `EAGAIN` with interrupts disabled, which C
    /// does not allow.
    #[inline]
    pub fn alloc_bulk(
        &self,
        n: usize,
        flags: impl Into<Gfp>,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<SlabBulk<'_, T>> {
        let flags: Gfp = flags.into();
        let flags = check_alloc_flags::<T>(flags)?;
        if crate::context::irqs_disabled() {
            return Err(EAGAIN);
        }
        let mut objects = KmallocArray::<*mut c_void>::zeroed(n, flags)?;
        if n > 0 {
            // SAFETY: The cache is live (type invariant of `RawCache`), the
            // flags are ones the slab allocator accepts, and `objects` has
            // room for `n` pointers.
            let all = unsafe {
                ffi::kalloc_kmem_cache_alloc_bulk(
                    self.raw.as_ptr(),
                    flags.as_raw(),
                    n,
                    objects.as_mut_ptr(),
                )
            };
            if !all {
                return Err(ENOMEM);
            }
        }
        for (i, object) in objects.iter().enumerate() {
            // SAFETY: `object` is a new object of this cache, so valid for
            // writes of a `T` and aligned for it (type invariant).
            unsafe { object.cast::<T>().write(f(i)) };
        }
        // INVARIANT: C filled in `n` distinct new objects (all or nothing),
        // each now holding a valid `T`.
        Ok(SlabBulk {
            objects,
            cache: &self.raw,
            _type: PhantomData,
        })
    }
}

impl<T> SlabBulk<'_, T> {
    /// The number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The value in object `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&T> {
        let object = *self.objects.get(index)?;
        // SAFETY: The object holds a valid `T` (type invariant), shared for
        // as long as `self` is.
        Some(unsafe { &*object.cast::<T>() })
    }

    /// The value in object `index`, mutably, if there is one.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let object = *self.objects.get(index)?;
        // SAFETY: The object holds a valid `T` (type invariant), which
        // `self` owns exclusively.
        Some(unsafe { &mut *object.cast::<T>() })
    }

    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl<T> Drop for SlabBulk<'_, T> {
    fn drop(&mut self) {
        for &object in self.objects.iter() {
            // SAFETY: The object holds a valid `T` owned by `self` (type
            // invariant), dropped once, here.
            unsafe { core::ptr::drop_in_place(object.cast::<T>()) };
        }
        if crate::context::irqs_disabled() {
            // `kmem_cache_free_bulk()` needs interrupts enabled: one by one.
            for &object in self.objects.iter() {
                if let Some(object) = NonNull::new(object) {
                    // SAFETY: `object` is a live object of the cache owned by
                    // `self`, not used after this.
                    unsafe { self.cache.free(object) };
                }
            }
        } else if let Some(first) =
            NonNull::new(self.objects.as_mut_ptr()).filter(|_| !self.is_empty())
        {
            // SAFETY: The cache is live; `first` points to `len()` distinct
            // live objects of it, which are not used after this.
            unsafe {
                kernel::bindings::kmem_cache_free_bulk(
                    self.cache.as_ptr(),
                    self.objects.len(),
                    first.as_ptr(),
                )
            };
        }
    }
}
