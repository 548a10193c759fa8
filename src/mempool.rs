// SPDX-License-Identifier: GPL-2.0

//! Memory pools: allocations that still succeed under memory pressure, from
//! `min_nr` elements reserved in advance (C's `mempool_t`), as block and
//! storage drivers use them so that I/O progresses when memory is short.
//!
//! A pool first asks its allocator (kmalloc, a kalloc [`SlabCache`], the
//! page allocator); when that fails it hands out a reserved element, and a
//! request that may sleep waits for an element to come back rather than
//! fail. Elements return to their pool when dropped (`mempool_free()`),
//! refilling the reserve first. They borrow the pool, so a pool cannot be
//! dropped while an element is out.
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::GFP_NOIO;
//! use kalloc::mempool::KmallocPool;
//!
//! struct Request {
//!     sector: u64,
//! }
//!
//! let mut pool = KmallocPool::<Request>::new(4, GFP_KERNEL)?; // 4 reserved
//! let request = pool.alloc(Request { sector: 8 }, GFP_NOIO)?; // never fails
//! assert_eq!(request.sector, 8);
//! drop(request); // back to the pool's reserve
//! pool.resize(16)?;
//! ```
//!
//! [`SlabCache`]: crate::slab::SlabCache

use crate::ffi;
use crate::gfp::{
    as_gfp, Gfp, __GFP_DIRECT_RECLAIM, __GFP_FS, __GFP_HIGH, __GFP_IO, __GFP_KSWAPD_RECLAIM,
};
use crate::pages::{Contents, Init, LocalMapping, Pages, Uninit, MAX_PAGE_ORDER};
use crate::slab::SlabCache;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::{bindings, prelude::*};

/// The largest `min_nr` of a pool: C keeps the reserve in one kmalloc'd
/// array of pointers.
pub const MAX_MIN_NR: usize = bindings::KMALLOC_MAX_SIZE as usize / size_of::<*mut c_void>();

/// The flags a pool takes: reclaim (or none), I/O and file system, and
/// `__GFP_HIGH`, `__GFP_NOWARN`. A zone or migratetype would hold only for
/// the elements the allocator makes, not for the reserved ones, and C's
/// mempool refuses `__GFP_ZERO`; it adds `__GFP_NORETRY` and
/// `__GFP_NOMEMALLOC` itself.
const ALLOWED: Gfp = __GFP_DIRECT_RECLAIM
    .union(__GFP_KSWAPD_RECLAIM)
    .union(__GFP_IO)
    .union(__GFP_FS)
    .union(__GFP_HIGH)
    .union(as_gfp::__GFP_NOWARN);

/// Returns `flags` if a pool takes them here.
///
/// # Errors
///
/// `EINVAL` for a flag outside [`ALLOWED`]; `EAGAIN` for sleeping flags
/// where sleeping is not allowed, or in NMI context.
#[inline]
fn check(flags: impl Into<Gfp>) -> Result<Gfp> {
    let flags: Gfp = flags.into();
    if flags.without(ALLOWED) != Gfp::NONE {
        return Err(EINVAL);
    }
    flags.check()
}

/// `min_nr` as C takes it: at least one element, at most [`MAX_MIN_NR`].
fn min_nr_arg(min_nr: usize) -> Result<c_int> {
    if min_nr == 0 || min_nr > MAX_MIN_NR {
        return Err(EINVAL);
    }
    c_int::try_from(min_nr).map_err(|_| EINVAL)
}

/// Where a pool's elements come from: the C functions that allocate and
/// free one, and the data they take (C's `mempool_alloc_t`,
/// `mempool_free_t` and `pool_data`). Sealed: kalloc's three sources.
pub trait Source: private::Sealed {}

mod private {
    use kernel::bindings;
    use kernel::ffi::c_void;

    /// The C side of a [`Source`](super::Source).
    ///
    /// # Safety
    ///
    /// `ALLOC` returns NULL or an element that `FREE` frees, for
    /// [`Sealed::data`]; both may run in any context but NMI.
    pub unsafe trait Sealed {
        /// C's `mempool_alloc_t`.
        const ALLOC: unsafe extern "C" fn(bindings::gfp_t, *mut c_void) -> *mut c_void;
        /// C's `mempool_free_t`.
        const FREE: unsafe extern "C" fn(*mut c_void, *mut c_void);
        /// C's `pool_data`.
        fn data(&self) -> *mut c_void;
    }
}

