// SPDX-License-Identifier: GPL-2.0

//! [`SlabOptions`] and the kinds of cache: what a cache is created with.

use super::{
    SLAB_ACCOUNT, SLAB_CACHE_DMA, SLAB_CACHE_DMA32, SLAB_HWCACHE_ALIGN, SLAB_NO_MERGE,
    SLAB_RECLAIM_ACCOUNT,
};
use kernel::{
    bindings,
    prelude::*, //
};

/// Options for a new cache: the `SLAB_*` flags kalloc supports and an
/// explicit alignment.
///
/// # Examples
///
/// ```
/// use kalloc::slab::SlabOptions;
///
/// let options = SlabOptions::new().hwcache_align().align(128);
/// assert_ne!(options, SlabOptions::new());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabOptions {
    pub(super) flags: bindings::slab_flags_t,
    pub(super) align: Option<usize>,
    /// The user-copy region: offset and size in bytes.
    pub(super) usercopy: Option<(usize, usize)>,
}

impl SlabOptions {
    /// No flags; objects aligned for `T` (and at least to
    /// `ARCH_SLAB_MINALIGN`, 8 bytes on x86-64).
    pub const fn new() -> Self {
        SlabOptions {
            flags: 0,
            align: None,
            usercopy: None,
        }
    }

    /// `SLAB_HWCACHE_ALIGN`: align objects on cache lines, so that two
    /// objects never share one (objects smaller than half a line are
    /// aligned to the largest power-of-two fraction of a line they fit in).
    pub const fn hwcache_align(self) -> Self {
        self.with_flags(SLAB_HWCACHE_ALIGN)
    }

    /// `SLAB_ACCOUNT`: charge every object to the memory cgroup of the task
    /// that allocates it, as `__GFP_ACCOUNT` does for one allocation. For
    /// objects user space can make the kernel allocate. Without
    /// `CONFIG_MEMCG` this does nothing.
    pub const fn account(self) -> Self {
        self.with_flags(SLAB_ACCOUNT)
    }

    /// `SLAB_RECLAIM_ACCOUNT`: the objects are reclaimable (the cache has a
    /// shrinker): slabs come from reclaimable page blocks and count as
    /// `SReclaimable` in `/proc/meminfo`.
    pub const fn reclaim_account(self) -> Self {
        self.with_flags(SLAB_RECLAIM_ACCOUNT)
    }

    /// `SLAB_NO_MERGE`: never merge this cache with another one, so that its
    /// objects and its counters are its own. The kernel reserves this for
    /// self-tests, debugging and rare performance-critical caches.
    pub const fn no_merge(self) -> Self {
        self.with_flags(SLAB_NO_MERGE)
    }

    /// `SLAB_CACHE_DMA`: the objects come from `ZONE_DMA` (below 16 MiB on
    /// x86), for devices that address only 24 bits. Prefer the DMA API
    /// (`dma_alloc_coherent()`) for device memory: it knows the device's
    /// real limits. Not together with [`SlabOptions::dma32`] (`EINVAL`).
    pub const fn dma(self) -> Self {
        self.with_flags(SLAB_CACHE_DMA)
    }

    /// `SLAB_CACHE_DMA32`: the objects come from `ZONE_DMA32` (below
    /// 4 GiB). kmalloc has no such caches; this is the way to small DMA32
    /// objects. Not together with [`SlabOptions::dma`] (`EINVAL`).
    pub const fn dma32(self) -> Self {
        self.with_flags(SLAB_CACHE_DMA32)
    }

    /// Align objects to `align` bytes (or more, if `T` needs more). Cache
    /// creation fails with `EINVAL` unless `align` is a power of two no
    /// larger than [`MAX_ALIGN`](crate::slab::MAX_ALIGN).
    pub const fn align(self, align: usize) -> Self {
        SlabOptions {
            align: Some(align),
            ..self
        }
    }

