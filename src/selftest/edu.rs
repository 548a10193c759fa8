// SPDX-License-Identifier: GPL-2.0

//! `kalloc_edu`: a PCI driver for QEMU's `edu` device that takes everything
//! it holds with device-scoped (devm) APIs.
//!
//! `probe()` enables the device, claims and maps its BAR, checks that the
//! registers answer and allocates its buffers; every one of these is on the
//! device's resource list, and the driver data ([`Edu`]) holds the handles.
//! There is no free anywhere: when the device is unbound (sysfs `unbind`,
//! kalloc unloaded, device removed), the driver core drops the driver data
//! (handles only) and then releases the resources in reverse order. The
//! handles borrow the bound device for `'bound`, so nothing can use a
//! resource after that.
//!
//! QEMU's edu device (`-device edu`, docs/specs/edu.rst in QEMU): BAR 0 is
//! 1 MiB of registers; 0x00 identifies it (0xRRrr00ed, version RR.rr), 0x04
//! reads back the bitwise inverse of what was written to it, and it can
//! DMA to and from a 4 KiB buffer.

use crate::devm::{self, DevmBox, DevmIoMap, DevmOwned, DevmPages, DevmStr};
use crate::gfp::GFP_KERNEL;
use kernel::{
    device::Core,
    dma::{Device as _, DmaMask},
    driver,
    io::Io,
    pci,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    ThisModule,
};

/// The driver's name.
const NAME: &CStr = c"kalloc_edu";

/// The vendor ID of QEMU's own test devices.
pub(crate) const VENDOR_ID: u16 = 0x1234;
/// The device ID of edu.
pub(crate) const DEVICE_ID: u16 = 0x11e8;

/// The part of BAR 0 the driver uses, for the accessors that are checked
/// at compile time.
const REGS: usize = 0x100;
/// Identification register: 0xRRrr00ed.
const ID: usize = 0x00;
/// Liveness check register: reads back the inverse of what was written.
const LIVENESS: usize = 0x04;
/// The values probe writes to the liveness register.
const PATTERNS: [u32; 4] = [0, u32::MAX, 0x1234_5678, 0xa5a5_5a5a];

/// How many device resources probe takes: the enable, the claimed and
/// mapped BAR, the check results, the label, the staging page and the
/// coherent DMA buffer.
pub(crate) const DEVICE_RESOURCES: usize = 6;

/// QEMU's vendor as upstream's type for PCI vendor IDs.
///
/// A workaround, not to copy: upstream names only the vendors of
/// `pci_ids.h` (0x1234 is not one) and makes no others outside the kernel
/// crate, so this relies on the private layout of `pci::Vendor`. A driver
/// for a listed vendor uses its constant (`pci::Vendor::REDHAT`).
const VENDOR: pci::Vendor = {
    // SAFETY: `pci::Vendor` is a `#[repr(transparent)]` wrapper of a 16-bit
    // vendor ID, and any value is one.
    unsafe { core::mem::transmute::<u16, pci::Vendor>(VENDOR_ID) }
};

#[cfg(not(kalloc_linux_7_2))]
kernel::pci_device_table!(
    EDU_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(VENDOR, DEVICE_ID as u32), ())]
);
#[cfg(kalloc_linux_7_2)]
kernel::pci_device_table!(
    EDU_TABLE,
    MODULE_EDU_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(VENDOR, DEVICE_ID as u32), ())]
);

