// SPDX-License-Identifier: GPL-2.0

//! Per-CPU memory: one copy of a value for each possible CPU (C's
//! `alloc_percpu_gfp()` and `free_percpu()`), as statistics and network
//! code keep counters that each CPU updates without sharing a cache line.
//!
//! [`PerCpu::get`] gives the copy of the CPU the caller runs on, with
//! preemption disabled until the guard drops (C's `get_cpu_ptr()` and
//! `put_cpu_ptr()`), so the caller stays on that CPU; [`PerCpu::iter`]
//! visits every possible CPU's copy, for a sum. Other CPUs read a copy
//! while its own CPU writes it, and an interrupt may use the copy a guard
//! holds, so a shared [`PerCpu`] hands out `&T` only: the value is made for
//! sharing (an atomic, a lock). Its owner gets `&mut T` with
//! [`PerCpu::iter_mut`].
//!
//! # Examples
//!
//! ```
//! use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
//! use kalloc::percpu::PerCpu;
//!
//! let packets = PerCpu::new_with(|_cpu| AtomicU64::new(0), GFP_KERNEL)?;
//! {
//!     let mine = packets.get(); // preemption off: this CPU's copy
//!     mine.fetch_add(3, Relaxed);
//! } // preemption on again
//! let total: u64 = packets.iter().map(|(_cpu, n)| n.load(Relaxed)).sum();
//! assert_eq!(total, 3);
//! ```

use crate::ffi;
use crate::gfp::{
    as_gfp, Gfp, __GFP_ACCOUNT, __GFP_DIRECT_RECLAIM, __GFP_FS, __GFP_HIGH, __GFP_IO,
    __GFP_KSWAPD_RECLAIM, __GFP_NORETRY,
};
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use kernel::cpu::{nr_cpu_ids, CpuId};
use kernel::cpumask::Cpumask;
use kernel::ffi::c_void;
use kernel::{bindings, prelude::*};

/// The largest value [`PerCpu`] holds, in bytes (C's
/// `PCPU_MIN_UNIT_SIZE`, taken from this kernel's headers).
pub const PERCPU_MAX_SIZE: usize = crate::context::consts::PCPU_MIN_UNIT_SIZE;

/// The flags C's per-CPU allocator honours: reclaim (or none, for
/// `GFP_ATOMIC` and `GFP_NOWAIT`), `__GFP_NORETRY`, `__GFP_NOWARN` and
/// memory-cgroup accounting. Memory is always zeroed, so `__GFP_ZERO` is
/// harmless.
const ALLOWED: Gfp = __GFP_DIRECT_RECLAIM
    .union(__GFP_KSWAPD_RECLAIM)
    .union(__GFP_IO)
    .union(__GFP_FS)
    .union(__GFP_HIGH)
    .union(__GFP_NORETRY)
    .union(as_gfp::__GFP_NOWARN)
    .union(__GFP_ACCOUNT)
    .union(as_gfp::__GFP_ZERO);

/// Returns `flags` if the per-CPU allocator takes a `T` with them here.
///
/// # Errors
///
/// `EINVAL` for a zero-sized `T`, one larger than [`PERCPU_MAX_SIZE`] or
/// aligned to more than a page, or a flag C does not honour there (a zone,
/// a migratetype, `__GFP_NOFAIL`: C's per-CPU allocator can fail with it);
/// `EAGAIN` for sleeping flags where sleeping is not allowed, or in NMI
/// context.
#[inline]
fn check<T>(flags: Gfp) -> Result<Gfp> {
    let size = size_of::<T>();
    if size == 0 || size > PERCPU_MAX_SIZE || align_of::<T>() > kernel::page::PAGE_SIZE {
        return Err(EINVAL);
    }
    if flags.without(ALLOWED) != Gfp::NONE {
        return Err(EINVAL);
    }
    flags.check()
}

/// One `T` for each possible CPU, in per-CPU memory.
///
/// Dropping it drops each copy and frees the memory with `free_percpu()`.
///
/// # Invariants
///
/// `ptr` is a per-CPU address from C's per-CPU allocator, for a `T` of
/// each possible CPU, each initialised; `self` owns them.
pub struct PerCpu<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: `PerCpu<T>` owns its copies: sending it sends the `T`s, and the
// per-CPU memory may be freed from any task.
unsafe impl<T: Send> Send for PerCpu<T> {}

// SAFETY: A shared `PerCpu<T>` gives `&T` of any copy to any CPU (`T:
// Sync`); dropping it, wherever it is, drops the `T`s (`T: Send`).
unsafe impl<T: Send + Sync> Sync for PerCpu<T> {}

/// C's `cpu_possible_mask`.
fn possible_mask() -> &'static Cpumask {
    // SAFETY: `__cpu_possible_mask` is set up at boot and lives as long as
    // the kernel; modules only read it.
    unsafe { Cpumask::from_raw(&raw const bindings::__cpu_possible_mask) }
}

/// The possible CPUs (C's `for_each_possible_cpu()`).
fn possible_cpus() -> impl Iterator<Item = CpuId> {
    (0..nr_cpu_ids())
        .filter_map(CpuId::from_u32)
        .filter(|&cpu| possible_mask().test(cpu))
}

