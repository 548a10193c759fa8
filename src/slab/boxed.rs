// SPDX-License-Identifier: GPL-2.0

//! [`SlabBox`]: one object from a [`SlabCache`].

use super::RawCache;
use core::{
    marker::PhantomData,
    ops::{
        Deref,
        DerefMut, //
    },
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::prelude::*;

/// An object of a [`SlabCache`](crate::slab::SlabCache), owning a `T`.
///
/// Like `KBox<T>`, but the memory comes from the cache and goes back to it
/// (`kmem_cache_free`) when the box is dropped. The box borrows its cache,
/// which therefore outlives it. A box that is leaked (`core::mem::forget`)
/// makes the kernel WARN when the cache is destroyed (see the [module
/// documentation](crate::slab)).
///
/// # Invariants
///
/// `self.object` is an object allocated from `self.cache`, owned by this
/// box, holding a valid `T`.
pub struct SlabBox<'c, T> {
    pub(super) object: NonNull<T>,
    pub(super) cache: &'c RawCache,
    // Invariant in `T`, like the cache: the object may be handed out again
    // as the same `T`.
    pub(super) _type: PhantomData<fn(T) -> T>,
}

// SAFETY: A `SlabBox` owns its `T` like a `KBox` does, and SLUB lets any
// thread free an object: sending the box sends the `T`.
unsafe impl<T: Send> Send for SlabBox<'_, T> {}

// SAFETY: A shared `SlabBox` only gives shared access to its `T`.
unsafe impl<T: Sync> Sync for SlabBox<'_, T> {}

impl<'c, T> SlabBox<'c, T> {
    /// Pins the object. Objects never move, so this is free.
    pub fn into_pin(this: Self) -> Pin<Self> {
        // SAFETY: The `T` lives in its slab object until the box is dropped
        // and `SlabBox` has no method that moves it out, so once the box is
        // pinned, the `T` does not move again.
        unsafe { Pin::new_unchecked(this) }
    }
}

impl<'c, T> From<SlabBox<'c, T>> for Pin<SlabBox<'c, T>> {
    fn from(object: SlabBox<'c, T>) -> Self {
        SlabBox::into_pin(object)
    }
}

impl<T> Deref for SlabBox<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The object holds a valid `T` (type invariant), shared for
        // as long as the box is.
        unsafe { self.object.as_ref() }
    }
}

impl<T> DerefMut for SlabBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: The object holds a valid `T` (type invariant), which this
        // box owns exclusively.
        unsafe { self.object.as_mut() }
    }
}

impl<T> Drop for SlabBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: The object holds a valid `T` that this box owns (type
        // invariant). In a constructed cache `T` has no drop glue, so this
        // leaves the value in the object, as the cache's invariant wants.
        unsafe { ptr::drop_in_place(self.object.as_ptr()) };
        // SAFETY: The object was allocated from `self.cache` and is not
        // used after this (type invariant).
        unsafe { self.cache.free(self.object.cast()) };
    }
}
