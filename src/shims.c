// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the kalloc library: the kernel APIs that Rust cannot call
 * directly because they are macros or inline functions in C (each a
 * one-line forwarder, named after the C it forwards to), and the few
 * helpers that need kernel-internal types. Their Rust declarations are in
 * src/ffi.rs; the callers own the safety argument.
 */

#include <linux/alloc_tag.h>
#include <linux/async.h>
#include <linux/device.h>
#include <linux/device/devres.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu-dma.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/gfp.h>
#include <linux/hardirq.h>
#include <linux/highmem.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/stop_machine.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/types.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>

/* Prototypes: the only callers are in Rust. */
void kalloc_async_schedule(async_func_t func, void *data);
bool kalloc_mem_alloc_profiling_enabled(void);
struct alloc_tag *kalloc_alloc_tag_save(struct alloc_tag *tag);
void kalloc_alloc_tag_restore(struct alloc_tag *tag, struct alloc_tag *old);
bool kalloc_alloc_tagged(void);
struct mempool *kalloc_mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn, void *pool_data, gfp_t gfp, int node);
void *kalloc_mempool_alloc(struct mempool *pool, gfp_t gfp);
int kalloc_mempool_alloc_bulk(struct mempool *pool, void **elems, unsigned int count);
void *kalloc_kmem_buckets_alloc(kmem_buckets *b, size_t size, gfp_t flags);
void *kalloc_kmem_buckets_valloc(kmem_buckets *b, size_t size, gfp_t flags);
void kalloc_async_wait(void);
bool kalloc_current_is_async(void);
int kalloc_preempt_count(void);
bool kalloc_irqs_disabled(void);
int kalloc_rcu_preempt_depth(void);
void *kalloc_kmalloc_node(size_t size, gfp_t flags, int node);
struct page *kalloc_alloc_pages_node(int nid, gfp_t gfp, unsigned int order);
void *kalloc_kmem_cache_alloc_node(struct kmem_cache *cache, gfp_t flags, int node);
unsigned long kalloc_get_free_pages(gfp_t gfp, unsigned int order);
unsigned long kalloc_get_zeroed_page(gfp_t gfp);
void *kalloc_page_address(const struct page *page);
struct page *kalloc_virt_to_page(const void *addr);
unsigned long kalloc_page_to_pfn(const struct page *page);
enum zone_type kalloc_page_zonenum(const struct page *page);
bool kalloc_page_is_highmem(const struct page *page);
void *kalloc_kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags);
void *kalloc_srcu_read_lock_fast(void);
void kalloc_srcu_read_unlock_fast(void *ctr);
void kalloc_synchronize_srcu(void);
bool kalloc_kmem_cache_alloc_bulk(struct kmem_cache *cache, gfp_t flags, size_t n, void **objects);
void kalloc_slab_names_lock(void);
void kalloc_slab_names_unlock(void);
void *kalloc_kmalloc(size_t size, gfp_t flags);
void *kalloc_devm_kzalloc(struct device *dev, size_t size, gfp_t gfp);
void *kalloc_devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t gfp);
void *kalloc_vmalloc_node(unsigned long size, gfp_t flags, int node);
void *kalloc_vrealloc(void *p, unsigned long size, gfp_t flags);
void __percpu *kalloc_alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp);
void *kalloc_get_cpu_ptr(void __percpu *ptr);
void kalloc_put_cpu_ptr(void __percpu *ptr);
void *kalloc_per_cpu_ptr(void __percpu *ptr, int cpu);
void *kalloc_kmalloc_nolock(size_t size, gfp_t flags, int node);
struct page *kalloc_alloc_pages_nolock(gfp_t gfp, int nid, unsigned int order);
void kalloc_defer_free_pages(struct page *page, unsigned int order);
bool kalloc_deferred_pages_pending(void);
dma_addr_t kalloc_dma_map_single(struct device *dev, void *ptr, size_t size, enum dma_data_direction dir);
int kalloc_dma_mapping_error(struct device *dev, dma_addr_t addr);
bool kalloc_dma_reachable(struct device *dev, struct page *page, size_t offset, size_t size);
void kalloc_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir);
void kalloc_dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir);

/* For src/context.rs where it cannot read these inline. */
int kalloc_preempt_count(void)
{
	return preempt_count();
}

bool kalloc_irqs_disabled(void)
{
	return irqs_disabled();
}

int kalloc_rcu_preempt_depth(void)
{
	return rcu_preempt_depth();
}

