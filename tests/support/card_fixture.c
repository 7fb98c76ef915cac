/* The crypto test card and APDU helpers: see card_fixture.h. */
#include "card_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "card_crypto.h"
#include "st_hex.h"

static struct st_card_state *g_state;

static struct st_object *add(struct st_card_state *s, enum st_obj_kind kind, uint8_t id,
                             const char *label, uint8_t key_type, uint8_t access, uint8_t functions)
{
    struct st_object *o = st_objects_alloc(s, kind);
    assert_non_null(o);
    o->id_len = 1;
    o->id[0] = id;
    o->label_len = (uint8_t)strlen(label);
    memcpy(o->label, label, o->label_len);
    o->key_type = key_type;
    o->access = access;
    o->functions = functions;
    o->usage = ST_USAGE_GENERAL;
    o->state = ST_STATE_EMPTY;
    return o;
}

static void set_value(struct st_object *o, const uint8_t *v, size_t n)
{
    memcpy(o->value, v, n);
    o->value_len = (uint16_t)n;
    o->state = ST_STATE_ACTIVATED;
}

/* A private key with a generated value, and its public half under the same ID. */
static void add_pair(struct st_card_state *s, uint8_t id, const char *label, uint8_t key_type,
                     uint8_t functions, uint8_t sig_algos)
{
    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len, pb_len;
    assert_int_equal(st_crypto_keygen(key_type, pv, &pv_len, pb, &pb_len), 0);
    struct st_object *priv = add(s, ST_OBJ_PRIVATE_KEY, id, label, key_type, 0, functions);
    priv->sig_algos = sig_algos;
    priv->hash_algos = ST_HASH_SHA256 | ST_HASH_SHA384 | ST_HASH_SHA512;
    priv->key_agreement = (functions & ST_FN_KEY_AGREEMENT) ? ST_KA_ECKA : 0;
    set_value(priv, pv, pv_len);
    struct st_object *pub =
        add(s, ST_OBJ_PUBLIC_KEY, id, label, key_type, ST_ACCESS_READ, ST_FN_SIGN);
    pub->sig_algos = sig_algos;
    pub->hash_algos = priv->hash_algos;
    set_value(pub, pb, pb_len);
}

static void add_secret(struct st_card_state *s, uint8_t id, const char *label, uint8_t functions,
                       uint8_t first, size_t n)
{
    struct st_object *o = add(s, ST_OBJ_SECRET_KEY, id, label, ST_KEY_HMAC, 0, functions);
    o->key_derivation = ST_KD_PRF_SHA256 | ST_KD_HKDF;
    for (size_t i = 0; i < n; i++)
        o->value[i] = (uint8_t)(first + i);
    o->value_len = (uint16_t)n;
    o->state = n > 0 ? ST_STATE_ACTIVATED : ST_STATE_EMPTY;
}

static void build(struct st_card_state *s)
{
    const uint8_t ec_sign = ST_FN_SIGN | ST_FN_KEY_AGREEMENT;
    st_card_state_init(s);
    s->sig_form = ST_SIG_FORM_2BYTE;
    add_pair(s, 0x01, "client", ST_KEY_P256, ec_sign | ST_FN_KEYGEN, ST_SIG_ECDSA);
    add_pair(s, 0x02, "bp", ST_KEY_BP256, ec_sign, ST_SIG_ECDSA);
    add_pair(s, 0x03, "rsa", ST_KEY_RSA2048, ST_FN_SIGN | ST_FN_KEYGEN,
             ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS);

    struct st_object *o;
    o = add(s, ST_OBJ_PRIVATE_KEY, 0x04, "ecdhe", ST_KEY_P256_VOLATILE, 0,
            ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT);
    o->key_agreement = ST_KA_ECKA;
    o = add(s, ST_OBJ_PUBLIC_KEY, 0x04, "ecdhe", ST_KEY_P256_VOLATILE, ST_ACCESS_READ, 0);

    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len, pb_len;
    assert_int_equal(st_crypto_keygen(ST_KEY_P256, pv, &pv_len, pb, &pb_len), 0);
    o = add(s, ST_OBJ_PRIVATE_KEY, 0x06, "nosign", ST_KEY_P256, 0, ST_FN_KEY_AGREEMENT);
    o->sig_algos = ST_SIG_ECDSA;
    set_value(o, pv, pv_len);
    o = add(s, ST_OBJ_PRIVATE_KEY, 0x07, "obkg", ST_KEY_P256, 0, ST_FN_SIGN | ST_FN_KEYGEN);
    o->sig_algos = ST_SIG_ECDSA;
    o->hash_algos = ST_HASH_SHA256;
    add(s, ST_OBJ_PRIVATE_KEY, 0x08, "bpeph", ST_KEY_BP256_VOLATILE, 0,
        ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT);

    const uint8_t rw = ST_ACCESS_READ | ST_ACCESS_UPDATE;
    o = add(s, ST_OBJ_PUBLIC_KEY, 0x05, "peer", ST_KEY_P256, rw, ST_FN_SIGN | ST_FN_KEY_AGREEMENT);
    o->sig_algos = ST_SIG_ECDSA;
    o = add(s, ST_OBJ_PUBLIC_KEY, 0x06, "bppeer", ST_KEY_BP256, rw,
            ST_FN_SIGN | ST_FN_KEY_AGREEMENT);
    o->sig_algos = ST_SIG_ECDSA;
    o = add(s, ST_OBJ_PUBLIC_KEY, 0x0A, "locked", ST_KEY_P256, 0, ST_FN_SIGN);
    o->sig_algos = ST_SIG_ECDSA;
    set_value(o, s->pub[0].value, s->pub[0].value_len);
    o = add(s, ST_OBJ_PUBLIC_KEY, 0x09, "rsapeer", ST_KEY_RSA2048, rw, ST_FN_SIGN);
    o->sig_algos = ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS;

    const uint8_t kd = ST_FN_KEY_DERIVATION;
    add_secret(s, 0x10, "psk1", kd, 0x00, 32);
    add_secret(s, 0x11, "psk2", kd, 0x40, 64);
    add_secret(s, 0x12, "nokd", 0, 0xA0, 16);
    add_secret(s, 0x13, "empty", kd, 0, 0);
}

