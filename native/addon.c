/*
 * ferry's native UDP socket: N-API glue around udp_sys.c.
 *
 * Why: Node's dgram makes one system call and several allocations per datagram. This socket sends
 * a batch with one sendmmsg (each datagram a scatter-gather list, optionally a GSO buffer the kernel
 * cuts into segments) and receives with recvmmsg into one slab that JavaScript allocated once, with
 * one JavaScript callback per batch and the per-datagram facts in a preallocated Uint32Array.
 *
 * Lifetime: the C state lives until both the JavaScript object was finalized and libuv closed the
 * poll handle. While the poll handle is active the object is held strongly, so a receiving socket is
 * never collected; close() inside a callback only sets flags and starts uv_close, and the receive
 * loop checks `closed` after every callback before touching anything again.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "aead.h"
#include "limits.h"
#include "udp_sys.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define HOST_MAX 64
#define CTRL_BYTES CMSG_SPACE(sizeof(int))

typedef struct {
  double send_syscalls, send_batches, sent_datagrams, sent_bytes, gso_sends, would_block, send_errors;
  double recv_syscalls, recv_batches, received_datagrams, received_bytes, gro_datagrams, truncated, recv_errors;
  int last_send_errno, last_recv_errno;
} fs_stats;

typedef struct {
  napi_env env;
  napi_ref self;         /* weak; strong while the poll handle is active */
  int fd;
  int family;
  fu_socket info;
  uv_poll_t poll;
  int poll_events;       /* events the poll handle is started with, 0 when stopped */
  int poll_open;         /* initialised and its close callback not yet run */
  int closed;
  int finalized;
  int receiving;
  int want_write;
  napi_ref on_batch, on_writable, slab_ref, meta_ref;
  napi_async_context async_ctx;
  /* receive: rbatch slots of rslot bytes in the JavaScript slab */
  uint32_t rbatch, rslot;
  uint8_t *rslab;
  struct mmsghdr *rmsg;
  struct iovec *riov;
  struct sockaddr_storage *raddr;
  char *rctrl;
  /* send */
  struct mmsghdr *smsg;
  struct iovec *siov;
  struct sockaddr_storage *sdst;
  char *sctrl;
  fs_stats stats;
} fs_sock;

/* ---------- errors ---------- */

static napi_value throw_errno(napi_env env, const char *call, int err) {
  const char *name = uv_err_name(uv_translate_sys_error(err));
  char msg[256];
  snprintf(msg, sizeof(msg), "%s failed: %s (%s)", call, name, strerror(err));
  napi_value code, message, error, errnum, syscall;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      const napi_extended_error_info *info_ = NULL;                   \
      napi_get_last_error_info(env, &info_);                          \
      bool pending_ = false;                                          \
      napi_is_exception_pending(env, &pending_);                      \
      if (!pending_)                                                  \
        napi_throw_error(env, "ERR_NAPI", info_ && info_->error_message ? info_->error_message : #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* ---------- option readers ---------- */

static int get_int(napi_env env, napi_value obj, const char *name, int fallback, int min, int max, int *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return -1;
  if (!has) {
    *out = fallback;
    return 0;
  }
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) {
    *out = fallback;
    return 0;
  }
  double d;
  char msg[160];
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != (double)(long long)d) {
    snprintf(msg, sizeof(msg), "option %s must be an integer", name);
    throw_type(env, msg);
    return -1;
  }
  if (d < min || d > max) {
    snprintf(msg, sizeof(msg), "option %s must be between %d and %d, got %.0f", name, min, max, d);
    throw_range(env, msg);
    return -1;
  }
  *out = (int)d;
  return 0;
}

static int get_bool(napi_env env, napi_value obj, const char *name, int *out) {
  bool has = false, b = false;
  napi_value v;
  *out = 0;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return -1;
  if (!has) return 0;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return -1;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof(msg), "option %s must be a boolean", name);
    throw_type(env, msg);
    return -1;
  }
  *out = b;
  return 0;
}