void *kalloc_kmalloc_node(size_t size, gfp_t flags, int node)
{
	return kmalloc_node(size, flags, node);
}

struct page *kalloc_alloc_pages_node(int nid, gfp_t gfp, unsigned int order)
{
	return alloc_pages_node(nid, gfp, order);
}

void *kalloc_kmem_cache_alloc_node(struct kmem_cache *cache, gfp_t flags, int node)
{
	return kmem_cache_alloc_node(cache, flags, node);
}

/*
 * The module's SRCU domain for its module-lifetime slab caches (the Rust
 * ModuleCache): an allocation reads a cache inside a read-side section, and
 * the cache is destroyed only after a grace period. SRCU-fast: a reader is
 * a per-CPU increment, without a memory barrier.
 */
DEFINE_STATIC_SRCU_FAST(kalloc_srcu);

void *kalloc_srcu_read_lock_fast(void)
{
	return (void __force *)srcu_read_lock_fast(&kalloc_srcu);
}

void kalloc_srcu_read_unlock_fast(void *ctr)
{
	srcu_read_unlock_fast(&kalloc_srcu, (struct srcu_ctr __percpu __force *)ctr);
}

void kalloc_synchronize_srcu(void)
{
	synchronize_srcu(&kalloc_srcu);
}

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

/*
 * The allocation macro rather than kmem_cache_alloc_noprof(), so that memory
 * allocation profiling, when configured, charges this call site.
 */
void *kalloc_kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags)
{
	return kmem_cache_alloc(cache, flags);
}

/* kmem_cache_alloc_bulk() is a macro too: all @n objects, or none. */
bool kalloc_kmem_cache_alloc_bulk(struct kmem_cache *cache, gfp_t flags, size_t n, void **objects)
{
	return kmem_cache_alloc_bulk(cache, flags, n, objects);
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
 * kmalloc() is inline: Rust calls it here for zero bytes, and where kalloc
 * does not pick the kmalloc cache itself (src/kmalloc/bucket.rs).
 */
void *kalloc_kmalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags);
}

void *kalloc_devm_kzalloc(struct device *dev, size_t size, gfp_t gfp)
{
	return devm_kzalloc(dev, size, gfp);
}

void *kalloc_devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t gfp)
{
	return devm_kcalloc(dev, n, size, gfp);
}

/*
 * vrealloc_node() and vrealloc() are macros over vrealloc_node_align_noprof():
 * calling them here lets memory allocation profiling, when configured,
 * charge these call sites. Modules cannot call __vmalloc_node() (exported
 * only for the vmalloc test module); vrealloc_node(NULL, ...) is documented
 * to behave exactly as it, and __vmalloc(size, gfp) is that on NUMA_NO_NODE.
 */
void *kalloc_vmalloc_node(unsigned long size, gfp_t flags, int node)
{
	return vrealloc_node(NULL, size, flags, node);
}

void *kalloc_vrealloc(void *p, unsigned long size, gfp_t flags)
{
	return vrealloc(p, size, flags);
}

/*
 * kalloc's frees that may sleep, deferred out of atomic context
 * (src/deferred.rs), in a domain of their own: registered, so that module
 * unloading waits for them (async_synchronize_full()), and apart, so that
 * waiting for them never waits for other async work, nor for an async
 * caller itself.
 */
static ASYNC_DOMAIN(kalloc_async_domain);

void kalloc_async_schedule(async_func_t func, void *data)
{
	async_schedule_node_domain(func, data, NUMA_NO_NODE, &kalloc_async_domain);
}

void kalloc_async_wait(void)
{
	async_synchronize_full_domain(&kalloc_async_domain);
}

bool kalloc_current_is_async(void)
{
	return current_is_async();
}

void __percpu *kalloc_alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp)
{
	return __alloc_percpu_gfp(size, align, gfp);
}

void *kalloc_get_cpu_ptr(void __percpu *ptr)
{
	return get_cpu_ptr(ptr);
}

void kalloc_put_cpu_ptr(void __percpu *ptr)
{
	put_cpu_ptr(ptr);
}

void *kalloc_per_cpu_ptr(void __percpu *ptr, int cpu)
{
	return per_cpu_ptr(ptr, cpu);
}

void *kalloc_kmalloc_nolock(size_t size, gfp_t flags, int node)
{
	return kmalloc_nolock(size, flags, node);
}

struct page *kalloc_alloc_pages_nolock(gfp_t gfp, int nid, unsigned int order)
{
	return alloc_pages_nolock(gfp, nid, order);
}