impl<T> PerCpu<T> {
    /// A copy of `init(cpu)` for each possible CPU, in per-CPU memory from
    /// C's `alloc_percpu_gfp()`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero-sized `T`, one larger than [`PERCPU_MAX_SIZE`] or
    /// aligned to more than a page, or flags C's per-CPU allocator does not
    /// honour (anything but reclaim, `__GFP_HIGH`, `__GFP_NORETRY`,
    /// `__GFP_NOWARN`, `__GFP_ACCOUNT`, `__GFP_ZERO`); `EAGAIN` for
    /// sleeping flags where sleeping is not allowed; `ENOMEM`.
    #[inline]
    pub fn new_with(mut init: impl FnMut(CpuId) -> T, flags: impl Into<Gfp>) -> Result<Self> {
        let flags = check::<T>(flags.into())?;
        // SAFETY: The size and alignment are ones C's per-CPU allocator
        // takes, the flags are checked for this context.
        let raw = unsafe { ffi::alloc_percpu_gfp(size_of::<T>(), align_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(raw.cast::<T>()).ok_or(ENOMEM)?;
        for cpu in possible_cpus() {
            // SAFETY: `ptr` is a fresh per-CPU allocation for a `T`, so
            // each possible CPU's copy is valid for writing a `T`, aligned.
            unsafe { per_cpu_ptr(ptr, cpu).write(init(cpu)) };
        }
        // INVARIANT: Every possible CPU's copy is written.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// The copy of the CPU the caller runs on, with preemption disabled
    /// until the guard drops (C's `get_cpu_ptr()`), so the caller stays on
    /// that CPU: the guard cannot be sent to another task, and kalloc's
    /// sleeping requests are `EAGAIN` while it is held.
    #[inline]
    pub fn get(&self) -> CpuRef<'_, T> {
        let percpu = self.ptr.as_ptr().cast::<c_void>();
        // SAFETY: `percpu` is a per-CPU address (the type invariants); the
        // guard calls `put_cpu_ptr()` once.
        let local = unsafe { ffi::kalloc_get_cpu_ptr(percpu) };
        CpuRef {
            // SAFETY: `local` is this CPU's copy of `*self`, initialised
            // (the type invariants), alive while `self` is borrowed.
            value: unsafe { &*local.cast::<T>() },
            percpu,
        }
    }

    /// The copy of `cpu` (C's `per_cpu_ptr()`), or `None` if `cpu` is not
    /// a possible CPU.
    pub fn cpu(&self, cpu: CpuId) -> Option<&T> {
        if !possible_mask().test(cpu) {
            return None;
        }
        // SAFETY: `cpu` is possible, so its copy is initialised (the type
        // invariants) and lives while `self` is borrowed.
        Some(unsafe { &*per_cpu_ptr(self.ptr, cpu) })
    }

    /// Every possible CPU with its copy (C's `for_each_possible_cpu()` and
    /// `per_cpu_ptr()`), e.g. for a sum.
    pub fn iter(&self) -> impl Iterator<Item = (CpuId, &T)> + '_ {
        possible_cpus().map(move |cpu| {
            // SAFETY: `cpu` is possible, so its copy is initialised (the
            // type invariants) and lives while `self` is borrowed.
            (cpu, unsafe { &*per_cpu_ptr(self.ptr, cpu) })
        })
    }

    /// Every possible CPU with its copy, to change: `&mut self` is the only
    /// access.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (CpuId, &mut T)> + '_ {
        let ptr = self.ptr;
        possible_cpus().map(move |cpu| {
            // SAFETY: `cpu` is possible, so its copy is initialised (the
            // type invariants); each CPU comes once, and `self` is borrowed
            // mutably while the references live.
            (cpu, unsafe { &mut *per_cpu_ptr(ptr, cpu) })
        })
    }
}

/// `cpu`'s copy of the per-CPU `ptr` (C's `per_cpu_ptr()`).
///
/// # Safety
///
/// `ptr` is a per-CPU address and `cpu` a possible CPU.
#[inline]
unsafe fn per_cpu_ptr<T>(ptr: NonNull<T>, cpu: CpuId) -> *mut T {
    // SAFETY: As for this function.
    unsafe { ffi::kalloc_per_cpu_ptr(ptr.as_ptr().cast(), cpu.as_u32() as i32) }.cast()
}

impl<T> Drop for PerCpu<T> {
    fn drop(&mut self) {
        if core::mem::needs_drop::<T>() {
            for (_, value) in self.iter_mut() {
                // SAFETY: Each copy is initialised and dropped once, here;
                // none is used after.
                unsafe { core::ptr::drop_in_place(value) };
            }
        }
        // SAFETY: `self.ptr` is from C's per-CPU allocator (the type
        // invariants) and not used after; `free_percpu()` may run in any
        // context but NMI.
        unsafe { bindings::free_percpu(self.ptr.as_ptr().cast::<c_void>()) };
    }
}

/// The copy of the CPU the caller runs on, from [`PerCpu::get`]; dropping
/// it enables preemption again (C's `put_cpu_ptr()`).
///
/// It cannot be sent to another task (`percpu` is a raw pointer): it
/// belongs to the CPU, and the preemption count, of the task that made it.
pub struct CpuRef<'a, T> {
    value: &'a T,
    percpu: *mut c_void,
}

impl<T> CpuRef<'_, T> {
    /// The CPU whose copy this is: the one the caller runs on.
    pub fn cpu(&self) -> CpuId {
        CpuId::current()
    }
}

impl<T> Deref for CpuRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
    }
}

impl<T> Drop for CpuRef<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: Preemption was disabled by `get()`, on this task, which
        // is still on the same CPU; this enables it once.
        unsafe { ffi::kalloc_put_cpu_ptr(self.percpu) };
    }
}

#[cfg(kalloc_selftest)]
mod tests;
