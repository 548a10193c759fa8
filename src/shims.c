// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for kalloc: the kernel APIs that Rust cannot call directly
 * because they are macros or inline functions in C, a few helpers that need
 * kernel-internal types, and the C values the self-tests compare kalloc's
 * Rust constants against.
 *
 * One section per allocator family; each family's Rust file declares the
 * shims it uses (src/shim.rs declares the common ones) and owns the safety
 * argument.
 */

#include <linux/gfp.h>
#include <linux/hardirq.h>
#include <linux/irqflags.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>

/* Prototypes: the only callers are in Rust. */
u32 kalloc_shim_abi(void);
int kalloc_c_macro(const char *name, unsigned long *out);
bool kalloc_may_sleep(void);
int kalloc_gfp_zone(gfp_t flags);
bool kalloc_gfp_allow_blocking(gfp_t flags);

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
	KALLOC_C_MACRO(SLAB_HWCACHE_ALIGN),
	KALLOC_C_MACRO(SLAB_ACCOUNT),
	KALLOC_C_MACRO(SLAB_RECLAIM_ACCOUNT),
	KALLOC_C_MACRO(SLAB_NO_MERGE),
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

/*
 * Whether the current context may sleep, as far as the kernel can tell: not
 * in interrupt or NMI context, preemption and interrupts enabled, outside
 * RCU read-side critical sections. Without CONFIG_PREEMPT_COUNT a held
 * spinlock does not show in in_atomic().
 */
bool kalloc_may_sleep(void)
{
	return !in_atomic() && !irqs_disabled() && !rcu_preempt_depth();
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

/* --- page allocator (src/pages.rs) --- */

#include <linux/highmem.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/stop_machine.h>
#include <linux/vmstat.h>

unsigned long kalloc_get_free_pages(gfp_t gfp, unsigned int order);
unsigned long kalloc_get_zeroed_page(gfp_t gfp);
void *kalloc_page_address(const struct page *page);
struct page *kalloc_virt_to_page(const void *addr);
unsigned long kalloc_page_to_pfn(const struct page *page);
enum zone_type kalloc_page_zonenum(const struct page *page);
bool kalloc_page_is_highmem(const struct page *page);
int kalloc_stop_machine(cpu_stop_fn_t fn, void *data);
unsigned long kalloc_nr_free_pages_stopped(void);

/*
 * The allocation macros rather than their *_noprof functions, so that
 * memory allocation profiling, when configured, charges these call sites.
 */
unsigned long kalloc_get_free_pages(gfp_t gfp, unsigned int order)
{
	return __get_free_pages(gfp, order);
}

unsigned long kalloc_get_zeroed_page(gfp_t gfp)
{
	return get_zeroed_page(gfp);
}

void *kalloc_page_address(const struct page *page)
{
	return page_address(page);
}

/* @addr must be in the linear mapping (virt_addr_valid()). */
struct page *kalloc_virt_to_page(const void *addr)
{
	return virt_to_page(addr);
}

unsigned long kalloc_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

enum zone_type kalloc_page_zonenum(const struct page *page)
{
	return page_zonenum(page);
}

bool kalloc_page_is_highmem(const struct page *page)
{
	return PageHighMem(page);
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

/* --- slab caches (kmem_cache) --- */

#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

void *kalloc_kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags);
void kalloc_slab_names_lock(void);
void kalloc_slab_names_unlock(void);
bool kalloc_slab_name_taken(const char *name);
ssize_t kalloc_slab_read_sysfs(const char *path, char *buf, size_t len);

/*
 * The allocation macro rather than kmem_cache_alloc_noprof(), so that memory
 * allocation profiling, when configured, charges this call site.
 */
void *kalloc_kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags)
{
	return kmem_cache_alloc(cache, flags);
}

/*
 * kalloc holds this lock from its check that a cache name is free until the
 * cache that takes the name exists, so two kalloc users cannot both take it.
 */
static DEFINE_MUTEX(kalloc_slab_names);

void kalloc_slab_names_lock(void)
{
	mutex_lock(&kalloc_slab_names);
}

void kalloc_slab_names_unlock(void)
{
	mutex_unlock(&kalloc_slab_names);
}

/*
 * Whether @dir, the target of a link in the directory @slab, is still in
 * @slab: a removed node keeps its name but is no longer found by it.
 */
