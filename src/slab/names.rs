// SPDX-License-Identifier: GPL-2.0

//! Cache names (unique in `/sys/kernel/slab`) and allocation flags, checked.

use super::{MAX_NAME_LEN, MAX_OBJECT_SIZE, NOFAIL_MAX_OBJECT_SIZE};
use crate::ffi;
use crate::gfp::{Gfp, Zone};
use crate::request;
use kernel::prelude::*;

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

/// Whether `name` is taken in `/sys/kernel/slab`: by the directory of a
/// live cache, or by a link to the directory of a live cache (see
/// [`SlabCache`], Names, for leftover links).
pub(super) fn cache_name_taken(name: &CStr) -> bool {
    // SAFETY: `name` is a NUL-terminated string; the shim only reads it.
    unsafe { ffi::kalloc_slab_name_taken(name.as_char_ptr()) }
}