static int get_host(napi_env env, napi_value obj, const char *name, char *buf, size_t size) {
  napi_value v;
  size_t len = 0;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return -1;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof(msg), "option %s must be a numeric IP address string", name);
    throw_type(env, msg);
    return -1;
  }
  if (len + 1 >= size) {
    throw_range(env, "host is too long for an IP address");
    return -1;
  }
  return 0;
}

/* ---------- lifetime ---------- */

static void free_sock(fs_sock *s) {
  free(s->rmsg);
  free(s->riov);
  free(s->raddr);
  free(s->rctrl);
  free(s->smsg);
  free(s->siov);
  free(s->sdst);
  free(s->sctrl);
  free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  fs_sock *s = h->data;
  s->poll_open = 0;
  if (s->finalized) free_sock(s);
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref) napi_delete_reference(env, *ref);
  *ref = NULL;
}

static void cleanup_hook(void *arg);

/* Stops everything; safe to call twice, from a callback, a finalizer or environment teardown. */
static void close_sock(fs_sock *s, int from_hook) {
  if (s->closed) return;
  s->closed = 1;
  s->receiving = 0;
  s->want_write = 0;
  napi_env env = s->env;
  if (s->poll_events) {
    uv_poll_stop(&s->poll);
    s->poll_events = 0;
    napi_reference_unref(env, s->self, NULL);
  }
  if (s->poll_open) uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  delete_ref(env, &s->on_batch);
  delete_ref(env, &s->on_writable);
  delete_ref(env, &s->slab_ref);
  delete_ref(env, &s->meta_ref);
  s->rslab = NULL;
  if (s->async_ctx) napi_async_destroy(env, s->async_ctx);
  s->async_ctx = NULL;
  if (!from_hook) napi_remove_env_cleanup_hook(env, cleanup_hook, s);
}

static void cleanup_hook(void *arg) { close_sock((fs_sock *)arg, 1); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  fs_sock *s = data;
  close_sock(s, 0);
  delete_ref(env, &s->self);
  s->finalized = 1;
  if (!s->poll_open) free_sock(s);
}

/* ---------- polling ---------- */

static void on_poll(uv_poll_t *h, int status, int events);

static int update_poll(fs_sock *s) {
  if (s->closed) return 0;
  int want = (s->receiving ? UV_READABLE : 0) | (s->want_write ? UV_WRITABLE : 0);
  if (want == s->poll_events) return 0;
  if (want == 0) {
    uv_poll_stop(&s->poll);
    s->poll_events = 0;
    napi_reference_unref(s->env, s->self, NULL);
    return 0;
  }
  int r = uv_poll_start(&s->poll, want, on_poll);
  if (r != 0) return r;
  if (s->poll_events == 0) napi_reference_ref(s->env, s->self, NULL);
  s->poll_events = want;
  return 0;
}

