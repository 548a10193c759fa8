// SPDX-License-Identifier: GPL-2.0

//! Slab caches (`kmem_cache`) as typed, owning Rust types: [`SlabCache`]
//! and [`SlabBox`].
//!
//! A slab cache hands out objects of one size, cut from slabs (pages the
//! cache splits into equal slots). Subsystems create one for each kind of
//! object they allocate often (`task_struct`, `dentry`, `inode`, ...).
//! Compared with kmalloc, a cache does not round sizes up to a power of
//! two, keeps objects of one type together, reports its usage by name in
//! `/proc/slabinfo` and `/sys/kernel/slab/<name>/`, and can construct its
//! objects once per slab instead of at every allocation.
//!
//! [`SlabCache<T>`] is a cache made for `T`: its object size is
//! `size_of::<T>()` and its alignment at least `align_of::<T>()`, so every
//! object it returns is memory for exactly one `T`. Its objects are
//! [`SlabBox`]es, owning pointers like `KBox` that give their object back
//! to the cache it came from (`kmem_cache_free`) when dropped.
//!
//! A [`SlabBox`] borrows its cache, so a cache cannot be destroyed while
//! one of its objects is alive: the compiler refuses the program.
//!
//! ```ignore
//! let cache = SlabCache::<Request>::new(c"my_requests", SlabOptions::new())?;
//! let req = cache.alloc(Request::default(), GFP_KERNEL)?;
//! drop(cache); // error[E0505]: cannot move out of `cache` because it is borrowed
//! req.len = 1;
//! ```
//!
//! (Leaking an object with `core::mem::forget` ends the borrow without
//! freeing it. Destroying the cache then makes the kernel WARN that the
//! cache still has objects, which crashes a kernel booted with
//! `panic_on_warn`, and keep the cache. Leaks are safe in Rust, but they
//! are still bugs.)
//!
//! # Two kinds of cache
//!
//! A `kmem_cache` has a constructor but no destructor: C's `ctor` runs on
//! every slot of a slab when SLUB populates the slab, not at each
//! allocation; a freed object keeps whatever its last user left in it, and
//! slabs are given back to the page allocator without any hook. kalloc
//! turns that into two kinds of cache, chosen by the type parameter `K`:
//!
//! - [`Plain`], from [`SlabCache::new`]: no constructor. Each allocation
//!   initialises a `T` in place ([`SlabCache::alloc`] moves a value in,
//!   [`SlabCache::pin_init`] runs a pinned initialiser in the object), and
//!   dropping the [`SlabBox`] drops the `T` before the memory goes back. A
//!   free object holds no `T`, so nothing depends on when the kernel
//!   constructs, recycles or discards it.
//! - [`Constructed`], from [`SlabCache::with_constructor`]: `T` implements
//!   [`Construct`] and SLUB calls [`Construct::construct`] on every slot of
//!   each new slab. The rule the API keeps is that *every free object holds
//!   a valid `T`*: the constructor makes one, an allocation hands it out as
//!   it is (pinned, never moved), and dropping the [`SlabBox`] gives it back
//!   *without* dropping it, holding what its last user left. So the next
//!   owner may see a used object, not a freshly constructed one (as in C,
//!   where users must free objects in their constructed state). Because
//!   slabs are freed without a destructor, `T` must have no drop glue: this
//!   is checked at compile time. This is the classic use of a constructor:
//!   set up locks or list heads once per slot and keep them across reuse.
//!
//! # Merging
//!
//! SLUB merges a new cache into an existing compatible one (same size
//! class, alignment and flags) unless it cannot: then the new cache is an
//! alias, its objects share slabs with the other cache, and its name is
//! only a symlink in `/sys/kernel/slab`. Caches with a constructor are never
//! merged; others opt out with [`SlabOptions::no_merge`] (meant for
//! self-tests and debugging, see `SLAB_NO_MERGE` in `include/linux/slab.h`).
//!
//! # Examples
//!
//! ```ignore
//! use kalloc::gfp::GFP_KERNEL;
//! use kalloc::slab::{Construct, SlabCache, SlabOptions};
//! use kernel::sync::{new_spinlock, SpinLock};
//!
//! struct Request {
//!     id: u32,
//!     len: usize,
//! }
//!
//! let requests = SlabCache::<Request>::new(c"my_requests", SlabOptions::new().hwcache_align())?;
//! let mut req = requests.alloc(Request { id: 1, len: 0 }, GFP_KERNEL)?;
//! req.len = 512;
//! drop(req); // Back to `requests`.
//!
//! // A session's lock is set up once per slot, by the constructor.
//! #[pin_data]
//! struct Session {
//!     #[pin]
//!     hits: SpinLock<u64>,
//! }
//!
//! impl Construct for Session {
//!     fn construct() -> impl PinInit<Self> {
//!         pin_init!(Session { hits <- new_spinlock!(0) })
//!     }
//! }
//!
//! let sessions = SlabCache::<Session, _>::with_constructor(c"my_sessions", SlabOptions::new())?;
//! let session = sessions.alloc(GFP_KERNEL)?;
//! *session.hits.lock() += 1;
//! ```

