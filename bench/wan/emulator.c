// ferry-wanemu: the emulated WAN path of `ferry bench wan`.
//
// Two TUN devices, one per network namespace, joined by this process. Every IP packet read from one
// device is written to the other after the path's impairments, independently in each direction:
//
//   1. loss: dropped with probability `loss` (seeded PRNG, so a run repeats), before the bottleneck,
//      like a lossy access link;
//   2. bottleneck: serialised at `rate_mbit`; a packet that would find more than `queue_bytes`
//      waiting ahead of it is dropped (drop-tail);
//   3. propagation: delivered `delay_us` after leaving the bottleneck, plus a uniform extra delay of
//      0..`jitter_us`. Jitter never reorders: a packet is never delivered before the one ahead of it
//      (a path with jitter but no reordering; reordering at 80k packets/s is not what WANs do).
//
// Because nothing reorders, each direction is a FIFO: packets live in one byte ring per direction
// (read() straight into the ring, no allocation per packet), and the next event is the head's due
// time. The loop is epoll over both devices plus one timerfd (absolute, nanoseconds) armed for the
// earliest head; reads are drained in batches.
//
//   ferry-wanemu TUN_A TUN_B key=value...
//     rate_mbit=1000 delay_us=1000 jitter_us=0 loss=0 queue_bytes=262144 mtu=1500 seed=1 max_s=600
//
// Creates both devices (IFF_TUN | IFF_NO_PI, not persistent: they vanish when this process exits),
// prints "ready" on stdout, then runs until SIGTERM/SIGINT, its parent's death (PR_SET_PDEATHSIG) or
// max_s seconds, whichever comes first, and prints its counters as one JSON line on stdout.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HDR 16        // per packet in the ring: due_ns (8), length (4), pad (4)
#define WRAP 0xffffffffu
#define BATCH 64      // reads per device per wake-up

typedef struct {
  int in, out;
  unsigned char *ring;
  size_t cap, head, tail, used;  // bytes; head = oldest packet
  uint64_t link_free_ns;         // when the bottleneck has serialised everything accepted so far
  uint64_t last_due_ns;          // due time of the newest packet (jitter never reorders)
  uint64_t rx, tx, lost, tail_drops, overflow, bytes_tx, write_errors;
} dir_t;

static double rate_mbit = 1000, loss = 0;
static uint64_t delay_ns = 1000000, jitter_ns = 0, queue_bytes = 262144, max_ns = 600000000000ull;
static unsigned mtu = 1500;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

