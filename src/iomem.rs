// SPDX-License-Identifier: GPL-2.0

//! ioremap: device memory (MMIO) mapped for the CPU, as an owning type,
//! [`IoMap`], and PCI devices found through the PCI core, [`PciDev`].
//!
//! A device's registers sit at physical addresses (for PCI: in its BARs,
//! which the firmware or the PCI core assigns). `ioremap()` maps such a
//! range into the kernel's virtual address space, uncached; `iounmap()`
//! removes the mapping. The mapping is not memory: it is accessed with
//! `readl()`, `writel()` and their siblings, which make exactly one access
//! of the given width, in program order, with the barriers device I/O
//! needs. A plain pointer dereference gives none of that: the compiler may
//! merge, split, reorder or drop it.
//!
//! [`IoMap`] owns one mapping and unmaps it when dropped. Its accessors are
//! those of the kernel crate's [`Io`](kernel::io::Io) trait, implemented for `&IoMap`:
//!
//! - `try_read8/16/32/64(offset)` and `try_write8/16/32/64(value, offset)`
//!   (`readb`..`readq`, `writeb`..`writeq`) check at run time that the
//!   access lies inside the mapping and is naturally aligned, and return
//!   `EINVAL` otherwise, also when `offset + width` overflows;
//! - `read8/16/32(offset)` and `write8/16/32(value, offset)` with a constant
//!   offset are checked at compile time against the minimum size `SIZE` of
//!   the mapping, which [`IoMap`] checks when it maps.
//!
//! | C                                          | Rust                              |
//! |--------------------------------------------|-----------------------------------|
//! | `pci_get_device(vendor, device, NULL)`     | [`PciDev::find`]                  |
//! | `pci_dev_put(pdev)`                        | dropping the [`PciDev`]           |
//! | `pci_resource_start/len/flags(pdev, bar)`  | [`PciDev::mem_bar`]               |
//! | `ioremap(phys, size)`                      | [`PciDev::map_bar`], [`PciDev::map_bar_range`], [`IoMap::ioremap`] (all `unsafe`) |
//! | `iounmap(addr)`                            | dropping the [`IoMap`]            |
//! | `readb/readw/readl/readq(addr + offset)`   | [`Io::try_read8`](kernel::io::Io::try_read8) .. [`Io::try_read64`](kernel::io::Io::try_read64), [`Io::read32`](kernel::io::Io::read32) |
//! | `writeb/writew/writel/writeq(v, addr + offset)` | [`Io::try_write8`](kernel::io::Io::try_write8) .. [`Io::try_write64`](kernel::io::Io::try_write64), [`Io::write32`](kernel::io::Io::write32) |
//! | `copy_from_kernel_nofault(dst, src, 4)`    | [`read_nofault_u32`]              |
//!
//! # Examples
//!
//! Mapping device memory is `unsafe`: register writes can make a device do
//! anything it can do, DMA into any memory included, so only code entitled
//! to drive the device may map its registers. A driver maps the BARs of
//! the device it is bound to through that device
//! (`kernel::pci::Device::iomap_region`).
//!
//! ```
//! use kalloc::iomem::PciDev;
//!
//! // QEMU's `edu` device: one memory BAR of 1 MiB.
//! let edu = PciDev::find(0x1234, 0x11e8)?;
//! assert_eq!(edu.mem_bar(0)?.len, 1 << 20);
//! // Mapping it is `unsafe` (`PciDev::map_bar`): nothing proves that the
//! // caller may touch the registers. A driver maps the BARs of the device
//! // it drives with `kalloc::devm::DevmIoMap::map_bar`, which is safe.
//! // `pci_dev_put()` runs here.
//! ```

use core::ptr::{self, NonNull};

use kernel::bindings;
use kernel::io::{IoBase, Mmio, MmioBackend, MmioRaw, PhysAddr, Region, ResourceSize};
use kernel::prelude::*;

use crate::deferred::{self, SleepingFree};
use crate::gfp::context_may_sleep;

