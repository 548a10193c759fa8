// SPDX-License-Identifier: GPL-2.0

//! The Rust half of `kalloc_bench.ko` (the C half, `bench_c.c`, is the
//! module's root and calls [`kalloc_bench_rust`]): the same allocate + free
//! pairs as the C loops, through kalloc and through the kernel crate.
//!
//! Rows are printed in `bench_c.c`'s format; see there for the method.

use core::hint::black_box;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kalloc::buckets::KmemBuckets;
use kalloc::devm::{DevmBox, DevmPages, DevmStr, FauxDevice};
use kalloc::gfp::Gfp;
use kalloc::kmalloc::{Kmalloc, KmallocArray, KmallocBox};
use kalloc::kvmalloc::KVmalloc;
use kalloc::mempool::{KmallocPool, PagePool};
use kalloc::nolock::{KmallocNolock, NolockPages};
use kalloc::pages::{LowmemPages, Pages};
use kalloc::percpu::PerCpu;
use kalloc::rcu::{kvfree_rcu, Rcu};
use kalloc::slab::{CacheAlloc, ModuleCache, SlabCache, SlabOptions, StaticCache};
use kalloc::vmalloc::{vm_unmap_aliases, VBuf};
use kernel::alloc::{flags::GFP_KERNEL, Allocator, KBox, KVVec, KVec, VVec, Vec};
use kernel::device::{Bound, Device};
use kernel::page::Page;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;
use kernel::time::{Instant, Monotonic};

/// The prefix of the log lines (`pr_*!` reads it from the crate root): the
/// rows' marker, as in `bench_c.c`.
const __LOG_PREFIX: &[u8] = b"kalloc-bench\0";

/// How many pairs to time for an allocation of `bytes` (as in `bench_c.c`).
fn iters(bytes: usize) -> usize {
    match bytes {
        0..=4096 => 1000,
        4097..=65536 => 200,
        65537..=0x10_0000 => 20,
        _ => 4,
    }
}

/// Timed repetitions of each loop; the fastest counts (as in `bench_c.c`).
const REPS: usize = 7;

/// Counts the rows printed.
struct Bench {
    rows: i32,
}

impl Bench {
    /// Runs `body` `n` times to warm up, then [`REPS`] times `n` times
    /// timed (guest instructions under `-icount shift=0`), and prints the
    /// row of the fastest repetition.
    fn time(
        &mut self,
        row: (&str, &str, usize, &str),
        n: usize,
        body: impl FnMut() -> Result,
    ) -> Result {
        self.time_ops(row, n, 1, body)
    }

    /// As [`Bench::time`], per operation where `body` does `ops`.
    fn time_ops(
        &mut self,
        (family, op, size, imp): (&str, &str, usize, &str),
        n: usize,
        ops: usize,
        mut body: impl FnMut() -> Result,
    ) -> Result {
        for _ in 0..n {
            body()?;
        }
        let mut best = i64::MAX;
        for _ in 0..REPS {
            let start = Instant::<Monotonic>::now();
            for _ in 0..n {
                body()?;
            }
            best = best.min(start.elapsed().as_nanos());
        }
        let total = u64::try_from(best).map_err(|_| ERANGE)?;
        let n = (n * ops) as u64;
        let tenths = (total * 10 + n / 2) / n;
        pr_info!(
            "row {family},{op},{size},{imp},{}.{}\n",
            tenths / 10,
            tenths % 10
        );
        self.rows += 1;
        Ok(())
    }
}

/// kmalloc of a sized type: the bucket is known at compile time.
fn kmalloc_sized<const N: usize>(b: &mut Bench) -> Result {
    let n = iters(N);
    // kalloc's own box, of a value nothing initialises.
    b.time(("kmalloc", "alloc_free", N, "kalloc"), n, || {
        black_box(KmallocBox::new(
            MaybeUninit::<[u8; N]>::uninit(),
            GFP_KERNEL,
        )?);
        Ok(())
    })?;
    b.time(("kmalloc", "alloc_free", N, "upstream"), n, || {
        black_box(KBox::<[u8; N]>::new_uninit(GFP_KERNEL)?);
        Ok(())
    })?;
    // The kernel crate's `Box` on kalloc's allocator against its `KBox`.
    b.time(("kmalloc", "box_alloc_free", N, "kalloc"), n, || {
        black_box(Box::<[u8; N], Kmalloc>::new_uninit(GFP_KERNEL)?);
        Ok(())
    })?;
    b.time(("kmalloc", "box_alloc_free", N, "upstream"), n, || {
        black_box(KBox::<[u8; N]>::new_uninit(GFP_KERNEL)?);
        Ok(())
    })?;
    b.time(("kmalloc", "kzalloc", N, "kalloc"), n, || {
        black_box(KmallocBox::<[u8; N]>::new_zeroed(GFP_KERNEL)?);
        Ok(())
    })?;
    b.time(("kmalloc", "kzalloc", N, "upstream"), n, || {
        black_box(KBox::init(pin_init::zeroed::<[u8; N]>(), GFP_KERNEL)?);
        Ok(())
    })
}

