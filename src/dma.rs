// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA: a kmalloc buffer or a block of pages handed to a device
//! for one transfer (C's `dma_map_single()`, `dma_map_page()`), as every
//! DMA-capable driver does for its I/O buffers. (For memory the CPU and
//! the device share for the device's life, the kernel crate has
//! `kernel::dma::Coherent`.)
//!
//! Mapping moves the buffer into a [`DmaStream`]: while it is mapped the
//! device owns it, and the CPU reaches the bytes only through
//! [`DmaStream::cpu`], which syncs them for the CPU
//! (`dma_sync_single_for_cpu()`) and back for the device when the access
//! ends. The direction is a type, so each sync and the unmap use the
//! mapping's own. The mapping borrows the bound device and is unmapped on
//! drop (or by [`DmaStream::unmap`], which gives the buffer back), before
//! the buffer can be freed.
//!
//! # Examples
//!
//! ```no_run
//! use kalloc::dma::{DmaStream, ToDevice};
//! use kalloc::KBox;
//! use kernel::device::{Bound, Device};
//!
//! fn send(dev: &Device<Bound>, frame: &[u8]) -> Result {
//!     let mut buf = KBox::<[u8; 64]>::new([0; 64], GFP_KERNEL)?;
//!     buf[..frame.len()].copy_from_slice(frame);
//!     let buf: KBox<[u8]> = buf;
//!     let stream = DmaStream::map(dev, buf, ToDevice)?;
//!     let _bus_address = stream.dma_address(); // for the device's registers
//!     // ... the device reads the frame ...
//!     let _buf = stream.unmap(); // the CPU's again
//!     Ok(())
//! }
//! # let _ = send;
//! ```

use crate::pages::Pages;
use crate::vmalloc::is_vmalloc_addr;
use crate::{ffi, KBox, KVBox};
use core::marker::PhantomData;
use kernel::device::{Bound, Device};
use kernel::page::PAGE_SIZE;
use kernel::{bindings, prelude::*};

/// The direction of a mapping (C's `enum dma_data_direction`). Sealed.
pub trait Direction: private::Sealed {
    /// C's value.
    const RAW: bindings::dma_data_direction;
}

/// The directions in which the CPU may write the buffer while it is mapped
/// (the device reads what it wrote).
pub trait CpuWrites: Direction {}

mod private {
    pub trait Sealed {}
}

/// The device reads the buffer (`DMA_TO_DEVICE`).
pub struct ToDevice;
/// The device writes the buffer (`DMA_FROM_DEVICE`).
pub struct FromDevice;
/// Both (`DMA_BIDIRECTIONAL`).
pub struct Bidirectional;

impl private::Sealed for ToDevice {}
impl private::Sealed for FromDevice {}
impl private::Sealed for Bidirectional {}
impl Direction for ToDevice {
    const RAW: bindings::dma_data_direction = crate::compat::dma_direction::TO_DEVICE;
}
impl Direction for FromDevice {
    const RAW: bindings::dma_data_direction = crate::compat::dma_direction::FROM_DEVICE;
}
impl Direction for Bidirectional {
    const RAW: bindings::dma_data_direction = crate::compat::dma_direction::BIDIRECTIONAL;
}
impl CpuWrites for ToDevice {}
impl CpuWrites for Bidirectional {}

/// What [`DmaStream::map`] takes: memory of initialised bytes that is
/// physically contiguous and in the kernel's direct map (kmalloc, pages),
/// owned by the value. Sealed.
pub trait DmaBuffer: Sized + buffer::Sealed {}

mod buffer {
    use kernel::bindings;
    use kernel::prelude::*;

    /// How a buffer is mapped.
    pub enum Memory {
        /// At a direct-mapped address: `dma_map_single()`.
        Single(*mut u8),
        /// A block that starts at a `struct page`: `dma_map_page()`.
        Page(*mut bindings::page),
    }

    /// The C side of a [`DmaBuffer`](super::DmaBuffer).
    pub trait Sealed {
        /// The memory and its length in bytes, or `EINVAL` if the DMA API
        /// cannot map it.
        fn memory(&mut self) -> Result<(Memory, usize)>;
        /// Copies the bytes from `offset` into `dst`; `EINVAL` beyond the
        /// end.
        fn read(&self, offset: usize, dst: &mut [u8]) -> Result;
        /// Copies `src` into the bytes from `offset`; `EINVAL` beyond the
        /// end.
        fn write(&mut self, offset: usize, src: &[u8]) -> Result;
    }
}

/// The bytes `offset..offset + len` of `total`, or `EINVAL`.
fn range(offset: usize, len: usize, total: usize) -> Result<core::ops::Range<usize>> {
    match offset.checked_add(len) {
        Some(end) if end <= total => Ok(offset..end),
        _ => Err(EINVAL),
    }
}

