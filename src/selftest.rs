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
pub(crate) mod slab;
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
