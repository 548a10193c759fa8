// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_faults` suite: fault-injection sweeps.

use crate::selftest::ffi::{
    kalloc_test_fail_nth, kalloc_test_fail_nth_left, kalloc_test_make_it_fail,
    kalloc_test_make_task_fail,
};
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::task::Task;

/// The most failure points a sweep tries before it gives up.
const MAX_POINTS: u32 = 400;

/// Sweeps `op` through the failure of each fault-injection point it passes
/// (slab and page allocations: `current->fail_nth`, as syzkaller's fail-nth
/// sweeps write `/proc/self/fail-nth`): the n-th run of `op` fails its n-th
/// point, until a run passes fewer points than the one set to fail and
/// ends normally. `check(failed, result)` judges each run's result (`failed`
/// says whether a point failed in it; an injected failure that the kernel
/// absorbs, such as kmemleak falling back to its pool, lets `op` succeed).
/// Returns how many failure points `op` has: 0 means none was found, which
/// a sweep of an allocating operation never accepts.
///
/// Requests that may sleep count only where the VM turned off failslab's
/// and fail_page_alloc's `ignore-gfp-wait` (`scripts/vm/init` does).
pub(crate) fn sweep<R>(
    mut op: impl FnMut() -> R,
    mut check: impl FnMut(bool, R) -> Result,
) -> Result<u32> {
    for nth in 1..=MAX_POINTS {
        // SAFETY: The shim only sets the current task's `fail_nth`.
        unsafe { kalloc_test_fail_nth(nth) };
        let result = op();
        // SAFETY: The shims only read and set the current task's
        // `fail_nth`.
        let left = unsafe { kalloc_test_fail_nth_left() };
        // SAFETY: As above.
        unsafe { kalloc_test_fail_nth(0) };
        check(left == 0, result)?;
        if left != 0 {
            return match nth - left {
                0 => Err(crate::compat::enodata()),
                points => Ok(points),
            };
        }
    }
    Err(E2BIG)
}

/// While it lives, every slab and page allocation of the current task fails
/// (failslab's and fail_page_alloc's task filter: `scripts/vm/init` makes
/// them fail every request of a task marked so). Not `Send`: the mark is the
/// task's.
pub(crate) struct FailEverything(core::marker::PhantomData<*mut ()>);

impl FailEverything {
    /// Marks the current task; [`unavailable`] says whether that does
    /// anything on this kernel.
    pub(crate) fn new() -> Self {
        // SAFETY: The shim only sets the current task's `make_it_fail`.
        unsafe { kalloc_test_make_it_fail(true) };
        Self(core::marker::PhantomData)
    }
}

/// Ends [`FailEverything`] for `task` from another thread, so that a task
/// that waits for memory that never comes gets it (and the case fails
/// instead of hanging).
pub(crate) fn stop_failing(task: &ARef<Task>) {
    // SAFETY: `task` is alive (a reference is held); the shim only sets its
    // `make_it_fail`, an `int`.
    unsafe { kalloc_test_make_task_fail(task.as_ptr(), false) };
}

/// The current task, for [`stop_failing`].
pub(crate) fn current_task() -> ARef<Task> {
    let current = kernel::current!();
    let task: &Task = current;
    task.into()
}

impl Drop for FailEverything {
    fn drop(&mut self) {
        // SAFETY: As in `new`, on the same task.
        unsafe { kalloc_test_make_it_fail(false) };
    }
}

/// Whether this kernel lacks the fault injection that [`sweep`] and
/// [`FailEverything`] need; if so the running case is marked skipped.
pub(crate) fn unavailable() -> bool {
    crate::selftest::skip_unless(
        cfg!(CONFIG_FAILSLAB) && cfg!(CONFIG_FAIL_PAGE_ALLOC),
        c"CONFIG_FAILSLAB",
    )
}
