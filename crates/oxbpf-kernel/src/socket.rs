//! Raw packet sockets, the usual home of a socket filter.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::KernelError;
use crate::sys;
use crate::target::Interface;

/// A raw `AF_PACKET` socket bound to one interface, receiving every protocol (what
/// `tcpdump -i IF` opens). A socket filter attached to it decides which packets it
/// receives (and sees every packet the interface sends or receives).
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    interface: String,
}

impl PacketSocket {
    /// Opens a socket on `interface` (needs `CAP_NET_RAW`).
    pub fn open(interface: &Interface) -> Result<PacketSocket, KernelError> {
        let ifindex = interface.index()?;
        let fd = sys::packet_socket(ifindex).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                KernelError::PermissionDenied {
                    op: "socket(AF_PACKET)",
                    reason: format!(
                        "opening a raw packet socket on {interface}: {e} (needs root or CAP_NET_RAW)"
                    ),
                }
            } else {
                KernelError::syscall("socket(AF_PACKET)", interface.to_string(), e)
            }
        })?;
        Ok(PacketSocket {
            fd,
            ifindex,
            interface: interface.to_string(),
        })
    }

    /// The interface index it is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The interface as given.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Receives one packet into `buf` without waiting: `Ok(None)` when none is queued,
    /// else the packet's full length (which may exceed `buf.len()`; the rest is cut off).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<usize>, KernelError> {
        sys::recv_nonblocking(self.fd.as_fd(), buf).map_err(|e| {
            KernelError::syscall("recv", format!("packet socket on {}", self.interface), e)
        })
    }

    /// Receives one packet, waiting up to `timeout` for it.
    pub fn recv_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, KernelError> {
        if let Some(n) = self.try_recv(buf)? {
            return Ok(Some(n));
        }
        let ready = sys::poll_readable(self.fd.as_fd(), timeout).map_err(|e| {
            KernelError::syscall("poll", format!("packet socket on {}", self.interface), e)
        })?;
        if ready {
            self.try_recv(buf)
        } else {
            Ok(None)
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
