// The native UDP socket (addon in native/, built at install): loader, socket, send batch, addresses.
export {
  defaultAddonPath,
  loadNativeUdp,
  nativeUdpAddon,
  nativeUdpStatus,
  requireNativeUdp,
  selectSocketKind,
  type NativeUdpAddon,
  type NativeUdpStats,
  type NativeUdpStatus,
  type SocketKind,
} from './addon.js';
export { parseDestination, formatIPv6, SourceCache, type Destination, type UdpAddress } from './address.js';
export { NATIVE_UDP_DEFAULTS, NATIVE_UDP_LIMITS } from './native-limits.js';
export { NativeUdpSocket, ReceivedBatch, type NativeUdpSocketOptions } from './native-udp-socket.js';
export { SendBatch } from './send-batch.js';
