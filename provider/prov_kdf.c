/*
 * TLS1-PRF and TLS13-KDF for PSK mode (docs/provider.md "PSK mode";
 * IoT.04 F5, F6, J4, J5, I9).
 *
 * Both are thin front ends: every parameter goes to the same KDF of the
 * software context (default provider only) and is also noted here. At
 * derive time:
 *  - TLS1-PRF with a secret that is an RFC 4279 / RFC 5489 pre-master built
 *    around a registered placeholder (prov_psk.c): COMPUTE PRF on the card,
 *    mode 01 (uint16 N | N zeros | uint16 N | placeholder) or mode 02
 *    (uint16 L | other | uint16 N | placeholder, other as D4), with the
 *    concatenated seeds (label || seed) as D2;
 *  - TLS13-KDF in mode EXTRACT_ONLY with a placeholder as key and no salt
 *    (the TLS 1.3 early secret): COMPUTE HKDF extract with the secret object
 *    as IKM (salt: HashLen zeros);
 *  - anything else: the software KDF (no APDU).
 * A placeholder in any other position is refused rather than derived in
 * software (the result would be wrong, silently).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "prov.h"

enum kdf_kind { KDF_TLS1_PRF, KDF_TLS13 };

struct kdf_ctx {
    struct st_prov *prov;
    enum kdf_kind kind;
    EVP_KDF_CTX *sw;
    char digest[64];
    uint8_t *key; /* TLS1-PRF secret / TLS13-KDF key */
    size_t key_len;
    uint8_t *seed; /* TLS1-PRF: the seeds, concatenated */
    size_t seed_len;
    int mode; /* TLS13-KDF */
    bool salt;
};

static void *kdf_new(void *provctx, enum kdf_kind kind)
{
    struct st_prov *prov = provctx;
    OSSL_LIB_CTX *sw = st_prov_swctx(prov);
    if (sw == NULL)
        return NULL;
    EVP_KDF *k = EVP_KDF_fetch(sw, kind == KDF_TLS1_PRF ? "TLS1-PRF" : "TLS13-KDF", NULL);
    struct kdf_ctx *c = k != NULL ? calloc(1, sizeof(*c)) : NULL;
    if (c != NULL) {
        c->prov = prov;
        c->kind = kind;
        c->sw = EVP_KDF_CTX_new(k);
        if (c->sw == NULL) {
            free(c);
            c = NULL;
        }
    }
    EVP_KDF_free(k);
    return c;
}

static void *prf_new(void *provctx)
{
    return kdf_new(provctx, KDF_TLS1_PRF);
}

static void *tls13_new(void *provctx)
{
    return kdf_new(provctx, KDF_TLS13);
}

static void clear(struct kdf_ctx *c)
{
    OPENSSL_clear_free(c->key, c->key_len);
    OPENSSL_clear_free(c->seed, c->seed_len);
    c->key = c->seed = NULL;
    c->key_len = c->seed_len = 0;
    c->digest[0] = '\0';
    c->mode = 0;
    c->salt = false;
}

static void kdf_free(void *vc)
{
    struct kdf_ctx *c = vc;
    if (c == NULL)
        return;
    clear(c);
    EVP_KDF_CTX_free(c->sw);
    free(c);
}

static void kdf_reset(void *vc)
{
    struct kdf_ctx *c = vc;
    clear(c);
    EVP_KDF_CTX_reset(c->sw);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

static void *kdf_dup(void *vc)
{
    struct kdf_ctx *c = vc, *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *c;
    d->key = d->seed = NULL;
    d->sw = EVP_KDF_CTX_dup(c->sw);
    if (c->key != NULL)
        d->key = dup_bytes(c->key, c->key_len);
    if (c->seed != NULL)
        d->seed = dup_bytes(c->seed, c->seed_len);
    if (d->sw == NULL || (c->key != NULL && d->key == NULL) || (c->seed != NULL && d->seed == NULL)) {
        kdf_free(d);
        return NULL;
    }
    return d;
}

static int set_octets(const OSSL_PARAM *p, uint8_t **buf, size_t *len)
{
    const void *v;
    size_t n;
    if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &n))
        return 0;
    OPENSSL_clear_free(*buf, *len);
    *buf = dup_bytes(v, n);
    *len = *buf != NULL ? n : 0;
    return *buf != NULL;
}

