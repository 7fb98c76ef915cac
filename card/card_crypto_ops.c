/*
 * Signature generation and verification (IoT.04 E1, E2, F2) and ECDH (F4)
 * on the key objects of the card. See card_crypto.h.
 */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <string.h>

#include "card_crypto.h"
#include "st_secret.h"

#define EC_HALF 32

/* DER ECDSA-Sig-Value to raw r || s, each zero-padded to 32 bytes. */
static int ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[2 * EC_HALF])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL)
        return -1;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int rc = (BN_bn2binpad(r, raw, EC_HALF) == EC_HALF &&
              BN_bn2binpad(s, raw + EC_HALF, EC_HALF) == EC_HALF)
                 ? 0
                 : -1;
    ECDSA_SIG_free(sig);
    return rc;
}

/* Raw r || s to a malloc'd DER ECDSA-Sig-Value (caller OPENSSL_free()s it). */
static int ecdsa_raw_to_der(const uint8_t raw[2 * EC_HALF], unsigned char **der, size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, EC_HALF, NULL);
    BIGNUM *s = BN_bin2bn(raw + EC_HALF, EC_HALF, NULL);
    int rc = -1;
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    *der = NULL;
    int n = i2d_ECDSA_SIG(sig, der);
    if (n > 0) {
        *der_len = (size_t)n;
        rc = 0;
    }
out:
    ECDSA_SIG_free(sig);
    return rc;
}

/* Padding and hash of an RSA context; the hash comes from the digest length. */
static int rsa_setup(EVP_PKEY_CTX *ctx, uint8_t sig_alg, size_t dlen, bool verify)
{
    const EVP_MD *md = st_crypto_md(st_crypto_hash_of_len(dlen));
    if (md == NULL)
        return -1;
    if (sig_alg == ST_SIG_RSA_PKCS1)
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
                       EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
                   ? 0
                   : -1;
    if (sig_alg != ST_SIG_RSA_PSS)
        return -1;
    /* Signing: salt = hash length (TLS 1.3); verifying accepts any salt length. */
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                   EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
                   EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, verify ? RSA_PSS_SALTLEN_AUTO
                                                                : RSA_PSS_SALTLEN_DIGEST) > 0
               ? 0
               : -1;
}

int st_crypto_sign_digest(const struct st_object *key, uint8_t sig_alg, const uint8_t *dig,
                          size_t dlen, uint8_t *sig, size_t *sig_len)
{
    uint8_t der[80];
    size_t der_len = sizeof der;
    int rc = -1;
    bool ec = st_crypto_curve_name(key->key_type) != NULL;
    if (dlen == 0 || !st_crypto_alg_fits(key->key_type, sig_alg))
        return -1;
    EVP_PKEY *pkey = st_crypto_private_pkey(key);
    EVP_PKEY_CTX *ctx = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1)
        goto out;
    if (ec) {
        /* No signature digest set: OpenSSL signs dig as given, truncated to the order. */
        if (EVP_PKEY_sign(ctx, der, &der_len, dig, dlen) != 1 ||
            ecdsa_der_to_raw(der, der_len, sig) != 0)
            goto out;
        *sig_len = 2 * EC_HALF;
    } else {
        size_t n = st_crypto_sig_len(key->key_type);
        if (rsa_setup(ctx, sig_alg, dlen, false) != 0 ||
            EVP_PKEY_sign(ctx, sig, &n, dig, dlen) != 1 || n != st_crypto_sig_len(key->key_type))
            goto out;
        *sig_len = n;
    }
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int st_crypto_verify_digest(const struct st_object *key, uint8_t sig_alg, const uint8_t *dig,
                            size_t dlen, const uint8_t *sig, size_t sig_len)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    int rc = -1;
    bool ec = st_crypto_curve_name(key->key_type) != NULL;
    if (dlen == 0 || !st_crypto_alg_fits(key->key_type, sig_alg) ||
        sig_len != st_crypto_sig_len(key->key_type))
        return -1;
    if (!ec && st_crypto_hash_of_len(dlen) == 0)
        return -1;
    EVP_PKEY *pkey = st_crypto_public_pkey(key);
    EVP_PKEY_CTX *ctx = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
        goto out;
    if (ec) {
        if (ecdsa_raw_to_der(sig, &der, &der_len) != 0)
            goto out;
        rc = EVP_PKEY_verify(ctx, der, der_len, dig, dlen) == 1 ? 1 : 0;
    } else {
        if (rsa_setup(ctx, sig_alg, dlen, true) != 0)
            goto out;
        rc = EVP_PKEY_verify(ctx, sig, sig_len, dig, dlen) == 1 ? 1 : 0;
    }
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int st_crypto_ecdh(const struct st_object *priv, const struct st_object *pub, uint8_t *out,
                   size_t *out_len)
{
    uint8_t z[EC_HALF];
    size_t z_len = sizeof z;
    int rc = -1;
    EVP_PKEY *mine = st_crypto_private_pkey(priv);
    EVP_PKEY *peer = st_crypto_public_pkey(pub);
    EVP_PKEY_CTX *ctx = mine != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL) : NULL;
    if (ctx == NULL || peer == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, z, &z_len) != 1 ||
        z_len != EC_HALF)
        goto out;
    memcpy(out, z, z_len);
    *out_len = z_len;
    rc = 0;
out:
    st_wipe(z, sizeof z);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(peer);
    return rc;
}