    /// The user-copy region (C's `useroffset` and `usersize`): the `size`
    /// bytes at `offset` in each object are the only ones that may be copied
    /// to or from user space (`copy_to_user()`, `copy_from_user()`). With
    /// `CONFIG_HARDENED_USERCOPY`, a copy that touches any other byte of an
    /// object of a cache is a kernel BUG (`usercopy_abort()`); a cache
    /// without a region allows none. Cache creation fails with `EINVAL` if
    /// the region is not inside `T`, or has an offset but no size.
    ///
    /// # Examples
    ///
    /// ```
    /// use kalloc::slab::SlabOptions;
    ///
    /// #[repr(C)]
    /// struct Message {
    ///     len: u32,
    ///     text: [u8; 60], // user space reads and writes only this
    /// }
    ///
    /// let _options =
    ///     SlabOptions::new().usercopy(core::mem::offset_of!(Message, text), 60);
    /// ```
    pub const fn usercopy(self, offset: usize, size: usize) -> Self {
        SlabOptions {
            usercopy: Some((offset, size)),
            ..self
        }
    }

    const fn with_flags(self, flags: bindings::slab_flags_t) -> Self {
        SlabOptions {
            flags: self.flags | flags,
            ..self
        }
    }
}

/// The kind of a [`SlabCache`](crate::slab::SlabCache): what its free objects hold.
///
/// Sealed: the kinds are [`Plain`] and [`Constructed`].
pub trait CacheKind: private::Sealed {}

/// A cache without constructor: each allocation initialises a `T`, each
/// free drops it; free objects hold no `T`.
pub enum Plain {}

/// A cache whose constructor ([`Construct`]) builds a `T` in every slot of
/// a new slab; free objects hold a valid `T`, which allocations hand out.
pub enum Constructed {}

impl CacheKind for Plain {}
impl CacheKind for Constructed {}

pub(super) mod private {
    pub trait Sealed {}
    impl Sealed for super::Plain {}
    impl Sealed for super::Constructed {}
}

/// A type whose objects a [`Constructed`] cache builds once per slot, when
/// SLUB populates a slab, and keeps valid while they are free.
///
/// The rules, from how SLUB calls a constructor:
///
/// - `construct` runs for *every slot* of a new slab, when an allocation
///   needs that slab; not at each allocation. An object that is freed and
///   allocated again is not constructed again: it holds what its last user
///   left in it.
/// - It may run in atomic context (an allocation with `GFP_ATOMIC` that
///   needs a new slab), so it must not sleep. It must not allocate from the
///   same cache.
/// - It cannot fail: C's constructor returns nothing.
/// - Objects are never dropped: when SLUB frees an empty slab (on
///   [`SlabCache::shrink`](crate::slab::SlabCache::shrink), under memory pressure, when the cache is
///   destroyed) the values in it are discarded. So `T` must have no drop
///   glue; [`SlabCache::with_constructor`](crate::slab::SlabCache::with_constructor) checks this at compile time.
/// - `Send`: an object built or used on one CPU may be handed out on
///   another.
/// - SLUB calls `construct` through a pointer into the module's code: drop
///   the cache before the module is unloaded (a cache kept in the module's
///   state is).
pub trait Construct: Sized + Send {
    /// The initialiser that builds the value every free object starts
    /// with.
    fn construct() -> impl PinInit<Self>;
}

/// SLUB's constructor for a [`Constructed`] cache of `T`.
///
/// # Safety
///
/// `object` is a slot of a cache created by [`SlabCache::with_constructor`]
/// for `T`, which SLUB is populating: valid for writes of a `T`, aligned for
/// `T`, not initialised, and it does not move until it is discarded.
pub(super) unsafe extern "C" fn construct_object<T: Construct>(object: *mut c_void) {
    // SAFETY: By the safety requirements, `object` is valid, aligned and
    // uninitialised memory for a `T` that does not move. `T` has no drop
    // glue (`SlabCache::with_constructor`), so discarding the value without
    // dropping it keeps the pinning guarantee.
    unsafe { crate::compat::raw_init(object.cast::<T>(), T::construct()) };
}
