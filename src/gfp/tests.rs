// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_gfp` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_gfp)]
mod kalloc_gfp {
    use super::super::as_gfp::{
        __GFP_HIGHMEM, __GFP_NOWARN, __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, GFP_KERNEL_ACCOUNT,
        GFP_NOWAIT,
    };
    use super::super::*;
    use crate::selftest::ffi::{c_macro, gfp_c_allow_blocking, gfp_c_zone, gfp_c_zone_bad};
    use kernel::new_spinlock;

    /// A few flags outside every composite, to combine with the constants.
    const ZONE_MODIFIERS: [Gfp; 4] = [Gfp::NONE, GFP_DMA, GFP_DMA32, __GFP_HIGHMEM];

    /// Every Rust constant has the value of the C macro of the same name.
    #[test]
    fn constants_match_c_macros() -> Result {
        for (name, flags) in ALL {
            let c = c_macro(name)? as RawGfp;
            if c != flags.as_raw() {
                pr_err!("{:?}: Rust {:#x}, C {:#x}\n", name, flags.as_raw(), c);
            }
            assert_eq!(c, flags.as_raw());
        }
        Ok(())
    }

    /// Direct plus kswapd reclaim is C's `__GFP_RECLAIM` (the old `__GFP_WAIT`).
    #[test]
    fn reclaim_bits_are_gfp_reclaim() -> Result {
        let both = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
        assert_eq!(both.as_raw(), c_macro(c"__GFP_RECLAIM")? as RawGfp);
        assert!(GFP_KERNEL.contains(both));
        assert!(!GFP_ATOMIC.contains(__GFP_DIRECT_RECLAIM));
        Ok(())
    }

    /// `may_sleep()` agrees with C's `gfpflags_allow_blocking()`.
    #[test]
    fn may_sleep_matches_c() {
        for (_, flags) in ALL {
            assert_eq!(flags.may_sleep(), gfp_c_allow_blocking(*flags));
        }
        assert!(GFP_KERNEL.may_sleep());
        assert!(GFP_NOIO.may_sleep());
        assert!(GFP_NOFS.may_sleep());
        assert!(!GFP_ATOMIC.may_sleep());
        assert!(!GFP_NOWAIT.may_sleep());
    }

    /// For every valid combination of a constant and a zone modifier, the
    /// zone Rust computes is the one C's `gfp_zone()` picks.
    #[test]
    fn zone_matches_c_gfp_zone() -> Result {
        let mut checked = 0;
        for (_, base) in ALL {
            for m in ZONE_MODIFIERS {
                let flags = *base | m;
                if let Ok(zone) = flags.zone() {
                    assert_eq!(zone.zone_type(), gfp_c_zone(flags)?);
                    checked += 1;
                }
            }
        }
        assert!(checked > ALL.len());
        assert!(GFP_KERNEL.zone() == Ok(Zone::Normal));
        assert!((GFP_KERNEL | GFP_DMA).zone() == Ok(Zone::Dma));
        assert!((GFP_KERNEL | GFP_DMA32).zone() == Ok(Zone::Dma32));
        assert!(GFP_HIGHUSER.zone() == Ok(Zone::HighMem));
        assert!(GFP_HIGHUSER_MOVABLE.zone() == Ok(Zone::Movable));
        Ok(())
    }

    /// Two zone modifiers at once (C's `GFP_ZONE_BAD`) are `EINVAL`.
    #[test]
    fn invalid_zone_combinations_are_einval() {
        let bad = [
            GFP_DMA | GFP_DMA32,
            GFP_DMA | __GFP_HIGHMEM,
            GFP_DMA32 | __GFP_HIGHMEM,
            GFP_KERNEL | GFP_DMA | GFP_DMA32 | __GFP_HIGHMEM,
            GFP_HIGHUSER_MOVABLE | GFP_DMA,
            GFP_HIGHUSER_MOVABLE | GFP_DMA32,
        ];
        for flags in bad {
            assert!(flags.zone() == Err(EINVAL));
            assert!(flags.check() == Err(EINVAL));
        }
    }