/// What the driver keeps for a bound device: its driver data, which the
/// driver core boxes, and drops on unbind before it releases the device's
/// resources. Every field is a handle to such a resource, so dropping the
/// state frees nothing.
pub struct Edu<'bound> {
    /// BAR 0, claimed and mapped (`pci_request_region()`, `ioremap()`);
    /// unmapped and released on unbind.
    regs: DevmIoMap<'bound, REGS>,
    /// The values the liveness check wrote (`devm_kcalloc()`).
    checks: DevmBox<'bound, [u32]>,
    /// A name for log lines (`devm_kasprintf()`).
    label: DevmStr<'bound>,
    /// A page of scratch memory, as big as edu's DMA buffer
    /// (`devm_get_free_pages()`). It is NOT a DMA buffer: the device may
    /// only reach memory mapped for it through the DMA API
    /// (`kernel::dma::Coherent`), which gives the bus address.
    staging: DevmPages<'bound>,
    /// DMA-coherent memory the device may reach for as long as it is bound
    /// (the kernel crate's `Coherent`, `dma_alloc_coherent()`), freed
    /// (`dma_free_coherent()`) with the device's resources on unbind, as a
    /// ring of descriptors would be. With `CONFIG_DMA_API_DEBUG` a buffer
    /// still allocated when the driver is unbound is a reported error.
    ring: DevmOwned<'bound, kernel::dma::Coherent<[u32; 256]>>,
}

impl Edu<'_> {
    /// The bus address of [`Edu::ring`].
    fn ring_address(&self) -> u64 {
        #[cfg(not(kalloc_linux_7_2))]
        let addr = self.ring.dma_address();
        #[cfg(kalloc_linux_7_2)]
        let addr = self.ring.dma_handle();
        addr
    }
}

/// The driver.
pub struct EduDriver;

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = Edu<'bound>;
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &EDU_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        #[cfg(not(kalloc_linux_7_2))] _info: Option<&'bound Self::IdInfo>,
        #[cfg(kalloc_linux_7_2)] _info: &'bound Self::IdInfo,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        // Every `?` below returns with some resources taken: the driver
        // core releases them when probe fails, as on unbind.
        let dev = pdev.as_ref();
        devm::pcim_enable_device(pdev)?;
        // edu's DMA engine reaches 28 bits of bus address.
        // SAFETY: This is probe, before any DMA allocation or mapping for
        // this device.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())? };
        pdev.set_master();
        // For kalloc's self-tests only: an early release of BAR 0, if asked.
        #[cfg(CONFIG_KUNIT)]
        testing::early_release(pdev)?;
        // Claims BAR 0 for this driver (`EBUSY` if it is taken), maps it.
        let regs = DevmIoMap::<REGS>::map_bar(pdev, 0, NAME)?;
        #[cfg(CONFIG_KUNIT)]
        testing::REGS_AT.store(regs.addr(), Relaxed);
        #[cfg(CONFIG_KUNIT)]
        testing::dma_round_trip(dev, &regs)?;
        #[cfg(CONFIG_KUNIT)]
        testing::streaming_round_trip(dev, &regs)?;
        let id = regs.read32(ID);
        if id & 0xffff != 0x00ed {
            return Err(ENODEV);
        }

        let mut checks = DevmBox::<[u32]>::new_slice_zeroed(dev, PATTERNS.len(), GFP_KERNEL)?;
        for (check, pattern) in checks.iter_mut().zip(PATTERNS) {
            regs.write32(pattern, LIVENESS);
            if regs.read32(LIVENESS) != !pattern {
                return Err(EIO);
            }
            *check = pattern;
        }

        let (major, minor) = (id >> 24, (id >> 16) & 0xff);
        let label = DevmStr::format(dev, fmt!("edu v{major}.{minor}"), GFP_KERNEL)?;
        let staging = DevmPages::alloc_zeroed(dev, 0, GFP_KERNEL)?;
        let ring = kernel::dma::CoherentBox::<[u32; 256]>::zeroed(dev, GFP_KERNEL)?;
        let ring = DevmOwned::new(dev, ring.into())?;
        let edu = Edu {
            regs,
            checks,
            label,
            staging,
            ring,
        };

        PROBES.fetch_add(1, Relaxed);
        dev_info!(
            pdev,
            "probe: {}, BAR 0 claimed and mapped, {} liveness checks, {} bytes staging, coherent DMA at {:#x}\n",
            &*edu.label,
            edu.checks.len(),
            edu.staging.len(),
            edu.ring_address(),
        );
        Ok(edu)
    }

    fn unbind<'bound>(pdev: &'bound pci::Device<Core<'_>>, edu: Pin<&Self::Data<'bound>>) {
        REMOVES.fetch_add(1, Relaxed);
        // Nothing to free: the device releases its resources after this.
        dev_info!(
            pdev,
            "remove: {}, ID {:#010x}, coherent DMA at {:#x} freed next\n",
            &*edu.label,
            edu.regs.read32(ID),
            edu.ring_address()
        );
    }
}

