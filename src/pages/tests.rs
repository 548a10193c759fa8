// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_pages` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_pages)]
mod kalloc_pages {
    use super::super::*;
    use crate::gfp::{Zone, __GFP_COMP};
    use crate::gfp::{
        __GFP_HIGHMEM, __GFP_NOFAIL, __GFP_NORETRY, __GFP_NOWARN, GFP_ATOMIC, GFP_DMA, GFP_DMA32,
        GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL,
    };
    use crate::selftest::pages::{free_page_count, stop_machine};
    use core::ptr::NonNull;
    use kernel::page::PAGE_SIZE;
    use kernel::sync::new_spinlock;
    use pin_init::stack_pin_init;

    // The helpers below report with `pr_err!` and a return value: KUnit's
    // `assert!` is only in scope in the test functions.

    /// Orders checked one by one: 0..=4, the orders drivers use most, and a
    /// few more of the orders above `PAGE_ALLOC_COSTLY_ORDER` (3), whose
    /// blocks bypass the per-CPU lists.
    const TEST_MAX_ORDER: u32 = 6;

    /// A byte pattern with a period (251, prime) that does not divide the
    /// page size, so no two pages of a block hold the same bytes.
    fn pattern(pos: usize) -> u8 {
        (pos % 251) as u8
    }