/// Allocations whose size is known only at run time.
fn runtime_sized(b: &mut Bench, size: usize) -> Result {
    let n = iters(size);
    b.time(("kmalloc", "alloc_free_runtime", size, "kalloc"), n, || {
        black_box(Vec::<u8, Kmalloc>::with_capacity(
            black_box(size),
            GFP_KERNEL,
        )?);
        Ok(())
    })?;
    b.time(
        ("kmalloc", "alloc_free_runtime", size, "upstream"),
        n,
        || {
            black_box(KVec::<u8>::with_capacity(black_box(size), GFP_KERNEL)?);
            Ok(())
        },
    )
}

/// `size` bytes of `u64` pushed one at a time, then the free.
fn push<A: Allocator>(size: usize) -> Result {
    let mut v = Vec::<u64, A>::new();
    for i in 0..size / 8 {
        v.push(i as u64, GFP_KERNEL)?;
    }
    black_box(v);
    Ok(())
}

/// `n` doublings from 8 bytes to `size`, then the free.
fn growth<A: Allocator>(size: usize) -> Result {
    let mut v = Vec::<u8, A>::new();
    let mut s = 8;
    while s <= size {
        v.reserve(s, GFP_KERNEL)?;
        s *= 2;
    }
    black_box(v);
    Ok(())
}

kalloc::slab_cache!(Static8: [u8; 8]);
kalloc::slab_cache!(Static64: [u8; 64]);
kalloc::slab_cache!(Static512: [u8; 512]);

fn slab<const N: usize, C: StaticCache<Object = [u8; N]>>(
    b: &mut Bench,
    name: &CStr,
    static_name: &CStr,
) -> Result {
    let n = iters(N);
    // Not merged, as the C loops' cache: kalloc refuses a name that a merged
    // cache left taken.
    let cache = Arc::new(
        SlabCache::<[u8; N]>::new(name, SlabOptions::new().no_merge())?,
        GFP_KERNEL,
    )?;
    b.time(("slab", "alloc_free", N, "kalloc"), n, || {
        black_box(cache.alloc([0; N], GFP_KERNEL)?);
        Ok(())
    })?;
    b.time_ops(("slab", "bulk16", N, "kalloc"), (n / 16).max(1), 16, || {
        black_box(cache.alloc_bulk(16, GFP_KERNEL, |_| [0; N])?);
        Ok(())
    })?;
    b.time(("slab", "alloc_free_owned", N, "kalloc"), n, || {
        black_box(cache.alloc_owned([0; N], GFP_KERNEL)?);
        Ok(())
    })?;
    let _owner = ModuleCache::<C>::new(static_name, SlabOptions::new().no_merge())?;
    b.time(("slab", "alloc_free_static", N, "kalloc"), n, || {
        black_box(CacheAlloc::<C>::new_box([0; N], GFP_KERNEL)?);
        Ok(())
    })
}

fn pages(b: &mut Bench, order: u32) -> Result {
    let n = iters(4096 << order);
    let size = order as usize;
    b.time(("pages", "get_free_pages", size, "kalloc"), n, || {
        black_box(LowmemPages::get_free_pages(order, GFP_KERNEL)?);
        Ok(())
    })?;
    b.time(("pages", "alloc_pages", size, "kalloc"), n, || {
        black_box(Pages::alloc_pages(order, GFP_KERNEL)?);
        Ok(())
    })?;
    if order == 0 {
        b.time(("pages", "alloc_pages", 0, "upstream"), n, || {
            black_box(Page::alloc_page(GFP_KERNEL)?);
            Ok(())
        })?;
    }
    Ok(())
}

