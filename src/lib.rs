// SPDX-License-Identifier: GPL-2.0

//! kalloc: the Linux kernel's memory allocators as safe Rust types.
//!
//! One module per allocator family; [`gfp`] holds the flags they all take.
//! A driver uses kalloc as a crate (`use kalloc::kmalloc::KmallocBox;`):
//! see the README's "Use kalloc in your driver".
//!
//! # Examples
//!
//! The README's imports, as a driver writes them: the prelude's flags for
//! kalloc's types and the kernel crate's alike, kalloc's for what the
//! prelude lacks.
//!
//! ```
//! use kalloc::gfp::{GFP_DMA, __GFP_RETRY_MAYFAIL}; // flags the prelude lacks
//! use kalloc::kmalloc::KmallocBox;
//! use kalloc::slab::{SlabCache, SlabOptions};
//! use kernel::prelude::*; // GFP_KERNEL, GFP_ATOMIC, ... as always
//! use kernel::sync::Arc;
//!
//! let cache = SlabCache::<u64>::new(c"kalloc_readme", SlabOptions::new())?;
//! let object = cache.alloc(7, GFP_KERNEL)?;
//! let boxed = KmallocBox::new(*object, GFP_KERNEL | __GFP_RETRY_MAYFAIL)?;
//! let low = KmallocBox::new(1u8, GFP_KERNEL | GFP_DMA)?;
//! let mut list = KVec::new();
//! list.push(*boxed, GFP_KERNEL)?;
//! let shared = Arc::new(*low, GFP_KERNEL)?;
//! assert_eq!((list[0], *shared), (7, 1));
//! ```
//!
//! A driver that uses the kernel crate's containers moves them to kalloc's
//! allocators by changing an import: the same `Box` and `Vec`, with
//! `push`, `pin_init`, `ForeignOwnable` and the rest.
//!
//! ```
//! use kalloc::{KBox, KVVec, KVec, VVec}; // instead of the prelude's
//! use kernel::prelude::*;
//!
//! let b = KBox::new(5u32, GFP_KERNEL)?;
//! let mut v = KVec::with_capacity(2, GFP_KERNEL)?;
//! v.push(*b, GFP_KERNEL)?;
//! v.extend_from_slice(&[6, 7], GFP_KERNEL)?;
//! let mut big = KVVec::<u64>::new();
//! big.resize(1 << 14, 9, GFP_KERNEL)?; // 128 KiB: vmalloc'd by kvmalloc
//! let mut table = VVec::<u32>::with_capacity(1 << 16, GFP_KERNEL)?; // 256 KiB
//! table.extend_from_slice(&[1, 2, 3], GFP_KERNEL)?;
//! assert_eq!((&v[..], big[(1 << 14) - 1], table[2]), (&[5, 6, 7][..], 9, 3));
//! # let _: (&kernel::alloc::Box<u32, kalloc::kmalloc::Kmalloc>, &kernel::alloc::Vec<u64, kalloc::kvmalloc::KVmalloc>) = (&b, &big);
//! # let _: &kernel::alloc::Vec<u32, kalloc::vmalloc::Vmalloc> = &table;
//! ```

/// The prefix of kalloc's log lines (`pr_*!` reads it from the crate root).
const __LOG_PREFIX: &[u8] = b"kalloc\0";

mod context;
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

// The kernel crate's containers on kalloc's allocators, under the names a
// driver already uses: moving to kalloc is changing an import.
pub use kmalloc::{KBox, KVec};
pub use kvmalloc::{KVBox, KVVec};
pub use vmalloc::VBox;

// Here, not in `vmalloc`, whose conversions name the kernel crate's own `VVec`.
/// The kernel crate's `VVec` on kalloc's vmalloc path (see [`VBox`]).
pub type VVec<T> = kernel::alloc::Vec<T, vmalloc::Vmalloc>;

/// kalloc's self-tests: only in kalloc's own test module (`kalloc.ko`,
/// built with `--cfg kalloc_selftest`), never in a driver that uses kalloc.
#[cfg(kalloc_selftest)]
#[doc(hidden)]
pub mod selftest;