/// Elements of `T` from kmalloc (C's `mempool_create_kmalloc_pool()`).
pub struct FromKmalloc<T>(PhantomData<fn(T) -> T>);

/// Elements of `T` from a kalloc slab cache (C's
/// `mempool_create_slab_pool()`), which the pool borrows.
pub struct FromSlab<'c, T>(&'c SlabCache<T>);

/// Blocks of `2^order` pages from the page allocator (C's
/// `mempool_create_page_pool()`).
pub struct FromPages {
    order: u32,
}

impl<T> Source for FromKmalloc<T> {}
impl<T> Source for FromSlab<'_, T> {}
impl Source for FromPages {}

// SAFETY: `mempool_kmalloc()` and `mempool_kfree()` are kmalloc and kfree
// of the size in `pool_data`.
unsafe impl<T> private::Sealed for FromKmalloc<T> {
    const ALLOC: unsafe extern "C" fn(bindings::gfp_t, *mut c_void) -> *mut c_void =
        bindings::mempool_kmalloc;
    const FREE: unsafe extern "C" fn(*mut c_void, *mut c_void) = bindings::mempool_kfree;

    fn data(&self) -> *mut c_void {
        // kmalloc aligns a block to the largest power of two that divides
        // its size, and a type's size is a multiple of its alignment.
        core::ptr::without_provenance_mut(size_of::<T>())
    }
}

// SAFETY: `mempool_alloc_slab()` and `mempool_free_slab()` are
// `kmem_cache_alloc()` and `kmem_cache_free()` of the cache in `pool_data`.
unsafe impl<T> private::Sealed for FromSlab<'_, T> {
    const ALLOC: unsafe extern "C" fn(bindings::gfp_t, *mut c_void) -> *mut c_void =
        bindings::mempool_alloc_slab;
    const FREE: unsafe extern "C" fn(*mut c_void, *mut c_void) = bindings::mempool_free_slab;

    fn data(&self) -> *mut c_void {
        self.0.as_raw().cast()
    }
}

// SAFETY: `mempool_alloc_pages()` and `mempool_free_pages()` are
// `alloc_pages()` and `__free_pages()` of the order in `pool_data`.
unsafe impl private::Sealed for FromPages {
    const ALLOC: unsafe extern "C" fn(bindings::gfp_t, *mut c_void) -> *mut c_void =
        bindings::mempool_alloc_pages;
    const FREE: unsafe extern "C" fn(*mut c_void, *mut c_void) = bindings::mempool_free_pages;

    fn data(&self) -> *mut c_void {
        core::ptr::without_provenance_mut(self.order as usize)
    }
}

/// A memory pool (`mempool_t`) whose elements come from `S`.
///
/// Dropping it frees its reserved elements and the pool
/// (`mempool_destroy()`); elements borrow it, so none is out then.
///
/// # Invariants
///
/// `raw` is a pool from `mempool_create_node()` over `S::ALLOC`, `S::FREE`
/// and `source.data()`, which only `drop` destroys; `source` lives as long
/// as it.
pub struct Mempool<S: Source> {
    raw: NonNull<bindings::mempool_t>,
    source: S,
}

/// A pool of `T`s from kmalloc.
pub type KmallocPool<T> = Mempool<FromKmalloc<T>>;

/// A pool of `T`s from a kalloc slab cache.
pub type SlabPool<'c, T> = Mempool<FromSlab<'c, T>>;

/// A pool of page blocks.
pub type PagePool = Mempool<FromPages>;

// SAFETY: C's mempool locks its reserve: a pool may be used and destroyed
// from any task. It holds no `T` (an element's value is dropped before it
// comes back), and what else it holds goes with it (`S: Send`).
unsafe impl<S: Source + Send> Send for Mempool<S> {}

// SAFETY: Every method takes `&self` and calls C, which locks the reserve.
unsafe impl<S: Source + Sync> Sync for Mempool<S> {}