fn vmalloc(b: &mut Bench, size: usize) -> Result {
    // Shorter loops, as in `bench_c.c`. Each loop starts with no lazily
    // freed areas pending, as there: where the next batched flush falls
    // would otherwise depend on what ran before.
    let n = iters(size * 16);
    vm_unmap_aliases()?;
    b.time(("vmalloc", "alloc_free", size, "kalloc"), n, || {
        black_box(VBuf::<u8>::new_uninit(size, GFP_KERNEL)?);
        Ok(())
    })?;
    vm_unmap_aliases()?;
    b.time(("vmalloc", "alloc_free", size, "upstream"), n, || {
        black_box(VVec::<u8>::with_capacity(size, GFP_KERNEL)?);
        Ok(())
    })?;
    vm_unmap_aliases()?;
    b.time(("kvmalloc", "alloc_free", size, "kalloc"), n, || {
        black_box(Vec::<u8, KVmalloc>::with_capacity(size, GFP_KERNEL)?);
        Ok(())
    })?;
    vm_unmap_aliases()?;
    b.time(("kvmalloc", "alloc_free", size, "upstream"), n, || {
        black_box(KVVec::<u8>::with_capacity(size, GFP_KERNEL)?);
        Ok(())
    })
}

/// The devm forms, on a faux device of this module's own (the kernel crate
/// has no `devm_kmalloc()` to compare).
fn devm(b: &mut Bench) -> Result {
    let reg = FauxDevice::without_data(c"kalloc_bench_rust")?;
    let dev: &Device<Bound> = reg.device();
    b.time(("devm", "kmalloc_kfree", 64, "kalloc"), iters(64), || {
        DevmBox::new(dev, MaybeUninit::<[u8; 64]>::uninit(), GFP_KERNEL)?.free();
        Ok(())
    })?;
    b.time(
        ("devm", "kzalloc_kfree", 4096, "kalloc"),
        iters(4096),
        || {
            DevmBox::<[u8; 4096]>::new_zeroed(dev, GFP_KERNEL)?.free();
            Ok(())
        },
    )?;
    b.time(("devm", "get_free_pages", 0, "kalloc"), iters(4096), || {
        DevmPages::alloc(dev, 0, GFP_KERNEL)?.free();
        Ok(())
    })?;
    b.time(("devm", "kasprintf_kfree", 16, "kalloc"), iters(16), || {
        DevmStr::format(dev, fmt!("edu-{}.{:02x}", 1, 10), GFP_KERNEL)?.free();
        Ok(())
    })
}

/// kalloc's nolock types, in process context (C's rows in `bench_c.c`).
fn nolock<const N: usize>(b: &mut Bench) -> Result {
    b.time(("nolock", "kmalloc_kfree", N, "kalloc"), iters(N), || {
        black_box(KmallocNolock::new_box(
            MaybeUninit::<[u8; N]>::uninit(),
            Gfp::NONE,
        )?);
        Ok(())
    })
}

fn nolock_pages(b: &mut Bench, order: u32) -> Result {
    let n = iters(4096 << order);
    b.time(
        ("pages_nolock", "alloc_free", order as usize, "kalloc"),
        n,
        || {
            black_box(NolockPages::alloc(order, Gfp::NONE)?);
            Ok(())
        },
    )
}

/// A per-CPU counter made and freed, and this CPU's copy incremented
/// under a guard (C's rows in `bench_c.c`).
fn percpu(b: &mut Bench) -> Result {
    b.time(("percpu", "alloc_free", 8, "kalloc"), iters(8), || {
        black_box(PerCpu::new_with(|_| AtomicU64::new(0), GFP_KERNEL)?);
        Ok(())
    })?;
    let counters = PerCpu::new_with(|_| AtomicU64::new(0), GFP_KERNEL)?;
    b.time(("percpu", "get_inc_put", 8, "kalloc"), iters(8), || {
        counters.get().fetch_add(1, Relaxed);
        Ok(())
    })
}

