// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_iomem` and `kalloc_devm` suites: a PCI device
//! found through the PCI core, whatever driver is bound to it, its BARs
//! mapped without claiming them, and a read that does not fault. A driver
//! reaches its device's BARs through the device it is bound to (the kernel
//! crate's `pci::Device::iomap_region`, or [`DevmIoMap`]).
//!
//! [`DevmIoMap`]: crate::devm::DevmIoMap

use crate::devm::{mem_bar_of, MemBar};
use crate::iomem::IoMap;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::io::ResourceSize;
use kernel::prelude::*;

/// A reference to a PCI device, found with `pci_get_device()` and released
/// with `pci_dev_put()` when dropped.
///
/// It tells where the device's memory BARs are whether or not a driver is
/// bound to it, and maps them ([`PciDev::map_bar`], `unsafe`: the caller
/// must be entitled to access the registers). Mappings made through it do
/// not claim the BAR (`pci_request_region()`), so they coexist with the
/// driver's own; a driver maps the BARs of its bound device through that
/// device (`kernel::pci::Device::iomap_region`), which claims them and
/// unmaps them when the device is unbound.
///
/// # Invariants
///
/// `self.0` points to a valid `struct pci_dev` on which this `PciDev`
/// holds one reference.
pub(crate) struct PciDev(NonNull<bindings::pci_dev>);

// SAFETY: The reference count of a `struct pci_dev` is atomic, so the
// reference may be dropped on any thread.
unsafe impl Send for PciDev {}

impl PciDev {
    /// The first PCI device with this vendor and device ID (C's
    /// `pci_get_device(vendor, device, NULL)`).
    ///
    /// # Errors
    ///
    /// `ENODEV` if there is no such device.
    pub(crate) fn find(vendor: u16, device: u16) -> Result<Self> {
        // SAFETY: With `from == NULL`, `pci_get_device()` searches from the
        // first device, and returns a match with a reference taken, or NULL.
        let pdev =
            unsafe { bindings::pci_get_device(vendor.into(), device.into(), ptr::null_mut()) };
        // INVARIANT: The reference that `pci_get_device()` took is now ours.
        NonNull::new(pdev).map(Self).ok_or(ENODEV)
    }

    /// The vendor ID.
    pub(crate) fn vendor_id(&self) -> u16 {
        // SAFETY: By the type invariant, `self.0` is a valid `struct pci_dev`.
        unsafe { (*self.0.as_ptr()).vendor }
    }

    /// The device ID.
    pub(crate) fn device_id(&self) -> u16 {
        // SAFETY: By the type invariant, `self.0` is a valid `struct pci_dev`.
        unsafe { (*self.0.as_ptr()).device }
    }

    /// Where the PCI core placed BAR number `bar`, if it is a memory BAR.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `bar` is not a BAR number (0 to 5) or the BAR
    /// is an I/O port range; `ENODEV` if the device does not implement the
    /// BAR or the PCI core did not assign it.
    pub(crate) fn mem_bar(&self, bar: u32) -> Result<MemBar> {
        // SAFETY: By the type invariant, `self.0` is a valid `struct pci_dev`.
        unsafe { mem_bar_of(self.0.as_ptr(), bar) }
    }

    /// Maps all of memory BAR `bar` (C's `ioremap()` of
    /// `pci_resource_start()`, `pci_resource_len()`). May sleep.
    ///
    /// # Errors
    ///
    /// As for [`PciDev::mem_bar`] and [`IoMap::ioremap`].
    ///
    /// # Safety
    ///
    /// As for [`PciDev::map_bar_range`], for the whole BAR.
    pub(crate) unsafe fn map_bar<const SIZE: usize>(&self, bar: u32) -> Result<IoMap<SIZE>> {
        let len = usize::try_from(self.mem_bar(bar)?.len)?;
        // SAFETY: The caller's obligations are those of `map_bar_range` for
        // the whole BAR.
        unsafe { self.map_bar_range(bar, 0, len) }
    }

    /// Maps `len` bytes at `offset` into memory BAR `bar`. May sleep.
    ///
    /// # Errors
    ///
    /// As for [`PciDev::mem_bar`]; `EINVAL` for a zero `len`;
    /// `EOVERFLOW` if `offset + len` overflows; `ERANGE` if the range
    /// does not lie inside the BAR; as for [`IoMap::ioremap`].
    ///
    /// # Safety
    ///
    /// The caller must be entitled to access the device's registers in the
    /// range: it is the device's driver or acts for it, or no driver drives
    /// the device and the registers the caller touches have no effect
    /// beyond the device (they start no DMA and raise no interrupt).
    /// Register writes can make a device do anything it can do, such as
    /// DMA into any memory. The BAR must also stay where the PCI core
    /// placed it while the mapping exists: it moves only when the device
    /// is removed or its resources are reassigned (device hot-unplug, the
    /// `remove` and `rescan` files in sysfs).
    pub(crate) unsafe fn map_bar_range<const SIZE: usize>(
        &self,
        bar: u32,
        offset: usize,
        len: usize,
    ) -> Result<IoMap<SIZE>> {
        let res = self.mem_bar(bar)?;
        if len == 0 {
            return Err(EINVAL);
        }
        let offset = ResourceSize::try_from(offset)?;
        let end = offset
            .checked_add(ResourceSize::try_from(len)?)
            .ok_or(EOVERFLOW)?;
        if end > res.len {
            return Err(ERANGE);
        }
        // The range lies inside a memory BAR as the PCI core assigned it, so
        // it is device memory, and `res.start + offset` does not overflow.
        // SAFETY: The range is device memory that the caller may access and
        // that stays the device's while mapped (guaranteed by the caller).
        unsafe { IoMap::ioremap(res.start + offset, len) }
    }
}

impl Drop for PciDev {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self` holds a reference on the
        // device; it is given back exactly once, here.
        unsafe { bindings::pci_dev_put(self.0.as_ptr()) };
    }
}

/// Reads the `u32` at kernel virtual address `addr` without faulting (C's
/// `copy_from_kernel_nofault()`).
///
/// A diagnostic, for instance to check that an [`IoMap`] is gone once it
/// has been dropped. It is a plain load, not an MMIO accessor.
///
/// # Errors
///
/// `EFAULT` if nothing is mapped there, `ERANGE` for a user-space address.
///
/// # Safety
///
/// Reading `addr` must be harmless: if anything is mapped there, it is
/// memory the caller may read, or device memory the caller is entitled to
/// access (see [`IoMap::ioremap`]) whose reads have no side effects. (A
/// read of a device register may clear or change device state.)
pub(crate) unsafe fn read_nofault_u32(addr: usize) -> Result<u32> {
    let mut val = 0u32;
    // SAFETY: `val` is valid for writing 4 bytes. `copy_from_kernel_nofault()`
    // handles a fault at `addr` and refuses user-space addresses; a read of
    // whatever is mapped there is harmless (guaranteed by the caller).
    let ret = unsafe {
        bindings::copy_from_kernel_nofault(
            (&raw mut val).cast(),
            ptr::without_provenance(addr),
            size_of::<u32>(),
        )
    };
    if ret != 0 {
        // CAST: `ret` is a negative errno.
        return Err(Error::from_errno(ret as c_int));
    }
    Ok(val)
}