    /// Flags with both migratetype bits (Rust-for-Linux issue 1253) never
    /// reach C: of all combinations of constants with `|` or `without`,
    /// exactly those that set both are refused by the check every
    /// allocator makes, and raw flags that do are refused.
    #[test]
    fn migratetype_bits_never_both_set() {
        for (_, a) in ALL {
            for (_, b) in ALL {
                for flags in [*a | *b, a.without(*b)] {
                    if flags.as_raw() & MIGRATETYPE_MASK == MIGRATETYPE_MASK {
                        assert!(flags.check() == Err(EINVAL));
                        assert!(flags.check_slab() == Err(EINVAL));
                        assert!(Gfp::from_raw(flags.as_raw()) == Err(EINVAL));
                    }
                }
            }
        }
        assert!((__GFP_MOVABLE | __GFP_RECLAIMABLE).check() == Err(EINVAL));
        // The upstream bug: the complement of GFP_ATOMIC. Here, removing
        // GFP_ATOMIC from itself leaves nothing, not every other bit.
        assert!(GFP_ATOMIC.without(GFP_ATOMIC) == Gfp::NONE);
        assert!(Gfp::from_raw(MOVABLE | RECLAIMABLE) == Err(EINVAL));
        assert!(Gfp::from_raw(GFP_KERNEL.as_raw() | RECLAIMABLE | MOVABLE) == Err(EINVAL));
    }

    /// Raw flags from C: known and valid ones are taken, others refused.
    #[test]
    fn from_raw_validates() {
        assert!(Gfp::from_raw(GFP_KERNEL.as_raw()) == Ok(GFP_KERNEL));
        assert!(Gfp::from_raw((GFP_ATOMIC | __GFP_ZERO).as_raw()) == Ok(GFP_ATOMIC | __GFP_ZERO));
        assert!(Gfp::from_raw(RECLAIMABLE) == Ok(__GFP_RECLAIMABLE));
        // Both migratetypes, two zones, bits that are no flag.
        assert!(Gfp::from_raw(MOVABLE | RECLAIMABLE) == Err(EINVAL));
        assert!(Gfp::from_raw((GFP_DMA | GFP_DMA32).as_raw()) == Err(EINVAL));
        assert!(Gfp::from_raw(UNUSED) == Err(EINVAL));
        assert!(Gfp::from_raw(1 << 31) == Err(EINVAL));
        // `|` can make both migratetypes; every allocator's check refuses them.
        assert!((__GFP_MOVABLE | __GFP_RECLAIMABLE).check() == Err(EINVAL));
    }

    /// Every mask C builds from its documented flags passes through
    /// `from_raw` unchanged, and so does every pair of them, except exactly
    /// the pairs C's own checks refuse: `GFP_ZONE_BAD` and both
    /// migratetypes.
    #[test]
    fn from_raw_round_trips_every_c_mask() -> Result {
        for (name, _) in ALL {
            let c = c_macro(name)? as RawGfp;
            assert!(Gfp::from_raw(c).map(Gfp::as_raw) == Ok(c));
        }
        for (a, _) in ALL {
            for (b, _) in ALL {
                let mask = c_macro(a)? as RawGfp | c_macro(b)? as RawGfp;
                let c_refuses = gfp_c_zone_bad(mask) || mask & MIGRATETYPE_MASK == MIGRATETYPE_MASK;
                match Gfp::from_raw(mask) {
                    Ok(flags) => assert!(!c_refuses && flags.as_raw() == mask),
                    Err(e) => assert!(c_refuses && e == EINVAL),
                }
            }
        }
        Ok(())
    }

    /// `|`, `|=`, `without` and `contains` add and remove exactly the
    /// flags named.
    #[test]
    fn combine_and_remove() {
        let mut flags = GFP_KERNEL;
        flags |= __GFP_ZERO;
        assert!(flags == GFP_KERNEL | __GFP_ZERO);
        assert!(flags.zeroes());
        assert!(flags.contains(GFP_KERNEL));
        assert!(flags.without(__GFP_ZERO) == GFP_KERNEL);
        assert!(!flags.without(__GFP_ZERO).zeroes());
        assert!(GFP_KERNEL_ACCOUNT.without(__GFP_ACCOUNT) == GFP_KERNEL);
        assert!(GFP_USER.contains(GFP_KERNEL));
        assert!(!GFP_KERNEL.without(__GFP_DIRECT_RECLAIM).may_sleep());
    }

    /// `__GFP_NOFAIL` needs a request that may sleep.
    #[test]
    fn nofail_needs_a_sleeping_request() {
        assert!((GFP_KERNEL | __GFP_NOFAIL).check().is_ok());
        assert!((GFP_ATOMIC | __GFP_NOFAIL).check() == Err(EINVAL));
        assert!((GFP_NOWAIT | __GFP_NOFAIL).check() == Err(EINVAL));
    }

