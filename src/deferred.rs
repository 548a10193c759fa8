// SPDX-License-Identifier: GPL-2.0

//! Frees that may sleep, reachable from any context.
//!
//! `iounmap()` and `kmem_cache_destroy()` may sleep, and C has no variant of
//! them for atomic context; yet safe Rust can drop an [`IoMap`] or the last
//! reference to a [`SlabCache`] anywhere, for instance under a spinlock. So
//! where the current context may not sleep the free is handed to the
//! kernel's async workers, in kalloc's own async domain
//! (`async_schedule_node_domain()`), as `vfree_atomic()` does for vmalloc
//! memory. (Without `CONFIG_PREEMPT_COUNT` a held spinlock does not show,
//! as for every context check of kalloc: see
//! [`context_may_sleep`](crate::gfp::context_may_sleep).)
//!
//! The async worker runs this module's code. That is sound because module
//! unloading waits for every scheduled async function of a registered
//! domain (`async_synchronize_full()` in `delete_module`, after the
//! module's exit function and before its memory is freed), and a module's
//! kalloc objects are all dropped by the end of its exit function. A module
//! whose init fails is freed without that wait, so while the module is
//! still initialising nothing is deferred: the object is left in place and
//! the kernel log says so (a leak, never a use of freed code).
//!
//! [`IoMap`]: crate::iomem::IoMap
//! [`SlabCache`]: crate::slab::SlabCache

use crate::ffi;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

/// The frees handed to the async workers and not done yet.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// A free that may sleep, of an object that a raw pointer stands for.
pub(crate) trait SleepingFree {
    /// What the free is, for the kernel log (C's function name).
    const WHAT: &'static str;

    /// Frees `data`.
    ///
    /// # Safety
    ///
    /// `data` is an object that this free takes, not used after this call;
    /// the current context may sleep.
    unsafe fn free(data: *mut c_void);
}

/// Frees `data` with `F` now if the current context may sleep, else from an
/// async worker.
///
/// The object is left in place, with an error in the kernel log, where the
/// free can be neither done nor deferred: while the module initialises (see
/// the module documentation), or if the kernel cannot queue the work (it
/// found no memory for its 100-byte entry with `GFP_ATOMIC`, or 32768
/// entries are pending; C then calls the function at once, outside an async
/// worker).
///
/// # Safety
///
/// `data` is an object that `F::free` takes, not used after this call.
pub(crate) unsafe fn free_may_sleep<F: SleepingFree>(data: *mut c_void) {
    if crate::gfp::context_may_sleep() {
        // SAFETY: The caller hands `data` over; this context may sleep.
        unsafe { F::free(data) };
        return;
    }
    if ffi::this_module_initialising() {
        leak::<F>();
        return;
    }
    PENDING.fetch_add(1, Ordering::Relaxed);
    // SAFETY: The shim may be called from any context but NMI (kalloc's
    // constructors refuse NMI context, so no kalloc object is dropped there
    // by a correct caller). It calls `run_async::<F>(data, _)` once, from an
    // async worker or, if it cannot queue the work, at once.
    unsafe { ffi::kalloc_async_schedule(run_async::<F>, data) };
}

/// Says that a free of `F` could be neither done nor deferred.
fn leak<F: SleepingFree>() {
    pr_err!(
        "could not defer {}() out of atomic context: the object is leaked\n",
        F::WHAT
    );
}

/// The async function of [`free_may_sleep`].
///
/// # Safety
///
/// As for `F::free`, except that the context may be atomic.
unsafe extern "C" fn run_async<F: SleepingFree>(data: *mut c_void, _cookie: u64) {
    // Called at once (the work could not be queued), the context is the
    // caller's, which may not sleep, even in an async worker (one that
    // holds a spinlock).
    if ffi::current_is_async() && crate::gfp::context_may_sleep() {
        // SAFETY: The caller hands `data` over; an async worker may sleep.
        unsafe { F::free(data) };
    } else {
        leak::<F>();
    }
    // Only once the free is done: `wait_pending` relies on it.
    PENDING.fetch_sub(1, Ordering::Release);
}

/// Waits until the frees this module deferred are done (for instance so
/// that the name of a destroyed cache is free again). May sleep; waits only
/// for kalloc's async domain, so an async caller (an async probe) does not
/// wait for itself.
pub(crate) fn wait_pending() {
    if PENDING.load(Ordering::Acquire) != 0 {
        // SAFETY: The callers run in process context (they check it).
        unsafe { ffi::kalloc_async_wait() };
    }
}