/// The driver's registration with the PCI core: while it exists, the
/// driver binds to edu devices; dropping it unbinds them.
pub type Registration = driver::Registration<pci::Adapter<EduDriver>>;

/// Registers the driver (C's `pci_register_driver()`); it probes the edu
/// devices there are before this returns.
pub fn register(module: &'static ThisModule) -> Result<Pin<KBox<Registration>>> {
    KBox::pin_init(
        Registration::new(NAME, module),
        kernel::alloc::flags::GFP_KERNEL,
    )
}

// For kalloc's self-tests: how often the driver was bound and unbound.
static PROBES: Atomic<usize> = Atomic::new(0);
static REMOVES: Atomic<usize> = Atomic::new(0);

/// How many times `probe()` succeeded.
pub(crate) fn probes() -> usize {
    PROBES.load(Relaxed)
}

/// How many times a bound device was unbound.
pub(crate) fn removes() -> usize {
    REMOVES.load(Relaxed)
}

/// Test aids for the `kalloc_devm` suite (KUnit builds only): where probe
/// mapped BAR 0, and an early release probe makes when asked.
#[cfg(CONFIG_KUNIT)]
pub(crate) mod testing {
    use super::*;
    use crate::selftest::devres::devres_count;
    use kernel::device::Bound;

    /// Where the last probe mapped BAR 0.
    pub(crate) static REGS_AT: Atomic<usize> = Atomic::new(0);

    /// Set by the suite to have probe call [`early_release`] for real.
    pub(crate) static EARLY_RELEASE: Atomic<bool> = Atomic::new(false);
    /// What the early mapping read from the identification register.
    pub(crate) static EARLY_ID: Atomic<u32> = Atomic::new(0);
    /// How many entries the early release took off the device's list.
    pub(crate) static EARLY_OFF_LIST: Atomic<usize> = Atomic::new(0);
    /// Whether a read from the early mapping faulted just after the release.
    pub(crate) static EARLY_UNMAPPED: Atomic<bool> = Atomic::new(false);

    /// The result of the DMA round trip of the first probe: 0 not run, 1
    /// the bytes came back, 2 they did not.
    pub(crate) static DMA_ROUND_TRIP: Atomic<u32> = Atomic::new(0);

    /// Once: copies 1 KiB from DMA-coherent memory (the kernel crate's
    /// `Coherent`) into edu's buffer with edu's DMA engine, and back into
    /// other coherent memory, and records in [`DMA_ROUND_TRIP`] whether the
    /// bytes came back. kalloc's mapping of BAR 0 drives the engine.
    pub(super) fn dma_round_trip(
        dev: &kernel::device::Device<Bound>,
        regs: &crate::iomem::IoMap<REGS>,
    ) -> Result {
        use kernel::alloc::flags::GFP_KERNEL as K;
        use kernel::dma::{Coherent, CoherentBox};
        const WORDS: usize = 256;

        if DMA_ROUND_TRIP.load(Relaxed) != 0 {
            return Ok(());
        }
        let transfer = |src, dst, cmd| transfer(regs, src, dst, WORDS * 4, cmd);
        let pattern: [u32; WORDS] = core::array::from_fn(|i| (i as u32).wrapping_mul(0x9e37_79b9));
        let mut src = CoherentBox::<[u32; WORDS]>::zeroed(dev, K)?;
        *src = pattern;
        let src: Coherent<[u32; WORDS]> = src.into();
        let dst: Coherent<[u32; WORDS]> = CoherentBox::<[u32; WORDS]>::zeroed(dev, K)?.into();
        #[cfg(not(kalloc_linux_7_2))]
        let (src_addr, dst_addr) = (src.dma_address(), dst.dma_address());
        #[cfg(kalloc_linux_7_2)]
        let (src_addr, dst_addr) = (src.dma_handle(), dst.dma_handle());
        transfer(src_addr, EDU_BUFFER, CMD_START)?;
        transfer(EDU_BUFFER, dst_addr, CMD_START | CMD_TO_RAM)?;
        #[cfg(not(kalloc_linux_7_2))]
        let back: [u32; WORDS] = (&dst).copy_read();
        // SAFETY: The device is done with `dst` (the transfer completed),
        // and nothing else accesses it.
        #[cfg(kalloc_linux_7_2)]
        let back: [u32; WORDS] = unsafe { dst.as_ptr().read_volatile() };
        DMA_ROUND_TRIP.store(if back == pattern { 1 } else { 2 }, Relaxed);
        Ok(())
    }