    /// Of the constants, only `GFP_HIGHUSER_MOVABLE` and `__GFP_MOVABLE`
    /// ask for movable memory, and keep doing so combined with others.
    #[test]
    fn movable_only_with_gfp_highuser_movable() {
        for (_, flags) in ALL {
            let movable = *flags == GFP_HIGHUSER_MOVABLE || *flags == __GFP_MOVABLE;
            assert!(flags.movable() == movable);
            assert!((*flags | GFP_HIGHUSER_MOVABLE).movable());
            assert!((*flags | __GFP_MOVABLE).movable());
        }
        // What `GFP_HIGHUSER_MOVABLE` adds to `GFP_HIGHUSER`: the movable bit.
        let movable = GFP_HIGHUSER_MOVABLE.without(GFP_HIGHUSER);
        assert!(movable.movable());
        assert!((GFP_KERNEL | movable).movable());
        assert!(!GFP_HIGHUSER_MOVABLE.without(movable).movable());
    }

    /// Slab allocations refuse what kmalloc cannot honour.
    #[test]
    fn slab_refuses_highmem_dma32_movable() {
        assert!(GFP_KERNEL.check_slab().is_ok());
        assert!((GFP_ATOMIC | GFP_DMA).check_slab().is_ok());
        assert!((GFP_KERNEL | __GFP_HIGHMEM).check_slab() == Err(EINVAL));
        assert!((GFP_KERNEL | GFP_DMA32).check_slab() == Err(EINVAL));
        assert!(GFP_HIGHUSER.check_slab() == Err(EINVAL));
        assert!(GFP_HIGHUSER_MOVABLE.check_slab() == Err(EINVAL));
    }

