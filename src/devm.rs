// SPDX-License-Identifier: GPL-2.0

//! Device-scoped ("devm") allocations: memory that belongs to a bound
//! device and is given back when the device is unbound from its driver.
//!
//! A driver takes what it needs in `probe()` with the `devm_*` functions,
//! and the driver core releases all of it, in reverse order, when the
//! device is unbound: `probe()`'s error paths and `remove()` free nothing
//! themselves. The C functions keep each resource on the device's resource
//! list (`dev->devres_head`); the types here are handles to such resources:
//!
//! | C                                         | Rust                                  |
//! |-------------------------------------------|---------------------------------------|
//! | `devm_kmalloc(dev, size, gfp)`            | [`DevmBox::new`]                      |
//! | `devm_kzalloc(dev, size, gfp)`            | [`DevmBox::new_zeroed`]               |
//! | `devm_kcalloc(dev, n, size, gfp)`         | [`DevmBox::new_slice_zeroed`]         |
//! | `devm_kfree(dev, p)`                      | [`DevmBox::free`], [`DevmStr::free`]  |
//! | `devm_kasprintf(dev, gfp, "%pA", &args)`  | [`DevmStr::format`]                   |
//! | `devm_get_free_pages(dev, gfp, order)`    | [`DevmPages::alloc`], [`DevmPages::alloc_zeroed`] |
//! | `devm_free_pages(dev, addr)`              | [`DevmPages::free`]                   |
//! | `devm_add_action_or_reset(dev, drop, v)`  | [`DevmOwned::new`]                    |
//! | `devm_release_action(dev, drop, v)`       | [`DevmOwned::release`]                |
//! | `faux_device_create(name, NULL, NULL)`    | [`FauxDevice::new`]                   |
//! | `pci_request_region()` + `ioremap()`      | [`DevmIoMap::map_bar`]                |
//! | `pcim_enable_device(pdev)`                | [`pcim_enable_device`]                |
//!
//! # Lifetimes: no access after unbind
//!
//! Every constructor takes a `&'a Device<Bound>`: upstream's proof that the
//! device is bound to a driver for `'a` (a driver gets one in `probe()`,
//! for the `'bound` lifetime of its driver data). The handle borrows the
//! device for `'a`, so the borrow checker rejects any use of the memory
//! after the device may have been unbound. The driver core drops a
//! driver's data (`pci::Driver::Data<'bound>`) before it releases the
//! device's resources, so handles kept there are gone before the memory is.
//!
//! # Release: on unbind, or early
//!
//! Dropping a handle does nothing: the resource stays on the device's list
//! until the device is unbound, as in C. To give it back earlier, consume
//! the handle with `free()` (C's `devm_kfree()`, `devm_free_pages()`): it
//! takes the resource off the list and frees it, once; as the handle is
//! gone, neither Rust nor the unbind can free it again.
//!
//! The device frees its memory without running Rust destructors, so a
//! [`DevmBox`] holds only types without drop glue (plain data, handles to
//! other device-scoped resources), and checks that at compile time. A value
//! that needs its destructor, such as an [`IoMap`](crate::iomem::IoMap), is a [`DevmOwned`]: the
//! device drops it when it is unbound, [`DevmOwned::release`] at once.
//!
//! # Which devices
//!
//! A `&Device<Bound>` proves that the device is bound to *some* driver, not
//! to the caller's: a driver uses these functions only on the devices it
//! drives, as it gets them in its callbacks. That is also why
//! [`DevmIoMap::map_bar`] claims the BAR it maps: a BAR that another driver
//! has claimed is `EBUSY`.
//!
//! The self-tests watch what binding and unbinding do with test aids
//! (`testing`, in KUnit builds only, not exported), which they use only on
//! devices kalloc itself drives: faux devices they create, and the edu
//! device bound to kalloc's driver (`kalloc_edu`).
//!
//! # Bad requests
//!
//! Requests are checked before C sees them, so that a bad one is an error
//! and never a warning splat:
//! - zero bytes (C would hand out `ZERO_SIZE_PTR`, which is not on the
//!   device's list): `EINVAL`;
//! - more than [`DEVM_KMALLOC_MAX_SIZE`] bytes: `ENOMEM`;
//! - an element count whose size in bytes overflows: `EOVERFLOW`;
//! - a string with a NUL byte (C would cut it there): `EINVAL`;
//! - flags the allocator cannot honour ([`Gfp::check_slab`] for the kmalloc
//!   family, [`Gfp::check`] and a kernel address for pages): `EINVAL`;
//! - `__GFP_NOFAIL` for more than [`DEVM_NOFAIL_MAX_SIZE`] bytes: `EINVAL`.
//!   The kmalloc family takes the flags C takes: the bookkeeping is in the
//!   same allocation, and `devres_add()` only takes a spinlock, so
//!   `GFP_ATOMIC` works under a lock and `__GFP_NOFAIL` holds;
//! - pages with `__GFP_NOFAIL` or flags that may not sleep, and an order
//!   above `MAX_PAGE_ORDER`: `EINVAL`. `devm_get_free_pages()` allocates
//!   its bookkeeping apart, with `GFP_KERNEL` whatever the flags say
//!   (`drivers/base/devres.c`), so it may sleep, and may fail after the
//!   pages were allocated.
//!
//! # Examples
//!
//! ```
//! use kalloc::devm::{DevmBox, DevmPages, DevmStr};
//! use kalloc::gfp::GFP_KERNEL;
//! use kernel::device::{Bound, Device};
//!
//! fn setup<'a>(dev: &'a Device<Bound>, queue: u32) -> Result<DevmBox<'a, [u32]>> {
//!     let _label = DevmStr::format(dev, fmt!("rx-{queue}"), GFP_KERNEL)?;
//!     let mut ring = DevmBox::<[u32]>::new_slice_zeroed(dev, 256, GFP_KERNEL)?;
//!     let staging = DevmPages::alloc_zeroed(dev, 0, GFP_KERNEL)?; // one zeroed page
//!     ring[0] = staging.len() as u32;
//!     staging.free(); // early release: off the device's list, freed once
//!     Ok(ring) // `_label` and `ring` go back when `dev` is unbound
//! }
//!
//! // A faux device stands in for a driver's bound device here.
//! let faux = kalloc::devm::FauxDevice::without_data(c"kalloc_devm_example")?;
//! let ring = setup(faux.device(), 0)?;
//! assert_eq!(ring[0] as usize, kernel::page::PAGE_SIZE);
//! // Unregistering the faux device unbinds it: its memory goes back.
//! ```

