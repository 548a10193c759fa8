// SPDX-License-Identifier: GPL-2.0

//! A misc device that keeps an append-only log in memory it owns through kalloc.
//!
//! Each open of `/dev/kalloc-sample` is a session with a log of its own, which
//! behaves like a small file that can only grow, and is freed on close:
//!
//! ```sh
//! exec 3<>/dev/kalloc-sample
//! printf 'hello\n' >&3
//! printf 'world\n' >&3
//! cat <&3                    # hello, world: every byte written, in order
//! exec 3>&-                  # close: the session's memory is freed
//! ```
//!
//! A log for each session, not one for the device, because a misc device in
//! 7.3 has no safe place for state shared by all its files (upstream's
//! `global_lock!` needs `unsafe`).
//!
//! It shows the three kinds of kernel memory a driver typically owns, each as a
//! Rust value that frees itself when dropped:
//!
//! - a slab cache ([`SlabCache`]) for a fixed-size object the driver allocates
//!   often: here the [`Record`] each write goes through;
//! - a block of physically contiguous pages ([`LowmemPages`]): the log itself;
//! - a large vmalloc buffer ([`VBuf`]): the index of where each record starts.
//!
//! And one kind a device owns: the module registers a faux device of its own
//! (`/sys/devices/faux/kalloc-sample`, a [`FauxDevice`]) whose state, kept in the
//! module's state beside the misc device, holds memory the device frees when it
//! goes ([`DevmStr`], C's `devm_kasprintf()`).
//!
//! Bad requests get an errno and change nothing: a write that does not fit in
//! the log (or whose records do not fit in the index) is `ENOSPC`, an unknown
//! ioctl `ENOTTY`.
//!
//! Three ioctls, for user space (`<linux/ioctl.h>`):
//!
//! ```c
//! #define KALLOC_SAMPLE_RESET _IO('k', 0)          /* empty the log */
//! #define KALLOC_SAMPLE_COUNT _IOR('k', 1, __u32)  /* records written */
//! struct kalloc_sample_record { __u32 len; __u8 data[256]; };
//! #define KALLOC_SAMPLE_APPEND _IOW('k', 2, struct kalloc_sample_record)
//! ```
//!
//! `KALLOC_SAMPLE_APPEND` appends one record of `len` bytes (at most 256,
//! else `EINVAL`), copied with `copy_from_user()` straight into a slab
//! object, a copy that `CONFIG_HARDENED_USERCOPY` checks against the cache's
//! user-copy region. `samples/kalloc_sample_ioctl.c` uses the ioctls.

use core::mem::offset_of;
use kalloc::{
    devm::{
        DevmStr,
        FauxData,
        FauxDevice, //
    },
    pages::LowmemPages,
    slab::{
        OwnedSlabBox,
        SlabCache,
        SlabOptions, //
    },
    vmalloc::VBuf,
};
use kernel::{
    fs::{
        File,
        Kiocb, //
    },
    ioctl::{
        _IO,
        _IOR,
        _IOW, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex, //
    },
    uaccess::UserSlice,
};

module! {
    type: KallocSampleModule,
    name: "rust_kalloc_sample",
    authors: ["The kalloc developers"],
    description: "Sample misc device that owns its memory through kalloc",
    license: "GPL",
}

/// Empties the log.
const KALLOC_SAMPLE_RESET: u32 = _IO('k' as u32, 0);
/// Writes the number of records in the log, a `u32`, to the argument.
const KALLOC_SAMPLE_COUNT: u32 = _IOR::<u32>('k' as u32, 1);
/// Appends the record the argument points to: a `u32` length, then
/// [`RECORD_DATA`] bytes of which the first `length` count.
const KALLOC_SAMPLE_APPEND: u32 = _IOW::<[u8; USER_RECORD_SIZE]>('k' as u32, 2);
/// The size of the record `KALLOC_SAMPLE_APPEND` reads.
const USER_RECORD_SIZE: usize = size_of::<u32>() + RECORD_DATA;

/// The most bytes one [`Record`] carries; longer writes are cut into records.
const RECORD_DATA: usize = 256;
/// The log is a block of `2^LOG_ORDER` pages: 16 KiB with 4 KiB pages.
const LOG_ORDER: u32 = 2;
/// The most records the log indexes.
const INDEX_CAPACITY: usize = 1024;

