// SPDX-License-Identifier: GPL-2.0

//! [`SlabCache`]: a `kmem_cache` of `T`.

use super::options::construct_object;
use super::{
    cache_name_taken, check_alloc_flags, check_name, CacheKind, Construct, Constructed, NamesGuard,
    Plain, SlabBox, SlabOptions, MAX_ALIGN, MAX_OBJECT_SIZE,
};
use super::{SLAB_CACHE_DMA, SLAB_CACHE_DMA32};
use crate::deferred::{self, SleepingFree};
use crate::ffi;
use crate::gfp::{context_may_sleep, Gfp, Node};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    prelude::*,
    str::CString, //
};

/// An owned `struct kmem_cache`: the part of a [`SlabCache`] that does not
/// depend on the type of its objects.
///
/// # Invariants
///
/// `self.0` points to a live cache created by `__kmem_cache_create_args`,
/// which only `drop` destroys.
pub(super) struct RawCache(NonNull<bindings::kmem_cache>);

// SAFETY: SLUB synchronises allocations, frees and destruction of a cache
// internally: a `kmem_cache` can be used and destroyed from any thread.
unsafe impl Send for RawCache {}

// SAFETY: Every method of `RawCache` takes `&self` and calls SLUB, which may
// run them concurrently from any number of threads.
unsafe impl Sync for RawCache {}

impl RawCache {
    /// An object from the cache, with `flags` already checked for slab use.
    #[inline]
    fn alloc(&self, flags: Gfp) -> Result<NonNull<c_void>> {
        // SAFETY: `self.0` is a live cache (type invariant) and `flags` are
        // flags the slab allocator accepts (the caller checked them).
        let object = unsafe { ffi::kmem_cache_alloc(self.0.as_ptr(), flags.as_raw()) };
        NonNull::new(object).ok_or(ENOMEM)
    }

    /// Gives `object` back to the cache.
    ///
    /// # Safety
    ///
    /// `object` was allocated from this cache, is not freed yet, and is not
    /// used after this call.
    #[inline]
    pub(super) unsafe fn free(&self, object: NonNull<c_void>) {
        // SAFETY: `self.0` is a live cache (type invariant); the caller
        // guarantees that `object` is a live object of it.
        unsafe { bindings::kmem_cache_free(self.0.as_ptr(), object.as_ptr()) };
    }

    /// The C cache, for the calls of this module.
    pub(super) fn as_ptr(&self) -> *mut bindings::kmem_cache {
        self.0.as_ptr()
    }

    fn object_size(&self) -> usize {
        // SAFETY: `self.0` is a live cache (type invariant).
        let size = unsafe { bindings::kmem_cache_size(self.0.as_ptr()) };
        // CAST: lossless, a `usize` has at least 32 bits in the kernel.
        size as usize
    }

    fn shrink(&self) -> bool {
        // SAFETY: `self.0` is a live cache (type invariant).
        unsafe { bindings::kmem_cache_shrink(self.0.as_ptr()) == 0 }
    }
}

impl Drop for RawCache {
    /// Destroys the cache (`kmem_cache_destroy`). That may sleep: where the
    /// current context may not, an async worker destroys it soon after.
    fn drop(&mut self) {
        // Every object of a `SlabCache` borrows it or holds it alive, so
        // none is alive any more, unless one was leaked: then SLUB WARNs
        // that the cache still has objects and keeps the cache, so the
        // leaked objects stay valid.
        // SAFETY: `self.0` is a live cache (type invariant) and this is its
        // only destruction.
        unsafe { deferred::free_may_sleep::<KmemCacheDestroy>(self.0.as_ptr().cast()) };
    }
}

/// `kmem_cache_destroy()`, as a free that may sleep.
struct KmemCacheDestroy;

impl SleepingFree for KmemCacheDestroy {
    const WHAT: &'static str = "kmem_cache_destroy";

    unsafe fn free(cache: *mut c_void) {
        // SAFETY: The caller hands over a live cache with no live objects.
        unsafe { bindings::kmem_cache_destroy(cache.cast()) };
    }
}

