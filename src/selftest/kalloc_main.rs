// SPDX-License-Identifier: GPL-2.0

//! `kalloc.ko`: kalloc's self-test module. KUnit runs the library's suites
//! when it is loaded; while it is loaded, its edu driver is registered, so
//! that the edu device is bound before the devm suite runs.

use kernel::prelude::*;

module! {
    type: Kalloc,
    name: "kalloc",
    authors: ["The kalloc developers"],
    description: "Safe Rust wrappers for the kernel's memory allocators: KUnit self-tests",
    license: "GPL",
}

struct Kalloc {
    /// The PCI driver for QEMU's edu device.
    _edu: Pin<KBox<kalloc::selftest::edu::Registration>>,
}

impl kernel::Module for Kalloc {
    fn init(module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded\n");
        let edu = kalloc::selftest::edu::register(module)?;
        Ok(Kalloc { _edu: edu })
    }
}

impl Drop for Kalloc {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
