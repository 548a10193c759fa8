// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for kalloc: the kernel APIs that Rust cannot call directly
 * because they are macros or inline functions in C, and the C values the
 * self-tests compare kalloc's Rust constants against.
 *
 * Every shim is a thin, behaviour-free wrapper; the Rust side (src/shim.rs
 * declares them all) owns the safety argument.
 */

#include <linux/gfp.h>
#include <linux/string.h>
#include <linux/types.h>

/* Prototypes: the only callers are in Rust. */
u32 kalloc_shim_abi(void);
int kalloc_gfp_by_name(const char *name, gfp_t *out);
int kalloc_gfp_zone(gfp_t flags);
bool kalloc_gfp_allow_blocking(gfp_t flags);

/* A value Rust checks to prove that this C object is linked in. */
u32 kalloc_shim_abi(void)
{
	return 0x6b616c63; /* "kalc" */
}

#define KALLOC_GFP(name) { #name, name }
static const struct {
	const char *name;
	gfp_t value;
} kalloc_gfp_table[] = {
	KALLOC_GFP(GFP_KERNEL),
	KALLOC_GFP(GFP_KERNEL_ACCOUNT),
	KALLOC_GFP(GFP_ATOMIC),
	KALLOC_GFP(GFP_NOWAIT),
	KALLOC_GFP(GFP_NOIO),
	KALLOC_GFP(GFP_NOFS),
	KALLOC_GFP(GFP_USER),
	KALLOC_GFP(GFP_HIGHUSER),
	KALLOC_GFP(GFP_HIGHUSER_MOVABLE),
	KALLOC_GFP(GFP_DMA),
	KALLOC_GFP(GFP_DMA32),
	KALLOC_GFP(__GFP_ZERO),
	KALLOC_GFP(__GFP_HIGHMEM),
	KALLOC_GFP(__GFP_NOWARN),
	KALLOC_GFP(__GFP_NORETRY),
	KALLOC_GFP(__GFP_RETRY_MAYFAIL),
	KALLOC_GFP(__GFP_NOFAIL),
	KALLOC_GFP(__GFP_HIGH),
	KALLOC_GFP(__GFP_IO),
	KALLOC_GFP(__GFP_FS),
	KALLOC_GFP(__GFP_ACCOUNT),
	KALLOC_GFP(__GFP_DIRECT_RECLAIM),
	KALLOC_GFP(__GFP_KSWAPD_RECLAIM),
	KALLOC_GFP(__GFP_RECLAIM),
};

/* The value of the C macro called @name, for the gfp self-test. */
int kalloc_gfp_by_name(const char *name, gfp_t *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kalloc_gfp_table); i++) {
		if (!strcmp(kalloc_gfp_table[i].name, name)) {
			*out = kalloc_gfp_table[i].value;
			return 0;
		}
	}
	return -ENOENT;
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

/* --- kmalloc family (src/kmalloc.rs) --- */

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
