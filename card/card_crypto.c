/*
 * Key values of struct st_object to and from OpenSSL 3 EVP_PKEY, key
 * generation and import (see card_crypto.h for the value formats).
 * Signatures, ECDH and KDFs are in card_crypto_ops.c and card_crypto_kdf.c.
 */
#include "card_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>

#include "st_secret.h"

#define EC_SCALAR_LEN 32
#define EC_POINT_LEN 65
#define RSA_BITS 2048

static bool is_ec(uint8_t key_type)
{
    return st_crypto_curve_name(key_type) != NULL;
}

bool st_crypto_key_type_supported(uint8_t key_type)
{
    return is_ec(key_type) || key_type == ST_KEY_RSA2048;
}

const char *st_crypto_curve_name(uint8_t key_type)
{
    switch (key_type) {
    case ST_KEY_P256:
    case ST_KEY_P256_VOLATILE:
        return "prime256v1";
    case ST_KEY_BP256:
    case ST_KEY_BP256_VOLATILE:
        return "brainpoolP256r1";
    default:
        return NULL;
    }
}

const EVP_MD *st_crypto_md(uint16_t hash)
{
    switch (hash) {
    case ST_HASH_SHA256:
        return EVP_sha256();
    case ST_HASH_SHA384:
        return EVP_sha384();
    case ST_HASH_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

uint16_t st_crypto_hash_of_len(size_t dlen)
{
    switch (dlen) {
    case 32:
        return ST_HASH_SHA256;
    case 48:
        return ST_HASH_SHA384;
    case 64:
        return ST_HASH_SHA512;
    default:
        return 0;
    }
}

bool st_crypto_alg_fits(uint8_t key_type, uint8_t sig_alg)
{
    if (is_ec(key_type))
        return sig_alg == ST_SIG_ECDSA;
    if (key_type == ST_KEY_RSA2048)
        return sig_alg == ST_SIG_RSA_PKCS1 || sig_alg == ST_SIG_RSA_PSS;
    return false;
}

size_t st_crypto_sig_len(uint8_t key_type)
{
    if (is_ec(key_type))
        return 2 * EC_SCALAR_LEN;
    return key_type == ST_KEY_RSA2048 ? RSA_BITS / 8 : 0;
}

int st_crypto_random(uint8_t *buf, size_t n)
{
    while (n > 0) {
        int chunk = n > 4096 ? 4096 : (int)n;
        if (RAND_bytes(buf, chunk) != 1)
            return -1;
        buf += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

/* ---- EC ---------------------------------------------------------------- */

/* Computes the uncompressed public point of a scalar (checked to be in [1, n-1]). */
static int ec_public_of(const char *curve, const BIGNUM *d, uint8_t pt[EC_POINT_LEN])
{
    int rc = -1;
    EC_GROUP *g = EC_GROUP_new_by_curve_name_ex(NULL, NULL, OBJ_sn2nid(curve));
    EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
    BN_CTX *bctx = BN_CTX_new();
    if (q == NULL || bctx == NULL)
        goto out;
    if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    if (EC_POINT_mul(g, q, d, NULL, NULL, bctx) != 1)
        goto out;
    if (EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pt, EC_POINT_LEN, bctx) !=
        EC_POINT_LEN)
        goto out;
    rc = 0;
out:
    BN_CTX_free(bctx);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return rc;
}

/* EVP_PKEY from an EC scalar and/or point (priv may be NULL: public key only). */
static EVP_PKEY *ec_pkey(const char *curve, const uint8_t *priv, const uint8_t *pt, size_t pt_len)
{
    EVP_PKEY *pkey = NULL;
    BIGNUM *d = NULL;
    uint8_t point[EC_POINT_LEN];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld == NULL || ctx == NULL)
        goto out;
    if (priv != NULL) {
        d = BN_secure_new();
        if (d == NULL || BN_bin2bn(priv, EC_SCALAR_LEN, d) == NULL)
            goto out;
        if (ec_public_of(curve, d, point) != 0)
            goto out;
        pt = point;
        pt_len = EC_POINT_LEN;
    }
    if (pt_len != EC_POINT_LEN || pt[0] != 0x04)
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pt_len) ||
        (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) !=
            1)
        pkey = NULL;
out:
    OSSL_PARAM_free(params); /* the scalar sits in its secure block, which this clears */
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(d);
    return pkey;
}

