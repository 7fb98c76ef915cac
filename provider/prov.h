/*
 * simtrust OpenSSL 3 provider: internal interfaces (docs/provider.md).
 *
 * The provider routes every secret-bearing EC operation on a card key to the
 * IoT SAFE applet through libsimtrust (IoT.04 B3, B4, E6, F2, F4, F7): ECDSA
 * signatures (COMPUTE SIGNATURE pad & sign), ECDH (PUT PUBLIC KEY + COMPUTE
 * DH) and TLS ephemeral key generation (GENERATE KEY PAIR in a volatile slot).
 * Everything that holds no secret of the card (public keys, signature
 * verification, keys imported from files) runs in software in a private
 * library context that has only OpenSSL's default provider loaded (swctx), so
 * the provider never recurses into itself.
 */
#ifndef SIMTRUST_PROV_H
#define SIMTRUST_PROV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "simtrust/iotsafe.h"

#define ST_PROV_NAME "simtrust"

/* Reason codes of the provider's errors (ERR_GET_REASON). */
enum {
    ST_PROV_R_NO_SIM = 1,          /* no card configured (sim / SIMTRUST_SIM) */
    ST_PROV_R_CARD_UNREACHABLE,    /* transport: card removed, link down */
    ST_PROV_R_CARD_ERROR,          /* the card answered an error status word */
    ST_PROV_R_NOT_FOUND,           /* no object with that label/ID */
    ST_PROV_R_BAD_URI,             /* malformed simtrust: URI */
    ST_PROV_R_UNSUPPORTED,         /* curve / operation the card cannot do */
    ST_PROV_R_STALE_EPHEMERAL,     /* the card's ephemeral slot was regenerated */
    ST_PROV_R_NO_PRIVATE_EXPORT,   /* a card key's private half never leaves the card */
    ST_PROV_R_INTERNAL,
    ST_PROV_R_PSK,                 /* PSK mode: no identity, placeholder misuse */
};

struct st_prov_card;

struct st_prov {
    const OSSL_CORE_HANDLE *handle;
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
    pthread_mutex_t sw_mu;
    OSSL_LIB_CTX *swctx;     /* software operations: default provider only */
    OSSL_PROVIDER *swdefault;
    EVP_KEYMGMT *sw_ec;      /* its EC keymgmt (gettable/settable tables) */
    struct st_prov_card *card;
    bool ecdhe_on_card;      /* config ecdhe = card (default) | software */
};

/* The software library context, created on first use; NULL on failure. */
OSSL_LIB_CTX *st_prov_swctx(struct st_prov *prov);
EVP_KEYMGMT *st_prov_sw_ec(struct st_prov *prov);

