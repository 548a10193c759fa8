// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_module` KUnit suite: the self-test module itself.

use kernel::prelude::*;

#[kunit_tests(kalloc_module)]
mod kalloc_module {
    use crate::selftest::ffi::{abi, ABI};

    /// Both C objects, the library's shims and the test-only C, are linked
    /// into the same module and callable.
    #[test]
    fn c_shims_are_linked() {
        assert_eq!(abi(), ABI);
        // KUnit runs its cases in a kthread that may sleep.
        assert!(crate::context::may_sleep());
    }

    /// The suite runs inside KUnit, at module load.
    #[test]
    fn runs_under_kunit() {
        assert!(kernel::kunit::in_kunit_test());
    }
}

#[kunit_tests(kalloc_stress)]
mod kalloc_stress {
    use crate::gfp::{GFP_ATOMIC, GFP_KERNEL};
    use crate::kmalloc::KmallocBox;
    use crate::kvmalloc::KVmalloc;
    use crate::pages::LowmemPages;
    use crate::selftest::slab_stats::Stats;
    use crate::selftest::stress::run_on_each_cpu;
    use crate::slab::{OwnedSlabBox, SlabCache, SlabOptions};
    use crate::vmalloc::VBuf;
    use kernel::alloc::{KVec, Vec};
    use kernel::prelude::*;
    use kernel::sync::{new_spinlock, Arc};

    /// Rounds each CPU runs.
    const ROUNDS: u64 = 3000;
    /// Objects waiting in the exchange, at most.
    const SLOTS: usize = 64;

    /// An object of one of kalloc's families, holding `seed` so that the
    /// CPU that frees it can tell that it is intact.
    enum Item {
        Kmalloc(KmallocBox<[u64; 8]>),
        Vmalloc(VBuf<u64>),
        Pages(LowmemPages),
        Slab(OwnedSlabBox<[u64; 8]>),
        Kvmalloc(Vec<u64, KVmalloc>),
    }

    impl Item {
        fn new(seed: u64, cache: &Arc<SlabCache<[u64; 8]>>) -> Result<Self> {
            Ok(match seed % 5 {
                0 => Item::Kmalloc(KmallocBox::new([seed; 8], GFP_KERNEL)?),
                1 => Item::Vmalloc(VBuf::from_fn(600, GFP_KERNEL, |_| seed)?),
                2 => {
                    let mut pages = LowmemPages::get_zeroed_pages((seed % 3) as u32, GFP_KERNEL)?;
                    pages.as_mut_slice()[..8].copy_from_slice(&seed.to_ne_bytes());
                    Item::Pages(pages)
                }
                3 => Item::Slab(cache.alloc_owned([seed; 8], GFP_KERNEL)?),
                _ => {
                    let mut v = Vec::<u64, KVmalloc>::with_capacity(300, GFP_KERNEL)?;
                    v.extend_from_slice(&[seed; 300], GFP_KERNEL)?;
                    Item::Kvmalloc(v)
                }
            })
        }

        /// Whether the object still holds what it was made with.
        fn intact(&self) -> bool {
            let all = |values: &[u64]| values.iter().all(|&v| v == values[0]);
            match self {
                Item::Kmalloc(b) => all(&b[..]),
                Item::Vmalloc(v) => all(v),
                Item::Pages(p) => {
                    let seed = u64::from_ne_bytes(p.as_slice()[..8].try_into().unwrap_or([1; 8]));
                    seed % 5 == 2 && p.as_slice()[8..].iter().all(|&b| b == 0)
                }
                Item::Slab(s) => all(&s[..]),
                Item::Kvmalloc(v) => v.len() == 300 && all(v),
            }
        }
    }

    /// Every CPU at once, for a few seconds of guest time: objects of every
    /// family allocated on one CPU, handed over through a spinlocked
    /// exchange and freed on another, half of them under the lock (atomic
    /// context: vmalloc and kvmalloc memory go through `vfree_atomic()`),
    /// with a `GFP_ATOMIC` allocation under the lock each round, while
    /// lockdep, KASAN and kmemleak watch. Every object reaches its free
    /// intact, and the slab cache has no object left at the end.
    #[test]
    fn objects_cross_cpus_under_stress() -> Result {
        let cache = Arc::new(
            SlabCache::<[u64; 8]>::new(c"kalloc_stress", SlabOptions::new().no_merge())?,
            GFP_KERNEL,
        )?;
        let exchange = Arc::pin_init(
            new_spinlock!(KVec::<Item>::with_capacity(SLOTS, GFP_KERNEL)?),
            GFP_KERNEL,
        )?;
        let work = |cpu: u32| -> Result {
            for round in 0..ROUNDS {
                let item = Item::new(u64::from(cpu) * ROUNDS + round, &cache)?;
                let in_lock = round % 2 == 0;
                let taken = {
                    let mut slots = exchange.lock();
                    // An allocation and a free in atomic context.
                    let atomic = KmallocBox::new(round, GFP_ATOMIC)?;
                    let taken = slots.pop();
                    if slots.push_within_capacity(item).is_err() {
                        return Err(ENOSPC);
                    }
                    if *atomic != round || taken.as_ref().is_some_and(|t| !t.intact()) {
                        return Err(crate::compat::ebadmsg());
                    }
                    if in_lock {
                        drop(taken);
                        None
                    } else {
                        taken
                    }
                };
                drop(taken);
            }
            Ok(())
        };
        let ran = run_on_each_cpu(&work);
        let mut left = 0;
        while let Some(item) = exchange.lock().pop() {
            assert!(item.intact());
            left += 1;
        }
        assert!(ran.is_ok());
        // Each CPU leaves its last object there.
        assert!(left >= 1);
        if crate::selftest::skip_unless(cfg!(CONFIG_SLUB_DEBUG), c"CONFIG_SLUB_DEBUG") {
            return Ok(());
        }
        cache.shrink()?;
        assert_eq!(cache.stats()?.objects, 0);
        Ok(())
    }
}

