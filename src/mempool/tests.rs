// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_mempool` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_mempool)]
mod kalloc_mempool {
    use super::super::*;
    use crate::gfp::{
        __GFP_NOFAIL, __GFP_RETRY_MAYFAIL, GFP_ATOMIC, GFP_DMA, GFP_KERNEL, GFP_NOWAIT,
    };
    use crate::selftest::faults::{current_task, stop_failing, unavailable, FailEverything};
    use crate::selftest::slab_stats::Stats;
    use crate::selftest::stress::run_on_each_cpu;
    use crate::selftest::Counted;
    use crate::slab::{SlabCache, SlabOptions};
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use kernel::sync::{new_mutex, new_spinlock};

    /// Takes elements from `pool` with `GFP_NOWAIT` until one fails, while
    /// its allocator fails every request: returns how many the reserve gave,
    /// each holding its index.
    fn drain(pool: &KmallocPool<u64>) -> Result<KVec<PoolBox<'_, u64>>> {
        let mut out = KVec::with_capacity(8, GFP_KERNEL)?;
        let _fail = FailEverything::new();
        // `out`'s room is there: pushes within it allocate nothing.
        while out.len() < 8 {
            match pool.alloc(out.len() as u64, GFP_NOWAIT) {
                Ok(element) => out.push_within_capacity(element).map_err(|_| EINVAL)?,
                Err(e) if e == ENOMEM => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// While kmalloc fails every request, a pool hands out exactly its
    /// `min_nr` reserved elements, then `ENOMEM`; once they are back it
    /// hands them out again. Fails if the reserve is not made, is one short,
    /// or a dropped element goes to kfree instead of the reserve.
    #[test]
    fn the_reserve_serves_when_kmalloc_fails() -> Result {
        let pool = KmallocPool::<u64>::new(3, GFP_KERNEL)?;
        assert_eq!(pool.min_nr(), 3);
        if unavailable() {
            return Ok(());
        }
        for _ in 0..2 {
            let elements = drain(&pool)?;
            assert_eq!(elements.len(), 3);
            for (i, e) in elements.iter().enumerate() {
                assert_eq!(**e, i as u64);
            }
        }
        // Without failures the allocator serves, beyond the reserve.
        let many: [_; 5] = core::array::from_fn(|i| pool.alloc(10 + i as u64, GFP_KERNEL));
        assert!(many.iter().all(|e| e.is_ok()));
        Ok(())
    }

    /// A pool over a slab cache takes its reserve and its elements from
    /// that cache: the cache counts the reserve once the pool exists, one
    /// more object for an element the allocator made, and none once the
    /// pool is gone. While the cache fails, the reserve serves.
    #[test]
    fn a_slab_pool_lives_in_its_cache() -> Result {
        let cache = SlabCache::<[u64; 4]>::new(c"kalloc_test_pool", SlabOptions::new())?;
        // Objects alive in the cache (freed ones drained first).
        let objects = || -> Result<usize> {
            cache.shrink()?;
            Ok(cache.stats()?.objects)
        };
        cache.skip_kfence()?;
        {
            let pool = SlabPool::new(&cache, 2, GFP_KERNEL)?;
            assert_eq!(objects()?, 2);
            let element = pool.alloc([1, 2, 3, 4], GFP_KERNEL)?;
            assert_eq!(*element, [1, 2, 3, 4]);
            assert_eq!(objects()?, 3);
            drop(element); // the reserve is full: back to the cache
            assert_eq!(objects()?, 2);
            if !unavailable() {
                let _fail = FailEverything::new();
                let a = pool.alloc([5; 4], GFP_NOWAIT)?;
                let b = pool.alloc([6; 4], GFP_NOWAIT)?;
                assert_eq!(pool.alloc([7; 4], GFP_NOWAIT).err(), Some(ENOMEM));
                assert_eq!((a[0], b[3]), (5, 6));
            }
        }
        assert_eq!(objects()?, 0);
        Ok(())
    }

    /// A page pool's blocks are of its order; while the page allocator
    /// fails, its reserve serves `min_nr` blocks, which read back what was
    /// written, and the pool takes them back.
    #[test]
    fn a_page_pool_serves_blocks_of_its_order() -> Result {
        let pool = PagePool::new(2, 2, GFP_KERNEL)?;
        assert_eq!(pool.order(), 2);
        let fresh = pool.alloc(GFP_KERNEL)?.fill(0x5a);
        assert_eq!((fresh.order(), fresh.nr_pages()), (2, 4));
        let mut byte = [0u8];
        fresh.kmap_local(3, |map| map.read(4095, &mut byte))??;
        assert_eq!(byte, [0x5a]);
        drop(fresh);
        if unavailable() {
            return Ok(());
        }
        for _ in 0..2 {
            let _fail = FailEverything::new();
            let mut a = pool.alloc(GFP_NOWAIT)?.fill(1);
            let b = pool.alloc(GFP_NOWAIT)?.fill(2);
            assert_eq!(pool.alloc(GFP_NOWAIT).err(), Some(ENOMEM));
            a.kmap_local_mut(1, |map| map.write(0, &[9]))??;
            a.kmap_local(1, |map| map.read(0, &mut byte))??;
            assert_eq!(byte, [9]);
            b.kmap_local(0, |map| map.read(0, &mut byte))??;
            assert_eq!(byte, [2]);
        }
        Ok(())
    }

    /// With the reserve empty and kmalloc failing, a `GFP_KERNEL` request
    /// waits until another thread gives an element back, then gets it;
    /// `GFP_NOWAIT` fails at once. Fails if the pool's request does not
    /// wait (`ENOMEM`) or a returned element does not wake it (the waiter
    /// is then let allocate after 2 s, and reports it).
    #[test]
    fn a_sleeping_request_waits_for_a_returned_element() -> Result {
        if unavailable() {
            return Ok(());
        }
        let pool = KmallocPool::<u64>::new(1, GFP_KERNEL)?;
        let held = KBox::pin_init(new_mutex!(drain(&pool)?), GFP_KERNEL)?;
        assert_eq!(held.lock().len(), 1);
        let waiter = KBox::pin_init(new_mutex!(None), GFP_KERNEL)?;
        let (returned, rescued, done) = (
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        );
        let roles = AtomicUsize::new(0);
        run_on_each_cpu(&|_cpu| {
            match roles.fetch_add(1, Relaxed) {
                0 => {
                    let _fail = FailEverything::new();
                    if pool.alloc(1, GFP_NOWAIT).err() != Some(ENOMEM) {
                        return Err(EINVAL);
                    }
                    *waiter.lock() = Some(current_task());
                    let element = pool.alloc(2, GFP_KERNEL);
                    done.store(true, Relaxed);
                    // Only a returned element could serve it.
                    if !returned.load(Relaxed) || rescued.load(Relaxed) || *element? != 2 {
                        return Err(EINVAL);
                    }
                }
                1 => {
                    if !crate::selftest::wait_for(|| waiter.lock().is_some()) {
                        return Err(ETIMEDOUT);
                    }
                    kernel::time::delay::fsleep(kernel::time::Delta::from_millis(50));
                    returned.store(true, Relaxed);
                    held.lock().clear();
                    if !crate::selftest::wait_for(|| done.load(Relaxed)) {
                        rescued.store(true, Relaxed);
                        if let Some(task) = &*waiter.lock() {
                            stop_failing(task);
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        assert!(returned.load(Relaxed) && !rescued.load(Relaxed));
        Ok(())
    }

    /// `resize` grows the reserve now and shrinks it now: while kmalloc
    /// fails, the pool then serves the new `min_nr`. Fails if the new size
    /// is not passed on.
    #[test]
    fn resize_changes_the_reserve() -> Result {
        let mut pool = KmallocPool::<u64>::new(1, GFP_KERNEL)?;
        pool.resize(4)?;
        assert_eq!(pool.min_nr(), 4);
        if !unavailable() {
            assert_eq!(drain(&pool)?.len(), 4);
        }
        pool.resize(2)?;
        assert_eq!(pool.min_nr(), 2);
        if !unavailable() {
            assert_eq!(drain(&pool)?.len(), 2);
        }
        Ok(())
    }

    /// `alloc_bulk` makes `N` elements with `init(i)`, from the reserve
    /// while kmalloc fails; `free_bulk` drops each value once and refills
    /// the reserve, which serves again. `N` of 0 or above `min_nr` is
    /// `EINVAL`.
    #[test]
    fn bulk_takes_and_gives_back_many() -> Result {
        Counted::reset();
        let pool = KmallocPool::<Counted>::new(4, GFP_KERNEL)?;
        assert_eq!(
            pool.alloc_bulk::<5>(|i| Counted(i as u32)).err(),
            Some(EINVAL)
        );
        assert_eq!(
            pool.alloc_bulk::<0>(|i| Counted(i as u32)).err(),
            Some(EINVAL)
        );
        let elements = pool.alloc_bulk::<4>(|i| Counted(i as u32 * 10))?;
        assert!(elements
            .iter()
            .enumerate()
            .all(|(i, e)| e.0 == i as u32 * 10));
        pool.free_bulk(elements);
        assert_eq!(Counted::drops(), 4);
        if unavailable() {
            return Ok(());
        }
        for round in 1..3 {
            let _fail = FailEverything::new();
            let elements = pool.alloc_bulk::<4>(|i| Counted(i as u32))?;
            assert_eq!(elements[3].0, 3);
            assert_eq!(pool.alloc(Counted(9), GFP_NOWAIT).err(), Some(ENOMEM));
            pool.free_bulk(elements);
            // The refused value was dropped too.
            assert_eq!(Counted::drops(), 4 + 5 * round);
        }
        let pages = PagePool::new(0, 2, GFP_KERNEL)?;
        let blocks = pages.alloc_bulk::<2>()?;
        pages.free_bulk(blocks);
        Ok(())
    }

    /// Each element's value is dropped once when it goes back.
    #[test]
    fn an_element_drops_its_value() -> Result {
        Counted::reset();
        let pool = KmallocPool::<Counted>::new(1, GFP_KERNEL)?;
        let a = pool.alloc(Counted(1), GFP_KERNEL)?;
        let b = pool.alloc(Counted(2), GFP_KERNEL)?;
        assert_eq!((a.0, b.0, Counted::drops()), (1, 2, 0));
        drop(a);
        drop(b);
        assert_eq!(Counted::drops(), 2);
        Ok(())
    }

    /// Bad requests are errors, not splats: a `min_nr` of 0 or above
    /// [`MAX_MIN_NR`], a zero-sized element, an order above the largest,
    /// flags a pool cannot honour for its reserve (`EINVAL`); sleeping
    /// requests and `resize` under a spinlock (`EAGAIN`), where
    /// `GFP_ATOMIC` is served.
    #[test]
    fn bad_requests_are_errors() -> Result {
        assert_eq!(KmallocPool::<u64>::new(0, GFP_KERNEL).err(), Some(EINVAL));
        assert_eq!(
            KmallocPool::<u64>::new(MAX_MIN_NR + 1, GFP_KERNEL).err(),
            Some(EINVAL)
        );
        assert_eq!(KmallocPool::<()>::new(1, GFP_KERNEL).err(), Some(EINVAL));
        assert_eq!(
            PagePool::new(crate::pages::MAX_PAGE_ORDER + 1, 1, GFP_KERNEL).err(),
            Some(EINVAL)
        );
        let kernel = Gfp::from(GFP_KERNEL);
        let mut pool = KmallocPool::<u64>::new(1, GFP_KERNEL)?;
        for flags in [
            GFP_DMA,
            kernel | as_gfp::__GFP_ZERO,
            kernel | __GFP_NOFAIL,
            kernel | __GFP_RETRY_MAYFAIL,
        ] {
            assert_eq!(KmallocPool::<u64>::new(1, flags).err(), Some(EINVAL));
            assert_eq!(pool.alloc(1, flags).err(), Some(EINVAL));
        }
        assert_eq!(pool.resize(0), Err(EINVAL));
        assert_eq!(pool.resize(MAX_MIN_NR + 1), Err(EINVAL));
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let (sleeping, resize, atomic, create) = {
            let _guard = lock.lock();
            (
                pool.alloc(1, GFP_KERNEL).err(),
                pool.resize(2),
                pool.alloc(3, GFP_ATOMIC).map(|e| *e),
                KmallocPool::<u64>::new(1, GFP_KERNEL).err(),
            )
        };
        assert_eq!(
            (sleeping, resize, atomic, create),
            (Some(EAGAIN), Err(EAGAIN), Ok(3), Some(EAGAIN))
        );
        Ok(())
    }
}