use crate::gfp::Gfp;
use crate::request;
use core::ptr;
use kernel::{
    bindings,
    device::{Device, DeviceContext},
    pci,
    prelude::*,
};

/// The largest request the kmalloc family here accepts, in bytes.
///
/// `devm_kmalloc()` puts its bookkeeping (a `struct devres`, private to
/// `drivers/base/devres.c`, a few dozen bytes) in front of the data in the
/// same kmalloc object, so the largest request kmalloc can serve is a little
/// less than `KMALLOC_MAX_SIZE`; one page leaves room for the header on
/// every architecture. Larger requests are `ENOMEM`.
pub const DEVM_KMALLOC_MAX_SIZE: usize = bindings::KMALLOC_MAX_SIZE as usize - bindings::PAGE_SIZE;

/// The largest request the kmalloc family here serves with `__GFP_NOFAIL`,
/// in bytes: half of [`NOFAIL_MAX_SIZE`](crate::kmalloc::NOFAIL_MAX_SIZE),
/// which leaves room for `devm_kmalloc()`'s bookkeeping in the same
/// object.
pub const DEVM_NOFAIL_MAX_SIZE: usize = crate::kmalloc::NOFAIL_MAX_SIZE / 2;

/// The alignment `devm_kmalloc()` guarantees: that of `unsigned long long`.
/// A [`DevmBox`] of a type with a larger alignment does not compile.
pub const DEVM_ALIGN: usize = align_of::<u64>();

pub use crate::request::MAX_PAGE_ORDER;

/// The C `struct device` of `dev`.
pub(crate) fn raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is a transparent wrapper of `Opaque<bindings::device>`,
    // itself a transparent wrapper of the C struct. (Upstream's `as_raw()` is
    // private to the kernel crate.)
    ptr::from_ref(dev).cast::<bindings::device>().cast_mut()
}

/// The C `struct pci_dev` of `pdev`.
pub(crate) fn raw_pci<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is a transparent wrapper of the C `struct
    // pci_dev` (upstream's `as_raw()` is private to the kernel crate).
    ptr::from_ref(pdev).cast::<bindings::pci_dev>().cast_mut()
}

/// Returns the flags if the kmalloc family can serve a device with them
/// (see the module documentation).
#[inline]
fn check_flags(flags: Gfp) -> Result<Gfp> {
    request::slab(flags, 0, DEVM_KMALLOC_MAX_SIZE, Some(DEVM_NOFAIL_MAX_SIZE))
}

/// Returns the flags if the kmalloc family can serve `size` bytes with them
/// for a device (see the module documentation).
#[inline]
fn check_request(size: usize, flags: Gfp) -> Result<Gfp> {
    if size == 0 {
        return Err(EINVAL);
    }
    request::slab(
        flags,
        size,
        DEVM_KMALLOC_MAX_SIZE,
        Some(DEVM_NOFAIL_MAX_SIZE),
    )
}

mod boxed;
mod faux;
mod iomap;
mod owned;
mod pages;
mod string;

pub use boxed::DevmBox;
pub use faux::{FauxData, FauxDevice};
#[cfg(kalloc_selftest)]
pub(crate) use iomap::{mem_bar_of, MemBar};
pub use iomap::{pcim_enable_device, BarMap, DevmIoMap};
pub use owned::DevmOwned;
pub use pages::DevmPages;
pub use string::DevmStr;

#[cfg(kalloc_selftest)]
mod tests;