/// One chunk of a write, copied from user space into a slab object.
#[repr(C)]
struct Record {
    /// How many bytes of `data` hold the chunk.
    len: u32,
    /// The bytes, copied from user space: the cache's usercopy region.
    data: [u8; RECORD_DATA],
}

impl Record {
    const EMPTY: Record = Record {
        len: 0,
        data: [0; RECORD_DATA],
    };

    /// The chunk's bytes.
    fn bytes(&self) -> &[u8] {
        &self.data[..self.len as usize]
    }
}

/// Everything a session keeps: the allocators' memory and where the log ends.
struct Log {
    /// The cache every write's [`Record`]s come from (one per session, so that
    /// the sample needs no global state; a driver with many users shares one).
    records: Arc<SlabCache<Record>>,
    /// The records, as the writes came: slab objects kept beside their cache
    /// ([`OwnedSlabBox`] holds the cache, so it outlives them).
    kept: KVec<OwnedSlabBox<Record>>,
    /// The log's bytes. Only `ring[..used]` is ever read; allocated zeroed
    /// anyway, so that not even the free space holds another kernel user's data.
    ring: LowmemPages,
    /// `index[..count]`: the offset in `ring` where each record starts.
    index: VBuf<u32>,
    /// Bytes of `ring` in the log.
    used: usize,
    /// Records in the log.
    count: usize,
}

impl Log {
    /// Allocates an empty log.
    ///
    /// # Errors
    ///
    /// `ENOMEM` if the memory is not there.
    fn new() -> Result<Self> {
        // With `CONFIG_HARDENED_USERCOPY`, a copy between user space and a slab
        // object (`copy_from_user()`, `copy_to_user()`) may only touch the cache's
        // usercopy region: a copy elsewhere in the object is a kernel BUG. Here
        // user space fills `data` and nothing else (`KALLOC_SAMPLE_APPEND`; in
        // 7.3 the `iov_iter` copies of `write_iter` skip that check). `account()`
        // charges the records to the writer's memory cgroup: user space decides
        // how many there are.
        let options = SlabOptions::new()
            .account()
            .usercopy(offset_of!(Record, data), RECORD_DATA);
        // Cache names are unique in `/sys/kernel/slab`: one per session.
        let name = CString::try_from_fmt(fmt!("kalloc_sample_{}", SESSIONS.fetch_add(1, Relaxed)))?;
        Ok(Log {
            records: Arc::new(SlabCache::new(&name, options)?, GFP_KERNEL)?,
            kept: KVec::new(),
            ring: LowmemPages::get_zeroed_pages(LOG_ORDER, GFP_KERNEL)?,
            index: VBuf::zeroed(INDEX_CAPACITY, GFP_KERNEL)?,
            used: 0,
            count: 0,
        })
    }

    /// The bytes written so far, in order.
    fn contents(&self) -> &[u8] {
        &self.ring.as_slice()[..self.used]
    }

    /// Appends `len` bytes to the log, one [`Record`] per `RECORD_DATA` bytes:
    /// `fill` copies each chunk from user space into its record. Returns `len`.
    ///
    /// # Errors
    ///
    /// `ENOSPC` if the bytes do not fit in the log or their records do not fit
    /// in the index; `fill`'s error (`EFAULT` if user space memory cannot be
    /// read); `ENOMEM`. The log is unchanged on error.
    fn append(&mut self, len: usize, mut fill: impl FnMut(&mut [u8]) -> Result) -> Result<usize> {
        if len > self.ring.size() - self.used
            || len.div_ceil(RECORD_DATA) > self.index.len() - self.count
        {
            return Err(ENOSPC);
        }
        // Offsets in the ring fit in the index's `u32`s.
        u32::try_from(self.ring.size())?;
        self.kept.reserve(len.div_ceil(RECORD_DATA), GFP_KERNEL)?;
        // Commit `end` and `count` only once every record is in: until then
        // readers do not see the new bytes, and on failure the new records go
        // back to their cache, so a failure changes nothing.
        let kept = self.kept.len();
        let mut end = self.used;
        let mut count = self.count;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(RECORD_DATA);
            let record = match self.fill_record(chunk, &mut fill) {
                Ok(record) => record,
                Err(e) => {
                    self.kept.truncate(kept);
                    return Err(e);
                }
            };
            let bytes = record.bytes();
            self.ring.as_mut_slice()[end..end + bytes.len()].copy_from_slice(bytes);
            // CAST: `end <= self.ring.size()`, which fits (checked above).
            self.index[count] = end as u32;
            end += bytes.len();
            count += 1;
            left -= chunk;
            // Room was reserved above: this cannot fail.
            self.kept.push_within_capacity(record).map_err(|_| ENOMEM)?;
        }
        self.used = end;
        self.count = count;
        Ok(len)
    }

    /// A new record of `len` bytes, which `fill` copies from user space.
    fn fill_record(
        &self,
        len: usize,
        fill: &mut impl FnMut(&mut [u8]) -> Result,
    ) -> Result<OwnedSlabBox<Record>> {
        let mut record = self.records.alloc_owned(Record::EMPTY, GFP_KERNEL)?;
        fill(&mut record.data[..len])?;
        record.len = u32::try_from(len)?;
        Ok(record)
    }

    /// Empties the log, and zeroes the ring again; the records go back to
    /// their cache.
    fn reset(&mut self) {
        self.kept.clear();
        self.ring.as_mut_slice().fill(0);
        self.used = 0;
        self.count = 0;
    }
}

