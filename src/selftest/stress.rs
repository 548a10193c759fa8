// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_stress` suite: work on every CPU at once.

use crate::selftest::ffi::kalloc_test_run_on_cpus;
use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;

/// Runs `work(cpu)` on every online CPU (up to 8) at the same time, each in
/// a kernel thread bound to its CPU, and waits until all are done. Returns
/// the first error of a `work`, or the error that kept a thread from
/// starting (then no `work` ran). May sleep.
///
/// `work` runs outside the KUnit case's thread: it must report what it
/// finds through its result, not with assertions.
pub(crate) fn run_on_each_cpu<F>(work: &F) -> Result
where
    F: Fn(u32) -> Result + Sync,
{
    /// The thread function of [`run_on_each_cpu`].
    ///
    /// # Safety
    ///
    /// `data` points to an `F` that outlives the call.
    unsafe extern "C" fn run<F: Fn(u32) -> Result + Sync>(data: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: Guaranteed by the caller.
        let work = unsafe { &*data.cast_const().cast::<F>() };
        match work(cpu) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    if !crate::gfp::context_may_sleep() {
        return Err(EAGAIN);
    }
    // SAFETY: `run::<F>` matches the data, which the shim only hands to it;
    // the shim returns only once every thread is done with it, while
    // `work` is borrowed. `F: Sync`, so the threads may share it.
    let ret =
        unsafe { kalloc_test_run_on_cpus(run::<F>, core::ptr::from_ref(work).cast_mut().cast()) };
    to_result(ret)
}
