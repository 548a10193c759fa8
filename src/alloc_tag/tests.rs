// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_alloc_tag` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_alloc_tag)]
mod kalloc_alloc_tag {
    use crate::kmalloc::KmallocArray;
    use crate::selftest::{read_file, skip_unless};
    use crate::VVec;
    use kernel::prelude::*;

    /// The bytes and calls `/proc/allocinfo` counts at `file`:`line`, or
    /// `None` if it has no such line.
    fn counted_at(file: &str, line: u32) -> Result<Option<(u64, u64)>> {
        let mut buf = VVec::<u8>::new();
        buf.resize(4 << 20, 0, GFP_KERNEL)?;
        let len = read_file(c"/proc/allocinfo", &mut buf)?;
        let text = core::str::from_utf8(&buf[..len]).map_err(|_| EIO)?;
        for entry in text.lines() {
            let mut fields = entry.split_ascii_whitespace();
            let (Some(bytes), Some(calls), Some(site)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Some((site_file, site_line)) = site.rsplit_once(':') else {
                continue;
            };
            if site_file == file && site_line.parse() == Ok(line) {
                let bytes = bytes.parse().map_err(|_| EIO)?;
                let calls = calls.parse().map_err(|_| EIO)?;
                return Ok(Some((bytes, calls)));
            }
        }
        Ok(None)
    }

    /// An allocation inside `alloc_tag!` is counted at the line of the
    /// macro, with its bytes (a 12 KiB kmalloc is an order-2 block from the
    /// page allocator: 16 KiB) and one call; once freed, at zero. Fails if
    /// the tag is not the current task's during the allocation (it would
    /// be counted at kalloc's shim), or not in the module's tag section.
    #[test]
    fn an_allocation_is_counted_at_its_rust_line() -> Result {
        if skip_unless(
            cfg!(CONFIG_MEM_ALLOC_PROFILING),
            c"CONFIG_MEM_ALLOC_PROFILING",
        ) {
            let table = crate::alloc_tag!(KmallocArray::<u8>::zeroed(12288, GFP_KERNEL))?;
            assert_eq!(table.len(), 12288);
            return Ok(());
        }
        let line = line!() + 1;
        let table = crate::alloc_tag!(KmallocArray::<u8>::zeroed(12288, GFP_KERNEL))?;
        assert_eq!(counted_at(file!(), line)?, Some((16384, 1)));
        drop(table);
        assert_eq!(counted_at(file!(), line)?, Some((0, 0)));
        Ok(())
    }

    /// Tags nest: the inner allocation is counted at the inner line, the
    /// outer one at the outer line.
    #[test]
    fn nested_tags_count_at_their_own_lines() -> Result {
        if skip_unless(
            cfg!(CONFIG_MEM_ALLOC_PROFILING),
            c"CONFIG_MEM_ALLOC_PROFILING",
        ) {
            return Ok(());
        }
        let line = line!() + 1;
        let (outer, inner, inner_line) = crate::alloc_tag!({
            let inner_line = line!() + 1;
            let inner = crate::alloc_tag!(KmallocArray::<u8>::zeroed(9000, GFP_KERNEL));
            (
                KmallocArray::<u8>::zeroed(20000, GFP_KERNEL),
                inner,
                inner_line,
            )
        });
        let (outer, inner) = (outer?, inner?);
        assert_eq!(counted_at(file!(), inner_line)?, Some((16384, 1)));
        assert_eq!(counted_at(file!(), line)?, Some((32768, 1)));
        drop((outer, inner));
        Ok(())
    }
}
