// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only C for kalloc's self-test module: the C values the suites compare
 * kalloc's constants against, and C's view of what kalloc hands out. Never
 * built into a driver that uses the library. Declared in src/selftest/ffi.rs.
 */

#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/device.h>
#include <linux/device/devres.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/gfp.h>
#include <linux/hardirq.h>
#include <linux/highmem.h>
#include <linux/irqflags.h>
#include <linux/kernfs.h>
#include <linux/kfence.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/stop_machine.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/types.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>

/* Prototypes: the only callers are in Rust. */
int kalloc_gfp_zone(gfp_t flags);
bool kalloc_gfp_zone_bad(gfp_t flags);
gfp_t kalloc_current_gfp_context(gfp_t flags);
bool kalloc_gfp_allow_blocking(gfp_t flags);
u32 kalloc_shim_abi(void);
int kalloc_c_macro(const char *name, unsigned long *out);
int kalloc_stop_machine(cpu_stop_fn_t fn, void *data);
unsigned long kalloc_nr_free_pages_stopped(void);
int kalloc_test_c_user(void *p, size_t len, int byte);
ssize_t kalloc_slab_read_sysfs(const char *path, char *buf, size_t len);
ssize_t kalloc_slab_write_sysfs(const char *path, const char *buf, size_t len);
int kalloc_test_zone(const void *p);
struct kmem_cache *kalloc_test_kmalloc_cache(size_t size, gfp_t flags);
void kalloc_test_skip(const char *option);
int kalloc_test_nid_of(const void *p);
bool kalloc_test_vmapped(const void *p);
unsigned long kalloc_test_user_page(void);
int kalloc_test_num_online_nodes(void);
int kalloc_test_run_on_cpus(int (*work)(void *data, unsigned int cpu), void *data);
bool kalloc_test_debug_pagealloc(void);
void kalloc_test_as_nmi(void (*fn)(void *data), void *data);
void kalloc_test_as_hardirq(void (*fn)(void *data), void *data);
void kalloc_test_irqs_off(void (*fn)(void *data), void *data);
bool kalloc_test_init_on_free(void);
void *kalloc_test_alias(const void *p, size_t len);
void kalloc_test_read_unalias(void *dst, void *alias, size_t len);
void kalloc_test_fail_nth(unsigned int nth);
unsigned int kalloc_test_fail_nth_left(void);
void kalloc_test_make_it_fail(bool fail);
void kalloc_test_make_task_fail(struct task_struct *task, bool fail);
size_t kalloc_devres_count(struct device *dev);
void kalloc_device_lock(struct device *dev);
void kalloc_device_unlock(struct device *dev);
bool kalloc_device_bound_to_kalloc(struct device *dev);

/* A value Rust checks to prove that this C object is linked in. */
u32 kalloc_shim_abi(void)
{
	return 0x6b616c63; /* "kalc" */
}