/* Writes the scalar and point of an EC EVP_PKEY into value buffers. */
static int ec_export(EVP_PKEY *pkey, uint8_t *priv, uint16_t *priv_len, uint8_t *pub,
                     uint16_t *pub_len)
{
    BIGNUM *d = NULL;
    uint8_t pt[EC_POINT_LEN];
    size_t pt_len = 0;
    int rc = -1;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &pt_len) !=
            1 ||
        pt_len != EC_POINT_LEN || pt[0] != 0x04)
        goto out;
    if (priv != NULL) {
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
            BN_bn2binpad(d, priv, EC_SCALAR_LEN) != EC_SCALAR_LEN)
            goto out;
        *priv_len = EC_SCALAR_LEN;
    }
    memcpy(pub, pt, EC_POINT_LEN);
    *pub_len = EC_POINT_LEN;
    rc = 0;
out:
    BN_clear_free(d);
    return rc;
}

static bool ec_pkey_on_curve(EVP_PKEY *pkey, const char *curve)
{
    char name[64];
    size_t len = 0;
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return false;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
        1)
        return false;
    return OBJ_sn2nid(name) == OBJ_sn2nid(curve) ||
           OBJ_txt2nid(name) == OBJ_sn2nid(curve); /* "P-256" is an alias of prime256v1 */
}

/* ---- RSA --------------------------------------------------------------- */

static bool rsa_ok(EVP_PKEY *pkey)
{
    return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) == RSA_BITS;
}

static int rsa_export(EVP_PKEY *pkey, uint8_t *priv, uint16_t *priv_len, uint8_t *pub,
                      uint16_t *pub_len)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    int rc = -1;
    if (priv != NULL) {
        OSSL_ENCODER_CTX *ectx =
            OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
        int ok = ectx != NULL && OSSL_ENCODER_to_data(ectx, &der, &der_len) == 1;
        OSSL_ENCODER_CTX_free(ectx);
        if (!ok || der_len > ST_PRIV_MAX)
            goto out;
    }
    unsigned char *p = NULL;
    int n = i2d_PUBKEY(pkey, &p);
    if (n <= 0 || n > ST_PUB_MAX) {
        OPENSSL_free(p);
        goto out;
    }
    memcpy(pub, p, (size_t)n);
    *pub_len = (uint16_t)n;
    OPENSSL_free(p);
    if (priv != NULL) {
        memcpy(priv, der, der_len);
        *priv_len = (uint16_t)der_len;
    }
    rc = 0;
out:
    if (der != NULL) {
        st_wipe(der, der_len);
        OPENSSL_free(der);
    }
    return rc;
}

/* ---- Generic ----------------------------------------------------------- */

static int export_pair(uint8_t key_type, EVP_PKEY *pkey, uint8_t *priv, uint16_t *priv_len,
                       uint8_t *pub, uint16_t *pub_len)
{
    if (is_ec(key_type)) {
        if (!ec_pkey_on_curve(pkey, st_crypto_curve_name(key_type)))
            return -1;
        return ec_export(pkey, priv, priv_len, pub, pub_len);
    }
    if (key_type == ST_KEY_RSA2048 && rsa_ok(pkey))
        return rsa_export(pkey, priv, priv_len, pub, pub_len);
    return -1;
}

int st_crypto_keygen(uint8_t key_type, uint8_t *priv, uint16_t *priv_len, uint8_t *pub,
                     uint16_t *pub_len)
{
    EVP_PKEY *pkey = NULL;
    if (is_ec(key_type))
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", st_crypto_curve_name(key_type));
    else if (key_type == ST_KEY_RSA2048)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_BITS);
    if (pkey == NULL)
        return -1;
    int rc = export_pair(key_type, pkey, priv, priv_len, pub, pub_len);
    EVP_PKEY_free(pkey);
    return rc;
}

static EVP_PKEY *decode_any(const uint8_t *data, size_t len, int selection)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, selection, NULL, NULL);
    const unsigned char *p = data;
    size_t left = len;
    if (dctx == NULL || OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

int st_crypto_import_private(uint8_t key_type, const uint8_t *data, size_t len, uint8_t *priv,
                             uint16_t *priv_len, uint8_t *pub, uint16_t *pub_len)
{
    EVP_PKEY *pkey = decode_any(data, len, EVP_PKEY_KEYPAIR);
    if (pkey == NULL)
        return -1;
    int rc = export_pair(key_type, pkey, priv, priv_len, pub, pub_len);
    EVP_PKEY_free(pkey);
    return rc;
}

static EVP_PKEY *cert_public_key(const uint8_t *data, size_t len)
{
    X509 *x = NULL;
    const unsigned char *p = data;
    if (len > INT32_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio != NULL)
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x == NULL)
        x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return NULL;
    EVP_PKEY *pkey = X509_get_pubkey(x);
    X509_free(x);
    return pkey;
}

