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
pub(crate) fn check_name(name: &CStr) -> Result {
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
pub(crate) struct NamesGuard(());

impl NamesGuard {
    pub(crate) fn lock() -> Self {
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

/// What `/sys/kernel/slab` holds under a cache name: SLUB names an entry
/// after each cache, the directory of a cache that can never be merged, or
/// a link to the directory of a mergeable cache (which has a made-up name),
/// for that cache and for each cache merged into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// No entry: no cache has the name.
    None,
    /// A directory: a live cache that cannot be merged has the name.
    Dir,
    /// A link. SLUB leaves a cache's link behind when the cache is
    /// destroyed; one to a directory that is gone is such a leftover (not
    /// `live`). One to a live directory is the link of a live cache, or a
    /// leftover of a cache merged into one that still lives: nothing tells
    /// them apart.
    Link {
        /// Whether the directory it leads to is still there.
        live: bool,
    },
}

/// Whether creating a cache named `name` would make SLUB fail or WARN, or
/// break the sysfs entry of a live cache: where a directory has the name
/// (a second directory fails with a duplicate-name warning, and a link
/// would replace the live cache's directory), and, with `CONFIG_DEBUG_VM`
/// (where SLUB WARNs about a live cache of the same name), where a link
/// leads to a live directory. Elsewhere C replaces a link with the new
/// cache's own, as it does when a module is loaded again (see
/// [`SlabCache`], Names).
pub(crate) fn cache_name_taken(name: &CStr) -> bool {
    match entry(name) {
        Entry::None | Entry::Link { live: false } => false,
        Entry::Dir => true,
        Entry::Link { live: true } => cfg!(CONFIG_DEBUG_VM),
    }
}

/// The entry of `name` in `/sys/kernel/slab`.
pub(crate) fn entry(name: &CStr) -> Entry {
    // SAFETY: `kernel_kobj`, `/sys/kernel`, is set up at boot and never
    // freed; its `sd` is its sysfs directory. The lookup takes a reference
    // on what it finds, given back below.
    let slab = unsafe { find((*bindings::kernel_kobj).sd, c"slab") };
    if slab.is_null() {
        return Entry::None;
    }
    // SAFETY: `slab` is a live node (the reference taken above).
    let found = unsafe { find(slab, name) };
    let mut entry = Entry::None;
    if !found.is_null() {
        // SAFETY: `found` is a live node (the reference taken above); a
        // link's target lives at least as long as the link.
        entry = unsafe {
            if u32::from((*found).flags) & bindings::KERNFS_TYPE_MASK
                != bindings::kernfs_node_type_KERNFS_LINK
            {
                Entry::Dir
            } else {
                Entry::Link {
                    live: dir_is_live(slab, (*found).__bindgen_anon_1.symlink.target_kn),
                }
            }
        };
        // SAFETY: The reference the lookup took.
        unsafe { bindings::kernfs_put(found) };
    }
    // SAFETY: The reference the lookup took.
    unsafe { bindings::kernfs_put(slab) };
    entry
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
