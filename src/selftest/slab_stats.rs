// SPDX-License-Identifier: GPL-2.0

//! [`SlabStats`]: what SLUB reports about a cache in sysfs, for the
//! self-tests ([`Stats::stats`]).

use crate::gfp::context_may_sleep;
use crate::selftest::ffi;
use crate::slab::{CacheKind, SlabCache};
use kernel::{
    prelude::*,
    str::CString, //
};

/// SLUB's counters for one cache, as `/sys/kernel/slab/<name>/` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlabStats {
    /// `objects`: objects allocated and not yet freed (see
    /// [`Stats::stats`] for freed objects that still count).
    pub(crate) objects: usize,
    /// `total_objects`: object slots in all the cache's slabs.
    pub(crate) total_objects: usize,
    /// `slabs`: the slabs the cache holds.
    pub(crate) slabs: usize,
    /// `objs_per_slab`: object slots in one slab.
    pub(crate) objs_per_slab: usize,
    /// `object_size`: the size of an object as the cache's user sees it.
    pub(crate) object_size: usize,
    /// `slab_size`: the bytes each object takes in a slab, with SLUB's and
    /// KASAN's metadata and the padding for alignment.
    pub(crate) slab_size: usize,
    /// `align`: the alignment of the objects.
    pub(crate) align: usize,
    /// `aliases`: how many other caches were merged into this one.
    pub(crate) aliases: usize,
    /// `usersize`: the size of the user-copy region
    /// ([`SlabOptions::usercopy`](crate::slab::SlabOptions::usercopy)); 0 for none.
    pub(crate) usersize: usize,
}

impl SlabStats {
    /// The counters of the cache named `name`, as [`Stats::stats`] reads
    /// them.
    pub(crate) fn read(name: &CStr) -> Result<Self> {
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
            usersize: read("usersize")?,
        })
    }
}

/// SLUB's counters of a cache, for the self-tests.
pub(crate) trait Stats {
    /// SLUB's counters for this cache, from `/sys/kernel/slab/<name>/`.
    ///
    /// Needs `CONFIG_SYSFS`, `CONFIG_SLUB_DEBUG` and sysfs mounted on `/sys`
    /// in user space's initial root, where the files are looked up (also
    /// from kernel threads); may sleep. The counts include objects that
    /// were freed but wait in per-CPU caches (or in KASAN's quarantine)
    /// until [`SlabCache::shrink`] drains them. For a merged cache (see the
    /// [module documentation](crate::slab)) they are those of the cache it was
    /// merged into.
    ///
    /// # Errors
    ///
    /// `EAGAIN` in a context that cannot sleep (reading a file may);
    /// an error from reading the files.
    fn stats(&self) -> Result<SlabStats>;

    /// Keeps KFENCE from sampling the cache (`skip_kfence` in sysfs), so
    /// that every object is SLUB's and [`SlabStats::objects`] counts them
    /// all: an object KFENCE hands out instead, at any allocation, is not
    /// counted. Does nothing without `CONFIG_KFENCE`.
    ///
    /// # Errors
    ///
    /// As for [`Stats::stats`].
    fn skip_kfence(&self) -> Result;
}

impl<T, K: CacheKind> Stats for SlabCache<T, K> {
    fn stats(&self) -> Result<SlabStats> {
        if !context_may_sleep() {
            return Err(EAGAIN);
        }
        SlabStats::read(self.name())
    }

    fn skip_kfence(&self) -> Result {
        skip_kfence_named(self.name())
    }
}

/// [`Stats::skip_kfence`] for the cache named `name` (the caches of a
/// bucket set, which are not a `SlabCache`).
pub(crate) fn skip_kfence_named(name: &CStr) -> Result {
    if !cfg!(CONFIG_KFENCE) {
        return Ok(());
    }
    if !context_may_sleep() {
        return Err(EAGAIN);
    }
    let name = name.to_str()?;
    let path = CString::try_from_fmt(fmt!("/sys/kernel/slab/{name}/skip_kfence"))?;
    // SAFETY: `path` is a NUL-terminated string and the text is one
    // readable byte; the shim only reads them.
    let len = unsafe { ffi::kalloc_slab_write_sysfs(path.as_char_ptr(), b"1".as_ptr().cast(), 1) };
    // CAST: a negative `len` is an errno, which fits in a `c_int`.
    match usize::try_from(len) {
        Ok(1) => Ok(()),
        Ok(_) => Err(EIO),
        Err(_) => Err(Error::from_errno(len as c_int)),
    }
}

/// The first number in the sysfs file `/sys/kernel/slab/<cache>/<attribute>`.
fn read_slab_attribute(cache: &CStr, attribute: &str) -> Result<usize> {
    let path = CString::try_from_fmt(fmt!("/sys/kernel/slab/{}/{}", cache.to_str()?, attribute))?;
    let mut buf = [0u8; 32];
    let len = crate::selftest::read_file(&path, &mut buf)?;
    let text = core::str::from_utf8(&buf[..len])?;
    let number = text.split_ascii_whitespace().next().ok_or(EIO)?;
    number.parse().map_err(|_| EIO)
}