    /// edu's DMA engine registers and its buffer's address.
    const DMA_SRC: usize = 0x80;
    const DMA_DST: usize = 0x88;
    const DMA_COUNT: usize = 0x90;
    const DMA_CMD: usize = 0x98;
    const CMD_START: u32 = 1;
    const CMD_TO_RAM: u32 = 2;
    const EDU_BUFFER: u64 = 0x40000;

    /// Has edu's DMA engine copy `len` bytes from bus address `src` to
    /// `dst` (one of them edu's buffer, as `cmd` says) and waits until it
    /// is done.
    fn transfer(
        regs: &crate::iomem::IoMap<REGS>,
        src: u64,
        dst: u64,
        len: usize,
        cmd: u32,
    ) -> Result {
        use kernel::io::poll::read_poll_timeout;
        use kernel::time::Delta;
        // The 64-bit registers take 32-bit writes (kalloc's mapping is only
        // 4-byte aligned); the 28-bit DMA mask keeps addresses below 4 GiB.
        regs.write32(u32::try_from(src)?, DMA_SRC);
        regs.write32(u32::try_from(dst)?, DMA_DST);
        regs.write32(u32::try_from(len)?, DMA_COUNT);
        regs.write32(cmd, DMA_CMD);
        read_poll_timeout(
            || Ok(regs.read32(DMA_CMD)),
            |cmd| cmd & CMD_START == 0,
            Delta::from_millis(10),
            Delta::from_secs(5),
        )?;
        Ok(())
    }

    /// What the first probe's streaming round trips showed, one bit each
    /// ([`STREAM_CHECKS`] when all held): kmalloc → edu → pages of order 1
    /// (at their second page), pages → edu → kmalloc read through a sync
    /// for the CPU, a bidirectional buffer, and the refusal of an empty
    /// buffer, of a vmalloc buffer and of a page beyond edu's DMA mask.
    pub(crate) static STREAM_ROUND_TRIP: Atomic<u32> = Atomic::new(0);
    /// The bits of [`STREAM_ROUND_TRIP`], and the bit that says it ran.
    pub(crate) const STREAM_CHECKS: u32 = 0b111_1111;