/// Copies the bytes of `buf` from `offset` into `dst`, or `EINVAL`.
fn read_slice(buf: &[u8], offset: usize, dst: &mut [u8]) -> Result {
    dst.copy_from_slice(&buf[range(offset, dst.len(), buf.len())?]);
    Ok(())
}

/// Copies `src` into the bytes of `buf` from `offset`, or `EINVAL`.
fn write_slice(buf: &mut [u8], offset: usize, src: &[u8]) -> Result {
    let r = range(offset, src.len(), buf.len())?;
    buf[r].copy_from_slice(src);
    Ok(())
}

impl buffer::Sealed for KBox<[u8]> {
    fn memory(&mut self) -> Result<(buffer::Memory, usize)> {
        Ok((buffer::Memory::Single(self.as_mut_ptr()), self.len()))
    }
    fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        read_slice(self, offset, dst)
    }
    fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        write_slice(self, offset, src)
    }
}

impl buffer::Sealed for KVBox<[u8]> {
    /// `EINVAL` for vmalloc memory: it is not contiguous.
    fn memory(&mut self) -> Result<(buffer::Memory, usize)> {
        if is_vmalloc_addr(self.as_ptr()) {
            return Err(EINVAL);
        }
        Ok((buffer::Memory::Single(self.as_mut_ptr()), self.len()))
    }
    fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        read_slice(self, offset, dst)
    }
    fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        write_slice(self, offset, src)
    }
}

impl buffer::Sealed for Pages {
    fn memory(&mut self) -> Result<(buffer::Memory, usize)> {
        Ok((buffer::Memory::Page(self.as_ptr()), self.size()))
    }
    fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        range(offset, dst.len(), self.size())?;
        let mut done = 0;
        while done < dst.len() {
            let at = offset + done;
            let n = (PAGE_SIZE - at % PAGE_SIZE).min(dst.len() - done);
            self.kmap_local(at / PAGE_SIZE, |map| {
                map.read(at % PAGE_SIZE, &mut dst[done..done + n])
            })??;
            done += n;
        }
        Ok(())
    }
    fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        range(offset, src.len(), self.size())?;
        let mut done = 0;
        while done < src.len() {
            let at = offset + done;
            let n = (PAGE_SIZE - at % PAGE_SIZE).min(src.len() - done);
            self.kmap_local_mut(at / PAGE_SIZE, |map| {
                map.write(at % PAGE_SIZE, &src[done..done + n])
            })??;
            done += n;
        }
        Ok(())
    }
}

impl DmaBuffer for KBox<[u8]> {}
impl DmaBuffer for KVBox<[u8]> {}
impl DmaBuffer for Pages {}

/// A buffer mapped for streaming DMA to or from `dev`, in direction `D`.
///
/// # Invariants
///
/// `addr` is the bus address of `buf`'s `len` bytes, mapped for `dev` in
/// direction `D` by `dma_map_single()` or `dma_map_page()` and checked
/// with `dma_mapping_error()`; only `drop` unmaps it. While mapped the
/// device owns the bytes, except inside a [`CpuAccess`].
pub struct DmaStream<'a, B: DmaBuffer, D: Direction> {
    dev: &'a Device<Bound>,
    buf: core::mem::ManuallyDrop<B>,
    addr: bindings::dma_addr_t,
    len: usize,
    _dir: PhantomData<D>,
}