/// A named slab cache (`struct kmem_cache`) for objects of type `T`.
///
/// `K` is the kind of cache: [`Plain`] (no constructor, the default) or
/// [`Constructed`]; see the [module documentation](crate::slab).
///
/// Dropping the cache destroys it (`kmem_cache_destroy`); its objects
/// borrow it, so by then none of them is alive. Creating and destroying a
/// cache may sleep: creation fails with `EAGAIN` where sleeping is not
/// allowed. A cache may be dropped anywhere: where the context may not
/// sleep, an async worker destroys it soon after, and creating a cache
/// waits for such destructions first, so that their names are free again.
/// (While the module is still initialising, a cache dropped there stays,
/// and the kernel log says so: a module whose init fails is freed without
/// waiting for async workers.)
///
/// # Names
///
/// The name shows in `/proc/slabinfo` and `/sys/kernel/slab/` (a merged
/// cache's name only as a link in `/sys/kernel/slab/`); SLUB keeps its own
/// copy. It must be 1 to [`MAX_NAME_LEN`](crate::slab::MAX_NAME_LEN) printable ASCII
/// characters other than space and `/`, and not start with `:` (SLUB names
/// merged caches `:<flags>-<size>`); otherwise creation fails with
/// `EINVAL`. Where C would fail or warn about a taken name, creation fails
/// with `EEXIST` instead. SLUB names an entry in `/sys/kernel/slab` after
/// each cache: a directory for a cache that cannot be merged, a link for a
/// mergeable one (also one it merged into another cache). So the name is
/// taken while a directory has it, and, on a kernel with
/// `CONFIG_DEBUG_VM` (where SLUB WARNs about a live cache's name), while a
/// link with it leads to a live cache. SLUB leaves the link behind when a
/// merged cache is destroyed, and nothing tells that leftover from the link
/// of a live cache; so there, the name of a cache merged into a long-lived
/// one stays taken until that one is destroyed. Without `CONFIG_DEBUG_VM`
/// (production kernels) C replaces such a link, and so does kalloc: a
/// module unloaded and loaded again gets its caches back, as a C module
/// does. Pick names no other cache uses, e.g. prefixed with the module's
/// name. (A kernel without sysfs has no record of names that kalloc could
/// check: there SLUB warns about a duplicate name if `CONFIG_DEBUG_VM` is
/// set.)
///
/// # Invariants
///
/// - `self.raw` is a cache named `self.name`, created for objects of
///   `size_of::<T>()` bytes aligned to at least `align_of::<T>()` bytes.
/// - If `K` is [`Constructed`], `T` implements [`Construct`] and has no
///   drop glue, the cache's constructor is `construct_object::<T>`, and
///   every free object of the cache holds a valid `T`.
pub struct SlabCache<T, K: CacheKind = Plain> {
    pub(super) raw: RawCache,
    name: CString,
    // Invariant in `T`: the cache takes values of `T` back and hands them
    // out again (a constructed cache keeps them while free), so a cache of
    // `T<'long>` must not be usable as a cache of `T<'short>`. Owns no `T`.
    _type: PhantomData<fn(T) -> T>,
    _kind: PhantomData<K>,
}

impl<T, K: CacheKind> SlabCache<T, K> {
    fn create(
        name: &CStr,
        options: SlabOptions,
        ctor: Option<unsafe extern "C" fn(*mut c_void)>,
    ) -> Result<Self> {
        check_name(name)?;
        let size = size_of::<T>();
        if size == 0 || size > MAX_OBJECT_SIZE {
            return Err(EINVAL);
        }
        let align = match options.align {
            Some(align) if !align.is_power_of_two() => return Err(EINVAL),
            Some(align) => align.max(align_of::<T>()),
            None => align_of::<T>(),
        };
        if align > MAX_ALIGN {
            return Err(EINVAL);
        }
        // Both would make SLUB allocate its slabs with `GFP_DMA | GFP_DMA32`,
        // an invalid zone (`gfp_zone()` hits `VM_BUG_ON`).
        let both = SLAB_CACHE_DMA | SLAB_CACHE_DMA32;
        if options.flags & both == both {
            return Err(EINVAL);
        }
        let (useroffset, usersize) = match options.usercopy {
            // An offset without a size is C's `WARN_ON(!usersize && useroffset)`.
            Some((offset, len))
                if (len == 0 && offset != 0)
                    || offset.checked_add(len).is_none_or(|end| end > size) =>
            {
                return Err(EINVAL)
            }
            Some(region) => region,
            None => (0, 0),
        };
        if !context_may_sleep() {
            return Err(EAGAIN);
        }
        let mut args = bindings::kmem_cache_args {
            align: u32::try_from(align)?,
            useroffset: u32::try_from(useroffset)?,
            usersize: u32::try_from(usersize)?,
            ctor,
            ..Default::default()
        };
        let owned_name = CString::try_from(name)?;
        // A cache of this module dropped in atomic context may still hold
        // its name.
        deferred::wait_pending();

        // A taken name would make SLUB WARN (a live cache has it) or take the
        // sysfs entry of a live cache (see `SlabCache`, Names).
        let _names = NamesGuard::lock();
        if cache_name_taken(name) {
            return Err(EEXIST);
        }
        // Any failure makes SLUB print a warning with a stack dump. The checks
        // above leave only a lack of memory: the size and alignment are in
        // the ranges SLUB accepts (see `MAX_OBJECT_SIZE`), the name is free.
        // SAFETY: `name` is a NUL-terminated string, which SLUB copies;
        // `args` is valid for the call; the flags are SLAB_* flags SLUB
        // permits.
        let cache = unsafe {
            bindings::__kmem_cache_create_args(
                name.as_char_ptr(),
                u32::try_from(size)?,
                &mut args,
                options.flags,
            )
        };
        let cache = NonNull::new(cache).ok_or(ENOMEM)?;
        // INVARIANT: `cache` was just created for `size_of::<T>()` bytes
        // aligned to at least `align_of::<T>()`, with the name `owned_name`.
        // The callers establish the invariants of constructed caches.
        Ok(SlabCache {
            raw: RawCache(cache),
            name: owned_name,
            _type: PhantomData,
            _kind: PhantomData,
        })
    }