/* The C macros whose values the self-tests check kalloc's constants against. */
#define KALLOC_C_MACRO(name) { #name, (unsigned long)(name) }
static const struct {
	const char *name;
	unsigned long value;
} kalloc_c_macros[] = {
	KALLOC_C_MACRO(GFP_KERNEL),
	KALLOC_C_MACRO(GFP_KERNEL_ACCOUNT),
	KALLOC_C_MACRO(GFP_ATOMIC),
	KALLOC_C_MACRO(GFP_NOWAIT),
	KALLOC_C_MACRO(GFP_NOIO),
	KALLOC_C_MACRO(GFP_NOFS),
	KALLOC_C_MACRO(GFP_USER),
	KALLOC_C_MACRO(GFP_HIGHUSER),
	KALLOC_C_MACRO(GFP_HIGHUSER_MOVABLE),
	KALLOC_C_MACRO(GFP_DMA),
	KALLOC_C_MACRO(GFP_DMA32),
	KALLOC_C_MACRO(__GFP_ZERO),
	KALLOC_C_MACRO(__GFP_HIGHMEM),
	KALLOC_C_MACRO(__GFP_NOWARN),
	KALLOC_C_MACRO(__GFP_NORETRY),
	KALLOC_C_MACRO(__GFP_RETRY_MAYFAIL),
	KALLOC_C_MACRO(__GFP_NOFAIL),
	KALLOC_C_MACRO(__GFP_HIGH),
	KALLOC_C_MACRO(__GFP_IO),
	KALLOC_C_MACRO(__GFP_FS),
	KALLOC_C_MACRO(__GFP_ACCOUNT),
	KALLOC_C_MACRO(__GFP_DIRECT_RECLAIM),
	KALLOC_C_MACRO(__GFP_KSWAPD_RECLAIM),
	KALLOC_C_MACRO(__GFP_RECLAIM),
	KALLOC_C_MACRO(__GFP_MOVABLE),
	KALLOC_C_MACRO(__GFP_RECLAIMABLE),
	KALLOC_C_MACRO(__GFP_WRITE),
	KALLOC_C_MACRO(__GFP_MEMALLOC),
	KALLOC_C_MACRO(__GFP_COMP),
	KALLOC_C_MACRO(__GFP_NOMEMALLOC),
	KALLOC_C_MACRO(__GFP_HARDWALL),
	KALLOC_C_MACRO(__GFP_THISNODE),
	KALLOC_C_MACRO(__GFP_ZEROTAGS),
	KALLOC_C_MACRO(__GFP_NOLOCKDEP),
	KALLOC_C_MACRO(__GFP_BITS_MASK),
	KALLOC_C_MACRO(SLAB_HWCACHE_ALIGN),
	KALLOC_C_MACRO(SLAB_ACCOUNT),
	KALLOC_C_MACRO(SLAB_RECLAIM_ACCOUNT),
	KALLOC_C_MACRO(SLAB_NO_MERGE),
	KALLOC_C_MACRO(SLAB_CACHE_DMA),
	KALLOC_C_MACRO(SLAB_CACHE_DMA32),
};

