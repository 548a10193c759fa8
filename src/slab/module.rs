// SPDX-License-Identifier: GPL-2.0

//! [`CacheAlloc`]: a slab cache that lives as long as the module, as an
//! allocator of the kernel crate (`Box<T, CacheAlloc<C>>`).

use super::{check_alloc_flags, SlabCache, SlabOptions};
use crate::deferred::{self, SleepingFree};
use crate::ffi;
use crate::gfp::Gfp;
use crate::kernel_alloc::{empty, node_number};
use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::{AllocError, Allocator, Flags, NumaNode};
use kernel::{bindings, prelude::*};

/// A slab cache that lives as long as the module, named by a type that
/// [`slab_cache!`](crate::slab_cache) declares: [`CacheAlloc<C>`] allocates
/// from it, and [`ModuleCache<C>`] creates and destroys it.
pub trait StaticCache: 'static {
    /// The type of the cache's objects.
    type Object;

    /// The place where the cache is while it lives.
    fn slot() -> &'static CacheSlot<Self::Object>;
}

/// Where a [`StaticCache`] keeps its cache: a pointer that
/// [`ModuleCache::new`] sets and its drop clears.
///
/// # Invariants
///
/// `cache` is NULL, or a cache made for objects of type `T` that a
/// [`ModuleCache`] owns; it is destroyed only an SRCU grace period
/// (`kalloc_srcu`) after `cache` no longer points to it.
pub struct CacheSlot<T> {
    cache: AtomicPtr<bindings::kmem_cache>,
    _objects: PhantomData<fn() -> T>,
}

impl<T> CacheSlot<T> {
    /// An empty slot, for a `static`.
    #[expect(clippy::new_without_default, reason = "a const fn for statics")]
    pub const fn new() -> Self {
        // INVARIANT: NULL.
        Self {
            cache: AtomicPtr::new(ptr::null_mut()),
            _objects: PhantomData,
        }
    }
}

/// The owner of the cache of `C`: created in the module's `init` (and kept
/// in the module's state), it destroys the cache when dropped, at the
/// latest when the module is unloaded.
///
/// Objects of the cache ([`Box<C::Object, CacheAlloc<C>>`](CacheAlloc)) do
/// not borrow it: a module frees them before it is unloaded, as in C.
/// Dropping the `ModuleCache` while an object is alive is a bug that
/// SLUB reports: it WARNs that the cache still has objects and keeps the
/// cache, so the objects stay valid (they go back with `kfree()`, which
/// needs no cache), and new allocations fail.
pub struct ModuleCache<C: StaticCache> {
    cache: ManuallyDrop<SlabCache<C::Object>>,
}

impl<C: StaticCache> ModuleCache<C> {
    /// Creates the cache of `C` as [`SlabCache::new`] does. May sleep.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the cache of `C` exists already; else as for
    /// [`SlabCache::new`].
    pub fn new(name: &CStr, options: SlabOptions) -> Result<Self> {
        let cache = SlabCache::new(name, options)?;
        // INVARIANT: The new cache, made for `C::Object`, owned by the
        // `ModuleCache` from now on.
        C::slot()
            .cache
            .compare_exchange(
                ptr::null_mut(),
                cache.raw.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .map_err(|_| EBUSY)?;
        Ok(Self {
            cache: ManuallyDrop::new(cache),
        })
    }

    /// The cache itself, for its name, object size and shrinking.
    pub fn cache(&self) -> &SlabCache<C::Object> {
        &self.cache
    }
}

impl<C: StaticCache> Drop for ModuleCache<C> {
    /// Clears the slot, then waits for the allocations that may still use
    /// the cache (an SRCU grace period) and destroys the cache. Both may
    /// sleep: where the current context may not, an async worker does them
    /// soon after.
    fn drop(&mut self) {
        C::slot().cache.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: `self.cache` is not used again: this is its owner's drop.
        let cache = unsafe { ManuallyDrop::take(&mut self.cache) }.into_raw();
        // INVARIANT: The cache is destroyed a grace period after the slot
        // was cleared.
        // SAFETY: A live cache, given up by its `SlabCache`: this is its only
        // destruction.
        unsafe { deferred::free_may_sleep::<SyncThenDestroy>(cache.as_ptr().cast()) };
    }
}

/// An SRCU grace period on `kalloc_srcu`, then `kmem_cache_destroy()`, as
/// a free that may sleep.
struct SyncThenDestroy;

impl SleepingFree for SyncThenDestroy {
    const WHAT: &'static str = "kmem_cache_destroy";