/* Calls fn(argc, argv) as a libuv-originated callback; an exception becomes an uncaught exception. */
static void call_js(fs_sock *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, self, result;
  if (!fn_ref || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || !fn) return;
  if (napi_get_reference_value(env, s->self, &self) != napi_ok || !self) napi_get_global(env, &self);
  if (napi_make_callback(env, s->async_ctx, self, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

static void stop_receiving_fatal(fs_sock *s, const char *msg) {
  s->receiving = 0;
  update_poll(s);
  napi_value err, m;
  napi_create_string_utf8(s->env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(s->env, NULL, m, &err);
  napi_fatal_exception(s->env, err);
}

/* Reads the slab and metadata pointers again (they move only if JavaScript detached the buffers). */
static int refresh_receive_views(fs_sock *s, uint32_t **meta) {
  napi_env env = s->env;
  napi_value slab, meta_v;
  void *data = NULL, *mdata = NULL;
  size_t len = 0, mlen = 0;
  napi_typedarray_type mt;
  if (napi_get_reference_value(env, s->slab_ref, &slab) != napi_ok || !slab ||
      napi_get_arraybuffer_info(env, slab, &data, &len) != napi_ok ||
      napi_get_reference_value(env, s->meta_ref, &meta_v) != napi_ok || !meta_v ||
      napi_get_typedarray_info(env, meta_v, &mt, &mlen, &mdata, NULL, NULL) != napi_ok)
    return -1;
  if (!data || len < (size_t)s->rbatch * s->rslot || !mdata || mlen < (size_t)s->rbatch * FERRY_META_STRIDE) return -1;
  if (data != s->rslab) {
    s->rslab = data;
    for (uint32_t i = 0; i < s->rbatch; i++) s->riov[i].iov_base = (uint8_t *)data + (size_t)i * s->rslot;
  }
  *meta = mdata;
  return 0;
}

static int gro_segment(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
      int seg;
      memcpy(&seg, CMSG_DATA(c), sizeof(seg));
      return seg;
    }
  }
  return 0;
}

static void receive_rounds(fs_sock *s) {
  for (int round = 0; round < FERRY_MAX_RECV_ROUNDS && s->receiving && !s->closed; round++) {
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    uint32_t *meta = NULL;
    if (refresh_receive_views(s, &meta) != 0) {
      stop_receiving_fatal(s, "native UDP socket: the receive slab or metadata array was detached or shrunk");
      napi_close_handle_scope(s->env, scope);
      return;
    }
    for (uint32_t i = 0; i < s->rbatch; i++) {
      s->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsg[i].msg_hdr.msg_controllen = s->info.gro ? CTRL_BYTES : 0;
      s->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rmsg, s->rbatch, MSG_DONTWAIT, NULL);
    s->stats.recv_syscalls++;
    if (n < 0) {
      int e = errno;
      napi_close_handle_scope(s->env, scope);
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) {
        s->stats.recv_errors++;
        s->stats.last_recv_errno = e;
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      struct msghdr *m = &s->rmsg[i].msg_hdr;
      uint32_t *rec = meta + (size_t)i * FERRY_META_STRIDE;
      uint32_t len = s->rmsg[i].msg_len;
      int seg = s->info.gro ? gro_segment(m) : 0;
      uint32_t flags = fu_words_from_sockaddr(&s->raddr[i], rec + FERRY_META_ADDR);
      if (m->msg_flags & MSG_TRUNC) {
        flags |= FERRY_FLAG_TRUNCATED;
        s->stats.truncated++;
      }
      rec[FERRY_META_OFFSET] = (uint32_t)i * s->rslot;
      rec[FERRY_META_LENGTH] = len;
      rec[FERRY_META_SEGMENT] = seg > 0 && (uint32_t)seg < len ? (uint32_t)seg : 0;
      rec[FERRY_META_PORT_FLAGS] = flags;
      s->stats.received_bytes += len;
      if (rec[FERRY_META_SEGMENT]) s->stats.gro_datagrams++;
    }
    s->stats.recv_batches++;
    s->stats.received_datagrams += n;
    napi_value count;
    napi_create_int32(s->env, n, &count);
    call_js(s, s->on_batch, 1, &count);
    napi_close_handle_scope(s->env, scope);
    if ((uint32_t)n < s->rbatch) return; /* drained: no need for a syscall that says EAGAIN */
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  fs_sock *s = h->data;
  if (s->closed) return;
  if (status < 0) events |= s->poll_events; /* an error: let recvmmsg/sendmmsg pick it up */
  if ((events & UV_WRITABLE) && s->want_write) {
    s->want_write = 0;
    update_poll(s);
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    call_js(s, s->on_writable, 0, NULL);
    napi_close_handle_scope(s->env, scope);
    if (s->closed) return;
  }
  if ((events & UV_READABLE) && s->receiving) receive_rounds(s);
}

/* ---------- methods ---------- */

static fs_sock *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, int need_open) {
  napi_value self;
  fs_sock *s = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a native UDP socket");
    return NULL;
  }
  if (need_open && s->closed) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "the native UDP socket is closed");
    return NULL;
  }
  return s;
}

static napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object) return throw_type(env, "new UdpSocket(options): options must be an object");
  char host[HOST_MAX];
  fu_open_opts o;
  memset(&o, 0, sizeof(o));
  if (get_int(env, argv[0], "family", 4, 4, 6, &o.family)) return NULL;
  if (o.family == 5) return throw_range(env, "option family must be 4 or 6");
  if (      get_host(env, argv[0], "host", host, sizeof(host)) || get_int(env, argv[0], "port", 0, 0, 65535, &o.port) ||
      get_bool(env, argv[0], "reusePort", &o.reuse_port) || get_bool(env, argv[0], "ipv6Only", &o.ipv6_only) ||
      get_int(env, argv[0], "sendBufferBytes", 0, 0, FERRY_MAX_SOCKET_BUFFER_BYTES, &o.send_buffer_bytes) ||
      get_int(env, argv[0], "recvBufferBytes", 0, 0, FERRY_MAX_SOCKET_BUFFER_BYTES, &o.recv_buffer_bytes) ||
      get_int(env, argv[0], "pmtud", FU_PMTUD_PROBE, FU_PMTUD_OFF, FU_PMTUD_PROBE, &o.pmtud) ||
      get_bool(env, argv[0], "gro", &o.gro))
    return NULL;
  o.host = host;

  fs_sock *s = calloc(1, sizeof(*s));
  if (!s) return throw_errno(env, "calloc", ENOMEM);
  s->env = env;
  s->fd = -1;
  s->family = o.family;
  s->smsg = calloc(FERRY_MAX_SEND_BATCH, sizeof(*s->smsg));
  s->siov = calloc(FERRY_MAX_SEND_SLICES, sizeof(*s->siov));
  s->sdst = calloc(FERRY_MAX_SEND_BATCH, sizeof(*s->sdst));
  s->sctrl = calloc(FERRY_MAX_SEND_BATCH, CTRL_BYTES);
  if (!s->smsg || !s->siov || !s->sdst || !s->sctrl) {
    free_sock(s);
    return throw_errno(env, "calloc", ENOMEM);
  }
  const char *failed = "open";
  int err = fu_open(&o, &s->info, &failed);
  if (err) {
    free_sock(s);
    char call[160];
    snprintf(call, sizeof(call), "%s %s:%d", failed, host, o.port);
    return throw_errno(env, call, err);
  }
  s->fd = s->info.fd;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init_socket(loop, &s->poll, s->fd) != 0) {
    close(s->fd);
    free_sock(s);
    return throw_errno(env, "uv_poll_init_socket", EINVAL);
  }
  s->poll.data = s;
  s->poll_open = 1;
  napi_value name;
  napi_create_string_utf8(env, "ferry:NativeUdpSocket", NAPI_AUTO_LENGTH, &name);
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok ||
      napi_create_reference(env, self, 0, &s->self) != napi_ok ||
      napi_async_init(env, self, name, &s->async_ctx) != napi_ok) {
    /* cannot happen short of memory exhaustion; the state is freed when the poll handle closes */
    s->finalized = 1;
    close_sock(s, 1);
    return throw_errno(env, "napi_wrap", EINVAL);
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  return self;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (s) close_sock(s, 0);
  return NULL;
}