use crate::ffi;
use crate::gfp::{
    context_may_sleep,
    Gfp,
    Zone,
    __GFP_NOFAIL, //
};
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
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    str::CString, //
};

const fn slab_flag(bit: bindings::_slab_flag_bits) -> bindings::slab_flags_t {
    1 << bit
}

// The SLAB_* flags kalloc uses, from the bit numbers of the kernel being
// built; as in C, a flag whose feature is configured out is 0.
const SLAB_HWCACHE_ALIGN: bindings::slab_flags_t =
    slab_flag(bindings::_slab_flag_bits__SLAB_HWCACHE_ALIGN);
#[cfg(CONFIG_MEMCG)]
const SLAB_ACCOUNT: bindings::slab_flags_t = slab_flag(bindings::_slab_flag_bits__SLAB_ACCOUNT);
#[cfg(not(CONFIG_MEMCG))]
const SLAB_ACCOUNT: bindings::slab_flags_t = 0;
#[cfg(not(CONFIG_SLUB_TINY))]
const SLAB_RECLAIM_ACCOUNT: bindings::slab_flags_t =
    slab_flag(bindings::_slab_flag_bits__SLAB_RECLAIM_ACCOUNT);
#[cfg(CONFIG_SLUB_TINY)]
const SLAB_RECLAIM_ACCOUNT: bindings::slab_flags_t = 0;
const SLAB_NO_MERGE: bindings::slab_flags_t = slab_flag(bindings::_slab_flag_bits__SLAB_NO_MERGE);

/// The longest cache name kalloc accepts, in bytes: SLUB names the cache's
/// directory in `/sys/kernel/slab` after it, and a file name holds at most
/// `NAME_MAX` bytes.
pub const MAX_NAME_LEN: usize = bindings::NAME_MAX as usize;

/// The largest object a cache may hold: half of C's `KMALLOC_MAX_SIZE`
/// (the largest slab, a block of `MAX_PAGE_ORDER`), 2 MiB on x86-64.
///
/// SLUB adds to each object its metadata (free pointer, red zones, debug
/// tracking, KASAN's redzone: a few KiB at most) and pads it to its
/// alignment (at most [`MAX_ALIGN`]), and fails to create a cache, with a
/// warning and a stack dump, if one object then needs a slab above
/// `MAX_PAGE_ORDER`. Half the largest slab leaves room for all of that,
/// so any accepted size gives a cache SLUB can create.
pub const MAX_OBJECT_SIZE: usize = bindings::KMALLOC_MAX_SIZE as usize / 2;

/// The largest alignment kalloc accepts for a cache's objects: a page.
pub const MAX_ALIGN: usize = PAGE_SIZE;

