/*
 * AES-256-GCM per direction with one EVP_CIPHER_CTX kept for the session: the key schedule runs once
 * (constructor), each call only sets the nonce. The OpenSSL symbols are node's own (statically linked
 * and exported by the node binary), so the addon links against nothing else.
 *
 * Nonce: IV base XOR the 64-bit big-endian number `pn` in the last 8 bytes (as the TypeScript path).
 * Open decrypts into a scratch area owned by the context and copies the plaintext into the caller's
 * buffer only once the tag holds, so a forged packet never leaves plaintext where JavaScript sees it.
 *
 *   new Aead(key: Uint8Array(32), ivBase: Uint8Array(12), encrypt: boolean)
 *   seal(buf, aadBytes, length, slices|undefined, sliceCount, pn) -> sealed length (aad included)
 *       aad = buf[0, aadBytes); plaintext = buf[aadBytes, length) ++ slices; ciphertext in place
 *       from aadBytes, tag after it. Throws RangeError when buf lacks room.
 *   open(buf, aadBytes, pn) -> boolean
 *       aad = buf[0, aadBytes); ciphertext = buf[aadBytes, len - 16); tag = last 16 bytes.
 *   sealTo(aad, out, slices, sliceCount, pn) -> bytes written to out (ciphertext + tag)
 *   openIn(aad, body, pn) -> boolean   (body = ciphertext + tag; plaintext replaces the ciphertext)
 */
#include "aead.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#define FA_KEY_BYTES 32
#define FA_IV_BYTES 12
#define FA_TAG_BYTES 16
/* The most plaintext one call takes: a TCP frame or UDP datagram is far below it. */
#define FA_MAX_TEXT_BYTES (64 * 1024 * 1024)
/* Scratch for open, grown on demand (a datagram fits the first size). */
#define FA_SCRATCH_BYTES (64 * 1024 + 1024)

typedef struct {
  EVP_CIPHER_CTX *ctx;
  int encrypt;
  uint8_t iv[FA_IV_BYTES];
  uint8_t nonce[FA_IV_BYTES];
  uint8_t *scratch;
  size_t scratch_bytes;
} fa_ctx;

static napi_value fa_throw(napi_env env, int range, const char *msg) {
  if (range)
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  else
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* The bytes of a Uint8Array (a Buffer is one); -1 when v is not one. */
static int fa_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type t;
  void *p = NULL;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, &p, &ab, &off) != napi_ok || t != napi_uint8_array) return -1;
  *data = p;
  return 0;
}

static int fa_u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > UINT32_MAX || d != (double)(uint32_t)d)
    return -1;
  *out = (uint32_t)d;
  return 0;
}

/* A packet number: an integer in [0, 2^53). */
static int fa_pn(napi_env env, napi_value v, uint64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d >= 9007199254740992.0 || d != (double)(uint64_t)d)
    return -1;
  *out = (uint64_t)d;
  return 0;
}

static void fa_set_nonce(fa_ctx *c, uint64_t pn) {
  memcpy(c->nonce, c->iv, FA_IV_BYTES);
  for (int i = 0; i < 8; i++) c->nonce[FA_IV_BYTES - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

static void fa_free(fa_ctx *c) {
  if (!c) return;
  if (c->ctx) EVP_CIPHER_CTX_free(c->ctx);
  if (c->scratch) {
    OPENSSL_cleanse(c->scratch, c->scratch_bytes);
    free(c->scratch);
  }
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

static void fa_finalize(napi_env env, void *data, void *hint) { fa_free(data); }

static napi_value fa_construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  uint8_t *key, *iv;
  size_t key_len, iv_len;
  bool encrypt = false;
  if (argc < 3 || fa_bytes(env, argv[0], &key, &key_len) || fa_bytes(env, argv[1], &iv, &iv_len) ||
      napi_get_value_bool(env, argv[2], &encrypt) != napi_ok)
    return fa_throw(env, 0, "Aead(key: Uint8Array, ivBase: Uint8Array, encrypt: boolean)");
  if (key_len != FA_KEY_BYTES || iv_len != FA_IV_BYTES)
    return fa_throw(env, 1, "AEAD key must be 32 bytes and IV base 12");
  fa_ctx *c = calloc(1, sizeof(*c));
  if (!c) return fa_throw(env, 1, "out of memory");
  c->encrypt = encrypt ? 1 : 0;
  memcpy(c->iv, iv, FA_IV_BYTES);
  c->ctx = EVP_CIPHER_CTX_new();
  if (!c->ctx || EVP_CipherInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, c->encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_IVLEN, FA_IV_BYTES, NULL) != 1 ||
      EVP_CipherInit_ex(c->ctx, NULL, NULL, key, NULL, c->encrypt) != 1) {
    fa_free(c);
    return fa_throw(env, 1, "OpenSSL refused the AES-256-GCM context");
  }
  if (!c->encrypt) {
    c->scratch_bytes = FA_SCRATCH_BYTES;
    c->scratch = malloc(c->scratch_bytes);
    if (!c->scratch) {
      fa_free(c);
      return fa_throw(env, 1, "out of memory");
    }
  }
  if (napi_wrap(env, self, c, fa_finalize, NULL, NULL) != napi_ok) {
    fa_free(c);
    return NULL;
  }
  return self;
}

static fa_ctx *fa_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) {
    fa_throw(env, 0, "not an Aead");
    return NULL;
  }
  return data;
}

