// SPDX-License-Identifier: GPL-2.0

//! Everything kalloc's self-tests need beyond the library: the edu PCI
//! driver the devm suite watches, test aids that look inside the kernel,
//! and the test-only C (`selftest/shims.c`). Built only into kalloc's own
//! test module, with KUnit; not part of the library's API.

pub mod edu;

pub(crate) mod devres;
pub(crate) mod faults;
pub(crate) mod ffi;
pub(crate) mod kmalloc;
pub(crate) mod pages;
pub(crate) mod pci;
pub(crate) mod slab;
pub(crate) mod slab_stats;
pub(crate) mod stress;

mod tests;

/// Waits until the frees that kalloc deferred out of atomic context (an
/// `IoMap` or a slab cache dropped there) are done.
pub(crate) fn wait_deferred_frees() {
    crate::deferred::wait_pending();
}

/// Marks the running KUnit case skipped (`# SKIP needs CONFIG_X`) unless
/// `present`: for an observation that only the debugging option `option`
/// makes possible. The harness accepts such a skip only on a kernel without
/// the option. Returns whether the case is skipped; the case leaves out the
/// observation and goes on, so that it still fails if anything else is
/// wrong (a failure overrides the skip).
pub(crate) fn skip_unless(present: bool, option: &kernel::str::CStr) -> bool {
    use kernel::str::CStrExt;
    if !present {
        // SAFETY: `option` is a NUL-terminated string; the shim only
        // formats it into the running case's status.
        unsafe { ffi::kalloc_test_skip(option.as_char_ptr()) };
    }
    !present
}

/// How many [`Counted`] values were dropped since [`Counted::reset`].
static COUNTED_DROPS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// A value that counts its drops, for the cases that check that a type
/// drops what it holds exactly once (KUnit runs one case at a time). Not
/// zero-sized: per-CPU memory and pools have no zero-sized elements.
pub(crate) struct Counted(pub(crate) u32);

impl Counted {
    /// Starts counting from zero.
    pub(crate) fn reset() {
        COUNTED_DROPS.store(0, core::sync::atomic::Ordering::Relaxed);
    }

