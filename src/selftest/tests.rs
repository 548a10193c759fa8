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
        assert!(crate::ffi::may_sleep());
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
    use crate::selftest::stress::run_on_each_cpu;
    use crate::slab::{OwnedSlabBox, SlabCache, SlabOptions};
    use crate::vmalloc::VBuf;
    use kernel::alloc::{flags as kf, KVec, Vec};
    use kernel::prelude::*;
    use kernel::sync::{new_spinlock, Arc};

    /// Rounds each CPU runs.
    const ROUNDS: u64 = 400;
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
                    let mut pages = LowmemPages::get_zeroed_pages(GFP_KERNEL, (seed % 3) as u32)?;
                    pages.as_mut_slice()[..8].copy_from_slice(&seed.to_ne_bytes());
                    Item::Pages(pages)
                }
                3 => Item::Slab(cache.alloc_owned([seed; 8], GFP_KERNEL)?),
                _ => {
                    let mut v = Vec::<u64, KVmalloc>::with_capacity(300, kf::GFP_KERNEL)?;
                    v.extend_from_slice(&[seed; 300], kf::GFP_KERNEL)?;
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
            kf::GFP_KERNEL,
        )?;
        let exchange = Arc::pin_init(
            new_spinlock!(KVec::<Item>::with_capacity(SLOTS, kf::GFP_KERNEL)?),
            kf::GFP_KERNEL,
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
                        return Err(EBADMSG);
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