/* Starts a message: nonce for pn, then the AAD. */
static int fa_begin(fa_ctx *c, uint64_t pn, const uint8_t *aad, size_t aad_len) {
  int n;
  fa_set_nonce(c, pn);
  if (EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, c->nonce, c->encrypt) != 1) return -1;
  if (aad_len > 0 && EVP_CipherUpdate(c->ctx, NULL, &n, aad, (int)aad_len) != 1) return -1;
  return 0;
}

/*
 * Encrypts in[0, in_len) to out (GCM is a stream: out may equal in), appends nothing; returns bytes
 * written or -1.
 */
static long fa_update(fa_ctx *c, uint8_t *out, const uint8_t *in, size_t in_len) {
  int n = 0;
  if (in_len == 0) return 0;
  if (EVP_CipherUpdate(c->ctx, out, &n, in, (int)in_len) != 1) return -1;
  return n;
}

/* Encrypts the JS array `slices[0, count)` to out (room out_room); returns bytes written or -1/-2. */
static long fa_seal_slices(napi_env env, fa_ctx *c, napi_value slices, uint32_t count, uint8_t *out,
                           size_t out_room) {
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value s;
    uint8_t *p;
    size_t len;
    if (napi_get_element(env, slices, i, &s) != napi_ok || fa_bytes(env, s, &p, &len)) return -2;
    if (len > out_room - at) return -3;
    long n = fa_update(c, out + at, p, len);
    if (n < 0) return -1;
    at += (size_t)n;
  }
  return (long)at;
}

static napi_value fa_seal_common(napi_env env, fa_ctx *c, const uint8_t *aad, size_t aad_len, uint8_t *out,
                                 size_t out_room, const uint8_t *in, size_t in_len, napi_value slices,
                                 uint32_t count, uint64_t pn, size_t base) {
  if (!c->encrypt) return fa_throw(env, 0, "this Aead opens; it cannot seal");
  if (in_len > FA_MAX_TEXT_BYTES || out_room < FA_TAG_BYTES) return fa_throw(env, 1, "no room for the tag");
  out_room -= FA_TAG_BYTES;
  if (in_len > out_room) return fa_throw(env, 1, "no room for the tag");
  if (fa_begin(c, pn, aad, aad_len)) return fa_throw(env, 1, "AES-GCM seal failed");
  long at = fa_update(c, out, in, in_len);
  if (at < 0) return fa_throw(env, 1, "AES-GCM seal failed");
  if (count > 0) {
    long n = fa_seal_slices(env, c, slices, count, out + at, out_room - (size_t)at);
    if (n == -2) return fa_throw(env, 0, "slices must be Uint8Arrays");
    if (n == -3) return fa_throw(env, 1, "no room for the slices and the tag");
    if (n < 0) return fa_throw(env, 1, "AES-GCM seal failed");
    at += n;
  }
  int fin = 0;
  if (EVP_CipherFinal_ex(c->ctx, out + at, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, FA_TAG_BYTES, out + at + fin) != 1)
    return fa_throw(env, 1, "AES-GCM seal failed");
  napi_value r;
  napi_create_uint32(env, (uint32_t)(base + (size_t)at + (size_t)fin + FA_TAG_BYTES), &r);
  return r;
}

/* seal(buf, aadBytes, length, slices, sliceCount, pn) */
static napi_value fa_seal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  fa_ctx *c = fa_this(env, info, &argc, argv);
  if (!c) return NULL;
  uint8_t *buf;
  size_t len;
  uint32_t aad_bytes, length, count = 0;
  uint64_t pn;
  if (argc < 6 || fa_bytes(env, argv[0], &buf, &len) || fa_u32(env, argv[1], &aad_bytes) ||
      fa_u32(env, argv[2], &length) || fa_u32(env, argv[4], &count) || fa_pn(env, argv[5], &pn))
    return fa_throw(env, 0, "seal(buf, aadBytes, length, slices, sliceCount, pn)");
  if (aad_bytes > length || length > len) return fa_throw(env, 1, "aadBytes <= length <= buf.length");
  if (count > 0) {
    bool arr = false;
    uint32_t alen = 0;
    if (napi_is_array(env, argv[3], &arr) != napi_ok || !arr || napi_get_array_length(env, argv[3], &alen) != napi_ok ||
        alen < count)
      return fa_throw(env, 0, "slices must be an array of at least sliceCount Uint8Arrays");
  }
  return fa_seal_common(env, c, buf, aad_bytes, buf + aad_bytes, len - aad_bytes, buf + aad_bytes,
                        length - aad_bytes, argv[3], count, pn, aad_bytes);
}