    /// The drops since [`Counted::reset`].
    pub(crate) fn drops() -> usize {
        COUNTED_DROPS.load(core::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        COUNTED_DROPS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads the file at `path` (in user space's initial root) into `buf`;
/// returns how many bytes it read. May sleep.
///
/// # Errors
///
/// The error of opening or reading the file.
pub(crate) fn read_file(path: &kernel::str::CStr, buf: &mut [u8]) -> kernel::error::Result<usize> {
    use kernel::str::CStrExt;
    // SAFETY: `path` is NUL-terminated and `buf` writable for its length;
    // the shim only reads the one and writes the other.
    let len =
        unsafe { ffi::kalloc_slab_read_sysfs(path.as_char_ptr(), buf.as_mut_ptr(), buf.len()) };
    // CAST: a negative `len` is an errno, which fits in a `c_int`.
    usize::try_from(len).map_err(|_| kernel::error::Error::from_errno(len as kernel::ffi::c_int))
}

/// Whether the memory at `p`, a direct-mapped (kmalloc, slab, page) or
/// vmalloc address, is on node `nid`. An object that KFENCE sampled (on
/// the compat kernel) counts as on any node: it lives in KFENCE's pool,
/// whatever node was asked for.
pub(crate) fn on_node<T: ?Sized>(p: *const T, nid: i32) -> bool {
    // SAFETY: The shim only looks `p` up in the page tables' bookkeeping
    // (`virt_to_page()`, `vmalloc_to_page()`); callers pass live memory.
    let found = unsafe { ffi::kalloc_test_nid_of(p.cast()) };
    found == nid || found == -1
}

/// Whether the vmalloc address `p` is mapped: its page table entry is
/// there (`vfree()` clears it before it returns).
pub(crate) fn vmapped<T: ?Sized>(p: *const T) -> bool {
    // SAFETY: The shim only walks the kernel's page tables for `p`.
    unsafe { ffi::kalloc_test_vmapped(p.cast()) }
}

/// Waits up to two seconds for `done`, checking it every 10 ms; returns
/// whether it became true.
pub(crate) fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
    }
    done()
}

/// Whether the test VM has the two NUMA nodes the node cases need; if not,
/// the running case is marked skipped for want of `CONFIG_NUMA` (see
/// [`skip_unless`]) and this returns `false`.
pub(crate) fn two_nodes() -> bool {
    !skip_unless(online_nodes() >= 2, c"CONFIG_NUMA")
}

/// How many NUMA nodes are online.
pub(crate) fn online_nodes() -> i32 {
    // SAFETY: Reads the online node mask.
    unsafe { ffi::kalloc_test_num_online_nodes() }
}

/// Whether `A` puts `size` bytes asked for on node `nid` there (see
/// [`on_node`]; the memory is freed again). `ENOMEM` if `A` refuses.
pub(crate) fn allocator_on_node<A: kernel::alloc::Allocator>(
    size: usize,
    nid: i32,
) -> kernel::error::Result<bool> {
    let numa = kernel::alloc::NumaNode::new(nid)?;
    let layout =
        core::alloc::Layout::from_size_align(size, 8).map_err(|_| kernel::error::code::EINVAL)?;
    let memory = A::alloc(layout, kernel::alloc::flags::GFP_KERNEL, numa)
        .map_err(|_| kernel::error::code::ENOMEM)?;
    let there = on_node(memory.as_ptr().cast::<u8>(), nid);
    // SAFETY: `memory` was allocated by `A` with `layout` just above, and is
    // not used again.
    unsafe { A::free(memory.cast(), layout) };
    Ok(there)
}

/// Whether a block of pages dropped in NMI context
/// ([`NolockPages`](crate::nolock::NolockPages)) still waits for its free.
pub(crate) fn deferred_pages_pending() -> bool {
    // SAFETY: The shim only reads a list head and an IRQ work's flags.
    unsafe { crate::ffi::kalloc_deferred_pages_pending() }
}

/// Runs `f` as if in NMI context (`in_nmi()` is true, and local interrupts
/// are off), and returns its result: for cases that check that kalloc
/// refuses to allocate there, or that the nolock allocators serve. `f` must
/// only make requests that kalloc refuses before C allocates anything or
/// that go to C's nolock paths, and take no lock: it runs on the caller's
/// stack, not an NMI's.
///
/// Only with `CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS` or on Linux 7.2
/// (see `selftest/shims.c`): elsewhere `f` does not run and the result is
/// `ENOENT`.
pub(crate) fn as_nmi<F: FnOnce() -> T, T>(f: F) -> kernel::error::Result<T> {
    run_in(ffi::kalloc_test_as_nmi, f).ok_or(kernel::error::code::ENOENT)
}

/// Runs `f` as if in hard interrupt context (`in_hardirq()` is true, and
/// local interrupts are off), with the same rules as [`as_nmi`]. The
/// result is `ENOENT` only if the shim did not call `f`.
pub(crate) fn as_hardirq<F: FnOnce() -> T, T>(f: F) -> kernel::error::Result<T> {
    run_in(ffi::kalloc_test_as_hardirq, f).ok_or(kernel::error::code::ENOENT)
}

/// Runs `f` with local interrupts off and nothing else changed (preemption
/// stays enabled in the count), and returns its result (`ENOENT` only if
/// the shim did not call `f`).
pub(crate) fn irqs_off<F: FnOnce() -> T, T>(f: F) -> kernel::error::Result<T> {
    run_in(ffi::kalloc_test_irqs_off, f).ok_or(kernel::error::code::ENOENT)
}

/// Calls `f` through `shim`, which calls its function argument with its data
/// argument at most once, on this thread, before it returns.
fn run_in<F: FnOnce() -> T, T>(
    shim: unsafe extern "C" fn(
        unsafe extern "C" fn(*mut kernel::ffi::c_void),
        *mut kernel::ffi::c_void,
    ),
    f: F,
) -> Option<T> {
    struct Call<F, T> {
        f: Option<F>,
        result: Option<T>,
    }

    /// # Safety
    ///
    /// `data` points to a `Call<F, T>` that nothing else accesses until
    /// this function returns.
    unsafe extern "C" fn run<F: FnOnce() -> T, T>(data: *mut kernel::ffi::c_void) {
        // SAFETY: Guaranteed by the caller.
        let call = unsafe { &mut *data.cast::<Call<F, T>>() };
        if let Some(f) = call.f.take() {
            call.result = Some(f());
        }
    }

    let mut call = Call {
        f: Some(f),
        result: None,
    };
    // SAFETY: `run::<F, T>` matches `call`'s type; the shim calls it at most
    // once, on this thread, before it returns, and nothing else touches
    // `call`.
    unsafe { shim(run::<F, T>, (&raw mut call).cast()) };
    call.result
}

/// Whether freed pages are unmapped on this boot (`CONFIG_DEBUG_PAGEALLOC`,
/// enabled): then a load from a torn-down mapping faults at once.
pub(crate) fn debug_pagealloc() -> bool {
    // SAFETY: The shim only reads a static key.
    unsafe { ffi::kalloc_test_debug_pagealloc() }
}

/// Whether the case can see that a mapping is gone (see
/// [`debug_pagealloc`]); if not, it is marked skipped ([`skip_unless`]).
pub(crate) fn can_see_unmapping() -> bool {
    !skip_unless(debug_pagealloc(), c"CONFIG_DEBUG_PAGEALLOC")
}
