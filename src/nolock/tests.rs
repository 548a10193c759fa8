// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_nolock` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_nolock)]
mod kalloc_nolock {
    use super::super::*;
    use crate::gfp::{__GFP_NOFAIL, GFP_ATOMIC, GFP_DMA, GFP_KERNEL, GFP_NOWAIT};
    use crate::kmalloc::KmallocBox;
    use crate::pages::LowmemPages;
    use crate::selftest::{as_nmi, irqs_off, on_node, two_nodes, wait_for};
    use kernel::alloc::flags as kf;
    use kernel::page::PAGE_SIZE;
    use kernel::sync::new_spinlock;

    /// Whether a block of pages dropped by [`NolockPages`] is still waiting
    /// for its deferred free.
    fn pending() -> bool {
        crate::selftest::deferred_pages_pending()
    }

    /// Linux 7.2 counts NMIs in the preemption count on every config (see
    /// `kalloc_gfp`'s NMI case).
    const FAKE_NMI: bool = cfg!(CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS) || cfg!(kalloc_linux_7_2);

    /// In NMI context the nolock types allocate (values written, pages
    /// zeroed) and free, where the ordinary types refuse with `EAGAIN`: a
    /// box goes back with `kfree_nolock()`, a block of pages is handed to
    /// the IRQ work (not freed in the NMI), which frees it once interrupts
    /// are on again.
    #[test]
    fn nmi_context_allocates_and_frees() -> Result {
        if crate::selftest::skip_unless(FAKE_NMI, c"CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS") {
            return Ok(());
        }
        assert!(wait_for(|| !pending()));
        let (boxed, pages, refused, deferred) = as_nmi(|| {
            let boxed = KmallocNolock::new_box([5u64; 8], Gfp::NONE).map(|b| b.iter().sum::<u64>());
            let pages = NolockPages::alloc(2, Gfp::NONE).map(|mut p| {
                let zeroed = p.as_slice().iter().all(|&b| b == 0);
                p.as_mut_slice()[0] = 1;
                (zeroed, p.size())
            });
            let deferred = pending();
            let refused = [
                KmallocBox::new(1u8, GFP_ATOMIC).err(),
                LowmemPages::get_free_page(GFP_ATOMIC).err(),
            ];
            (boxed, pages, refused, deferred)
        })?;
        assert_eq!(boxed, Ok(40));
        assert_eq!(pages, Ok((true, 4 * PAGE_SIZE)));
        assert!(deferred);
        assert_eq!(refused, [Some(EAGAIN), Some(EAGAIN)]);
        assert!(wait_for(|| !pending()));
        Ok(())
    }

    /// Under a spinlock with interrupts off both nolock types allocate and
    /// free (the pages at once: no deferral outside NMI context); so does
    /// the kernel crate's vector on the nolock allocator, growing (a new
    /// object and a copy: every value kept) and shrinking.
    #[test]
    fn spinlock_with_irqs_off_allocates_and_frees() -> Result {
        let lock = KBox::pin_init(new_spinlock!(()), kf::GFP_KERNEL)?;
        let (sum, zeroed, deferred, vec) = irqs_off(|| {
            let _guard = lock.lock();
            let b = KmallocNolock::new_box([3u32; 100], __GFP_ZERO);
            let p = NolockPages::alloc(0, Gfp::NONE);
            let zeroed = p
                .as_ref()
                .map(|p| p.as_slice().iter().all(|&b| b == 0))
                .map_err(|e| *e);
            drop(p);
            let mut v = NolockVec::new();
            let mut grew = Ok(());
            for i in 0..2000u32 {
                if let Err(e) = v.push(i, kf::__GFP_NOWARN) {
                    grew = Err(e);
                    break;
                }
            }
            let kept = grew.is_ok() && v.iter().enumerate().all(|(i, &x)| x == i as u32);
            v.truncate(10);
            (
                b.map(|b| b.iter().sum::<u32>()),
                zeroed,
                pending(),
                kept && v.len() == 10,
            )
        })?;
        assert_eq!(sum, Ok(300));
        assert_eq!(zeroed, Ok(true));
        assert!(!deferred);
        assert!(vec);
        Ok(())
    }