impl<S: Source> Mempool<S> {
    /// A pool over `source` with `min_nr` elements reserved, allocated now
    /// with `flags`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a `min_nr` of 0 or above [`MAX_MIN_NR`], or flags a
    /// pool does not take; `EAGAIN` for sleeping flags where sleeping is not
    /// allowed; `ENOMEM`.
    fn create(source: S, min_nr: usize, flags: impl Into<Gfp>) -> Result<Self> {
        let min_nr = min_nr_arg(min_nr)?;
        let flags = check(flags)?;
        // SAFETY: `S::ALLOC` and `S::FREE` match `source.data()` (the trait's
        // safety requirement), which lives as long as the pool (stored
        // beside it); the flags are checked for this context.
        let raw = unsafe {
            ffi::mempool_create_node(
                min_nr,
                Some(S::ALLOC),
                Some(S::FREE),
                source.data(),
                flags.as_raw(),
                bindings::NUMA_NO_NODE,
            )
        };
        // INVARIANT: A non-NULL return is a new pool over `source`.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            source,
        })
    }

    /// How many elements the pool keeps in reserve (C's `min_nr`).
    pub fn min_nr(&self) -> usize {
        // SAFETY: The pool is alive (the type invariants); C changes
        // `min_nr` under the pool's lock, a word read sees either value.
        let min_nr = unsafe { core::ptr::read_volatile(&raw const (*self.raw.as_ptr()).min_nr) };
        // CAST: C keeps it positive.
        min_nr as usize
    }

    /// Keeps `min_nr` elements in reserve from now on (C's
    /// `mempool_resize()`): a smaller reserve frees the extra elements now,
    /// a larger one is filled now as far as memory allows, then by the
    /// elements that come back. May sleep. It takes `&mut self`: no element
    /// is out then, and no bulk allocation can count on the old reserve
    /// (C waits forever for a bulk larger than the reserve).
    ///
    /// # Errors
    ///
    /// `EINVAL` for a `min_nr` of 0 or above [`MAX_MIN_NR`]; `EAGAIN` where
    /// sleeping is not allowed; `ENOMEM` if the larger reserve's array
    /// cannot be allocated (the pool is unchanged then).
    pub fn resize(&mut self, min_nr: usize) -> Result {
        let min_nr = min_nr_arg(min_nr)?;
        if !crate::gfp::context_may_sleep() {
            return Err(EAGAIN);
        }
        // SAFETY: The pool is alive while `self` is borrowed (the type
        // invariants), and not destroyed meanwhile.
        kernel::error::to_result(unsafe { bindings::mempool_resize(self.raw.as_ptr(), min_nr) })
    }

    /// An element: from the allocator, else from the reserve; with
    /// `__GFP_DIRECT_RECLAIM` in `flags`, waits for one to come back rather
    /// than fail.
    #[inline]
    fn alloc_raw(&self, flags: impl Into<Gfp>) -> Result<NonNull<c_void>> {
        let flags = check(flags)?;
        // SAFETY: The pool is alive (the type invariants); the flags are
        // checked for this context and hold no `__GFP_ZERO`.
        let element = unsafe { ffi::mempool_alloc(self.raw.as_ptr(), flags.as_raw()) };
        NonNull::new(element).ok_or(ENOMEM)
    }

    /// `N` elements at once (C's `mempool_alloc_bulk()`): from the
    /// allocator, else from the reserve, waiting as needed. May sleep.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `N` is 0 or above [`Mempool::min_nr`] (the reserve could
    /// never serve it); `EAGAIN` where sleeping is not allowed.
    fn alloc_bulk_raw<const N: usize>(&self) -> Result<[NonNull<c_void>; N]> {
        if N == 0 || N > self.min_nr() {
            return Err(EINVAL);
        }
        check(as_gfp::GFP_KERNEL)?;
        let mut elements = [core::ptr::null_mut::<c_void>(); N];
        // SAFETY: The pool is alive (the type invariants), `elements` has
        // room for `N` pointers and the context may sleep (checked).
        unsafe { ffi::mempool_alloc_bulk(self.raw.as_ptr(), elements.as_mut_ptr(), N as c_uint) };
        Ok(elements.map(|element| {
            // SAFETY: C fills every slot ("On return all @count elements in
            // @elems will be populated").
            unsafe { NonNull::new_unchecked(element) }
        }))
    }

    /// Gives `N` elements back at once (C's `mempool_free_bulk()`): those
    /// the reserve needs go to it, the others to the allocator.
    ///
    /// # Safety
    ///
    /// Each element is from this pool, not used after this call.
    unsafe fn free_bulk_raw<const N: usize>(&self, mut elements: [*mut c_void; N]) {
        // SAFETY: The pool is alive; the elements are its (the caller's
        // promise).
        let kept = unsafe {
            bindings::mempool_free_bulk(self.raw.as_ptr(), elements.as_mut_ptr(), N as c_uint)
        };
        for &element in &elements[kept as usize..] {
            // SAFETY: C gave these back: they go to the allocator they came
            // from, with the pool's data.
            unsafe { S::FREE(element, self.source.data()) };
        }
    }
}

