// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_vmalloc` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_vmalloc)]
mod kalloc_vmalloc {
    use super::super::*;
    use crate::gfp::{__GFP_COMP, __GFP_HIGHMEM, __GFP_NOWARN, __GFP_THISNODE, GFP_DMA, GFP_DMA32};
    use core::cell::Cell;
    use kernel::sync::{new_spinlock, rcu};

    /// The big buffer: 64 MiB, 16 times what kmalloc can hand out.
    const BIG: usize = 64 << 20;

    /// Number of pages needed for `size` bytes.
    fn pages(size: usize) -> usize {
        size.div_ceil(PAGE_SIZE)
    }

    /// vzalloc: every value is zero, and the buffer is writable and
    /// keeps what is written.
    #[test]
    fn vzalloc_is_zeroed_and_writable() -> Result {
        let mut buf = VBuf::<u64>::zeroed(3 * PAGE_SIZE, GFP_KERNEL)?;
        assert_eq!(buf.len(), 3 * PAGE_SIZE);
        assert!(buf.iter().all(|&x| x == 0));
        for (i, x) in buf.iter_mut().enumerate() {
            *x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        for (i, x) in buf.iter().enumerate() {
            assert_eq!(*x, (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        Ok(())
    }

    /// vmalloc without zeroing: `from_fn` initialises every value; the
    /// memory is vmalloc memory; `new_uninit` gives the requested length.
    #[test]
    fn vmalloc_from_fn_and_uninit() -> Result {
        let buf = VBuf::from_fn(10_000, GFP_KERNEL, |i| i as u32 * 3)?;
        assert_eq!(buf.len(), 10_000);
        assert!(buf.iter().enumerate().all(|(i, &x)| x == i as u32 * 3));
        assert!(is_vmalloc_addr(buf.as_ptr()));

        let raw = VBuf::<u8>::new_uninit(PAGE_SIZE + 1, GFP_KERNEL)?;
        assert_eq!(raw.len(), PAGE_SIZE + 1);
        assert!(is_vmalloc_addr(raw.as_ptr()));
        assert_eq!(raw.pfns().count(), 2);
        Ok(())
    }

    /// A typed buffer drops each of its values exactly once, then frees
    /// the memory (kmemleak checks that part after rmmod).
    #[test]
    fn values_are_dropped_exactly_once() -> Result {
        struct Counted<'a>(&'a Cell<usize>);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }

        let drops = Cell::new(0);
        let buf = VBuf::from_fn(1000, GFP_KERNEL, |_| Counted(&drops))?;
        assert_eq!(drops.get(), 0);
        drop(buf);
        assert_eq!(drops.get(), 1000);
        Ok(())
    }

    /// 64 MiB: vmalloc succeeds where kmalloc of the same size fails, the
    /// buffer is vmalloc memory (the kmalloc'd one is not), and every page
    /// keeps its own data.
    #[test]
    fn large_buffer_where_kmalloc_fails() -> Result {
        let kmalloc = KVec::<u8>::with_capacity(
            BIG,
            kernel::alloc::flags::GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN,
        );
        assert!(kmalloc.is_err());
        let small = KVec::<u8>::with_capacity(PAGE_SIZE, kernel::alloc::flags::GFP_KERNEL)?;
        assert!(!is_vmalloc_addr(small.as_ptr()));

        let mut buf = VBuf::<u8>::zeroed(BIG, GFP_KERNEL | __GFP_NOWARN)?;
        assert_eq!(buf.len(), BIG);
        assert!(is_vmalloc_addr(buf.as_ptr()));
        assert!(is_vmalloc_addr(&buf[BIG - 1]));
        for (i, page) in buf.chunks_mut(PAGE_SIZE).enumerate() {
            page[0] = i as u8;
            page[PAGE_SIZE - 1] = !(i as u8);
        }
        for (i, page) in buf.chunks(PAGE_SIZE).enumerate() {
            assert_eq!(page[0], i as u8);
            assert_eq!(page[PAGE_SIZE - 1], !(i as u8));
        }
        Ok(())
    }

    /// The 64 MiB buffer is one virtually contiguous range, backed by
    /// distinct page frames (walked with `vmalloc_to_pfn`) that need not be
    /// physically contiguous: the runs of consecutive frames are printed.
    #[test]
    fn pfn_walk_of_a_large_buffer() -> Result {
        let buf = VBuf::<u8>::zeroed(BIG, GFP_KERNEL | __GFP_NOWARN)?;
        let mut pfns = KVec::with_capacity(pages(BIG), kernel::alloc::flags::GFP_KERNEL)?;
        for pfn in buf.pfns() {
            pfns.push(pfn, kernel::alloc::flags::GFP_KERNEL)?;
        }
        assert_eq!(pfns.len(), pages(BIG));
        assert!(pfns.iter().all(|&pfn| pfn != 0));

        // Runs of physically consecutive frames, in virtual order.
        let runs = 1 + pfns.windows(2).filter(|w| w[1] != w[0] + 1).count();
        pr_info!(
            "vmalloc: {} MiB: {} pages in {} physically contiguous run(s)\n",
            BIG >> 20,
            pfns.len(),
            runs
        );
        let mut start = 0;
        for (i, w) in pfns.windows(2).enumerate() {
            if w[1] != w[0] + 1 {
                pr_info!(
                    "vmalloc:   pages {}..={}: pfn {:#x}..\n",
                    start,
                    i,
                    pfns[start]
                );
                start = i + 1;
            }
        }
        pr_info!(
            "vmalloc:   pages {}..={}: pfn {:#x}..\n",
            start,
            pfns.len() - 1,
            pfns[start]
        );

        // No frame backs two pages.
        pfns.sort_unstable();
        assert!(pfns.windows(2).all(|w| w[0] != w[1]));
        Ok(())
    }

    /// `vmalloc_to_page` walks one distinct `struct page` per page of the
    /// buffer.
    #[test]
    fn page_walk_yields_one_page_per_page() -> Result {
        let size = 5 * PAGE_SIZE + 8;
        let mut buf = VBuf::<u8>::zeroed(size, GFP_KERNEL)?;
        let mut seen = KVec::new();
        for page in buf.page_iter() {
            seen.push(page.as_ptr(), kernel::alloc::flags::GFP_KERNEL)?;
        }
        assert_eq!(seen.len(), pages(size));
        seen.sort_unstable();
        assert!(seen.windows(2).all(|w| w[0] != w[1]));
        Ok(())
    }

    /// A buffer dropped where sleeping is allowed is freed before the drop
    /// returns (`vfree()`: its pages are unmapped), not deferred as
    /// `vfree_atomic()` would; one dropped under a spinlock is unmapped once
    /// the deferred free has run.
    #[test]
    fn drop_frees_at_once_where_it_may_sleep() -> Result {
        use crate::selftest::{vmapped, wait_for};

        let buf = VBuf::<u8>::zeroed(4 * PAGE_SIZE, GFP_KERNEL)?;
        let addr = buf.as_ptr();
        assert!(vmapped(addr) && vmapped(addr.wrapping_add(3 * PAGE_SIZE)));
        drop(buf);
        assert!(!vmapped(addr) && !vmapped(addr.wrapping_add(3 * PAGE_SIZE)));

        let buf = VBuf::<u8>::zeroed(4 * PAGE_SIZE, GFP_KERNEL)?;
        let addr = buf.as_ptr();
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            drop(buf);
        }
        assert!(wait_for(|| !vmapped(addr)));
        Ok(())
    }

    /// `__vmalloc_node()` and the kernel crate's `VBox` allocator on a
    /// node: every page of the buffer comes from the node asked for, on each
    /// of the test VM's two nodes, and a node that is not online is `EINVAL`
    /// before C sees it.
    #[test]
    fn node_buffer_pages_come_from_the_node() -> Result {
        use crate::gfp::Node;
        use crate::selftest::{allocator_on_node, two_nodes};

        let nodes = if two_nodes() { 2 } else { 1 };
        for nid in 0..nodes {
            let mut buf = VBuf::<u32>::new_uninit_on(3 * PAGE_SIZE, GFP_KERNEL, Node::new(nid)?)?;
            let mut pages = 0;
            for page in buf.page_iter() {
                assert_eq!(page.nid(), nid);
                pages += 1;
            }
            assert_eq!(pages, 3 * size_of::<u32>());
            let size = 3 * PAGE_SIZE;
            assert!(allocator_on_node::<Vmalloc>(size, nid)?);
        }
        assert!(Node::new(nodes).is_err() && Node::new(-2).is_err());
        Ok(())
    }

    /// `vrealloc()`: growing keeps every value and fills the new ones,
    /// shrinking keeps the first ones, and the buffer moves to a new area
    /// when it must (the old one is freed: KASAN and kmemleak watch); a bad
    /// request or atomic context is an error that leaves the buffer as it
    /// was.
    #[test]
    fn vrealloc_keeps_values_and_fills_new_ones() -> Result {
        let mut buf = VBuf::from_fn(1000, GFP_KERNEL, |i| i as u64)?;
        buf.resize(5 * PAGE_SIZE, 7, GFP_KERNEL)?;
        assert_eq!(buf.len(), 5 * PAGE_SIZE);
        assert!(buf[..1000].iter().enumerate().all(|(i, &x)| x == i as u64));
        assert!(buf[1000..].iter().all(|&x| x == 7));
        buf[5 * PAGE_SIZE - 1] = 9;
        buf.resize(10, 0, GFP_KERNEL)?;
        assert_eq!(&buf[..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        buf.resize(3000, 1, GFP_KERNEL)?;
        assert!(buf[..10].iter().enumerate().all(|(i, &x)| x == i as u64));
        assert!(buf[10..].iter().all(|&x| x == 1));

        let before = buf.as_ptr();
        assert!(buf.resize(0, 0, GFP_KERNEL) == Err(EINVAL));
        assert!(buf.resize(usize::MAX, 0, GFP_KERNEL) == Err(EOVERFLOW));
        assert!(buf.resize(4000, 0, GFP_KERNEL | GFP_DMA32) == Err(EINVAL));
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            assert!(buf.resize(4000, 0, GFP_ATOMIC) == Err(EAGAIN));
        }
        assert_eq!((buf.as_ptr(), buf.len()), (before, 3000));
        assert!(buf[..10].iter().enumerate().all(|(i, &x)| x == i as u64));
        Ok(())
    }

    /// A freed buffer's addresses stay reserved until the lazy mappings are
    /// flushed: after `vm_unmap_aliases()` the next buffer of the same size
    /// gets them again. vmalloc keeps flushed areas in a pool per CPU group
    /// (`vmap_nodes`) and takes the newest one first, so this runs on each
    /// CPU in a thread bound to it (a task that moved to the other CPU
    /// between the two allocations would draw from the other pool); tried
    /// a few times, in case another allocation took them in between. Where
    /// sleeping is not allowed, `EAGAIN`.
    #[test]
    fn unmapped_aliases_free_their_addresses() -> Result {
        use crate::selftest::stress::run_on_each_cpu;
        use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

        let (cpus, reused) = (AtomicUsize::new(0), AtomicUsize::new(0));
        run_on_each_cpu(&|_cpu| {
            cpus.fetch_add(1, Relaxed);
            // What was freed before goes to the pools first.
            vm_unmap_aliases()?;
            for _ in 0..4 {
                let first = VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL)?;
                let at = first.as_ptr();
                drop(first);
                vm_unmap_aliases()?;
                let second = VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL)?;
                if second.as_ptr() == at {
                    reused.fetch_add(1, Relaxed);
                    break;
                }
            }
            Ok(())
        })?;
        assert!(cpus.load(Relaxed) > 0);
        assert_eq!(reused.load(Relaxed), cpus.load(Relaxed));
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        let _guard = lock.lock();
        assert!(vm_unmap_aliases() == Err(EAGAIN));
        Ok(())
    }

