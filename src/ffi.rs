// SPDX-License-Identifier: GPL-2.0

//! The C functions kalloc calls that the kernel's `bindings` crate does not
//! declare: the shims in `shims.c` (C's macros and inline functions made
//! callable) and a few exported functions that bindgen leaves out.
//!
//! Declarations only; each caller states why its call is sound. The safe
//! wrappers at the end are for the shims that have no safety requirement.

use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};

// `struct device` and `struct page` hold, deep inside, zero-sized members
// that bindgen renders as empty structs, which the lint calls not FFI-safe
// (the `bindings` crate allows it too): only pointers to them cross.
#[expect(improper_ctypes)]
extern "C" {
    // context, where `context.rs` cannot read it inline
    #[cfg(not(all(CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML))))]
    pub(crate) fn kalloc_preempt_count() -> c_int;
    #[cfg(not(all(CONFIG_X86_64, not(CONFIG_PARAVIRT_XXL), not(CONFIG_UML))))]
    pub(crate) fn kalloc_irqs_disabled() -> bool;
    #[cfg(all(
        CONFIG_PREEMPT_RCU,
        not(all(CONFIG_X86_64, CONFIG_SMP, not(CONFIG_UML)))
    ))]
    pub(crate) fn kalloc_rcu_preempt_depth() -> c_int;

    // mempool, buckets: C's macros (see `mempool_create_node` below)
    fn kalloc_mempool_create_node(
        min_nr: c_int,
        alloc_fn: bindings::mempool_alloc_t,
        free_fn: bindings::mempool_free_t,
        pool_data: *mut c_void,
        gfp: bindings::gfp_t,
        node: c_int,
    ) -> *mut bindings::mempool;
    fn kalloc_mempool_alloc(pool: *mut bindings::mempool, gfp: bindings::gfp_t) -> *mut c_void;
    fn kalloc_mempool_alloc_bulk(
        pool: *mut bindings::mempool,
        elems: *mut *mut c_void,
        count: c_uint,
    ) -> c_int;
    fn kalloc_kmem_buckets_alloc(
        b: *mut bindings::kmem_buckets,
        size: usize,
        flags: bindings::gfp_t,
    ) -> *mut c_void;
    fn kalloc_kmem_buckets_valloc(
        b: *mut bindings::kmem_buckets,
        size: usize,
        flags: bindings::gfp_t,
    ) -> *mut c_void;

    // alloc_tag
    /// C's `mem_alloc_profiling_enabled()`.
    pub(crate) fn kalloc_mem_alloc_profiling_enabled() -> bool;
    /// C's `alloc_tag_save()`.
    pub(crate) fn kalloc_alloc_tag_save(tag: *mut bindings::alloc_tag) -> *mut bindings::alloc_tag;
    /// C's `alloc_tag_restore()`.
    pub(crate) fn kalloc_alloc_tag_restore(
        tag: *mut bindings::alloc_tag,
        old: *mut bindings::alloc_tag,
    );
    /// Whether `current->alloc_tag` is set.
    fn kalloc_alloc_tagged() -> bool;

    // gfp

    // kmalloc
    pub(crate) fn kalloc_kmalloc(size: usize, flags: bindings::gfp_t) -> *mut c_void;
    pub(crate) fn kalloc_kmalloc_node(
        size: usize,
        flags: bindings::gfp_t,
        node: c_int,
    ) -> *mut c_void;

    // percpu
    /// C's `__alloc_percpu_gfp()` macro.
    fn kalloc_alloc_percpu_gfp(size: usize, align: usize, gfp: bindings::gfp_t) -> *mut c_void;
    /// C's `get_cpu_ptr()` macro: disables preemption, returns this CPU's
    /// copy.
    pub(crate) fn kalloc_get_cpu_ptr(ptr: *mut c_void) -> *mut c_void;
    /// C's `put_cpu_ptr()` macro: enables preemption.
    pub(crate) fn kalloc_put_cpu_ptr(ptr: *mut c_void);
    /// C's `per_cpu_ptr()` macro.
    pub(crate) fn kalloc_per_cpu_ptr(ptr: *mut c_void, cpu: c_int) -> *mut c_void;

    // nolock
    /// C's `kmalloc_nolock()` macro.
    pub(crate) fn kalloc_kmalloc_nolock(
        size: usize,
        flags: bindings::gfp_t,
        node: c_int,
    ) -> *mut c_void;
    /// C's `alloc_pages_nolock()` macro.
    pub(crate) fn kalloc_alloc_pages_nolock(
        gfp: bindings::gfp_t,
        nid: c_int,
        order: c_uint,
    ) -> *mut bindings::page;
    /// Frees a lowmem block of pages with `__free_pages()` from an IRQ work
    /// item (`shims.c`); may be called in any context.
    pub(crate) fn kalloc_defer_free_pages(page: *mut bindings::page, order: c_uint);
    /// Whether a block handed to `kalloc_defer_free_pages()` is not freed
    /// yet.
    #[cfg(kalloc_selftest)]
    pub(crate) fn kalloc_deferred_pages_pending() -> bool;

    // dma
    /// C's `dma_map_single()`.
    pub(crate) fn kalloc_dma_map_single(
        dev: *mut bindings::device,
        ptr: *mut c_void,
        size: usize,
        dir: bindings::dma_data_direction,
    ) -> bindings::dma_addr_t;
    /// C's `dma_mapping_error()`.
    pub(crate) fn kalloc_dma_mapping_error(
        dev: *mut bindings::device,
        addr: bindings::dma_addr_t,
    ) -> c_int;
    /// Whether `dma_map_page()` maps `size` bytes at `offset` in `page` for
    /// `dev` without a warning (`shims.c`).
    pub(crate) fn kalloc_dma_reachable(
        dev: *mut bindings::device,
        page: *mut bindings::page,
        offset: usize,
        size: usize,
    ) -> bool;
    /// C's `dma_sync_single_for_cpu()`.
    pub(crate) fn kalloc_dma_sync_single_for_cpu(
        dev: *mut bindings::device,
        addr: bindings::dma_addr_t,
        size: usize,
        dir: bindings::dma_data_direction,
    );
    /// C's `dma_sync_single_for_device()`.
    pub(crate) fn kalloc_dma_sync_single_for_device(
        dev: *mut bindings::device,
        addr: bindings::dma_addr_t,
        size: usize,
        dir: bindings::dma_data_direction,
    );

    // pages
    fn kalloc_get_free_pages(gfp: bindings::gfp_t, order: c_uint) -> c_ulong;
    fn kalloc_get_zeroed_page(gfp: bindings::gfp_t) -> c_ulong;
    pub(crate) fn kalloc_page_address(page: *const bindings::page) -> *mut c_void;
    pub(crate) fn kalloc_virt_to_page(addr: *const c_void) -> *mut bindings::page;
    pub(crate) fn kalloc_page_to_pfn(page: *const bindings::page) -> c_ulong;
    pub(crate) fn kalloc_page_zonenum(page: *const bindings::page) -> bindings::zone_type;
    pub(crate) fn kalloc_page_is_highmem(page: *const bindings::page) -> bool;
    pub(crate) fn kalloc_alloc_pages_node(
        nid: c_int,
        gfp: bindings::gfp_t,
        order: c_uint,
    ) -> *mut bindings::page;

    // vmalloc
    /// `__vmalloc(size, gfp)` with a node (`vrealloc_node(NULL, ...)`, see
    /// `shims.c`): `vmalloc(size)` is `__vmalloc(size, GFP_KERNEL)` and
    /// `vzalloc(size)` is `__vmalloc(size, GFP_KERNEL | __GFP_ZERO)`.
    pub(crate) fn kalloc_vmalloc_node(
        size: c_ulong,
        flags: bindings::gfp_t,
        node: c_int,
    ) -> *mut c_void;
    /// C's `vrealloc()` macro.
    pub(crate) fn kalloc_vrealloc(
        p: *mut c_void,
        size: c_ulong,
        flags: bindings::gfp_t,
    ) -> *mut c_void;
    /// `vfree()`, which the kernel's bindings do not declare.
    pub(crate) fn vfree(addr: *const c_void);
    /// `vm_unmap_aliases()`, which the kernel's bindings do not declare.
    pub(crate) fn vm_unmap_aliases();

    // slab
    fn kalloc_kmem_cache_alloc(
        cache: *mut bindings::kmem_cache,
        flags: bindings::gfp_t,
    ) -> *mut c_void;
    /// `srcu_read_lock_fast()` on the module's SRCU domain (`shims.c`): the
    /// per-CPU counter to give back to `kalloc_srcu_read_unlock_fast()`.
    pub(crate) fn kalloc_srcu_read_lock_fast() -> *mut c_void;
    pub(crate) fn kalloc_srcu_read_unlock_fast(ctr: *mut c_void);
    pub(crate) fn kalloc_synchronize_srcu();
    pub(crate) fn kalloc_kmem_cache_alloc_node(
        cache: *mut bindings::kmem_cache,
        flags: bindings::gfp_t,
        node: c_int,
    ) -> *mut c_void;
    pub(crate) fn kalloc_kmem_cache_alloc_bulk(
        cache: *mut bindings::kmem_cache,
        flags: bindings::gfp_t,
        n: usize,
        objects: *mut *mut c_void,
    ) -> bool;
    pub(crate) fn kalloc_slab_names_lock();
    pub(crate) fn kalloc_slab_names_unlock();

    // deferred frees
    /// C's `async_schedule_node_domain()` in kalloc's async domain.
    pub(crate) fn kalloc_async_schedule(
        func: unsafe extern "C" fn(*mut c_void, u64),
        data: *mut c_void,
    );
    /// C's `async_synchronize_full_domain()` for kalloc's async domain.
    pub(crate) fn kalloc_async_wait();
    fn kalloc_current_is_async() -> bool;

    // devm
    pub(crate) fn kalloc_devm_kzalloc(
        dev: *mut bindings::device,
        size: usize,
        gfp: bindings::gfp_t,
    ) -> *mut c_void;
    pub(crate) fn kalloc_devm_kcalloc(
        dev: *mut bindings::device,
        n: usize,
        size: usize,
        gfp: bindings::gfp_t,
    ) -> *mut c_void;
}