    /// Requests the nolock path cannot take are `EINVAL` before C sees them:
    /// reclaim flags (`GFP_KERNEL`, `GFP_ATOMIC`, `GFP_NOWAIT`), zones,
    /// `__GFP_NOFAIL`, more than [`NOLOCK_MAX_SIZE`] bytes, an order above
    /// [`NOLOCK_MAX_ORDER`]; the kernel crate's containers fail with
    /// `AllocError` for them. The largest requests and the flags C allows
    /// succeed.
    #[test]
    fn bad_requests_are_einval() -> Result {
        let bad: [Gfp; 5] = [
            GFP_KERNEL.into(),
            GFP_ATOMIC.into(),
            GFP_NOWAIT.into(),
            GFP_DMA,
            Gfp::NONE | __GFP_NOFAIL,
        ];
        for flags in bad {
            assert_eq!(KmallocNolock::new_box(1u8, flags).err(), Some(EINVAL));
            assert_eq!(KmallocNolock::new_box((), flags).err(), Some(EINVAL));
            assert_eq!(NolockPages::alloc(0, flags).err(), Some(EINVAL));
        }
        assert!(NolockBox::new(1u8, kf::GFP_KERNEL).is_err());
        assert!(NolockBox::new(1u8, kf::GFP_ATOMIC).is_err());
        let over = KmallocNolock::new_zeroed_slice::<u8>(NOLOCK_MAX_SIZE + 1, Gfp::NONE);
        assert_eq!(over.err(), Some(EINVAL));
        let overflow = KmallocNolock::new_zeroed_slice::<u64>(usize::MAX, Gfp::NONE);
        assert_eq!(overflow.err(), Some(EOVERFLOW));
        assert!(NolockVec::<u8>::with_capacity(NOLOCK_MAX_SIZE + 1, kf::__GFP_NOWARN).is_err());
        assert_eq!(
            NolockPages::alloc(NOLOCK_MAX_ORDER + 1, Gfp::NONE).err(),
            Some(EINVAL)
        );
        assert_eq!(NolockPages::alloc(u32::MAX, Gfp::NONE).err(), Some(EINVAL));

        let largest = KmallocNolock::new_zeroed_slice::<u8>(NOLOCK_MAX_SIZE, __GFP_ACCOUNT)?;
        assert!(largest.len() == NOLOCK_MAX_SIZE && largest.iter().all(|&b| b == 0));
        assert!(KmallocNolock::new_zeroed_slice::<u32>(0, Gfp::NONE)?.is_empty());
        let v = NolockVec::<u8>::with_capacity(NOLOCK_MAX_SIZE, kf::__GFP_ZERO)?;
        assert!(v.capacity() >= NOLOCK_MAX_SIZE);
        let pages = NolockPages::alloc(NOLOCK_MAX_ORDER, __GFP_ACCOUNT | __GFP_NOWARN)?;
        assert_eq!(pages.size(), PAGE_SIZE << NOLOCK_MAX_ORDER);
        assert!(pages.as_slice().iter().all(|&b| b == 0));
        Ok(())
    }

    /// On a node: boxes and pages land on the node asked for, on both
    /// nodes.
    #[test]
    fn node_requests_land_on_the_node() -> Result {
        if !two_nodes() {
            return Ok(());
        }
        for nid in 0..2 {
            let node = Node::new(nid)?;
            let b = KmallocNolock::new_box_on([1u64; 16], Gfp::NONE, node)?;
            assert!(on_node(&raw const *b, nid));
            let p = NolockPages::alloc_on(1, Gfp::NONE, node)?;
            assert!(on_node(p.as_slice().as_ptr(), nid));
        }
        Ok(())
    }
}