/// How many sessions were opened: each names its record cache after it.
static SESSIONS: Atomic<u32> = Atomic::new(0);

/// What the module's faux device keeps while it exists: memory of its own,
/// which the device frees when it goes.
struct SampleDevice<'bound> {
    /// What the device serves, `devm_kasprintf()`'d when it is made.
    label: DevmStr<'bound>,
}

/// The state of the module's faux device.
struct SampleFaux;

impl FauxData for SampleFaux {
    type Data<'bound> = SampleDevice<'bound>;
}

/// The module: the misc device registration, and a faux device with its
/// device-scoped memory.
#[pin_data(PinnedDrop)]
struct KallocSampleModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<Session>,
    device: FauxDevice<SampleFaux>,
}

impl kernel::InPlaceModule for KallocSampleModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let options = MiscDeviceOptions {
            name: c"kalloc-sample",
        };
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(options),
            device: FauxDevice::<SampleFaux>::new(c"kalloc-sample", |dev| {
                let label = DevmStr::format(
                    dev,
                    fmt!("/dev/kalloc-sample: {} KiB logs", (PAGE_SIZE << LOG_ORDER) / 1024),
                    GFP_KERNEL,
                )?;
                Ok(SampleDevice { label })
            })?,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for KallocSampleModule {
    fn drop(self: Pin<&mut Self>) {
        // The device's memory is still there: the faux device goes after this.
        self.device.with(|dev, state| {
            dev_info!(
                dev,
                "unloading, served {}\n",
                state.label.to_str().unwrap_or("?")
            );
        });
    }
}

/// An open `/dev/kalloc-sample`: a session, with its log under a lock (reads,
/// writes and ioctls on one file may run at the same time).
#[pin_data]
struct Session {
    #[pin]
    log: Mutex<Log>,
}

#[vtable]
impl MiscDevice for Session {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Session {
                log <- new_mutex!(Log::new()?),
            }),
            GFP_KERNEL,
        )
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let session = kiocb.file();
        let log = session.log.lock();
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), log.contents())
    }

    /// Appends, whatever the file position: the log is append-only.
    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let len = iov.len();
        kiocb.file().log.lock().append(len, |chunk| {
            match iov.copy_from_iter(chunk) == chunk.len() {
                true => Ok(()),
                false => Err(EFAULT),
            }
        })
    }

    fn ioctl(session: Pin<&Session>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            KALLOC_SAMPLE_RESET => {
                session.log.lock().reset();
                Ok(0)
            }
            KALLOC_SAMPLE_APPEND => {
                let user = UserSlice::new(UserPtr::from_addr(arg), USER_RECORD_SIZE);
                let mut reader = user.reader();
                let len = usize::try_from(reader.read::<u32>()?)?;
                if len > RECORD_DATA {
                    return Err(EINVAL);
                }
                // `copy_from_user()` into the slab object's `data`.
                let mut log = session.log.lock();
                log.append(len, |chunk| reader.read_slice(chunk))?;
                Ok(0)
            }
            KALLOC_SAMPLE_COUNT => {
                // Copied out after the lock is dropped.
                let count = u32::try_from(session.log.lock().count)?;
                let user = UserSlice::new(UserPtr::from_addr(arg), size_of::<u32>());
                user.writer().write(&count)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
}