/// Whether kalloc calls C's exported `*_noprof` allocation functions
/// directly. With allocation profiling, only inside a caller's
/// [`alloc_tag!`](crate::alloc_tag!), which counts them at the caller's
/// line; elsewhere kalloc calls C's allocation macros in its shims, each of
/// which counts at its own line.
#[inline(always)]
pub(crate) fn direct() -> bool {
    // SAFETY: The shim only reads the current task's `alloc_tag`.
    !cfg!(CONFIG_MEM_ALLOC_PROFILING) || unsafe { kalloc_alloc_tagged() }
}

/// C's `__get_free_pages()`.
///
/// # Safety
///
/// As for `__get_free_pages()`.
#[inline(always)]
pub(crate) unsafe fn get_free_pages(gfp: bindings::gfp_t, order: c_uint) -> c_ulong {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::get_free_pages_noprof(gfp, order) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_get_free_pages(gfp, order) }
    }
}

/// C's `__alloc_percpu_gfp()`.
///
/// # Safety
///
/// As for `__alloc_percpu_gfp()`.
#[inline(always)]
pub(crate) unsafe fn alloc_percpu_gfp(
    size: usize,
    align: usize,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::pcpu_alloc_noprof(size, align, false, gfp) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_alloc_percpu_gfp(size, align, gfp) }
    }
}

