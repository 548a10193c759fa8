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
//! ```text
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
//! ```
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
//! assert_eq!((req.id, req.len), (1, 512));
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
//! assert_eq!(*session.hits.lock(), 1);
//! ```

use kernel::{bindings, page::PAGE_SIZE};

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
const SLAB_CACHE_DMA: bindings::slab_flags_t = slab_flag(bindings::_slab_flag_bits__SLAB_CACHE_DMA);
const SLAB_CACHE_DMA32: bindings::slab_flags_t =
    slab_flag(bindings::_slab_flag_bits__SLAB_CACHE_DMA32);

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

mod boxed;
mod bulk;
mod cache;
mod module;
pub(crate) mod names;
mod options;
mod owned;

pub use boxed::SlabBox;
pub use bulk::SlabBulk;
use cache::RawCache;
pub use cache::SlabCache;
pub use module::{CacheAlloc, CacheBox, CacheSlot, ModuleCache, StaticCache};
use names::{cache_name_taken, check_alloc_flags, check_name, NamesGuard};
pub use options::{CacheKind, Construct, Constructed, Plain, SlabOptions};
pub use owned::OwnedSlabBox;

#[cfg(kalloc_selftest)]
mod tests;
