// SPDX-License-Identifier: GPL-2.0

//! Frees that may sleep, reachable from any context.
//!
//! `iounmap()` and `kmem_cache_destroy()` may sleep, and C has no variant of
//! them for atomic context; yet safe Rust can drop an [`IoMap`] or the last
//! reference to a [`SlabCache`] anywhere, for instance under a spinlock. So
//! where the current context may not sleep (or the kernel cannot tell:
//! without `CONFIG_PREEMPT_COUNT` a held spinlock does not show) the free
//! is handed to the kernel's async workers (`async_schedule_node()`), as
//! `vfree_atomic()` does for vmalloc memory.
//!
//! The async worker runs this module's code. That is sound because module
//! unloading waits for every scheduled async function
//! (`async_synchronize_full()` in `delete_module`, after the module's exit
//! function and before its memory is freed), and a module's kalloc objects
//! are all dropped by the end of its exit function.
//!
//! [`IoMap`]: crate::iomem::IoMap
//! [`SlabCache`]: crate::slab::SlabCache

use crate::ffi;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{bindings, prelude::*};

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
/// If the kernel cannot queue the work (it found no memory for its
/// 100-byte entry with `GFP_ATOMIC`, or 32768 entries are pending), C's
/// `async_schedule_node()` calls the function at once instead; then it finds
/// that it may not sleep, leaves the object in place and says so in the
/// kernel log: a leak, never a sleep in atomic context.
///
/// # Safety
///
/// `data` is an object that `F::free` takes, not used after this call.
pub(crate) unsafe fn free_may_sleep<F: SleepingFree>(data: *mut c_void) {
    if cfg!(CONFIG_PREEMPT_COUNT) && crate::gfp::context_may_sleep() {
        // SAFETY: The caller hands `data` over; this context may sleep.
        unsafe { F::free(data) };
        return;
    }
    PENDING.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `async_schedule_node()` may be called from any context but
    // NMI (kalloc's constructors refuse NMI context, so no kalloc object is
    // dropped there by a correct caller). It calls `run_async::<F>(data, _)`
    // once, from an async worker or, if it cannot queue the work, at once.
    unsafe { ffi::async_schedule_node(run_async::<F>, data, bindings::NUMA_NO_NODE) };
}

/// The async function of [`free_may_sleep`].
///
/// # Safety
///
/// As for `F::free`, except that the context may be atomic.
unsafe extern "C" fn run_async<F: SleepingFree>(data: *mut c_void, _cookie: u64) {
    if crate::ffi::may_sleep() {
        // SAFETY: The caller hands `data` over; this context may sleep.
        unsafe { F::free(data) };
    } else {
        pr_err!(
            "could not defer {}() out of atomic context: the object is leaked\n",
            F::WHAT
        );
    }
    // Only once the free is done: `wait_pending` relies on it.
    PENDING.fetch_sub(1, Ordering::Release);
}

/// Waits until the frees this module deferred are done (for instance so
/// that the name of a destroyed cache is free again). May sleep.
pub(crate) fn wait_pending() {
    if PENDING.load(Ordering::Acquire) != 0 {
        // SAFETY: The callers run in process context (they check it).
        unsafe { ffi::async_synchronize_full() };
    }
}
