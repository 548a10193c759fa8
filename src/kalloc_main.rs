// SPDX-License-Identifier: GPL-2.0

//! kalloc: the Linux kernel's memory allocators as safe Rust types.
//!
//! Each allocator family has its own module; each module carries the KUnit
//! suite that proves it, run by the kernel when kalloc is loaded.

use kernel::prelude::*;

pub mod devm;
mod edu;
pub mod gfp;
pub mod iomem;
pub mod kmalloc;
pub mod pages;
mod shim;
pub mod slab;
pub mod vmalloc;

module! {
    type: Kalloc,
    name: "kalloc",
    authors: ["The kalloc developers"],
    description: "Safe Rust wrappers for the kernel's memory allocators, with KUnit self-tests",
    license: "GPL",
}

struct Kalloc {
    /// The PCI driver for QEMU's edu device (src/edu.rs): registered while
    /// kalloc is loaded, so the edu device is bound before the suites run.
    _edu: Pin<KBox<edu::Registration>>,
}

impl kernel::Module for Kalloc {
    fn init(module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded (C shims ABI {:#x})\n", shim::abi());
        let edu = edu::register(module)?;
        Ok(Kalloc { _edu: edu })
    }
}

impl Drop for Kalloc {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