    /// A `VBuf` becomes the kernel crate's `VVec` and back without a copy
    /// (the same address, in the vmalloc area), values intact; the vector
    /// grows with `vrealloc()` and its spare capacity goes with it; every
    /// value is dropped once (counted), the memory freed once (KASAN and
    /// kmemleak watch); an empty vector is `EINVAL`.
    #[test]
    fn vbuf_and_vvec_convert_in_place() -> Result {
        use kernel::alloc::VVec;

        let buf = VBuf::from_fn(1000, GFP_KERNEL, |i| i as u32)?;
        let at = buf.as_ptr();
        let mut v: VVec<u32> = buf.into();
        assert!(v.as_ptr() == at && v.len() == 1000);
        v.extend_from_slice(&[7; 3000], GFP_KERNEL)?;
        v.truncate(2000);
        let capacity = v.capacity();
        assert!(capacity > v.len());
        let mut buf = VBuf::try_from(v)?;
        assert!(is_vmalloc_addr(buf.as_ptr()) && buf.len() == 2000);
        assert!(buf[..1000].iter().enumerate().all(|(i, &x)| x == i as u32));
        assert!(buf[1000..].iter().all(|&x| x == 7));
        // The page walk covers the whole allocation, spare capacity too.
        assert_eq!(buf.page_iter().count(), pages(capacity * 4));
        let v: VVec<u32> = buf.into();
        assert!(v.len() == 2000 && v.capacity() == capacity);
        let mut buf = VBuf::try_from(v)?;
        buf.resize(3000, 8, GFP_KERNEL)?;
        assert!(buf[..1000].iter().enumerate().all(|(i, &x)| x == i as u32));
        assert!(buf[2000..].iter().all(|&x| x == 8));

        let drops = Cell::new(0);
        let mut v = VVec::new();
        for _ in 0..5 {
            v.push(Counted(&drops), GFP_KERNEL)?;
        }
        let buf = VBuf::try_from(v)?;
        assert_eq!((buf.len(), drops.get()), (5, 0));
        let v: VVec<Counted<'_>> = buf.into();
        drop(v);
        assert_eq!(drops.get(), 5);

        assert!(VBuf::try_from(VVec::<u64>::new()).err() == Some(EINVAL));
        let mut units = VVec::new();
        units.push((), GFP_KERNEL)?;
        assert!(VBuf::try_from(units).err() == Some(EINVAL));
        Ok(())
    }

