// SPDX-License-Identifier: GPL-2.0

//! Bucket sets: kmalloc caches of a driver's own (C's `kmem_buckets`, 6.11)
//! for buffers whose size and contents user space chooses, so that such a
//! buffer never shares a slab with kernel objects of the same size, which
//! heap attacks rely on.
//!
//! [`KmemBuckets::new`] makes one cache per kmalloc size, named
//! `<name>-<size>` (`/sys/kernel/slab/<name>-64`, ...). Without
//! `CONFIG_SLAB_BUCKETS` C makes no caches, and the set's allocations come
//! from the ordinary `kmalloc-*` caches: the same API, no isolation.
//! Buffers borrow their set, and dropping the set destroys its caches (C has
//! no destroy function: kalloc destroys each cache and frees the set).
//!
//! # Examples
//!
//! ```
//! use kalloc::buckets::KmemBuckets;
//!
//! let messages = KmemBuckets::new(c"kalloc_doc_msg")?;
//! let mut msg = messages.alloc(100, GFP_KERNEL)?; // in kalloc_doc_msg-128
//! msg[..5].copy_from_slice(b"hello");
//! assert_eq!((&msg[..5], msg.len(), msg[99]), (&b"hello"[..], 100, 0));
//! let big = messages.valloc(1 << 20, GFP_KERNEL)?; // kmalloc, else vmalloc
//! assert_eq!(big.len(), 1 << 20);
//! ```

use crate::deferred::{self, SleepingFree};
use crate::ffi;
use crate::gfp::{as_gfp, Gfp};
use crate::kmalloc::KMALLOC_MAX_CACHE_SIZE;
use crate::slab::names::{cache_name_taken, check_name, NamesGuard};
use crate::KVBox;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use kernel::ffi::{c_uint, c_void};
use kernel::str::CString;
use kernel::{bindings, prelude::*};

/// A bucket set: a kmalloc cache of its own for each kmalloc size.
///
/// # Invariants
///
/// `raw` is what `kmem_buckets_create()` returned: with
/// `CONFIG_SLAB_BUCKETS` a live set whose caches have no objects but the
/// buffers that borrow `self`, owned by `self`; without, `ZERO_SIZE_PTR`,
/// which C ignores.
pub struct KmemBuckets {
    raw: NonNull<bindings::kmem_buckets>,
}

// SAFETY: SLUB synchronises its caches: a set may be used and destroyed
// from any task.
unsafe impl Send for KmemBuckets {}

// SAFETY: Every method takes `&self` and calls SLUB.
unsafe impl Sync for KmemBuckets {}

/// The sizes of kmalloc's caches as C names them: `96`, `1k`, ...
fn size_name(size: usize) -> (usize, &'static str) {
    if size >= 1024 && size % 1024 == 0 {
        (size / 1024, "k")
    } else {
        (size, "")
    }
}

/// Each kmalloc cache size (of `KMALLOC_NORMAL`), once.
fn kmalloc_sizes() -> impl Iterator<Item = usize> {
    (0..=bindings::KMALLOC_SHIFT_HIGH as usize).filter_map(|idx| {
        // SAFETY: `kmalloc_caches` is set up at boot and read-only after;
        // `idx` is within the array.
        let cache = unsafe {
            bindings::kmalloc_caches[bindings::kmalloc_cache_type_KMALLOC_NORMAL as usize][idx]
        };
        if cache.is_null() {
            return None;
        }
        // SAFETY: `cache` is a live kmalloc cache (never destroyed).
        let size = unsafe { bindings::kmem_cache_size(cache) } as usize;
        (size != 0).then_some(size)
    })
}

impl KmemBuckets {
    /// A set named `name`, with no user-copy region: copies between its
    /// buffers and user space are refused under `CONFIG_HARDENED_USERCOPY`.
    /// May sleep.
    ///
    /// # Errors
    ///
    /// As for [`KmemBuckets::with_usercopy`].
    pub fn new(name: &CStr) -> Result<Self> {
        Self::create(name, 0, 0)
    }

    /// A set named `name` whose buffers may be copied to and from user space
    /// in `size` bytes from `offset` (C's `useroffset` and `usersize`;
    /// clipped to each cache's size). May sleep.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a name that `/sys/kernel/slab` cannot hold with the
    /// size suffixes (see [`SlabCache`](crate::slab::SlabCache)), an empty
    /// region or one that ends beyond the largest cache
    /// ([`KMALLOC_MAX_CACHE_SIZE`]); `EEXIST` if a cache has one of the
    /// set's names; `EAGAIN` where sleeping is not allowed; `ENOMEM`.
    pub fn with_usercopy(name: &CStr, offset: usize, size: usize) -> Result<Self> {
        match offset.checked_add(size) {
            Some(end) if size != 0 && end <= KMALLOC_MAX_CACHE_SIZE => {}
            _ => return Err(EINVAL),
        }
        Self::create(name, offset, size)
    }

