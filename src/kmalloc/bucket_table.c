// SPDX-License-Identifier: GPL-2.0
/*
 * The kmalloc cache that C's kmalloc() picks on the kernel being built
 * against, as compile-time constants: compiled to assembly only (as the
 * kernel's asm-offsets are), and turned by kalloc.kbuild into the Rust table
 * that src/kmalloc/bucket.rs checks its own pick against at compile time. A
 * kernel whose pick differs fails kalloc's build instead of overflowing a
 * heap object.
 *
 * kmalloc_index() is a step function of the size: it is recorded one byte
 * either side of every place where it or kalloc's copy may step (each power
 * of two, 96 and 192, KMALLOC_MIN_SIZE), up to KMALLOC_MAX_CACHE_SIZE.
 * kmalloc_type() is recorded for every mix of the flags that choose it.
 */
#include <linux/gfp.h>
#include <linux/slab.h>

#define KALLOC_INDEX(size)                                                    \
	asm volatile("\n.ascii \"->KMALLOC_INDEX %0 %1\"" : :                \
		     "i"(size), "i"(kmalloc_index(size)))
#define KALLOC_AROUND(size)                                                   \
	do {                                                                  \
		if ((size) - 1 >= 1)                                          \
			KALLOC_INDEX((size) - 1);                             \
		KALLOC_INDEX(size);                                           \
		if ((size) + 1 <= KMALLOC_MAX_CACHE_SIZE)                     \
			KALLOC_INDEX((size) + 1);                             \
	} while (0)
#define KALLOC_TYPE(flags)                                                    \
	asm volatile("\n.ascii \"->KMALLOC_TYPE %0 %1\"" : : "i"(flags),     \
		     "i"(kmalloc_type(flags, __kmalloc_token(0))))

void kalloc_bucket_table(void);
void kalloc_bucket_table(void)
{
	KALLOC_AROUND(KMALLOC_MIN_SIZE);
	KALLOC_AROUND(96);
	KALLOC_AROUND(192);
	KALLOC_AROUND(2);
	KALLOC_AROUND(4);
	KALLOC_AROUND(8);
	KALLOC_AROUND(16);
	KALLOC_AROUND(32);
	KALLOC_AROUND(64);
	KALLOC_AROUND(128);
	KALLOC_AROUND(256);
	KALLOC_AROUND(512);
	KALLOC_AROUND(1024);
	KALLOC_AROUND(2048);
	KALLOC_AROUND(4096);
	KALLOC_AROUND(8192);
#if KMALLOC_MAX_CACHE_SIZE > 8192
	KALLOC_AROUND(16384);
#endif
#if KMALLOC_MAX_CACHE_SIZE > 16384
	KALLOC_AROUND(32768);
#endif
#if KMALLOC_MAX_CACHE_SIZE > 32768
	KALLOC_AROUND(65536);
#endif
#if KMALLOC_MAX_CACHE_SIZE > 65536
#error "kalloc: a KMALLOC_MAX_CACHE_SIZE above 64 KiB needs more sizes here"
#endif

	KALLOC_TYPE(GFP_KERNEL);
	KALLOC_TYPE(GFP_KERNEL | __GFP_DMA);
	KALLOC_TYPE(GFP_KERNEL | __GFP_RECLAIMABLE);
	KALLOC_TYPE(GFP_KERNEL | __GFP_ACCOUNT);
	KALLOC_TYPE(GFP_KERNEL | __GFP_DMA | __GFP_RECLAIMABLE);
	KALLOC_TYPE(GFP_KERNEL | __GFP_DMA | __GFP_ACCOUNT);
	KALLOC_TYPE(GFP_KERNEL | __GFP_RECLAIMABLE | __GFP_ACCOUNT);
	KALLOC_TYPE(GFP_KERNEL | __GFP_DMA | __GFP_RECLAIMABLE | __GFP_ACCOUNT);
}
