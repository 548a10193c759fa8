// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_slab` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_slab)]
mod kalloc_slab {
    use super::super::*;
    use crate::gfp::__GFP_NOFAIL;
    use crate::gfp::{
        __GFP_HIGHMEM,
        __GFP_NORETRY,
        __GFP_NOWARN,
        __GFP_ZERO, //
        GFP_ATOMIC,
        GFP_DMA,
        GFP_DMA32,
        GFP_KERNEL,
    };
    use crate::selftest::ffi::c_macro;
    use crate::selftest::slab::zone_of_object;
    use crate::selftest::slab_stats::Stats;
    use crate::slab::names::{entry, Entry};
    use core::ptr;
    use kernel::prelude::*;
    use kernel::sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        new_spinlock,
        SpinLock, //
    };
    use pin_init::stack_pin_init;

    /// A plain object for the suite: an id, and a check word derived from it.
    struct Item {
        id: usize,
        check: usize,
    }

    impl Item {
        fn new(id: usize) -> Self {
            Item { id, check: !id }
        }

        fn is(&self, id: usize) -> bool {
            self.id == id && self.check == !id
        }
    }

    /// An object that needs a pinned initialiser: a lock.
    #[pin_data]
    struct Locked {
        #[pin]
        value: SpinLock<u64>,
    }

    /// An object whose type asks for more alignment than SLUB's minimum.
    #[repr(align(128))]
    struct Aligned128 {
        id: usize,
    }

    const SESSION_MAGIC: u64 = 0x5e55_1014_c0de_5eed;

    /// How often `Session::construct` ran.
    static CONSTRUCTED: Atomic<usize> = Atomic::new(0);

    /// An object of a constructed cache: a lock and a magic value, set up
    /// once per slot.
    #[pin_data]
    struct Session {
        #[pin]
        uses: SpinLock<u64>,
        magic: u64,
    }

    impl Construct for Session {
        fn construct() -> impl PinInit<Self> {
            CONSTRUCTED.fetch_add(1, Relaxed);
            pin_init!(Session {
                uses <- new_spinlock!(0),
                magic: SESSION_MAGIC,
            })
        }
    }

    /// The largest object a cache takes.
    type Largest = [u8; MAX_OBJECT_SIZE];

    /// The largest object of a constructed cache: zeroed by the constructor.
    #[derive(Zeroable)]
    struct LargestSession(Largest);

    impl Construct for LargestSession {
        fn construct() -> impl PinInit<Self> {
            pin_init::init_zeroed()
        }
    }

    /// Whether `Session::construct` ran `constructed` times for `slots`
    /// slots that SLUB populated: once per slot. With KFENCE it also runs
    /// for each allocation KFENCE samples (`kfence_guarded_alloc()`
    /// constructs the object it hands out instead of a slab object), which
    /// no test can predict: then the count is only at least one per slot.
    fn constructed_once_per_slot(constructed: usize, slots: usize) -> bool {
        let ok = if cfg!(CONFIG_KFENCE) {
            constructed >= slots
        } else {
            constructed == slots
        };
        if !ok {
            pr_err!("{} constructions for {} slots\n", constructed, slots);
        }
        ok
    }

    /// The objects SLUB counts after draining its per-CPU caches.
    fn live_objects<T, K: CacheKind>(cache: &SlabCache<T, K>) -> Result<usize> {
        cache.shrink()?;
        Ok(cache.stats()?.objects)
    }

    /// Whether the kernel does not count a cache's objects (SLUB's
    /// `objects`, `slabs` and `total_objects` need `CONFIG_SLUB_DEBUG`):
    /// then a case that reads them is marked skipped and returns at once.
    fn counts_unseen() -> bool {
        crate::selftest::skip_unless(cfg!(CONFIG_SLUB_DEBUG), c"CONFIG_SLUB_DEBUG")
    }

    /// Every Rust SLAB_* constant has the value of the C macro.
    #[test]
    fn slab_flags_match_c_macros() -> Result {
        for (name, rust) in [
            (c"SLAB_HWCACHE_ALIGN", SLAB_HWCACHE_ALIGN),
            (c"SLAB_ACCOUNT", SLAB_ACCOUNT),
            (c"SLAB_RECLAIM_ACCOUNT", SLAB_RECLAIM_ACCOUNT),
            (c"SLAB_NO_MERGE", SLAB_NO_MERGE),
            (c"SLAB_CACHE_DMA", SLAB_CACHE_DMA),
            (c"SLAB_CACHE_DMA32", SLAB_CACHE_DMA32),
        ] {
            assert_eq!(rust, c_macro(name)? as bindings::slab_flags_t);
        }
        assert_eq!(
            SlabOptions::new()
                .hwcache_align()
                .reclaim_account()
                .no_merge()
                .flags,
            SLAB_HWCACHE_ALIGN | SLAB_RECLAIM_ACCOUNT | SLAB_NO_MERGE
        );
        Ok(())
    }

    /// Sizes and alignments SLUB cannot serve are `EINVAL`, before C sees them.
    #[test]
    fn bad_size_or_alignment_is_einval() {
        let none = SlabOptions::new();
        assert!(SlabCache::<()>::new(c"kalloc_slab_zst", none).err() == Some(EINVAL));
        assert!(
            SlabCache::<[u8; MAX_OBJECT_SIZE + 1]>::new(c"kalloc_slab_huge", none).err()
                == Some(EINVAL)
        );
        for align in [0, 3, 24, 48, 2 * MAX_ALIGN] {
            let options = none.align(align);
            assert!(SlabCache::<Item>::new(c"kalloc_slab_align", options).err() == Some(EINVAL));
        }
    }

    /// DMA caches hand out objects from their zone, whatever the allocation
    /// flags say (a plain cache's come from above `ZONE_DMA`: in the test VM,
    /// whose 1 GiB all lies below 4 GiB, from `ZONE_DMA32`); asking for both
    /// zones is `EINVAL`, before SLUB sees it.
    #[test]
    fn dma_caches_come_from_their_zones() -> Result {
        let none = SlabOptions::new().no_merge();
        let (dma, dma32, normal) = (
            bindings::zone_type_ZONE_DMA,
            bindings::zone_type_ZONE_DMA32,
            bindings::zone_type_ZONE_NORMAL,
        );
        for (options, zones) in [
            (none.dma(), &[dma][..]),
            (none.dma32(), &[dma32][..]),
            (none, &[dma32, normal][..]),
        ] {
            let cache = SlabCache::<Item>::new(c"kalloc_slab_dma", options)?;
            for flags in [GFP_KERNEL, GFP_ATOMIC] {
                let item = cache.alloc(Item::new(7), flags)?;
                assert!(item.is(7));
                assert!(zones.contains(&zone_of_object(&item)));
            }
        }
        let both = none.dma().dma32();
        assert!(SlabCache::<Item>::new(c"kalloc_slab_dma_both", both).err() == Some(EINVAL));
        Ok(())
    }

    /// The user-copy region reaches SLUB as given (sysfs `usersize`), a
    /// cache without one has none, and a region outside the object is
    /// `EINVAL` before C sees it (SLUB would WARN and ignore it).
    #[test]
    fn usercopy_region_reaches_slub() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let item = size_of::<Item>();
        let none = SlabOptions::new().no_merge();
        let half = none.usercopy(size_of::<usize>(), size_of::<usize>());
        let cache = SlabCache::<Item>::new(c"kalloc_slab_usercopy", half)?;
        assert_eq!(cache.stats()?.usersize, size_of::<usize>());
        drop(cache);
        let cache = SlabCache::<Item>::new(c"kalloc_slab_usercopy_all", none.usercopy(0, item))?;
        assert_eq!(cache.stats()?.usersize, item);
        drop(cache);
        let cache = SlabCache::<Item>::new(c"kalloc_slab_usercopy_none", none)?;
        assert_eq!(cache.stats()?.usersize, 0);
        drop(cache);
        // The last: an offset without a size, which C WARNs about.
        for (offset, len) in [(0, item + 1), (1, item), (item, 1), (usize::MAX, 2), (1, 0)] {
            let options = none.usercopy(offset, len);
            assert!(
                SlabCache::<Item>::new(c"kalloc_slab_usercopy_bad", options).err() == Some(EINVAL)
            );
        }
        Ok(())
    }

    /// The user-copy region reaches SLUB at its offset, not only with its
    /// size: copying exactly the region of an object to user memory, with
    /// a length known only at run time, passes `CONFIG_HARDENED_USERCOPY`'s
    /// check against the cache's region. Had the region another offset, the
    /// check would abort the copy with a kernel BUG, which fails the run
    /// (so a byte outside the region cannot be tried here: the
    /// `usercopy-offset-dropped` mutant is that test).
    #[test]
    fn usercopy_region_is_at_its_offset() -> Result {
        use crate::selftest::slab::copy_to_user;

        let word = size_of::<usize>();
        let options = SlabOptions::new().no_merge().usercopy(word, word);
        let cache = SlabCache::<Item>::new(c"kalloc_slab_usercopy_copy", options)?;
        let object = cache.alloc(Item::new(5), GFP_KERNEL)?;
        copy_to_user(&object, word, word)?;
        copy_to_user(&object, word, 1)?;
        copy_to_user(&object, 2 * word - 1, 1)?;
        assert!(copy_to_user(&object, word, 2 * word) == Err(EINVAL));
        Ok(())
    }

    /// The largest object kalloc accepts, with the largest alignment, with
    /// or without a constructor (which adds metadata), gives a cache SLUB
    /// creates: one object with its metadata fits in the largest slab. (A
    /// failure would make SLUB print a stack dump, which fails the run.) An
    /// object the size of the largest slab does not fit once SLUB adds its
    /// metadata: `EINVAL`.
    #[test]
    fn largest_object_fits_in_a_slab() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let options = SlabOptions::new().no_merge().align(MAX_ALIGN);
        let largest = SlabCache::<Largest>::new(c"kalloc_slab_largest", options)?;
        let stats = largest.stats()?;
        assert!(stats.slab_size > MAX_OBJECT_SIZE);
        assert!(stats.slab_size <= bindings::KMALLOC_MAX_SIZE as usize);
        assert_eq!(stats.objs_per_slab, 1);
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY;
        match largest.pin_init(pin_init::init_zeroed(), flags) {
            Ok(object) => assert!(object[0] == 0 && object[MAX_OBJECT_SIZE - 1] == 0),
            Err(e) => assert!(e == ENOMEM),
        }
        let constructed =
            SlabCache::<LargestSession, _>::with_constructor(c"kalloc_slab_largest_ctor", options)?;
        assert!(constructed.stats()?.slab_size <= bindings::KMALLOC_MAX_SIZE as usize);
        match constructed.alloc(flags) {
            Ok(object) => assert!(object.0[0] == 0 && object.0[MAX_OBJECT_SIZE - 1] == 0),
            Err(e) => assert!(e == ENOMEM),
        }

        assert!(
            SlabCache::<[u8; MAX_OBJECT_SIZE + 1]>::new(c"kalloc_slab_larger", options).err()
                == Some(EINVAL)
        );
        assert!(
            SlabCache::<[u8; 2 * MAX_OBJECT_SIZE]>::new(c"kalloc_slab_kmalloc_max", options).err()
                == Some(EINVAL)
        );
        Ok(())
    }

    /// Names that are empty, too long or would confuse sysfs and
    /// /proc/slabinfo are `EINVAL`; the longest valid name works.
    #[test]
    fn bad_names_are_einval() -> Result {
        let none = SlabOptions::new().no_merge();
        for name in [
            c"",
            c"kalloc slab",
            c"kalloc/slab",
            c":0000016",
            c"kalloc_slab_\xc3\xa9",
        ] {
            assert!(SlabCache::<Item>::new(name, none).err() == Some(EINVAL));
        }
        let mut name = [b'x'; MAX_NAME_LEN + 2];
        name[MAX_NAME_LEN + 1] = 0;
        let too_long = CStr::from_bytes_with_nul(&name).map_err(|_| EINVAL)?;
        assert!(SlabCache::<Item>::new(too_long, none).err() == Some(EINVAL));

        name[MAX_NAME_LEN] = 0;
        let longest = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
        assert_eq!(longest.to_bytes().len(), MAX_NAME_LEN);
        let cache = SlabCache::<Item>::new(longest, none)?;
        assert_eq!(cache.name(), longest);
        assert!(cache.alloc(Item::new(1), GFP_KERNEL)?.is(1));
        Ok(())
    }

    /// A live unmergeable cache's name is `EEXIST`, for either kind of
    /// cache, mergeable or not; once the cache is destroyed, its name is
    /// free again.
    #[test]
    fn taken_name_is_eexist_until_destroyed() -> Result {
        let name = c"kalloc_slab_unique";
        let options = SlabOptions::new().no_merge();
        let cache = SlabCache::<Item>::new(name, options)?;
        assert!(cache_name_taken(name));
        assert!(SlabCache::<Item>::new(name, options).err() == Some(EEXIST));
        assert!(SlabCache::<Item>::new(name, SlabOptions::new()).err() == Some(EEXIST));
        assert!(SlabCache::<Session, _>::with_constructor(name, options).err() == Some(EEXIST));
        drop(cache);
        assert!(!cache_name_taken(name));
        let again = SlabCache::<Item>::new(name, options)?;
        assert!(again.alloc(Item::new(2), GFP_KERNEL)?.is(2));
        Ok(())
    }

    /// A live mergeable cache's name is `EEXIST` too where C would warn
    /// about it or break its sysfs entry: while the name is a directory
    /// (SLUB merges no cache there), and with `CONFIG_DEBUG_VM` (SLUB WARNs
    /// about a live cache's name), for a second mergeable cache and for
    /// caches that cannot be merged. Once it is destroyed, its name is free
    /// again, unless SLUB merged it into another cache, which still lives,
    /// and `CONFIG_DEBUG_VM` is set (see `SlabCache`, Names).
    ///
    /// The debug kernel merges no cache (`slub_debug` gives every cache
    /// metadata of its own), so there the name is a directory; where SLUB
    /// merges, it is a link.
    #[test]
    fn mergeable_cache_name_is_eexist() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let name = c"kalloc_slab_mergeable";
        let mergeable = SlabOptions::new();
        let first = SlabCache::<Item>::new(name, mergeable)?;
        // Not merged into another cache: no other cache shares its slabs.
        let own = first.stats()?.aliases == 0;
        let live = entry(name);
        assert!(live == Entry::Dir || live == Entry::Link { live: true });
        let refused = live == Entry::Dir || cfg!(CONFIG_DEBUG_VM);
        assert_eq!(cache_name_taken(name), refused);
        if refused {
            assert!(SlabCache::<Item>::new(name, mergeable).err() == Some(EEXIST));
            assert!(SlabCache::<Item>::new(name, mergeable.no_merge()).err() == Some(EEXIST));
            assert!(
                SlabCache::<Session, _>::with_constructor(name, mergeable).err() == Some(EEXIST)
            );
        }
        assert!(first.alloc(Item::new(3), GFP_KERNEL)?.is(3));
        drop(first);
        let gone = entry(name);
        let leftover = gone == Entry::Link { live: true };
        assert_eq!(leftover, !own);
        assert_eq!(cache_name_taken(name), !own && cfg!(CONFIG_DEBUG_VM));
        let free = !cache_name_taken(name);
        let again = SlabCache::<Item>::new(name, mergeable);
        assert_eq!(again.is_ok(), free);
        Ok(())
    }

    /// A cache of 64-byte objects, which SLUB merges into `kmalloc-64`
    /// where it merges caches, leaves its name's link behind when it is
    /// destroyed. Without `CONFIG_DEBUG_VM` (on the fast kernel) the name
    /// comes back at once, as in C: so a module loaded again (the cycles
    /// step loads kalloc again and again) gets its cache back. With it, as
    /// on the debug kernel, where no cache is merged, the name is a
    /// directory, gone with the cache.
    #[test]
    fn merged_cache_name_comes_back() -> Result {
        let name = c"kalloc_slab_merged";
        let options = SlabOptions::new();
        for round in 0..2u64 {
            let cache = SlabCache::<[u64; 8]>::new(name, options)?;
            assert!(cache.alloc([round; 8], GFP_KERNEL)?[7] == round);
            let live = entry(name);
            drop(cache);
            let gone = entry(name);
            if live == Entry::Dir {
                assert_eq!(gone, Entry::None);
            } else {
                // Merged into a cache that lives on: the link stays.
                assert_eq!(live, Entry::Link { live: true });
                assert_eq!(gone, Entry::Link { live: true });
            }
            let kept = gone != Entry::None;
            assert_eq!(cache_name_taken(name), cfg!(CONFIG_DEBUG_VM) && kept);
        }
        Ok(())
    }

    /// `__GFP_NOFAIL` is for objects of at most half a page, which SLUB
    /// can always place in a slab of at most two pages: here the largest
    /// such object with the largest alignment takes no more than two pages
    /// with its metadata (SLUB's slot size). Larger objects are `EINVAL`
    /// with it, and allocate without it.
    #[test]
    fn nofail_only_for_small_objects() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let nofail = GFP_KERNEL | __GFP_NOFAIL;
        let options = SlabOptions::new().no_merge().align(MAX_ALIGN);
        let half =
            SlabCache::<[u8; NOFAIL_MAX_OBJECT_SIZE]>::new(c"kalloc_slab_nofail_half", options)?;
        assert!(half.stats()?.slab_size <= 2 * PAGE_SIZE);
        let object = half.pin_init(pin_init::init_zeroed(), nofail)?;
        assert!(object.iter().all(|&b| b == 0));

        let more = SlabCache::<[u8; NOFAIL_MAX_OBJECT_SIZE + 1]>::new(
            c"kalloc_slab_nofail_more",
            SlabOptions::new(),
        )?;
        assert!(more.pin_init(pin_init::init_zeroed(), nofail).err() == Some(EINVAL));
        assert!(more.pin_init(pin_init::init_zeroed(), GFP_KERNEL).is_ok());
        let large = SlabCache::<[u64; 3 * PAGE_SIZE / 8]>::new(
            c"kalloc_slab_nofail_large",
            SlabOptions::new(),
        )?;
        assert!(large.pin_init(pin_init::init_zeroed(), nofail).err() == Some(EINVAL));

        // A small object, from either kind of cache.
        let items = SlabCache::<Item>::new(c"kalloc_slab_nofail_item", SlabOptions::new())?;
        assert!(items.alloc(Item::new(5), nofail)?.is(5));
        let sessions = SlabCache::<Session, _>::with_constructor(
            c"kalloc_slab_nofail_ctor",
            SlabOptions::new(),
        )?;
        assert_eq!(sessions.alloc(nofail)?.magic, SESSION_MAGIC);
        Ok(())
    }

    /// Creating a cache may sleep: in atomic context it is refused with
    /// `EAGAIN` (after the checks of its arguments), for either kind of
    /// cache; outside, the same cache is created.
    #[test]
    fn creation_in_atomic_context_is_eagain() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let name = c"kalloc_slab_atomic_create";
        let options = SlabOptions::new();
        stack_pin_init!(let lock = new_spinlock!(()));
        {
            let _guard = lock.lock();
            assert!(SlabCache::<Item>::new(name, options).err() == Some(EAGAIN));
            assert!(SlabCache::<Session, _>::with_constructor(name, options).err() == Some(EAGAIN));
            assert!(SlabCache::<()>::new(name, options).err() == Some(EINVAL));
        }
        assert!(!cache_name_taken(name));
        let cache = SlabCache::<Item>::new(name, options)?;
        assert!(cache.alloc(Item::new(6), GFP_KERNEL)?.is(6));
        // Shrinking and reading the counters may sleep too: `EAGAIN` under
        // the lock, and they work outside it.
        let (shrunk, stats) = {
            let _guard = lock.lock();
            (cache.shrink().err(), cache.stats().err())
        };
        assert!(shrunk == Some(EAGAIN) && stats == Some(EAGAIN));
        assert!(cache.shrink()?);
        assert!(cache.stats()?.objects == 0);
        Ok(())
    }

    /// Flags the cache cannot honour are `EINVAL`.
    #[test]
    fn bad_gfp_flags_are_einval() -> Result {
        let items = SlabCache::<Item>::new(c"kalloc_slab_gfp", SlabOptions::new())?;
        for flags in [
            crate::gfp::Gfp::from(GFP_KERNEL | __GFP_HIGHMEM),
            GFP_KERNEL | GFP_DMA32,
            GFP_KERNEL | GFP_DMA,
        ] {
            assert!(items.alloc(Item::new(0), flags).err() == Some(EINVAL));
        }
        let sessions =
            SlabCache::<Session, _>::with_constructor(c"kalloc_slab_gfp_ctor", SlabOptions::new())?;
        assert!(sessions.alloc(GFP_KERNEL | __GFP_ZERO).err() == Some(EINVAL));
        assert!(sessions.alloc(GFP_KERNEL | GFP_DMA).err() == Some(EINVAL));
        Ok(())
    }

    /// The cache is SLUB's own (not an alias of another cache), sized for
    /// `T`, and the objects SLUB counts in it are the ones allocated here.
    #[test]
    fn objects_come_from_this_cache() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let cache = SlabCache::<Item>::new(c"kalloc_slab_own", SlabOptions::new().no_merge())?;
        cache.skip_kfence()?;
        let stats = cache.stats()?;
        assert_eq!(stats.aliases, 0);
        assert_eq!(stats.object_size, size_of::<Item>());
        assert_eq!(cache.object_size(), size_of::<Item>());
        assert_eq!(stats.total_objects, 0);
        assert_eq!(live_objects(&cache)?, 0);

        let item = cache.alloc(Item::new(7), GFP_KERNEL)?;
        assert_eq!(live_objects(&cache)?, 1);
        let stats = cache.stats()?;
        assert_eq!(stats.slabs, 1);
        assert!(stats.slab_size >= size_of::<Item>());
        assert!(item.is(7));
        drop(item);
        assert_eq!(live_objects(&cache)?, 0);
        Ok(())
    }

    /// SLUB's object count rises with each allocation and falls with each
    /// drop; at the end the cache holds no slab, so it is destroyed empty.
    #[test]
    fn object_count_rises_and_falls() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        const N: usize = 300;
        let cache = SlabCache::<Item>::new(c"kalloc_slab_count", SlabOptions::new().no_merge())?;
        cache.skip_kfence()?;
        let mut items = KVec::with_capacity(N, GFP_KERNEL)?;
        for id in 0..N {
            items.push(cache.alloc(Item::new(id), GFP_KERNEL)?, GFP_KERNEL)?;
            if id % 100 == 0 {
                assert_eq!(live_objects(&cache)?, id + 1);
            }
        }
        assert_eq!(live_objects(&cache)?, N);
        assert!(!cache.shrink()?);

        items.truncate(N / 3);
        assert_eq!(live_objects(&cache)?, N / 3);
        while items.pop().is_some() {}
        assert_eq!(live_objects(&cache)?, 0);

        assert!(cache.shrink()?);
        let stats = cache.stats()?;
        assert_eq!((stats.objects, stats.slabs, stats.total_objects), (0, 0, 0));
        Ok(())
    }

    /// Many objects at once: each is a separate object holding its own value.
    #[test]
    fn many_objects_are_distinct() -> Result {
        const N: usize = 2000;
        let cache = SlabCache::<Item>::new(c"kalloc_slab_many", SlabOptions::new())?;
        let mut items = KVec::with_capacity(N, GFP_KERNEL)?;
        for id in 0..N {
            items.push(cache.alloc(Item::new(id), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut addresses = KVec::with_capacity(N, GFP_KERNEL)?;
        for (id, item) in items.iter().enumerate() {
            assert!(item.is(id));
            addresses.push(ptr::from_ref::<Item>(item).addr(), GFP_KERNEL)?;
        }
        addresses.sort_unstable();
        for pair in addresses.windows(2) {
            assert!(pair[1] - pair[0] >= size_of::<Item>());
        }
        Ok(())
    }

    /// A pinned initialiser runs in the object; one that fails returns its
    /// error and gives the object back.
    #[test]
    fn pin_init_in_place() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let cache = SlabCache::<Locked>::new(c"kalloc_slab_pinned", SlabOptions::new().no_merge())?;
        cache.skip_kfence()?;
        let locked =
            cache.pin_init(pin_init!(Locked { value <- new_spinlock!(41) }), GFP_KERNEL)?;
        *locked.value.lock() += 1;
        assert_eq!(*locked.value.lock(), 42);

        let failing = try_pin_init!(Locked { value <- new_spinlock!(0) })
            .pin_chain(|_| Err(crate::compat::ebadmsg()));
        assert!(cache.pin_init(failing, GFP_KERNEL).err() == Some(crate::compat::ebadmsg()));
        assert_eq!(live_objects(&cache)?, 1);
        drop(locked);
        assert_eq!(live_objects(&cache)?, 0);
        Ok(())
    }

    /// Objects are aligned as `T`, an explicit alignment and
    /// `SLAB_HWCACHE_ALIGN` ask, and as SLUB reports.
    #[test]
    fn alignment_is_honoured() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        fn all_aligned<T>(objects: &[SlabBox<'_, T>], align: usize) -> bool {
            objects
                .iter()
                .all(|object| ptr::from_ref::<T>(object).addr() % align == 0)
        }

        let by_type =
            SlabCache::<Aligned128>::new(c"kalloc_slab_align_type", SlabOptions::new().no_merge())?;
        let mut objects = KVec::new();
        for id in 0..64 {
            objects.push(by_type.alloc(Aligned128 { id }, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert!(objects
            .iter()
            .enumerate()
            .all(|(id, object)| object.id == id));
        assert!(all_aligned(&objects, 128));
        assert!(by_type.stats()?.align >= 128);

        let options = SlabOptions::new().no_merge().align(256);
        let explicit = SlabCache::<Item>::new(c"kalloc_slab_align_256", options)?;
        let mut items = KVec::new();
        for id in 0..64 {
            items.push(explicit.alloc(Item::new(id), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert!(all_aligned(&items, 256));
        assert_eq!(explicit.stats()?.align, 256);

        // An object of 96 bytes: at least a cache line with SLAB_HWCACHE_ALIGN.
        type Line = [u64; 12];
        let plain =
            SlabCache::<Line>::new(c"kalloc_slab_unaligned", SlabOptions::new().no_merge())?;
        let options = SlabOptions::new().no_merge().hwcache_align();
        let hw = SlabCache::<Line>::new(c"kalloc_slab_hwcache", options)?;
        let hw_align = hw.stats()?.align;
        assert!(hw_align > plain.stats()?.align);
        let mut lines = KVec::new();
        for i in 0..64 {
            lines.push(hw.alloc([i; 12], GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert!(all_aligned(&lines, hw_align));
        Ok(())
    }

    /// `GFP_ATOMIC` allocations and frees work in atomic context (a spinlock
    /// held), from a cache created with every option.
    #[test]
    fn gfp_atomic_under_spinlock() -> Result {
        let options = SlabOptions::new()
            .hwcache_align()
            .account()
            .reclaim_account();
        let cache = SlabCache::<Item>::new(c"kalloc_slab_atomic", options)?;
        stack_pin_init!(let lock = new_spinlock!(()));
        let _guard = lock.lock();
        let mut items = [const { None }; 16];
        for (id, slot) in items.iter_mut().enumerate() {
            *slot = Some(cache.alloc(Item::new(id), GFP_ATOMIC)?);
        }
        for (id, item) in items.iter().enumerate() {
            assert!(item.as_ref().is_some_and(|item| item.is(id)));
        }
        drop(items);
        Ok(())
    }

    /// The constructor runs on every slot when SLUB populates a slab, not
    /// at each allocation: its count equals SLUB's slot count (see
    /// [`constructed_once_per_slot`] for KFENCE), and every object comes
    /// out constructed.
    #[test]
    fn constructor_runs_once_per_slot() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        CONSTRUCTED.store(0, Relaxed);
        let cache =
            SlabCache::<Session, _>::with_constructor(c"kalloc_slab_ctor", SlabOptions::new())?;
        assert_eq!(cache.stats()?.aliases, 0);
        assert_eq!(CONSTRUCTED.load(Relaxed), 0);

        let first = cache.alloc(GFP_KERNEL)?;
        let stats = cache.stats()?;
        assert!(stats.total_objects >= stats.objs_per_slab);
        assert!(stats.objs_per_slab > 1);
        assert!(constructed_once_per_slot(
            CONSTRUCTED.load(Relaxed),
            stats.total_objects
        ));
        assert_eq!(first.magic, SESSION_MAGIC);
        assert_eq!(*first.uses.lock(), 0);

        // Allocate until SLUB had to populate more slabs: still exactly one
        // construction per slot, and no more than that.
        let mut sessions = KVec::new();
        while sessions.len() < 2 * stats.total_objects {
            sessions.push(cache.alloc(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert!(sessions
            .iter()
            .all(|s| s.magic == SESSION_MAGIC && *s.uses.lock() == 0));
        let more = cache.stats()?;
        assert!(more.total_objects > stats.total_objects);
        assert!(constructed_once_per_slot(
            CONSTRUCTED.load(Relaxed),
            more.total_objects
        ));
        Ok(())
    }

    /// A freed object keeps its value: the next allocation of that slot
    /// hands it out as its last user left it, without constructing it again.
    #[test]
    fn constructed_objects_keep_their_state() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        const N: usize = 512;
        let cache =
            SlabCache::<Session, _>::with_constructor(c"kalloc_slab_reuse", SlabOptions::new())?;
        let mut sessions = KVec::with_capacity(N, GFP_KERNEL)?;
        for _ in 0..N {
            let session = cache.alloc(GFP_KERNEL)?;
            *session.uses.lock() += 1;
            sessions.push(session, GFP_KERNEL)?;
        }
        // Free every other object, then let SLUB take them back into their
        // slabs, which stay (each still holds live objects).
        let mut kept = KVec::with_capacity(N / 2, GFP_KERNEL)?;
        for (i, session) in sessions.drain_all().enumerate() {
            if i % 2 == 0 {
                kept.push(session, GFP_KERNEL)?;
            }
        }
        cache.shrink()?;
        let constructed = CONSTRUCTED.load(Relaxed);
        let slots = cache.stats()?.total_objects;

        let mut reused = 0;
        let mut again = KVec::with_capacity(N / 2, GFP_KERNEL)?;
        for _ in 0..N / 2 {
            let session = cache.alloc(GFP_KERNEL)?;
            assert_eq!(session.magic, SESSION_MAGIC);
            let uses = *session.uses.lock();
            assert!(uses <= 1);
            if uses == 1 {
                reused += 1;
            }
            again.push(session, GFP_KERNEL)?;
        }
        assert!(reused > 0);
        // Constructed since: only the slots of the slabs SLUB added.
        let added = cache.stats()?.total_objects - slots;
        assert!(constructed_once_per_slot(
            CONSTRUCTED.load(Relaxed) - constructed,
            added
        ));
        Ok(())
    }

    /// Once every object is dropped, the cache holds no slab and no object,
    /// and dropping it destroys it: its name leaves /sys/kernel/slab. (A
    /// busy cache would make the kernel warn, which fails the run.)
    #[test]
    fn cache_is_destroyed_empty() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let name = c"kalloc_slab_destroy";
        let cache = SlabCache::<Session, _>::with_constructor(name, SlabOptions::new())?;
        cache.skip_kfence()?;
        let mut sessions = KVec::new();
        for _ in 0..100 {
            sessions.push(cache.alloc(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert_eq!(live_objects(&cache)?, 100);
        drop(sessions);
        assert!(cache.shrink()?);
        assert_eq!(cache.stats()?.objects, 0);
        assert_eq!(cache.stats()?.slabs, 0);
        assert!(cache_name_taken(name));
        drop(cache);
        assert!(!cache_name_taken(name));
        Ok(())
    }

    /// Destroying a cache may sleep, yet the last object holding a cache
    /// alive may be dropped under a spinlock: the cache is then destroyed
    /// by an async worker (no "sleeping function called from invalid
    /// context" splat, which fails the run), and creating a cache of the
    /// same name waits for that, so it gets the name instead of `EEXIST`.
    #[test]
    fn cache_dropped_in_atomic_context_is_destroyed_later() -> Result {
        use kernel::sync::Arc;

        let name = c"kalloc_slab_atomic_drop";
        stack_pin_init!(let lock = new_spinlock!(()));
        for round in 0..3 {
            let cache = Arc::new(
                SlabCache::<Item>::new(name, SlabOptions::new().no_merge())?,
                GFP_KERNEL,
            )?;
            let last = cache.alloc_owned(Item::new(round), GFP_KERNEL)?;
            drop(cache);
            {
                let _guard = lock.lock();
                assert!(last.is(round));
                drop(last);
            }
        }
        crate::selftest::wait_deferred_frees();
        assert!(!cache_name_taken(name));
        Ok(())
    }

    /// Objects that keep their cache alive live in driver state beside it
    /// (here a `KVec` in an `Arc`ed state, and an XArray entry), outlive
    /// the state's own handle on the cache, and go back to the cache when
    /// dropped; the cache is destroyed with the last of them.
    #[test]
    fn owned_objects_keep_their_cache_alive() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        use kernel::sync::Arc;
        use kernel::xarray::{AllocKind, XArray};

        let cache = Arc::new(
            SlabCache::<Item>::new(c"kalloc_slab_owned", SlabOptions::new().no_merge())?,
            GFP_KERNEL,
        )?;
        cache.skip_kfence()?;
        let mut kept = KVec::new();
        for id in 0..8 {
            kept.push(cache.alloc_owned(Item::new(id), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        assert!(kept.iter().enumerate().all(|(id, item)| item.is(id)));
        assert_eq!(live_objects(&cache)?, 8);
        assert!(Arc::ptr_eq(kept[3].cache(), &cache));

        let xa = KBox::pin_init(
            XArray::<KBox<OwnedSlabBox<Item>>>::new(AllocKind::Alloc),
            GFP_KERNEL,
        )?;
        let entry = KBox::new(cache.alloc_owned(Item::new(99), GFP_KERNEL)?, GFP_KERNEL)?;
        xa.lock().store(5, entry, GFP_KERNEL).map_err(|_| ENOMEM)?;
        assert!(xa.lock().get(5).is_some_and(|item| item.is(99)));

        // An object that holds the last reference: the cache goes after it.
        let last = cache.alloc_owned(Item::new(7), GFP_KERNEL)?;
        let other = Arc::new(
            SlabCache::<Item>::new(c"kalloc_slab_owned_last", SlabOptions::new().no_merge())?,
            GFP_KERNEL,
        )?;
        other.skip_kfence()?;
        let only = other.alloc_owned(Item::new(8), GFP_KERNEL)?;
        drop(other);
        assert!(only.is(8));
        drop(only);
        drop(last);

        // The state lets go of its cache: the objects keep it.
        let weak_view = cache.clone();
        drop(cache);
        kept.truncate(2);
        assert_eq!(live_objects(&weak_view)?, 3);
        drop(xa);
        drop(kept);
        assert_eq!(live_objects(&weak_view)?, 0);
        Ok(())
    }

    /// Counts the drops of its values.
    struct Counted<'a>(&'a core::sync::atomic::AtomicUsize, usize);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A bulk allocation gives `n` distinct objects holding their values,
    /// all or none (a failure forced on the way leaves no object behind),
    /// and its drop drops every value once and gives every object back.
    #[test]
    fn bulk_objects_all_or_none() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let cache = SlabCache::<Item>::new(c"kalloc_slab_bulk", SlabOptions::new().no_merge())?;
        cache.skip_kfence()?;
        let bulk = cache.alloc_bulk(40, GFP_KERNEL, Item::new)?;
        assert_eq!(bulk.len(), 40);
        assert!(bulk.iter().enumerate().all(|(id, item)| item.is(id)));
        assert!(bulk.get(40).is_none());
        assert_eq!(live_objects(&cache)?, 40);
        drop(bulk);
        assert_eq!(live_objects(&cache)?, 0);
        assert!(cache.alloc_bulk(0, GFP_KERNEL, Item::new)?.is_empty());
        assert!(
            cache
                .alloc_bulk(1, GFP_KERNEL | __GFP_HIGHMEM, Item::new)
                .err()
                == Some(EINVAL)
        );

        let drops = core::sync::atomic::AtomicUsize::new(0);
        let counted = SlabCache::<Counted<'_>>::new(c"kalloc_slab_bulk_drop", SlabOptions::new())?;
        let mut bulk = counted.alloc_bulk(17, GFP_KERNEL, |i| Counted(&drops, i))?;
        bulk.get_mut(16).ok_or(EINVAL)?.1 = 1000;
        assert!(Iterator::eq(
            bulk.iter().map(|c| c.1),
            Iterator::chain(0..16, [1000])
        ));
        drop(bulk);
        assert_eq!(drops.load(core::sync::atomic::Ordering::Relaxed), 17);

        // Each of the first fault-injection points on the way fails in turn
        // (the pointer array, kmemleak's records, the bulk allocation
        // itself, ...): a call either fails with `ENOMEM`, handing out and
        // keeping nothing, or gives every object. Some points fail unseen
        // (kmemleak falls back to a pool), so the sweep goes on past them.
        #[cfg(CONFIG_FAILSLAB)]
        {
            let mut failures = 0;
            for nth in 1..=8 {
                let result = crate::selftest::kmalloc::fail_nth_allocation(nth, || {
                    cache.alloc_bulk(40, crate::gfp::GFP_NOWAIT, Item::new)
                });
                match result {
                    Ok(bulk) => assert!(bulk.iter().enumerate().all(|(id, item)| item.is(id))),
                    Err(e) => {
                        assert!(e == ENOMEM);
                        failures += 1;
                    }
                }
                assert_eq!(live_objects(&cache)?, 0);
            }
            // The pointer array's allocation, first, fails visibly; how many
            // points later fail visibly depends on the state of the caches.
            assert!(failures >= 1);
        }
        Ok(())
    }

    /// C allows bulk allocation and freeing only with interrupts enabled:
    /// with them disabled, allocating is `EAGAIN` and dropping frees the
    /// objects one by one, every one of them.
    #[test]
    fn bulk_with_interrupts_disabled() -> Result {
        if counts_unseen() {
            return Ok(());
        }
        let cache = SlabCache::<Item>::new(c"kalloc_slab_bulk_irq", SlabOptions::new().no_merge())?;
        let bulk = cache.alloc_bulk(8, GFP_ATOMIC, Item::new)?;
        let refused = crate::selftest::irqs_off(|| {
            let refused = cache.alloc_bulk(8, GFP_ATOMIC, Item::new).err();
            drop(bulk);
            refused
        })?;
        assert!(refused == Some(EAGAIN));
        assert_eq!(live_objects(&cache)?, 0);
        Ok(())
    }

    /// Every way out of a cache drops the value in the object exactly once:
    /// a box dropped, a box of an `Arc`ed cache dropped, and nothing more
    /// when the cache goes.
    #[test]
    fn boxes_drop_their_values_once() -> Result {
        use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        use kernel::sync::Arc;

        let drops = AtomicUsize::new(0);
        let cache = SlabCache::<Counted<'_>>::new(c"kalloc_slab_drops", SlabOptions::new())?;
        let first = cache.alloc(Counted(&drops, 1), GFP_KERNEL)?;
        let second = cache.alloc(Counted(&drops, 2), GFP_KERNEL)?;
        drop(first);
        assert_eq!(drops.load(Relaxed), 1);
        drop(second);
        assert_eq!(drops.load(Relaxed), 2);
        drop(cache);
        let cache = Arc::new(
            SlabCache::<Counted<'_>>::new(c"kalloc_slab_drops", SlabOptions::new())?,
            GFP_KERNEL,
        )?;
        drop(cache.alloc_owned(Counted(&drops, 3), GFP_KERNEL)?);
        assert_eq!(drops.load(Relaxed), 3);
        drop(cache);
        assert_eq!(drops.load(Relaxed), 3);
        Ok(())
    }

    crate::slab_cache!(ItemCache: Item);
    crate::slab_cache!(AtomicItemCache: Item);

    /// A module-lifetime cache's boxes are objects of that cache (SLUB
    /// counts them there) holding their values, and go back to it when
    /// dropped. Only while its `ModuleCache` exists: before, after, and
    /// for a request larger than one object, allocation fails; the cache is
    /// destroyed with its owner (its name is free again) and can be made
    /// again; a second owner at once is `EBUSY`.
    #[test]
    fn module_cache_boxes_are_its_objects() -> Result {
        use kernel::alloc::Vec;
        if counts_unseen() {
            return Ok(());
        }
        let name = c"kalloc_slab_module";
        assert!(CacheBox::<ItemCache>::new(Item::new(0), GFP_KERNEL).is_err());
        let owner = ModuleCache::<ItemCache>::new(name, SlabOptions::new().no_merge())?;
        owner.cache().skip_kfence()?;
        let other = ModuleCache::<ItemCache>::new(c"kalloc_slab_module_2", SlabOptions::new());
        assert!(other.err() == Some(EBUSY));
        assert_eq!(owner.cache().stats()?.object_size, size_of::<Item>());

        let first = CacheAlloc::<ItemCache>::new_box(Item::new(1), GFP_KERNEL)?;
        let second = CacheBox::<ItemCache>::new(Item::new(2), GFP_KERNEL)?;
        assert!(first.is(1) && second.is(2));
        assert_eq!(live_objects(owner.cache())?, 2);
        drop(first);
        assert_eq!(live_objects(owner.cache())?, 1);
        let mut one = Vec::<Item, CacheAlloc<ItemCache>>::with_capacity(1, GFP_KERNEL)?;
        one.push(Item::new(3), GFP_KERNEL)?;
        assert!(one[0].is(3) && one.push(Item::new(4), GFP_KERNEL).is_err());
        assert!(Vec::<Item, CacheAlloc<ItemCache>>::with_capacity(2, GFP_KERNEL).is_err());
        assert_eq!(live_objects(owner.cache())?, 2);
        drop((second, one));
        assert_eq!(live_objects(owner.cache())?, 0);

        drop(owner);
        assert!(!cache_name_taken(name));
        assert!(CacheBox::<ItemCache>::new(Item::new(5), GFP_KERNEL).is_err());
        assert!(CacheAlloc::<ItemCache>::new_box(Item::new(5), GFP_KERNEL).err() == Some(ENOMEM));
        let owner = ModuleCache::<ItemCache>::new(name, SlabOptions::new().no_merge())?;
        owner.cache().skip_kfence()?;
        let again = CacheBox::<ItemCache>::new(Item::new(6), GFP_KERNEL)?;
        assert!(again.is(6) && live_objects(owner.cache())? == 1);
        // `kmem_cache_alloc_node()` through the allocator, on each node.
        if crate::selftest::two_nodes() {
            use crate::selftest::allocator_on_node;
            for nid in 0..2 {
                assert!(allocator_on_node::<CacheAlloc<ItemCache>>(
                    size_of::<Item>(),
                    nid
                )?);
            }
        }
        Ok(())
    }

    /// A module-lifetime cache's box checks its flags as `SlabCache::alloc`
    /// does: `GFP_KERNEL` under a spinlock and a highmem zone fail (no
    /// "sleeping function" splat), `GFP_ATOMIC` works there; the box is a
    /// `ForeignOwnable` (an XArray entry). Its owner dropped under the
    /// spinlock destroys the cache later, from a worker, and the name is
    /// free again then.
    #[test]
    fn module_cache_in_atomic_context() -> Result {
        use kernel::xarray::{AllocKind, XArray};

        let name = c"kalloc_slab_module_atomic";
        let xa = KBox::pin_init(
            XArray::<CacheBox<AtomicItemCache>>::new(AllocKind::Alloc),
            GFP_KERNEL,
        )?;
        stack_pin_init!(let lock = new_spinlock!(()));
        let owner = ModuleCache::<AtomicItemCache>::new(name, SlabOptions::new())?;
        assert!(
            CacheBox::<AtomicItemCache>::new(Item::new(0), GFP_KERNEL | __GFP_HIGHMEM).is_err()
        );
        let highmem = GFP_KERNEL | __GFP_HIGHMEM;
        assert!(
            CacheAlloc::<AtomicItemCache>::new_box(Item::new(0), highmem).err() == Some(EINVAL)
        );
        {
            let _guard = lock.lock();
            assert!(CacheBox::<AtomicItemCache>::new(Item::new(1), GFP_KERNEL).is_err());
            let refused = CacheAlloc::<AtomicItemCache>::new_box(Item::new(1), GFP_KERNEL);
            assert!(refused.err() == Some(EAGAIN));
            assert!(CacheAlloc::<AtomicItemCache>::new_box(Item::new(3), GFP_ATOMIC)?.is(3));
            let item = CacheBox::<AtomicItemCache>::new(Item::new(2), GFP_ATOMIC)?;
            xa.lock().store(2, item, GFP_ATOMIC).map_err(|_| ENOMEM)?;
            assert!(xa.lock().get(2).is_some_and(|item| item.is(2)));
            drop(xa.lock().remove(2));
            drop(owner);
        }
        crate::selftest::wait_deferred_frees();
        assert!(!cache_name_taken(name));
        assert!(CacheBox::<AtomicItemCache>::new(Item::new(3), GFP_ATOMIC).is_err());
        Ok(())
    }
}