/// A mapping of device memory made with `ioremap()`, unmapped with
/// `iounmap()` when dropped.
///
/// `SIZE` is a minimum size known at compile time: accesses below it can
/// use the compile-time checked accessors of [`Io`](kernel::io::Io) (`read32(OFFSET)`),
/// accesses anywhere in the mapping the run-time checked ones
/// (`try_read32(offset)`).
///
/// The type is not tied to a device, so a driver can keep it in
/// device-managed storage (`Devres`) to have it unmapped when its device
/// is unbound.
///
/// Mapping and unmapping may sleep: creating an `IoMap` where sleeping is
/// not allowed fails with `EAGAIN`. It may be dropped anywhere: where the
/// context may not sleep, an async worker unmaps it (C has no variant of
/// `iounmap()` for atomic context), except while the module is still
/// initialising, when it stays mapped and the kernel log says so (a module
/// whose init fails is freed without waiting for async workers).
///
/// # Invariants
///
/// `io` describes a mapping returned by `ioremap()` for `io.size()` bytes
/// (at least `SIZE`, a multiple of 4, at a 4-byte aligned address), owned
/// by this `IoMap`: it is unmapped exactly once, when the `IoMap` is
/// dropped.
pub struct IoMap<const SIZE: usize = 0> {
    io: MmioRaw<Region<SIZE>>,
}

impl<const SIZE: usize> IoMap<SIZE> {
    /// Maps `len` bytes of device memory at physical address `phys`,
    /// uncached (C's `ioremap()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero length, a length below `SIZE` or not a
    /// multiple of 4, a start that is not 4-byte aligned, or a range that
    /// overlaps system RAM (which C refuses with a WARN); `EOVERFLOW` if the
    /// range wraps around the physical address space; `EAGAIN` in a context
    /// that cannot sleep (`ioremap()` may sleep); `ENOMEM` if the mapping
    /// cannot be made.
    ///
    /// # Safety
    ///
    /// `phys..phys + len` must be device memory that the caller may access
    /// (for instance a BAR of a device it drives, or whose driver it
    /// cooperates with), and it must stay that device's while the mapping
    /// exists. Register writes can make a device do anything it can do,
    /// such as DMA into memory.
    pub unsafe fn ioremap(phys: PhysAddr, len: usize) -> Result<Self> {
        if len == 0 || len < SIZE || !len.is_multiple_of(4) || !phys.is_multiple_of(4) {
            return Err(EINVAL);
        }
        phys.checked_add(PhysAddr::try_from(len)? - 1)
            .ok_or(EOVERFLOW)?;
        // SAFETY: `region_intersects()` only looks the range up in the
        // kernel's resource tree.
        let ram = unsafe {
            bindings::region_intersects(
                phys,
                len,
                bindings::IORESOURCE_SYSTEM_RAM as c_ulong,
                bindings::IORES_DESC_NONE as c_ulong,
            )
        };
        if ram != bindings::REGION_DISJOINT as c_int {
            return Err(EINVAL);
        }
        if !context_may_sleep() {
            return Err(EAGAIN);
        }

        // SAFETY: The range is device memory (the caller guarantees it, and
        // it is not RAM), `len` is not zero and the range does not wrap.
        let addr = unsafe { bindings::ioremap(phys, len) };
        if addr.is_null() {
            return Err(ENOMEM);
        }
        match MmioRaw::new_region(addr as usize, len) {
            // INVARIANT: `addr` is a fresh mapping of `len` bytes, at least
            // `SIZE`, a multiple of 4; `ioremap()` keeps the offset of
            // `phys` within its page, so `addr` is 4-byte aligned.
            Ok(io) => Ok(Self { io }),
            Err(e) => {
                // SAFETY: `addr` was just mapped and is not used again.
                unsafe { bindings::iounmap(addr) };
                Err(e)
            }
        }
    }

    /// The kernel virtual address of the mapping (C's `void __iomem *`).
    pub fn addr(&self) -> usize {
        self.io.addr()
    }
}