/* startReceive(slab: ArrayBuffer, meta: Uint32Array, slotBytes, batch, onBatch(count)) */
static napi_value StartReceive(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  fs_sock *s = unwrap(env, info, &argc, argv, 1);
  if (!s) return NULL;
  if (argc < 5) return throw_type(env, "startReceive(slab, meta, slotBytes, batch, onBatch) takes 5 arguments");
  if (s->receiving) return throw_range(env, "the socket is already receiving");
  bool is_ab = false, is_ta = false;
  napi_valuetype ft;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  napi_is_typedarray(env, argv[1], &is_ta);
  napi_typeof(env, argv[4], &ft);
  if (!is_ab) return throw_type(env, "slab must be an ArrayBuffer");
  if (!is_ta) return throw_type(env, "meta must be a Uint32Array");
  if (ft != napi_function) return throw_type(env, "onBatch must be a function");
  uint32_t slot = 0, batch = 0;
  if (napi_get_value_uint32(env, argv[2], &slot) != napi_ok || napi_get_value_uint32(env, argv[3], &batch) != napi_ok)
    return throw_type(env, "slotBytes and batch must be integers");
  if (slot < FERRY_MIN_RECV_SLOT_BYTES || slot > FERRY_MAX_RECV_SLOT_BYTES) return throw_range(env, "slotBytes out of range");
  if (s->info.gro && slot < FERRY_MAX_RECV_SLOT_BYTES) return throw_range(env, "a GRO socket needs the largest slotBytes (coalesced datagrams reach 64 KiB)");
  if (batch < 1 || batch > FERRY_MAX_RECV_BATCH) return throw_range(env, "batch out of range");
  if ((size_t)slot * batch > FERRY_MAX_SLAB_BYTES) return throw_range(env, "slotBytes x batch exceeds the largest slab");
  void *data = NULL, *mdata = NULL;
  size_t len = 0, mlen = 0;
  napi_typedarray_type mt;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &len));
  CHECK(napi_get_typedarray_info(env, argv[1], &mt, &mlen, &mdata, NULL, NULL));
  if (mt != napi_uint32_array) return throw_type(env, "meta must be a Uint32Array");
  if (len < (size_t)slot * batch) return throw_range(env, "slab is smaller than slotBytes x batch");
  if (mlen < (size_t)batch * FERRY_META_STRIDE) return throw_range(env, "meta is shorter than batch x META_STRIDE");

  /* (re)size the receive vectors for this batch */
  free(s->rmsg);
  free(s->riov);
  free(s->raddr);
  free(s->rctrl);
  s->rmsg = calloc(batch, sizeof(*s->rmsg));
  s->riov = calloc(batch, sizeof(*s->riov));
  s->raddr = calloc(batch, sizeof(*s->raddr));
  s->rctrl = calloc(batch, CTRL_BYTES);
  if (!s->rmsg || !s->riov || !s->raddr || !s->rctrl) return throw_errno(env, "calloc", ENOMEM);
  s->rbatch = batch;
  s->rslot = slot;
  s->rslab = data;
  for (uint32_t i = 0; i < batch; i++) {
    s->riov[i].iov_base = (uint8_t *)data + (size_t)i * slot;
    s->riov[i].iov_len = slot;
    struct msghdr *m = &s->rmsg[i].msg_hdr;
    m->msg_name = &s->raddr[i];
    m->msg_iov = &s->riov[i];
    m->msg_iovlen = 1;
    m->msg_control = s->info.gro ? s->rctrl + (size_t)i * CTRL_BYTES : NULL;
  }
  delete_ref(env, &s->slab_ref);
  delete_ref(env, &s->meta_ref);
  delete_ref(env, &s->on_batch);
  CHECK(napi_create_reference(env, argv[0], 1, &s->slab_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &s->meta_ref));
  CHECK(napi_create_reference(env, argv[4], 1, &s->on_batch));
  s->receiving = 1;
  int r = update_poll(s);
  if (r) {
    s->receiving = 0;
    return throw_errno(env, "uv_poll_start", -r);
  }
  return NULL;
}

static napi_value StopReceive(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (!s || s->closed) return NULL;
  s->receiving = 0;
  update_poll(s);
  return NULL;
}

/* awaitWritable(onWritable): calls onWritable once, when the socket can take datagrams again. */
static napi_value AwaitWritable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  fs_sock *s = unwrap(env, info, &argc, argv, 1);
  if (!s) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_function) return throw_type(env, "awaitWritable(onWritable): onWritable must be a function");
  bool same = false;
  if (s->on_writable) {
    napi_value cur;
    napi_get_reference_value(env, s->on_writable, &cur);
    if (cur) napi_strict_equals(env, cur, argv[0], &same);
  }
  if (!same) {
    delete_ref(env, &s->on_writable);
    CHECK(napi_create_reference(env, argv[0], 1, &s->on_writable));
  }
  s->want_write = 1;
  int r = update_poll(s);
  if (r) {
    s->want_write = 0;
    return throw_errno(env, "uv_poll_start", -r);
  }
  return NULL;
}