/* The value of the C macro called @name, or -ENOENT. */
int kalloc_c_macro(const char *name, unsigned long *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kalloc_c_macros); i++) {
		if (!strcmp(kalloc_c_macros[i].name, name)) {
			*out = kalloc_c_macros[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

/* Runs @fn on one CPU while all others spin with interrupts disabled. */
int kalloc_stop_machine(cpu_stop_fn_t fn, void *data)
{
	return stop_machine(fn, data, NULL);
}

/*
 * The page allocator's free pages: on the buddy free lists (NR_FREE_PAGES),
 * on the per-CPU lists, and on the lists of frees that free_pages_nolock()
 * deferred. Only called from a stop_machine() callback: then nothing else
 * changes these lists, so the sum is exact and the deferred lists are safe
 * to walk.
 */
unsigned long kalloc_nr_free_pages_stopped(void)
{
	unsigned long nr = 0;
	struct page *page;
	struct zone *zone;
	int nid, z, cpu;

	lockdep_assert_irqs_disabled();
	for_each_online_node(nid) {
		for (z = 0; z < MAX_NR_ZONES; z++) {
			zone = &NODE_DATA(nid)->node_zones[z];
			if (!populated_zone(zone))
				continue;
			nr += zone_page_state_snapshot(zone, NR_FREE_PAGES);
			for_each_online_cpu(cpu)
				nr += per_cpu_ptr(zone->per_cpu_pageset, cpu)->count;
			llist_for_each_entry(page, zone->trylock_free_pages.first, pcp_llist)
				nr += 1UL << page->private;
		}
	}
	return nr;
}

/*
 * Test support: a C user of a buffer Rust handed over with into_raw(). It
 * checks that @p is what kmalloc gives for @len bytes (ZERO_SIZE_PTR for
 * none, else a live object of at least @len bytes), then fills it with @byte.
 */
int kalloc_test_c_user(void *p, size_t len, int byte)
{
	if (!len)
		return p == ZERO_SIZE_PTR ? 0 : -EINVAL;
	if (ZERO_OR_NULL_PTR(p) || ksize(p) < len)
		return -EINVAL;
	memset(p, byte, len);
	return 0;
}

/* Test support: the zone of the memory under the kmalloc object at @p. */
int kalloc_test_zone(const void *p)
{
	return page_zonenum(virt_to_page(p));
}

/* Test support: whether the kernel zeroes all memory it frees (init_on_free=1). */
bool kalloc_test_init_on_free(void)
{
	return want_init_on_free();
}

/*
 * Test support: a second, read-only mapping of the @len bytes of the kmalloc
 * object at @p (at most two pages), so that the self-test can see what the
 * memory holds after the object is freed without reading it through the
 * allocator's address, a use after free that KASAN reports. Returns the
 * alias of @p, or NULL.
 */
void *kalloc_test_alias(const void *p, size_t len)
{
	unsigned long first = (unsigned long)p & PAGE_MASK;
	size_t nr = DIV_ROUND_UP(offset_in_page(p) + len, PAGE_SIZE);
	struct page *pages[2];
	void *vaddr;
	size_t i;

	if (!len || nr > ARRAY_SIZE(pages))
		return NULL;
	for (i = 0; i < nr; i++)
		pages[i] = virt_to_page((void *)(first + i * PAGE_SIZE));
	vaddr = vmap(pages, nr, VM_MAP, PAGE_KERNEL_RO);
	return vaddr ? vaddr + offset_in_page(p) : NULL;
}

/* Copies @len bytes from an alias made by kalloc_test_alias(), then unmaps it. */
void kalloc_test_read_unalias(void *dst, void *alias, size_t len)
{
	memcpy(dst, alias, len);
	vunmap((void *)((unsigned long)alias & PAGE_MASK));
}

/*
 * The number of resources on @dev's devres list (allocations, actions and
 * group markers alike), for the self-tests: it grows by one per
 * device-scoped allocation, shrinks by one per early release, and is empty
 * once the device is unbound.
 */
size_t kalloc_devres_count(struct device *dev)
{
	struct list_head *pos;
	size_t n = 0;

	guard(spinlock_irqsave)(&dev->devres_lock);
	list_for_each(pos, &dev->devres_head)
		n++;
	return n;
}

void kalloc_device_lock(struct device *dev)
{
	device_lock(dev);
}

void kalloc_device_unlock(struct device *dev)
{
	device_unlock(dev);
}

/*
 * Whether @dev is bound to a driver of this module (kalloc's edu driver), for
 * the self-tests. Call with the device lock held, so that the answer holds
 * until it is dropped.
 */
bool kalloc_device_bound_to_kalloc(struct device *dev)
{
	return device_is_bound(dev) && dev->driver &&
	       dev->driver->owner == THIS_MODULE;
}

/*
 * Test support: makes the @nth fault-injection check of the current task
 * from now on fail (0: none), as writing /proc/self/fail-nth does. With
 * CONFIG_FAILSLAB that check is the next slab allocation failslab does not
 * filter out (it ignores requests that may reclaim directly).
 */
void kalloc_test_fail_nth(unsigned int nth)
{
#ifdef CONFIG_FAULT_INJECTION
	WRITE_ONCE(current->fail_nth, nth);
#endif
}

/*
 * How many fault-injection checks are left before the one that fails: 0
 * once it failed (or none was set).
 */
unsigned int kalloc_test_fail_nth_left(void)
{
#ifdef CONFIG_FAULT_INJECTION
	return READ_ONCE(current->fail_nth);
#else
	return 0;
#endif
}

/*
 * Makes every slab and page allocation of the current task fail, or stops
 * it: failslab's and fail_page_alloc's task filter, which the VM's init
 * sets up to fail every request of a task marked so.
 */
void kalloc_test_make_it_fail(bool fail)
{
#ifdef CONFIG_FAULT_INJECTION
	current->make_it_fail = fail;
#endif
}

/* As kalloc_test_make_it_fail(), for a task the caller holds a reference to. */
void kalloc_test_make_task_fail(struct task_struct *task, bool fail)
{
#ifdef CONFIG_FAULT_INJECTION
	WRITE_ONCE(task->make_it_fail, fail);
#endif
}

/* gfp_zone(): callers pass only valid zone combinations (it VM_BUG_ONs). */
int kalloc_gfp_zone(gfp_t flags)
{
	return gfp_zone(flags);
}

bool kalloc_gfp_allow_blocking(gfp_t flags)
{
	return gfpflags_allow_blocking(flags);
}

gfp_t kalloc_current_gfp_context(gfp_t flags)
{
	return current_gfp_context(flags);
}

/* Whether GFP_ZONE_BAD calls the zone modifiers of @flags invalid. */
bool kalloc_gfp_zone_bad(gfp_t flags)
{
	int bit = (__force int)(flags & GFP_ZONEMASK);

	return (GFP_ZONE_BAD >> bit) & 1;
}

/* The kmalloc cache C's kmalloc(size, flags) takes (size 1 ..
 * KMALLOC_MAX_CACHE_SIZE), to check kalloc's own choice. */
struct kmem_cache *kalloc_test_kmalloc_cache(size_t size, gfp_t flags)
{
	return kmalloc_caches[kmalloc_type(flags, __kmalloc_token(size))][__kmalloc_index(size, false)];
}

/*
 * Marks the running KUnit case skipped ("# SKIP needs CONFIG_X"), for a case
 * that observes what only a debugging option makes observable.
 */
void kalloc_test_skip(const char *option)
{
	struct kunit *test = kunit_get_current_test();

	/* A failure already recorded stays a failure. */
	if (test && READ_ONCE(test->status) != KUNIT_FAILURE)
		kunit_mark_skipped(test, "needs %s", option);
}

/*
 * The node of the page holding p, a direct-mapped or vmalloc address; -1
 * for an object KFENCE sampled, which lives in KFENCE's pool whatever node
 * was asked for.
 */
int kalloc_test_nid_of(const void *p)
{
	if (is_kfence_address(p))
		return -1;
	return page_to_nid(is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p));
}

/* Whether the vmalloc address p has a page mapped (its page table entry). */
bool kalloc_test_vmapped(const void *p)
{
	return vmalloc_to_page(p) != NULL;
}

/*
 * A page of user memory, mapped for the running KUnit case (unmapped when
 * it ends), or 0.
 */
unsigned long kalloc_test_user_page(void)
{
	struct kunit *test = kunit_get_current_test();
	unsigned long addr;

	if (!test)
		return 0;
	addr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	return IS_ERR_VALUE(addr) ? 0 : addr;
}

int kalloc_test_num_online_nodes(void)
{
	return num_online_nodes();
}

/* Whether DEBUG_PAGEALLOC unmaps freed pages on this boot. */
bool kalloc_test_debug_pagealloc(void)
{
	return debug_pagealloc_enabled();
}

/*
 * Calls fn(data) with the preemption count of NMI context (what
 * __nmi_enter() adds, so in_nmi() and in_hardirq() are true) and local
 * interrupts off, so that no real interrupt sees it. fn must only check
 * the context: it runs on no NMI stack and takes no lock. Only where the
 * NMI count is a plain field of the preemption count: elsewhere a real
 * NMI meanwhile would undo the fake one (it also counts in nmi_nesting,
 * which a module cannot reach), so fn is not called.
 */
void kalloc_test_as_nmi(void (*fn)(void *data), void *data)
{
	/* Before 7.3 (no HARDIRQ_DISABLE bits yet) NMIs nest in the count too. */
#if defined(CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS) || !defined(HARDIRQ_DISABLE_SHIFT)
	unsigned long flags;

	local_irq_save(flags);
	__preempt_count_add(NMI_OFFSET + HARDIRQ_OFFSET);
	fn(data);
	__preempt_count_sub(NMI_OFFSET + HARDIRQ_OFFSET);
	local_irq_restore(flags);
#endif
}

/*
 * Calls fn(data) with the preemption count of hard interrupt context (what
 * __irq_enter_raw() adds, so in_hardirq() is true but not in_nmi()) and
 * local interrupts off, with the rules of kalloc_test_as_nmi(). A real NMI
 * meanwhile adds to and takes from the count what it adds and takes, so
 * this works with either layout of the count.
 */
void kalloc_test_as_hardirq(void (*fn)(void *data), void *data)
{
	unsigned long flags;

	local_irq_save(flags);
	__preempt_count_add(HARDIRQ_OFFSET);
	fn(data);
	__preempt_count_sub(HARDIRQ_OFFSET);
	local_irq_restore(flags);
}

/* Calls fn(data) with local interrupts off, the preemption count as it is. */
void kalloc_test_irqs_off(void (*fn)(void *data), void *data)
{
	unsigned long flags;

	local_irq_save(flags);
	fn(data);
	local_irq_restore(flags);
}

/* One CPU's share of kalloc_test_run_on_cpus(). */
struct kalloc_cpu_work {
	int (*work)(void *data, unsigned int cpu);
	void *data;
	unsigned int cpu;
	int ret;
	struct completion done;
};

static int kalloc_cpu_thread(void *arg)
{
	struct kalloc_cpu_work *w = arg;

	w->ret = w->work(w->data, w->cpu);
	complete(&w->done);
	/* kthread_stop() ends the thread. */
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

#define KALLOC_MAX_CPU_THREADS 8

/*
 * Runs work(data, cpu) at the same time on every online CPU (up to 8), each
 * in a kthread bound to its CPU, and waits for all of them: the first
 * error of a work, or the error that kept a thread from being created (then
 * no work ran).
 */
int kalloc_test_run_on_cpus(int (*work)(void *data, unsigned int cpu), void *data)
{
	struct kalloc_cpu_work *w;
	struct task_struct *t[KALLOC_MAX_CPU_THREADS];
	unsigned int cpu, n = 0, i;
	int ret = 0;

	w = kcalloc(KALLOC_MAX_CPU_THREADS, sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		if (n == KALLOC_MAX_CPU_THREADS)
			break;
		w[n].work = work;
		w[n].data = data;
		w[n].cpu = cpu;
		init_completion(&w[n].done);
		t[n] = kthread_create_on_cpu(kalloc_cpu_thread, &w[n], cpu, "kalloc_cpu/%u");
		if (IS_ERR(t[n])) {
			ret = PTR_ERR(t[n]);
			break;
		}
		n++;
	}
	if (ret) {
		cpus_read_unlock();
		/* Not woken: the thread function never runs. */
		for (i = 0; i < n; i++)
			kthread_stop(t[i]);
	} else {
		/* Woken while no CPU can go: each starts on its own. */
		for (i = 0; i < n; i++)
			wake_up_process(t[i]);
		cpus_read_unlock();
		for (i = 0; i < n; i++) {
			wait_for_completion(&w[i].done);
			kthread_stop(t[i]);
			if (!ret)
				ret = w[i].ret;
		}
	}
	kfree(w);
	return ret;
}

/*
 * Opens the sysfs file at @path as user space's init sees it: kthreads
 * (KUnit's among them) start in an empty nullfs root where nothing is
 * mounted.
 */
static struct file *kalloc_slab_open_sysfs(const char *path, int flags)
{
	struct file *file;

#ifdef scoped_with_init_fs
	scoped_with_init_fs()
#endif
		file = filp_open(path, flags, 0);
	return file;
}

/*
 * Reads up to @len bytes of the file at @path (a sysfs attribute, or a
 * seq_file such as /proc/allocinfo, which gives a page a read).
 */
ssize_t kalloc_slab_read_sysfs(const char *path, char *buf, size_t len)
{
	struct file *file = kalloc_slab_open_sysfs(path, O_RDONLY);
	loff_t pos = 0;
	size_t done = 0;
	ssize_t ret = 0;

	if (IS_ERR(file))
		return PTR_ERR(file);
	while (done < len) {
		ret = kernel_read(file, buf + done, len - done, &pos);
		if (ret <= 0)
			break;
		done += ret;
	}
	filp_close(file, NULL);
	return ret < 0 ? ret : done;
}

/* Writes @len bytes of @buf to the sysfs file at @path. */
ssize_t kalloc_slab_write_sysfs(const char *path, const char *buf, size_t len)
{
	struct file *file = kalloc_slab_open_sysfs(path, O_WRONLY);
	loff_t pos = 0;
	ssize_t ret;

	if (IS_ERR(file))
		return PTR_ERR(file);
	ret = kernel_write(file, buf, len, &pos);
	filp_close(file, NULL);
	return ret;
}