/*
 * Blocks of pages dropped where __free_pages() may not run (NMI context),
 * freed from an IRQ work item, as C's free_pages_nolock() (not exported)
 * does. Each block holds its own list entry.
 */
struct kalloc_deferred_pages {
	struct llist_node node;
	unsigned int order;
};

static LLIST_HEAD(kalloc_deferred_pages);

static void kalloc_free_deferred_pages(struct irq_work *work)
{
	struct llist_node *list = llist_del_all(&kalloc_deferred_pages);
	struct kalloc_deferred_pages *p, *next;

	llist_for_each_entry_safe(p, next, list, node)
		__free_pages(virt_to_page(p), p->order);
}

static DEFINE_IRQ_WORK(kalloc_deferred_pages_work, kalloc_free_deferred_pages);

void kalloc_defer_free_pages(struct page *page, unsigned int order)
{
	struct kalloc_deferred_pages *p = page_address(page);

	p->order = order;
	if (llist_add(&p->node, &kalloc_deferred_pages))
		irq_work_queue(&kalloc_deferred_pages_work);
}

/* Whether a deferred block of pages is not freed yet (for the self-tests). */
bool kalloc_deferred_pages_pending(void)
{
	return !llist_empty(&kalloc_deferred_pages) ||
	       irq_work_is_busy(&kalloc_deferred_pages_work);
}

/* Streaming DMA, for src/dma.rs. */
dma_addr_t kalloc_dma_map_single(struct device *dev, void *ptr, size_t size,
				 enum dma_data_direction dir)
{
	return dma_map_single(dev, ptr, size, dir);
}

/*
 * Whether dma_map_page() maps @size bytes at @offset in @page for @dev
 * without a warning: never for a device without a DMA mask (C warns);
 * else through an IOMMU (the device's DMA ops or iommu-dma), bounce
 * buffers (swiotlb limits the mapping size where it serves the device), or
 * directly, within the device's DMA mask and bus limit (dma_capable(),
 * which warns when neither of the others can help).
 */
bool kalloc_dma_reachable(struct device *dev, struct page *page, size_t offset, size_t size)
{
	dma_addr_t end;

	if (!dev->dma_mask || !*dev->dma_mask)
		return false;
	if (get_dma_ops(dev) || use_dma_iommu(dev) || dma_max_mapping_size(dev) != SIZE_MAX)
		return true;
	end = phys_to_dma(dev, page_to_phys(page) + offset) + size - 1;
	return end <= min_not_zero(*dev->dma_mask, dev->bus_dma_limit);
}

int kalloc_dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return dma_mapping_error(dev, addr);
}

void kalloc_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size,
				    enum dma_data_direction dir)
{
	dma_sync_single_for_cpu(dev, addr, size, dir);
}

void kalloc_dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
				       enum dma_data_direction dir)
{
	dma_sync_single_for_device(dev, addr, size, dir);
}

/* Allocation profiling, for src/alloc_tag.rs. */
bool kalloc_mem_alloc_profiling_enabled(void)
{
	return mem_alloc_profiling_enabled();
}

struct alloc_tag *kalloc_alloc_tag_save(struct alloc_tag *tag)
{
	return alloc_tag_save(tag);
}

void kalloc_alloc_tag_restore(struct alloc_tag *tag, struct alloc_tag *old)
{
	alloc_tag_restore(tag, old);
}

/* Whether the current task's allocations are counted at a tag (current->alloc_tag). */
bool kalloc_alloc_tagged(void)
{
#ifdef CONFIG_MEM_ALLOC_PROFILING
	return current->alloc_tag;
#else
	return false;
#endif
}

/*
 * Mempools and bucket sets through C's macros, which count each at its
 * line here with allocation profiling (outside a caller's alloc_tag!).
 */
struct mempool *kalloc_mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn, void *pool_data, gfp_t gfp, int node)
{
	return mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, gfp, node);
}

void *kalloc_mempool_alloc(struct mempool *pool, gfp_t gfp)
{
	return mempool_alloc(pool, gfp);
}

int kalloc_mempool_alloc_bulk(struct mempool *pool, void **elems, unsigned int count)
{
	return mempool_alloc_bulk(pool, elems, count);
}

void *kalloc_kmem_buckets_alloc(kmem_buckets *b, size_t size, gfp_t flags)
{
	return kmem_buckets_alloc(b, size, flags);
}

void *kalloc_kmem_buckets_valloc(kmem_buckets *b, size_t size, gfp_t flags)
{
	return kmem_buckets_valloc(b, size, flags);
}