impl<S: Source> Drop for Mempool<S> {
    fn drop(&mut self) {
        // SAFETY: The pool is alive and no element is out (they borrow
        // `self`); `mempool_destroy()` frees the reserve with `S::FREE`,
        // which may run in any context, while `source` is still alive.
        unsafe { bindings::mempool_destroy(self.raw.as_ptr()) };
    }
}

impl<T> KmallocPool<T> {
    /// A pool of `T`s from kmalloc with `min_nr` reserved (C's
    /// `mempool_create_kmalloc_pool()`), allocated now with `flags`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero-sized `T` or one larger than
    /// `KMALLOC_MAX_SIZE`, for a `min_nr` of 0 or above [`MAX_MIN_NR`], or
    /// for flags a pool does not take (anything but reclaim, `__GFP_IO`,
    /// `__GFP_FS`, `__GFP_HIGH`, `__GFP_NOWARN`); `EAGAIN` for sleeping
    /// flags where sleeping is not allowed; `ENOMEM`.
    pub fn new(min_nr: usize, flags: impl Into<Gfp>) -> Result<Self> {
        if size_of::<T>() == 0 || size_of::<T>() > bindings::KMALLOC_MAX_SIZE as usize {
            return Err(EINVAL);
        }
        Self::create(FromKmalloc(PhantomData), min_nr, flags)
    }
}

impl<'c, T> SlabPool<'c, T> {
    /// A pool of `T`s from `cache` with `min_nr` reserved (C's
    /// `mempool_create_slab_pool()`), allocated now with `flags`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocPool::new`], without the size limit.
    pub fn new(cache: &'c SlabCache<T>, min_nr: usize, flags: impl Into<Gfp>) -> Result<Self> {
        Self::create(FromSlab(cache), min_nr, flags)
    }
}

/// The typed pools: kmalloc and slab.
impl<T, S: Typed<Item = T>> Mempool<S> {
    /// Moves `value` into an element of the pool (C's `mempool_alloc()`).
    /// The element comes from the pool's allocator if it has memory, else
    /// from the reserve; with `__GFP_DIRECT_RECLAIM` (as in `GFP_KERNEL`,
    /// `GFP_NOIO`) the call waits for an element to come back instead of
    /// failing.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags a pool does not take; `EAGAIN` for sleeping flags
    /// where sleeping is not allowed; `ENOMEM` without direct reclaim, if
    /// the allocator has no memory and the reserve is empty.
    #[inline]
    pub fn alloc(&self, value: T, flags: impl Into<Gfp>) -> Result<PoolBox<'_, T>> {
        let element = self.alloc_raw(flags)?.cast::<T>();
        // SAFETY: An element of this pool is a block of `size_of::<T>()`
        // bytes aligned for `T` (`Typed`'s safety requirement), now ours.
        unsafe { element.as_ptr().write(value) };
        // INVARIANT: `element` holds a `T` and belongs to `self`.
        Ok(PoolBox {
            element,
            pool: self.raw,
            _pool: PhantomData,
        })
    }

    /// `N` elements at once, made by `init(i)` (C's
    /// `mempool_alloc_bulk()`), waiting for elements to come back as
    /// needed. May sleep.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `N` is 0 or above [`Mempool::min_nr`]; `EAGAIN` where
    /// sleeping is not allowed.
    pub fn alloc_bulk<const N: usize>(
        &self,
        mut init: impl FnMut(usize) -> T,
    ) -> Result<[PoolBox<'_, T>; N]> {
        let elements = self.alloc_bulk_raw::<N>()?;
        let mut i = 0;
        Ok(elements.map(|element| {
            let element = element.cast::<T>();
            // SAFETY: As in `alloc`.
            unsafe { element.as_ptr().write(init(i)) };
            i += 1;
            // INVARIANT: As in `alloc`.
            PoolBox {
                element,
                pool: self.raw,
                _pool: PhantomData,
            }
        }))
    }

    /// Drops `N` elements and gives them back at once (C's
    /// `mempool_free_bulk()`): those the reserve needs go to it, the others
    /// to the allocator. If one element is from another pool, each goes back
    /// to its own pool by itself.
    pub fn free_bulk<const N: usize>(&self, elements: [PoolBox<'_, T>; N]) {
        if elements.iter().any(|e| e.pool != self.raw) {
            drop(elements); // each to its own pool
            return;
        }
        let raw = elements.map(|e| {
            let e = ManuallyDrop::new(e);
            // SAFETY: The element holds a `T` (the invariants of
            // `PoolBox`), dropped once, here; its memory is given back
            // below.
            unsafe { core::ptr::drop_in_place(e.element.as_ptr()) };
            e.element.as_ptr().cast::<c_void>()
        });
        // SAFETY: Each element is from this pool (checked) and dropped.
        unsafe { self.free_bulk_raw(raw) };
    }
}

