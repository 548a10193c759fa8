// SPDX-License-Identifier: GPL-2.0
/*
 * kalloc_bench.ko: instructions per allocate + free pair, for C as a C
 * driver writes it (this file) and for kalloc and the kernel crate
 * (bench_rust.rs), in one module build and one boot.
 *
 * Run under QEMU with -icount shift=0, where the guest's clock advances one
 * nanosecond per guest instruction: ktime_get_ns() differences are
 * instruction counts. Each figure is the count for a loop of pairs,
 * divided by its length, with one decimal: the fastest of REPS timed
 * repetitions after a warm-up. Rows go to
 * the kernel log as "kalloc-bench: row family,operation,size,impl,instr";
 * `make bench` collects them.
 */
#include <linux/device/faux.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mempool.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

int kalloc_bench_rust(void);

/* Prints one row: `total` instructions for `iters` operations. */
static void kalloc_bench_row(const char *family, const char *op, unsigned long size,
		      const char *impl, u64 total, u64 iters)
{
	u64 tenths = div64_u64(total * 10 + iters / 2, iters);

	pr_info("kalloc-bench: row %s,%s,%lu,%s,%llu.%llu\n", family, op, size,
		impl, div_u64(tenths, 10), tenths % 10);
}


/*
 * How many pairs to time for an allocation of `bytes`: a repetition stays
 * well under the 4 million instructions between two timer ticks at HZ=250.
 */
static unsigned long kalloc_bench_iters(unsigned long bytes)
{
	if (bytes <= 4096)
		return 1000;
	if (bytes <= 65536)
		return 200;
	if (bytes <= 1 << 20)
		return 20;
	return 4;
}

/* Timed repetitions of each loop; the fastest counts. */
#define REPS 7

static int rows;
static bool failed;

/*
 * TIME_OPS(family, op, size, iters, ops, body...): runs `body` `iters`
 * times to warm up, then REPS times `iters` times timed, and prints the
 * row of the fastest repetition (the others include a timer interrupt or
 * other work that is not the loop's), per operation: `body` does `ops`.
 * `body` sets `failed` on an allocation failure.
 */
#define TIME_OPS(family, op, size, iters, ops, ...)                          \
	do {                                                                 \
		unsigned long __n = (iters), __i, __r;                       \
		u64 __t0, __best = U64_MAX;                                  \
		for (__i = 0; __i < __n; __i++) { __VA_ARGS__; }             \
		for (__r = 0; __r < REPS; __r++) {                           \
			__t0 = ktime_get_ns();                               \
			for (__i = 0; __i < __n; __i++) { __VA_ARGS__; }     \
			__best = min(__best, ktime_get_ns() - __t0);         \
		}                                                            \
		kalloc_bench_row(family, op, size, "c", __best, __n * (ops)); \
		rows++;                                                      \
	} while (0)

#define TIME(family, op, size, iters, ...) \
	TIME_OPS(family, op, size, iters, 1, __VA_ARGS__)

#define CHECK(p)                                                             \
	do {                                                                 \
		if (!(p))                                                    \
			failed = true;                                       \
		OPTIMIZER_HIDE_VAR(p);                                       \
	} while (0)

/* kmalloc(CONST) and kzalloc(CONST): the bucket is chosen at compile time. */
#define KMALLOC_CONST(n)                                                     \
	do {                                                                 \
		TIME("kmalloc", "alloc_free", n, kalloc_bench_iters(n), {    \
			void *p = kmalloc(n, GFP_KERNEL);                    \
			CHECK(p);                                            \
			kfree(p);                                            \
		});                                                          \
		TIME("kmalloc", "kzalloc", n, kalloc_bench_iters(n), {       \
			void *p = kzalloc(n, GFP_KERNEL);                    \
			CHECK(p);                                            \
			kfree(p);                                            \
		});                                                          \
		/* What the kernel crate's Box of n bytes does in C. */      \
		TIME("kmalloc", "box_alloc_free", n, kalloc_bench_iters(n), { \
			void *p = kmalloc(n, GFP_KERNEL);                    \
			CHECK(p);                                            \
			kfree(p);                                            \
		});                                                          \
	} while (0)