/// The subsystems' rows (C's in `bench_c.c`): pool elements taken and
/// given back, a `kvfree_rcu()` free, a bucket set's buffer.
fn subsystems(b: &mut Bench) -> Result {
    let kpool = KmallocPool::<[u64; 8]>::new(4, GFP_KERNEL)?;
    b.time(
        ("mempool", "kmalloc_alloc_free", 64, "kalloc"),
        iters(64),
        || {
            black_box(kpool.alloc([0; 8], GFP_KERNEL)?);
            Ok(())
        },
    )?;
    let ppool = PagePool::new(0, 4, GFP_KERNEL)?;
    b.time(
        ("mempool", "page_alloc_free", 4096, "kalloc"),
        iters(4096),
        || {
            black_box(ppool.alloc(GFP_KERNEL)?);
            Ok(())
        },
    )?;
    b.time(
        ("rcu", "kmalloc_kvfree_rcu", 64, "kalloc"),
        iters(64),
        || {
            kvfree_rcu(kalloc::KBox::new(Rcu::new([0u64; 6]), GFP_KERNEL)?);
            Ok(())
        },
    )?;
    let set = KmemBuckets::new(c"kalloc_bench_rust")?;
    b.time(("buckets", "alloc_free", 64, "kalloc"), iters(64), || {
        black_box(set.alloc(64, GFP_KERNEL)?);
        Ok(())
    })
}

fn run(b: &mut Bench) -> Result {
    kmalloc_sized::<8>(b)?;
    kmalloc_sized::<16>(b)?;
    kmalloc_sized::<32>(b)?;
    kmalloc_sized::<64>(b)?;
    kmalloc_sized::<128>(b)?;
    kmalloc_sized::<256>(b)?;
    kmalloc_sized::<512>(b)?;
    kmalloc_sized::<1024>(b)?;
    kmalloc_sized::<2048>(b)?;
    kmalloc_sized::<4096>(b)?;
    kmalloc_sized::<8192>(b)?;
    kmalloc_sized::<16384>(b)?;
    kmalloc_sized::<32768>(b)?;
    kmalloc_sized::<65536>(b)?;
    let mut size = 8;
    while size <= 65536 {
        runtime_sized(b, size)?;
        size *= 2;
    }
    let mut len = 1;
    while len <= 512 {
        b.time(
            ("kmalloc", "kcalloc", len * 8, "kalloc"),
            iters(len * 8),
            || {
                black_box(KmallocArray::<u64>::zeroed(black_box(len), GFP_KERNEL)?);
                Ok(())
            },
        )?;
        len *= 8;
    }
    let mut size = 64;
    while size <= 65536 {
        let n = (iters(size) / 4).max(1);
        b.time(("kmalloc", "krealloc_grow", size, "kalloc"), n, || {
            growth::<Kmalloc>(size)
        })?;
        b.time(("kmalloc", "krealloc_grow", size, "upstream"), n, || {
            growth::<kernel::alloc::allocator::Kmalloc>(size)
        })?;
        size *= 32;
    }
    let mut size = 64;
    while size <= 2048 {
        let n = (iters(size) / 4).max(1);
        let ops = size / 8;
        b.time_ops(("kmalloc", "vec_push", size, "kalloc"), n, ops, || {
            push::<Kmalloc>(size)
        })?;
        b.time_ops(("kmalloc", "vec_push", size, "upstream"), n, ops, || {
            push::<kernel::alloc::allocator::Kmalloc>(size)
        })?;
        size *= 32;
    }
    b.time(("kmalloc", "kasprintf", 16, "kalloc"), iters(16), || {
        black_box(kalloc::kasprintf!(GFP_KERNEL, "edu-{}.{:02x}", 1, 10)?);
        Ok(())
    })?;
    b.time(("kmalloc", "kasprintf", 16, "upstream"), iters(16), || {
        black_box(CString::try_from_fmt(fmt!("edu-{}.{:02x}", 1, 10))?);
        Ok(())
    })?;
    slab::<8, Static8>(b, c"kalloc_bench_8", c"kalloc_bench_static_8")?;
    slab::<64, Static64>(b, c"kalloc_bench_64", c"kalloc_bench_static_64")?;
    slab::<512, Static512>(b, c"kalloc_bench_512", c"kalloc_bench_static_512")?;
    for order in 0..=5 {
        pages(b, order)?;
    }
    let mut size = 4096;
    while size <= 4 << 20 {
        vmalloc(b, size)?;
        size *= 4;
    }
    devm(b)?;
    nolock::<8>(b)?;
    nolock::<64>(b)?;
    nolock::<512>(b)?;
    nolock::<4096>(b)?;
    nolock_pages(b, 0)?;
    nolock_pages(b, 1)?;
    percpu(b)?;
    subsystems(b)
}

/// Runs the Rust benchmarks; the number of rows printed, or a negative
/// error number.
#[no_mangle]
pub extern "C" fn kalloc_bench_rust() -> c_int {
    let mut b = Bench { rows: 0 };
    match run(&mut b) {
        Ok(()) => b.rows,
        Err(e) => e.to_errno(),
    }
}