    /// Counts its drops in a shared cell.
    struct Counted<'a>(&'a Cell<usize>);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    /// Sizes are checked before C sees them: an overflowing `len * size`
    /// or one beyond `isize::MAX` is `EOVERFLOW`, zero is `EINVAL`, and a
    /// size larger than memory is `ENOMEM` without a warning.
    #[test]
    fn sizes_are_checked() {
        assert_eq!(
            VBuf::<u64>::zeroed(usize::MAX / 4, GFP_KERNEL).err(),
            Some(EOVERFLOW)
        );
        assert_eq!(
            VBuf::<u8>::zeroed(isize::MAX as usize + 1, GFP_KERNEL).err(),
            Some(EOVERFLOW)
        );
        assert_eq!(VBuf::<u32>::zeroed(0, GFP_KERNEL).err(), Some(EINVAL));
        assert_eq!(VBuf::<()>::new_uninit(10, GFP_KERNEL).err(), Some(EINVAL));
        assert_eq!(
            VBuf::<u8>::zeroed(1 << 40, GFP_KERNEL | __GFP_NOWARN).err(),
            Some(ENOMEM)
        );
    }

    /// Flags vmalloc cannot honour are `EINVAL`: zone modifiers and other
    /// flags outside C's `GFP_VMALLOC_SUPPORTED` (C would WARN and drop
    /// them), `__GFP_NOFAIL` without sleeping; every class C supports
    /// works, the non-sleeping ones and `__GFP_NOFAIL` included.
    #[test]
    fn unsupported_flags_are_refused() -> Result {
        for flags in [
            GFP_KERNEL | GFP_DMA,
            GFP_KERNEL | GFP_DMA32,
            Gfp::from(GFP_KERNEL | __GFP_HIGHMEM),
            GFP_KERNEL | __GFP_COMP,
            GFP_KERNEL | __GFP_THISNODE,
            GFP_ATOMIC | __GFP_NOFAIL,
        ] {
            assert_eq!(VBuf::<u8>::zeroed(PAGE_SIZE, flags).err(), Some(EINVAL));
        }
        // The supported classes work, as in C's `GFP_VMALLOC_SUPPORTED`.
        for flags in [
            Gfp::from(GFP_KERNEL),
            GFP_NOFS,
            GFP_NOIO,
            GFP_KERNEL_ACCOUNT.into(),
            GFP_USER,
            GFP_ATOMIC.into(),
            GFP_NOWAIT.into(),
            Gfp::NONE,
            GFP_KERNEL | __GFP_NOLOCKDEP,
        ] {
            let buf = VBuf::<u8>::zeroed(PAGE_SIZE, flags | __GFP_NORETRY)?;
            assert!(buf.iter().all(|&b| b == 0));
        }
        // `__GFP_NOFAIL`: the way to a large buffer that cannot fail.
        let big = VBuf::<u64>::zeroed(1 << 17, GFP_KERNEL | __GFP_NOFAIL)?;
        assert_eq!(big.len(), 1 << 17);
        Ok(())
    }

    /// In atomic context (spinlock held, interrupts disabled, RCU
    /// read-side section) a request is refused with `EAGAIN` instead of
    /// sleeping; outside, the same request succeeds.
    #[test]
    fn atomic_context_is_refused() -> Result {
        assert!(context_may_sleep());

        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            assert!(!context_may_sleep());
            assert_eq!(
                VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL).err(),
                Some(EAGAIN)
            );
        }
        crate::selftest::irqs_off(|| {
            assert!(!context_may_sleep());
            assert_eq!(
                VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL).err(),
                Some(EAGAIN)
            );
        })?;
        {
            let _rcu = rcu::read_lock();
            assert!(!context_may_sleep());
            assert_eq!(
                VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL).err(),
                Some(EAGAIN)
            );
        }

        assert!(context_may_sleep());
        assert!(VBuf::<u8>::zeroed(PAGE_SIZE, GFP_KERNEL).is_ok());

        // Flags that never sleep work there, as in C (and the buffer is
        // freed with `vfree_atomic()` when dropped there).
        for flags in [GFP_ATOMIC, GFP_NOWAIT] {
            let _guard = lock.lock();
            let buf = VBuf::<u32>::zeroed(PAGE_SIZE, flags)?;
            assert!(buf.iter().all(|&x| x == 0));
        }
        Ok(())
    }

    /// A buffer dropped while a spinlock is held is freed without sleeping
    /// (deferred): no "sleeping function called from invalid context" in
    /// the log, and no leak for kmemleak.
    #[test]
    fn drop_in_atomic_context_does_not_sleep() -> Result {
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        let buf = VBuf::<u8>::zeroed(4 * PAGE_SIZE, GFP_KERNEL)?;
        let _guard = lock.lock();
        assert!(!context_may_sleep());
        drop(buf);
        Ok(())
    }

    /// The kernel crate's containers on kalloc's `Vmalloc`: memory in the
    /// vmalloc area, aligned as the layout asks up to a page (also for
    /// sizes that are no multiple of it, and from `realloc` without an old
    /// allocation), a `VVec` that keeps its values as it grows past a page,
    /// and refusals where `VBuf` refuses: a sleeping request under a
    /// spinlock, a growth where sleeping is not allowed, an alignment above
    /// a page. A drop under the spinlock is deferred (`vfree_atomic()`),
    /// and kmemleak sees every allocation freed.
    #[test]
    fn vmalloc_allocator_serves_the_kernel_crate_containers() -> Result {
        use crate::selftest::kmalloc::allocator_aligns;
        use core::alloc::Layout;
        use kernel::alloc::{flags as kf, Allocator, Box, Vec};

        for (size, align) in [(80, 64), (5000, 4096), (PAGE_SIZE, PAGE_SIZE), (3, 1)] {
            let layout = Layout::from_size_align(size, align).map_err(|_| EINVAL)?;
            assert!(allocator_aligns::<Vmalloc>(layout));
        }
        let over = Layout::from_size_align(64, 2 * PAGE_SIZE).map_err(|_| EINVAL)?;
        assert!(Vmalloc::alloc(over, kf::GFP_KERNEL, kernel::alloc::NumaNode::NO_NODE).is_err());

        let boxed = crate::VBox::new([3u64; 64], kf::GFP_KERNEL)?;
        assert!(is_vmalloc_addr(&*boxed) && boxed[63] == 3);
        let mut v = crate::VVec::<u32>::new();
        for i in 0..5000u32 {
            v.push(i, kf::GFP_KERNEL)?;
        }
        assert!(is_vmalloc_addr(v.as_ptr()));
        assert!(v.iter().enumerate().all(|(i, &x)| x as usize == i));

        let lock = KBox::pin_init(new_spinlock!(()), kf::GFP_KERNEL)?;
        let atomic = {
            let _guard = lock.lock();
            let refused = Box::<u8, Vmalloc>::new(1, kf::GFP_KERNEL).is_err();
            let grown = v.reserve(1 << 20, kf::GFP_ATOMIC).is_err();
            let small = Box::<u8, Vmalloc>::new(2, kf::GFP_ATOMIC)?;
            drop(Vec::<u8, Vmalloc>::with_capacity(
                PAGE_SIZE,
                kf::GFP_ATOMIC,
            )?);
            // `vfree_atomic()` writes its list link into the area: an area
            // for one byte must still hold it.
            drop(VBuf::<u8>::from_fn(1, GFP_ATOMIC, |_| 1)?);
            (refused, grown, *small)
        };
        assert_eq!(atomic, (true, true, 2));
        assert!(v.len() == 5000 && v[4999] == 4999);
        crate::selftest::wait_deferred_frees();
        Ok(())
    }
}