/* kmalloc(size) with a size known only at run time. */
static noinline void kmalloc_runtime(size_t n)
{
	TIME("kmalloc", "alloc_free_runtime", n, kalloc_bench_iters(n), {
		void *p = kmalloc(n, GFP_KERNEL);
		CHECK(p);
		kfree(p);
	});
}

static noinline void kcalloc_runtime(size_t n)
{
	TIME("kmalloc", "kcalloc", n * 8, kalloc_bench_iters(n * 8), {
		void *p = kcalloc(n, 8, GFP_KERNEL);
		CHECK(p);
		kfree(p);
	});
}

/*
 * A growing array of `n` bytes of u64, one element at a time, as a C driver
 * grows it (and as the kernel crate's Vec::push does): the capacity doubles
 * from one element when it is full; per element.
 */
static noinline void vec_push(size_t n)
{
	TIME_OPS("kmalloc", "vec_push", n, kalloc_bench_iters(n) / 4 ?: 1, n / 8, {
		u64 *p = NULL;
		size_t len, cap = 0;
		for (len = 0; len < n / 8; len++) {
			if (len == cap) {
				u64 *q;
				cap = max(cap * 2, len + 1);
				q = krealloc_array(p, cap, sizeof(*p), GFP_KERNEL);
				CHECK(q);
				if (!q)
					break;
				p = q;
			}
			p[len] = len;
		}
		OPTIMIZER_HIDE_VAR(p);
		kfree(p);
	});
}

/* kasprintf() of a short name, then kfree(). */
static noinline void kasprintf_free(void)
{
	TIME("kmalloc", "kasprintf", 16, kalloc_bench_iters(16), {
		char *s = kasprintf(GFP_KERNEL, "edu-%d.%02x", 1, 10);
		CHECK(s);
		kfree(s);
	});
}

/* krealloc growth: 8 bytes doubled up to `n`, then freed. */
static noinline void krealloc_growth(size_t n)
{
	TIME("kmalloc", "krealloc_grow", n, kalloc_bench_iters(n) / 4 ?: 1, {
		void *p = NULL;
		size_t s;
		for (s = 8; s <= n; s *= 2) {
			void *q = krealloc(p, s, GFP_KERNEL);
			CHECK(q);
			if (!q)
				break;
			p = q;
		}
		kfree(p);
	});
}

static noinline void slab(size_t n)
{
	struct kmem_cache *cache = kmem_cache_create("kalloc_bench_c", n, 0, SLAB_NO_MERGE, NULL);
	void *objects[16];

	if (!cache) {
		failed = true;
		return;
	}
#define SLAB_ALLOC_FREE()                                                    \
	do {                                                                 \
		void *p = kmem_cache_alloc(cache, GFP_KERNEL);               \
		CHECK(p);                                                    \
		if (p)                                                       \
			memset(p, 0, n);                                     \
		kmem_cache_free(cache, p);                                   \
	} while (0)
	TIME("slab", "alloc_free", n, kalloc_bench_iters(n), SLAB_ALLOC_FREE());
	/* What kalloc's OwnedSlabBox (an object and its cache) does in C. */
	TIME("slab", "alloc_free_owned", n, kalloc_bench_iters(n), SLAB_ALLOC_FREE());
	/* What kalloc's CacheBox (a module-lifetime cache's object) does in C. */
	TIME("slab", "alloc_free_static", n, kalloc_bench_iters(n), SLAB_ALLOC_FREE());
#undef SLAB_ALLOC_FREE
	/* Per object, in batches of 16. */
	TIME_OPS("slab", "bulk16", n, kalloc_bench_iters(n) / 16 ?: 1, 16, {
		if (kmem_cache_alloc_bulk(cache, GFP_KERNEL, 16, objects)) {
			int j;
			for (j = 0; j < 16; j++)
				memset(objects[j], 0, n);
			kmem_cache_free_bulk(cache, 16, objects);
		} else {
			failed = true;
		}
	});
	kmem_cache_destroy(cache);
}