    /// Flags that may sleep are refused with `EAGAIN` where sleeping is not
    /// allowed, before any allocator sees them; flags that never sleep pass.
    #[test]
    fn sleeping_flags_are_refused_in_atomic_context() -> Result {
        assert!(context_may_sleep());
        assert!(GFP_KERNEL.check().is_ok());
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            assert!(!context_may_sleep());
            assert!(GFP_KERNEL.check() == Err(EAGAIN));
            assert!(GFP_NOIO.check_slab() == Err(EAGAIN));
            assert!(GFP_ATOMIC.check().is_ok());
            assert!(GFP_NOWAIT.check_slab().is_ok());
            // A bad combination is still `EINVAL`, whatever the context.
            assert!((GFP_ATOMIC | GFP_DMA | GFP_DMA32).check() == Err(EINVAL));
        }
        assert!(GFP_KERNEL.check().is_ok());
        Ok(())
    }

    /// kalloc reads the context inline (`context.rs`): each state that
    /// forbids sleeping is seen on its own, and a request that never sleeps
    /// is allowed in all of them but NMI context (`nmi_context_refuses_every_request`).
    #[test]
    fn each_context_that_forbids_sleeping_is_seen() -> Result {
        use crate::context::{allows, in_hardirq, irqs_disabled, may_sleep};
        use crate::selftest::{as_hardirq, irqs_off};

        let seen = || {
            (
                may_sleep(),
                allows(true),
                allows(false),
                irqs_disabled(),
                in_hardirq(),
            )
        };
        assert_eq!(seen(), (true, true, true, false, false));
        // Preemption disabled, interrupts on.
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        {
            let _guard = lock.lock();
            assert_eq!(seen(), (false, false, true, false, false));
        }
        // Interrupts off, preemption enabled in the count.
        assert_eq!(irqs_off(seen)?, (false, false, true, true, false));
        // In an RCU read-side critical section: with preemptible RCU only
        // the task's nesting shows it, without it the preempt count does.
        {
            let _rcu = kernel::sync::rcu::read_lock();
            assert_eq!(seen(), (false, false, true, false, false));
        }
        // Hard interrupt context.
        assert_eq!(as_hardirq(seen)?, (false, false, true, true, true));
        assert_eq!(seen(), (true, true, true, false, false));
        Ok(())
    }

    /// In NMI context every request is refused with `EAGAIN`, flags that
    /// never sleep too (kmalloc and the page allocator take locks an NMI
    /// may have interrupted), before C is called: by the flag check and by
    /// each family's constructor. The same requests pass outside.
    #[test]
    fn nmi_context_refuses_every_request() -> Result {
        use crate::kmalloc::KmallocBox;
        use crate::pages::LowmemPages;
        use crate::slab::{SlabCache, SlabOptions};
        use crate::vmalloc::VBuf;

        // Linux 7.2 counts NMIs in the preemption count on every config.
        const FAKE_NMI: bool =
            cfg!(CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS) || cfg!(kalloc_linux_7_2);
        if crate::selftest::skip_unless(FAKE_NMI, c"CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS") {
            return Ok(());
        }
        let cache = SlabCache::<u64>::new(c"kalloc_gfp_nmi", SlabOptions::new())?;
        let refused = crate::selftest::as_nmi(|| {
            [
                GFP_ATOMIC.check().err(),
                GFP_NOWAIT.check_slab().err(),
                KmallocBox::new(1u64, GFP_ATOMIC).err(),
                cache.alloc(2, GFP_ATOMIC).err(),
                LowmemPages::get_free_page(GFP_ATOMIC).err(),
                VBuf::<u8>::new_uninit(64, GFP_ATOMIC).err(),
            ]
        })?;
        assert!(refused.iter().all(|e| *e == Some(EAGAIN)));
        assert!(GFP_ATOMIC.check().is_ok() && GFP_NOWAIT.check_slab().is_ok());
        assert_eq!(*cache.alloc(3, GFP_ATOMIC)?, 3);
        Ok(())
    }

    /// The kernel crate's flags and kalloc's convert both ways with the
    /// same bits: every constant the kernel crate has, and unions of them;
    /// flags the kernel crate cannot express are `EINVAL`.
    #[test]
    fn kernel_crate_flags_convert_both_ways() -> Result {
        use crate::pages::LowmemPages;
        use crate::vmalloc::VBuf;
        use kernel::alloc::{flags as kf, Flags};

        let pairs = [
            (kf::GFP_KERNEL, GFP_KERNEL),
            (kf::GFP_KERNEL_ACCOUNT, GFP_KERNEL_ACCOUNT),
            (kf::GFP_ATOMIC, GFP_ATOMIC),
            (kf::GFP_NOWAIT, GFP_NOWAIT),
            (kf::__GFP_ZERO, __GFP_ZERO),
            (kf::__GFP_HIGHMEM, __GFP_HIGHMEM),
            (kf::__GFP_NOWARN, __GFP_NOWARN),
        ];
        for (k, g) in pairs {
            for (k2, g2) in pairs {
                assert!(Gfp::from(k | k2) == g | g2);
                assert!((g | g2).check().is_ok());
                assert!(Flags::try_from(g | g2)? == k | k2);
            }
        }
        // Flags made with the kernel crate's `&` and `!` have bits it does
        // not show: refused, not guessed.
        for flags in [
            kf::GFP_KERNEL & !kf::GFP_NOWAIT,
            !kf::GFP_ATOMIC,
            kf::GFP_KERNEL & !kf::GFP_KERNEL,
        ] {
            let gfp = Gfp::from(flags);
            assert!(gfp.check() == Err(EINVAL) && gfp.check_slab() == Err(EINVAL));
            assert!(crate::kmalloc::KmallocBox::new(0u8, flags).err() == Some(EINVAL));
            assert!(VBuf::<u8>::new_uninit(8, flags).err() == Some(EINVAL));
            assert!(LowmemPages::get_free_page(flags).err() == Some(EINVAL));
        }
        assert!(Flags::try_from(GFP_KERNEL | __GFP_RETRY_MAYFAIL).is_err());
        assert!(Flags::try_from(GFP_KERNEL | GFP_DMA).is_err());
        Ok(())
    }

    /// A node is any node or an online one: node 0 is online (and node 1
    /// on the two-node test VM), numbers out of range and nodes that are
    /// not online are `EINVAL`.
    #[test]
    fn nodes_are_checked() -> Result {
        assert_eq!(Node::ANY.id(), bindings::NUMA_NO_NODE);
        assert_eq!(Node::new(0)?.id(), 0);
        let nodes = if crate::selftest::two_nodes() { 2 } else { 1 };
        assert_eq!(Node::new(nodes - 1)?.id(), nodes - 1);
        if (nodes as u32) < bindings::MAX_NUMNODES {
            assert!(Node::new(nodes) == Err(EINVAL));
        }
        for nid in [-1, -5, bindings::MAX_NUMNODES as i32, i32::MAX] {
            assert!(Node::new(nid) == Err(EINVAL));
        }
        Ok(())
    }
}