    unsafe fn free(cache: *mut c_void) {
        // SAFETY: A free that may sleep runs where sleeping is allowed.
        unsafe { ffi::kalloc_synchronize_srcu() };
        // SAFETY: The caller hands over a live cache, which no allocation
        // uses any more after the grace period.
        unsafe { bindings::kmem_cache_destroy(cache.cast()) };
    }
}

/// The allocator of a module-lifetime slab cache `C` for the kernel crate's
/// `Box`: `Box<C::Object, CacheAlloc<C>>` ([`CacheBox<C>`]) is a slab box
/// with all that `Box` has (`pin_init`, `ForeignOwnable`, `into_raw`, ...)
/// and no reference count: `kmem_cache_alloc()` and `kfree()`, nothing
/// else. Declare `C` with [`slab_cache!`](crate::slab_cache).
///
/// It serves a request of at most one `C::Object` (a `Box` of it; a `Vec`
/// of at most one), checked as [`SlabCache::alloc`] checks it. A request it
/// cannot serve, or one while [`ModuleCache<C>`] does not exist, is an
/// allocation error (`ENOMEM` through `Box::new`).
///
/// # Examples
///
/// ```
/// use kalloc::slab::{CacheBox, ModuleCache, SlabOptions};
/// use kernel::prelude::*;
///
/// struct Request {
///     id: u32,
/// }
///
/// kalloc::slab_cache!(
///     /// The driver's requests.
///     Requests: Request
/// );
///
/// let requests = ModuleCache::<Requests>::new(c"kalloc_doc_requests", SlabOptions::new())?;
/// let req = CacheBox::<Requests>::new(Request { id: 7 }, GFP_KERNEL)?;
/// let mut pending = KVec::new();
/// pending.push(req, GFP_KERNEL)?;
/// assert_eq!(pending[0].id, 7);
/// drop(pending);
/// drop(requests);
/// assert!(CacheBox::<Requests>::new(Request { id: 8 }, GFP_KERNEL).is_err());
/// ```
pub struct CacheAlloc<C>(PhantomData<C>);

/// A box of an object of the module-lifetime slab cache `C`.
pub type CacheBox<C> = kernel::alloc::Box<<C as StaticCache>::Object, CacheAlloc<C>>;

impl<C: StaticCache> CacheAlloc<C> {
    /// Whether an object of the cache holds `layout`: its size is
    /// `size_of::<C::Object>()`, its alignment at least the object type's
    /// and SLUB's own (`ARCH_SLAB_MINALIGN`).
    #[inline(always)]
    fn fits(layout: Layout) -> bool {
        layout.size() <= size_of::<C::Object>() && layout.align() <= Self::MIN_ALIGN
    }

