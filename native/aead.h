#ifndef FERRY_AEAD_H
#define FERRY_AEAD_H
#include <node_api.h>

/* Adds the Aead class (AES-256-GCM context per direction, OpenSSL linked into node) to exports. */
napi_status fa_register(napi_env env, napi_value exports);

#endif