/// The largest object that may be allocated with `__GFP_NOFAIL`: half a
/// page. Larger objects are `EINVAL` with it.
///
/// When SLUB needs a new slab and the page allocator has no block of the
/// cache's usual order, SLUB falls back to the smallest order that holds
/// one object, and passes `__GFP_NOFAIL` on. The page allocator does not
/// support `__GFP_NOFAIL` above order 1 (`gfp_types.h`): such a request may
/// loop forever. An object of at most half a page takes at most two pages
/// (order 1) with all that SLUB and KASAN add to it: the free pointer, red
/// zones and debug tracking (a few hundred bytes), a left red zone of the
/// object's alignment (at most [`MAX_ALIGN`]), and padding to that
/// alignment.
pub const NOFAIL_MAX_OBJECT_SIZE: usize = PAGE_SIZE / 2;

/// Options for a new cache: the `SLAB_*` flags kalloc supports and an
/// explicit alignment.
///
/// # Examples
///
/// ```ignore
/// let options = SlabOptions::new().hwcache_align().align(128);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabOptions {
    flags: bindings::slab_flags_t,
    align: Option<usize>,
}

impl SlabOptions {
    /// No flags; objects aligned for `T` (and at least to
    /// `ARCH_SLAB_MINALIGN`, 8 bytes on x86-64).
    pub const fn new() -> Self {
        SlabOptions {
            flags: 0,
            align: None,
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

    /// Align objects to `align` bytes (or more, if `T` needs more). Cache
    /// creation fails with `EINVAL` unless `align` is a power of two no
    /// larger than [`MAX_ALIGN`].
    pub const fn align(self, align: usize) -> Self {
        SlabOptions {
            align: Some(align),
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

/// The kind of a [`SlabCache`]: what its free objects hold.
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

mod private {
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
///   [`SlabCache::shrink`], under memory pressure, when the cache is
///   destroyed) the values in it are discarded. So `T` must have no drop
///   glue; [`SlabCache::with_constructor`] checks this at compile time.
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
unsafe extern "C" fn construct_object<T: Construct>(object: *mut c_void) {
    // SAFETY: By the safety requirements, `object` is valid, aligned and
    // uninitialised memory for a `T` that does not move. `T` has no drop
    // glue (`SlabCache::with_constructor`), so discarding the value without
    // dropping it keeps the pinning guarantee.
    unsafe { pin_init::raw_init(object.cast::<T>(), T::construct()) };
}

/// An owned `struct kmem_cache`: the part of a [`SlabCache`] that does not
/// depend on the type of its objects.
///
/// # Invariants
///
/// `self.0` points to a live cache created by `__kmem_cache_create_args`,
/// which only `drop` destroys.
struct RawCache(NonNull<bindings::kmem_cache>);

// SAFETY: SLUB synchronises allocations, frees and destruction of a cache
// internally: a `kmem_cache` can be used and destroyed from any thread.
unsafe impl Send for RawCache {}

// SAFETY: Every method of `RawCache` takes `&self` and calls SLUB, which may
// run them concurrently from any number of threads.
unsafe impl Sync for RawCache {}

impl RawCache {
    /// An object from the cache, with `flags` already checked for slab use.
    fn alloc(&self, flags: Gfp) -> Result<NonNull<c_void>> {
        // SAFETY: `self.0` is a live cache (type invariant) and `flags` are
        // flags the slab allocator accepts (the caller checked them).
        let object = unsafe { ffi::kalloc_kmem_cache_alloc(self.0.as_ptr(), flags.as_raw()) };
        NonNull::new(object).ok_or(ENOMEM)
    }

    /// Gives `object` back to the cache.
    ///
    /// # Safety
    ///
    /// `object` was allocated from this cache, is not freed yet, and is not
    /// used after this call.
    unsafe fn free(&self, object: NonNull<c_void>) {
        // SAFETY: `self.0` is a live cache (type invariant); the caller
        // guarantees that `object` is a live object of it.
        unsafe { bindings::kmem_cache_free(self.0.as_ptr(), object.as_ptr()) };
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
    /// Destroys the cache (`kmem_cache_destroy`), which may sleep.
    fn drop(&mut self) {
        // Every object of a `SlabCache` borrows it, so none is alive any
        // more, unless one was leaked: then SLUB WARNs that the cache still
        // has objects and keeps the cache, so the leaked objects stay valid.
        // SAFETY: `self.0` is a live cache (type invariant) and this is its
        // only destruction.
        unsafe { bindings::kmem_cache_destroy(self.0.as_ptr()) };
    }
}

/// A named slab cache (`struct kmem_cache`) for objects of type `T`.
///
/// `K` is the kind of cache: [`Plain`] (no constructor, the default) or
/// [`Constructed`]; see the [module documentation](self).
///
/// Dropping the cache destroys it (`kmem_cache_destroy`); its objects
/// borrow it, so by then none of them is alive. Creating and destroying a
/// cache may sleep: creation fails with `EAGAIN` where sleeping is not
/// allowed, and a cache must not be dropped there either.
///
/// # Names
///
/// The name shows in `/proc/slabinfo` and `/sys/kernel/slab/` (a merged
/// cache's name only as a link in `/sys/kernel/slab/`); SLUB keeps its own
/// copy. It must be 1 to [`MAX_NAME_LEN`] printable ASCII
/// characters other than space and `/`, and not start with `:` (SLUB names
/// merged caches `:<flags>-<size>`); otherwise creation fails with
/// `EINVAL`. It must also be unique among live caches: creation fails with
/// `EEXIST` if the name is taken in `/sys/kernel/slab`, where SLUB gives a
/// cache that cannot be merged a directory, and a mergeable cache (also one
/// it merged into another cache) a link. SLUB leaves the link behind when
/// the cache is destroyed, and kalloc can only tell it from the link of a
/// live cache once the cache it leads to is destroyed too. So the name of a
/// cache that SLUB merged into a long-lived one (a kernel cache of a
/// similar size) stays taken, possibly until reboot: loaded again, a module
/// gets `EEXIST` for it. Pick names no other cache uses, e.g. prefixed with
/// the module's name. (A kernel without sysfs has no record of names that
/// kalloc could check: there SLUB warns about a duplicate name if
/// `CONFIG_DEBUG_VM` is set.)
///
/// # Invariants
///
/// - `self.raw` is a cache named `self.name`, created for objects of
///   `size_of::<T>()` bytes aligned to at least `align_of::<T>()` bytes.
/// - If `K` is [`Constructed`], `T` implements [`Construct`] and has no
///   drop glue, the cache's constructor is `construct_object::<T>`, and
///   every free object of the cache holds a valid `T`.
pub struct SlabCache<T, K: CacheKind = Plain> {
    raw: RawCache,
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
        if !context_may_sleep() {
            return Err(EAGAIN);
        }
        let mut args = bindings::kmem_cache_args {
            align: u32::try_from(align)?,
            ctor,
            ..Default::default()
        };
        let owned_name = CString::try_from(name)?;

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

    /// The cache's name.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The size of the cache's objects in bytes (`kmem_cache_size`):
    /// `size_of::<T>()`, or more if SLUB merged the cache into another one
    /// (see the [module documentation](self)): then the cache is that
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
    /// Only useful after many objects were freed; may sleep.
    pub fn shrink(&self) -> bool {
        self.raw.shrink()
    }

    /// SLUB's counters for this cache, from `/sys/kernel/slab/<name>/`.
    ///
    /// Needs `CONFIG_SYSFS`, `CONFIG_SLUB_DEBUG` and sysfs mounted on `/sys`
    /// in user space's initial root, where the files are looked up (also
    /// from kernel threads); may sleep. The counts include objects that
    /// were freed but wait in per-CPU caches (or in KASAN's quarantine)
    /// until [`SlabCache::shrink`] drains them. For a merged cache (see the
    /// [module documentation](self)) they are those of the cache it was
    /// merged into.
    pub fn stats(&self) -> Result<SlabStats> {
        SlabStats::read(&self.name)
    }
}

impl<T> SlabCache<T, Plain> {
    /// Creates a cache without constructor named `name` for objects of type
    /// `T`. May sleep; so may dropping the cache.
    ///
    /// `EINVAL` if `T` is zero-sized or larger than [`MAX_OBJECT_SIZE`], if
    /// the alignment is not a power of two or exceeds [`MAX_ALIGN`], or if
    /// the name breaks the rules (see [`SlabCache`]); `EAGAIN` in a context
    /// that cannot sleep; `EEXIST` if the name is taken; `ENOMEM` (SLUB then
    /// also logs a warning with a stack dump).
    pub fn new(name: &CStr, options: SlabOptions) -> Result<Self> {
        Self::create(name, options, None)
    }

    /// Moves `value` into a new object of the cache.
    ///
    /// `EINVAL` for flags the slab allocator cannot honour (see
    /// [`Gfp::check_slab`]), a zone modifier (a cache's objects always
    /// come from the normal zone), or `__GFP_NOFAIL` for objects larger
    /// than [`NOFAIL_MAX_OBJECT_SIZE`]; `ENOMEM` if no memory is available.
    pub fn alloc(&self, value: T, flags: Gfp) -> Result<SlabBox<'_, T>> {
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

    /// Initialises a `T` in place, pinned, in a new object of the cache.
    ///
    /// If `init` fails, the object goes back to the cache and its error is
    /// returned. Flags and errors as for [`SlabCache::alloc`].
    pub fn pin_init<E>(&self, init: impl PinInit<T, E>, flags: Gfp) -> Result<Pin<SlabBox<'_, T>>>
    where
        Error: From<E>,
    {
        let object = self.raw.alloc(check_alloc_flags::<T>(flags)?)?;
        // SAFETY: `object` is a new object of this cache: valid, aligned
        // (type invariant) and uninitialised memory for a `T`. It is only
        // freed if `init` fails, and otherwise never moves: the `SlabBox`
        // below is pinned.
        if let Err(err) = unsafe { pin_init::raw_try_init(object.cast::<T>().as_ptr(), init) } {
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
    /// Errors as for [`SlabCache::new`].
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
    /// Flags as for [`SlabCache::alloc`]; `__GFP_ZERO` is `EINVAL` too, as
    /// zeroing would destroy the constructed value.
    pub fn alloc(&self, flags: Gfp) -> Result<Pin<SlabBox<'_, T>>> {
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

/// An object of a [`SlabCache`], owning a `T`.
///
/// Like `KBox<T>`, but the memory comes from the cache and goes back to it
/// (`kmem_cache_free`) when the box is dropped. The box borrows its cache,
/// which therefore outlives it. A box that is leaked (`core::mem::forget`)
/// makes the kernel WARN when the cache is destroyed (see the [module
/// documentation](self)).
///
/// # Invariants
///
/// `self.object` is an object allocated from `self.cache`, owned by this
/// box, holding a valid `T`.
pub struct SlabBox<'c, T> {
    object: NonNull<T>,
    cache: &'c RawCache,
    // Invariant in `T`, like the cache: the object may be handed out again
    // as the same `T`.
    _type: PhantomData<fn(T) -> T>,
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

/// SLUB's counters for one cache, as `/sys/kernel/slab/<name>/` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabStats {
    /// `objects`: objects allocated and not yet freed (see
    /// [`SlabCache::stats`] for freed objects that still count).
    pub objects: usize,
    /// `total_objects`: object slots in all the cache's slabs.
    pub total_objects: usize,
    /// `slabs`: the slabs the cache holds.
    pub slabs: usize,
    /// `objs_per_slab`: object slots in one slab.
    pub objs_per_slab: usize,
    /// `object_size`: the size of an object as the cache's user sees it.
    pub object_size: usize,
    /// `slab_size`: the bytes each object takes in a slab, with SLUB's and
    /// KASAN's metadata and the padding for alignment.
    pub slab_size: usize,
    /// `align`: the alignment of the objects.
    pub align: usize,
    /// `aliases`: how many other caches were merged into this one.
    pub aliases: usize,
}

impl SlabStats {
    fn read(name: &CStr) -> Result<Self> {
        let read = |attribute| read_slab_attribute(name, attribute);
        Ok(SlabStats {
            objects: read("objects")?,
            total_objects: read("total_objects")?,
            slabs: read("slabs")?,
            objs_per_slab: read("objs_per_slab")?,
            object_size: read("object_size")?,
            slab_size: read("slab_size")?,
            align: read("align")?,
            aliases: read("aliases")?,
        })
    }
}

/// The first number in the sysfs file `/sys/kernel/slab/<cache>/<attribute>`.
fn read_slab_attribute(cache: &CStr, attribute: &str) -> Result<usize> {
    let path = CString::try_from_fmt(fmt!("/sys/kernel/slab/{}/{}", cache.to_str()?, attribute))?;
    let mut buf = [0u8; 32];
    // SAFETY: `path` is a NUL-terminated string and `buf` is writable for
    // `buf.len()` bytes; the shim only reads the one and writes the other.
    let len =
        unsafe { ffi::kalloc_slab_read_sysfs(path.as_char_ptr(), buf.as_mut_ptr(), buf.len()) };
    // CAST: a negative `len` is an errno, which fits in a `c_int`.
    let len = usize::try_from(len).map_err(|_| Error::from_errno(len as c_int))?;
    let text = core::str::from_utf8(&buf[..len])?;
    let number = text.split_ascii_whitespace().next().ok_or(EIO)?;
    number.parse().map_err(|_| EIO)
}

/// Checks flags for an allocation from a cache of `T`: those the slab
/// allocator honours; no zone modifier, since the zone of a cache's objects
/// is fixed when the cache is created (SLUB ignores one given at
/// allocation); `__GFP_NOFAIL` only up to [`NOFAIL_MAX_OBJECT_SIZE`].
fn check_alloc_flags<T>(flags: Gfp) -> Result<Gfp> {
    let flags = flags.check_slab()?;
    if flags.zone()? != Zone::Normal
        || (flags.contains(__GFP_NOFAIL) && size_of::<T>() > NOFAIL_MAX_OBJECT_SIZE)
    {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// Checks a cache name against the rules in [`SlabCache`], except
/// uniqueness.
fn check_name(name: &CStr) -> Result {
    let bytes = name.to_bytes();
    let allowed = |b: &u8| b.is_ascii_graphic() && *b != b'/';
    if bytes.is_empty()
        || bytes.len() > MAX_NAME_LEN
        || bytes[0] == b':'
        || !bytes.iter().all(allowed)
    {
        return Err(EINVAL);
    }
    Ok(())
}

/// Holds kalloc's cache-name lock, from checking that a name is free until
/// the cache that takes it exists.
struct NamesGuard(());

impl NamesGuard {
    fn lock() -> Self {
        // SAFETY: The shim locks a mutex that `shims.c` defines statically,
        // in process context like the cache creation it guards; only this
        // guard's `drop` unlocks it.
        unsafe { ffi::kalloc_slab_names_lock() };
        NamesGuard(())
    }
}

impl Drop for NamesGuard {
    fn drop(&mut self) {
        // SAFETY: This guard holds the lock (taken in `NamesGuard::lock`).
        unsafe { ffi::kalloc_slab_names_unlock() };
    }
}

/// Whether `name` is taken in `/sys/kernel/slab`: by the directory of a
/// live cache, or by a link to the directory of a live cache (see
/// [`SlabCache`], Names, for leftover links).
fn cache_name_taken(name: &CStr) -> bool {
    // SAFETY: `name` is a NUL-terminated string; the shim only reads it.
    unsafe { ffi::kalloc_slab_name_taken(name.as_char_ptr()) }
}

#[cfg(kalloc_selftest)]
mod tests;
