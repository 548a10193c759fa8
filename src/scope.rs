// SPDX-License-Identifier: GPL-2.0

//! Memalloc scopes: what every allocation of the current task may do
//! while a closure runs (C's `memalloc_*_save()`/`memalloc_*_restore()`).
//!
//! Block and filesystem drivers enter a NOIO or NOFS scope around code
//! that must not recurse into I/O or filesystem reclaim, rather than
//! passing `GFP_NOIO` down every call: inside, the allocators serve
//! `GFP_KERNEL` as `GFP_NOIO` ([`effective`]). A scope is a closure, so
//! scopes nest and end in LIFO order, on the task that entered them, and
//! cannot be left open.
//!
//! A scope changes what reclaim may do, never whether the context may
//! sleep: kalloc keeps refusing sleeping flags in atomic context. Where a
//! scope changes what C accepts, kalloc's request check follows it:
//! - in a [`pin`] scope C drops `__GFP_MOVABLE`, so kalloc's page types,
//!   which refuse movable memory, accept such a request;
//! - in a [`noreclaim`] scope C warns at `__GFP_NOFAIL` (the allocation
//!   can only wait for others to free memory), so kalloc refuses it with
//!   `EINVAL`.
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{GFP_KERNEL, GFP_NOFS, GFP_NOIO};
//! use kalloc::kmalloc::KmallocBox;
//! use kalloc::scope;
//!
//! let b = scope::noio(|| {
//!     assert!(scope::effective(GFP_KERNEL) == GFP_NOIO);
//!     // NOIO is the stronger scope: a NOFS scope inside it changes nothing.
//!     scope::nofs(|| assert!(scope::effective(GFP_KERNEL) == GFP_NOIO));
//!     KmallocBox::new(7u32, GFP_KERNEL) // served as GFP_NOIO
//! })?;
//! assert_eq!(*b, 7);
//! assert!(scope::nofs(|| scope::effective(GFP_KERNEL)) == GFP_NOFS);
//! assert!(scope::effective(GFP_KERNEL) == GFP_KERNEL);
//! ```

use crate::gfp::{Gfp, __GFP_FS, __GFP_IO, __GFP_MOVABLE};
use kernel::bindings;
use kernel::task::Task;

/// The current task's flags (`current->flags`).
#[inline]
fn task_flags() -> u32 {
    // SAFETY: The current task lives while it runs this; only the task
    // itself changes the memalloc flags, as C reads them (`READ_ONCE()`).
    unsafe { core::ptr::read_volatile(&raw const (*Task::current_raw()).flags) }
}

/// Runs `f` with the task flag `flag` set, and then restores it as it was
/// before: C's `memalloc_flags_save()` and `memalloc_flags_restore()`.
#[inline]
fn scoped<R>(flag: u32, f: impl FnOnce() -> R) -> R {
    let task = Task::current_raw();
    // SAFETY: The current task lives while it runs this, and only the task
    // itself changes its memalloc flags.
    let saved = unsafe {
        let saved = !(*task).flags & flag;
        (*task).flags |= flag;
        saved
    };
    let result = f();
    // SAFETY: As above; `f` ran on this task (a closure cannot move the
    // code that called it to another task), and every scope it entered has
    // ended: the flag is cleared only if this scope set it.
    unsafe { (*task).flags &= !saved };
    result
}

/// Runs `f` in a NOIO scope (C's `memalloc_noio_save()`): its allocations
/// start no I/O and no filesystem calls to reclaim memory, as if their
/// flags were `GFP_NOIO`.
#[inline]
pub fn noio<R>(f: impl FnOnce() -> R) -> R {
    scoped(bindings::PF_MEMALLOC_NOIO, f)
}

/// Runs `f` in a NOFS scope (C's `memalloc_nofs_save()`): its allocations
/// make no filesystem calls to reclaim memory, as if their flags were
/// `GFP_NOFS`.
#[inline]
pub fn nofs<R>(f: impl FnOnce() -> R) -> R {
    scoped(bindings::PF_MEMALLOC_NOFS, f)
}

/// Runs `f` in a noreclaim scope (C's `memalloc_noreclaim_save()`): its
/// allocations do no direct reclaim and may use the memory reserves. For
/// code that reclaims memory itself; `__GFP_NOFAIL` is `EINVAL` inside.
#[inline]
pub fn noreclaim<R>(f: impl FnOnce() -> R) -> R {
    scoped(bindings::PF_MEMALLOC, f)
}

/// Runs `f` in a pin scope (C's `memalloc_pin_save()`): its allocations
/// come from memory that may be pinned for long, never movable memory.
#[inline]
pub fn pin<R>(f: impl FnOnce() -> R) -> R {
    scoped(bindings::PF_MEMALLOC_PIN, f)
}

/// The flags the allocators use for a request of `flags` in the current
/// task's scopes (C's `current_gfp_context()`): NOIO takes precedence over
/// NOFS, and a pin scope drops `__GFP_MOVABLE`.
#[inline]
pub fn effective(flags: impl Into<Gfp>) -> Gfp {
    let mut flags: Gfp = flags.into();
    let task = task_flags();
    if task & bindings::PF_MEMALLOC_NOIO != 0 {
        flags = flags.without(__GFP_IO | __GFP_FS);
    } else if task & bindings::PF_MEMALLOC_NOFS != 0 {
        flags = flags.without(__GFP_FS);
    }
    if task & bindings::PF_MEMALLOC_PIN != 0 {
        flags = flags.without(__GFP_MOVABLE);
    }
    flags
}

/// Whether the current task is in a [`noreclaim`] scope.
#[inline]
pub(crate) fn in_noreclaim() -> bool {
    task_flags() & bindings::PF_MEMALLOC != 0
}

#[cfg(kalloc_selftest)]
mod tests;
