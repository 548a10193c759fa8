// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_devm` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_devm)]
mod kalloc_devm {
    use super::super::*;
    use crate::gfp::__GFP_NOFAIL;
    use crate::gfp::{
        __GFP_HIGHMEM, __GFP_NOWARN, __GFP_RETRY_MAYFAIL, GFP_ATOMIC, GFP_DMA, GFP_DMA32,
        GFP_HIGHUSER, GFP_KERNEL,
    };
    use crate::kmalloc::NOFAIL_MAX_SIZE;
    use crate::selftest::devres::*;
    use crate::selftest::edu::{self, read_edu_nofault, testing as edu_testing};
    use core::cell::Cell;
    use kernel::{device::Bound, sync::aref::ARef};
    use kernel::{
        devres, new_spinlock,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc,
        },
    };

    /// How many resources of each kind a faux device holds.
    const N: usize = 16;
    /// How many faux devices are created and destroyed in turn.
    const ROUNDS: usize = 4;
    /// edu's identification register, at offset 0 of BAR 0: version 1.0.
    const EDU_ID: u32 = 0x0100_00ed;

    /// A new faux device: bound as soon as it exists, unbound when the
    /// registration is dropped. Each case names its own, so that a failed
    /// case (which leaks its device) does not fail the others.
    fn faux_device(name: &CStr) -> Result<FauxDevice> {
        FauxDevice::without_data(name)
    }

    /// The device of a faux device of ours, bound while it lives.
    fn bound(reg: &FauxDevice) -> &Device<Bound> {
        reg.device()
    }

    /// Pages for a device pass the same request check as the page
    /// allocator's own types: what `LowmemPages` refuses, `DevmPages`
    /// refuses with the same error (movable memory among it).
    #[test]
    fn devm_pages_refuse_what_lowmem_pages_refuse() -> Result {
        let reg = faux_device(c"kalloc_devm_same_rules")?;
        let dev = bound(&reg);
        let movable =
            Gfp::from_raw(Gfp::from(GFP_KERNEL).as_raw() | 1 << bindings::___GFP_MOVABLE_BIT)?;
        assert!(movable.movable());
        let refused = [
            (movable, 0),
            (GFP_HIGHUSER, 0),
            (Gfp::from(GFP_KERNEL), MAX_PAGE_ORDER + 1),
        ];
        for (flags, order) in refused {
            let lowmem = crate::pages::LowmemPages::get_free_pages(order, flags).err();
            assert!(lowmem == Some(EINVAL));
            assert!(DevmPages::alloc(dev, order, flags).err() == lowmem);
        }
        Ok(())
    }

    /// What the release actions of one device saw.
    struct Tally {
        released: Atomic<usize>,
        out_of_order: Atomic<usize>,
        last: Atomic<usize>,
    }

    impl Tally {
        fn new() -> Result<Arc<Self>> {
            let tally = Tally {
                released: Atomic::new(0),
                out_of_order: Atomic::new(0),
                last: Atomic::new(usize::MAX),
            };
            Ok(Arc::new(tally, GFP_KERNEL)?)
        }
    }

    /// A release action that counts: dropped by the device when it is
    /// unbound (upstream's `devres::register`, over `devm_add_action()`).
    /// Devres releases in reverse order, so each index is lower than the
    /// one released before it.
    struct Release {
        tally: Arc<Tally>,
        index: usize,
    }

    impl Release {
        fn register(dev: &Device<Bound>, tally: &Arc<Tally>, index: usize) -> Result {
            let tally = tally.clone();
            devres::register(dev, Release { tally, index }, GFP_KERNEL)
        }
    }

    impl Drop for Release {
        fn drop(&mut self) {
            if self.tally.last.xchg(self.index, Relaxed) <= self.index {
                self.tally.out_of_order.fetch_add(1, Relaxed);
            }
            self.tally.released.fetch_add(1, Relaxed);
        }
    }

    /// `n` times 4 KiB of `'x'`, for long strings; counts the chunks it
    /// wrote.
    struct Repeat {
        n: usize,
        written: Cell<usize>,
    }

    impl Repeat {
        fn new(n: usize) -> Self {
            Repeat {
                n,
                written: Cell::new(0),
            }
        }
    }

    impl kernel::fmt::Display for Repeat {
        fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
            const CHUNK: &str = match core::str::from_utf8(&[b'x'; 4096]) {
                Ok(s) => s,
                Err(_) => panic!(),
            };
            for _ in 0..self.n {
                f.write_str(CHUNK)?;
                self.written.set(self.written.get() + 1);
            }
            Ok(())
        }
    }

    /// Text that changes each time it is formatted: `n` times `'x'`, where
    /// `n` grows, or shrinks, by one per call.
    struct Changing {
        n: Cell<usize>,
        grow: bool,
    }

    impl kernel::fmt::Display for Changing {
        fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
            let n = self.n.get();
            self.n.set(if self.grow {
                n + 1
            } else {
                n.saturating_sub(1)
            });
            for _ in 0..n {
                f.write_str("x")?;
            }
            Ok(())
        }
    }

    /// `devm_kmemdup()` copies into memory of the device, and
    /// `devm_krealloc()` grows and shrinks it keeping the values, the memory
    /// staying one entry on the device's list (moved by C when it must);
    /// a new length of 0 or flags kmalloc cannot honour are errors that
    /// change nothing, and `free()` takes the entry off.
    #[test]
    fn kmemdup_and_krealloc_keep_one_entry() -> Result {
        let reg = faux_device(c"kalloc_devm_krealloc")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let source = [1u16, 2, 3];
        let mut buf = DevmBox::from_slice(dev, &source, GFP_KERNEL)?;
        assert_eq!(&buf[..], &source);
        assert_ne!(buf.as_ptr(), source.as_ptr());
        assert_eq!(devres_count(dev), base + 1);
        buf.resize(5000, 9, GFP_KERNEL)?;
        assert_eq!(&buf[..3], &source);
        assert!(buf[3..].iter().all(|&v| v == 9));
        assert_eq!(buf.len(), 5000);
        assert_eq!(devres_count(dev), base + 1);
        buf.resize(2, 0, GFP_KERNEL)?;
        assert_eq!(&buf[..], &[1, 2]);
        assert_eq!(buf.resize(0, 0, GFP_KERNEL).err(), Some(EINVAL));
        assert_eq!(
            buf.resize(4, 0, GFP_KERNEL | __GFP_HIGHMEM).err(),
            Some(EINVAL)
        );
        assert_eq!(&buf[..], &[1, 2]);
        assert_eq!(devres_count(dev), base + 1);
        assert_eq!(
            DevmBox::<[u8]>::from_slice(dev, &[], GFP_KERNEL).err(),
            Some(EINVAL)
        );
        buf.free();
        assert_eq!(devres_count(dev), base);
        Ok(())
    }

    /// Each kind of allocation adds one entry to the device's list and
    /// gives usable memory: written values read back, zeroed kinds are
    /// zero, strings hold what was formatted.
    #[test]
    fn each_allocation_is_one_entry_on_the_device_list() -> Result {
        let reg = faux_device(c"kalloc_devm_entries")?;
        let dev = bound(&reg);
        let base = devres_count(dev);

        let mut value = DevmBox::new(dev, 0x1234_5678_u64, GFP_KERNEL)?;
        *value += 1;
        assert_eq!(*value, 0x1234_5679);
        assert_eq!(core::ptr::from_ref(&*value).addr() % DEVM_ALIGN, 0);
        assert_eq!(devres_count(dev), base + 1);

        let zeroed = DevmBox::<[u64; 8]>::new_zeroed(dev, GFP_KERNEL)?;
        assert!(zeroed.iter().all(|&v| v == 0));
        assert_eq!(devres_count(dev), base + 2);

        let mut array = DevmBox::<[u32]>::new_slice_zeroed(dev, 100, GFP_KERNEL)?;
        assert_eq!(array.len(), 100);
        assert!(array.iter().all(|&v| v == 0));
        array[99] = 7;
        assert_eq!(array[99], 7);
        assert_eq!(devres_count(dev), base + 3);

        let label = DevmStr::format(dev, fmt!("edu-{}.{:02x}", 1, 0xa), GFP_KERNEL)?;
        assert_eq!(label.to_bytes(), b"edu-1.0a");
        assert_eq!(devres_count(dev), base + 4);
        // devm_kstrdup(): a copy, in the device's own memory, not the source.
        let copy = DevmStr::from_cstr(dev, &label, GFP_KERNEL)?;
        assert_eq!(copy.to_bytes(), b"edu-1.0a");
        assert_ne!(copy.as_char_ptr(), label.as_char_ptr());
        assert_eq!(devres_count(dev), base + 5);
        copy.free();
        assert_eq!(devres_count(dev), base + 4);

        // Dirty a block first: freed pages are handed out again first, so a
        // zeroing that did not happen would show.
        drop(crate::pages::LowmemPages::get_free_pages(1, GFP_KERNEL)?.fill(0xa5));
        let mut pages = DevmPages::alloc_zeroed(dev, 1, GFP_KERNEL)?;
        assert_eq!(pages.order(), 1);
        assert_eq!(pages.len(), 2 * bindings::PAGE_SIZE);
        assert!(pages.iter().all(|&b| b == 0));
        pages[bindings::PAGE_SIZE + 1] = 0xa5;
        assert_eq!(pages[bindings::PAGE_SIZE + 1], 0xa5);
        assert_eq!(devres_count(dev), base + 5);
        // Pages not zeroed become `[u8]` once written, every byte.
        let filled = DevmPages::alloc(dev, 1, GFP_KERNEL)?.fill(0x3c);
        assert!(filled.len() == 2 * bindings::PAGE_SIZE && filled.iter().all(|&b| b == 0x3c));
        filled.free();

        // Every handle belongs to the device it was allocated for.
        for owner in [
            value.device(),
            array.device(),
            label.device(),
            pages.device(),
        ] {
            assert!(core::ptr::eq(owner, dev));
        }
        Ok(())
    }

    /// A faux device holding `N` allocations of each kind (their handles
    /// dropped at once: the memory stays with the device) and `N` counting
    /// release actions, destroyed: every action ran, in reverse order, and
    /// the device's list is empty. The memory itself was freed with its
    /// entry (kmemleak reports it otherwise). Devices come and go in turn.
    #[test]
    fn destroying_a_device_releases_everything() -> Result {
        for round in 0..ROUNDS {
            let tally = Tally::new()?;
            let reg = faux_device(c"kalloc_devm_destroy")?;
            let dev = bound(&reg);
            // A reference that outlives the registration, to look at the
            // device once it is gone from the bus.
            let kept: ARef<Device> = dev.into();
            let base = devres_count(dev);
            for i in 0..N {
                let _ = DevmBox::new(dev, i, GFP_KERNEL)?;
                let _ = DevmBox::<[u8; 64]>::new_zeroed(dev, GFP_KERNEL)?;
                let _ = DevmBox::<[u16]>::new_slice_zeroed(dev, i + 1, GFP_KERNEL)?;
                let _ = DevmStr::format(dev, fmt!("round {round}, item {i}"), GFP_KERNEL)?;
                let _ = DevmPages::alloc(dev, (i % 3) as u32, GFP_KERNEL)?;
                Release::register(dev, &tally, i)?;
            }
            assert_eq!(devres_count(dev), base + 6 * N);
            assert!(is_bound(&kept));

            // `faux_device_destroy()`: unbinds the device, then removes it.
            drop(reg);
            assert_eq!(tally.released.load(Relaxed), N);
            assert_eq!(tally.out_of_order.load(Relaxed), 0);
            assert_eq!(devres_count(&kept), 0);
            assert!(!is_bound(&kept));
        }
        Ok(())
    }

    /// Early release takes an allocation off the device's list and frees
    /// it; destroying the device then releases the others and does not
    /// free the early ones again (KASAN would report a double free, and
    /// devres warn about an unknown pointer).
    #[test]
    fn early_release_frees_once() -> Result {
        let tally = Tally::new()?;
        let reg = faux_device(c"kalloc_devm_early")?;
        let dev = bound(&reg);
        let kept: ARef<Device> = dev.into();
        let base = devres_count(dev);

        let mut boxes = KVec::with_capacity(N, GFP_KERNEL)?;
        let mut strings = KVec::with_capacity(N, GFP_KERNEL)?;
        let mut pages = KVec::with_capacity(N, GFP_KERNEL)?;
        for i in 0..N {
            boxes.push(DevmBox::new(dev, i, GFP_KERNEL)?, GFP_KERNEL)?;
            strings.push(DevmStr::format(dev, fmt!("{i}"), GFP_KERNEL)?, GFP_KERNEL)?;
            pages.push(DevmPages::alloc_zeroed(dev, 0, GFP_KERNEL)?, GFP_KERNEL)?;
            Release::register(dev, &tally, i)?;
        }
        assert_eq!(devres_count(dev), base + 4 * N);

        // Give back the even ones, in all three kinds: one entry less each.
        let mut expected = base + 4 * N;
        for (i, b) in boxes.into_iter().enumerate() {
            assert_eq!(*b, i);
            if i % 2 == 0 {
                b.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        for (i, s) in strings.into_iter().enumerate() {
            if i % 2 == 0 {
                s.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        for (i, p) in pages.into_iter().enumerate() {
            if i % 2 == 0 {
                p.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        assert_eq!(expected, base + 4 * N - 3 * N / 2);
        // The early releases ran no release action.
        assert_eq!(tally.released.load(Relaxed), 0);

        drop(reg);
        assert_eq!(tally.released.load(Relaxed), N);
        assert_eq!(devres_count(&kept), 0);
        Ok(())
    }

    /// Requests that make no sense are errors, made before C sees them (no
    /// warning), and add nothing to the device's list.
    #[test]
    fn bad_requests_are_errors() -> Result {
        let reg = faux_device(c"kalloc_devm_bad")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let k = GFP_KERNEL | __GFP_NOWARN;

        // A DMA mapping for a device without a DMA mask (a faux device's
        // bus sets none): C would warn.
        let buf: crate::KBox<[u8]> = crate::KBox::new([1u8; 64], GFP_KERNEL)?;
        assert_eq!(
            crate::dma::DmaStream::map(dev, buf, crate::dma::ToDevice).err(),
            Some(EOVERFLOW)
        );
        // Nothing to allocate.
        assert_eq!(DevmBox::new(dev, (), k).err(), Some(EINVAL));
        assert_eq!(
            DevmBox::<[u8]>::new_slice_zeroed(dev, 0, k).err(),
            Some(EINVAL)
        );
        // Sizes that overflow, or that kmalloc cannot serve.
        let overflow = usize::MAX / 4 + 1;
        assert_eq!(
            DevmBox::<[u32]>::new_slice_zeroed(dev, overflow, k).err(),
            Some(EOVERFLOW)
        );
        assert_eq!(
            DevmBox::<[u64]>::new_slice_zeroed(dev, usize::MAX, k).err(),
            Some(EOVERFLOW)
        );
        let over = DEVM_KMALLOC_MAX_SIZE + 1;
        assert_eq!(
            DevmBox::<[u8]>::new_slice_zeroed(dev, over, k).err(),
            Some(ENOMEM)
        );
        assert_eq!(
            DevmBox::<[u8]>::new_slice_zeroed(dev, usize::MAX, k).err(),
            Some(ENOMEM)
        );
        let long = Repeat::new(DEVM_KMALLOC_MAX_SIZE / 4096);
        assert_eq!(DevmStr::format(dev, fmt!("{long}"), k).err(), Some(ENOMEM));
        // Flags the allocators cannot honour.
        for flags in [
            GFP_KERNEL | GFP_DMA32,
            Gfp::from(GFP_KERNEL | __GFP_HIGHMEM),
            GFP_KERNEL | GFP_DMA | GFP_DMA32,
        ] {
            assert_eq!(DevmBox::new(dev, 0u32, flags).err(), Some(EINVAL));
            assert_eq!(DevmBox::<u32>::new_zeroed(dev, flags).err(), Some(EINVAL));
            assert_eq!(
                DevmBox::<[u32]>::new_slice_zeroed(dev, 4, flags).err(),
                Some(EINVAL)
            );
            assert_eq!(DevmStr::format(dev, fmt!("x"), flags).err(), Some(EINVAL));
            assert_eq!(DevmStr::from_cstr(dev, c"x", flags).err(), Some(EINVAL));
        }
        // Pages: too large an order, highmem, no sleeping, no failing.
        assert_eq!(
            DevmPages::alloc(dev, MAX_PAGE_ORDER + 1, k).err(),
            Some(EINVAL)
        );
        assert_eq!(DevmPages::alloc(dev, u32::MAX, k).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, 0, GFP_HIGHUSER).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, 0, GFP_ATOMIC).err(), Some(EINVAL));
        assert_eq!(
            DevmPages::alloc(dev, 0, GFP_KERNEL | __GFP_NOFAIL).err(),
            Some(EINVAL)
        );
        // Two zones: invalid even where sleeping is allowed.
        let two_zones = GFP_KERNEL | GFP_DMA | GFP_DMA32;
        assert_eq!(DevmPages::alloc(dev, 0, two_zones).err(), Some(EINVAL));

        assert_eq!(devres_count(dev), base);
        Ok(())
    }

    /// The largest requests are served: [`DEVM_KMALLOC_MAX_SIZE`] bytes, and
    /// pages of order [`MAX_PAGE_ORDER`]. `GFP_ATOMIC` works for the kmalloc
    /// family, `GFP_DMA` for both.
    #[test]
    fn largest_requests_and_other_flags_succeed() -> Result {
        let reg = faux_device(c"kalloc_devm_largest")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        // Order-10 allocations: try hard (the VM's 1 GiB may be fragmented),
        // and fail with ENOMEM rather than a warning.
        let large = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;

        let big = DevmBox::<[u8]>::new_slice_zeroed(dev, DEVM_KMALLOC_MAX_SIZE, large)?;
        assert_eq!(big.len(), DEVM_KMALLOC_MAX_SIZE);
        assert_eq!((big[0], big[DEVM_KMALLOC_MAX_SIZE - 1]), (0, 0));
        let pages = DevmPages::alloc(dev, MAX_PAGE_ORDER, large)?;
        assert_eq!(pages.len(), bindings::PAGE_SIZE << MAX_PAGE_ORDER);
        let atomic = DevmBox::new(dev, [1u8; 3], GFP_ATOMIC)?;
        assert_eq!(*atomic, [1, 1, 1]);
        let dma = DevmBox::<[u8; 32]>::new_zeroed(dev, GFP_KERNEL | GFP_DMA)?;
        assert_eq!(*dma, [0; 32]);
        let dma_pages = DevmPages::alloc(dev, 0, GFP_KERNEL | GFP_DMA)?;
        assert_eq!(devres_count(dev), base + 5);

        big.free();
        pages.free();
        dma_pages.free();
        assert_eq!(devres_count(dev), base + 2);
        Ok(())
    }

    /// The kmalloc family takes the flags C takes: `__GFP_NOFAIL` (its
    /// bookkeeping is in the same allocation) up to
    /// [`DEVM_NOFAIL_MAX_SIZE`] bytes, `EINVAL` above, where the object
    /// with its header would need an order C cannot serve without failing;
    /// `GFP_ATOMIC | __GFP_NOFAIL` never (C warns). Under a spinlock
    /// `GFP_ATOMIC` works for each of them (`devres_add()` only takes a
    /// spinlock). Pages refuse both: `devm_get_free_pages()` allocates its
    /// bookkeeping apart, with `GFP_KERNEL`.
    #[test]
    fn kmalloc_family_takes_what_c_takes() -> Result {
        let reg = faux_device(c"kalloc_devm_flags")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let nofail = GFP_KERNEL | __GFP_NOFAIL;
        let b = DevmBox::<[u8]>::new_slice_zeroed(dev, DEVM_NOFAIL_MAX_SIZE, nofail)?;
        assert!(b.len() == DEVM_NOFAIL_MAX_SIZE && b.iter().all(|&x| x == 0));
        assert_eq!(*DevmBox::new(dev, 5u32, nofail)?, 5);
        assert_eq!(
            DevmStr::format(dev, fmt!("n{}", 1), nofail)?.to_bytes(),
            b"n1"
        );
        assert_eq!(DevmStr::from_cstr(dev, c"nf", nofail)?.to_bytes(), b"nf");
        let over = DEVM_NOFAIL_MAX_SIZE + 1;
        assert_eq!(
            DevmBox::<[u8]>::new_slice_zeroed(dev, over, nofail).err(),
            Some(EINVAL)
        );
        // Text kmalloc could format with `__GFP_NOFAIL`, too long for devm.
        // 2148 bytes: over devm's limit, under kmalloc's.
        assert!(DEVM_NOFAIL_MAX_SIZE < 2148 && 2148 < NOFAIL_MAX_SIZE);
        assert_eq!(
            DevmStr::format(dev, fmt!("{:2148}", "x"), nofail).err(),
            Some(EINVAL)
        );
        assert_eq!(
            DevmBox::new(dev, 0u8, GFP_ATOMIC | __GFP_NOFAIL).err(),
            Some(EINVAL)
        );
        assert_eq!(DevmPages::alloc(dev, 0, nofail).err(), Some(EINVAL));
        assert_eq!(devres_count(dev), base + 4);

        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let (boxed, zeroed, text, copy, pages) = {
            let _guard = lock.lock();
            (
                DevmBox::new(dev, 7u32, GFP_ATOMIC).map(|b| *b),
                DevmBox::<[u16]>::new_slice_zeroed(dev, 3, GFP_ATOMIC).map(|b| b.len()),
                DevmStr::format(dev, fmt!("a{}", 2), GFP_ATOMIC).map(|_| ()),
                DevmStr::from_cstr(dev, c"b", GFP_ATOMIC).map(|_| ()),
                DevmPages::alloc(dev, 0, GFP_ATOMIC).err(),
            )
        };
        assert_eq!((boxed, zeroed, text, copy), (Ok(7), Ok(3), Ok(()), Ok(())));
        assert_eq!(pages, Some(EINVAL));
        assert_eq!(devres_count(dev), base + 8);
        Ok(())
    }

    /// Under a spinlock, handing a value to the device is refused with
    /// `EAGAIN` (its bookkeeping is allocated with `GFP_KERNEL`), and the
    /// value is dropped at once; so is device memory with `GFP_KERNEL`,
    /// while `GFP_ATOMIC` works. Outside, the value goes to the device,
    /// which drops it when it is destroyed. (No assertions under the lock:
    /// a failed one would end the test with the lock held.)
    #[test]
    fn owned_values_need_a_sleeping_context() -> Result {
        let tally = Tally::new()?;
        let reg = faux_device(c"kalloc_devm_atomic")?;
        let dev = bound(&reg);
        let kept: ARef<Device> = dev.into();
        let base = devres_count(dev);
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;

        let release = |index| Release {
            tally: tally.clone(),
            index,
        };
        let (owned, sleeping, atomic) = {
            let _guard = lock.lock();
            let owned = DevmOwned::new(dev, release(1)).err();
            let sleeping = DevmBox::new(dev, 0u32, GFP_KERNEL).err();
            let atomic = DevmBox::new(dev, 7u32, GFP_ATOMIC).map(|b| *b);
            (owned, sleeping, atomic)
        };
        assert_eq!(owned, Some(EAGAIN));
        assert_eq!(tally.released.load(Relaxed), 1);
        assert_eq!(sleeping, Some(EAGAIN));
        assert_eq!(atomic, Ok(7));
        assert_eq!(devres_count(dev), base + 1);

        let owned = DevmOwned::new(dev, release(0))?;
        assert_eq!(owned.index, 0);
        assert_eq!(devres_count(dev), base + 2);
        // Releasing early drops the value, which may sleep: under the lock
        // the handle comes back and the value stays with the device.
        let early = DevmOwned::new(dev, release(2))?;
        let refused = {
            let _guard = lock.lock();
            early.release().err()
        };
        assert_eq!(tally.released.load(Relaxed), 1);
        assert_eq!(devres_count(dev), base + 3);
        let early = refused.ok_or(EINVAL)?;
        assert!(early.release().is_ok());
        assert_eq!(tally.released.load(Relaxed), 2);
        assert_eq!(devres_count(dev), base + 2);
        drop(reg);
        assert_eq!(tally.released.load(Relaxed), 3);
        assert_eq!(devres_count(&kept), 0);
        Ok(())
    }

    /// `devm_kasprintf()` through `%pA` formats Rust arguments: width,
    /// precision, `Debug`, non-ASCII text, the empty string, and strings
    /// longer than a page, in full.
    #[test]
    fn kasprintf_formats_rust_arguments() -> Result {
        let reg = faux_device(c"kalloc_devm_kasprintf")?;
        let dev = bound(&reg);

        let s = DevmStr::format(
            dev,
            fmt!("{:>6}|{:<4}|{:.3}", "ab", 7, "abcdef"),
            GFP_KERNEL,
        )?;
        assert_eq!(s.to_bytes(), b"    ab|7   |abc");
        let s = DevmStr::format(dev, fmt!("{:?} {:#x} µs", "q\"", 255), GFP_KERNEL)?;
        assert_eq!(s.to_bytes(), "\"q\\\"\" 0xff µs".as_bytes());
        let empty = DevmStr::format(dev, fmt!(""), GFP_KERNEL)?;
        assert_eq!(empty.to_bytes_with_nul(), b"\0");
        let long = DevmStr::format(dev, fmt!("<{}>", Repeat::new(3)), GFP_KERNEL)?;
        let bytes = long.to_bytes();
        assert_eq!(bytes.len(), 3 * 4096 + 2);
        assert_eq!(
            (bytes[0], bytes[1], bytes[3 * 4096], bytes[3 * 4096 + 1]),
            (b'<', b'x', b'x', b'>')
        );
        Ok(())
    }

    /// `DevmStr::format` checks the text before C formats it, and formats
    /// it once, only as far as needed: a NUL byte (which would cut the C
    /// string) is `EINVAL`, and a 1 GiB `Display` is `ENOMEM` after no more
    /// than the largest string's worth of text; nothing goes on the
    /// device's list. Text that is not the same when formatted again is
    /// formatted once: C (which formats twice) gets that text both times.
    #[test]
    fn format_refuses_nul_huge_and_changing_text() -> Result {
        let reg = faux_device(c"kalloc_devm_format")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let k = GFP_KERNEL | __GFP_NOWARN;

        assert_eq!(
            DevmStr::format(dev, fmt!("a{}b", "\0"), k).err(),
            Some(EINVAL)
        );
        assert_eq!(
            DevmStr::format(dev, fmt!("{}", '\0'), k).err(),
            Some(EINVAL)
        );

        let huge = Repeat::new(1 << 18);
        assert_eq!(DevmStr::format(dev, fmt!("{huge}"), k).err(), Some(ENOMEM));
        assert!(huge.written.get() <= DEVM_KMALLOC_MAX_SIZE / 4096);

        assert_eq!(devres_count(dev), base);

        let growing = Changing {
            n: Cell::new(1),
            grow: true,
        };
        assert!(&*DevmStr::format(dev, fmt!("{growing}"), k)? == c"x");
        assert_eq!(growing.n.get(), 2);
        let shrinking = Changing {
            n: Cell::new(2),
            grow: false,
        };
        assert!(&*DevmStr::format(dev, fmt!("{shrinking}"), k)? == c"xx");
        assert_eq!(shrinking.n.get(), 1);
        assert_eq!(devres_count(dev), base + 2);
        Ok(())
    }

    /// The edu device, found through the PCI core.
    fn edu_device() -> Result<ARef<pci::Device>> {
        find_pci_device(edu::VENDOR_ID, edu::DEVICE_ID)
    }

    /// Where kalloc's edu driver mapped BAR 0 when it was last probed.
    fn edu_regs() -> usize {
        edu_testing::REGS_AT.load(Relaxed)
    }

    /// kalloc's edu driver is bound (it has been probed once more than
    /// removed), holds exactly the device resources its probe takes, and
    /// its mapping of BAR 0 reads edu's identification register.
    #[test]
    fn edu_driver_holds_its_device_resources() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        assert_eq!(edu::probes(), edu::removes() + 1);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        assert!(with_bound_to_kalloc(dev, |_| ()).is_ok());
        assert_eq!(read_edu_nofault(edu_regs())?, EDU_ID);
        // The first probe's DMA round trip through kernel-crate coherent
        // memory, driven through kalloc's mapping of BAR 0.
        assert_eq!(edu_testing::DMA_ROUND_TRIP.load(Relaxed), 1);
        // And its streaming round trips through kalloc's `DmaStream`.
        assert_eq!(
            edu_testing::STREAM_ROUND_TRIP.load(Relaxed),
            edu_testing::STREAM_CHECKS
        );
        Ok(())
    }

    /// `N` more device-scoped allocations and `N` counting release actions
    /// for the edu device, then it is unbound (as by sysfs `unbind`): the
    /// driver's remove ran, every action ran, in reverse order, the
    /// device's list is empty, and the driver's mapping of BAR 0 is gone (a
    /// load from it faults). Bound again (sysfs `bind`), the driver takes
    /// the same resources as before, and no more: its probe claims BAR 0
    /// again, which it could not (`EBUSY`) had unbinding not released it.
    #[test]
    fn edu_unbind_releases_everything_and_rebind_restores_it() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let (probes, removes) = (edu::probes(), edu::removes());
        let tally = Tally::new()?;

        // No assertions while the device lock is held: a failed one ends the
        // test without unlocking.
        with_bound_to_kalloc(dev, |dev| -> Result {
            for i in 0..N {
                let _ = DevmBox::new(dev, i, GFP_KERNEL)?;
                Release::register(dev, &tally, i)?;
            }
            Ok(())
        })??;
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES + 2 * N);
        let regs = edu_regs();
        assert_eq!(read_edu_nofault(regs)?, EDU_ID);

        release_driver(dev);
        assert_eq!(edu::removes(), removes + 1);
        assert_eq!(tally.released.load(Relaxed), N);
        assert_eq!(tally.out_of_order.load(Relaxed), 0);
        assert_eq!(devres_count(dev), 0);
        if crate::selftest::can_see_unmapping() {
            assert_eq!(read_edu_nofault(regs).err(), Some(EFAULT));
        }
        assert!(!is_bound(dev));
        assert_eq!(with_bound_to_kalloc(dev, |_| ()).err(), Some(ENODEV));

        assert!(attach_driver(dev)?);
        assert_eq!(edu::probes(), probes + 1);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        assert_eq!(read_edu_nofault(edu_regs())?, EDU_ID);
        Ok(())
    }

    /// Releasing a device-scoped mapping early unmaps it, takes it off the
    /// list and gives back its claim on the BAR, once. The edu driver's
    /// probe, asked to, maps BAR 0 and releases that mapping before it maps
    /// BAR 0 for itself (which it can only do if the claim was given back);
    /// the device, unbound later, does not unmap it again (vunmap would
    /// warn).
    #[test]
    fn iomap_early_release_unmaps_once() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let probes = edu::probes();
        edu_testing::EARLY_ID.store(0, Relaxed);
        edu_testing::EARLY_OFF_LIST.store(0, Relaxed);
        edu_testing::EARLY_UNMAPPED.store(false, Relaxed);

        edu_testing::EARLY_RELEASE.store(true, Relaxed);
        release_driver(dev);
        let bound = attach_driver(dev);
        edu_testing::EARLY_RELEASE.store(false, Relaxed);
        assert!(bound?);
        assert_eq!(edu::probes(), probes + 1);
        assert_eq!(edu_testing::EARLY_ID.load(Relaxed), EDU_ID);
        assert_eq!(edu_testing::EARLY_OFF_LIST.load(Relaxed), 1);
        if crate::selftest::can_see_unmapping() {
            assert!(edu_testing::EARLY_UNMAPPED.load(Relaxed));
        }
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);

        release_driver(dev);
        assert_eq!(devres_count(dev), 0);
        assert!(attach_driver(dev)?);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        Ok(())
    }

    /// Mapping a BAR that is not there, or not memory, is an error; so is
    /// mapping a BAR that is claimed already (edu's driver holds BAR 0).
    #[test]
    fn iomap_bad_bars_are_errors() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let errs = with_bound_to_kalloc(dev, |dev| -> Result<_> {
            let pdev: &pci::Device<Bound> = dev.try_into()?;
            let err = |bar| DevmIoMap::<0>::map_bar(pdev, bar, c"kalloc_devm_test").err();
            Ok([err(0), err(1), err(5), err(6), err(u32::MAX)])
        })??;
        let expected = [
            Some(EBUSY),
            Some(ENODEV),
            Some(ENODEV),
            Some(EINVAL),
            Some(EINVAL),
        ];
        assert_eq!(errs, expected);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        Ok(())
    }

    /// The state of a faux device of ours, made from its bound device.
    struct Kept<'bound> {
        dev: &'bound Device<Bound>,
        ring: DevmBox<'bound, [u32]>,
        label: DevmStr<'bound>,
        /// Where `drop` writes the device's resource count.
        seen: &'static Atomic<usize>,
    }

    impl Drop for Kept<'_> {
        fn drop(&mut self) {
            self.seen.store(devres_count(self.dev), Relaxed);
        }
    }

    struct KeptFaux;

    impl FauxData for KeptFaux {
        type Data<'bound> = Kept<'bound>;
    }

    static SEEN_AT_DROP: Atomic<usize> = Atomic::new(usize::MAX);

    /// A faux device keeps the memory its state holds, for as long as it
    /// exists: what `probe` wrote reads back later, through `with`; the
    /// state is dropped while the device still holds that memory, and the
    /// device is destroyed after it, so its name is free again.
    #[test]
    fn faux_device_keeps_its_memory_with_it() -> Result {
        let name = c"kalloc_devm_kept";
        for round in 0..2u32 {
            let faux = FauxDevice::<KeptFaux>::new(name, |dev| {
                let mut ring = DevmBox::<[u32]>::new_slice_zeroed(dev, 32, GFP_KERNEL)?;
                ring[31] = 0xfeed + round;
                let label = DevmStr::format(dev, fmt!("kept-{round}"), GFP_KERNEL)?;
                Ok(Kept {
                    dev,
                    ring,
                    label,
                    seen: &SEEN_AT_DROP,
                })
            })?;
            let (last, label_ok, entries) = faux.with(|dev, kept| {
                (
                    kept.ring[31],
                    kept.label.to_bytes() == [&b"kept-0"[..], b"kept-1"][round as usize],
                    devres_count(dev),
                )
            });
            assert_eq!(last, 0xfeed + round);
            assert!(label_ok);
            assert_eq!(entries, devres_count(faux.device()));
            assert!(entries >= 2);
            assert!(is_bound(faux.device()));
            SEEN_AT_DROP.store(usize::MAX, Relaxed);
            drop(faux);
            // Dropped while the device still held its two allocations.
            assert_eq!(SEEN_AT_DROP.load(Relaxed), entries);
        }
        Ok(())
    }

    /// A `probe` that fails leaves no device behind: its error comes back,
    /// and the name can be used again at once.
    #[test]
    fn faux_device_whose_probe_fails_is_gone() -> Result {
        let name = c"kalloc_devm_probe_fails";
        let failed = FauxDevice::<KeptFaux>::new(name, |dev| {
            let _ring = DevmBox::<[u32]>::new_slice_zeroed(dev, 8, GFP_KERNEL)?;
            Err(EBUSY)
        });
        assert!(failed.err() == Some(EBUSY));
        let again = FauxDevice::without_data(name)?;
        assert!(is_bound(again.device()));
        Ok(())
    }
}