static noinline void pages(unsigned int order)
{
	TIME("pages", "get_free_pages", order, kalloc_bench_iters(PAGE_SIZE << order), {
		unsigned long a = __get_free_pages(GFP_KERNEL, order);
		CHECK(a);
		free_pages(a, order);
	});
	TIME("pages", "alloc_pages", order, kalloc_bench_iters(PAGE_SIZE << order), {
		struct page *p = alloc_pages(GFP_KERNEL, order);
		CHECK(p);
		if (p)
			__free_pages(p, order);
	});
}

/* Shorter loops: a vmalloc costs thousands of instructions. */
/*
 * Each loop starts with no lazily freed vmalloc areas pending: where the
 * next batched flush falls would otherwise depend on what ran before.
 */
static noinline void vmalloc_size(unsigned long n)
{
	vm_unmap_aliases();
	TIME("vmalloc", "alloc_free", n, kalloc_bench_iters(n * 16), {
		void *p = vmalloc(n);
		CHECK(p);
		vfree(p);
	});
	vm_unmap_aliases();
	TIME("kvmalloc", "alloc_free", n, kalloc_bench_iters(n * 16), {
		void *p = kvmalloc(n, GFP_KERNEL);
		CHECK(p);
		kvfree(p);
	});
}

/* The devm forms, on a faux device of this module's own. */
static noinline void devm(void)
{
	struct faux_device *fdev = faux_device_create("kalloc_bench_c", NULL, NULL);
	struct device *dev;

	if (!fdev) {
		failed = true;
		return;
	}
	dev = &fdev->dev;
	TIME("devm", "kmalloc_kfree", 64, kalloc_bench_iters(64), {
		void *p = devm_kmalloc(dev, 64, GFP_KERNEL);
		CHECK(p);
		devm_kfree(dev, p);
	});
	TIME("devm", "kzalloc_kfree", 4096, kalloc_bench_iters(4096), {
		void *p = devm_kzalloc(dev, 4096, GFP_KERNEL);
		CHECK(p);
		devm_kfree(dev, p);
	});
	TIME("devm", "get_free_pages", 0, kalloc_bench_iters(4096), {
		unsigned long a = devm_get_free_pages(dev, GFP_KERNEL, 0);
		CHECK(a);
		devm_free_pages(dev, a);
	});
	TIME("devm", "kasprintf_kfree", 16, kalloc_bench_iters(16), {
		char *s = devm_kasprintf(dev, GFP_KERNEL, "edu-%d.%02x", 1, 10);
		CHECK(s);
		devm_kfree(dev, s);
	});
	faux_device_destroy(fdev);
}

/*
 * kmalloc_nolock() and alloc_pages_nolock(), the allocators of any context,
 * here in process context. kfree() also takes kmalloc_nolock()'s objects
 * in 7.3 (kmemleak tolerates the missing record): its row says whether it
 * would be cheaper than kfree_nolock().
 */
static noinline void nolock(void)
{
	unsigned int order;
	size_t n;

	for (n = 8; n <= 4096; n *= 8) {
		TIME("nolock", "kmalloc_kfree", n, kalloc_bench_iters(n), {
			void *p = kmalloc_nolock(n, 0, NUMA_NO_NODE);
			CHECK(p);
			kfree_nolock(p);
		});
		TIME("nolock", "kmalloc_plain_kfree", n, kalloc_bench_iters(n), {
			void *p = kmalloc_nolock(n, 0, NUMA_NO_NODE);
			CHECK(p);
			kfree(p);
		});
	}
	for (order = 0; order <= 1; order++)
		TIME("pages_nolock", "alloc_free", order, kalloc_bench_iters(PAGE_SIZE << order), {
			struct page *p = alloc_pages_nolock(0, NUMA_NO_NODE, order);
			CHECK(p);
			if (p)
				__free_pages(p, order);
		});
}

/*
 * Per-CPU memory: alloc_percpu() + free_percpu() of a counter, and an
 * increment of this CPU's copy between get_cpu_ptr() and put_cpu_ptr().
 */