static int kdf_set_params(void *vc, const OSSL_PARAM params[])
{
    struct kdf_ctx *c = vc;
    const OSSL_PARAM *p;
    if (params == NULL)
        return 1;
    if (!EVP_KDF_CTX_set_params(c->sw, params))
        return 0; /* the software KDF validates every parameter */
    if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_DIGEST)) != NULL) {
        const char *s = NULL;
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || strlen(s) >= sizeof(c->digest))
            return 0;
        strcpy(c->digest, s);
    }
    if (c->kind == KDF_TLS1_PRF) {
        if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_SECRET)) != NULL
            && !set_octets(p, &c->key, &c->key_len))
            return 0;
        /* Seeds: every "seed" of one call, concatenated (replaces earlier ones). */
        if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_SEED)) != NULL) {
            OPENSSL_clear_free(c->seed, c->seed_len);
            c->seed = NULL;
            c->seed_len = 0;
            for (; p != NULL; p = OSSL_PARAM_locate_const(p + 1, OSSL_KDF_PARAM_SEED)) {
                const void *v;
                size_t n;
                if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &n))
                    return 0;
                if (n == 0)
                    continue;
                uint8_t *s = malloc(c->seed_len + n);
                if (s == NULL)
                    return 0;
                if (c->seed_len > 0)
                    memcpy(s, c->seed, c->seed_len);
                memcpy(s + c->seed_len, v, n);
                OPENSSL_clear_free(c->seed, c->seed_len);
                c->seed = s;
                c->seed_len += n;
            }
        }
        return 1;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_KEY)) != NULL
        && !set_octets(p, &c->key, &c->key_len))
        return 0;
    if (OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_SALT) != NULL)
        c->salt = true;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_MODE)) != NULL) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char *s = NULL;
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s))
                return 0;
            c->mode = strcasecmp(s, "EXTRACT_ONLY") == 0   ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
                      : strcasecmp(s, "EXPAND_ONLY") == 0 ? EVP_KDF_HKDF_MODE_EXPAND_ONLY
                                                          : EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
        } else if (!OSSL_PARAM_get_int(p, &c->mode)) {
            return 0;
        }
    }
    return 1;
}

static bool digest_is_sha256(const char *d)
{
    return strcasecmp(d, "SHA256") == 0 || strcasecmp(d, "SHA2-256") == 0
           || strcasecmp(d, "SHA-256") == 0 || strcmp(d, "2.16.840.1.101.3.4.2.1") == 0;
}

static int prf_derive_card(struct kdf_ctx *c, unsigned char *out, size_t outlen)
{
    /* RFC 4279 §2 / RFC 5489 §2: uint16 L | other[L] | uint16 N | psk[N], psk a placeholder. */
    const uint8_t *s = c->key;
    size_t n = c->key_len;
    struct st_iotsafe_ref ref;
    if (n < 4 + ST_PROV_PSK_PLACEHOLDER_LEN)
        return -1;
    size_t other_len = ((size_t)s[0] << 8) | s[1];
    if (n != 2 + other_len + 2 + ST_PROV_PSK_PLACEHOLDER_LEN
        || (((size_t)s[2 + other_len] << 8) | s[3 + other_len]) != ST_PROV_PSK_PLACEHOLDER_LEN
        || !st_prov_psk_lookup(s + 4 + other_len, ST_PROV_PSK_PLACEHOLDER_LEN, &ref))
        return -1; /* not a placeholder pre-master */
    if (!digest_is_sha256(c->digest)) {
        st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED,
                    "TLS 1.2 PSK: the SIM's PRF is SHA-256, the cipher suite wants %s", c->digest);
        return 0;
    }
    if (outlen == 0 || outlen > 255 || c->seed_len == 0) {
        st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED, "TLS1-PRF on the SIM: %zu bytes", outlen);
        return 0;
    }
    bool zeros = other_len == ST_PROV_PSK_PLACEHOLDER_LEN;
    for (size_t i = 0; zeros && i < other_len; i++)
        zeros = s[2 + i] == 0;
    struct st_iotsafe_prf_params p = {
        .mode = zeros ? ST_IOTSAFE_PRF_PSK : ST_IOTSAFE_PRF_PSK_ECDHE,
        .psk = &ref,
        .other = zeros ? NULL : s + 2,
        .other_len = zeros ? 0 : other_len,
        .label = c->seed,
        .label_len = c->seed_len,
    };
    if (!zeros && other_len == 0) {
        st_prov_err(c->prov, ST_PROV_R_PSK, "TLS 1.2 PSK pre-master without the other secret");
        return 0;
    }
    int rc = st_prov_card_prf(c->prov->card, &p, out, outlen);
    if (rc != ST_OK) {
        OPENSSL_cleanse(out, outlen);
        st_prov_card_err(c->prov, rc, zeros ? "COMPUTE PRF (PSK)" : "COMPUTE PRF (PSK-ECDHE)");
        return 0;
    }
    return 1;
}