/* Raises a provider error (reason ST_PROV_R_*) with a printf detail. */
void st_prov_err(struct st_prov *prov, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises the error of a libsimtrust status (maps the layer to a reason). */
void st_prov_card_err(struct st_prov *prov, int rc, const char *what);

/* ---- the card session (prov_card.c) ---- */

struct st_prov_stats {
    uint64_t apdus;      /* C-APDUs sent (GET RESPONSE included) */
    uint64_t bytes_out;  /* C-APDU bytes */
    uint64_t bytes_in;   /* R-APDU bytes */
    uint64_t ops;        /* card operations: sign, dh, keygen, put key, reads */
    uint64_t signs, dhs, keygens, putkeys, reads, opens;
    uint64_t prfs, hkdfs; /* COMPUTE PRF / COMPUTE HKDF (PSK mode) */
};

/* spec: "tcp:HOST:PORT", "pcsc:[READER]", "at:DEVICE[@BAUD]"; NULL = none configured. */
struct st_prov_card *st_prov_card_new(const char *spec, const char *eph_label,
                                      const char *peer_label);
void st_prov_card_free(struct st_prov_card *card);
void st_prov_card_stats(struct st_prov_card *card, struct st_prov_stats *out);
void st_prov_card_reset_stats(struct st_prov_card *card);
const char *st_prov_card_spec(const struct st_prov_card *card);

/* Operations; each returns ST_OK or a libsimtrust status, raised by the caller. */
int st_prov_card_read_pub(struct st_prov_card *card, const struct st_iotsafe_ref *ref,
                          struct st_iotsafe_pubkey *pk);
int st_prov_card_read_file(struct st_prov_card *card, const struct st_iotsafe_ref *ref,
                           uint8_t **der, size_t *len); /* cached; caller frees *der */
int st_prov_card_sign(struct st_prov_card *card, const struct st_iotsafe_ref *key,
                      const uint8_t *digest, size_t dlen, uint8_t *raw, size_t *raw_len);
/* GENERATE KEY PAIR in the ephemeral slot; *gen identifies this key pair. */
int st_prov_card_keygen(struct st_prov_card *card, struct st_iotsafe_ref *priv,
                        struct st_iotsafe_pubkey *pk, unsigned *gen);
/* ECDH: the peer point into the peer slot, COMPUTE DH. gen 0: a long-term key. */
int st_prov_card_dh(struct st_prov_card *card, const struct st_iotsafe_ref *priv, unsigned gen,
                    const uint8_t *point, size_t point_len, uint8_t *secret, size_t *len);
/* COMPUTE PRF (modes 01 / 02: p->psk is a secret key object). */
int st_prov_card_prf(struct st_prov_card *card, const struct st_iotsafe_prf_params *p,
                     uint8_t *out, size_t out_len);
/* COMPUTE HKDF extract, SHA-256, the secret key object as IKM, zero salt. */
int st_prov_card_hkdf_extract_psk(struct st_prov_card *card, const struct st_iotsafe_ref *psk,
                                  uint8_t *prk, size_t *prk_len);
/* The libsimtrust session's last SW (for messages). */
unsigned st_prov_card_last_sw(struct st_prov_card *card);

/* ---- keys (prov_keymgmt.c) ---- */

struct st_prov_key {
    int refs;                 /* atomic */
    struct st_prov *prov;
    EVP_PKEY *sw;             /* swctx key: params, public half, private if software */
    bool sw_priv, sw_pub;
    bool on_card;             /* the private half is a card object */
    struct st_iotsafe_ref ref;
    unsigned eph_gen;         /* != 0: the card's ephemeral slot, generation */
};

struct st_prov_key *st_prov_key_new(struct st_prov *prov);
struct st_prov_key *st_prov_key_ref(struct st_prov_key *key);
void st_prov_key_free(struct st_prov_key *key);
/* A key whose public half is an uncompressed P-256 point (on_card decided by caller). */
int st_prov_key_set_point(struct st_prov_key *key, const uint8_t *point, size_t len);
void st_prov_key_update_flags(struct st_prov_key *key);

/* Reference objects passed from the store to keymgmt load(). */
#define ST_PROV_KEYREF_MAGIC 0x53544b52u
struct st_prov_keyref {
    uint32_t magic;
    struct st_prov_key *key;
};

extern const OSSL_DISPATCH st_prov_keymgmt_functions[];
extern const OSSL_DISPATCH st_prov_signature_functions[];
extern const OSSL_DISPATCH st_prov_keyexch_functions[];
extern const OSSL_DISPATCH st_prov_store_functions[];
extern const OSSL_DISPATCH st_prov_tls1_prf_functions[];
extern const OSSL_DISPATCH st_prov_tls13_kdf_functions[];

/* ---- PSK placeholders (prov_psk.c; docs/provider.md "PSK mode") ---- */

#define ST_PROV_PSK_PLACEHOLDER_LEN 32

/* Live provider instances (the card session that reads PSK identities). */
void st_prov_psk_attach(struct st_prov *prov);
void st_prov_psk_detach(struct st_prov *prov);
/* The placeholder of a secret key label (created on first use, random per process). */
int st_prov_psk_placeholder(const char *label, uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN]);
/* The secret key reference a placeholder stands for; false if buf is not one. */
bool st_prov_psk_lookup(const uint8_t *buf, size_t len, struct st_iotsafe_ref *ref);
/* Whether buf holds a registered placeholder at any offset. */
bool st_prov_psk_contains(const uint8_t *buf, size_t len);
/* The PSK identity of label (the file object with that label), cached; raises errors. */
int st_prov_psk_identity(const char *label, char *id, size_t *id_len);

int st_prov_get_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb, void *arg);

/* The provider entry point, for OSSL_PROVIDER_add_builtin (static use). */
OSSL_provider_init_fn st_prov_init;

#endif