    fn create(name: &CStr, offset: usize, size: usize) -> Result<Self> {
        if !crate::gfp::context_may_sleep() {
            return Err(EAGAIN);
        }
        check_name(name)?;
        // A set dropped where sleeping was not allowed may still hold its
        // names, for an async worker to destroy.
        deferred::wait_pending();
        let _names = NamesGuard::lock();
        for cache_size in kmalloc_sizes() {
            let (n, unit) = size_name(cache_size);
            let name = name.to_str().map_err(|_| EINVAL)?;
            let full = CString::try_from_fmt(fmt!("{}-{}{}", name, n, unit))?;
            check_name(&full)?;
            if cfg!(CONFIG_SLAB_BUCKETS) && cache_name_taken(&full) {
                return Err(EEXIST);
            }
        }
        // CAST: both are at most `KMALLOC_MAX_CACHE_SIZE` (checked).
        let (offset, size) = (offset as c_uint, size as c_uint);
        // SAFETY: `name` is NUL-terminated, the caches' names are free
        // (checked under the names lock), the context may sleep; no
        // constructor.
        let raw =
            unsafe { bindings::kmem_buckets_create(name.as_char_ptr(), 0, offset, size, None) };
        // INVARIANT: A non-NULL return is a new set (or `ZERO_SIZE_PTR`).
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
        })
    }

    /// The set for C: NULL without `CONFIG_SLAB_BUCKETS`.
    fn as_raw(&self) -> *mut bindings::kmem_buckets {
        if cfg!(CONFIG_SLAB_BUCKETS) {
            self.raw.as_ptr()
        } else {
            core::ptr::null_mut()
        }
    }

    /// `len` zeroed bytes from the set's cache for `len` (C's
    /// `kmem_buckets_alloc()` with `__GFP_ZERO`); above
    /// [`KMALLOC_MAX_CACHE_SIZE`], from the page allocator, as kmalloc.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox`](crate::kmalloc::KmallocBox)'s constructors:
    /// `EINVAL` for flags kmalloc cannot honour or a size above
    /// `KMALLOC_MAX_SIZE`, `EAGAIN`, `ENOMEM`.
    pub fn alloc(&self, len: usize, flags: impl Into<Gfp>) -> Result<BucketBuf<'_>> {
        let flags = crate::kmalloc::check_request(len, flags.into())? | as_gfp::__GFP_ZERO;
        if len == 0 {
            return Ok(self.buf(NonNull::dangling(), 0));
        }
        // SAFETY: The set is live or NULL (the type invariants); the flags
        // and size are checked for kmalloc.
        let p = unsafe { ffi::kmem_buckets_alloc(self.as_raw(), len, flags.as_raw(), false) };
        Ok(self.buf(NonNull::new(p.cast()).ok_or(ENOMEM)?, len))
    }

    /// `len` zeroed bytes from the set's caches, or from vmalloc if kmalloc
    /// has no such block (C's `kmem_buckets_valloc()` with `__GFP_ZERO`).
    ///
    /// # Errors
    ///
    /// As for [`KVBox`]'s constructors.
    pub fn valloc(&self, len: usize, flags: impl Into<Gfp>) -> Result<BucketBuf<'_>> {
        let flags = crate::kvmalloc::check_request(flags.into(), len)? | as_gfp::__GFP_ZERO;
        if len == 0 {
            return Ok(self.buf(NonNull::dangling(), 0));
        }
        // SAFETY: The set is live or NULL; the flags and size are checked
        // for kvmalloc, the alignment is 1.
        let p = unsafe {
            ffi::kvmalloc_node(
                len,
                self.as_raw(),
                1,
                flags.as_raw(),
                bindings::NUMA_NO_NODE,
            )
        };
        Ok(self.buf(NonNull::new(p.cast()).ok_or(ENOMEM)?, len))
    }

    /// The buffer C returned at `p` for `len` zeroed bytes, or an empty
    /// one at a dangling `p`.
    fn buf(&self, p: NonNull<u8>, len: usize) -> BucketBuf<'_> {
        let slice = core::ptr::slice_from_raw_parts_mut(p.as_ptr(), len);
        BucketBuf {
            // SAFETY: `slice` is a kmalloc or vmalloc block of `len` zeroed
            // bytes, now ours, which `kvfree()` (the `KVmalloc` allocator's
            // free) frees; or no memory, for `len` 0, which `KVmalloc` does
            // not free.
            buf: unsafe { KVBox::from_raw(slice) },
            _set: PhantomData,
        }
    }
}

impl Drop for KmemBuckets {
    /// Destroys the set's caches and frees the set; that may sleep: where
    /// the current context may not, an async worker does it soon after.
    fn drop(&mut self) {
        if cfg!(CONFIG_SLAB_BUCKETS) {
            // SAFETY: The set is live, owned, and its caches have no objects
            // (buffers borrow `self`).
            unsafe { deferred::free_may_sleep::<KmemBucketsDestroy>(self.raw.as_ptr().cast()) };
        }
    }
}

/// What C lacks: destroying a bucket set, as a free that may sleep.
struct KmemBucketsDestroy;

impl SleepingFree for KmemBucketsDestroy {
    const WHAT: &'static str = "kmem_buckets destroy";

    unsafe fn free(data: *mut c_void) {
        let set = data.cast::<bindings::kmem_buckets>();
        // SAFETY: The caller hands over a live set whose caches have no
        // objects; several sizes may share one cache, destroyed once.
        unsafe {
            let caches = &*set;
            for (i, &cache) in caches.iter().enumerate() {
                if !cache.is_null() && !caches[..i].contains(&cache) {
                    bindings::kmem_cache_destroy(cache);
                }
            }
            // C allocated the set from its own cache: `kfree()` frees an
            // object of any cache.
            bindings::kfree(data);
        }
    }
}

/// Zeroed bytes from a [`KmemBuckets`] set, freed on drop (`kvfree()`).
pub struct BucketBuf<'b> {
    buf: KVBox<[u8]>,
    _set: PhantomData<&'b KmemBuckets>,
}

impl Deref for BucketBuf<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl DerefMut for BucketBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

#[cfg(kalloc_selftest)]
mod tests;
