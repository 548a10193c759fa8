// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_iomem` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_iomem)]
mod kalloc_iomem {
    use super::super::*;
    use crate::selftest::edu::{map_edu, read_edu_nofault};
    use crate::selftest::pci::PciDev;
    use kernel::io::poll::read_poll_timeout;
    use kernel::io::Io;
    use kernel::io::ResourceSize;
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
    /// where other kernels may defer that to the next lazy purge (there the
    /// case is skipped: it needs `CONFIG_DEBUG_PAGEALLOC`).
    #[test]
    fn mapping_is_unmapped_on_drop() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        let addr = regs.addr();
        assert_eq!(read_edu_nofault(addr + ID)?, ID_VALUE);
        drop(regs);
        if crate::selftest::can_see_unmapping() {
            assert_eq!(read_edu_nofault(addr + ID).err(), Some(EFAULT));
        }
        assert_eq!(read_edu_nofault(0).err(), Some(ERANGE));
        Ok(())
    }

    /// `iounmap()` may sleep, yet a mapping may be dropped under a
    /// spinlock: an async worker then unmaps it (no "sleeping function
    /// called from invalid context" splat, which fails the run), and once
    /// the deferred frees are done the mapping is gone.
    #[test]
    fn mapping_dropped_in_atomic_context_is_unmapped_later() -> Result {
        let regs = map_edu::<REGS>(&edu()?, EDU_BAR, None)?;
        let addr = regs.addr();
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            drop(regs);
        }
        crate::selftest::wait_deferred_frees();
        if crate::selftest::can_see_unmapping() {
            assert_eq!(read_edu_nofault(addr + ID).err(), Some(EFAULT));
        }
        Ok(())
    }
}