/// C's `get_zeroed_page()`.
///
/// # Safety
///
/// As for `get_zeroed_page()`.
#[inline(always)]
pub(crate) unsafe fn get_zeroed_page(gfp: bindings::gfp_t) -> c_ulong {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::get_zeroed_page_noprof(gfp) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_get_zeroed_page(gfp) }
    }
}

/// C's `__kvmalloc_node_noprof()` from the bucket set `buckets`, or from
/// kmalloc's own caches if it is NULL. Only with `CONFIG_SLAB_BUCKETS` does
/// C take the set (`DECL_BUCKET_PARAMS`); without, `buckets` is NULL (C's
/// `kmem_buckets_create()` gives no set then).
///
/// # Safety
///
/// As for `__kvmalloc_node_noprof()`; `buckets` is NULL or a live set.
#[inline(always)]
pub(crate) unsafe fn kvmalloc_node(
    size: usize,
    buckets: *mut bindings::kmem_buckets,
    align: c_ulong,
    flags: bindings::gfp_t,
    node: c_int,
) -> *mut c_void {
    #[cfg(CONFIG_SLAB_BUCKETS)]
    // SAFETY: As for this function.
    let p = unsafe { bindings::__kvmalloc_node_noprof(size, buckets, align, flags, node) };
    #[cfg(not(CONFIG_SLAB_BUCKETS))]
    let p = {
        let _ = buckets;
        // SAFETY: As for this function.
        unsafe { bindings::__kvmalloc_node_noprof(size, align, flags, node) }
    };
    p
}

