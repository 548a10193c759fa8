// SPDX-License-Identifier: GPL-2.0

//! Allocation profiling by call site: with `CONFIG_MEM_ALLOC_PROFILING`,
//! `/proc/allocinfo` counts the memory each line of code allocated. C's
//! allocation macros give each call site a code tag of its own
//! (`alloc_hooks()`); a Rust call site gets one by wrapping the allocation
//! in [`alloc_tag!`](crate::alloc_tag!): kalloc's allocations inside are
//! then counted at the caller's file and line instead of on a helper line
//! of kalloc's.
//!
//! Without the option, the macro is the expression itself.
//!
//! # Examples
//!
//! ```
//! use kalloc::kmalloc::KmallocArray;
//!
//! // Counted at this file and line in /proc/allocinfo.
//! let table = kalloc::alloc_tag!(KmallocArray::<u64>::zeroed(512, GFP_KERNEL))?;
//! assert_eq!(table.len(), 512);
//! ```

use core::cell::UnsafeCell;
use kernel::bindings;
use kernel::ffi::c_char;

/// A code tag for allocations (C's `struct alloc_tag`), in the module's
/// `alloc_tags` section, where the module loader finds it and gives it its
/// counters. Made by [`alloc_tag!`](crate::alloc_tag!).
#[repr(transparent)]
pub struct AllocTag(UnsafeCell<bindings::alloc_tag>);

// SAFETY: C writes the tag's counters pointer at module load, before any
// code of the module runs, and then only the counters it points to, which
// are per-CPU and updated by C; Rust only passes the tag's address.
unsafe impl Sync for AllocTag {}

impl AllocTag {
    /// The tag of `function` at `file`:`line` in module `module`.
    ///
    /// # Safety
    ///
    /// Each string ends with a NUL, and the tag is a `static` in the
    /// `alloc_tags` section (the module loader gives only those their
    /// counters, which C writes through at every allocation [`charge`]
    /// counts): as [`alloc_tag!`](crate::alloc_tag!) makes it.
    ///
    /// [`charge`]: AllocTag::charge
    #[doc(hidden)]
    pub const unsafe fn new(
        module: &'static str,
        function: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        const fn s(s: &'static str) -> *const c_char {
            s.as_ptr().cast()
        }
        Self(UnsafeCell::new(bindings::alloc_tag {
            ct: bindings::codetag {
                flags: 0,
                lineno: line,
                modname: s(module),
                function: s(function),
                filename: s(file),
            },
            counters: core::ptr::null_mut(),
        }))
    }

    /// Runs `f` with the current task's allocations counted at this tag
    /// (C's `alloc_hooks_tag()`). A tag is made only by `new`, whose caller
    /// promised that C gave it counters.
    #[doc(hidden)]
    #[inline]
    pub fn charge<R>(&'static self, f: impl FnOnce() -> R) -> R {
        // SAFETY: The shim only reads a static key.
        if !unsafe { crate::ffi::kalloc_mem_alloc_profiling_enabled() } {
            return f();
        }
        let tag = self.0.get();
        // SAFETY: `tag` is a tag of this module's `alloc_tags` section,
        // alive as long as the module's code; it is the current task's
        // until the restore below, on the same task.
        let old = unsafe { crate::ffi::kalloc_alloc_tag_save(tag) };
        let r = f();
        // SAFETY: As above: the current task's tag is `tag` again (nested
        // tags restore theirs first).
        unsafe { crate::ffi::kalloc_alloc_tag_restore(tag, old) };
        r
    }
}

/// Evaluates an allocating expression with its allocations counted at the
/// caller's file and line in `/proc/allocinfo` (with
/// `CONFIG_MEM_ALLOC_PROFILING`; otherwise it is the expression). See the
/// [module documentation](mod@crate::alloc_tag).
#[macro_export]
macro_rules! alloc_tag {
    ($e:expr) => {{
        #[cfg(CONFIG_MEM_ALLOC_PROFILING)]
        {
            use $crate::alloc_tag::AllocTag;
            #[link_section = "alloc_tags"]
            #[used]
            // The lint sees `concat!`/`line!` as the caller's tokens; it
            // fires only in kalloc's own crate, so `#[expect]` would fail
            // in a driver's.
            #[allow(clippy::macro_metavars_in_unsafe)]
            // SAFETY: NUL-terminated strings, a static in `alloc_tags`.
            static TAG: AllocTag = unsafe {
                AllocTag::new(
                    concat!(module_path!(), "\0"),
                    concat!(module_path!(), "\0"),
                    concat!(file!(), "\0"),
                    line!(),
                )
            };
            TAG.charge(|| $e)
        }
        #[cfg(not(CONFIG_MEM_ALLOC_PROFILING))]
        {
            $e
        }
    }};
}

#[cfg(kalloc_selftest)]
mod tests;
