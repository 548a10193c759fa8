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

/* --- slab caches (kmem_cache) --- */

#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

int kalloc_slab_flag_by_name(const char *name, slab_flags_t *out);
void kalloc_slab_names_lock(void);
void kalloc_slab_names_unlock(void);
bool kalloc_slab_name_in_use(const char *name);
ssize_t kalloc_slab_read_sysfs(const char *path, char *buf, size_t len);

#define KALLOC_SLAB_FLAG(name) { #name, name }
static const struct {
	const char *name;
	slab_flags_t value;
} kalloc_slab_flag_table[] = {
	KALLOC_SLAB_FLAG(SLAB_HWCACHE_ALIGN),
	KALLOC_SLAB_FLAG(SLAB_ACCOUNT),
	KALLOC_SLAB_FLAG(SLAB_RECLAIM_ACCOUNT),
	KALLOC_SLAB_FLAG(SLAB_NO_MERGE),
};

/* The value of the C macro called @name, for the slab self-test. */
int kalloc_slab_flag_by_name(const char *name, slab_flags_t *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kalloc_slab_flag_table); i++) {
		if (!strcmp(kalloc_slab_flag_table[i].name, name)) {
			*out = kalloc_slab_flag_table[i].value;
			return 0;
		}
	}
	return -ENOENT;
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
 * Whether a live cache that can never be merged is called @name: SLUB gives
 * such a cache the directory /sys/kernel/slab/@name. (A mergeable cache's
 * name is a symlink there, which SLUB leaves behind when an alias is
 * destroyed, so a link tells nothing about live caches.)
 */
bool kalloc_slab_name_in_use(const char *name)
{
	struct kernfs_node *slab, *kn;
	bool in_use = false;

	slab = sysfs_get_dirent(kernel_kobj->sd, "slab");
	if (!slab)
		return false;
	kn = kernfs_find_and_get(slab, name);
	if (kn) {
		in_use = kernfs_type(kn) == KERNFS_DIR;
		kernfs_put(kn);
	}
	kernfs_put(slab);
	return in_use;
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