static bool kalloc_slab_dir_is_live(struct kernfs_node *slab,
				    struct kernfs_node *dir)
{
	char path[NAME_MAX + 2]; /* "/<name>" */
	struct kernfs_node *found;
	int len;

	len = kernfs_path_from_node(dir, slab, path, sizeof(path));
	if (len < 0 || (size_t)len >= sizeof(path) - 1)
		return true; /* Not a name SLUB makes: count it as live. */
	found = kernfs_find_and_get(slab, path + 1);
	kernfs_put(found);
	return found == dir;
}

/*
 * Whether @name is taken in /sys/kernel/slab, where SLUB names an entry
 * after each cache: the directory of a cache that can never be merged, or a
 * link to the directory of a mergeable cache (which has a made-up name), for
 * that cache and for each cache merged into it. Creating a cache with a
 * taken name would make SLUB WARN (with CONFIG_DEBUG_VM, if a live cache has
 * the name) or replace the entry of a live cache.
 *
 * SLUB leaves a cache's link behind when the cache is destroyed. A link to a
 * directory that is gone is such a leftover: the name is free again. A link
 * to a live directory may also be a leftover, of a cache merged into one
 * that still lives, but SLUB cannot tell it from the link of a live cache,
 * so the name counts as taken.
 */
bool kalloc_slab_name_taken(const char *name)
{
	struct kernfs_node *slab, *kn;
	bool taken = false;

	slab = sysfs_get_dirent(kernel_kobj->sd, "slab");
	if (!slab)
		return false;
	kn = kernfs_find_and_get(slab, name);
	if (kn) {
		taken = kernfs_type(kn) != KERNFS_LINK ||
			kalloc_slab_dir_is_live(slab, kn->symlink.target_kn);
		kernfs_put(kn);
	}
	kernfs_put(slab);
	return taken;
}

/*
 * Reads up to @len bytes of the sysfs file at @path, as user space's init
 * sees it: kthreads (KUnit's among them) start in an empty nullfs root
 * where nothing is mounted.
 */
ssize_t kalloc_slab_read_sysfs(const char *path, char *buf, size_t len)
{
	struct file *file;
	loff_t pos = 0;
	ssize_t ret;

	scoped_with_init_fs()
		file = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);
	ret = kernel_read(file, buf, len, &pos);
	filp_close(file, NULL);
	return ret;
}

/* --- kmalloc family (src/kmalloc.rs) --- */

#include <linux/sched.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

void *kalloc_kmalloc(size_t size, gfp_t flags);
void *kalloc_kzalloc(size_t size, gfp_t flags);
void *kalloc_kcalloc(size_t n, size_t size, gfp_t flags);
int kalloc_test_c_user(void *p, size_t len, int byte);
int kalloc_test_zone(const void *p);
bool kalloc_test_init_on_free(void);
void *kalloc_test_alias(const void *p, size_t len);
void kalloc_test_read_unalias(void *dst, void *alias, size_t len);
void kalloc_test_fail_nth(unsigned int nth);

/* kmalloc(), kzalloc() and kcalloc() are inline: Rust calls them here. */
void *kalloc_kmalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags);
}

void *kalloc_kzalloc(size_t size, gfp_t flags)
{
	return kzalloc(size, flags);
}

void *kalloc_kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kcalloc(n, size, flags);
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

/* --- device-scoped (devm) allocations --- */

#include <linux/device.h>
#include <linux/device/devres.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/spinlock.h>

void *kalloc_devm_kzalloc(struct device *dev, size_t size, gfp_t gfp);
void *kalloc_devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t gfp);
size_t kalloc_devres_count(struct device *dev);
void kalloc_device_lock(struct device *dev);
void kalloc_device_unlock(struct device *dev);
bool kalloc_device_bound_to_kalloc(struct device *dev);

void *kalloc_devm_kzalloc(struct device *dev, size_t size, gfp_t gfp)
{
	return devm_kzalloc(dev, size, gfp);
}

void *kalloc_devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t gfp)
{
	return devm_kcalloc(dev, n, size, gfp);
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

/* --- vmalloc (src/vmalloc.rs) --- */

#include <linux/vmalloc.h>

void *kalloc_vmalloc(unsigned long size, gfp_t flags);

/*
 * __vmalloc() is a macro over __vmalloc_noprof(): calling it here lets memory
 * allocation profiling, when configured, charge this call site.
 */
void *kalloc_vmalloc(unsigned long size, gfp_t flags)
{
	return __vmalloc(size, flags);
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