#[kunit_tests(kalloc_faults)]
mod kalloc_faults {
    use crate::devm::FauxDevice;
    use crate::devm::{DevmBox, DevmOwned, DevmPages, DevmStr};
    use crate::gfp::{as_gfp, Gfp};
    use crate::kmalloc::{KString, Kmalloc, KmallocArray, KmallocBox};
    use crate::kvmalloc::KVmalloc;
    use crate::pages::{LowmemPages, Pages};
    use crate::selftest::devres::devres_count;
    use crate::selftest::faults::sweep;
    use crate::selftest::slab_stats::Stats;
    use crate::slab::{SlabCache, SlabOptions};
    use crate::vmalloc::VBuf;
    use kernel::alloc::{Box, Vec};
    use kernel::device::{Bound, Device};
    use kernel::prelude::*;
    use kernel::sync::Arc;

    /// Sleeping flags that say nothing when an allocation fails (the
    /// injected failures would otherwise each print a warning and a stack).
    const FLAGS: Gfp = as_gfp::GFP_KERNEL.union(as_gfp::__GFP_NOWARN);

    use crate::selftest::faults::unavailable;

    /// A run judged by [`sweep`]: after an injected failure, `ENOMEM` (or a
    /// success, where the kernel absorbed the failure) with `ok` holding;
    /// without one, a success.
    fn judge<T>(failed: bool, result: Result<T>, ok: impl FnOnce(&T) -> bool) -> Result {
        match result {
            Ok(value) if ok(&value) => Ok(()),
            Err(e) if failed && e == ENOMEM => Ok(()),
            _ => Err(crate::compat::ebadmsg()),
        }
    }

    /// Sweeps `op`, judging each run with `ok` on a success, and says how
    /// many failure points `what` has.
    fn sweep_op<T>(what: &str, op: impl FnMut() -> Result<T>, ok: impl Fn(&T) -> bool) -> Result {
        let points = sweep(op, |failed, result| judge(failed, result, &ok))?;
        pr_info!("kalloc_faults: {what}: {points} failure points\n");
        Ok(())
    }

    /// Every failure on the way through the kmalloc family's constructors
    /// is a clean `ENOMEM`, and a resize that fails leaves the old value as
    /// it was; kmemleak checks at the end that nothing leaked.
    #[test]
    fn kmalloc_family_fails_cleanly_at_every_point() -> Result {
        if unavailable() {
            return Ok(());
        }
        sweep_op(
            "KmallocBox::new",
            || KmallocBox::new([7u64; 8], FLAGS),
            |b| **b == [7; 8],
        )?;
        sweep_op(
            "KmallocArray::zeroed",
            || KmallocArray::<u32>::zeroed(300, FLAGS),
            |a| a.iter().all(|&v| v == 0),
        )?;
        sweep_op(
            "KmallocArray::from_slice",
            || KmallocArray::from_slice(&[3u8; 100], FLAGS),
            |a| a[..] == [3; 100],
        )?;
        let mut array = KmallocArray::from_slice(&[5u16; 10], FLAGS)?;
        sweep_op(
            "KmallocArray::resize",
            || {
                let before = array.len();
                let grown = array.resize(before + 500, 6, FLAGS);
                let kept = array[..10] == [5; 10];
                match grown {
                    Ok(()) if kept => Ok(array.len()),
                    Err(e) if kept && array.len() == before => Err(e),
                    _ => Err(crate::compat::ebadmsg()),
                }
            },
            |&len| len > 10,
        )?;
        sweep_op(
            "kasprintf!",
            || crate::kasprintf!(FLAGS, "{}-{:#x}", "eth", 255),
            |s| s.to_bytes() == b"eth-0xff",
        )?;
        sweep_op(
            "KString::from_cstr",
            || KString::from_cstr(c"eth0", FLAGS),
            |s| s.to_bytes() == b"eth0",
        )?;
        sweep_op(
            "Box<_, Kmalloc>::new",
            || Box::<_, Kmalloc>::new([1u8; 300], GFP_KERNEL).map_err(|_| ENOMEM),
            |b| **b == [1; 300],
        )
    }