/// The sources whose elements are blocks for one [`Typed::Item`] each.
///
/// # Safety
///
/// Each element is a block of `size_of::<Self::Item>()` bytes aligned for
/// `Self::Item`.
pub unsafe trait Typed: Source {
    /// The type of the elements' values.
    type Item;
}

// SAFETY: `FromKmalloc::data` is `size_of::<T>()`, and kmalloc aligns a
// block to the largest power of two dividing its size, a multiple of
// `align_of::<T>()`.
unsafe impl<T> Typed for FromKmalloc<T> {
    type Item = T;
}

// SAFETY: A `SlabCache<T>`'s objects are `T`-sized and aligned for `T`
// (its type invariants).
unsafe impl<T> Typed for FromSlab<'_, T> {
    type Item = T;
}

impl PagePool {
    /// A pool of blocks of `2^order` pages with `min_nr` reserved (C's
    /// `mempool_create_page_pool()`), allocated now with `flags`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an order above [`MAX_PAGE_ORDER`], and as for
    /// [`KmallocPool::new`].
    pub fn new(order: u32, min_nr: usize, flags: impl Into<Gfp>) -> Result<Self> {
        if order > MAX_PAGE_ORDER {
            return Err(EINVAL);
        }
        Self::create(FromPages { order }, min_nr, flags)
    }

    /// The order of the pool's blocks.
    pub fn order(&self) -> u32 {
        self.source.order
    }

    /// A block of pages (C's `mempool_alloc()`), as [`KmallocPool::alloc`]
    /// gets an element. Its bytes are what the last user left, or never
    /// written: [`PoolPages::fill`] makes them [`Init`].
    ///
    /// # Errors
    ///
    /// As for [`KmallocPool::alloc`].
    #[inline]
    pub fn alloc(&self, flags: impl Into<Gfp>) -> Result<PoolPages<'_, Uninit>> {
        let page = self.alloc_raw(flags)?.cast::<bindings::page>();
        Ok(self.pages(page))
    }

    /// `N` blocks at once (C's `mempool_alloc_bulk()`), as
    /// [`KmallocPool::alloc_bulk`] gets elements.
    ///
    /// # Errors
    ///
    /// As for [`KmallocPool::alloc_bulk`].
    pub fn alloc_bulk<const N: usize>(&self) -> Result<[PoolPages<'_, Uninit>; N]> {
        Ok(self
            .alloc_bulk_raw::<N>()?
            .map(|page| self.pages(page.cast())))
    }

    /// Gives `N` blocks back at once (C's `mempool_free_bulk()`); blocks of
    /// another pool go back to it.
    pub fn free_bulk<C: Contents, const N: usize>(&self, blocks: [PoolPages<'_, C>; N]) {
        if blocks.iter().any(|b| b.pool != self.raw) {
            drop(blocks);
            return;
        }
        let raw = blocks.map(|b| ManuallyDrop::new(b).pages.as_ptr().cast::<c_void>());
        // SAFETY: Each block is from this pool (checked), not used after.
        unsafe { self.free_bulk_raw(raw) };
    }

    /// An element of this pool as a [`PoolPages`].
    fn pages(&self, page: NonNull<bindings::page>) -> PoolPages<'_, Uninit> {
        PoolPages {
            // SAFETY: `mempool_alloc_pages()` made the block with
            // `alloc_pages()` of the pool's order, not compound; it is ours
            // until it goes back to the pool, never freed as a `Pages`.
            pages: ManuallyDrop::new(unsafe { Pages::from_raw(page, self.source.order) }),
            pool: self.raw,
            _pool: PhantomData,
        }
    }
}