    /// Gives up the C cache, which the caller now destroys.
    pub(super) fn into_raw(self) -> NonNull<bindings::kmem_cache> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this.name` is read once and dropped, and `this` is never
        // dropped; the `RawCache` is not dropped either: the caller owns
        // the cache.
        drop(unsafe { core::ptr::read(&this.name) });
        this.raw.0
    }

    /// The cache's name.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The C cache, alive while `self` is.
    pub(crate) fn as_raw(&self) -> *mut bindings::kmem_cache {
        self.raw.as_ptr()
    }

    /// The size of the cache's objects in bytes (`kmem_cache_size`):
    /// `size_of::<T>()`, or more if SLUB merged the cache into another one
    /// (see the [module documentation](crate::slab)): then the cache is that
    /// other cache, whose object size SLUB raises to the largest of the
    /// caches merged into it.
    pub fn object_size(&self) -> usize {
        self.raw.object_size()
    }

    /// Gives the cache's free memory back to the system
    /// (`kmem_cache_shrink`): drains the per-CPU object caches (and KASAN's
    /// quarantine) into the slabs, then frees every empty slab. Returns
    /// `true` if no slab is left, i.e. no object of the cache is alive.
    ///
    /// Only useful after many objects were freed.
    ///
    /// # Errors
    ///
    /// `EAGAIN` in a context that cannot sleep: shrinking takes the CPU
    /// hotplug lock and a mutex.
    pub fn shrink(&self) -> Result<bool> {
        if !context_may_sleep() {
            return Err(EAGAIN);
        }
        Ok(self.raw.shrink())
    }
}

impl<T> SlabCache<T, Plain> {
    /// Creates a cache without constructor named `name` for objects of type
    /// `T`. May sleep; so may dropping the cache.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `T` is zero-sized or larger than [`MAX_OBJECT_SIZE`], if
    /// the alignment is not a power of two or exceeds [`MAX_ALIGN`], for
    /// both [`SlabOptions::dma`] and [`SlabOptions::dma32`], for a user-copy
    /// region ([`SlabOptions::usercopy`]) not inside `T` or with an offset
    /// but no size, or if the name breaks the rules (see [`SlabCache`]);
    /// `EAGAIN` in a context that cannot sleep; `EEXIST` if the name is
    /// taken; `ENOMEM` if memory runs out (SLUB then also logs a warning
    /// with a stack dump).
    pub fn new(name: &CStr, options: SlabOptions) -> Result<Self> {
        Self::create(name, options, None)
    }

    /// Moves `value` into a new object of the cache.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags the slab allocator cannot honour (see
    /// [`Gfp::check_slab`]), a zone modifier (a cache's objects always
    /// come from the normal zone), or `__GFP_NOFAIL` for objects larger
    /// than [`NOFAIL_MAX_OBJECT_SIZE`](crate::slab::NOFAIL_MAX_OBJECT_SIZE);
    /// `EAGAIN` for flags that may sleep in a context that may not; `ENOMEM`
    /// if no memory is available.
    #[inline]
    pub fn alloc(&self, value: T, flags: impl Into<Gfp>) -> Result<SlabBox<'_, T>> {
        let flags: Gfp = flags.into();
        let object = self.raw.alloc(check_alloc_flags::<T>(flags)?)?.cast::<T>();
        // SAFETY: `object` is a new object of this cache, so valid for
        // writes of a `T` and aligned for it (type invariant).
        unsafe { object.as_ptr().write(value) };
        // INVARIANT: `object` holds a valid `T`, allocated from `self.raw`.
        Ok(SlabBox {
            object,
            cache: &self.raw,
            _type: PhantomData,
        })
    }

    /// Moves `value` into a new object of the cache from node `node` (C's
    /// `kmem_cache_alloc_node()`).
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`].
    #[inline]
    pub fn alloc_on(&self, value: T, flags: impl Into<Gfp>, node: Node) -> Result<SlabBox<'_, T>> {
        let flags: Gfp = flags.into();
        let flags = check_alloc_flags::<T>(flags)?;
        // SAFETY: The cache is live (type invariant of `RawCache`), the flags
        // are ones the slab allocator accepts, and the node is `NUMA_NO_NODE`
        // or was online (`Node`'s invariant).
        let object = unsafe {
            ffi::kalloc_kmem_cache_alloc_node(self.raw.as_ptr(), flags.as_raw(), node.id())
        };
        let object = NonNull::new(object).ok_or(ENOMEM)?.cast::<T>();
        // SAFETY: `object` is a new object of this cache, so valid for
        // writes of a `T` and aligned for it (type invariant).
        unsafe { object.as_ptr().write(value) };
        // INVARIANT: `object` holds a valid `T`, allocated from `self.raw`.
        Ok(SlabBox {
            object,
            cache: &self.raw,
            _type: PhantomData,
        })
    }

    /// Initialises a `T` in place, pinned, in a new object of the cache.
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::alloc`], or the error of `init`: then the object
    /// goes back to the cache.
    #[inline]
    pub fn pin_init<E>(
        &self,
        init: impl PinInit<T, E>,
        flags: impl Into<Gfp>,
    ) -> Result<Pin<SlabBox<'_, T>>>
    where
        Error: From<E>,
    {
        let flags: Gfp = flags.into();
        let object = self.raw.alloc(check_alloc_flags::<T>(flags)?)?;
        // SAFETY: `object` is a new object of this cache: valid, aligned
        // (type invariant) and uninitialised memory for a `T`. It is only
        // freed if `init` fails, and otherwise never moves: the `SlabBox`
        // below is pinned.
        if let Err(err) = unsafe { crate::compat::raw_try_init(object.cast::<T>().as_ptr(), init) }
        {
            // SAFETY: `object` is a live object of this cache, unused from
            // here on.
            unsafe { self.raw.free(object) };
            return Err(err.into());
        }
        // INVARIANT: `object` holds a valid `T`, allocated from `self.raw`.
        let object = SlabBox::<T> {
            object: object.cast(),
            cache: &self.raw,
            _type: PhantomData,
        };
        Ok(object.into())
    }
}

impl<T: Construct> SlabCache<T, Constructed> {
    /// Creates a cache named `name` whose objects SLUB constructs with
    /// [`Construct::construct`] when it populates a slab. May sleep; so may
    /// dropping the cache.
    ///
    /// # Errors
    ///
    /// As for [`SlabCache::new`].
    pub fn with_constructor(name: &CStr, options: SlabOptions) -> Result<Self> {
        const {
            assert!(
                !core::mem::needs_drop::<T>(),
                "a constructed cache discards its free objects without dropping them"
            )
        };
        // INVARIANT: the constructor builds a valid `T` in every slot of a
        // new slab, before it can be allocated; `T` has no drop glue.
        Self::create(name, options, Some(construct_object::<T>))
    }

    /// An object of the cache, pinned, holding a valid `T`: constructed by
    /// [`Construct::construct`], or as its previous owner left it.
    ///
    /// # Errors
    ///
    /// As for the [`SlabCache::alloc`] of a [`Plain`] cache; `EINVAL` also
    /// for `__GFP_ZERO`, as zeroing would destroy the constructed value.
    #[inline]
    pub fn alloc(&self, flags: impl Into<Gfp>) -> Result<Pin<SlabBox<'_, T>>> {
        let flags: Gfp = flags.into();
        let flags = check_alloc_flags::<T>(flags)?;
        if flags.zeroes() {
            return Err(EINVAL);
        }
        let object = self.raw.alloc(flags)?;
        // INVARIANT: every free object of a constructed cache holds a valid
        // `T` (type invariant of `SlabCache`). The constructor pinned it and
        // every owner since held it pinned, so it has never moved.
        let object = SlabBox::<T> {
            object: object.cast(),
            cache: &self.raw,
            _type: PhantomData,
        };
        Ok(object.into())
    }
}