    /// Once: streaming DMA with kalloc's [`DmaStream`](crate::dma::DmaStream)
    /// through edu's engine; records what held in [`STREAM_ROUND_TRIP`].
    /// With `CONFIG_DMA_API_DEBUG` a mapping leaked, unmapped twice, synced
    /// the wrong way or not checked for errors is a reported error.
    pub(super) fn streaming_round_trip(
        dev: &kernel::device::Device<Bound>,
        regs: &crate::iomem::IoMap<REGS>,
    ) -> Result {
        use crate::dma::{Bidirectional, DmaStream, FromDevice, ToDevice};
        use crate::gfp::{Gfp, GFP_DMA};
        use crate::kmalloc::KmallocBox;
        use crate::pages::Pages;
        use crate::{KBox, KVBox};
        const LEN: usize = 1024;

        if STREAM_ROUND_TRIP.load(Relaxed) != 0 {
            return Ok(());
        }
        let pattern =
            |seed: u8| -> [u8; LEN] { core::array::from_fn(|i| (i as u8).wrapping_mul(31) ^ seed) };
        // edu reaches 28 bits of bus address: the buffers come from
        // ZONE_DMA (the VM has no IOMMU and no bounce buffers).
        let dma = Gfp::from(GFP_KERNEL) | GFP_DMA;
        let mut ok = 1 << 6;
        // kmalloc → edu → the second page of an order-1 block.
        let src: KBox<[u8]> = KBox::from(KmallocBox::new(pattern(1), dma)?);
        let out = DmaStream::map(dev, src, ToDevice)?;
        transfer(regs, out.dma_address(), EDU_BUFFER, LEN, CMD_START)?;
        let back = DmaStream::map(dev, Pages::alloc_zeroed_pages(1, dma)?, FromDevice)?;
        transfer(
            regs,
            EDU_BUFFER,
            back.dma_address() + 4096,
            LEN,
            CMD_START | CMD_TO_RAM,
        )?;
        drop(out);
        let pages = back.unmap();
        let mut got = [0u8; LEN];
        pages.kmap_local(1, |map| map.read(0, &mut got))??;
        if got == pattern(1) {
            ok |= 1;
        }
        // Pages → edu → kmalloc, read through a sync for the CPU.
        let mut pages = pages;
        pages.kmap_local_mut(0, |map| map.write(0, &pattern(2)))??;
        let out = DmaStream::map(dev, pages, ToDevice)?;
        transfer(regs, out.dma_address(), EDU_BUFFER, LEN, CMD_START)?;
        let dst: KBox<[u8]> = KBox::from(KmallocBox::new([0u8; LEN], dma)?);
        let mut back = DmaStream::map(dev, dst, FromDevice)?;
        transfer(
            regs,
            EDU_BUFFER,
            back.dma_address(),
            LEN,
            CMD_START | CMD_TO_RAM,
        )?;
        back.cpu().read(0, &mut got)?;
        if got == pattern(2) {
            ok |= 2;
        }
        drop((out, back));
        // One bidirectional buffer: the CPU writes, edu copies out and back
        // into its second half.
        let both: KBox<[u8]> = KBox::from(KmallocBox::new([0u8; 2 * LEN], dma)?);
        let mut both = DmaStream::map(dev, both, Bidirectional)?;
        both.cpu().write(0, &pattern(3))?;
        transfer(regs, both.dma_address(), EDU_BUFFER, LEN, CMD_START)?;
        transfer(
            regs,
            EDU_BUFFER,
            both.dma_address() + LEN as u64,
            LEN,
            CMD_START | CMD_TO_RAM,
        )?;
        both.cpu().read(LEN, &mut got)?;
        if got == pattern(3) && both.cpu().read(LEN + 1, &mut got) == Err(EINVAL) {
            ok |= 4;
        }
        drop(both);
        // What the DMA API cannot map is refused before C sees it: nothing,
        // vmalloc memory, and a page above edu's 256 MiB (the VM has 1 GiB;
        // the page allocator hands out high addresses first).
        let empty: KBox<[u8]> = KBox::new([0u8; 0], GFP_KERNEL)?;
        if DmaStream::map(dev, empty, ToDevice).err() == Some(EINVAL) {
            ok |= 8;
        }
        let big: KVBox<[u8]> = KVBox::<[u8; 8 << 20]>::zeroed(GFP_KERNEL)?;
        if DmaStream::map(dev, big, FromDevice).err() == Some(EINVAL) {
            ok |= 16;
        }
        // A page beyond 256 MiB: on the debug kernel's second NUMA node
        // (the VM's upper 512 MiB); elsewhere wherever it comes from.
        let high = if crate::selftest::online_nodes() >= 2 {
            Pages::alloc_pages_on(0, GFP_KERNEL, crate::gfp::Node::new(1)?)?.fill(0)
        } else {
            Pages::alloc_zeroed_page(GFP_KERNEL)?
        };
        let beyond = high.page(0).is_some_and(|p| p.pfn() >= (1 << 28) / 4096);
        match DmaStream::map(dev, high, FromDevice) {
            Err(e) if beyond && e == EOVERFLOW => ok |= 32,
            Ok(_) if !beyond => ok |= 32,
            _ => {}
        }
        STREAM_ROUND_TRIP.store(ok, Relaxed);
        Ok(())
    }