    /// A box of `value` in a new object of the cache (C's
    /// `kmem_cache_alloc()`): `CacheBox::new` with kalloc's flags, which the
    /// kernel crate's `Flags` cannot all hold, and with the reason when it
    /// fails. Inline, with the flags folded where they are constants.
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`]: `EAGAIN` for flags that may sleep where
    /// sleeping is not allowed, `EINVAL` for flags the slab allocator does
    /// not take; `ENOMEM` if the allocation fails, and while no
    /// [`ModuleCache`] owns the cache.
    #[inline(always)]
    pub fn new_box(value: C::Object, flags: impl Into<Gfp>) -> Result<CacheBox<C>> {
        let layout = Layout::new::<C::Object>();
        let object = if layout.size() == 0 {
            empty(layout, Self::MIN_ALIGN)
        } else {
            Self::alloc_object(layout, flags.into(), NumaNode::NO_NODE)?
        };
        let object = object.cast::<C::Object>();
        // SAFETY: `object` is valid for writing a `C::Object`: an object of
        // the cache made for it, aligned to `MIN_ALIGN`, or for a zero-sized
        // type a dangling pointer aligned as well.
        unsafe { object.as_ptr().write(value) };
        // SAFETY: What this allocator returned for the layout of
        // `C::Object`, holding one, as `Box` owns it.
        Ok(unsafe { CacheBox::<C>::from_raw(object.as_ptr()) })
    }

    /// A new object from the cache on `nid`, for a non-empty `layout`
    /// that fits.
    #[inline(always)]
    fn alloc_object(layout: Layout, flags: Gfp, nid: NumaNode) -> Result<NonNull<[u8]>> {
        let flags = check_alloc_flags::<C::Object>(flags)?;
        let node = node_number(nid).ok_or(EINVAL)?;
        // The cache stays alive until the section ends: its `ModuleCache`
        // destroys it only a grace period after clearing the slot.
        // SAFETY: Any context where the slab allocator may be called is one
        // where RCU watches; the section is closed below.
        let section = unsafe { ffi::kalloc_srcu_read_lock_fast() };
        let cache = C::slot().cache.load(Ordering::Acquire);
        let object = if cache.is_null() {
            ptr::null_mut()
        } else if nid == NumaNode::NO_NODE {
            // SAFETY: `cache` is a live cache (the slot's invariant, and the
            // section) and `flags` are ones the slab allocator accepts.
            unsafe { ffi::kmem_cache_alloc(cache, flags.as_raw()) }
        } else {
            // SAFETY: As above; `node` is a node number or `NUMA_NO_NODE`.
            unsafe { ffi::kalloc_kmem_cache_alloc_node(cache, flags.as_raw(), node) }
        };
        // SAFETY: The section opened above, ended once.
        unsafe { ffi::kalloc_srcu_read_unlock_fast(section) };
        let object = NonNull::new(object.cast::<u8>()).ok_or(ENOMEM)?;
        Ok(NonNull::slice_from_raw_parts(object, layout.size()))
    }
}

// SAFETY: `realloc` returns an object of the cache, which holds
// `size_of::<C::Object>()` bytes aligned to `MIN_ALIGN` (the cache was made
// for `C::Object`: the slot's invariant), only for a layout that fits in
// it; a resize within an object keeps it, and any other fails and leaves
// the old object alone. Objects are freed with `kfree()`, which takes the
// object of any slab cache.
unsafe impl<C: StaticCache> Allocator for CacheAlloc<C> {
    const MIN_ALIGN: usize = if align_of::<C::Object>() > bindings::ARCH_SLAB_MINALIGN {
        align_of::<C::Object>()
    } else {
        bindings::ARCH_SLAB_MINALIGN
    };

    #[inline]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let old = ptr.filter(|_| old_layout.size() != 0);
        if layout.size() == 0 {
            if let Some(old) = old {
                // SAFETY: `old` is a live object of this allocator (the
                // caller's guarantee), which `kfree()` takes.
                unsafe { Self::free(old, old_layout) };
            }
            return Ok(empty(layout, Self::MIN_ALIGN));
        }
        if !Self::fits(layout) {
            return Err(AllocError);
        }
        match old {
            // The object holds the new size too.
            Some(old) => Ok(NonNull::slice_from_raw_parts(old, layout.size())),
            None => Self::alloc_object(layout, flags.into(), nid).map_err(|_| AllocError),
        }
    }

    // Inline, without `realloc`'s resizing: `Box::new` is then
    // `kmem_cache_alloc()` and its drop `kfree()`, as in C.
    #[inline(always)]
    fn alloc(layout: Layout, flags: Flags, nid: NumaNode) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(empty(layout, Self::MIN_ALIGN));
        }
        if !Self::fits(layout) {
            return Err(AllocError);
        }
        Self::alloc_object(layout, flags.into(), nid).map_err(|_| AllocError)
    }

    #[inline(always)]
    unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: `ptr` is a live object of a slab cache (the caller's
            // guarantee), which `kfree()` gives back to its cache, also
            // one SLUB kept after a `ModuleCache` was dropped too early.
            unsafe { bindings::kfree(ptr.as_ptr().cast()) };
        }
    }
}

/// Declares a slab cache that lives as long as the module:
/// `slab_cache!(Name: Type)` makes `Name`, a [`StaticCache`] of objects of
/// `Type`. [`ModuleCache<Name>`](crate::slab::ModuleCache) creates it and
/// [`CacheBox<Name>`](crate::slab::CacheBox) allocates from it.
///
/// See [`CacheAlloc`] for an example.
#[macro_export]
macro_rules! slab_cache {
    ($(#[$meta:meta])* $vis:vis $name:ident: $object:ty) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::slab::StaticCache for $name {
            type Object = $object;

            #[inline(always)]
            fn slot() -> &'static $crate::slab::CacheSlot<$object> {
                static SLOT: $crate::slab::CacheSlot<$object> = $crate::slab::CacheSlot::new();
                &SLOT
            }
        }
    };
}