// splitmix64: a uniform double in [0, 1)
static double rnd(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static int open_tun(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { perror("ferry-wanemu: /dev/net/tun"); exit(3); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("ferry-wanemu: TUNSETIFF"); exit(3); }
  return fd;
}

static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static size_t slot_len(uint32_t len) { return (HDR + len + 7) & ~(size_t)7; }

// Where the next packet (at most mtu bytes) goes, or NULL when the ring is full. Marks a wrap when
// the space before the end is too short for a whole packet.
static unsigned char *ring_reserve(dir_t *d) {
  size_t need = slot_len(mtu);
  if (d->used == 0) {
    d->head = d->tail = 0;
    return d->ring;
  }
  if (d->tail > d->head) {  // data in [head, tail): free space at the end, then at the start
    if (d->cap - d->tail >= need) return d->ring + d->tail;
    if (d->head < need) return NULL;
    if (d->cap - d->tail >= HDR) wr32(d->ring + d->tail + 8, WRAP);
    d->used += d->cap - d->tail;
    d->tail = 0;
    return d->ring;
  }
  // data wraps: free space is [tail, head) (none when tail == head)
  return d->head - d->tail >= need ? d->ring + d->tail : NULL;
}

static void ring_commit(dir_t *d, uint32_t len, uint64_t due) {
  unsigned char *p = d->ring + d->tail;
  wr64(p, due);
  wr32(p + 8, len);
  size_t s = slot_len(len);
  d->tail += s;
  d->used += s;
  if (d->tail == d->cap) d->tail = 0;
}

// Head packet, skipping a wrap mark; NULL when empty.
static unsigned char *ring_head(dir_t *d) {
  if (d->used == 0) return NULL;
  if (d->cap - d->head < HDR || rd32(d->ring + d->head + 8) == WRAP) {
    d->used -= d->cap - d->head;
    d->head = 0;
    if (d->used == 0) return NULL;
  }
  return d->ring + d->head;
}

static void ring_pop(dir_t *d, uint32_t len) {
  size_t s = slot_len(len);
  d->head += s;
  d->used -= s;
  if (d->head == d->cap) d->head = 0;
}

// Reads up to BATCH packets from the device and queues (or drops) each.
static void ingest(dir_t *d) {
  for (int i = 0; i < BATCH; i++) {
    unsigned char *slot = ring_reserve(d);
    unsigned char scratch[65536];
    unsigned char *buf = slot ? slot + HDR : scratch;
    ssize_t n = read(d->in, buf, slot ? mtu : sizeof scratch);
    if (n <= 0) return;
    uint64_t now = now_ns();
    d->rx++;
    if (!slot) { d->overflow++; continue; }
    if (loss > 0 && rnd() < loss) { d->lost++; continue; }
    uint64_t start = d->link_free_ns > now ? d->link_free_ns : now;
    if (rate_mbit > 0) {
      double backlog = (double)(start - now) * rate_mbit / 8000.0;  // bytes ahead of this packet
      if (backlog + (double)n > (double)queue_bytes) { d->tail_drops++; continue; }
      d->link_free_ns = start + (uint64_t)((double)n * 8000.0 / rate_mbit);
    } else {
      d->link_free_ns = now;
    }
    uint64_t due = d->link_free_ns + delay_ns;
    if (jitter_ns > 0) due += (uint64_t)(rnd() * (double)jitter_ns);
    if (due < d->last_due_ns) due = d->last_due_ns;
    d->last_due_ns = due;
    ring_commit(d, (uint32_t)n, due);
  }
}

// Writes every packet that is due; returns the next due time (0: nothing queued).
static uint64_t release(dir_t *d, uint64_t now) {
  unsigned char *p;
  while ((p = ring_head(d)) != NULL) {
    uint64_t due = rd64(p);
    if (due > now) return due;
    uint32_t len = rd32(p + 8);
    if (write(d->out, p + HDR, len) == (ssize_t)len) { d->tx++; d->bytes_tx += len; }
    else d->write_errors++;
    ring_pop(d, len);
  }
  return 0;
}

static void print_dir(const char *name, const dir_t *d, const char *sep) {
  printf("\"%s\":{\"packets_in\":%lu,\"packets_out\":%lu,\"lost\":%lu,\"tail_drops\":%lu,"
         "\"overflow\":%lu,\"bytes_out\":%lu,\"write_errors\":%lu}%s",
         name, d->rx, d->tx, d->lost, d->tail_drops, d->overflow, d->bytes_tx, d->write_errors, sep);
}

static int parse(const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq) return -1;
  char *end;
  double v = strtod(eq + 1, &end);
  if (*end != 0 || end == eq + 1 || !(v >= 0)) return -1;
  size_t k = (size_t)(eq - arg);
#define KEY(s) (k == strlen(s) && !strncmp(arg, s, k))
  if (KEY("rate_mbit")) rate_mbit = v;
  else if (KEY("delay_us")) delay_ns = (uint64_t)(v * 1000);
  else if (KEY("jitter_us")) jitter_ns = (uint64_t)(v * 1000);
  else if (KEY("loss") && v <= 1) loss = v;
  else if (KEY("queue_bytes") && v >= 1) queue_bytes = (uint64_t)v;
  else if (KEY("mtu") && v >= 576 && v <= 65535) mtu = (unsigned)v;
  else if (KEY("seed")) rng ^= (uint64_t)v * 0xD1B54A32D192ED03ull;
  else if (KEY("max_s") && v > 0) max_ns = (uint64_t)(v * 1e9);
  else return -1;
  return 0;
#undef KEY
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ferry-wanemu TUN_A TUN_B [rate_mbit=] [delay_us=] [jitter_us=] [loss=] "
                    "[queue_bytes=] [mtu=] [seed=] [max_s=]\n");
    return 2;
  }
  for (int i = 3; i < argc; i++)
    if (parse(argv[i]) < 0) { fprintf(stderr, "ferry-wanemu: bad argument %s\n", argv[i]); return 2; }
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;  // the parent is already gone

  // Ring per direction: the bottleneck queue plus everything in flight on the delay line, with room.
  double bytes_per_ns = rate_mbit > 0 ? rate_mbit / 8000.0 : 1.25;  // unlimited: budget 10 Gbit/s
  double in_flight = bytes_per_ns * (double)(delay_ns + jitter_ns) * 1.5;
  size_t cap = (size_t)in_flight + queue_bytes * 2 + 64 * slot_len(mtu) + (4u << 20);
  if (cap > (1ull << 30)) cap = 1ull << 30;
  cap &= ~(size_t)7;

  static dir_t ab, ba;
  int fa = open_tun(argv[1]), fb = open_tun(argv[2]);
  ab.in = fa; ab.out = fb; ba.in = fb; ba.out = fa;
  ab.cap = ba.cap = cap;
  ab.ring = malloc(cap);
  ba.ring = malloc(cap);
  if (!ab.ring || !ba.ring) { fprintf(stderr, "ferry-wanemu: out of memory\n"); return 3; }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u32 = 0; epoll_ctl(ep, EPOLL_CTL_ADD, fa, &ev);
  ev.data.u32 = 1; epoll_ctl(ep, EPOLL_CTL_ADD, fb, &ev);
  ev.data.u32 = 2; epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.u32 = 3; epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

  printf("ready\n");
  fflush(stdout);

  uint64_t end = now_ns() + max_ns, armed = 0;
  const char *why = "max_s";
  for (;;) {
    uint64_t now = now_ns();
    if (now >= end) break;
    uint64_t n1 = release(&ab, now), n2 = release(&ba, now);
    uint64_t next = end;
    if (n1 && n1 < next) next = n1;
    if (n2 && n2 < next) next = n2;
    if (next != armed) {
      struct itimerspec its = {{0, 0}, {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)}};
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      armed = next;
    }
    struct epoll_event evs[4];
    int n = epoll_wait(ep, evs, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("ferry-wanemu: epoll_wait");
      why = "error";
      break;
    }
    int stop = 0;
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      if (id == 0) ingest(&ab);
      else if (id == 1) ingest(&ba);
      else if (id == 2) { uint64_t x; if (read(tfd, &x, sizeof x) < 0) {} armed = 0; }
      else { stop = 1; why = "signal"; }
    }
    if (stop) break;
  }
  printf("{\"stopped_by\":\"%s\",\"ring_bytes\":%zu,", why, cap);
  print_dir("a_to_b", &ab, ",");
  print_dir("b_to_a", &ba, "}\n");
  fflush(stdout);
  return 0;
}