/* Reads one slice of the list: any Uint8Array (Buffer included). */
static int slice_at(napi_env env, napi_value list, uint32_t k, struct iovec *iov, size_t *total) {
  napi_value v;
  napi_typedarray_type t;
  size_t len = 0;
  void *data = NULL;
  bool is_ta = false;
  if (napi_get_element(env, list, k, &v) != napi_ok) return -1;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &t, &len, &data, NULL, NULL) != napi_ok || t != napi_uint8_array) {
    char msg[96];
    snprintf(msg, sizeof(msg), "slice %u is not a Uint8Array", k);
    throw_type(env, msg);
    return -1;
  }
  iov->iov_base = data;
  iov->iov_len = len;
  *total += len;
  return 0;
}

/* Fills smsg[i] from descriptor i and its slices; returns -1 with an exception pending on bad input. */
static int build_datagram(fs_sock *s, napi_value list, const uint32_t *d, uint32_t i, uint32_t *k) {
  napi_env env = s->env;
  uint32_t nslices = d[FERRY_DESC_SLICES], pf = d[FERRY_DESC_PORT_FLAGS], seg = d[FERRY_DESC_SEGMENT];
  char msg[160];
  if (nslices > FERRY_MAX_SLICES_PER_DATAGRAM || *k + nslices > FERRY_MAX_SEND_SLICES) {
    snprintf(msg, sizeof(msg), "datagram %u: %u slices (at most %d each, %d per batch)", i, nslices,
             FERRY_MAX_SLICES_PER_DATAGRAM, FERRY_MAX_SEND_SLICES);
    throw_range(env, msg);
    return -1;
  }
  if (((pf & FERRY_FLAG_IPV6) != 0) != (s->family == 6)) {
    snprintf(msg, sizeof(msg), "datagram %u: destination family does not match the IPv%d socket", i, s->family);
    throw_range(env, msg);
    return -1;
  }
  if ((pf & 0xffff) == 0) {
    snprintf(msg, sizeof(msg), "datagram %u: destination port 0", i);
    throw_range(env, msg);
    return -1;
  }
  struct msghdr *m = &s->smsg[i].msg_hdr;
  size_t total = 0;
  for (uint32_t j = 0; j < nslices; j++)
    if (slice_at(env, list, *k + j, &s->siov[*k + j], &total)) return -1;
  m->msg_name = &s->sdst[i];
  m->msg_namelen = fu_sockaddr_from_words(pf, d + FERRY_DESC_ADDR, &s->sdst[i]);
  m->msg_iov = &s->siov[*k];
  m->msg_iovlen = nslices;
  m->msg_control = NULL;
  m->msg_controllen = 0;
  m->msg_flags = 0;
  *k += nslices;
  if (seg == 0) return 0;
  if (!s->info.gso) {
    throw_range(env, "segmentBytes > 0 needs UDP GSO, which this kernel or socket lacks (check gso first)");
    return -1;
  }
  if (seg > FERRY_MAX_DATAGRAM_BYTES || total > FERRY_MAX_DATAGRAM_BYTES ||
      (total + seg - 1) / seg > FERRY_MAX_GSO_SEGMENTS) {
    snprintf(msg, sizeof(msg), "datagram %u: %zu bytes in segments of %u (at most %d bytes, %d segments)", i, total,
             seg, FERRY_MAX_DATAGRAM_BYTES, FERRY_MAX_GSO_SEGMENTS);
    throw_range(env, msg);
    return -1;
  }
  char *ctrl = s->sctrl + (size_t)i * CTRL_BYTES;
  memset(ctrl, 0, CTRL_BYTES);
  m->msg_control = ctrl;
  m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
  struct cmsghdr *c = CMSG_FIRSTHDR(m);
  c->cmsg_level = IPPROTO_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t seg16 = (uint16_t)seg;
  memcpy(CMSG_DATA(c), &seg16, sizeof(seg16));
  return 0;
}

/*
 * sendBatch(slices: Uint8Array[], desc: Uint32Array, count): datagrams the kernel took or refused.
 * Stops early only when the socket buffer is full (EAGAIN): JavaScript then awaits writability and
 * sends the rest. A datagram the kernel refuses (EMSGSIZE, ENETUNREACH...) counts as sent and lost,
 * as UDP loss is, and is recorded in the stats (sendErrors, lastSendError).
 */
