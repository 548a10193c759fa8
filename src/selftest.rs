// SPDX-License-Identifier: GPL-2.0

//! Everything kalloc's self-tests need beyond the library: the edu PCI
//! driver the devm suite watches, test aids that look inside the kernel,
//! and the test-only C (`selftest/shims.c`). Built only into kalloc's own
//! test module, with KUnit; not part of the library's API.

pub mod edu;

pub(crate) mod devres;
pub(crate) mod ffi;
pub(crate) mod kmalloc;
pub(crate) mod pages;
pub(crate) mod slab;

mod tests;

/// Waits until the frees that kalloc deferred out of atomic context (an
/// `IoMap` or a slab cache dropped there) are done.
pub(crate) fn wait_deferred_frees() {
    crate::deferred::wait_pending();
}
