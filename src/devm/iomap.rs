// SPDX-License-Identifier: GPL-2.0

//! [`DevmIoMap`]: a claimed and mapped PCI BAR that belongs to a bound device.

use super::{raw_pci, DevmOwned};
use crate::iomem::IoMap;
use core::ops::Deref;
use kernel::{
    bindings,
    device::{Bound, Core},
    error::to_result,
    ffi::{c_int, c_ulong},
    io::{PhysAddr, ResourceSize},
    pci,
    prelude::*,
    str::CStrExt,
    sync::aref::ARef,
};

/// A memory BAR of a PCI device, claimed (C's `pci_request_region()`) and
/// mapped ([`IoMap`]); dropping it unmaps the BAR, then releases the claim
/// (`pci_release_region()`). It dereferences to the mapping.
///
/// It lives in a [`DevmIoMap`], which drops it when the device is unbound.
///
/// # Invariants
///
/// `map` maps all of the BAR that `_claim` claims.
pub struct BarMap<const SIZE: usize> {
    // Dropped in this order: unmapped first, then released.
    map: IoMap<SIZE>,
    _claim: BarClaim,
}

impl<const SIZE: usize> Deref for BarMap<SIZE> {
    type Target = IoMap<SIZE>;

    fn deref(&self) -> &IoMap<SIZE> {
        &self.map
    }
}

/// A claim on a BAR of a PCI device: while it exists, the BAR's range is
/// reserved (`/proc/iomem` names its owner), so that no other driver that
/// claims its BARs (as drivers do) can map it. Released when dropped.
///
/// # Invariants
///
/// `pci_request_region(pdev, bar)` succeeded for this claim, and the region
/// is released only when it is dropped.
struct BarClaim {
    pdev: ARef<pci::Device>,
    bar: c_int,
}

impl BarClaim {
    /// Claims BAR `bar` (0 to 5, implemented) of `pdev` for `name` (C's
    /// `pci_request_region()`), or `EBUSY` if someone holds it already.
    fn request(pdev: &pci::Device<Bound>, bar: u32, name: &'static CStr) -> Result<Self> {
        let bar = c_int::try_from(bar)?;
        // SAFETY: `pdev` is a valid PCI device. `name` is NUL-terminated and
        // lives for as long as the region can (`'static`).
        to_result(unsafe { bindings::pci_request_region(raw_pci(pdev), bar, name.as_char_ptr()) })?;
        // INVARIANT: The region is reserved, and released on drop.
        Ok(Self {
            pdev: pdev.into(),
            bar,
        })
    }
}

impl Drop for BarClaim {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `pci_request_region()` reserved the
        // region for this claim, and this is the only release.
        unsafe { bindings::pci_release_region(raw_pci(&self.pdev), self.bar) };
    }
}

/// A claimed and mapped memory BAR of a PCI device ([`BarMap`]) that
/// belongs to the bound device: unmapped and released when the device is
/// unbound, or at once with [`DevmOwned::release`] (upstream's
/// `pci::Device::iomap_region_sized`, on kalloc's device-scoped types).
///
/// # Examples
///
/// Compiled, not run: the self-tests' edu driver has claimed the only BAR
/// the test VM has (its probe does exactly this).
///
/// ```no_run
/// use kalloc::devm::DevmIoMap;
/// use kernel::{device::Bound, io::Io, pci};
///
/// // In probe(): BAR 0, with the compile-time checked accessors below 0x100.
/// fn identify(pdev: &pci::Device<Bound>) -> Result<u32> {
///     let regs = DevmIoMap::<0x100>::map_bar(pdev, 0, c"my_driver")?;
///     Ok(regs.read32(0x00)) // unmapped and released when `pdev` is unbound
/// }
/// # let _ = identify;
/// ```
pub type DevmIoMap<'a, const SIZE: usize = 0> = DevmOwned<'a, BarMap<SIZE>>;

impl<'a, const SIZE: usize> DevmIoMap<'a, SIZE> {
    /// Claims memory BAR `bar` of `pdev` for the driver `name` and maps all
    /// of it, until the device is unbound. A driver calls it for the devices
    /// it drives (see the module documentation).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `bar` is not a BAR number (0 to 5) or is an I/O
    /// port range; `ENODEV` if the device does not implement the BAR or it
    /// is not assigned; `EBUSY` if the BAR is claimed already (by another
    /// driver, or by an earlier mapping of this one); as for
    /// [`IoMap::ioremap`] (which may sleep) and [`DevmOwned::new`].
    pub fn map_bar(pdev: &'a pci::Device<Bound>, bar: u32, name: &'static CStr) -> Result<Self> {
        let (start, len) = mem_bar(pdev, bar)?;
        let claim = BarClaim::request(pdev, bar, name)?;
        // SAFETY: `claim` reserves memory BAR `bar` of `pdev` for the caller:
        // no other driver that claims its BARs maps it. The mapping goes before
        // the claim (`BarMap`'s field order), at unbind at the latest.
        let map = unsafe { IoMap::ioremap(start, len) }?;
        // INVARIANT: `map` maps all of the BAR `claim` claims.
        Self::new(pdev.as_ref(), BarMap { map, _claim: claim })
    }
}

/// A memory BAR of a PCI device: where the PCI core placed it in the
/// physical address space, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemBar {
    /// The physical address of the BAR (C's `pci_resource_start()`).
    pub(crate) start: PhysAddr,
    /// Its length in bytes (C's `pci_resource_len()`).
    pub(crate) len: ResourceSize,
}

/// Where memory BAR `bar` of the PCI device `pdev` is.
///
/// # Errors
///
/// `EINVAL` if `bar` is not a BAR number (0 to 5) or is an I/O port range;
/// `ENODEV` if the device does not implement the BAR or it is not assigned.
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

/// Where memory BAR `bar` of `pdev` is: its physical address and length.
fn mem_bar(pdev: &pci::Device<Bound>, bar: u32) -> Result<(PhysAddr, usize)> {
    // SAFETY: `raw_pci(pdev)` is the valid `struct pci_dev` behind `pdev`.
    let bar = unsafe { mem_bar_of(raw_pci(pdev), bar) }?;
    Ok((bar.start, usize::try_from(bar.len)?))
}

/// Enables a PCI device for the time it is bound (C's
/// `pcim_enable_device()`): the device core disables it again on unbind.
///
/// Called from a bus callback (`probe()`), hence the [`Core`] context.
pub fn pcim_enable_device(pdev: &pci::Device<Core<'_>>) -> Result {
    // SAFETY: `raw_pci(pdev)` is a valid `struct pci_dev` in a bus callback,
    // where its device lock is held; the enable is undone by a devres action.
    to_result(unsafe { bindings::pcim_enable_device(raw_pci(pdev)) })
}