static napi_value SendBatch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  fs_sock *s = unwrap(env, info, &argc, argv, 1);
  if (!s) return NULL;
  if (argc < 3) return throw_type(env, "sendBatch(slices, desc, count) takes 3 arguments");
  bool is_array = false, is_ta = false;
  napi_is_array(env, argv[0], &is_array);
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_array) return throw_type(env, "slices must be an Array of Uint8Array");
  if (!is_ta) return throw_type(env, "desc must be a Uint32Array");
  uint32_t count = 0, nlist = 0;
  if (napi_get_value_uint32(env, argv[2], &count) != napi_ok) return throw_type(env, "count must be an integer");
  if (count > FERRY_MAX_SEND_BATCH) return throw_range(env, "count exceeds the largest send batch");
  napi_typedarray_type dt;
  size_t dlen = 0;
  void *ddata = NULL;
  CHECK(napi_get_typedarray_info(env, argv[1], &dt, &dlen, &ddata, NULL, NULL));
  if (dt != napi_uint32_array) return throw_type(env, "desc must be a Uint32Array");
  if (dlen < (size_t)count * FERRY_DESC_STRIDE) return throw_range(env, "desc is shorter than count x DESC_STRIDE");
  CHECK(napi_get_array_length(env, argv[0], &nlist));
  const uint32_t *desc = ddata;
  uint32_t k = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (k + desc[(size_t)i * FERRY_DESC_STRIDE + FERRY_DESC_SLICES] > nlist)
      return throw_range(env, "the descriptors name more slices than the slice list holds");
    if (build_datagram(s, argv[0], desc + (size_t)i * FERRY_DESC_STRIDE, i, &k)) return NULL;
  }
  uint32_t done = 0;
  while (done < count) {
    int n = sendmmsg(s->fd, s->smsg + done, count - done, MSG_DONTWAIT);
    s->stats.send_syscalls++;
    if (n > 0) {
      for (uint32_t i = done; i < done + (uint32_t)n; i++) {
        s->stats.sent_bytes += s->smsg[i].msg_len;
        if (s->smsg[i].msg_hdr.msg_control) s->stats.gso_sends++;
      }
      s->stats.sent_datagrams += n;
      done += (uint32_t)n;
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      s->stats.would_block++;
      break;
    }
    s->stats.send_errors++;
    s->stats.last_send_errno = e;
    done++; /* the kernel refused datagram `done`: lost, as UDP may lose it */
  }
  if (count) s->stats.send_batches++;
  napi_value out;
  napi_create_uint32(env, done, &out);
  return out;
}

static void set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static void set_bool(napi_env env, napi_value obj, const char *name, int v) {
  napi_value b;
  napi_get_boolean(env, v != 0, &b);
  napi_set_named_property(env, obj, name, b);
}

static void set_errno_name(napi_env env, napi_value obj, const char *name, int e) {
  napi_value v;
  if (e) napi_create_string_utf8(env, uv_err_name(uv_translate_sys_error(e)), NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, name, v);
}

static napi_value Info(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (!s) return NULL;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "family", s->family);
  set_num(env, o, "port", s->info.port);
  set_num(env, o, "fd", s->fd);
  set_num(env, o, "sendBufferBytes", s->info.send_buffer_bytes);
  set_num(env, o, "recvBufferBytes", s->info.recv_buffer_bytes);
  set_bool(env, o, "gso", s->info.gso);
  set_bool(env, o, "gro", s->info.gro);
  set_bool(env, o, "closed", s->closed);
  return o;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (!s) return NULL;
  const fs_stats *st = &s->stats;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "sendSyscalls", st->send_syscalls);
  set_num(env, o, "sendBatches", st->send_batches);
  set_num(env, o, "sentDatagrams", st->sent_datagrams);
  set_num(env, o, "sentBytes", st->sent_bytes);
  set_num(env, o, "gsoSends", st->gso_sends);
  set_num(env, o, "wouldBlock", st->would_block);
  set_num(env, o, "sendErrors", st->send_errors);
  set_errno_name(env, o, "lastSendError", st->last_send_errno);
  set_num(env, o, "recvSyscalls", st->recv_syscalls);
  set_num(env, o, "recvBatches", st->recv_batches);
  set_num(env, o, "receivedDatagrams", st->received_datagrams);
  set_num(env, o, "receivedBytes", st->received_bytes);
  set_num(env, o, "groDatagrams", st->gro_datagrams);
  set_num(env, o, "truncated", st->truncated);
  set_num(env, o, "recvErrors", st->recv_errors);
  set_errno_name(env, o, "lastRecvError", st->last_recv_errno);
  return o;
}

