// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_devm` suite, which watches what binding and
//! unbinding do.
//!
//! Their callers use them only on devices kalloc itself drives: faux devices
//! they created, and the edu device bound to kalloc's driver, `kalloc_edu`
//! (unbinding and binding it again). Unbinding another driver's device, or
//! putting kalloc's resources on it, is not kalloc's business.

use crate::devm::raw;
use crate::selftest::ffi::*;
use core::ptr::{self, NonNull};
use kernel::{
    bindings,
    device::{Bound, Device},
    error::to_result,
    pci,
    prelude::*,
    sync::aref::ARef,
};
/// The number of resources on `dev`'s resource list: device-scoped
/// allocations, release actions and group markers alike. It is empty
/// when the device is not bound.
///
/// It shows that a device-scoped allocation adds one entry, an early
/// release removes it, and unbinding removes them all.
pub(crate) fn devres_count(dev: &Device) -> usize {
    // SAFETY: `dev` is a valid device; the shim walks its list under the
    // list's lock.
    unsafe { kalloc_devres_count(raw(dev)) }
}

/// Runs `f` under `dev`'s device lock, so that it is not bound or
/// unbound meanwhile.
fn locked<R>(dev: &Device, f: impl FnOnce() -> R) -> R {
    // SAFETY: `dev` is a valid device.
    unsafe { kalloc_device_lock(raw(dev)) };
    let ret = f();
    // SAFETY: The device lock was taken above.
    unsafe { kalloc_device_unlock(raw(dev)) };
    ret
}

/// Whether `dev` is bound to a driver.
pub(crate) fn is_bound(dev: &Device) -> bool {
    locked(dev, || {
        // SAFETY: `dev` is a valid device, and its lock is held.
        unsafe { bindings::device_is_bound(raw(dev)) }
    })
}

/// Runs `f` with proof that `dev` is bound, if it is bound to a driver
/// of kalloc (`kalloc_edu`); `ENODEV` otherwise. Code in `f` acts for
/// kalloc's driver.
///
/// Holds the device lock while `f` runs, so the device cannot be unbound
/// meanwhile: `f` must not bind or unbind the device itself (that would
/// deadlock). Resources `f` allocates for the device stay with it after
/// `f` returns, until it is unbound.
pub(crate) fn with_bound_to_kalloc<R>(
    dev: &Device,
    f: impl FnOnce(&Device<Bound>) -> R,
) -> Result<R> {
    locked(dev, || {
        // SAFETY: `dev` is a valid device, and its lock is held.
        if unsafe { kalloc_device_bound_to_kalloc(raw(dev)) } {
            // SAFETY: The device is bound, and stays bound while the
            // device lock is held, that is, until after `f` returns; the
            // reference passed to `f` cannot escape it.
            Ok(f(unsafe { dev.as_bound() }))
        } else {
            Err(ENODEV)
        }
    })
}

/// The first PCI device with this vendor and device ID (C's
/// `pci_get_device(vendor, device, NULL)`), or `ENODEV`.
pub(crate) fn find_pci_device(vendor: u16, device: u16) -> Result<ARef<pci::Device>> {
    // SAFETY: With `from == NULL`, `pci_get_device()` searches from the
    // first device, and returns a match with a reference taken, or NULL.
    let pdev = unsafe { bindings::pci_get_device(vendor.into(), device.into(), ptr::null_mut()) };
    let pdev = NonNull::new(pdev).ok_or(ENODEV)?;
    // SAFETY: `pci::Device` is a transparent wrapper of `struct pci_dev`,
    // and the reference `pci_get_device()` took goes to the `ARef`.
    Ok(unsafe { ARef::from_raw(pdev.cast()) })
}

/// Unbinds `dev` from its driver, if it is bound (C's
/// `device_release_driver()`, what writing to a driver's `unbind` file
/// in sysfs does): the driver's remove callback runs, then the device's
/// resources are released.
pub(crate) fn release_driver(dev: &Device) {
    // SAFETY: `dev` is a valid device; the caller holds a reference to it.
    unsafe { bindings::device_release_driver(raw(dev)) };
}

/// Binds `dev` to a matching driver, if it has none (C's
/// `device_attach()`). Returns whether the device is bound afterwards.
pub(crate) fn attach_driver(dev: &Device) -> Result<bool> {
    // SAFETY: `dev` is a valid device; the caller holds a reference to it.
    let ret = unsafe { bindings::device_attach(raw(dev)) };
    to_result(ret)?;
    Ok(ret > 0)
}
