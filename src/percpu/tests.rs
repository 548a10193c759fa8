// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_percpu` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_percpu)]
mod kalloc_percpu {
    use super::super::*;
    use crate::gfp::{
        context_may_sleep, __GFP_ACCOUNT, __GFP_HIGHMEM, __GFP_MOVABLE, __GFP_NOFAIL,
        __GFP_NORETRY, GFP_ATOMIC, GFP_DMA, GFP_KERNEL, GFP_NOWAIT,
    };
    use crate::kmalloc::KmallocBox;
    use crate::selftest::stress::run_on_each_cpu;
    use crate::selftest::Counted;
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use kernel::sync::new_spinlock;

    /// How many times each CPU increments its copy.
    const ROUNDS: u64 = 1000;

    /// A kthread bound to each online CPU increments the copy its guard
    /// gives, checking that the guard's CPU is the thread's: each of those
    /// copies ends at exactly [`ROUNDS`], the others at zero, and the sum
    /// is exact. Fails if `get()` gave another CPU's copy, or the guard let
    /// the thread move.
    #[test]
    fn each_cpu_counts_on_its_own_copy() -> Result {
        let counters = PerCpu::new_with(|_| AtomicU64::new(0), GFP_KERNEL)?;
        let ran = AtomicU64::new(0);
        run_on_each_cpu(&|cpu| {
            for _ in 0..ROUNDS {
                let mine = counters.get();
                if mine.cpu().as_u32() != cpu {
                    return Err(EINVAL);
                }
                mine.fetch_add(1, Relaxed);
            }
            ran.fetch_or(1 << cpu, Relaxed);
            Ok(())
        })?;
        let ran = ran.load(Relaxed);
        assert!(ran.count_ones() >= 2);
        let mut sum = 0;
        for (cpu, n) in counters.iter() {
            let expected = if ran & (1 << cpu.as_u32()) != 0 {
                ROUNDS
            } else {
                0
            };
            assert_eq!(n.load(Relaxed), expected);
            sum += n.load(Relaxed);
        }
        assert_eq!(sum, ROUNDS * u64::from(ran.count_ones()));
        Ok(())
    }

    /// Each possible CPU's copy starts as `init` made it for that CPU, at
    /// an address of its own, and [`PerCpu::cpu`] reaches the same copy as
    /// the iterator. Fails if a copy is left unwritten or `per_cpu_ptr()`
    /// ignores the CPU.
    #[test]
    fn every_copy_is_initialised_and_distinct() -> Result {
        let values = PerCpu::new_with(|cpu| cpu.as_u32() * 10 + 1, GFP_KERNEL)?;
        let mut seen = 0u32;
        let mut addresses = KVec::new();
        for (cpu, v) in values.iter() {
            assert_eq!(*v, cpu.as_u32() * 10 + 1);
            assert!(core::ptr::eq(values.cpu(cpu).ok_or(EINVAL)?, v));
            assert!(!addresses.contains(&core::ptr::from_ref(v)));
            addresses.push(core::ptr::from_ref(v), GFP_KERNEL)?;
            seen += 1;
        }
        assert!(seen >= 2 && seen <= kernel::cpu::nr_cpu_ids());
        Ok(())
    }

    /// While a guard is held preemption is off: kalloc refuses sleeping
    /// requests with `EAGAIN`, nested guards included; once the last one
    /// drops, sleeping is allowed again. Fails if `get()` leaves
    /// preemption on, or a guard's drop does not enable it.
    #[test]
    fn a_guard_keeps_the_task_on_its_cpu() -> Result {
        let counters = PerCpu::new_with(|_| AtomicU64::new(0), GFP_KERNEL)?;
        assert!(context_may_sleep());
        {
            let outer = counters.get();
            assert!(!context_may_sleep());
            assert_eq!(KmallocBox::new(1u8, GFP_KERNEL).err(), Some(EAGAIN));
            {
                let inner = counters.get();
                assert!(core::ptr::eq(&*inner, &*outer));
                inner.fetch_add(2, Relaxed);
            }
            assert!(!context_may_sleep());
            assert_eq!(outer.load(Relaxed), 2);
            assert_eq!(*KmallocBox::new(5u8, GFP_ATOMIC)?, 5);
        }
        assert!(context_may_sleep());
        assert_eq!(*KmallocBox::new(6u8, GFP_KERNEL)?, 6);
        Ok(())
    }

