// SPDX-License-Identifier: GPL-2.0

//! Cache names (unique in `/sys/kernel/slab`) and allocation flags, checked.

use super::{MAX_NAME_LEN, MAX_OBJECT_SIZE, NOFAIL_MAX_OBJECT_SIZE};
use crate::ffi;
use crate::gfp::{Gfp, Zone};
use crate::request;
use core::ptr;
use kernel::{bindings, prelude::*};

/// Checks flags for an allocation from a cache of `T`: those the slab
/// allocator honours; no zone modifier, since the zone of a cache's objects
/// is fixed when the cache is created (SLUB ignores one given at
/// allocation); `__GFP_NOFAIL` only up to [`NOFAIL_MAX_OBJECT_SIZE`].
#[inline]
pub(super) fn check_alloc_flags<T>(flags: Gfp) -> Result<Gfp> {
    let flags = request::slab(
        flags,
        size_of::<T>(),
        MAX_OBJECT_SIZE,
        Some(NOFAIL_MAX_OBJECT_SIZE),
    )?;
    if flags.zone()? != Zone::Normal {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// Checks a cache name against the rules in [`SlabCache`], except
/// uniqueness.
pub(super) fn check_name(name: &CStr) -> Result {
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
pub(super) struct NamesGuard(());

impl NamesGuard {
    pub(super) fn lock() -> Self {
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

/// Whether `name` is taken in `/sys/kernel/slab`, where SLUB names an
/// entry after each cache: the directory of a cache that can never be
/// merged, or a link to the directory of a mergeable cache (which has a
/// made-up name), for that cache and for each cache merged into it.
/// Creating a cache with a taken name would make SLUB WARN (with
/// `CONFIG_DEBUG_VM`, if a live cache has the name) or replace the entry of
/// a live cache.
///
/// SLUB leaves a cache's link behind when the cache is destroyed. A link to
/// a directory that is gone is such a leftover: the name is free again. A
/// link to a live directory may also be a leftover, of a cache merged into
/// one that still lives, but nothing tells it from the link of a live
/// cache, so the name counts as taken (see [`SlabCache`], Names).
pub(super) fn cache_name_taken(name: &CStr) -> bool {
    // SAFETY: `kernel_kobj`, `/sys/kernel`, is set up at boot and never
    // freed; its `sd` is its sysfs directory. The lookup takes a reference
    // on what it finds, given back below.
    let slab = unsafe { find((*bindings::kernel_kobj).sd, c"slab") };
    if slab.is_null() {
        return false;
    }
    // SAFETY: `slab` is a live node (the reference taken above).
    let entry = unsafe { find(slab, name) };
    let mut taken = false;
    if !entry.is_null() {
        // SAFETY: `entry` is a live node (the reference taken above); a
        // link's target lives at least as long as the link.
        taken = unsafe {
            u32::from((*entry).flags) & bindings::KERNFS_TYPE_MASK
                != bindings::kernfs_node_type_KERNFS_LINK
                || dir_is_live(slab, (*entry).__bindgen_anon_1.symlink.target_kn)
        };
        // SAFETY: The reference the lookup took.
        unsafe { bindings::kernfs_put(entry) };
    }
    // SAFETY: The reference the lookup took.
    unsafe { bindings::kernfs_put(slab) };
    taken
}

/// C's `kernfs_find_and_get()`: the child `name` of `parent` with a
/// reference taken, or NULL.
///
/// # Safety
///
/// `parent` is a live kernfs directory.
unsafe fn find(parent: *mut bindings::kernfs_node, name: &CStr) -> *mut bindings::kernfs_node {
    // SAFETY: As for this function; `name` is NUL-terminated, and without
    // a namespace the lookup only uses the name.
    unsafe { bindings::kernfs_find_and_get_ns(parent, name.as_char_ptr(), ptr::null()) }
}

/// Whether `dir`, the target of a link in the directory `slab`, is still
/// in `slab`: a removed node keeps its name but is no longer found by it.
///
/// # Safety
///
/// `slab` and `dir` are live kernfs nodes.
unsafe fn dir_is_live(slab: *mut bindings::kernfs_node, dir: *mut bindings::kernfs_node) -> bool {
    // "/<name>" and a NUL.
    let mut path = [0u8; bindings::NAME_MAX as usize + 2];
    // SAFETY: Both nodes are live (the safety requirements); `path` has
    // room for `path.len()` bytes.
    let len =
        unsafe { bindings::kernfs_path_from_node(dir, slab, path.as_mut_ptr().cast(), path.len()) };
    let Ok(len) = usize::try_from(len) else {
        return true; // Not a name SLUB makes: count it as live.
    };
    if len >= path.len() - 1 {
        return true;
    }
    // The path is "/<name>", NUL-terminated at `len`.
    let Ok(name) = CStr::from_bytes_with_nul(&path[1..=len]) else {
        return true;
    };
    // SAFETY: `slab` is a live directory (the safety requirements).
    let found = unsafe { find(slab, name) };
    // SAFETY: `kernfs_put()` takes NULL, or the reference the lookup took.
    unsafe { bindings::kernfs_put(found) };
    found == dir
}
