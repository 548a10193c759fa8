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
//! those of the kernel crate's [`Io`] trait, implemented for `&IoMap`:
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
//! | `readb/readw/readl/readq(addr + offset)`   | [`Io::try_read8`] .. [`Io::try_read64`], [`Io::read32`] |
//! | `writeb/writew/writel/writeq(v, addr + offset)` | [`Io::try_write8`] .. [`Io::try_write64`], [`Io::write32`] |
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
//! ```ignore
//! use kalloc::iomem::PciDev;
//! use kernel::io::Io;
//!
//! // QEMU's `edu` device: identification register at offset 0.
//! let edu = PciDev::find(0x1234, 0x11e8)?;
//! // SAFETY: No driver drives the edu device, and the registers used below
//! // have no effect beyond it (no DMA, no interrupt).
//! let regs = unsafe { edu.map_bar::<0x100>(0) }?;
//! assert_eq!(regs.read32(0x00), 0x0100_00ed); // offset checked at build time
//! regs.try_write32(0x1234_5678, 0x04)?; // checked at run time
//! assert!(regs.try_read32(0x100_000).is_err()); // beyond the 1 MiB BAR
//! // `iounmap()` and `pci_dev_put()` run here.
//! ```

use core::ptr::{self, NonNull};

use kernel::bindings;
use kernel::io::{Io, IoBase, Mmio, MmioBackend, MmioRaw, PhysAddr, Region, ResourceSize};
use kernel::prelude::*;

use crate::gfp::context_may_sleep;