/// C's `__kmalloc_node_noprof()` from the bucket set `buckets`, as
/// [`kvmalloc_node`] takes it.
///
/// # Safety
///
/// As for `__kmalloc_node_noprof()`; `buckets` is NULL or a live set.
#[inline(always)]
pub(crate) unsafe fn kmalloc_node(
    size: usize,
    buckets: *mut bindings::kmem_buckets,
    flags: bindings::gfp_t,
    node: c_int,
) -> *mut c_void {
    #[cfg(CONFIG_SLAB_BUCKETS)]
    // SAFETY: As for this function.
    let p = unsafe { bindings::__kmalloc_node_noprof(size, buckets, flags, node) };
    #[cfg(not(CONFIG_SLAB_BUCKETS))]
    let p = {
        let _ = buckets;
        // SAFETY: As for this function.
        unsafe { bindings::__kmalloc_node_noprof(size, flags, node) }
    };
    p
}

/// C's `mempool_create_node()`.
///
/// # Safety
///
/// As for `mempool_create_node()`.
#[inline(always)]
pub(crate) unsafe fn mempool_create_node(
    min_nr: c_int,
    alloc_fn: bindings::mempool_alloc_t,
    free_fn: bindings::mempool_free_t,
    pool_data: *mut c_void,
    gfp: bindings::gfp_t,
    node: c_int,
) -> *mut bindings::mempool {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe {
            bindings::mempool_create_node_noprof(min_nr, alloc_fn, free_fn, pool_data, gfp, node)
        }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, gfp, node) }
    }
}

/// C's `mempool_alloc()`.
///
/// # Safety
///
/// As for `mempool_alloc()`.
#[inline(always)]
pub(crate) unsafe fn mempool_alloc(
    pool: *mut bindings::mempool,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::mempool_alloc_noprof(pool, gfp) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_mempool_alloc(pool, gfp) }
    }
}

/// C's `mempool_alloc_bulk()`.
///
/// # Safety
///
/// As for `mempool_alloc_bulk()`.
#[inline(always)]
pub(crate) unsafe fn mempool_alloc_bulk(
    pool: *mut bindings::mempool,
    elems: *mut *mut c_void,
    count: c_uint,
) -> c_int {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::mempool_alloc_bulk_noprof(pool, elems, count) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_mempool_alloc_bulk(pool, elems, count) }
    }
}

/// C's `kmem_buckets_alloc()` (`valloc`: `kmem_buckets_valloc()`).
///
/// # Safety
///
/// As for `kmem_buckets_alloc()`; `b` is NULL or a live set.
#[inline(always)]
pub(crate) unsafe fn kmem_buckets_alloc(
    b: *mut bindings::kmem_buckets,
    size: usize,
    flags: bindings::gfp_t,
    valloc: bool,
) -> *mut c_void {
    // SAFETY: As for this function; the direct calls are what the C
    // macros call.
    unsafe {
        match (direct(), valloc) {
            (true, false) => kmalloc_node(size, b, flags, bindings::NUMA_NO_NODE),
            (true, true) => kvmalloc_node(size, b, 1, flags, bindings::NUMA_NO_NODE),
            (false, false) => kalloc_kmem_buckets_alloc(b, size, flags),
            (false, true) => kalloc_kmem_buckets_valloc(b, size, flags),
        }
    }
}

/// C's `kmem_cache_alloc()`.
///
/// # Safety
///
/// As for `kmem_cache_alloc()`.
#[inline(always)]
pub(crate) unsafe fn kmem_cache_alloc(
    cache: *mut bindings::kmem_cache,
    flags: bindings::gfp_t,
) -> *mut c_void {
    if direct() {
        // SAFETY: As for this function; this is what the C macro calls.
        unsafe { bindings::kmem_cache_alloc_noprof(cache, flags) }
    } else {
        // SAFETY: As for this function.
        unsafe { kalloc_kmem_cache_alloc(cache, flags) }
    }
}

/// Whether the current task is an async worker running an async function
/// (C's `current_is_async()`).
#[inline]
pub(crate) fn current_is_async() -> bool {
    // SAFETY: The shim only reads the current task's flags.
    unsafe { kalloc_current_is_async() }
}

/// Whether the module that kalloc is built into is still initialising
/// (`MODULE_STATE_COMING`): its init has not returned yet.
pub(crate) fn this_module_initialising() -> bool {
    // SAFETY: `__this_module` is the `struct module` of the module kalloc
    // is linked into, which outlives its code; its state is read once.
    let state = unsafe { core::ptr::read_volatile(&raw const bindings::__this_module.state) };
    state == bindings::module_state_MODULE_STATE_COMING
}
