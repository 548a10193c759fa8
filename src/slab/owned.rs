// SPDX-License-Identifier: GPL-2.0

//! [`OwnedSlabBox`]: an object that keeps its cache alive, for driver state.

use super::{CacheKind, Construct, Constructed, Plain, SlabBox, SlabCache};
use crate::gfp::Gfp;
use core::ops::{Deref, DerefMut};
use kernel::prelude::*;
use kernel::sync::Arc;

/// An object of a [`SlabCache`] that holds a reference to its cache, so that
/// it can live anywhere (in driver state, a list, an XArray, `Arc`ed data)
/// while the cache provably outlives it.
///
/// A [`SlabBox`] borrows its cache, which suits objects that live within
/// a function; an `OwnedSlabBox` counts instead, at the price of an atomic
/// increment and decrement of the cache's `Arc` per object.
///
/// # Examples
///
/// ```
/// use kalloc::gfp;
/// use kalloc::slab::{OwnedSlabBox, SlabCache, SlabOptions};
/// use kernel::alloc::flags::GFP_KERNEL; // the kernel crate's, for `Arc` and `KVec`
/// use kernel::sync::Arc;
///
/// struct Request {
///     id: u32,
/// }
///
/// // A driver's state: the cache and objects of it, side by side.
/// struct State {
///     requests: Arc<SlabCache<Request>>,
///     pending: KVec<OwnedSlabBox<Request>>,
/// }
///
/// let requests = Arc::new(SlabCache::new(c"my_pending", SlabOptions::new())?, GFP_KERNEL)?;
/// let mut state = State { requests, pending: KVec::new() };
/// let first = state.requests.alloc_owned(Request { id: 1 }, gfp::GFP_KERNEL)?;
/// state.pending.push(first, GFP_KERNEL)?;
/// assert_eq!(state.pending[0].id, 1);
/// ```
///
/// # Invariants
///
/// `object` was allocated from the cache that `cache` keeps alive, and its
/// borrow of that cache is valid while `cache` is: the cache lives in the
/// `Arc`'s allocation, which does not move, and `object` is dropped before
/// `cache` (declaration order) and never given out by value.
pub struct OwnedSlabBox<T, K: CacheKind = Plain> {
    object: SlabBox<'static, T>,
    cache: Arc<SlabCache<T, K>>,
}

impl<T, K: CacheKind> OwnedSlabBox<T, K> {
    /// # Safety
    ///
    /// `object` must have been allocated from `cache`'s cache.
    unsafe fn new(object: SlabBox<'_, T>, cache: &Arc<SlabCache<T, K>>) -> Self {
        // SAFETY: The borrow is of the cache inside the `Arc`'s allocation,
        // which the clone stored beside it keeps alive and in place for as
        // long as `object` exists (see the type invariants).
        let object = unsafe { core::mem::transmute::<SlabBox<'_, T>, SlabBox<'static, T>>(object) };
        // INVARIANT: `object` comes from `cache` (the caller's guarantee),
        // which the clone keeps alive.
        OwnedSlabBox {
            object,
            cache: cache.clone(),
        }
    }

    /// The cache the object belongs to.
    pub fn cache(&self) -> &Arc<SlabCache<T, K>> {
        &self.cache
    }
}

impl<T> SlabCache<T, Plain> {
    /// Moves `value` into a new object of the cache that keeps the cache
    /// alive ([`OwnedSlabBox`]).
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`].
    #[inline]
    pub fn alloc_owned(
        self: &Arc<Self>,
        value: T,
        flags: impl Into<Gfp>,
    ) -> Result<OwnedSlabBox<T>> {
        let flags: Gfp = flags.into();
        let object = self.alloc(value, flags)?;
        // SAFETY: `object` was just allocated from this cache.
        Ok(unsafe { OwnedSlabBox::new(object, self) })
    }
}

impl<T: Construct> SlabCache<T, Constructed> {
    /// An object of the cache that keeps the cache alive, as
    /// [`SlabCache::alloc`] gives it.
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`].
    #[inline]
    pub fn alloc_owned(
        self: &Arc<Self>,
        flags: impl Into<Gfp>,
    ) -> Result<Pin<OwnedSlabBox<T, Constructed>>> {
        let flags: Gfp = flags.into();
        let object = self.alloc(flags)?;
        // SAFETY: The object was just allocated from this cache, and the
        // `T` stays in its slab object, which never moves, until the box is
        // dropped: unpinning it to wrap it moves nothing.
        let object = unsafe { Pin::into_inner_unchecked(object) };
        // SAFETY: `object` was just allocated from this cache.
        let owned = unsafe { OwnedSlabBox::new(object, self) };
        // SAFETY: As above: the `T` never moves while the box lives.
        Ok(unsafe { Pin::new_unchecked(owned) })
    }
}

impl<T, K: CacheKind> Deref for OwnedSlabBox<T, K> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.object
    }
}

impl<T, K: CacheKind> DerefMut for OwnedSlabBox<T, K> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.object
    }
}