    /// Whether the mapped page holds `expected(offset)` at every offset,
    /// read in small chunks (a page is too big for the stack).
    fn page_matches(map: &LocalMapping<'_>, expected: impl Fn(usize) -> u8) -> Result<bool> {
        let mut chunk = [0u8; 64];
        for offset in (0..PAGE_SIZE).step_by(chunk.len()) {
            map.read(offset, &mut chunk)?;
            if let Some(i) = (0..chunk.len()).find(|&i| chunk[i] != expected(offset + i)) {
                pr_err!(
                    "byte {}: {:#x}, expected {:#x}\n",
                    offset + i,
                    chunk[i],
                    expected(offset + i)
                );
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `page(i)` gives the pages of a block of `order`: `2^order` of
    /// them, the first at a pfn that is a multiple of `2^order` (the buddy
    /// allocator aligns blocks to their size), all in one zone and on one
    /// NUMA node (node 0 without NUMA), as their `struct page`s record, and
    /// none past the end.
    ///
    /// That the pfns are consecutive is not checked: with
    /// `CONFIG_SPARSEMEM_VMEMMAP` the memory map is one array, so the pfn of
    /// `page + i` is the pfn of `page` plus `i` by construction, and the
    /// check could not fail. What shows that the pages are the block's:
    /// `free_count_returns_after_batch_drop` (the allocator's free count
    /// drops by exactly `2^order` pages), the address of each page below
    /// (`virt_to_page()` and `page_address()` agree with the block's
    /// address plus the page's offset) and `views_share_contents` (each
    /// page holds the bytes at its offset in the block).
    fn is_block<'a>(
        order: u32,
        nr_pages: usize,
        page: impl Fn(usize) -> Option<PageRef<'a>>,
    ) -> bool {
        let Some(first) = page(0) else {
            pr_err!("order {}: no first page\n", order);
            return false;
        };
        let node_ok = if cfg!(CONFIG_NUMA) {
            first.nid() >= 0
        } else {
            first.nid() == 0
        };
        if nr_pages != 1 << order || first.pfn() % nr_pages != 0 || !node_ok {
            pr_err!(
                "order {}: {} pages, pfn {:#x}, node {}\n",
                order,
                nr_pages,
                first.pfn(),
                first.nid()
            );
            return false;
        }
        for i in 1..nr_pages {
            let p = page(i);
            if p.map(|p| (p.zone(), p.nid())) != Some((first.zone(), first.nid())) {
                pr_err!(
                    "order {}: page {} is not in the zone and node of page 0\n",
                    order,
                    i
                );
                return false;
            }
        }
        page(nr_pages).is_none()
    }

    /// Zeroed allocations are zero in every byte, through every constructor
    /// and view.
    #[test]
    fn zeroed_pages_are_zero() -> Result {
        let page = LowmemPages::get_zeroed_page(GFP_KERNEL)?;
        assert_eq!(page.order(), 0);
        assert!(page.as_slice().iter().all(|&b| b == 0));

        // A block is dirtied and freed just before each zeroed allocation of
        // its order, under a lock, so on this CPU: freed pages are handed out
        // again first (per-CPU lists are LIFO), so the zeroed block is that
        // block, and skipped zeroing shows. The checks come after the lock.
        stack_pin_init!(let lock = new_spinlock!(()));
        let atomic = GFP_ATOMIC | __GFP_NOWARN;
        for order in 0..=3 {
            let (lowmem, pages, highmem) = {
                let _guard = lock.lock();
                drop(LowmemPages::get_free_pages(order, atomic)?.fill(0xa5));
                let lowmem = LowmemPages::get_zeroed_pages(order, atomic)?;
                drop(Pages::alloc_pages(order, atomic)?.fill(0xa5));
                let pages = Pages::alloc_zeroed_pages(order, atomic)?;
                drop(Pages::alloc_pages(order, atomic | __GFP_HIGHMEM)?.fill(0xa5));
                let highmem = Pages::alloc_zeroed_pages(order, atomic | __GFP_HIGHMEM)?;
                (lowmem, pages, highmem)
            };
            assert_eq!(lowmem.as_slice().len(), lowmem.size());
            assert!(lowmem.as_slice().iter().all(|&b| b == 0));
            for pages in [pages, highmem] {
                for i in 0..pages.nr_pages() {
                    assert!(pages.kmap_local(i, |map| page_matches(map, |_| 0))??);
                }
            }
        }
        Ok(())
    }

    /// Every order from 0 to `TEST_MAX_ORDER` gives `2^order` pages with
    /// consecutive pfns, through both families; each page's
    /// `page_address()` is the block's address plus its offset.
    #[test]
    fn each_order_gives_contiguous_pages() -> Result {
        for order in 0..=TEST_MAX_ORDER {
            let lowmem = LowmemPages::get_free_pages(order, GFP_KERNEL)?;
            assert_eq!(lowmem.order(), order);
            assert_eq!(lowmem.size(), lowmem.nr_pages() * PAGE_SIZE);
            assert!(is_block(order, lowmem.nr_pages(), |i| lowmem.page(i)));
            for i in 0..lowmem.nr_pages() {
                // page_address(virt_to_page(addr)) == addr, page by page.
                let addr = lowmem.as_ptr().wrapping_add(i * PAGE_SIZE);
                assert_eq!(lowmem.page(i).and_then(|p| p.address()), NonNull::new(addr));
            }

            let pages = Pages::alloc_pages(order, GFP_KERNEL)?;
            assert_eq!(pages.order(), order);
            assert_eq!(pages.size(), pages.nr_pages() * PAGE_SIZE);
            assert!(is_block(order, pages.nr_pages(), |i| pages.page(i)));
            let base = pages.page(0).and_then(|p| p.address()).ok_or(EINVAL)?;
            for i in 0..pages.nr_pages() {
                let page = pages.page(i).ok_or(EINVAL)?;
                assert!(!page.is_highmem());
                assert_eq!(
                    page.address(),
                    NonNull::new(base.as_ptr().wrapping_add(i * PAGE_SIZE))
                );
            }
        }

        // The order-0 constructors.
        let page = LowmemPages::get_free_page(GFP_KERNEL)?;
        assert!(is_block(0, page.nr_pages(), |i| page.page(i)));
        let page = Pages::alloc_page(GFP_KERNEL)?;
        assert!(is_block(0, page.nr_pages(), |i| page.page(i)));
        Ok(())
    }

    /// A block allocated without `__GFP_ZERO` becomes readable (`Init`) only
    /// once written: `fill` writes every byte of every page, through both
    /// page types. Compound blocks (`__GFP_COMP`), which kalloc's types do
    /// not own, are refused.
    #[test]
    fn fill_writes_every_byte() -> Result {
        for order in 0..=2 {
            let lowmem = LowmemPages::get_free_pages(order, GFP_KERNEL)?.fill(0x3c);
            assert!(lowmem.as_slice().iter().all(|&b| b == 0x3c));
            let pages = Pages::alloc_pages(order, GFP_HIGHUSER)?.fill(0xc3);
            for i in 0..pages.nr_pages() {
                assert!(pages.kmap_local(i, |map| page_matches(map, |_| 0xc3))??);
            }
        }
        assert!(Pages::alloc_page(GFP_KERNEL | __GFP_COMP).err() == Some(EINVAL));
        assert!(LowmemPages::get_free_pages(1, GFP_KERNEL | __GFP_COMP).err() == Some(EINVAL));
        Ok(())
    }

    /// Bytes written through one view are read back through the other: the
    /// permanent mapping of a [`LowmemPages`] and local mappings of the
    /// same block as [`Pages`], converted back and forth with
    /// `virt_to_page()` and `page_address()`.
    #[test]
    fn views_share_contents() -> Result {
        let mut lowmem = LowmemPages::get_free_pages(2, GFP_KERNEL)?.fill(0);
        for (pos, byte) in lowmem.as_mut_slice().iter_mut().enumerate() {
            *byte = pattern(pos);
        }
        let addr = lowmem.as_ptr();
        let pfn = lowmem.page(0).map(|p| p.pfn());

        let mut pages = lowmem.into_pages();
        assert_eq!(pages.order(), 2);
        assert_eq!(pages.page(0).map(|p| p.pfn()), pfn);
        for i in 0..pages.nr_pages() {
            assert!(pages.kmap_local(i, |map| page_matches(map, |off| pattern(
                i * PAGE_SIZE + off
            )))??);
            pages.kmap_local_mut(i, |map| map.fill(0x10 + i as u8))?;
        }

        // GFP_KERNEL pages are lowmem: the conversion must succeed.
        let lowmem = pages.into_lowmem().map_err(|_| EINVAL)?;
        assert_eq!(lowmem.as_ptr(), addr);
        assert_eq!(lowmem.order(), 2);
        for (pos, &byte) in lowmem.as_slice().iter().enumerate() {
            assert_eq!(byte, 0x10 + (pos / PAGE_SIZE) as u8);
        }

        // Pages that may be highmem convert only if they are not; a 64-bit
        // kernel has no highmem.
        let highuser = Pages::alloc_pages(1, GFP_HIGHUSER)?;
        let highmem = highuser.page(0).is_some_and(|p| p.is_highmem());
        #[cfg(not(CONFIG_HIGHMEM))]
        assert!(!highmem);
        assert_eq!(highuser.into_lowmem().is_err(), highmem);
        Ok(())
    }

    /// Local mappings nest (the inner one is unmapped first, and the outer
    /// one still works after it) and are bounds checked.
    ///
    /// On x86-64 there is no highmem and `kmap_local_page()` is
    /// `page_address()`: no fixmap slot is taken, and `kunmap_local()`
    /// undoes nothing. So a mapping used after it was unmapped, or undone
    /// out of order, cannot show there; only a kernel with highmem (32-bit,
    /// or `CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP`) would catch it. Here the
    /// case checks the nesting and the bounds checks.
    #[test]
    fn kmap_local_nests_and_checks_bounds() -> Result {
        let a = Pages::alloc_page(GFP_HIGHUSER)?.fill(0xaa);
        let mut b = Pages::alloc_pages(1, GFP_HIGHUSER)?.fill(0);
        b.kmap_local_mut(0, |map| map.fill(0xb0))?;
        b.kmap_local_mut(1, |map| map.fill(0xb1))?;

        a.kmap_local(0, |outer| -> Result {
            b.kmap_local(1, |inner| -> Result {
                assert!(page_matches(outer, |_| 0xaa)?);
                assert!(page_matches(inner, |_| 0xb1)?);
                Ok(())
            })??;
            assert!(page_matches(outer, |_| 0xaa)?);
            Ok(())
        })??;

        let mut a = a;
        a.kmap_local_mut(0, |map| -> Result {
            let mut buf = [0u8; 16];
            map.write(100, b"kalloc")?;
            map.read(100, &mut buf[..6])?;
            assert_eq!(&buf[..6], b"kalloc");
            assert!(map.read(PAGE_SIZE - 16, &mut buf).is_ok());
            assert!(map.write(PAGE_SIZE, &[]).is_ok());
            assert!(map.read(PAGE_SIZE - 15, &mut buf) == Err(EINVAL));
            assert!(map.write(PAGE_SIZE, &buf[..1]) == Err(EINVAL));
            assert!(map.read(usize::MAX, &mut buf) == Err(EOVERFLOW));
            assert!(map.write(usize::MAX - 3, &buf) == Err(EOVERFLOW));
            Ok(())
        })??;

        assert!(b.kmap_local(2, |_| ()) == Err(EINVAL));
        assert!(b.kmap_local_mut(usize::MAX, |_| ()) == Err(EINVAL));
        assert!(b.kmap_local(0, |map| page_matches(map, |_| 0xb0))??);
        Ok(())
    }

    /// `__get_dma_pages()` memory lies in `ZONE_DMA`, while a `GFP_KERNEL`
    /// page does not.
    #[test]
    fn dma_pages_lie_in_zone_dma() -> Result {
        for order in [0, 2] {
            let dma = LowmemPages::get_dma_pages(order, GFP_KERNEL)?;
            for i in 0..dma.nr_pages() {
                let page = dma.page(i).ok_or(EINVAL)?;
                assert_eq!(page.zone(), Some(Zone::Dma));
                // On x86, ZONE_DMA is the first 16 MiB (MAX_DMA_PFN).
                #[cfg(CONFIG_X86)]
                assert!(page.pfn() < (16 << 20) / PAGE_SIZE);
            }
        }
        // The allocator falls back to ZONE_DMA only when every higher zone
        // is exhausted, which a test VM with free memory never is.
        let normal = LowmemPages::get_free_page(GFP_KERNEL)?;
        assert!(normal.page(0).is_some_and(|p| p.zone() != Some(Zone::Dma)));
        Ok(())
    }

    /// Orders above `MAX_PAGE_ORDER` and invalid flags are `EINVAL` before
    /// the allocator sees them (it would WARN), and so are requests for
    /// movable memory; the largest order is valid.
    #[test]
    fn bad_orders_and_flags_are_einval() {
        for order in [MAX_PAGE_ORDER + 1, MAX_PAGE_ORDER + 2, u32::MAX] {
            assert!(Pages::alloc_pages(order, GFP_KERNEL).err() == Some(EINVAL));
            assert!(LowmemPages::get_free_pages(order, GFP_KERNEL).err() == Some(EINVAL));
            assert!(LowmemPages::get_dma_pages(order, GFP_KERNEL).err() == Some(EINVAL));
        }

        // The largest order is accepted; it may still find no free block.
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY;
        match Pages::alloc_pages(MAX_PAGE_ORDER, flags) {
            Ok(pages) => assert_eq!(pages.nr_pages(), 1 << MAX_PAGE_ORDER),
            Err(e) => assert!(e == ENOMEM),
        }

        // __GFP_NOFAIL is for orders 0 and 1 only.
        assert!(Pages::alloc_pages(2, GFP_KERNEL | __GFP_NOFAIL).err() == Some(EINVAL));
        assert!(Pages::alloc_pages(1, GFP_KERNEL | __GFP_NOFAIL).is_ok());
        // Movable memory, in any zone: kalloc's blocks cannot be migrated.
        let movable = GFP_HIGHUSER_MOVABLE.without(GFP_HIGHUSER);
        for order in [0, 2] {
            assert!(Pages::alloc_pages(order, GFP_HIGHUSER_MOVABLE).err() == Some(EINVAL));
            assert!(Pages::alloc_pages(order, GFP_KERNEL | movable).err() == Some(EINVAL));
            assert!(LowmemPages::get_free_pages(order, GFP_KERNEL | movable).err() == Some(EINVAL));
        }
        assert!(LowmemPages::get_zeroed_page(GFP_HIGHUSER_MOVABLE).err() == Some(EINVAL));
        // An address cannot name a highmem page.
        assert!(LowmemPages::get_free_page(GFP_HIGHUSER).err() == Some(EINVAL));
        assert!(LowmemPages::get_zeroed_page(GFP_KERNEL | __GFP_HIGHMEM).err() == Some(EINVAL));
        // Two zones at once.
        assert!(LowmemPages::get_dma_pages(0, GFP_KERNEL | GFP_DMA32).err() == Some(EINVAL));
        assert!(Pages::alloc_page(GFP_KERNEL | GFP_DMA | __GFP_HIGHMEM).err() == Some(EINVAL));
    }

    /// A dropped batch gives back exactly its pages: the allocator's free
    /// page count falls by exactly the batch's size when it is allocated and
    /// returns to its earlier value when it is dropped.
    ///
    /// Why this proof is exact, not statistical: comparing `NR_FREE_PAGES`
    /// around the test would be flaky twice over. Freed blocks of orders up
    /// to 3 go to the freeing CPU's per-CPU list, which `NR_FREE_PAGES` does
    /// not count (and which refills or drains in batches), and the other CPU
    /// allocates concurrently. So [`free_page_count`] counts the per-CPU
    /// lists too, and the whole test runs under [`stop_machine`]: every other
    /// CPU spins with interrupts disabled and this one has them disabled, so
    /// no allocation but ours happens between the three counts. A block
    /// freed with a wrong order would change the count by the wrong amount.
    /// The batch covers orders on both sides of `PAGE_ALLOC_COSTLY_ORDER`
    /// and both families (`__free_pages` and `free_pages`).
    #[test]
    fn free_count_returns_after_batch_drop() -> Result {
        const ORDERS: usize = 6;
        let (before, allocated, after, batch_pages) = stop_machine(|stopped| -> Result<_> {
            // No heap: a slab allocation here could take pages too.
            let mut pages: [Option<Pages<Uninit>>; ORDERS] = [const { None }; ORDERS];
            let mut lowmem: [Option<LowmemPages<Uninit>>; ORDERS] = [const { None }; ORDERS];
            let flags = GFP_ATOMIC | __GFP_NOWARN;

            let before = free_page_count(stopped);
            let mut batch_pages = 0;
            for (order, (p, l)) in (0u32..).zip(pages.iter_mut().zip(lowmem.iter_mut())) {
                let block = p.insert(Pages::alloc_pages(order, flags)?);
                batch_pages += block.nr_pages();
                let block = l.insert(LowmemPages::get_free_pages(order, flags)?);
                batch_pages += block.nr_pages();
            }
            let allocated = free_page_count(stopped);
            drop(pages);
            drop(lowmem);
            let after = free_page_count(stopped);
            Ok((before, allocated, after, batch_pages))
        })??;

        assert_eq!(batch_pages, 2 * ((1 << ORDERS) - 1));
        assert_eq!(before.checked_sub(allocated), Some(batch_pages));
        assert_eq!(after, before);
        Ok(())
    }

    /// `stop_machine` sleeps until its closure has run, so where sleeping is
    /// not allowed it fails with `EAGAIN` without running the closure;
    /// outside, the closure runs once and its result comes back.
    #[test]
    fn stop_machine_in_atomic_context_is_eagain() -> Result {
        let mut runs = 0;
        stack_pin_init!(let lock = new_spinlock!(()));
        {
            let _guard = lock.lock();
            assert!(stop_machine(|_| runs += 1) == Err(EAGAIN));
        }
        assert_eq!(runs, 0);
        assert_eq!(
            stop_machine(|_| {
                runs += 1;
                42
            })?,
            42
        );
        assert_eq!(runs, 1);
        Ok(())
    }

    /// A block asked for on a node comes from that node, on each of the
    /// test VM's two nodes, or from any with `Node::ANY`; the request check
    /// is the same as without a node.
    #[test]
    fn pages_on_a_node() -> Result {
        let nodes = if crate::selftest::two_nodes() { 2 } else { 1 };
        for nid in 0..nodes {
            let node = crate::gfp::Node::new(nid)?;
            let pages = Pages::alloc_pages_on(1, GFP_KERNEL, node)?.fill(3);
            assert!(pages.page(0).is_some_and(|p| p.nid() == nid));
            assert!(pages.page(1).is_some_and(|p| p.nid() == nid));
        }
        let node = crate::gfp::Node::new(0)?;
        assert!(Pages::alloc_pages_on(0, GFP_KERNEL, crate::gfp::Node::ANY).is_ok());
        assert!(Pages::alloc_pages_on(MAX_PAGE_ORDER + 1, GFP_KERNEL, node).err() == Some(EINVAL));
        Ok(())
    }
}