    /// If [`EARLY_RELEASE`] is set: claims and maps BAR 0, reads from it,
    /// and releases the mapping at once, before probe maps BAR 0 for itself
    /// (which it can then only do if the release gave back the claim).
    /// Records what it saw in the `EARLY_*` statics.
    pub(super) fn early_release(pdev: &pci::Device<Bound>) -> Result {
        if !EARLY_RELEASE.load(Relaxed) {
            return Ok(());
        }
        let dev = pdev.as_ref();
        let early = DevmIoMap::<4>::map_bar(pdev, 0, NAME)?;
        let (addr, listed) = (early.addr(), devres_count(dev));
        EARLY_ID.store(early.read32(ID), Relaxed);
        early.release().map_err(|_| EAGAIN)?;
        EARLY_OFF_LIST.store(listed.saturating_sub(devres_count(dev)), Relaxed);
        EARLY_UNMAPPED.store(read_edu_nofault(addr) == Err(EFAULT), Relaxed);
        Ok(())
    }
}

/// Maps `len` bytes at `offset` into BAR `bar` of the edu device `dev`
/// (`range` is `Some((offset, len))`), or all of the BAR (`None`): the
/// `kalloc_iomem` suite's only way to its registers. `ENODEV` for any
/// other device.
pub(crate) fn map_edu<const SIZE: usize>(
    dev: &crate::selftest::pci::PciDev,
    bar: u32,
    range: Option<(usize, usize)>,
) -> Result<crate::iomem::IoMap<SIZE>> {
    if (dev.vendor_id(), dev.device_id()) != (VENDOR_ID, DEVICE_ID) {
        return Err(ENODEV);
    }
    // `dev` is QEMU's edu device (checked above), which the test VM has for
    // kalloc's tests. Its driver is kalloc's own (this file), and the
    // `kalloc_iomem` suite acts for it: the driver uses the identification
    // register, and the liveness register and the DMA engine only while it
    // probes, which is never during that suite (it probes when kalloc is
    // loaded, before the suites run, and when the `kalloc_devm` suite,
    // another suite, or the VM's `edu-rebind` step binds it again; KUnit
    // runs one suite at a time).
    // Its BAR 0 holds registers only (other BARs do not exist: mapping them
    // fails before `ioremap()`), and the suite's accesses have no effect
    // beyond the device: its cases read the identification, status and unused
    // registers, and write the liveness register (a scratch register), the
    // factorial register (computed inside the device) and the DMA address
    // register (inert: a transfer starts only when a command is written to
    // 0x98, which no case does). No case writes the status register or the
    // interrupt registers (0x60 and up), so the device raises no interrupt.
    // The BAR stays where it is: the VM has no PCI hotplug and nothing
    // writes the PCI `remove` or `rescan` files.
    // SAFETY: As argued above, the suite may access these registers of
    // edu, and its BAR stays where it is.
    unsafe {
        match range {
            None => dev.map_bar(bar),
            Some((offset, len)) => dev.map_bar_range(bar, offset, len),
        }
    }
}

/// Test support: [`read_nofault_u32`] of `addr`, which is 0 or the address
/// of the identification register of QEMU's edu device in an [`IoMap`]
/// (including one that a device-scoped mapping owns) that is alive or has
/// been dropped since. For the `kalloc_iomem` and `kalloc_devm` suites.
pub(crate) fn read_edu_nofault(addr: usize) -> Result<u32> {
    // Address 0 is a user-space address, refused without a read. While the
    // mapping lives, `addr` is edu's identification register. Once it is
    // gone, `addr` is unmapped, or a newer mapping in the vmalloc area took
    // it: in the test VM, memory (vmalloc, vmap, stacks) or edu's registers,
    // the only device memory the VM maps.
    // SAFETY: So a read at `addr` reads memory or edu's registers, if
    // anything: harmless, as reading edu's registers changes nothing.
    unsafe { crate::selftest::pci::read_nofault_u32(addr) }
}