    /// The owner changes every copy through [`PerCpu::iter_mut`], and
    /// [`PerCpu::get`] then sees its CPU's.
    #[test]
    fn the_owner_writes_every_copy() -> Result {
        let mut values = PerCpu::new_with(|_| 0u64, GFP_KERNEL)?;
        for (cpu, v) in values.iter_mut() {
            *v = u64::from(cpu.as_u32()) * 3 + 7;
        }
        for (cpu, v) in values.iter() {
            assert_eq!(*v, u64::from(cpu.as_u32()) * 3 + 7);
        }
        let mine = values.get();
        assert_eq!(*mine, u64::from(mine.cpu().as_u32()) * 3 + 7);
        Ok(())
    }

    /// Dropping a [`PerCpu`] drops each CPU's copy once (and frees the
    /// memory: kmemleak tracks per-CPU memory).
    #[test]
    fn dropping_drops_every_copy_once() -> Result {
        Counted::reset();
        let values = PerCpu::new_with(|_| Counted(1), GFP_KERNEL)?;
        let copies = values.iter().count();
        assert_eq!(Counted::drops(), 0);
        drop(values);
        assert_eq!(Counted::drops(), copies);
        Ok(())
    }

    /// A value larger than [`PERCPU_MAX_SIZE`], a zero-sized one or one
    /// aligned to more than a page, and flags C's per-CPU allocator does
    /// not honour are `EINVAL`; sleeping flags under a spinlock are
    /// `EAGAIN`, where `GFP_ATOMIC` and `GFP_NOWAIT` succeed.
    #[test]
    fn bad_requests_are_errors() -> Result {
        #[repr(align(8192))]
        struct PageAligned(#[expect(dead_code)] u8);

        let kernel = Gfp::from(GFP_KERNEL);
        // The sizes, without a value of them on the stack.
        assert_eq!(
            check::<[u8; PERCPU_MAX_SIZE + 1]>(kernel).err(),
            Some(EINVAL)
        );
        assert_eq!(check::<PageAligned>(kernel).err(), Some(EINVAL));
        assert!(check::<[u8; PERCPU_MAX_SIZE]>(kernel).is_ok());
        assert_eq!(PerCpu::new_with(|_| (), GFP_KERNEL).err(), Some(EINVAL));
        for flags in [
            GFP_DMA,
            kernel | __GFP_NOFAIL,
            kernel | __GFP_MOVABLE,
            kernel | Gfp::from(__GFP_HIGHMEM),
        ] {
            assert_eq!(PerCpu::new_with(|_| 1u32, flags).err(), Some(EINVAL));
        }
        let ok = PerCpu::new_with(|_| 2u32, kernel | __GFP_ACCOUNT | __GFP_NORETRY)?;
        assert!(ok.iter().all(|(_, &v)| v == 2));

        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let (sleeping, atomic, nowait) = {
            let _guard = lock.lock();
            (
                PerCpu::new_with(|_| 3u32, GFP_KERNEL).err(),
                PerCpu::new_with(|_| 4u32, GFP_ATOMIC).map(|p| p.iter().all(|(_, &v)| v == 4)),
                PerCpu::new_with(|_| 5u32, GFP_NOWAIT).map(|p| *p.get()),
            )
        };
        assert_eq!(sleeping, Some(EAGAIN));
        assert_eq!(atomic, Ok(true));
        assert_eq!(nowait, Ok(5));
        Ok(())
    }
}
