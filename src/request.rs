// SPDX-License-Identifier: GPL-2.0

//! The one check every allocation passes before C sees it, so that every
//! family gives the same answer to the same request, and a bad request is an
//! error rather than a warning splat or a `BUG()` in C.

use crate::gfp::{Gfp, Zone, __GFP_COMP, __GFP_NOFAIL};
use kernel::{bindings, prelude::*};

/// The largest order of a block of pages (C's `MAX_PAGE_ORDER`).
pub const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

/// The largest order the page allocator serves with `__GFP_NOFAIL`: its
/// contract does not support it above order 1
/// (`include/linux/gfp_types.h`).
const NOFAIL_MAX_ORDER: u32 = 1;

/// The size in bytes of `n` values of `T`.
///
/// # Errors
///
/// `EOVERFLOW` if it overflows.
pub(crate) fn array_size<T>(n: usize) -> Result<usize> {
    n.checked_mul(size_of::<T>()).ok_or(EOVERFLOW)
}

/// Checks a request for `size` bytes from the slab allocator (kmalloc,
/// `devm_kmalloc()`, a `kmem_cache`) and returns its flags.
///
/// `max` is the largest request the allocator serves; `nofail_max` the
/// largest it serves with `__GFP_NOFAIL` (`None`: never).
///
/// # Errors
///
/// - `EINVAL` for flags the slab allocator does not honour
///   ([`Gfp::check_slab`]), or `__GFP_NOFAIL` above `nofail_max`;
/// - `EAGAIN` for flags that may sleep in a context that may not;
/// - `ENOMEM` above `max` (C would warn, then fail).
#[inline]
pub(crate) fn slab(flags: Gfp, size: usize, max: usize, nofail_max: Option<usize>) -> Result<Gfp> {
    let flags = flags.check_slab()?;
    if flags.contains(__GFP_NOFAIL) && nofail_max.is_none_or(|nofail_max| size > nofail_max) {
        return Err(EINVAL);
    }
    if size > max {
        return Err(ENOMEM);
    }
    Ok(flags)
}

/// Checks a request for a block of `2^order` pages and returns its flags.
/// With `lowmem`, the caller needs the block's kernel address, so the
/// pages may not come from a zone without one.
///
/// Movable memory comes from `ZONE_MOVABLE`, CMA areas or movable
/// pageblocks, which the kernel empties by migrating their pages, to take
/// memory offline or to hand out contiguous ranges (`cma_alloc()`). A block
/// kalloc hands out stays where it is, and kalloc has no callbacks that
/// would let the kernel move it: in such places it would make offlining
/// and `cma_alloc()` fail. An address cannot name a highmem page (C's
/// `__get_free_pages()` silently drops `__GFP_HIGHMEM`).
///
/// # Errors
///
/// - `EINVAL` for an order above [`MAX_PAGE_ORDER`], invalid flags
///   ([`Gfp::check`]), `__GFP_NOFAIL` above order 1, `__GFP_MOVABLE`
///   outside a [pin scope](crate::scope::pin), which drops it
///   (kalloc's pages cannot be migrated: they are pinned by their owner),
///   `__GFP_COMP` (kalloc's page types own plain, non-compound blocks),
///   and, with `lowmem`, a highmem or movable zone;
/// - `EAGAIN` for flags that may sleep in a context that may not.
#[inline]
pub(crate) fn pages(flags: Gfp, order: u32, lowmem: bool) -> Result<Gfp> {
    if order > MAX_PAGE_ORDER {
        return Err(EINVAL);
    }
    let flags = flags.check()?;
    if (flags.contains(__GFP_NOFAIL) && order > NOFAIL_MAX_ORDER)
        || (flags.movable() && crate::scope::effective(flags).movable())
        || flags.contains(__GFP_COMP)
    {
        return Err(EINVAL);
    }
    if lowmem && matches!(flags.zone()?, Zone::HighMem | Zone::Movable) {
        return Err(EINVAL);
    }
    Ok(flags)
}
