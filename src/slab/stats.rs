// SPDX-License-Identifier: GPL-2.0

//! [`SlabStats`]: what SLUB reports about a cache in sysfs.

use crate::ffi;
use kernel::{
    prelude::*,
    str::CString, //
};

/// SLUB's counters for one cache, as `/sys/kernel/slab/<name>/` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabStats {
    /// `objects`: objects allocated and not yet freed (see
    /// [`SlabCache::stats`](crate::slab::SlabCache::stats) for freed objects that still count).
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
    /// `usersize`: the size of the user-copy region
    /// ([`SlabOptions::usercopy`](super::SlabOptions::usercopy)); 0 for none.
    pub usersize: usize,
}

impl SlabStats {
    pub(super) fn read(name: &CStr) -> Result<Self> {
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

/// The first number in the sysfs file `/sys/kernel/slab/<cache>/<attribute>`.
pub(super) fn read_slab_attribute(cache: &CStr, attribute: &str) -> Result<usize> {
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
