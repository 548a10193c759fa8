// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_pages` suite: exact accounting of free pages.
//!
//! [`stop_machine`] and [`free_page_count`] let a test count the pages the
//! allocator holds while nothing else runs, so that an allocation and its
//! free show as exact differences.

use crate::gfp::context_may_sleep;
use crate::selftest::ffi::*;
use kernel::{
    error::to_result,
    ffi::{c_int, c_void},
    prelude::*,
    types::NotThreadSafe,
};

/// Proof that the machine is stopped: the current code runs in the
/// callback of [`stop_machine`], with local interrupts disabled, while
/// every other online CPU spins with interrupts disabled.
///
/// Only [`stop_machine`] makes one, and lends it to its closure.
///
/// # Invariants
///
/// A `MachineStopped` only exists in a `stop_machine()` callback, on the
/// thread running it, until the callback returns.
pub(crate) struct MachineStopped(NotThreadSafe);

/// Runs `f` while every other CPU is stopped (C's `stop_machine()`), and
/// returns its result.
///
/// `f` runs on the first online CPU, in a stopper thread, with interrupts
/// disabled: it must not sleep (allocate with `GFP_ATOMIC`). Nothing else in
/// the system runs meanwhile, which makes the allocator's counters exact
/// (see [`free_page_count`]).
///
/// This call sleeps until `f` has run, so it fails with `EAGAIN` in a
/// context that cannot sleep, without running `f`. It fails with the C
/// error if the stopper threads could not run `f`.
///
/// Stopping the machine is expensive: it is a tool for tests and for rare
/// global changes, not for normal driver paths.
pub(crate) fn stop_machine<F, T>(f: F) -> Result<T>
where
    F: FnOnce(&MachineStopped) -> T + Send,
    T: Send,
{
    struct Call<F, T> {
        f: Option<F>,
        result: Option<T>,
    }

    /// The `cpu_stop_fn_t` that runs the closure.
    ///
    /// # Safety
    ///
    /// `data` must point to a `Call<F, T>` that nothing else accesses until
    /// this function returns, and the caller must be `stop_machine()`'s
    /// callback context.
    unsafe extern "C" fn run<F, T>(data: *mut c_void) -> c_int
    where
        F: FnOnce(&MachineStopped) -> T,
    {
        // SAFETY: Guaranteed by the caller.
        let call = unsafe { &mut *data.cast::<Call<F, T>>() };
        if let Some(f) = call.f.take() {
            // INVARIANT: This is the callback (guaranteed by the caller); the
            // token is only lent to `f`, and `!Send`, so it cannot leave it.
            call.result = Some(f(&MachineStopped(NotThreadSafe)));
        }
        0
    }

    if !context_may_sleep() {
        return Err(EAGAIN);
    }
    let mut call = Call {
        f: Some(f),
        result: None,
    };
    // `stop_machine()` calls `run` at most once, on one CPU, and returns only
    // when that call is over. `F` and `T` are `Send`, so running `F` and
    // producing `T` on another CPU is fine.
    // SAFETY: `run::<F, T>` matches `call`'s type, and `call` outlives the
    // callback while this thread does not touch it (see above).
    let ret = unsafe { kalloc_stop_machine(run::<F, T>, (&raw mut call).cast()) };
    to_result(ret)?;
    call.result.ok_or(ENOENT)
}

/// The number of free pages the page allocator holds: on its buddy free
/// lists (`NR_FREE_PAGES`), on the per-CPU lists (which cache freed pages
/// of small orders without counting them in `NR_FREE_PAGES`), and on the
/// lists of frees that `free_pages_nolock()` deferred, summed over every
/// populated zone.
///
/// A page the allocator manages is either allocated or in exactly one of
/// these places, so the count falls by exactly `2^order` when a block is
/// allocated and rises by exactly `2^order` when it is freed; but only if
/// nothing else allocates or frees at the same time, hence the
/// [`MachineStopped`] proof. (It is also what makes walking the deferred
/// lists safe.) Like `NR_FREE_PAGES`, the count leaves out free pages in
/// pageblocks isolated for memory offlining or contiguous allocation.
pub(crate) fn free_page_count(_stopped: &MachineStopped) -> usize {
    // SAFETY: The machine is stopped (`_stopped`): no other CPU runs and
    // local interrupts are disabled, so no list the shim walks changes.
    unsafe { kalloc_nr_free_pages_stopped() }
}