int st_crypto_import_public(uint8_t key_type, const uint8_t *data, size_t len, uint8_t *pub,
                            uint16_t *pub_len)
{
    EVP_PKEY *pkey = decode_any(data, len, EVP_PKEY_PUBLIC_KEY);
    if (pkey == NULL)
        pkey = cert_public_key(data, len);
    if (pkey == NULL)
        return -1;
    int rc = export_pair(key_type, pkey, NULL, NULL, pub, pub_len);
    EVP_PKEY_free(pkey);
    return rc;
}

EVP_PKEY *st_crypto_private_pkey(const struct st_object *o)
{
    if (o == NULL || o->value_len == 0 || o->value_len > sizeof(o->value))
        return NULL;
    if (is_ec(o->key_type)) {
        if (o->value_len != EC_SCALAR_LEN)
            return NULL;
        return ec_pkey(st_crypto_curve_name(o->key_type), o->value, NULL, 0);
    }
    if (o->key_type != ST_KEY_RSA2048)
        return NULL;
    const unsigned char *p = o->value;
    EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &p, o->value_len);
    if (pkey != NULL && !rsa_ok(pkey)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

EVP_PKEY *st_crypto_public_pkey(const struct st_object *o)
{
    if (o == NULL || o->value_len == 0 || o->value_len > sizeof(o->value))
        return NULL;
    if (is_ec(o->key_type))
        return ec_pkey(st_crypto_curve_name(o->key_type), NULL, o->value, o->value_len);
    if (o->key_type != ST_KEY_RSA2048)
        return NULL;
    const unsigned char *p = o->value;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, o->value_len);
    if (pkey != NULL && !rsa_ok(pkey)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

int st_crypto_public_pem(const struct st_object *o, char *out, size_t cap)
{
    EVP_PKEY *pkey = st_crypto_public_pkey(o);
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    int rc = -1;
    if (pkey == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
        goto out;
    long n = BIO_get_mem_data(bio, &mem);
    if (n <= 0 || (size_t)n >= cap)
        goto out;
    memcpy(out, mem, (size_t)n);
    out[n] = '\0';
    rc = 0;
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return rc;
}

int st_crypto_ec_point_check(uint8_t key_type, const uint8_t *pt, size_t len)
{
    const char *curve = st_crypto_curve_name(key_type);
    if (curve == NULL || len != EC_POINT_LEN || pt[0] != 0x04)
        return -1;
    EVP_PKEY *pkey = ec_pkey(curve, NULL, pt, len);
    EVP_PKEY_CTX *ctx = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    int rc = (ctx != NULL && EVP_PKEY_public_check(ctx) == 1) ? 0 : -1;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int st_crypto_rsa_public_parts(const uint8_t *spki, size_t spki_len, uint8_t n[256], size_t *n_len,
                               uint8_t e[8], size_t *e_len)
{
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    int rc = -1;
    const unsigned char *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)spki_len);
    if (pkey == NULL || !rsa_ok(pkey))
        goto out;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn_n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &bn_e) != 1)
        goto out;
    if (BN_num_bytes(bn_n) != RSA_BITS / 8 || BN_num_bytes(bn_e) > 8 || BN_is_zero(bn_e))
        goto out;
    *n_len = (size_t)BN_bn2bin(bn_n, n);
    *e_len = (size_t)BN_bn2bin(bn_e, e);
    rc = 0;
out:
    BN_free(bn_n);
    BN_free(bn_e);
    EVP_PKEY_free(pkey);
    return rc;
}

int st_crypto_rsa_public_from_parts(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                                    uint8_t *pub, uint16_t *pub_len)
{
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (n_len > 512 || e_len > 8 || bn_n == NULL || bn_e == NULL || bld == NULL || ctx == NULL)
        goto out;
    /* An even or tiny exponent is no RSA key. */
    if (!BN_is_odd(bn_e) || BN_is_one(bn_e) || !BN_is_odd(bn_n))
        goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    if (!rsa_ok(pkey))
        goto out;
    rc = rsa_export(pkey, NULL, NULL, pub, pub_len);
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}