/// A mapping of device memory made with `ioremap()`, unmapped with
/// `iounmap()` when dropped.
///
/// `SIZE` is a minimum size known at compile time: accesses below it can
/// use the compile-time checked accessors of [`Io`] (`read32(OFFSET)`),
/// accesses anywhere in the mapping the run-time checked ones
/// (`try_read32(offset)`).
///
/// The type is not tied to a device, so a driver can keep it in
/// device-managed storage (`Devres`) to have it unmapped when its device
/// is unbound.
///
/// Mapping and unmapping may sleep: creating an `IoMap` where sleeping is
/// not allowed fails with `EAGAIN`, and an `IoMap` must not be dropped
/// there either (C has no variant of `iounmap()` for atomic context).
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
    /// Errors: `EINVAL` for a zero length, a length below `SIZE` or not a
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
    /// Unmaps the mapping (`iounmap()`), which may sleep: an `IoMap` must
    /// not be dropped where sleeping is not allowed.
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self.io` is a mapping made by
        // `ioremap()` and owned by `self`; no view of it outlives `self`.
        unsafe { bindings::iounmap(self.io.addr() as *mut c_void) };
    }
}

/// The accessors of [`Io`], on the mapping.
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
    /// `pci_get_device(vendor, device, NULL)`), or `ENODEV`.
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
    /// Errors: `EINVAL` if `bar` is not a BAR number (0 to 5) or the BAR
    /// is an I/O port range; `ENODEV` if the device does not implement the
    /// BAR or the PCI core did not assign it.
    pub fn mem_bar(&self, bar: u32) -> Result<MemBar> {
        // SAFETY: By the type invariant, `self.0` is a valid `struct pci_dev`.
        unsafe { mem_bar_of(self.0.as_ptr(), bar) }
    }

    /// Maps all of memory BAR `bar` (C's `ioremap()` of
    /// `pci_resource_start()`, `pci_resource_len()`). May sleep.
    ///
    /// Errors: as for [`PciDev::mem_bar`] and [`IoMap::ioremap`].
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
    /// Errors: as for [`PciDev::mem_bar`]; `EINVAL` for a zero `len`;
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
/// `copy_from_kernel_nofault()`): `EFAULT` if nothing is mapped there,
/// `ERANGE` for a user-space address.
///
/// A diagnostic, for instance to check that an [`IoMap`] is gone once it
/// has been dropped. It is a plain load, not an MMIO accessor.
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

/// Test support: [`read_nofault_u32`] of `addr`, which is 0 or the address
/// of the identification register of QEMU's edu device in an [`IoMap`]
/// (including one that a device-scoped mapping owns) that is alive or has
/// been dropped since. For the `kalloc_iomem` and `kalloc_devm` suites.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn read_edu_nofault(addr: usize) -> Result<u32> {
    // Address 0 is a user-space address, refused without a read. While the
    // mapping lives, `addr` is edu's identification register. Once it is
    // gone, `addr` is unmapped, or a newer mapping in the vmalloc area took
    // it: in the test VM, memory (vmalloc, vmap, stacks) or edu's registers,
    // the only device memory the VM maps.
    // SAFETY: So a read at `addr` reads memory or edu's registers, if
    // anything: harmless, as reading edu's registers changes nothing.
    unsafe { read_nofault_u32(addr) }
}

#[kunit_tests(kalloc_iomem)]
mod tests {
    use super::*;
    use kernel::io::poll::read_poll_timeout;
    use kernel::sync::new_spinlock;
    use kernel::time::Delta;

    // QEMU's `edu` device (docs/specs/edu.rst in QEMU): one 1 MiB memory
    // BAR of 32-bit registers, and 64-bit ones from 0x80 on.
    const EDU_VENDOR: u16 = 0x1234;
    const EDU_DEVICE: u16 = 0x11e8;
    const EDU_BAR: u32 = 0;
    const EDU_BAR_LEN: usize = 1 << 20;
    /// Identification: 0xRRrr00ed, version RR.rr.
    const ID: usize = 0x00;
    const ID_VALUE: u32 = 0x0100_00ed;
    /// Liveness check: reads back the bitwise inverse of what was written.
    const LIVENESS: usize = 0x04;
    /// Factorial: write n, wait for the status, read n! (mod 2^32).
    const FACTORIAL: usize = 0x08;
    const STATUS: usize = 0x20;
    const STATUS_COMPUTING: u32 = 0x01;
    /// DMA destination address, a 64-bit register (inert until a DMA
    /// command is written to 0x98).
    const DMA_DST: usize = 0x88;
    /// The registers used here: the first 256 bytes of the BAR.
    const REGS: usize = 0x100;

    fn edu() -> Result<PciDev> {
        PciDev::find(EDU_VENDOR, EDU_DEVICE)
    }

    /// Maps `len` bytes at `offset` into BAR `bar` of the edu device `dev`
    /// (`range` is `Some((offset, len))`), or all of the BAR (`None`): the
    /// tests' only way to its registers. `ENODEV` for any other device.
    fn map_edu<const SIZE: usize>(
        dev: &PciDev,
        bar: u32,
        range: Option<(usize, usize)>,
    ) -> Result<IoMap<SIZE>> {
        if (dev.vendor_id(), dev.device_id()) != (EDU_VENDOR, EDU_DEVICE) {
            return Err(ENODEV);
        }
        // `dev` is QEMU's edu device (checked above), which the test VM has for
        // kalloc's tests. Its driver is kalloc's own (`edu.rs`), and these
        // tests act for it: the driver uses the identification register, and
        // the liveness register only while it probes, which is never during
        // this suite (it probes when kalloc is loaded, before the suites run,
        // and when the `kalloc_devm` suite, another suite, or the VM's
        // `edu-rebind` step binds it again; KUnit runs one suite at a time).
        // Its BAR 0 holds registers only (other BARs do not exist: mapping them
        // fails before `ioremap()`), and the tests' accesses have no effect
        // beyond the device: they read the identification, status and unused
        // registers, and write the liveness register (a scratch register), the
        // factorial register (computed inside the device) and the DMA address
        // register (inert: a transfer starts only when a command is written to
        // 0x98, which no test does). No test writes the status register or the
        // interrupt registers (0x60 and up), so the device raises no interrupt.
        // The BAR stays where it is: the VM has no PCI hotplug and nothing
        // writes the PCI `remove` or `rescan` files.
        // SAFETY: As argued above, the tests may access these registers of
        // edu, and its BAR stays where it is.
        unsafe {
            match range {
                None => dev.map_bar(bar),
                Some((offset, len)) => dev.map_bar_range(bar, offset, len),
            }
        }
    }

    /// Waits until the device is not computing a factorial.
    fn wait_idle(regs: &IoMap<REGS>) -> Result {
        read_poll_timeout(
            || Ok(regs.read32(STATUS)),
            |status| status & STATUS_COMPUTING == 0,
            Delta::from_micros(50),
            Delta::from_secs(2),
        )?;
        Ok(())
    }

    /// The PCI core knows the device and its one memory BAR: 1 MiB,
    /// naturally aligned; there is no BAR 1, and no BAR 6 at all.
    #[test]
    fn edu_is_found_through_the_pci_core() -> Result {
        let dev = edu()?;
        assert_eq!(dev.vendor_id(), EDU_VENDOR);
        assert_eq!(dev.device_id(), EDU_DEVICE);
        let bar = dev.mem_bar(EDU_BAR)?;
        pr_info!(
            "iomem: edu BAR0 at {:#x}, {:#x} bytes\n",
            bar.start,
            bar.len
        );
        assert_eq!(bar.len, EDU_BAR_LEN as ResourceSize);
        assert!(bar.start != 0);
        assert_eq!(bar.start % bar.len, 0);
        assert_eq!(dev.mem_bar(1).err(), Some(ENODEV));
        assert_eq!(dev.mem_bar(6).err(), Some(EINVAL));
        assert_eq!(PciDev::find(EDU_VENDOR, 0xffff).err(), Some(ENODEV));
        Ok(())
    }

    /// The identification register reads 0x010000ed, through the
    /// compile-time and the run-time checked accessor alike.
    #[test]
    fn edu_identification_register() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        assert_eq!(regs.read32(ID), ID_VALUE);
        assert_eq!(regs.try_read32(ID)?, ID_VALUE);
        Ok(())
    }

    /// The liveness register reads back the bitwise inverse of each value
    /// written to it.
    #[test]
    fn edu_liveness_register_inverts() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        for value in [0, u32::MAX, 0x1234_5678, 0xa5a5_a5a5, 0x8000_0001] {
            regs.write32(value, LIVENESS);
            assert_eq!(regs.read32(LIVENESS), !value);
            regs.try_write32(!value, LIVENESS)?;
            assert_eq!(regs.try_read32(LIVENESS)?, value);
        }
        Ok(())
    }

    /// The device computes n! (mod 2^32, so 13! wraps) for n = 0..=13:
    /// write n, poll the status until it is done, read the result.
    #[test]
    fn edu_computes_factorials() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        for n in 0..=13u32 {
            wait_idle(&regs)?;
            regs.write32(n, FACTORIAL);
            wait_idle(&regs)?;
            let expected = (1..=n).fold(1u32, |acc, k| acc.wrapping_mul(k));
            assert_eq!(regs.read32(FACTORIAL), expected);
        }
        assert_eq!(regs.read32(FACTORIAL), 1_932_053_504); // 13! mod 2^32
        Ok(())
    }

    /// A 64-bit register takes and returns 64 bits in one access (two
    /// 32-bit halves would lose the upper one: this device ignores 0x8c),
    /// and its low half reads back through a 32-bit access.
    #[test]
    fn edu_64bit_register() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        let saved = regs.try_read64(DMA_DST)?;
        let value = 0x0123_4567_89ab_cdef_u64;
        regs.try_write64(value, DMA_DST)?;
        let read = regs.try_read64(DMA_DST)?;
        let low = regs.try_read32(DMA_DST)?;
        regs.try_write64(saved, DMA_DST)?;
        assert_eq!(read, value);
        assert_eq!(low, 0x89ab_cdef);
        assert_eq!(regs.try_read64(DMA_DST)?, saved);
        Ok(())
    }

    /// Accesses of every width fail with `EINVAL`, and do not reach the
    /// device, when they end past the mapping, are misaligned, or their
    /// `offset + width` overflows.
    #[test]
    fn bad_accesses_are_refused() -> Result {
        let regs = map_edu::<0>(&edu()?, EDU_BAR, Some((0, REGS)))?;
        assert_eq!(regs.try_read32(REGS - 4)?, !0); // inside: unused register
        for offset in [REGS, REGS + 4, EDU_BAR_LEN, usize::MAX, usize::MAX - 3] {
            assert_eq!(regs.try_read8(offset).err(), Some(EINVAL));
            assert_eq!(regs.try_read16(offset).err(), Some(EINVAL));
            assert_eq!(regs.try_read32(offset).err(), Some(EINVAL));
            assert_eq!(regs.try_read64(offset).err(), Some(EINVAL));
            assert_eq!(regs.try_write8(0, offset).err(), Some(EINVAL));
            assert_eq!(regs.try_write16(0, offset).err(), Some(EINVAL));
            assert_eq!(regs.try_write32(0, offset).err(), Some(EINVAL));
            assert_eq!(regs.try_write64(0, offset).err(), Some(EINVAL));
        }
        // Straddling the end, and misaligned.
        assert_eq!(regs.try_read64(REGS - 4).err(), Some(EINVAL));
        assert_eq!(regs.try_read16(REGS - 1).err(), Some(EINVAL));
        assert_eq!(regs.try_read32(LIVENESS + 2).err(), Some(EINVAL));
        assert_eq!(regs.try_read64(LIVENESS).err(), Some(EINVAL));
        // A refused write leaves the register alone.
        regs.try_write32(0x0f0f_0f0f, LIVENESS)?;
        assert_eq!(regs.try_write32(0, LIVENESS + 1).err(), Some(EINVAL));
        assert_eq!(regs.try_read32(LIVENESS)?, 0xf0f0_f0f0);
        Ok(())
    }

    /// Mappings that make no sense are refused before `ioremap()`: zero
    /// length, an overflowing or out-of-BAR range, a length below the
    /// static `SIZE` or not a multiple of 4, a misaligned start, a BAR
    /// that does not exist.
    #[test]
    fn bad_mappings_are_refused() -> Result {
        let dev = edu()?;
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((0, 0))).err(),
            Some(EINVAL)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((usize::MAX, 4))).err(),
            Some(EOVERFLOW)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((EDU_BAR_LEN - 4, 8))).err(),
            Some(ERANGE)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((0, EDU_BAR_LEN + 4))).err(),
            Some(ERANGE)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((EDU_BAR_LEN, 4))).err(),
            Some(ERANGE)
        );
        assert_eq!(
            map_edu::<REGS>(&dev, EDU_BAR, Some((0, REGS / 2))).err(),
            Some(EINVAL)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((0, 6))).err(),
            Some(EINVAL)
        );
        assert_eq!(
            map_edu::<0>(&dev, EDU_BAR, Some((2, 4))).err(),
            Some(EINVAL)
        );
        assert_eq!(map_edu::<0>(&dev, 1, None).err(), Some(ENODEV));
        assert_eq!(map_edu::<0>(&dev, 6, None).err(), Some(EINVAL));
        // The last register of the BAR can be mapped alone.
        let last = map_edu::<4>(&dev, EDU_BAR, Some((EDU_BAR_LEN - 4, 4)))?;
        assert_eq!(last.read32(0), !0);
        Ok(())
    }

    /// A sub-range mapping starts at its offset: mapped from 0x04, the
    /// liveness register is at offset 0.
    #[test]
    fn bar_range_mapping_starts_at_its_offset() -> Result {
        let regs = map_edu::<4>(&edu()?, EDU_BAR, Some((LIVENESS, 4)))?;
        regs.write32(0x5555_aaaa, 0);
        assert_eq!(regs.read32(0), 0xaaaa_5555);
        assert_eq!(regs.try_read32(4).err(), Some(EINVAL));
        Ok(())
    }

    /// In atomic context, mapping is refused with `EAGAIN` instead of
    /// sleeping; outside, the same mapping works.
    #[test]
    fn mapping_in_atomic_context_is_refused() -> Result {
        let dev = edu()?;
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            assert_eq!(map_edu::<REGS>(&dev, EDU_BAR, None).err(), Some(EAGAIN));
        }
        assert_eq!(map_edu::<REGS>(&dev, EDU_BAR, None)?.read32(ID), ID_VALUE);
        Ok(())
    }

    /// The mapping is there while the `IoMap` lives (a plain load reads the
    /// identification register) and gone once it is dropped (the same load
    /// faults). `iounmap()` clears the page table entries at once; the
    /// test kernel's `CONFIG_DEBUG_PAGEALLOC` also flushes the TLB at once,
    /// where other kernels may defer that to the next lazy purge.
    #[test]
    fn mapping_is_unmapped_on_drop() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        let addr = regs.addr();
        assert_eq!(read_edu_nofault(addr + ID)?, ID_VALUE);
        drop(regs);
        assert_eq!(read_edu_nofault(addr + ID).err(), Some(EFAULT));
        assert_eq!(read_edu_nofault(0).err(), Some(ERANGE));
        Ok(())
    }
}
