/*
 * The system-call side of the native UDP socket: opening and tuning the socket, the address layout
 * shared with JavaScript, and the route MTU query. No N-API here, so this half reads as plain POSIX
 * and every function returns 0 or an errno value (with the failing call's name) instead of throwing.
 */
#ifndef FERRY_UDP_SYS_H
#define FERRY_UDP_SYS_H

#include <stdint.h>
#include <sys/socket.h>

enum fu_pmtud { FU_PMTUD_OFF = 0, FU_PMTUD_DO = 1, FU_PMTUD_PROBE = 2 };

typedef struct {
  int family; /* 4 or 6 */
  const char *host;
  int port;
  int reuse_port;
  int ipv6_only;
  int send_buffer_bytes; /* 0: leave the kernel default */
  int recv_buffer_bytes;
  int pmtud;
  int gro; /* ask for UDP_GRO */
} fu_open_opts;

typedef struct {
  int fd;
  int port;
  int send_buffer_bytes; /* granted, as the kernel reports it */
  int recv_buffer_bytes;
  int gso; /* UDP_SEGMENT works on this socket */
  int gro; /* UDP_GRO is on */
} fu_socket;

/* Opens, tunes and binds a non-blocking UDP socket. On failure returns errno and sets *failed_call. */
int fu_open(const fu_open_opts *opts, fu_socket *out, const char **failed_call);

/* Fills a sockaddr from the JavaScript layout (port | flags word, 4 address words). */
socklen_t fu_sockaddr_from_words(uint32_t port_flags, const uint32_t *addr, struct sockaddr_storage *ss);

/* The reverse: a received source address into the JavaScript layout; returns the port | flags word. */
uint32_t fu_words_from_sockaddr(const struct sockaddr_storage *ss, uint32_t *addr);

/* MTU of the route to host:port (a connected probe socket, IP_MTU / IPV6_MTU; nothing is sent). */
int fu_route_mtu(int family, const char *host, int port, int *mtu, const char **failed_call);

#endif