const struct st_card_state *cfx_state(void)
{
    if (g_state == NULL) {
        g_state = calloc(1, sizeof(*g_state));
        assert_non_null(g_state);
        build(g_state);
    }
    return g_state;
}

st_card *cfx_card(const struct st_card_state *s)
{
    struct st_card_config cfg = {0};
    char err[256];
    st_card *card = st_card_new(&cfg, s != NULL ? s : cfx_state(), err, sizeof err);
    if (card == NULL)
        fail_msg("st_card_new: %s", err);
    cfx_expect(card, 0x9000, CFX_SELECT);
    return card;
}

size_t cfx_unhex(const char *hex, uint8_t *out, size_t cap)
{
    long n = st_hex_decode(hex, strlen(hex), out, cap);
    if (n < 0)
        fail_msg("bad hex: %s", hex);
    return (size_t)n;
}

const char *cfx_hex(const uint8_t *p, size_t n)
{
    static char bufs[8][8193];
    static unsigned next;
    char *b = bufs[next++ % 8];
    assert_true(n <= 4096);
    st_hex_encode(p, n, b);
    return b;
}

/* One exchange; the R-APDU split into data and SW. */
static void exchange(st_card *card, const uint8_t *c, size_t clen, struct cfx_rsp *r)
{
    uint8_t rapdu[ST_RAPDU_MAX];
    size_t rl = st_card_transmit(card, c, clen, rapdu);
    assert_true(rl >= 2 && rl <= ST_RAPDU_MAX);
    if (r->len + rl - 2 > sizeof(r->data))
        fail_msg("response too long");
    memcpy(r->data + r->len, rapdu, rl - 2);
    r->len += rl - 2;
    r->sw = (uint16_t)(rapdu[rl - 2] << 8 | rapdu[rl - 1]);
}

/* "header|data|le": Lc is inserted from the data length; plain hex otherwise. */
static size_t encode(char *hex, uint8_t *c, size_t cap)
{
    char *bar = strchr(hex, '|');
    if (bar == NULL)
        return cfx_unhex(hex, c, cap);
    *bar = '\0';
    char *data = bar + 1, *le = strchr(data, '|');
    if (le != NULL)
        *le++ = '\0';
    size_t h = cfx_unhex(hex, c, cap);
    size_t d = cfx_unhex(data, c + h + 1, cap - h - 1);
    assert_true(h == 4 && d > 0 && d <= 255);
    c[h] = (uint8_t)d;
    size_t n = h + 1 + d;
    if (le != NULL)
        n += cfx_unhex(le, c + n, cap - n);
    return n;
}

static struct cfx_rsp vsend(st_card *card, bool follow, const char *fmt, va_list ap)
{
    char hex[4096];
    uint8_t c[ST_CAPDU_MAX + 64];
    struct cfx_rsp r;
    r.len = 0;
    r.sw = 0;
    int k = vsnprintf(hex, sizeof hex, fmt, ap);
    assert_true(k >= 0 && (size_t)k < sizeof hex);
    size_t n = encode(hex, c, sizeof c);
    exchange(card, c, n, &r);
    /* GET RESPONSE like WS/THM: same channel, Le = SW2. */
    for (int guard = 0; follow && (r.sw >> 8) == 0x61 && guard < 64; guard++) {
        uint8_t gr[5] = {(uint8_t)(c[0] & 0x03), 0xC0, 0x00, 0x00, (uint8_t)r.sw};
        exchange(card, gr, sizeof gr, &r);
    }
    return r;
}