/* sealTo(aad, out, slices, sliceCount, pn) */
static napi_value fa_seal_to(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  fa_ctx *c = fa_this(env, info, &argc, argv);
  if (!c) return NULL;
  uint8_t *aad, *out;
  size_t aad_len, out_len;
  uint32_t count;
  uint64_t pn;
  bool arr = false;
  uint32_t alen = 0;
  if (argc < 5 || fa_bytes(env, argv[0], &aad, &aad_len) || fa_bytes(env, argv[1], &out, &out_len) ||
      fa_u32(env, argv[3], &count) || fa_pn(env, argv[4], &pn) || napi_is_array(env, argv[2], &arr) != napi_ok ||
      !arr || napi_get_array_length(env, argv[2], &alen) != napi_ok || alen < count)
    return fa_throw(env, 0, "sealTo(aad, out, slices, sliceCount, pn)");
  return fa_seal_common(env, c, aad, aad_len, out, out_len, NULL, 0, argv[2], count, pn, 0);
}

/* Authenticates ct[0, ct_len) + tag under aad, then writes the plaintext over ct; 1 when it held. */
static int fa_open_common(fa_ctx *c, const uint8_t *aad, size_t aad_len, uint8_t *ct, size_t ct_len,
                          const uint8_t *tag, uint64_t pn) {
  if (ct_len > FA_MAX_TEXT_BYTES) return 0;
  if (ct_len > c->scratch_bytes) {
    uint8_t *bigger = malloc(ct_len);
    if (!bigger) return 0;
    OPENSSL_cleanse(c->scratch, c->scratch_bytes);
    free(c->scratch);
    c->scratch = bigger;
    c->scratch_bytes = ct_len;
  }
  uint8_t tag_copy[FA_TAG_BYTES];
  memcpy(tag_copy, tag, FA_TAG_BYTES);
  if (fa_begin(c, pn, aad, aad_len)) return 0;
  long n = fa_update(c, c->scratch, ct, ct_len);
  if (n < 0) return 0;
  int fin = 0;
  if (EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, FA_TAG_BYTES, tag_copy) != 1 ||
      EVP_CipherFinal_ex(c->ctx, c->scratch + n, &fin) != 1)
    return 0; /* forged or damaged: the scratch plaintext is never copied out */
  memcpy(ct, c->scratch, (size_t)n + (size_t)fin);
  return 1;
}

static napi_value fa_bool(napi_env env, int v) {
  napi_value r;
  napi_get_boolean(env, v != 0, &r);
  return r;
}

/* open(buf, aadBytes, pn) */
static napi_value fa_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  fa_ctx *c = fa_this(env, info, &argc, argv);
  if (!c) return NULL;
  uint8_t *buf;
  size_t len;
  uint32_t aad_bytes;
  uint64_t pn;
  if (argc < 3 || fa_bytes(env, argv[0], &buf, &len) || fa_u32(env, argv[1], &aad_bytes) || fa_pn(env, argv[2], &pn))
    return fa_throw(env, 0, "open(buf, aadBytes, pn)");
  if (c->encrypt) return fa_throw(env, 0, "this Aead seals; it cannot open");
  if (len < FA_TAG_BYTES || len - FA_TAG_BYTES < aad_bytes) return fa_bool(env, 0);
  size_t end = len - FA_TAG_BYTES;
  return fa_bool(env, fa_open_common(c, buf, aad_bytes, buf + aad_bytes, end - aad_bytes, buf + end, pn));
}

/* openIn(aad, body, pn) */
static napi_value fa_open_in(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  fa_ctx *c = fa_this(env, info, &argc, argv);
  if (!c) return NULL;
  uint8_t *aad, *body;
  size_t aad_len, len;
  uint64_t pn;
  if (argc < 3 || fa_bytes(env, argv[0], &aad, &aad_len) || fa_bytes(env, argv[1], &body, &len) ||
      fa_pn(env, argv[2], &pn))
    return fa_throw(env, 0, "openIn(aad, body, pn)");
  if (c->encrypt) return fa_throw(env, 0, "this Aead seals; it cannot open");
  if (len < FA_TAG_BYTES) return fa_bool(env, 0);
  size_t end = len - FA_TAG_BYTES;
  return fa_bool(env, fa_open_common(c, aad, aad_len, body, end, body + end, pn));
}

napi_status fa_register(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"seal", NULL, fa_seal, NULL, NULL, NULL, napi_default, NULL},
      {"sealTo", NULL, fa_seal_to, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, fa_open, NULL, NULL, NULL, napi_default, NULL},
      {"openIn", NULL, fa_open_in, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  napi_status s = napi_define_class(env, "Aead", NAPI_AUTO_LENGTH, fa_construct, NULL,
                                    sizeof(methods) / sizeof(methods[0]), methods, &cls);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, "Aead", cls);
}
