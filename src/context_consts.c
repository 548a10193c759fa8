// SPDX-License-Identifier: GPL-2.0
/*
 * What src/context.rs needs to read the allocation context inline, as this
 * kernel defines it, and the per-CPU size limit of src/percpu.rs: compiled
 * to assembly only (as the kernel's asm-offsets are), and turned by
 * kalloc.kbuild into Rust constants. Rust takes the
 * masks from here, and checks its bindings' layout of struct task_struct
 * against C's at compile time.
 */
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/stddef.h>
#ifdef CONFIG_X86
#include <asm/processor-flags.h>
#endif

#define KALLOC_CONST(name, value)                                             \
	asm volatile("\n.ascii \"->KALLOC_CONST " #name " %0\"" : :          \
		     "i"((unsigned long)(value)))

void kalloc_context_consts(void);
void kalloc_context_consts(void)
{
	KALLOC_CONST(NMI_MASK, NMI_MASK);
	KALLOC_CONST(HARDIRQ_MASK, HARDIRQ_MASK);
	/* For src/percpu.rs: the largest per-CPU allocation. */
	KALLOC_CONST(PCPU_MIN_UNIT_SIZE, PCPU_MIN_UNIT_SIZE);
#ifdef CONFIG_X86
	KALLOC_CONST(X86_EFLAGS_IF, X86_EFLAGS_IF);
	/* The reschedule bit in the low 32 bits of __preempt_count: 0x80000000
	 * on Linux 7.2, 0 on 7.3 (bit 63 there). */
	KALLOC_CONST(PREEMPT_NEED_RESCHED_LOW, (u32)PREEMPT_NEED_RESCHED);
#endif
#ifdef CONFIG_PREEMPT_RCU
	KALLOC_CONST(RCU_READ_LOCK_NESTING,
		     offsetof(struct task_struct, rcu_read_lock_nesting));
#endif
}