struct cfx_rsp cfx_send(st_card *card, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct cfx_rsp r = vsend(card, true, fmt, ap);
    va_end(ap);
    return r;
}

struct cfx_rsp cfx_send_raw(st_card *card, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct cfx_rsp r = vsend(card, false, fmt, ap);
    va_end(ap);
    return r;
}

struct cfx_rsp cfx_expect(st_card *card, uint16_t sw, const char *fmt, ...)
{
    char hex[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hex, sizeof hex, fmt, ap);
    va_end(ap);
    struct cfx_rsp r = cfx_send(card, "%s", hex);
    if (r.sw != sw)
        fail_msg("%.120s: SW %04X, expected %04X", hex, r.sw, sw);
    return r;
}

const struct st_object *cfx_obj(st_card *card, enum st_obj_kind kind, const char *id_hex)
{
    uint8_t id[ST_ID_MAX];
    size_t n = cfx_unhex(id_hex, id, sizeof id);
    /* st_objects_find wants a mutable state; the lookup itself changes nothing. */
    struct st_card_state *s = (struct st_card_state *)st_card_state(card);
    const struct st_object *o = st_objects_find(s, kind, false, id, n);
    if (o == NULL)
        fail_msg("no object %s of kind %d", id_hex, (int)kind);
    return o;
}

/* DER SubjectPublicKeyInfo prefixes of the two 256-bit curves (point follows). */
static const char SPKI_P256[] = "3059301306072A8648CE3D020106082A8648CE3D030107034200";
static const char SPKI_BP256[] = "305A301406072A8648CE3D020106092B2403030208010107034200";

EVP_PKEY *cfx_public_pkey(uint8_t key_type, const uint8_t *v, size_t n)
{
    uint8_t der[ST_PUB_MAX + 32];
    size_t len;
    const char *prefix = NULL;
    if (key_type == ST_KEY_P256 || key_type == ST_KEY_P256_VOLATILE)
        prefix = SPKI_P256;
    else if (key_type == ST_KEY_BP256 || key_type == ST_KEY_BP256_VOLATILE)
        prefix = SPKI_BP256;
    if (prefix != NULL) {
        assert_int_equal(n, 65);
        len = cfx_unhex(prefix, der, sizeof der);
        memcpy(der + len, v, n);
        len += n;
    } else {
        assert_true(n <= sizeof der);
        memcpy(der, v, n);
        len = n;
    }
    const unsigned char *p = der;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    assert_non_null(pkey);
    return pkey;
}

bool cfx_ecdsa_ok(EVP_PKEY *pub, const uint8_t *dig, size_t dlen, const uint8_t *rs)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    assert_true(sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1);
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    assert_true(der_len > 0);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    assert_true(ctx != NULL && EVP_PKEY_verify_init(ctx) == 1);
    bool ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, dig, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok;
}

static const EVP_MD *md_of_len(size_t dlen)
{
    return dlen == 32 ? EVP_sha256() : dlen == 48 ? EVP_sha384() : EVP_sha512();
}

bool cfx_rsa_ok(EVP_PKEY *pub, bool pss, const uint8_t *dig, size_t dlen, const uint8_t *sig,
                size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    assert_true(ctx != NULL && EVP_PKEY_verify_init(ctx) == 1);
    assert_true(EVP_PKEY_CTX_set_signature_md(ctx, md_of_len(dlen)) > 0);
    if (pss) {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0);
        /* The card promises salt = hash length: check exactly that. */
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)dlen) > 0);
    } else {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    }
    bool ok = EVP_PKEY_verify(ctx, sig, sig_len, dig, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

void cfx_ecdsa_sign(EVP_PKEY *priv, const uint8_t *dig, size_t dlen, uint8_t rs[64])
{
    uint8_t der[80];
    size_t der_len = sizeof der;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(priv, NULL);
    assert_true(ctx != NULL && EVP_PKEY_sign_init(ctx) == 1);
    assert_true(EVP_PKEY_sign(ctx, der, &der_len, dig, dlen) == 1);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
    assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(ctx);
}

void cfx_ec_point(EVP_PKEY *key, uint8_t pt[65])
{
    size_t n = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &n), 1);
    assert_int_equal(n, 65);
}
