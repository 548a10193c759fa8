// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_rcu` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_rcu)]
mod kalloc_rcu {
    use super::super::*;
    use crate::selftest::stress::run_on_each_cpu;
    use crate::selftest::wait_for;
    use crate::{KBox, KVBox, VBox};
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use kernel::prelude::*;
    use kernel::sync::{new_spinlock, rcu};

    /// What the cells hold before and after a replace.
    const OLD: [u64; 8] = [0x0123_4567_89ab_cdef; 8];
    const NEW: [u64; 8] = [0xfeed_f00d; 8];

    /// Spins until `flag` is set or a bounded time has passed (a fraction
    /// of a second), for a thread that may not sleep. Returns the flag.
    fn spin_until(flag: &AtomicBool) -> bool {
        for _ in 0..1u32 << 24 {
            if flag.load(Relaxed) {
                return true;
            }
            core::hint::spin_loop();
        }
        flag.load(Relaxed)
    }

    /// A reader and a writer on two CPUs. The reader takes its reference
    /// to the value under `rcu_read_lock()`; the writer runs `replace`;
    /// the reader waits until the replace returned (or, for a replace that
    /// waits for it, a while) and then reads its old reference, which must
    /// still hold [`OLD`]: freed memory would be poisoned (`slub_debug=P`,
    /// `page_poison=1`) and KASAN would report the read. Returns whether
    /// the reader saw [`NEW`] through the cell afterwards.
    fn race<T: Send + Sync, A: Kvfree>(
        cell: &RcuCell<T, A>,
        view: fn(&T) -> &[u64; 8],
        replace: &(dyn Fn() -> Result + Sync),
        left: &AtomicBool,
    ) -> Result<bool> {
        let (reading, replaced, saw_new) = (
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        );
        let roles = AtomicUsize::new(0);
        run_on_each_cpu(&|_cpu| match roles.fetch_add(1, Relaxed) {
            0 => {
                let guard = rcu::read_lock();
                let seen = view(cell.read(&guard));
                let first = *seen == OLD;
                reading.store(true, Relaxed);
                let after = spin_until(&replaced);
                let kept = *seen == OLD;
                saw_new.store(after && *view(cell.read(&guard)) == NEW, Relaxed);
                left.store(true, Relaxed);
                drop(guard);
                if first && kept {
                    Ok(())
                } else {
                    Err(EINVAL)
                }
            }
            1 => {
                if !wait_for(|| reading.load(Relaxed)) {
                    return Err(ETIMEDOUT);
                }
                replace()?;
                replaced.store(true, Relaxed);
                Ok(())
            }
            _ => Ok(()),
        })?;
        Ok(saw_new.load(Relaxed))
    }

    /// `replace` publishes the new value at once and frees the old one
    /// through its `rcu_head` only after the reader left. Fails if the old
    /// value is freed at once (`kfree()` instead of `kvfree_rcu()`).
    #[test]
    fn replace_frees_the_old_value_after_the_readers() -> Result {
        let cell = RcuCell::new(KBox::new(Rcu::new(OLD), GFP_KERNEL)?);
        let new = KBox::pin_init(
            kernel::sync::new_mutex!(Some(KBox::new(Rcu::new(NEW), GFP_KERNEL)?)),
            GFP_KERNEL,
        )?;
        let left = AtomicBool::new(false);
        let saw_new = race(
            &cell,
            |v| &**v,
            &|| {
                cell.replace(new.lock().take().ok_or(EINVAL)?);
                Ok(())
            },
            &left,
        )?;
        assert!(saw_new);
        let guard = rcu::read_lock();
        assert_eq!(**cell.read(&guard), NEW);
        Ok(())
    }

    /// The old value of a headless replace (`kvfree_rcu_mightsleep()`)
    /// outlives the reader too, in vmalloc memory.
    #[test]
    fn replace_mightsleep_frees_after_the_readers() -> Result {
        let cell = RcuCell::new(VBox::new(OLD, GFP_KERNEL)?);
        let new = KBox::pin_init(
            kernel::sync::new_mutex!(Some(VBox::new(NEW, GFP_KERNEL)?)),
            GFP_KERNEL,
        )?;
        let left = AtomicBool::new(false);
        race(
            &cell,
            |v| v,
            &|| {
                cell.replace_mightsleep(new.lock().take().ok_or(EINVAL)?)
                    .map_err(|_| EAGAIN)
            },
            &left,
        )?;
        let guard = rcu::read_lock();
        assert_eq!(*cell.read(&guard), NEW);
        Ok(())
    }

