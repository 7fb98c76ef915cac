/*
 * Key-encryption key for secrets the registry keeps at rest (stored PSKs of
 * scenarios 3/4, batch master keys of scenario 5; ARCHITECTURE "Secrets").
 *
 * The registry never sees the KEK itself, only this seal/open seam: the file
 * backend (kek.c) does AES-256-GCM in process; the PKCS#11 backend
 * (kek_pkcs11.c: SoftHSM2 or an HSM, C_Encrypt/C_Decrypt with CKM_AES_GCM)
 * implements the same two calls with the key inside the token. Both write
 * the same blob: a registry sealed by one opens with the other given the
 * same key value.
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

/* PKCS#11 KEK: loads module_path (dlopen), finds the initialised token
 * labelled token_label, logs in as user with the PIN read from pin_file (mode
 * 0600 or stricter; trailing newline dropped; NULL or "" = no login), and
 * finds the one secret key labelled key_label: AES-256, CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false, allowed to encrypt and decrypt (anything else is
 * refused), then runs one seal/open self-test. seal/open are safe from any
 * number of threads (a locked pool of at most 16 sessions; kek_pkcs11.c).
 * NULL on error with the reason in *why, e.g. "token 'simtrust' not found in
 * /usr/lib/softhsm/libsofthsm2.so (...)", "token 'simtrust': PIN incorrect",
 * "key 'kek' is extractable: refusing"; a formatted *why lives in a
 * thread-local buffer until this thread's next call of these functions.
 * Within one process, a token already logged in by another KEK is not asked
 * for the PIN again (PKCS#11 login state is per application). */
struct st_gw_kek *st_gw_kek_from_pkcs11(const char *module_path, const char *token_label,
                                        const char *key_label, const char *pin_file,
                                        const char **why);

/* Creates the KEK object on the token (what `simtrust-registry kek-init`
 * does): a token object, private, CKA_SENSITIVE true, CKA_EXTRACTABLE false,
 * encrypt/decrypt only, not modifiable, labelled key_label. value NULL:
 * generated inside the token (C_GenerateKey, CKM_AES_KEY_GEN, 32 bytes);
 * otherwise these 32 bytes are imported (C_CreateObject), e.g. to move a file
 * KEK into the token. Refuses when a secret key with that label exists.
 * 0, or -1 with the reason in *why. */
int st_gw_kek_pkcs11_create(const char *module_path, const char *token_label,
                            const char *key_label, const char *pin_file, const uint8_t *value,
                            const char **why);

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
