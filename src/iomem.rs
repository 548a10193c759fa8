// SPDX-License-Identifier: GPL-2.0

//! ioremap: device memory (MMIO) mapped for the CPU, as an owning type,
//! [`IoMap`].
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
//! | `ioremap(phys, size)`                      | [`IoMap::ioremap`] (`unsafe`)     |
//! | `iounmap(addr)`                            | dropping the [`IoMap`]            |
//! | `readb/readw/readl/readq(addr + offset)`   | [`Io::try_read8`](kernel::io::Io::try_read8) .. [`Io::try_read64`](kernel::io::Io::try_read64), [`Io::read32`](kernel::io::Io::read32) |
//! | `writeb/writew/writel/writeq(v, addr + offset)` | [`Io::try_write8`](kernel::io::Io::try_write8) .. [`Io::try_write64`](kernel::io::Io::try_write64), [`Io::write32`](kernel::io::Io::write32) |
//!
//! Mapping device memory is `unsafe`: register writes can make a device do
//! anything it can do, DMA into any memory included, so only code entitled
//! to drive the device may map its registers. A driver maps the BARs of
//! the device it is bound to through that device: the kernel crate's
//! `kernel::pci::Device::iomap_region` (a `pci::Bar` in a `Devres`, as
//! `samples/rust/rust_driver_pci.rs` does), or [`DevmIoMap::map_bar`],
//! both safe. [`IoMap`] is for a physical range a driver knows to be its
//! device's by other means (a platform device's resource, a firmware
//! table).
//!
//! [`DevmIoMap::map_bar`]: crate::devm::DevmIoMap::map_bar

use kernel::bindings;
#[cfg(not(kalloc_linux_7_2))]
use kernel::io::{IoBase, MmioBackend, Region};
use kernel::io::{Mmio, MmioRaw, PhysAddr};
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
    #[cfg(not(kalloc_linux_7_2))]
    io: MmioRaw<Region<SIZE>>,
    #[cfg(kalloc_linux_7_2)]
    io: MmioRaw<SIZE>,
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
        if len == 0 || len < SIZE || len & 3 != 0 || phys & 3 != 0 {
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
        #[cfg(not(kalloc_linux_7_2))]
        let io = MmioRaw::new_region(addr as usize, len);
        #[cfg(kalloc_linux_7_2)]
        let io = MmioRaw::new(addr as usize, len);
        match io {
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
#[cfg(not(kalloc_linux_7_2))]
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

/// The accessors of [`Io`](kernel::io::Io), on the mapping (Linux 7.2:
/// `Io` is implemented for `Mmio<SIZE>`, which the mapping dereferences to).
#[cfg(kalloc_linux_7_2)]
impl<const SIZE: usize> core::ops::Deref for IoMap<SIZE> {
    type Target = Mmio<SIZE>;

    fn deref(&self) -> &Mmio<SIZE> {
        // SAFETY: By the type invariant, `self.io` is a valid, 4-byte
        // aligned mapping of at least `SIZE` bytes, and it stays mapped
        // while `self` is borrowed.
        unsafe { Mmio::from_raw(&self.io) }
    }
}

#[cfg(kalloc_selftest)]
mod tests;