    /// Counts the drops of [`Tracked`], and those that came before the
    /// reader left.
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    static EARLY: AtomicUsize = AtomicUsize::new(0);
    static LEFT: AtomicBool = AtomicBool::new(false);

    /// A value with drop glue, that notes when it is dropped.
    struct Tracked([u64; 8]);

    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Relaxed);
            if !LEFT.load(Relaxed) {
                EARLY.fetch_add(1, Relaxed);
            }
        }
    }

    /// A value with drop glue is dropped by a headless replace only after
    /// the grace period (`synchronize_rcu()`), so never while a reader
    /// holds it. Fails if the drop does not wait.
    #[test]
    fn replace_mightsleep_drops_after_the_readers() -> Result {
        DROPS.store(0, Relaxed);
        EARLY.store(0, Relaxed);
        LEFT.store(false, Relaxed);
        let cell = RcuCell::new(KVBox::new(Tracked(OLD), GFP_KERNEL)?);
        let new = KBox::pin_init(
            kernel::sync::new_mutex!(Some(KVBox::new(Tracked(NEW), GFP_KERNEL)?)),
            GFP_KERNEL,
        )?;
        race(
            &cell,
            |v| &v.0,
            &|| {
                cell.replace_mightsleep(new.lock().take().ok_or(EINVAL)?)
                    .map_err(|_| EAGAIN)
            },
            &LEFT,
        )?;
        assert_eq!((DROPS.load(Relaxed), EARLY.load(Relaxed)), (1, 0));
        drop(cell);
        assert_eq!(DROPS.load(Relaxed), 2);
        Ok(())
    }

    /// `replace` works under a spinlock; `replace_mightsleep` gives the new
    /// value back there, with the cell unchanged; `kvfree_rcu_mightsleep`
    /// too. The owner changes the value in place.
    #[test]
    fn atomic_context_replaces_through_the_head_only() -> Result {
        let cell = RcuCell::new(KBox::new(Rcu::new(OLD), GFP_KERNEL)?);
        let plain = RcuCell::new(KBox::new(1u32, GFP_KERNEL)?);
        let (headed, headless, boxed) = (
            KBox::new(Rcu::new(NEW), GFP_KERNEL)?,
            KBox::new(2u32, GFP_KERNEL)?,
            KVBox::new(3u32, GFP_KERNEL)?,
        );
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let (refused, freed) = {
            let _guard = lock.lock();
            cell.replace(headed);
            (
                plain.replace_mightsleep(headless).err().map(|b| *b),
                kvfree_rcu_mightsleep(boxed).err().map(|b| *b),
            )
        };
        assert_eq!((refused, freed), (Some(2), Some(3)));
        let guard = rcu::read_lock();
        assert_eq!((**cell.read(&guard), *plain.read(&guard)), (NEW, 1));
        drop(guard);
        let mut cell = cell;
        cell.get_mut()[0] = 7;
        assert_eq!(cell.get_mut()[0], 7);
        Ok(())
    }

    /// The free functions take kmalloc, kvmalloc and vmalloc boxes, and
    /// zero-sized values (which have no memory to free).
    #[test]
    fn every_kvfree_allocator_frees_after_a_grace_period() -> Result {
        kvfree_rcu(KBox::new(Rcu::new([1u8; 32]), GFP_KERNEL)?);
        kvfree_rcu(KVBox::new(Rcu::new([2u64; 64]), GFP_KERNEL)?);
        kvfree_rcu(VBox::new(Rcu::new(3u16), GFP_KERNEL)?);
        assert!(kvfree_rcu_mightsleep(KBox::new([4u8; 100], GFP_KERNEL)?).is_ok());
        assert!(kvfree_rcu_mightsleep(VBox::new((), GFP_KERNEL)?).is_ok());
        assert!(kvfree_rcu_mightsleep(KVBox::new(Rcu::new(5u8), GFP_KERNEL)?).is_ok());
        Ok(())
    }
}