static noinline void percpu(void)
{
	atomic64_t __percpu *counters = alloc_percpu(atomic64_t);

	if (!counters) {
		failed = true;
		return;
	}
	TIME("percpu", "alloc_free", 8, kalloc_bench_iters(8), {
		atomic64_t __percpu *p = alloc_percpu(atomic64_t);
		CHECK(p);
		free_percpu(p);
	});
	TIME("percpu", "get_inc_put", 8, kalloc_bench_iters(8), {
		atomic64_inc(get_cpu_ptr(counters));
		put_cpu_ptr(counters);
	});
	free_percpu(counters);
}

/*
 * Subsystems: a 64-byte element of a kmalloc pool and a page of a page
 * pool, taken and given back (the allocator serves them: the reserve is
 * full); a 64-byte kmalloc'd object freed with kfree_rcu(); 64 bytes from a
 * bucket set (kmalloc's own caches without CONFIG_SLAB_BUCKETS; C cannot
 * destroy a set, so this one lives until reboot).
 */
struct kalloc_bench_rcu {
	struct rcu_head rcu;
	u64 data[6];
};

static noinline void subsystems(void)
{
	mempool_t *kpool = mempool_create_kmalloc_pool(4, 64);
	mempool_t *ppool = mempool_create_page_pool(4, 0);
	kmem_buckets *set = kmem_buckets_create("kalloc_bench_c", 0, 0, 0, NULL);

	if (!kpool || !ppool || !set) {
		failed = true;
		goto out;
	}
	TIME("mempool", "kmalloc_alloc_free", 64, kalloc_bench_iters(64), {
		void *p = mempool_alloc(kpool, GFP_KERNEL);
		CHECK(p);
		mempool_free(p, kpool);
	});
	TIME("mempool", "page_alloc_free", 4096, kalloc_bench_iters(4096), {
		void *p = mempool_alloc(ppool, GFP_KERNEL);
		CHECK(p);
		mempool_free(p, ppool);
	});
	TIME("rcu", "kmalloc_kvfree_rcu", 64, kalloc_bench_iters(64), {
		struct kalloc_bench_rcu *p = kmalloc(sizeof(*p), GFP_KERNEL);
		CHECK(p);
		kvfree_rcu(p, rcu);
	});
	TIME("buckets", "alloc_free", 64, kalloc_bench_iters(64), {
		void *p = kmem_buckets_alloc(set, 64, GFP_KERNEL | __GFP_ZERO);
		CHECK(p);
		kfree(p);
	});
out:
	mempool_destroy(kpool);
	mempool_destroy(ppool);
}

static int __init kalloc_bench_init(void)
{
	unsigned long n;
	unsigned int order;
	int r;

	KMALLOC_CONST(8);
	KMALLOC_CONST(16);
	KMALLOC_CONST(32);
	KMALLOC_CONST(64);
	KMALLOC_CONST(128);
	KMALLOC_CONST(256);
	KMALLOC_CONST(512);
	KMALLOC_CONST(1024);
	KMALLOC_CONST(2048);
	KMALLOC_CONST(4096);
	KMALLOC_CONST(8192);
	KMALLOC_CONST(16384);
	KMALLOC_CONST(32768);
	KMALLOC_CONST(65536);
	for (n = 8; n <= 65536; n *= 2)
		kmalloc_runtime(n);
	for (n = 1; n <= 512; n *= 8)
		kcalloc_runtime(n);
	for (n = 64; n <= 65536; n *= 32)
		krealloc_growth(n);
	for (n = 64; n <= 2048; n *= 32)
		vec_push(n);
	kasprintf_free();
	slab(8);
	slab(64);
	slab(512);
	for (order = 0; order <= 5; order++)
		pages(order);
	for (n = 4096; n <= 4 << 20; n *= 4)
		vmalloc_size(n);
	devm();
	nolock();
	percpu();
	subsystems();

	r = kalloc_bench_rust();
	if (failed || r < 0) {
		pr_err("kalloc-bench: FAILED (an allocation failed, or the Rust part: %d)\n", r);
		return 0;
	}
	pr_info("kalloc-bench: done %d rows\n", rows + r);
	return 0;
}

static void __exit kalloc_bench_exit(void)
{
}

module_init(kalloc_bench_init);
module_exit(kalloc_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kalloc benchmarks: C, kalloc and the kernel crate");