static int tls13_derive_card(struct kdf_ctx *c, unsigned char *out, size_t outlen)
{
    struct st_iotsafe_ref ref;
    if (!st_prov_psk_lookup(c->key, c->key_len, &ref))
        return -1;
    if (c->mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY || c->salt || !digest_is_sha256(c->digest)
        || outlen != 32) {
        st_prov_err(c->prov, ST_PROV_R_PSK,
                    "TLS 1.3 PSK: the placeholder is only an HKDF-Extract key with SHA-256 and "
                    "no salt (mode %d, digest %s, %zu bytes)", c->mode, c->digest, outlen);
        return 0;
    }
    size_t n = outlen;
    int rc = st_prov_card_hkdf_extract_psk(c->prov->card, &ref, out, &n);
    if (rc == ST_OK && n != outlen)
        rc = ST_E_CARD;
    if (rc != ST_OK) {
        OPENSSL_cleanse(out, outlen);
        st_prov_card_err(c->prov, rc, "COMPUTE HKDF (PSK early secret)");
        return 0;
    }
    return 1;
}

static int kdf_derive(void *vc, unsigned char *out, size_t outlen, const OSSL_PARAM params[])
{
    struct kdf_ctx *c = vc;
    if (!kdf_set_params(c, params))
        return 0;
    int r = c->kind == KDF_TLS1_PRF ? prf_derive_card(c, out, outlen)
                                    : tls13_derive_card(c, out, outlen);
    if (r >= 0)
        return r;
    if (st_prov_psk_contains(c->key, c->key_len)) {
        st_prov_err(c->prov, ST_PROV_R_PSK, "%s: a PSK placeholder in an unexpected position",
                    c->kind == KDF_TLS1_PRF ? "TLS1-PRF" : "TLS13-KDF");
        return 0;
    }
    return EVP_KDF_derive(c->sw, out, outlen, NULL);
}

static int kdf_get_params(void *vc, OSSL_PARAM params[])
{
    struct kdf_ctx *c = vc;
    return EVP_KDF_CTX_get_params(c->sw, params);
}

static const OSSL_PARAM prf_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SECRET, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SEED, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM tls13_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_MODE, NULL, 0),
    OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, NULL),
    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_DATA, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM kdf_gettable[] = {
    OSSL_PARAM_size_t(OSSL_KDF_PARAM_SIZE, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *prf_settable_params(void *vc, void *provctx)
{
    (void)vc;
    (void)provctx;
    return prf_settable;
}

static const OSSL_PARAM *tls13_settable_params(void *vc, void *provctx)
{
    (void)vc;
    (void)provctx;
    return tls13_settable;
}

static const OSSL_PARAM *kdf_gettable_params(void *vc, void *provctx)
{
    (void)vc;
    (void)provctx;
    return kdf_gettable;
}

#define KDF_COMMON                                                                            \
    {OSSL_FUNC_KDF_DUPCTX, (void (*)(void))kdf_dup},                                          \
        {OSSL_FUNC_KDF_FREECTX, (void (*)(void))kdf_free},                                    \
        {OSSL_FUNC_KDF_RESET, (void (*)(void))kdf_reset},                                     \
        {OSSL_FUNC_KDF_DERIVE, (void (*)(void))kdf_derive},                                   \
        {OSSL_FUNC_KDF_SET_CTX_PARAMS, (void (*)(void))kdf_set_params},                       \
        {OSSL_FUNC_KDF_GET_CTX_PARAMS, (void (*)(void))kdf_get_params},                       \
        {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, (void (*)(void))kdf_gettable_params}

const OSSL_DISPATCH st_prov_tls1_prf_functions[] = {
    {OSSL_FUNC_KDF_NEWCTX, (void (*)(void))prf_new},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, (void (*)(void))prf_settable_params},
    KDF_COMMON,
    {0, NULL},
};

const OSSL_DISPATCH st_prov_tls13_kdf_functions[] = {
    {OSSL_FUNC_KDF_NEWCTX, (void (*)(void))tls13_new},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, (void (*)(void))tls13_settable_params},
    KDF_COMMON,
    {0, NULL},
};