impl<'a, B: DmaBuffer, D: Direction> DmaStream<'a, B, D> {
    /// Maps `buf` for `dev` in direction `D` (C's `dma_map_single()` or
    /// `dma_map_page()`, then `dma_mapping_error()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty buffer or vmalloc memory; `EOVERFLOW` for a
    /// device without a DMA mask (one whose bus sets none, such as an
    /// auxiliary or faux device), or for
    /// memory beyond the device's DMA mask where neither an IOMMU nor
    /// bounce buffers can help (C's "DMA addr overflow": allocate it with
    /// `GFP_DMA` or `GFP_DMA32` for a device with a small mask); `ENOMEM` if
    /// the DMA API cannot map it (no IOMMU or bounce-buffer space). The
    /// buffer is dropped then.
    pub fn map(dev: &'a Device<Bound>, mut buf: B, _dir: D) -> Result<Self> {
        let (memory, len) = buf.memory()?;
        if len == 0 {
            return Err(EINVAL);
        }
        let raw = crate::devm::raw(dev);
        let (page, offset) = match memory {
            buffer::Memory::Single(ptr) => {
                // SAFETY: `ptr` is a direct-mapped address (`DmaBuffer`).
                let page = unsafe { ffi::kalloc_virt_to_page(ptr.cast()) };
                (page, ptr as usize % PAGE_SIZE)
            }
            buffer::Memory::Page(page) => (page, 0),
        };
        // SAFETY: `raw` is a bound device, `page` the `struct page` of the
        // buffer's first byte; the shim only computes addresses.
        if !unsafe { ffi::kalloc_dma_reachable(raw, page, offset, len) } {
            return Err(EOVERFLOW);
        }
        // SAFETY: `raw` is a bound device, `memory` is `len` bytes of `buf`
        // that the DMA API can map (`DmaBuffer`), alive until the unmap in
        // `drop`: `buf` moves into the mapping.
        let addr = unsafe {
            match memory {
                buffer::Memory::Single(ptr) => {
                    ffi::kalloc_dma_map_single(raw, ptr.cast(), len, D::RAW)
                }
                buffer::Memory::Page(page) => {
                    bindings::dma_map_page_attrs(raw, page, 0, len, D::RAW, 0)
                }
            }
        };
        // SAFETY: `addr` is what the map above returned for `raw`.
        if unsafe { ffi::kalloc_dma_mapping_error(raw, addr) } != 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: Mapped and checked above.
        Ok(Self {
            dev,
            buf: core::mem::ManuallyDrop::new(buf),
            addr,
            len,
            _dir: PhantomData,
        })
    }

    /// The bus address the device uses for the buffer.
    pub fn dma_address(&self) -> u64 {
        self.addr
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty: never (mapping refuses that).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes for the CPU, synced for it (C's
    /// `dma_sync_single_for_cpu()`) until the access ends, when they are
    /// synced back for the device (`dma_sync_single_for_device()`). The
    /// device must not be transferring meanwhile.
    pub fn cpu(&mut self) -> CpuAccess<'_, 'a, B, D> {
        // SAFETY: The mapping is live (the type invariants) and synced in
        // its own direction.
        unsafe {
            ffi::kalloc_dma_sync_single_for_cpu(
                crate::devm::raw(self.dev),
                self.addr,
                self.len,
                D::RAW,
            )
        };
        CpuAccess { stream: self }
    }

    /// Unmaps the buffer (C's `dma_unmap_single()`, `dma_unmap_page()`)
    /// and gives it back to the CPU.
    pub fn unmap(self) -> B {
        let mut this = core::mem::ManuallyDrop::new(self);
        this.unmap_now();
        // SAFETY: `this.buf` is taken once, and `this` is never dropped.
        unsafe { core::mem::ManuallyDrop::take(&mut this.buf) }
    }

    fn unmap_now(&mut self) {
        // SAFETY: The mapping is live (the type invariants), unmapped once
        // here, with its own address, length and direction.
        unsafe {
            bindings::dma_unmap_page_attrs(
                crate::devm::raw(self.dev),
                self.addr,
                self.len,
                D::RAW,
                0,
            )
        };
    }
}

impl<B: DmaBuffer, D: Direction> Drop for DmaStream<'_, B, D> {
    fn drop(&mut self) {
        self.unmap_now();
        // SAFETY: Unmapped above: the buffer is the CPU's again, dropped once.
        unsafe { core::mem::ManuallyDrop::drop(&mut self.buf) };
    }
}

/// The CPU's access to a mapped buffer, from [`DmaStream::cpu`]: its
/// bytes to read, and for [`ToDevice`] and [`Bidirectional`] to write.
/// Dropping it gives the bytes back to the device.
pub struct CpuAccess<'s, 'a, B: DmaBuffer, D: Direction> {
    stream: &'s mut DmaStream<'a, B, D>,
}

impl<B: DmaBuffer, D: Direction> CpuAccess<'_, '_, B, D> {
    /// Copies the bytes from `offset` into `dst`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if that reaches beyond the buffer.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        buffer::Sealed::read(&*self.stream.buf, offset, dst)
    }
}

impl<B: DmaBuffer, D: CpuWrites> CpuAccess<'_, '_, B, D> {
    /// Copies `src` into the bytes from `offset`, for the device to read.
    ///
    /// # Errors
    ///
    /// `EINVAL` if that reaches beyond the buffer.
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result {
        buffer::Sealed::write(&mut *self.stream.buf, offset, src)
    }
}

impl<B: DmaBuffer, D: Direction> Drop for CpuAccess<'_, '_, B, D> {
    fn drop(&mut self) {
        let s = &*self.stream;
        // SAFETY: The mapping is live, synced back in its own direction.
        unsafe {
            ffi::kalloc_dma_sync_single_for_device(crate::devm::raw(s.dev), s.addr, s.len, D::RAW)
        };
    }
}
