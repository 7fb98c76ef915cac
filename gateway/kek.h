/*
 * Key-encryption key for secrets the registry keeps at rest (stored PSKs of
 * scenarios 3/4, batch master keys of scenario 5; ARCHITECTURE "Secrets").
 *
 * The registry never sees the KEK itself, only this seal/open seam: the file
 * backend below does AES-256-GCM in process; a PKCS#11 backend (SoftHSM2 or an
 * HSM, C_WrapKey/C_Encrypt with CKM_AES_GCM) implements the same two calls
 * later without touching the registry.
 *
 * Sealed blob: 0x01 || nonce[12] || ciphertext || tag[16]. The caller passes
 * the record's key as AAD, so a blob copied into another row fails to open.
 */
#ifndef SIMTRUST_GW_KEK_H
#define SIMTRUST_GW_KEK_H

#include <stddef.h>
#include <stdint.h>

#define ST_GW_SEAL_OVERHEAD (1 + 12 + 16)
#define ST_GW_SEAL_VERSION 0x01

struct st_gw_kek_ops {
    /* out[cap] receives pt_len + ST_GW_SEAL_OVERHEAD bytes. 0 or -1. */
    int (*seal)(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                uint8_t *out, size_t cap, size_t *out_len);
    /* -1 when the blob is malformed or fails authentication (out wiped). */
    int (*open)(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
                size_t blob_len, uint8_t *out, size_t cap, size_t *out_len);
    void (*free)(void *ctx);
};

struct st_gw_kek {
    const struct st_gw_kek_ops *ops;
    void *ctx;
};

/* In-process AES-256-GCM KEK from 32 bytes (copied; wiped on free). */
struct st_gw_kek *st_gw_kek_from_bytes(const uint8_t key[32]);

/* Reads a KEK file: exactly 32 raw bytes, or 64 hex digits (+ optional newline).
 * Refuses files readable by group or others. NULL on error (reason in *why). */
struct st_gw_kek *st_gw_kek_from_file(const char *path, const char **why);

void st_gw_kek_free(struct st_gw_kek *kek);

static inline int st_gw_seal(struct st_gw_kek *k, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    return k->ops->seal(k->ctx, aad, aad_len, pt, pt_len, out, cap, out_len);
}

static inline int st_gw_open(struct st_gw_kek *k, const uint8_t *aad, size_t aad_len,
                             const uint8_t *blob, size_t blob_len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    return k->ops->open(k->ctx, aad, aad_len, blob, blob_len, out, cap, out_len);
}

#endif