impl<const SIZE: usize> Drop for IoMap<SIZE> {
    /// Unmaps the mapping (`iounmap()`). That may sleep: where the current
    /// context may not, an async worker unmaps it soon after.
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self.io` is a mapping made by
        // `ioremap()` and owned by `self`; no view of it outlives `self`.
        unsafe { deferred::free_may_sleep::<Iounmap>(self.io.addr() as *mut c_void) };
    }
}

/// `iounmap()`, as a free that may sleep.
struct Iounmap;

impl SleepingFree for Iounmap {
    const WHAT: &'static str = "iounmap";

    unsafe fn free(addr: *mut c_void) {
        // SAFETY: The caller hands over a mapping made by `ioremap()`.
        unsafe { bindings::iounmap(addr) };
    }
}

/// The accessors of [`Io`](kernel::io::Io), on the mapping.
impl<'a, const SIZE: usize> IoBase<'a> for &'a IoMap<SIZE> {
    type Backend = MmioBackend;
    type Target = Region<SIZE>;

    fn as_view(self) -> Mmio<'a, Region<SIZE>> {
        // SAFETY: By the type invariant, `self.io` is a valid, 4-byte
        // aligned mapping of at least `SIZE` bytes, and it stays mapped
        // while `self` is borrowed, that is for `'a`.
        unsafe { Mmio::from_raw(self.io) }
    }
}

/// A memory BAR of a PCI device: where the PCI core placed it in the
/// physical address space, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemBar {
    /// The physical address of the BAR (C's `pci_resource_start()`).
    pub start: PhysAddr,
    /// Its length in bytes (C's `pci_resource_len()`).
    pub len: ResourceSize,
}

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
pub struct PciDev(NonNull<bindings::pci_dev>);

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
    pub fn find(vendor: u16, device: u16) -> Result<Self> {
        // SAFETY: With `from == NULL`, `pci_get_device()` searches from the
        // first device, and returns a match with a reference taken, or NULL.
        let pdev =
            unsafe { bindings::pci_get_device(vendor.into(), device.into(), ptr::null_mut()) };
        // INVARIANT: The reference that `pci_get_device()` took is now ours.
        NonNull::new(pdev).map(Self).ok_or(ENODEV)
    }

    /// The vendor ID.
    pub fn vendor_id(&self) -> u16 {
        // SAFETY: By the type invariant, `self.0` is a valid `struct pci_dev`.
        unsafe { (*self.0.as_ptr()).vendor }
    }

    /// The device ID.
    pub fn device_id(&self) -> u16 {
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
    pub fn mem_bar(&self, bar: u32) -> Result<MemBar> {
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
    pub unsafe fn map_bar<const SIZE: usize>(&self, bar: u32) -> Result<IoMap<SIZE>> {
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
    pub unsafe fn map_bar_range<const SIZE: usize>(
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

/// Where memory BAR `bar` of the PCI device `pdev` is (see
/// [`PciDev::mem_bar`] for the errors).
///
/// # Safety
///
/// `pdev` must point to a valid `struct pci_dev` for the whole call.
pub(crate) unsafe fn mem_bar_of(pdev: *const bindings::pci_dev, bar: u32) -> Result<MemBar> {
    if bar >= bindings::PCI_STD_NUM_BARS {
        return Err(EINVAL);
    }
    // CAST: `bar` is less than 6.
    let index = bar as c_int;
    // SAFETY: `pdev` is a valid `struct pci_dev` (the caller's promise), and
    // `bar` is a BAR number.
    let (start, len) = unsafe {
        (
            bindings::pci_resource_start(pdev.cast_mut(), index),
            bindings::pci_resource_len(pdev.cast_mut(), index),
        )
    };
    // SAFETY: As above; the BARs are the first entries of `resource` (C's
    // `pci_resource_flags()`).
    let flags = unsafe { (*pdev).resource[bar as usize].flags };
    let unassigned = (bindings::IORESOURCE_UNSET | bindings::IORESOURCE_DISABLED) as c_ulong;
    if len == 0 || flags & unassigned != 0 {
        return Err(ENODEV);
    }
    if flags & bindings::IORESOURCE_MEM as c_ulong == 0 {
        return Err(EINVAL);
    }
    Ok(MemBar { start, len })
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
pub unsafe fn read_nofault_u32(addr: usize) -> Result<u32> {
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

#[cfg(kalloc_selftest)]
mod tests;
