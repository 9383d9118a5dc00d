/*
 * System calls behind the native UDP socket (see udp_sys.h). Linux only: sendmmsg/recvmmsg, UDP GSO
 * (UDP_SEGMENT, 4.18) and GRO (UDP_GRO, 5.0) are Linux features; binding.gyp builds this on Linux alone.
 */
#define _GNU_SOURCE
#include "udp_sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return EINVAL;
    *len = sizeof(*sin);
    return 0;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) return EINVAL;
  *len = sizeof(*sin6);
  return 0;
}

/* Asks for a buffer size; past rmem_max/wmem_max the FORCE variant works for CAP_NET_ADMIN. */
static int set_buffer(int fd, int opt, int force_opt, int bytes, int *granted) {
  if (bytes > 0) {
    if (bytes > FERRY_MAX_SOCKET_BUFFER_BYTES) bytes = FERRY_MAX_SOCKET_BUFFER_BYTES;
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) != 0 &&
        setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) != 0)
      return errno;
  }
  socklen_t len = sizeof(*granted);
  return getsockopt(fd, SOL_SOCKET, opt, granted, &len) == 0 ? 0 : errno;
}

/* Don't-fragment modes. A dual-stack IPv6 socket also gets the IPv4 option, for IPv4-mapped peers. */
static int set_pmtud(int fd, int family, int dual_stack, int mode) {
  int v4 = mode == FU_PMTUD_PROBE ? IP_PMTUDISC_PROBE : mode == FU_PMTUD_DO ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
  if (family == 4) return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4)) == 0 ? 0 : errno;
  int v6 = mode == FU_PMTUD_PROBE ? IPV6_PMTUDISC_PROBE : mode == FU_PMTUD_DO ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_DONT;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6)) != 0) return errno;
  if (dual_stack && setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4)) != 0) return errno;
  return 0;
}

/* Records the failing call and its errno, then closes the socket (label `fail`). */
#define FAIL(call)         \
  do {                     \
    err = errno;           \
    *failed_call = (call); \
    goto fail;             \
  } while (0)
#define FAIL_WITH(call, e) \
  do {                     \
    err = (e);             \
    *failed_call = (call); \
    goto fail;             \
  } while (0)

int fu_open(const fu_open_opts *o, fu_socket *out, const char **failed_call) {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int err = parse_address(o->family, o->host, o->port, &ss, &len);
  if (err) {
    *failed_call = "inet_pton";
    return err;
  }
  int fd = socket(o->family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failed_call = "socket";
    return errno;
  }
  int one = 1;
  if (o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) FAIL("setsockopt(SO_REUSEPORT)");
  if (o->family == 6) {
    int v6only = o->ipv6_only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) FAIL("setsockopt(IPV6_V6ONLY)");
  }
  if ((err = set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, o->send_buffer_bytes, &out->send_buffer_bytes)))
    FAIL_WITH("setsockopt(SO_SNDBUF)", err);
  if ((err = set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, o->recv_buffer_bytes, &out->recv_buffer_bytes)))
    FAIL_WITH("setsockopt(SO_RCVBUF)", err);
  if ((err = set_pmtud(fd, o->family, o->family == 6 && !o->ipv6_only, o->pmtud)))
    FAIL_WITH("setsockopt(IP_MTU_DISCOVER)", err);
  /* GSO probe: the option exists (4.18+) when reading it succeeds. */
  int seg = 0;
  socklen_t seglen = sizeof(seg);
  out->gso = getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &seg, &seglen) == 0;
  out->gro = o->gro && setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) FAIL("bind");
  len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) FAIL("getsockname");
  out->port = ntohs(o->family == 4 ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  out->fd = fd;
  return 0;
fail:
  close(fd);
  return err;
}

socklen_t fu_sockaddr_from_words(uint32_t port_flags, const uint32_t *addr, struct sockaddr_storage *ss) {
  uint16_t port = htons((uint16_t)(port_flags & 0xffff));
  if (port_flags & FERRY_FLAG_IPV6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(sin6, 0, sizeof(*sin6));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = port;
    memcpy(&sin6->sin6_addr, addr, 16);
    return sizeof(*sin6);
  }
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(sin, 0, sizeof(*sin));
  sin->sin_family = AF_INET;
  sin->sin_port = port;
  memcpy(&sin->sin_addr, addr, 4);
  return sizeof(*sin);
}

uint32_t fu_words_from_sockaddr(const struct sockaddr_storage *ss, uint32_t *addr) {
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    memcpy(addr, &sin6->sin6_addr, 16);
    return ntohs(sin6->sin6_port) | FERRY_FLAG_IPV6;
  }
  const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
  memcpy(addr, &sin->sin_addr, 4);
  addr[1] = addr[2] = addr[3] = 0;
  return ntohs(sin->sin_port);
}

int fu_route_mtu(int family, const char *host, int port, int *mtu, const char **failed_call) {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int err = parse_address(family, host, port, &ss, &len);
  if (err) {
    *failed_call = "inet_pton";
    return err;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failed_call = "socket";
    return errno;
  }
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) FAIL("connect");
  socklen_t mlen = sizeof(*mtu);
  if (family == 4 ? getsockopt(fd, IPPROTO_IP, IP_MTU, mtu, &mlen) : getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, mtu, &mlen))
    FAIL("getsockopt(IP_MTU)");
  close(fd);
  return 0;
fail:
  close(fd);
  return err;
}