static napi_value Ref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (s && !s->closed) uv_ref((uv_handle_t *)&s->poll);
  return NULL;
}

static napi_value Unref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  fs_sock *s = unwrap(env, info, &argc, NULL, 0);
  if (s && !s->closed) uv_unref((uv_handle_t *)&s->poll);
  return NULL;
}

/* routeMtu(family, host, port): the MTU of the interface the route to host goes through. */
static napi_value RouteMtu(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "routeMtu(family, host, port) takes 3 arguments");
  uint32_t family = 0, port = 0;
  char host[HOST_MAX];
  size_t len = 0;
  if (napi_get_value_uint32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6))
    return throw_range(env, "family must be 4 or 6");
  if (napi_get_value_string_utf8(env, argv[1], host, sizeof(host), &len) != napi_ok || len + 1 >= sizeof(host))
    return throw_type(env, "host must be a numeric IP address string");
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535)
    return throw_range(env, "port must be between 1 and 65535");
  int mtu = 0;
  const char *failed = "routeMtu";
  int err = fu_route_mtu((int)family, host, (int)port, &mtu, &failed);
  if (err) return throw_errno(env, failed, err);
  napi_value out;
  napi_create_int32(env, mtu, &out);
  return out;
}

static napi_value Limits(napi_env env) {
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "MAX_SEND_BATCH", FERRY_MAX_SEND_BATCH);
  set_num(env, o, "MAX_SEND_SLICES", FERRY_MAX_SEND_SLICES);
  set_num(env, o, "MAX_SLICES_PER_DATAGRAM", FERRY_MAX_SLICES_PER_DATAGRAM);
  set_num(env, o, "MAX_RECV_BATCH", FERRY_MAX_RECV_BATCH);
  set_num(env, o, "MIN_RECV_SLOT_BYTES", FERRY_MIN_RECV_SLOT_BYTES);
  set_num(env, o, "MAX_RECV_SLOT_BYTES", FERRY_MAX_RECV_SLOT_BYTES);
  set_num(env, o, "MAX_SLAB_BYTES", FERRY_MAX_SLAB_BYTES);
  set_num(env, o, "MAX_RECV_ROUNDS", FERRY_MAX_RECV_ROUNDS);
  set_num(env, o, "MAX_GSO_SEGMENTS", FERRY_MAX_GSO_SEGMENTS);
  set_num(env, o, "MAX_DATAGRAM_BYTES", FERRY_MAX_DATAGRAM_BYTES);
  set_num(env, o, "MAX_SOCKET_BUFFER_BYTES", FERRY_MAX_SOCKET_BUFFER_BYTES);
  set_num(env, o, "META_STRIDE", FERRY_META_STRIDE);
  set_num(env, o, "DESC_STRIDE", FERRY_DESC_STRIDE);
  return o;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
      {"startReceive", NULL, StartReceive, NULL, NULL, NULL, napi_default, NULL},
      {"stopReceive", NULL, StopReceive, NULL, NULL, NULL, napi_default, NULL},
      {"awaitWritable", NULL, AwaitWritable, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, SendBatch, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, Ref, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, Unref, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, fn;
  CHECK(napi_define_class(env, "UdpSocket", NAPI_AUTO_LENGTH, Construct, NULL, sizeof(methods) / sizeof(methods[0]),
                          methods, &cls));
  CHECK(napi_set_named_property(env, exports, "UdpSocket", cls));
  CHECK(napi_create_function(env, "routeMtu", NAPI_AUTO_LENGTH, RouteMtu, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "routeMtu", fn));
  CHECK(napi_set_named_property(env, exports, "limits", Limits(env)));
  CHECK(fa_register(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
