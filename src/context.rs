// SPDX-License-Identifier: GPL-2.0

//! The context an allocation runs in, read inline.
//!
//! C's `preempt_count()`, `irqs_disabled()` and `rcu_preempt_depth()` are
//! inline functions: on x86-64 kalloc reads the same per-CPU count, flags
//! register and task field itself, with the masks and the field offset that
//! `context_consts.c` takes from this kernel's headers at build time.
//! Elsewhere, and where paravirtualisation owns the interrupt flag, it calls
//! the forwarders in `shims.c`.

// `RCU_READ_LOCK_NESTING` is used only in a `const _`, which rustc 1.85
// does not count.
#[allow(dead_code)]
pub(crate) mod consts {
    include!(concat!(
        env!("KALLOC_GENERATED"),
        "/kalloc_context_consts.rs"
    ));
}

// The bindings' layout of `struct task_struct` is C's, or the build fails.
#[cfg(CONFIG_PREEMPT_RCU)]
const _: () = assert!(
    core::mem::offset_of!(kernel::bindings::task_struct, rcu_read_lock_nesting)
        == consts::RCU_READ_LOCK_NESTING
);

/// The current CPU's preempt count without the reschedule bit (C's
/// `preempt_count()`): its low 32 bits, which on x86-64 is a load of the
/// per-CPU `__preempt_count` (the reschedule bit is bit 63 or, with
/// `CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS`, in the other word).
#[inline(always)]
fn preempt_count() -> u32 {
    #[cfg(all(CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML)))]
    {
        let count: u32;
        // SAFETY: A 4-byte load of the current CPU's copy of a per-CPU
        // variable that lives as long as the kernel, as C's
        // `raw_cpu_read_4()` does it (`%gs:sym(%rip)`).
        unsafe {
            core::arch::asm!(
                "mov {count:e}, dword ptr gs:[rip + {pc}]",
                count = out(reg) count,
                pc = sym kernel::bindings::__preempt_count,
                options(nostack, pure, readonly, preserves_flags),
            )
        };
        count & !(consts::PREEMPT_NEED_RESCHED_LOW as u32)
    }
    #[cfg(not(all(CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML))))]
    {
        // SAFETY: The shim only reads the current CPU's preempt count.
        unsafe { crate::ffi::kalloc_preempt_count() as u32 }
    }
}

/// Whether local interrupts are disabled (C's `irqs_disabled()`).
#[inline(always)]
pub(crate) fn irqs_disabled() -> bool {
    #[cfg(all(CONFIG_X86_64, not(CONFIG_PARAVIRT_XXL), not(CONFIG_UML)))]
    {
        let flags: usize;
        // SAFETY: Pushes the flags register and pops it into `flags`, as
        // C's `native_save_fl()` does; the stack is as it was after.
        unsafe {
            core::arch::asm!("pushfq", "pop {flags}", flags = out(reg) flags, options(preserves_flags))
        };
        flags & consts::X86_EFLAGS_IF == 0
    }
    #[cfg(not(all(CONFIG_X86_64, not(CONFIG_PARAVIRT_XXL), not(CONFIG_UML))))]
    {
        // SAFETY: The shim only reads the current CPU's interrupt flag.
        unsafe { crate::ffi::kalloc_irqs_disabled() }
    }
}

/// The current task's RCU read-side nesting (C's `rcu_preempt_depth()`):
/// zero where RCU readers do not count themselves (without
/// `CONFIG_PREEMPT_RCU`, a reader disables preemption instead).
#[inline(always)]
fn rcu_preempt_depth() -> i32 {
    #[cfg(all(CONFIG_PREEMPT_RCU, CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML)))]
    {
        let task: *const kernel::bindings::task_struct;
        // SAFETY: An 8-byte load of the current CPU's copy of the per-CPU
        // `current_task`, as C's `get_current()` does it.
        unsafe {
            core::arch::asm!(
                "mov {task}, qword ptr gs:[rip + {current}]",
                task = out(reg) task,
                current = sym kernel::bindings::current_task,
                options(nostack, pure, readonly, preserves_flags),
            )
        };
        // SAFETY: `task` is the current task, which lives while it runs
        // this; C reads the field with `READ_ONCE()`.
        unsafe { core::ptr::read_volatile(&raw const (*task).rcu_read_lock_nesting) }
    }
    #[cfg(all(
        CONFIG_PREEMPT_RCU,
        not(all(CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML)))
    ))]
    {
        // SAFETY: The shim only reads the current task's RCU nesting.
        unsafe { crate::ffi::kalloc_rcu_preempt_depth() }
    }
    #[cfg(not(CONFIG_PREEMPT_RCU))]
    0
}

/// Whether the current context may sleep, as far as the kernel can tell:
/// not in interrupt or NMI context, preemption and interrupts enabled,
/// outside RCU read-side critical sections. Without `CONFIG_PREEMPT_COUNT`
/// a held spinlock does not show in the preempt count.
#[inline(always)]
pub(crate) fn may_sleep() -> bool {
    preempt_count() == 0 && !irqs_disabled() && rcu_preempt_depth() == 0
}

/// Whether an allocation may run in the current context: never in NMI
/// context, and one that may sleep (`sleeping`) only where [`may_sleep`].
#[inline(always)]
pub(crate) fn allows(sleeping: bool) -> bool {
    preempt_count() as usize & consts::NMI_MASK == 0 && (!sleeping || may_sleep())
}

/// Whether the current code runs in hard interrupt context, NMI included
/// (C's `in_hardirq()`).
#[inline(always)]
pub(crate) fn in_hardirq() -> bool {
    preempt_count() as usize & consts::HARDIRQ_MASK != 0
}

/// Whether the current code runs in NMI context (C's `in_nmi()`).
#[inline(always)]
pub(crate) fn in_nmi() -> bool {
    preempt_count() as usize & consts::NMI_MASK != 0
}
