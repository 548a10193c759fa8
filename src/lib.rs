// SPDX-License-Identifier: GPL-2.0

//! kalloc: the Linux kernel's memory allocators as safe Rust types.
//!
//! One module per allocator family; [`gfp`] holds the flags they all take.
//! A driver uses kalloc as a crate (`use kalloc::kmalloc::KmallocBox;`):
//! see the README's "Use kalloc in your driver".

/// The prefix of kalloc's log lines (`pr_*!` reads it from the crate root).
const __LOG_PREFIX: &[u8] = b"kalloc\0";

mod deferred;
pub mod devm;
mod ffi;
pub mod gfp;
pub mod iomem;
mod kernel_alloc;
pub mod kmalloc;
pub mod kvmalloc;
pub mod pages;
mod request;
pub mod slab;
pub mod vmalloc;

/// kalloc's self-tests: only in kalloc's own test module (`kalloc.ko`,
/// built with `--cfg kalloc_selftest`), never in a driver that uses kalloc.
#[cfg(kalloc_selftest)]
#[doc(hidden)]
pub mod selftest;
