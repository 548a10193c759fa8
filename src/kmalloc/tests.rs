// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_kmalloc` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_kmalloc)]
mod kalloc_kmalloc {
    use super::super::*;
    // The prelude's, which the tests compare with: not kalloc's aliases.
    use crate::gfp::{
        as_gfp, Zone, __GFP_HIGHMEM, __GFP_NOFAIL, __GFP_NOWARN, __GFP_RETRY_MAYFAIL, __GFP_ZERO,
        GFP_ATOMIC, GFP_DMA, GFP_DMA32, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL,
        GFP_KERNEL_ACCOUNT, GFP_NOFS, GFP_NOIO, GFP_NOWAIT, GFP_USER,
    };
    use crate::selftest::kmalloc::*;
    use core::cell::Cell;
    use core::ptr;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use kernel::alloc::{KBox, KVec};
    use kernel::fmt;
    use kernel::new_spinlock;
    use pin_init::stack_pin_init;

    /// Counts its drops in a shared cell.
    struct Probe<'a> {
        drops: &'a Cell<usize>,
        value: u32,
    }

    impl<'a> Probe<'a> {
        fn new(drops: &'a Cell<usize>, value: u32) -> Self {
            Probe { drops, value }
        }
    }

    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
        }
    }

    #[derive(Clone, Copy, Zeroable)]
    #[repr(C, align(64))]
    struct Line([u8; 64]);

    /// Size 192, alignment 64: not a power of two, but a multiple of 64.
    #[derive(Clone, Copy)]
    #[repr(C, align(64))]
    struct ThreeLines([u8; 192]);

    #[derive(Zeroable)]
    #[repr(C, align(4096))]
    struct PageAligned([u8; 4096]);

    #[repr(align(64))]
    struct AlignedZst;

    /// How many `Token`s were dropped.
    static TOKEN_DROPS: AtomicUsize = AtomicUsize::new(0);

    /// A zero-sized value that counts its drops.
    struct Token;

    impl Drop for Token {
        fn drop(&mut self) {
            TOKEN_DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes `.1` bytes of value `.0` (ASCII), a chunk at a time.
    struct Repeat(u8, usize);

    impl fmt::Display for Repeat {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let chunk = [self.0; 256];
            let chunk = core::str::from_utf8(&chunk).map_err(|_| fmt::Error)?;
            let mut left = self.1;
            while left > 0 {
                let n = left.min(chunk.len());
                f.write_str(&chunk[..n])?;
                left -= n;
            }
            Ok(())
        }
    }

    /// Fails to format.
    struct Failing;

    impl fmt::Display for Failing {
        fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    /// Flags kmalloc cannot honour.
    const BAD_FLAGS: [Gfp; 6] = [
        as_gfp::GFP_KERNEL.union(as_gfp::__GFP_HIGHMEM),
        as_gfp::GFP_KERNEL.union(GFP_DMA32),
        GFP_HIGHUSER,
        GFP_HIGHUSER_MOVABLE,
        as_gfp::GFP_KERNEL.union(GFP_DMA).union(GFP_DMA32),
        as_gfp::GFP_ATOMIC.union(__GFP_NOFAIL),
    ];

    /// kalloc picks the kmalloc cache itself, as C's inline `kmalloc()`
    /// does: for every size up to the largest cache and every kind of
    /// flags (normal, DMA, reclaimable, accounted, and their mixes), it is
    /// the cache that C's `kmalloc()` takes.
    #[test]
    fn kmalloc_cache_is_the_one_c_takes() -> Result {
        use crate::gfp::as_gfp::{GFP_ATOMIC, GFP_KERNEL};
        use crate::gfp::{__GFP_ACCOUNT, __GFP_RECLAIMABLE};
        let kinds = [
            GFP_KERNEL,
            GFP_ATOMIC,
            GFP_KERNEL.union(GFP_DMA),
            GFP_KERNEL.union(__GFP_RECLAIMABLE),
            GFP_KERNEL.union(__GFP_ACCOUNT),
            GFP_KERNEL.union(GFP_DMA).union(__GFP_RECLAIMABLE),
            GFP_KERNEL.union(__GFP_RECLAIMABLE).union(__GFP_ACCOUNT),
            GFP_KERNEL.union(GFP_DMA).union(__GFP_ACCOUNT),
        ];
        for flags in kinds {
            for size in 1..=KMALLOC_MAX_CACHE_SIZE {
                let ours = bucket::cache_for(size, flags.as_raw());
                assert!(!ours.is_null());
                assert_eq!(ours, c_kmalloc_cache(size, flags));
            }
        }
        Ok(())
    }

    /// `kmalloc` moves the value in; `kfree` after exactly one drop.
    #[test]
    fn box_new_holds_value_and_drops_it_once() -> Result {
        let drops = Cell::new(0);
        let mut b = KmallocBox::new(Probe::new(&drops, 7), GFP_KERNEL)?;
        assert_eq!(b.value, 7);
        b.value += 1;
        assert_eq!(b.value, 8);
        assert_eq!(drops.get(), 0);
        drop(b);
        assert_eq!(drops.get(), 1);
        Ok(())
    }

    /// `kzalloc` memory reads as zero, and is ours to write.
    #[test]
    fn box_new_zeroed_is_zero() -> Result {
        for _ in 0..16 {
            let mut b = KmallocBox::<[u64; 128]>::new_zeroed(GFP_KERNEL)?;
            assert!(b.iter().all(|&x| x == 0));
            b[127] = u64::MAX;
            assert_eq!(b[127], u64::MAX);
        }
        Ok(())
    }

    /// A typed box is aligned for its type, beyond `ARCH_KMALLOC_MINALIGN`.
    #[test]
    fn box_respects_alignment() -> Result {
        let byte = KmallocBox::new(1u8, GFP_KERNEL)?;
        assert!((ptr::from_ref::<u8>(&byte) as usize) % ARCH_KMALLOC_MINALIGN == 0);
        let line = KmallocBox::new(Line([1; 64]), GFP_KERNEL)?;
        assert!(ptr::from_ref::<Line>(&line).is_aligned());
        let three = KmallocBox::new(ThreeLines([2; 192]), GFP_KERNEL)?;
        assert!(ptr::from_ref::<ThreeLines>(&three).is_aligned());
        let page = KmallocBox::<PageAligned>::new_zeroed(GFP_KERNEL)?;
        assert!(ptr::from_ref::<PageAligned>(&page).is_aligned());
        assert!(page.0.iter().all(|&b| b == 0));
        Ok(())
    }

    /// A zero-sized `T` gets `ZERO_SIZE_PTR` from C (checked by C), yet its
    /// references are aligned, to `ARCH_KMALLOC_MINALIGN` at least: what
    /// `ForeignOwnable` promises (an XArray keeps the low bits for its own
    /// entries).
    #[test]
    fn box_of_zero_sized_type() -> Result {
        let zst = KmallocBox::new(AlignedZst, GFP_KERNEL)?;
        assert!(ptr::from_ref::<AlignedZst>(&zst).is_aligned());
        let unit = KmallocBox::new((), GFP_KERNEL)?;
        assert!((ptr::from_ref::<()>(&unit) as usize) % ARCH_KMALLOC_MINALIGN == 0);
        let unit: crate::KBox<()> = unit.into();
        assert!((ptr::from_ref::<()>(&unit) as usize) % ARCH_KMALLOC_MINALIGN == 0);
        let unit = box_through_c(KmallocBox::new((), GFP_KERNEL)?, 0)?;
        assert_eq!(*unit, ());
        Ok(())
    }

    /// `into_raw` hands C the kmalloc object, C writes it, `from_raw` takes
    /// it back.
    #[test]
    fn box_into_raw_and_from_raw() -> Result {
        let b = box_through_c(KmallocBox::new(0u64, GFP_KERNEL)?, 0xab)?;
        assert_eq!(*b, 0xabab_abab_abab_abab);
        Ok(())
    }

    /// More than `KMALLOC_MAX_SIZE` bytes is `ENOMEM`, before C (no warning).
    #[test]
    fn box_too_large_is_enomem() {
        let r = KmallocBox::<[u8; KMALLOC_MAX_SIZE + 1]>::new_zeroed(GFP_KERNEL);
        assert!(r.err() == Some(ENOMEM));
    }

    /// Flags kmalloc cannot honour are `EINVAL`, for every constructor.
    #[test]
    fn bad_flags_are_einval() -> Result {
        let mut buf = KmallocBuf::from_slice(b"kalloc", GFP_KERNEL)?;
        for flags in BAD_FLAGS {
            assert!(KmallocBox::new(0u32, flags).err() == Some(EINVAL));
            assert!(KmallocBox::<u32>::new_zeroed(flags).err() == Some(EINVAL));
            assert!(KmallocBuf::from_slice(b"x", flags).err() == Some(EINVAL));
            assert!(KmallocArray::<u64>::zeroed(4, flags).err() == Some(EINVAL));
            assert!(SensitiveBuf::zeroed(4, flags).err() == Some(EINVAL));
            assert!(crate::kasprintf!(flags, "{}", 1).err() == Some(EINVAL));
            assert!(buf.resize(64, 0, flags) == Err(EINVAL));
        }
        assert_eq!(&buf[..], b"kalloc");
        Ok(())
    }

    /// Every valid base set of flags works, `GFP_DMA` included.
    #[test]
    fn good_flags_allocate() -> Result {
        let good = [
            as_gfp::GFP_KERNEL,
            as_gfp::GFP_KERNEL_ACCOUNT,
            as_gfp::GFP_ATOMIC,
            as_gfp::GFP_NOWAIT,
            GFP_NOIO,
            GFP_NOFS,
            GFP_USER,
            GFP_KERNEL | GFP_DMA,
            GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL,
        ];
        for flags in good {
            let buf = KmallocBuf::from_slice(&[3; 40], flags)?;
            assert!(buf.iter().all(|&b| b == 3));
        }
        Ok(())
    }

    /// The flags reach C: a `GFP_DMA` buffer lies in `ZONE_DMA`.
    #[test]
    fn gfp_dma_buffer_is_in_zone_dma() -> Result {
        let dma = KmallocBuf::zeroed(64, GFP_KERNEL | GFP_DMA)?;
        assert_eq!(zone_of(&dma)?, Zone::Dma.zone_type());
        let normal = KmallocBuf::zeroed(64, GFP_KERNEL)?;
        assert!(zone_of(&normal)? != Zone::Dma.zone_type());
        Ok(())
    }

    /// `__GFP_NOFAIL` is for requests of at most a page, in a context that
    /// may sleep.
    #[test]
    fn nofail_only_for_slab_sizes() -> Result {
        let nofail = GFP_KERNEL | __GFP_NOFAIL;
        let buf = KmallocBuf::zeroed(NOFAIL_MAX_SIZE, nofail)?;
        assert_eq!(buf.len(), NOFAIL_MAX_SIZE);
        assert!(KmallocBuf::zeroed(NOFAIL_MAX_SIZE + 1, nofail).err() == Some(EINVAL));
        assert!(KmallocBuf::zeroed(KMALLOC_MAX_CACHE_SIZE, nofail).err() == Some(EINVAL));
        assert!(KmallocBuf::zeroed(64, GFP_ATOMIC | __GFP_NOFAIL).err() == Some(EINVAL));
        Ok(())
    }

    /// Atomic flags allocate, format and free under a spinlock (a sleeping
    /// allocation there would be reported by `DEBUG_ATOMIC_SLEEP`).
    #[test]
    fn atomic_flags_work_under_spinlock() -> Result {
        stack_pin_init!(let lock = new_spinlock!(()));
        let guard = lock.lock();
        let b = KmallocBox::new(5u64, GFP_ATOMIC)?;
        let buf = KmallocBuf::zeroed(100, GFP_NOWAIT)?;
        let s = crate::kasprintf!(GFP_ATOMIC, "cpu{}", *b)?;
        assert_eq!(s.to_bytes(), b"cpu5");
        assert!(buf.iter().all(|&x| x == 0));
        // Freeing does not sleep either.
        drop((b, buf, s));
        drop(guard);
        Ok(())
    }

    /// `kmalloc` plus a copy: the bytes, the length, and they can change.
    #[test]
    fn buf_from_slice_copies() -> Result {
        let mut buf = KmallocBuf::from_slice(b"hello kalloc", GFP_KERNEL)?;
        assert_eq!(buf.len(), 12);
        assert_eq!(&buf[..], b"hello kalloc");
        buf[0] = b'H';
        assert_eq!(&buf[..5], b"Hello");
        Ok(())
    }

    /// Buffers of odd sizes are aligned to `ARCH_KMALLOC_MINALIGN`; arrays
    /// to their element type.
    #[test]
    fn array_respects_alignment() -> Result {
        for len in [1, 3, 13, 100, 1000] {
            let buf = KmallocBuf::zeroed(len, GFP_KERNEL)?;
            assert!((buf.as_ptr() as usize) % ARCH_KMALLOC_MINALIGN == 0);
        }
        let lines = KmallocArray::from_slice(&[Line([7; 64]); 3], GFP_KERNEL)?;
        assert!(lines.as_ptr().is_aligned());
        assert!(lines.iter().all(|l| l.0 == [7; 64]));
        let three = KmallocArray::from_slice(&[ThreeLines([9; 192]); 5], GFP_KERNEL)?;
        assert!(three.as_ptr().is_aligned());
        Ok(())
    }

    /// `kcalloc` gives `n` zeroed elements.
    #[test]
    fn kcalloc_array_is_zeroed() -> Result {
        let mut a = KmallocArray::<u32>::zeroed(1000, GFP_KERNEL)?;
        assert_eq!(a.len(), 1000);
        assert!(a.iter().all(|&x| x == 0));
        a[999] = 42;
        assert_eq!(a[999], 42);
        assert!(a.ksize() >= 4000);
        Ok(())
    }

    /// `n * size` that overflows is `EOVERFLOW`, never a small wrapped size;
    /// a size that fits but is too big is `ENOMEM`.
    #[test]
    fn kcalloc_overflow_is_eoverflow() -> Result {
        // (usize::MAX / 8 + 2) * 8 wraps around to 8.
        let wraps = usize::MAX / 8 + 2;
        assert!(KmallocArray::<u64>::zeroed(wraps, GFP_KERNEL).err() == Some(EOVERFLOW));
        assert!(KmallocArray::<u16>::zeroed(usize::MAX, GFP_KERNEL).err() == Some(EOVERFLOW));
        let too_big = KMALLOC_MAX_SIZE / 8 + 1;
        assert!(KmallocArray::<u64>::zeroed(too_big, GFP_KERNEL).err() == Some(ENOMEM));
        // Zero-sized elements take no bytes, however many there are.
        let units = KmallocArray::<()>::zeroed(usize::MAX, GFP_KERNEL)?;
        assert_eq!(units.len(), usize::MAX);
        assert_eq!(units.ksize(), 0);
        Ok(())
    }

    /// Dropping an array drops each element once: boxes in an array of
    /// `Option<KmallocBox<_>>` (all `None` from `kcalloc`) are freed.
    #[test]
    fn array_drops_each_element() -> Result {
        let drops = Cell::new(0);
        let mut a = KmallocArray::<Option<KmallocBox<Probe<'_>>>>::zeroed(4, GFP_KERNEL)?;
        assert!(a.iter().all(Option::is_none));
        a[1] = Some(KmallocBox::new(Probe::new(&drops, 1), GFP_KERNEL)?);
        a[3] = Some(KmallocBox::new(Probe::new(&drops, 3), GFP_KERNEL)?);
        assert_eq!(a[3].as_ref().map(|p| p.value), Some(3));
        drop(a);
        assert_eq!(drops.get(), 2);
        Ok(())
    }

    /// `krealloc` grows and shrinks, keeping the first min(old, new) bytes;
    /// new bytes take the fill value.
    #[test]
    fn krealloc_keeps_bytes() -> Result {
        let pattern: [u8; 200] = core::array::from_fn(|i| i as u8);
        let mut buf = KmallocBuf::from_slice(&pattern, GFP_KERNEL)?;
        // Into another slab cache.
        buf.resize(5000, 0xee, GFP_KERNEL)?;
        assert_eq!(buf.len(), 5000);
        assert_eq!(&buf[..200], &pattern[..]);
        assert!(buf[200..].iter().all(|&b| b == 0xee));
        // Into the page allocator (above KMALLOC_MAX_CACHE_SIZE).
        buf.resize(20000, 1, GFP_KERNEL)?;
        assert_eq!(&buf[..200], &pattern[..]);
        assert!(buf[200..5000].iter().all(|&b| b == 0xee));
        assert!(buf[5000..].iter().all(|&b| b == 1));
        // Shrink.
        buf.resize(10, 0, GFP_KERNEL)?;
        assert_eq!(&buf[..], &pattern[..10]);
        // To nothing (C frees and returns ZERO_SIZE_PTR), and back.
        buf.resize(0, 0, GFP_KERNEL)?;
        assert!(buf.is_empty());
        let mut buf = array_through_c(buf, 0)?;
        buf.resize(3, 9, GFP_KERNEL)?;
        assert_eq!(&buf[..], &[9, 9, 9]);
        Ok(())
    }

    /// A typed array keeps its elements and alignment through `krealloc`.
    #[test]
    fn krealloc_typed_array() -> Result {
        let mut a = KmallocArray::from_slice(&[Line([5; 64]); 2], GFP_KERNEL)?;
        a.resize(100, Line([6; 64]), GFP_KERNEL)?;
        assert!(a.as_ptr().is_aligned());
        assert!(a[..2].iter().all(|l| l.0 == [5; 64]));
        assert!(a[2..].iter().all(|l| l.0 == [6; 64]));
        a.resize(1, Line([0; 64]), GFP_KERNEL)?;
        assert!(a.as_ptr().is_aligned());
        assert!(a[0].0 == [5; 64]);
        Ok(())
    }

    /// An element aligned beyond its size (32 bytes on a 256-byte boundary,
    /// so 256 bytes apart), in arrays of odd lengths, resized up and down
    /// many times: every byte of every kept element survives,
    /// the new ones are the fill value, and the array stays aligned. This
    /// catches the 7.x regression fixed by "slub: fix data loss and overflow
    /// in krealloc()" (shrinking with a larger alignment than the object had
    /// lost data and wrote out of bounds) in the kernel kalloc runs on.
    #[test]
    fn krealloc_over_aligned_keeps_every_byte() -> Result {
        /// 32 bytes that must sit on a 256-byte boundary.
        #[derive(Clone, Copy)]
        #[repr(C, align(256))]
        struct Aligned([u8; 32]);

        /// The pattern of element `i`, distinct in every byte.
        fn pattern(i: usize) -> Aligned {
            Aligned(core::array::from_fn(|j| (i * 31 + j * 7 + 1) as u8))
        }

        let mut a = KmallocArray::from_slice(&[pattern(0)], GFP_KERNEL)?;
        for new_len in [3, 1, 17, 2, 40, 5, 63, 1, 9, 130, 7] {
            let kept = a.len().min(new_len);
            a.resize(new_len, Aligned([0xee; 32]), GFP_KERNEL)?;
            assert!(a.as_ptr().is_aligned());
            assert_eq!(a.len(), new_len);
            for (i, e) in a.iter().enumerate() {
                let want = if i < kept { pattern(i).0 } else { [0xee; 32] };
                assert!(e.0 == want);
            }
            for (i, e) in a.iter_mut().enumerate() {
                *e = pattern(i);
            }
        }
        Ok(())
    }

    /// When `krealloc` cannot be done, the buffer is still owned, in place
    /// and intact.
    #[test]
    fn krealloc_failure_keeps_buffer() -> Result {
        let mut buf = KmallocBuf::from_slice(b"keep me", GFP_KERNEL)?;
        let before = buf.as_ptr();
        assert!(buf.resize(KMALLOC_MAX_SIZE + 1, 0, GFP_KERNEL) == Err(ENOMEM));
        assert!(buf.resize(64, 0, GFP_KERNEL | __GFP_HIGHMEM) == Err(EINVAL));
        assert!(buf.resize(usize::MAX, 0, GFP_KERNEL) == Err(ENOMEM));
        assert_eq!(buf.as_ptr(), before);
        assert_eq!(&buf[..], b"keep me");
        // A real failure of C's krealloc(), forced by fault injection: the
        // new, larger object cannot be allocated, and C keeps the old one.
        #[cfg(CONFIG_FAILSLAB)]
        {
            let failed = fail_next_slab_allocation(|| buf.resize(1000, 0, GFP_NOWAIT));
            assert!(failed == Err(ENOMEM));
            assert_eq!(buf.as_ptr(), before);
            assert_eq!(&buf[..], b"keep me");
        }
        let mut a = KmallocArray::from_slice(&[1u64, 2, 3], GFP_KERNEL)?;
        assert!(a.resize(usize::MAX / 4, 0, GFP_KERNEL) == Err(EOVERFLOW));
        assert_eq!(&a[..], &[1, 2, 3]);
        // The buffer is still a live kmalloc object that C can use.
        let buf = array_through_c(buf, b'!')?;
        assert_eq!(&buf[..], b"!!!!!!!");
        Ok(())
    }

    /// `ksize` is the bucket size, which `kmalloc_size_roundup` predicts;
    /// growing into it with `krealloc` stays in place.
    #[test]
    fn ksize_is_kmalloc_size_roundup() -> Result {
        for len in [1, 8, 24, 100, 1000, 5000, 8192, 10000, 100_000] {
            let buf = KmallocBuf::zeroed(len, GFP_KERNEL)?;
            assert_eq!(buf.ksize(), kmalloc_size_roundup(len));
            assert!(buf.ksize() >= len);
        }
        // x86-64's buckets: 8, 16, 32, 64, 96, 128, 192, 256, ... 8192,
        // then whole pages in powers of two.
        assert_eq!(kmalloc_size_roundup(1), 8);
        assert_eq!(kmalloc_size_roundup(100), 128);
        assert_eq!(kmalloc_size_roundup(KMALLOC_MAX_CACHE_SIZE + 1), 16384);
        assert_eq!(kmalloc_size_roundup(0), 0);
        assert_eq!(
            kmalloc_size_roundup(KMALLOC_MAX_SIZE + 1),
            KMALLOC_MAX_SIZE + 1
        );

        let mut buf = KmallocBuf::from_slice(&[7; 100], GFP_KERNEL)?;
        let before = buf.as_ptr();
        let usable = buf.ksize();
        buf.resize(usable, 8, GFP_KERNEL)?;
        assert_eq!(buf.as_ptr(), before);
        assert_eq!(buf.len(), usable);
        assert!(buf[..100].iter().all(|&b| b == 7));
        // Writing the last usable byte is fine (KASAN would report it
        // otherwise).
        buf[usable - 1] = 1;
        assert_eq!(buf[usable - 1], 1);
        Ok(())
    }

    /// Zero-size requests: C gives `ZERO_SIZE_PTR` (C checks it), which is
    /// never dereferenced; the Rust slice is empty and aligned.
    #[test]
    fn zero_size_requests() -> Result {
        let empty = KmallocBuf::zeroed(0, GFP_KERNEL)?;
        assert!(empty.is_empty());
        assert_eq!(empty.ksize(), 0);
        assert!(empty.iter().next().is_none());
        let empty = array_through_c(empty, 0)?;
        assert!(empty.is_empty());
        let copied = array_through_c(KmallocBuf::from_slice(&[], GFP_KERNEL)?, 0)?;
        assert!(copied.is_empty());
        // ZERO_SIZE_PTR (16) is not aligned for `Line`; the slice is.
        let lines = KmallocArray::<Line>::zeroed(0, GFP_KERNEL)?;
        assert!(lines.as_ptr().is_aligned());
        let lines = array_through_c(KmallocArray::<[u8; 64]>::zeroed(0, GFP_KERNEL)?, 0)?;
        assert!(lines.is_empty());
        Ok(())
    }

    /// Exactly `KMALLOC_MAX_SIZE` works; one byte more is `ENOMEM` without
    /// a warning (the harness fails on any).
    #[test]
    fn kmalloc_max_size_is_the_limit() -> Result {
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
        let mut buf = KmallocBuf::zeroed(KMALLOC_MAX_SIZE, flags)?;
        assert_eq!(buf.len(), KMALLOC_MAX_SIZE);
        buf[KMALLOC_MAX_SIZE - 1] = 1;
        assert_eq!(buf[KMALLOC_MAX_SIZE - 1], 1);
        drop(buf);
        assert!(KmallocBuf::zeroed(KMALLOC_MAX_SIZE + 1, GFP_KERNEL).err() == Some(ENOMEM));
        assert!(KmallocBuf::zeroed(usize::MAX, GFP_KERNEL).err() == Some(ENOMEM));
        Ok(())
    }

    /// `into_raw` hands C a buffer it can use for `len` bytes, `from_raw`
    /// takes it back.
    #[test]
    fn buf_into_raw_and_from_raw() -> Result {
        let buf = KmallocBuf::from_slice(b"rust", GFP_KERNEL)?;
        let buf = array_through_c(buf, b'c')?;
        assert_eq!(&buf[..], b"cccc");
        let words = array_through_c(KmallocArray::<u32>::zeroed(3, GFP_KERNEL)?, 0x11)?;
        assert_eq!(&words[..], &[0x1111_1111; 3]);
        Ok(())
    }

    /// `kfree_sensitive` zeroes the memory before freeing it. The control,
    /// plain `kfree`, leaves the bytes there, unless the kernel zeroes all
    /// freed memory (`init_on_free=1`): then the two cannot be told apart
    /// after the free, and the case checks that the secret is gone.
    ///
    /// Reading freed memory relies on generic KASAN (which the test kernel
    /// always has): its quarantine keeps a freed object, and so its slab
    /// page, untouched for a while, so the alias still shows the bytes the
    /// free left. Without it, SLUB's poisoning (`slub_debug=P`) or a reuse
    /// of the page could change them first.
    #[test]
    fn sensitive_buf_is_zeroed_before_free() -> Result {
        const LEN: usize = 256;
        // A freed object's start may hold KASAN's free metadata and its
        // middle SLUB's free pointer; the last quarter is left alone.
        const TAIL: usize = LEN - LEN / 4;

        let mut secret = SensitiveBuf::zeroed(LEN, GFP_KERNEL)?;
        assert!(secret.iter().all(|&b| b == 0));
        secret.fill(0xa5);
        assert!(secret.iter().all(|&b| b == 0xa5));
        if crate::selftest::skip_unless(cfg!(CONFIG_KASAN_GENERIC), c"CONFIG_KASAN_GENERIC") {
            drop(secret);
        } else {
            let after = bytes_after_free(secret)?;
            assert!(after[TAIL..].iter().all(|&b| b == 0));

            let plain = KmallocBuf::from_slice(&[0xa5; LEN], GFP_KERNEL)?;
            let after = bytes_after_free(plain)?;
            let kept = if init_on_free() { 0 } else { 0xa5 };
            assert!(after[TAIL..].iter().all(|&b| b == kept));
        }

        let copied = SensitiveBuf::from_slice(b"password", GFP_KERNEL)?;
        assert_eq!(&copied[..], b"password");
        Ok(())
    }

    /// `kasprintf` with `%pA` formats Rust arguments into a C string.
    #[test]
    fn kasprintf_formats_rust_arguments() -> Result {
        let s = crate::kasprintf!(GFP_KERNEL, "{}-{:#x}-{}-{:?}", "eth", 255, -3, "q")?;
        assert_eq!(s.to_bytes(), b"eth-0xff--3-\"q\"");
        assert_eq!(s.to_bytes_with_nul().last(), Some(&0));
        let empty = crate::kasprintf!(GFP_KERNEL, "")?;
        assert!(empty.is_empty());
        let long = crate::kasprintf!(GFP_KERNEL_ACCOUNT, "{}", Repeat(b'z', 10000))?;
        assert_eq!(long.count_bytes(), 10000);
        assert!(long.to_bytes().iter().all(|&b| b == b'z'));
        Ok(())
    }

    /// A NUL in the text (C would cut the string there) or a failing
    /// formatter is `EINVAL`.
    #[test]
    fn kasprintf_rejects_nul_and_failed_formatting() {
        assert!(crate::kasprintf!(GFP_KERNEL, "a{}b", '\0').err() == Some(EINVAL));
        assert!(crate::kasprintf!(GFP_KERNEL, "x{}", Failing).err() == Some(EINVAL));
    }

    /// The arguments are formatted exactly once: a formatter whose text
    /// changes from one call to the next (longer, shorter, or as long but
    /// different) gives its first text, which C's `kasprintf()` then prints
    /// in both of its passes. C never sizes or fills its buffer from a text
    /// kalloc did not check.
    #[test]
    fn kasprintf_formats_its_arguments_once() -> Result {
        for texts in [&["ab", "abcd"][..], &["abcd", "ab"], &["ab", "xy"]] {
            let changing = Changing::new(texts);
            let s = crate::kasprintf!(GFP_KERNEL, "{}", changing)?;
            assert_eq!(s.to_bytes(), texts[0].as_bytes());
            assert_eq!(changing.calls.get(), 1);
        }
        // A text far longer than the first guess of the buffer's size.
        let long = Repeat(b'z', 5000);
        let s = crate::kasprintf!(GFP_ATOMIC, "<{}>", long)?;
        assert_eq!(s.to_bytes().len(), 5002);
        assert!(s.to_bytes()[1..5001].iter().all(|&b| b == b'z'));
        Ok(())
    }

    /// Formats as the next of its texts at each call (the last one after).
    struct Changing<'a> {
        texts: &'a [&'a str],
        calls: core::cell::Cell<usize>,
    }

    impl<'a> Changing<'a> {
        fn new(texts: &'a [&'a str]) -> Self {
            Changing {
                texts,
                calls: core::cell::Cell::new(0),
            }
        }
    }

    impl fmt::Display for Changing<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let n = self.calls.get();
            self.calls.set(n + 1);
            f.write_str(self.texts[n.min(self.texts.len() - 1)])
        }
    }

    /// A string that would not fit in `KMALLOC_MAX_SIZE` with its NUL is
    /// `ENOMEM`, before C (no warning); one byte less fits.
    #[test]
    fn kasprintf_too_long_is_enomem() -> Result {
        let too_long = Repeat(b'y', KMALLOC_MAX_SIZE);
        assert!(crate::kasprintf!(GFP_KERNEL, "{}", too_long).err() == Some(ENOMEM));
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
        let longest = crate::kasprintf!(flags, "{}", Repeat(b'y', KMALLOC_MAX_SIZE - 1))?;
        assert_eq!(longest.count_bytes(), KMALLOC_MAX_SIZE - 1);
        Ok(())
    }

    /// `kstrdup()`: a copy of the string in new kmalloc memory (freed
    /// with `kfree()` on drop, which KASAN and kmemleak watch), with flags
    /// that cannot sleep too; flags kmalloc cannot honour are `EINVAL`.
    #[test]
    fn kstrdup_copies_the_string() -> Result {
        let source = c"eth0: link up";
        let copy = KString::from_cstr(source, GFP_KERNEL)?;
        assert_eq!(&*copy, source);
        assert_ne!(copy.as_char_ptr(), source.as_char_ptr());
        let again = KString::from_cstr(&copy, GFP_ATOMIC)?;
        drop(copy);
        assert_eq!(again.to_bytes(), b"eth0: link up");
        assert!(KString::from_cstr(c"", GFP_KERNEL)?.is_empty());
        assert!(KString::from_cstr(source, GFP_KERNEL | __GFP_HIGHMEM).err() == Some(EINVAL));
        Ok(())
    }

    /// kalloc's `Kmalloc` under the kernel crate's `Box` and `Vec`: values,
    /// growth through `krealloc()` with every element kept, alignment
    /// beyond kmalloc's own, pinned initialisation, zero-sized values, and
    /// the request check (highmem: an allocation error, no warning).
    #[test]
    fn kernel_box_and_vec_run_on_kalloc_kmalloc() -> Result {
        use kernel::alloc::{Box, Vec};

        let b = Box::<u64, Kmalloc>::new(41, GFP_KERNEL)?;
        assert_eq!(*b + 1, 42);
        let wide = Box::<Aligned256, Kmalloc>::new(Aligned256([3; 32]), GFP_KERNEL)?;
        assert!(ptr::from_ref(&*wide).is_aligned() && wide.0 == [3; 32]);
        let unit = Box::<(), Kmalloc>::new((), GFP_ATOMIC)?;
        assert_eq!(*unit, ());

        let mut v = Vec::<u32, Kmalloc>::new();
        for i in 0..1000 {
            v.push(i, GFP_KERNEL)?;
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x as usize == i));
        v.truncate(3);
        v.extend_from_slice(&[7, 8], GFP_KERNEL)?;
        assert_eq!(&v[..], &[0, 1, 2, 7, 8]);
        let mut w = Vec::<Aligned256, Kmalloc>::with_capacity(3, GFP_KERNEL)?;
        for i in 0..9u8 {
            w.push(Aligned256([i; 32]), GFP_KERNEL)?;
        }
        assert!(w.as_ptr().is_aligned() && w.iter().enumerate().all(|(i, e)| e.0 == [i as u8; 32]));

        let locked = Box::<_, Kmalloc>::pin_init(new_spinlock!(5u32), GFP_KERNEL)?;
        assert_eq!(*locked.lock(), 5);

        assert!(Box::<u8, Kmalloc>::new(0, GFP_KERNEL | __GFP_HIGHMEM).is_err());
        Ok(())
    }

    /// 32 bytes on a 256-byte boundary.
    #[derive(Clone, Copy)]
    #[repr(C, align(256))]
    struct Aligned256([u8; 32]);

    /// Boxes on kalloc's `Kmalloc` go where the kernel crate takes ownership
    /// through `ForeignOwnable`: here, an XArray, which holds them, lends
    /// them out and gives them back.
    #[test]
    fn kalloc_boxes_are_xarray_entries() -> Result {
        use kernel::alloc::Box;
        use kernel::xarray::{AllocKind, XArray};

        let xa = KBox::pin_init(
            XArray::<Box<u64, Kmalloc>>::new(AllocKind::Alloc),
            GFP_KERNEL,
        )?;
        // Allocated before the XArray's lock is taken: under it, kalloc
        // refuses `GFP_KERNEL` (it may sleep).
        let mut boxes = KVec::new();
        for i in 0..4u64 {
            boxes.push(Box::<u64, Kmalloc>::new(i * 10, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut guard = xa.lock();
        for (i, b) in boxes.into_iter().enumerate() {
            let old = guard.store(i, b, GFP_ATOMIC).map_err(|_| ENOMEM)?;
            assert!(old.is_none());
        }
        assert_eq!(guard.get(2).copied(), Some(20));
        let taken = guard.remove(3).ok_or(ENOENT)?;
        assert_eq!(*taken, 30);
        assert!(guard.get(3).is_none());
        Ok(())
    }

    /// Layouts whose size is not a multiple of their alignment, as the
    /// kernel crate's own containers never ask but its `Allocator` trait
    /// allows: the memory is aligned anyway (kmalloc aligns only what the
    /// size implies), from kmalloc and from kvmalloc. A zero-sized value's
    /// dangling pointer is aligned to `MIN_ALIGN`, so it can be an XArray
    /// entry.
    #[test]
    fn allocators_align_what_the_layout_asks() -> Result {
        use crate::kvmalloc::KVmalloc;
        use crate::selftest::kmalloc::allocator_aligns;
        use core::alloc::Layout;
        use kernel::alloc::{Allocator, Box};
        use kernel::xarray::{AllocKind, XArray};

        for (size, align) in [(80, 64), (8, 64), (200, 128), (24, 16), (4100, 4096)] {
            let layout = Layout::from_size_align(size, align).map_err(|_| EINVAL)?;
            assert!(allocator_aligns::<Kmalloc>(layout));
            assert!(allocator_aligns::<KVmalloc>(layout));
        }
        // The empty allocations themselves: aligned to `MIN_ALIGN`.
        let unit = Box::<(), Kmalloc>::new((), GFP_KERNEL)?;
        assert!(Box::into_raw(unit).align_offset(Kmalloc::MIN_ALIGN) == 0);
        let unit = Box::<(), KVmalloc>::new((), GFP_KERNEL)?;
        assert!(Box::into_raw(unit).align_offset(KVmalloc::MIN_ALIGN) == 0);
        let xa = KBox::pin_init(
            XArray::<Box<(), Kmalloc>>::new(AllocKind::Alloc),
            GFP_KERNEL,
        )?;
        let unit = Box::<(), Kmalloc>::new((), GFP_KERNEL)?;
        let mut guard = xa.lock();
        guard.store(0, unit, GFP_ATOMIC).map_err(|_| ENOMEM)?;
        assert!(guard.get(0).is_some());
        assert!(guard.remove(0).is_some());
        Ok(())
    }

    /// A `KmallocBox` becomes the kernel crate's `KBox` and back without a
    /// copy (the same address), value intact, freed once (KASAN and
    /// kmemleak watch); so does a zero-sized one.
    #[test]
    fn kmalloc_box_and_kbox_convert_in_place() -> Result {
        let b = KmallocBox::new([0x5au8; 48], GFP_KERNEL)?;
        let at = ptr::from_ref(&*b);
        let k: KBox<[u8; 48]> = b.into();
        assert!(ptr::eq(&*k, at) && *k == [0x5a; 48]);
        let back: KmallocBox<[u8; 48]> = k.into();
        assert!(ptr::eq(&*back, at) && *back == [0x5a; 48]);
        let k = KBox::new(7u64, kernel::alloc::flags::GFP_KERNEL)?;
        let b: KmallocBox<u64> = k.into();
        assert_eq!(*b, 7);
        let unit: KBox<()> = KmallocBox::new((), GFP_KERNEL)?.into();
        let unit: KmallocBox<()> = unit.into();
        assert_eq!(*unit, ());
        // A zero-sized value with a destructor is dropped once, by its last
        // owner, whichever way it went.
        let before = TOKEN_DROPS.load(Ordering::Relaxed);
        let token: KmallocBox<Token> = KBox::new(Token, kernel::alloc::flags::GFP_KERNEL)?.into();
        assert_eq!(TOKEN_DROPS.load(Ordering::Relaxed), before);
        drop(token);
        assert_eq!(TOKEN_DROPS.load(Ordering::Relaxed), before + 1);
        let token: KBox<Token> = KmallocBox::new(Token, GFP_KERNEL)?.into();
        assert_eq!(TOKEN_DROPS.load(Ordering::Relaxed), before + 1);
        drop(token);
        assert_eq!(TOKEN_DROPS.load(Ordering::Relaxed), before + 2);
        Ok(())
    }

    /// A `KmallocBox` itself is an XArray entry (`ForeignOwnable`): stored,
    /// lent out, changed in place through `get_mut`, and given back at the
    /// address it was stored from; so are a pinned one and a zero-sized
    /// one. An entry left in the XArray is dropped with it (kmemleak
    /// watches).
    #[test]
    fn kmalloc_box_is_an_xarray_entry() -> Result {
        use kernel::sync::SpinLock;
        use kernel::xarray::{AllocKind, XArray};

        let xa = KBox::pin_init(XArray::<KmallocBox<u64>>::new(AllocKind::Alloc), GFP_KERNEL)?;
        let first = KmallocBox::new(10u64, GFP_KERNEL)?;
        let at = ptr::from_ref(&*first);
        let second = KmallocBox::new(20u64, GFP_KERNEL)?;
        let mut guard = xa.lock();
        assert!(guard
            .store(1, first, GFP_ATOMIC)
            .map_err(|_| ENOMEM)?
            .is_none());
        assert!(guard
            .store(2, second, GFP_ATOMIC)
            .map_err(|_| ENOMEM)?
            .is_none());
        assert!(guard.get(1).is_some_and(|v| ptr::eq(v, at) && *v == 10));
        *guard.get_mut(2).ok_or(ENOENT)? += 1;
        let taken = guard.remove(1).ok_or(ENOENT)?;
        assert!(ptr::eq(&*taken, at) && *taken == 10);
        assert_eq!(guard.get(2).copied(), Some(21));
        drop(guard);

        let pinned = KBox::pin_init(
            XArray::<Pin<KmallocBox<SpinLock<u32>>>>::new(AllocKind::Alloc),
            GFP_KERNEL,
        )?;
        let lock = KmallocBox::pin_init(new_spinlock!(5u32), GFP_KERNEL)?;
        let mut guard = pinned.lock();
        assert!(guard
            .store(0, lock, GFP_ATOMIC)
            .map_err(|_| ENOMEM)?
            .is_none());
        assert!(guard.get(0).is_some_and(|l| *l.lock() == 5));
        drop(guard);

        let units = KBox::pin_init(XArray::<KmallocBox<()>>::new(AllocKind::Alloc), GFP_KERNEL)?;
        let unit = KmallocBox::new((), GFP_KERNEL)?;
        let mut guard = units.lock();
        assert!(guard
            .store(7, unit, GFP_ATOMIC)
            .map_err(|_| ENOMEM)?
            .is_none());
        assert!(guard.remove(7).is_some());
        Ok(())
    }

    /// `new_uninit` then `write`, `into_inner` (the value moves out whole and
    /// is dropped once, by its new owner), `init` and `pin_init` in place,
    /// and an initialiser that fails: its error comes back, nothing is
    /// dropped and the memory is freed (kmemleak watches).
    #[test]
    fn box_uninit_init_and_into_inner() -> Result {
        let drops = Cell::new(0);
        let b = KmallocBox::<Probe<'_>>::new_uninit(GFP_KERNEL)?.write(Probe::new(&drops, 7));
        assert_eq!(b.value, 7);
        let probe = b.into_inner();
        assert_eq!((probe.value, drops.get()), (7, 0));
        drop(probe);
        assert_eq!(drops.get(), 1);

        let big = KmallocBox::<[u64; 512]>::init(pin_init::init_zeroed(), GFP_KERNEL)?;
        assert!(big.iter().all(|&x| x == 0));
        let lock = KmallocBox::pin_init(new_spinlock!(Probe::new(&drops, 8)), GFP_KERNEL)?;
        assert_eq!(lock.lock().value, 8);
        drop(lock);
        assert_eq!(drops.get(), 2);

        let failing = Err::<Probe<'_>, Error>(EBUSY);
        assert!(KmallocBox::<Probe<'_>>::init::<Error>(failing, GFP_KERNEL).err() == Some(EBUSY));
        let failing = Err::<Probe<'_>, Error>(EBUSY);
        let pinned = KmallocBox::<Probe<'_>>::pin_init::<Error>(failing, GFP_KERNEL);
        assert!(pinned.err() == Some(EBUSY));
        assert_eq!(drops.get(), 2);
        assert!(KmallocBox::<u8>::new_uninit(GFP_KERNEL | __GFP_HIGHMEM).err() == Some(EINVAL));
        Ok(())
    }

    /// `kzalloc_node()`: every byte zero, also where the last object of
    /// the cache held other bytes (freed objects are poisoned, and the
    /// same object usually comes back).
    #[test]
    fn zeroed_on_a_node_is_zero() -> Result {
        use crate::gfp::Node;

        for node in [Node::ANY, Node::new(0)?] {
            drop(KmallocBox::new_on([0xa5u8; 200], GFP_KERNEL, node)?);
            let b = KmallocBox::<[u8; 200]>::new_zeroed_on(GFP_KERNEL, node)?;
            assert!(b.iter().all(|&x| x == 0));
        }
        assert!(
            KmallocBox::<u64>::new_zeroed_on(GFP_KERNEL | GFP_DMA32, Node::ANY).err()
                == Some(EINVAL)
        );
        Ok(())
    }

    /// A `KmallocArray` becomes the kernel crate's `KVec` and back without
    /// a copy (the same address), values intact; the vector grows with
    /// `krealloc()` and its spare capacity goes with it, and the array
    /// resizes it again; every value is dropped once (counted), the memory
    /// freed once (KASAN and kmemleak watch); so are empty and zero-sized
    /// ones.
    #[test]
    fn kmalloc_array_and_kvec_convert_in_place() -> Result {
        let a = KmallocArray::from_slice(&[1u32, 2, 3], GFP_KERNEL)?;
        let at = a.as_ptr();
        let mut v: KVec<u32> = a.into();
        assert!(v.as_ptr() == at && v[..] == [1, 2, 3]);
        v.extend_from_slice(&[4; 100], GFP_KERNEL)?;
        v.truncate(50);
        assert!(v.capacity() > v.len());
        let mut a: KmallocArray<u32> = v.into();
        assert!(a.len() == 50 && a[..3] == [1, 2, 3] && a[3..].iter().all(|&x| x == 4));
        a.resize(500, 5, GFP_KERNEL)?;
        assert!(a[..3] == [1, 2, 3] && a[3..50].iter().all(|&x| x == 4));
        assert!(a[50..].iter().all(|&x| x == 5));

        let drops = Cell::new(0);
        let mut v = KVec::new();
        for i in 0..6 {
            v.push(Probe::new(&drops, i), GFP_KERNEL)?;
        }
        let a: KmallocArray<Probe<'_>> = v.into();
        assert!(a.len() == 6 && a[5].value == 5 && drops.get() == 0);
        let v: KVec<Probe<'_>> = a.into();
        assert!(v.len() == 6 && drops.get() == 0);
        let a: KmallocArray<Probe<'_>> = v.into();
        drop(a);
        assert_eq!(drops.get(), 6);

        let empty: KVec<u64> = KmallocArray::<u64>::from_slice(&[], GFP_KERNEL)?.into();
        assert!(empty.is_empty());
        // An empty vector's spare capacity stays with the array, which C
        // gets as no bytes (`ZERO_SIZE_PTR`, C checks): the capacity is
        // freed then (kmemleak watches).
        let empty: KmallocArray<u64> = KVec::<u64>::with_capacity(8, GFP_KERNEL)?.into();
        assert!(empty.is_empty() && empty.ksize() >= 64);
        let empty = array_through_c(empty, 0)?;
        assert!(empty.is_empty() && empty.ksize() == 0);
        let mut cleared = KVec::<u64>::new();
        cleared.extend_from_slice(&[1, 2, 3], GFP_KERNEL)?;
        cleared.clear();
        let cleared: KmallocArray<u64> = cleared.into();
        assert!(cleared.ksize() >= 24);
        let back: KVec<u64> = cleared.into();
        assert!(back.is_empty() && back.capacity() >= 3);
        let mut units = KVec::new();
        units.extend_from_slice(&[(); 4], GFP_KERNEL)?;
        let units: KmallocArray<()> = units.into();
        assert_eq!(units.len(), 4);
        let units: KVec<()> = units.into();
        assert_eq!(units.len(), 4);
        Ok(())
    }

    /// `kmalloc_node()`, `kzalloc_node()` and `kmem_cache_alloc_node()`,
    /// from a slab and from the page allocator (past the largest kmalloc
    /// cache), and the allocator of the kernel crate's `KBox` on a node:
    /// on each of the test VM's two nodes, the memory is on the node asked
    /// for (`virt_to_page()` + `page_to_nid()`), wherever the current CPU
    /// is; a node that is not online is refused. The value is there, with
    /// the same request check as without a node.
    #[test]
    fn node_variants_allocate_and_check() -> Result {
        use crate::gfp::Node;
        use crate::selftest::{allocator_on_node, on_node, two_nodes};
        use crate::slab::{SlabCache, SlabOptions};
        use kernel::page::PAGE_SIZE;

        let cache = SlabCache::<u64>::new(c"kalloc_kmalloc_node", SlabOptions::new())?;
        if two_nodes() {
            for nid in 0..2 {
                let node = Node::new(nid)?;
                let small = KmallocBox::new_on([nid; 16], GFP_KERNEL, node)?;
                assert!(on_node(&*small, nid));
                let zeroed = KmallocBox::<[u8; 200]>::new_zeroed_on(GFP_KERNEL, node)?;
                assert!(on_node(&*zeroed, nid));
                let zeroed = KmallocBox::<[u8; 3 * PAGE_SIZE]>::new_zeroed_on(GFP_KERNEL, node)?;
                assert!(on_node(&*zeroed, nid));
                let object = cache.alloc_on(nid as u64, GFP_KERNEL, node)?;
                assert!(on_node(&*object, nid));
                for size in [64, 3 * PAGE_SIZE] {
                    assert!(allocator_on_node::<Kmalloc>(size, nid)?);
                }
            }
            // Online nodes are 0 and 1: node 2 is a valid number, not online.
            assert!(Node::new(2) == Err(EINVAL));
            assert!(allocator_on_node::<Kmalloc>(64, 2) == Err(ENOMEM));
        }

        let b = KmallocBox::new_on([9u32; 20], GFP_KERNEL, Node::new(0)?)?;
        assert_eq!(*b, [9; 20]);
        assert!(
            KmallocBox::new_on(0u8, GFP_KERNEL | __GFP_HIGHMEM, Node::ANY).err() == Some(EINVAL)
        );
        let object = cache.alloc_on(41, GFP_KERNEL, Node::new(0)?)?;
        assert_eq!(*object + 1, 42);
        assert!(cache.alloc_on(0, GFP_KERNEL | GFP_DMA, Node::ANY).err() == Some(EINVAL));
        Ok(())
    }
}