/// A `T` in an element of a pool, given back to the pool on drop (C's
/// `mempool_free()`, which takes the pool's spinlock: not in NMI context).
///
/// # Invariants
///
/// `element` holds a valid `T`, in an element of the live pool `pool`
/// that this value owns.
pub struct PoolBox<'p, T> {
    element: NonNull<T>,
    pool: NonNull<bindings::mempool_t>,
    _pool: PhantomData<(&'p (), T)>,
}

// SAFETY: A `PoolBox` owns its `T`; `mempool_free()` may run on any task.
unsafe impl<T: Send> Send for PoolBox<'_, T> {}

// SAFETY: Shared references give `&T` only.
unsafe impl<T: Sync> Sync for PoolBox<'_, T> {}

impl<T> Deref for PoolBox<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `element` holds a valid `T` that `self` owns (the type
        // invariants).
        unsafe { self.element.as_ref() }
    }
}

impl<T> DerefMut for PoolBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: As in `deref`; `&mut self` is the only access.
        unsafe { self.element.as_mut() }
    }
}

impl<T> Drop for PoolBox<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `element` holds a valid `T` (the type invariants),
        // dropped once, here; then the element goes back to its pool,
        // alive while `self` borrows it. `mempool_free()` may run in any
        // context but NMI.
        unsafe {
            core::ptr::drop_in_place(self.element.as_ptr());
            bindings::mempool_free(self.element.as_ptr().cast(), self.pool.as_ptr());
        }
    }
}

/// A block of pages from a [`PagePool`], given back to the pool on drop.
/// It reads as the [`Pages`] it is (order, `struct page`, local mappings).
///
/// # Invariants
///
/// `pages` is an element of the live pool `pool`, owned by this value,
/// never dropped as a `Pages`.
pub struct PoolPages<'p, C: Contents = Init> {
    pages: ManuallyDrop<Pages<C>>,
    pool: NonNull<bindings::mempool_t>,
    _pool: PhantomData<&'p ()>,
}

// SAFETY: As for `Pages`: the block is owned, and `mempool_free()` may run
// on any task.
unsafe impl<C: Contents> Send for PoolPages<'_, C> {}

// SAFETY: As for `Pages`: shared references only read.
unsafe impl<C: Contents> Sync for PoolPages<'_, C> {}

impl<'p> PoolPages<'p, Uninit> {
    /// Sets every byte of the block to `byte`: the block is now [`Init`].
    pub fn fill(self, byte: u8) -> PoolPages<'p, Init> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this.pages` is taken once and `this` is not dropped.
        let pages = unsafe { ManuallyDrop::take(&mut this.pages) };
        // INVARIANT: The same block, now written.
        PoolPages {
            pages: ManuallyDrop::new(pages.fill(byte)),
            pool: this.pool,
            _pool: PhantomData,
        }
    }
}

impl<C: Contents> PoolPages<'_, C> {
    /// Like [`Pages::kmap_local_mut`].
    ///
    /// # Errors
    ///
    /// As for [`Pages::kmap_local_mut`].
    pub fn kmap_local_mut<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut LocalMapping<'_, C>) -> T,
    ) -> Result<T> {
        self.pages.kmap_local_mut(index, f)
    }
}

impl<C: Contents> Deref for PoolPages<'_, C> {
    type Target = Pages<C>;

    fn deref(&self) -> &Pages<C> {
        &self.pages
    }
}

impl<C: Contents> Drop for PoolPages<'_, C> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The block is an element of `pool`, alive while `self`
        // borrows it (the type invariants), given back once, here.
        unsafe { bindings::mempool_free(self.pages.as_ptr().cast(), self.pool.as_ptr()) };
    }
}

#[cfg(kalloc_selftest)]
mod tests;