    /// The page allocator's and vmalloc's constructors, and kvmalloc's
    /// vmalloc fallback, fail cleanly at every point.
    #[test]
    fn pages_and_vmalloc_fail_cleanly_at_every_point() -> Result {
        if unavailable() {
            return Ok(());
        }
        sweep_op(
            "LowmemPages::get_zeroed_pages",
            || LowmemPages::get_zeroed_pages(2, FLAGS),
            |p| p.as_slice().iter().all(|&b| b == 0),
        )?;
        sweep_op(
            "Pages::alloc_pages",
            || Pages::alloc_pages(1, FLAGS),
            |p| p.nr_pages() == 2,
        )?;
        sweep_op(
            "VBuf::from_fn",
            || VBuf::from_fn(20_000, FLAGS, |i| i as u32),
            |v| v.iter().enumerate().all(|(i, &x)| x == i as u32),
        )?;
        let mut buf = VBuf::from_fn(1000, FLAGS, |i| i as u64)?;
        sweep_op(
            "VBuf::resize",
            || {
                let before = buf.len();
                let grown = buf.resize(before + 3000, 9, FLAGS);
                let kept = buf[..1000].iter().enumerate().all(|(i, &x)| x == i as u64);
                match grown {
                    Ok(()) if kept => Ok(buf.len()),
                    Err(e) if kept && buf.len() == before => Err(e),
                    _ => Err(crate::compat::ebadmsg()),
                }
            },
            |&len| len > 1000,
        )?;
        sweep_op(
            "Vec<_, KVmalloc>::with_capacity (vmalloc fallback)",
            || Vec::<u8, KVmalloc>::with_capacity(256 << 10, GFP_KERNEL).map_err(|_| ENOMEM),
            |v| v.capacity() >= 256 << 10,
        )
    }

    /// Objects of a slab cache, one by one, in bulk and holding the cache,
    /// fail cleanly at every point, and the cache has no object left.
    /// (Creating a cache is not swept: C prints a stack dump for each
    /// failed creation, which the harness counts as a kernel report.)
    #[test]
    fn slab_objects_fail_cleanly_at_every_point() -> Result {
        if unavailable() {
            return Ok(());
        }
        let cache = Arc::new(
            SlabCache::<[u64; 4]>::new(c"kalloc_faults", SlabOptions::new().no_merge())?,
            GFP_KERNEL,
        )?;
        sweep_op(
            "SlabCache::alloc",
            || cache.alloc([2; 4], FLAGS),
            |o| **o == [2; 4],
        )?;
        sweep_op(
            "SlabCache::alloc_bulk",
            || cache.alloc_bulk(40, FLAGS, |i| [i as u64; 4]),
            |b| b.len() == 40 && b.iter().enumerate().all(|(i, o)| *o == [i as u64; 4]),
        )?;
        sweep_op(
            "SlabCache::alloc_owned",
            || cache.alloc_owned([3; 4], FLAGS),
            |o| **o == [3; 4],
        )?;
        if cfg!(CONFIG_SLUB_DEBUG) {
            cache.shrink()?;
            assert_eq!(cache.stats()?.objects, 0);
        }
        Ok(())
    }

    /// The device-managed constructors fail cleanly at every point and
    /// leave nothing on the device's list.
    #[test]
    fn devm_constructors_fail_cleanly_at_every_point() -> Result {
        if unavailable() {
            return Ok(());
        }
        let reg = FauxDevice::without_data(c"kalloc_faults")?;
        let dev: &Device<Bound> = reg.device();
        let base = devres_count(dev);
        // Each success is given back at once: the list must be back to
        // where it was after every run.
        let clean = || devres_count(dev) == base;
        sweep_op(
            "DevmBox::new",
            || DevmBox::new(dev, 5u64, FLAGS).map(|b| (*b == 5, b.free())),
            |(ok, ())| *ok && clean(),
        )?;
        sweep_op(
            "DevmBox::from_slice",
            || DevmBox::from_slice(dev, &[4u8; 50], FLAGS).map(|b| (b[..] == [4; 50], b.free())),
            |(ok, ())| *ok && clean(),
        )?;
        sweep_op(
            "DevmStr::format",
            || {
                DevmStr::format(dev, fmt!("edu-{}", 1), FLAGS)
                    .map(|s| (s.to_bytes() == b"edu-1", s.free()))
            },
            |(ok, ())| *ok && clean(),
        )?;
        sweep_op(
            "DevmPages::alloc_zeroed",
            || {
                DevmPages::alloc_zeroed(dev, 1, FLAGS)
                    .map(|p| (p.iter().all(|&b| b == 0), p.free()))
            },
            |(ok, ())| *ok && clean(),
        )?;
        sweep_op(
            "DevmOwned::new",
            || {
                DevmOwned::new(dev, KmallocBox::new(8u32, FLAGS)?)
                    .map(|o| (o.release().is_ok(), ()))
            },
            |(ok, ())| *ok && clean(),
        )?;
        assert_eq!(devres_count(dev), base);
        Ok(())
    }
}
