/*
 * Key derivation through OpenSSL's EVP_KDF: TLS 1.2 PRF with SHA-256
 * (RFC 5246 §5; IoT.04 J4, F5) and HKDF Extract / Expand (RFC 5869; J5, F6).
 */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "card_crypto.h"

/* Runs one KDF derivation; params are the KDF's OSSL_PARAM list. */
static int kdf_run(const char *name, OSSL_PARAM *params, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    int rc = (ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1) ? 0 : -1;
    EVP_KDF_CTX_free(ctx); /* clears the copies of key material it holds */
    EVP_KDF_free(kdf);
    return rc;
}

int st_crypto_tls12_prf(const uint8_t *secret, size_t secret_len, const uint8_t *seed,
                        size_t seed_len, uint8_t *out, size_t out_len)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len),
        OSSL_PARAM_construct_end(),
    };
    if (secret_len == 0 || seed_len == 0 || out_len == 0)
        return -1;
    return kdf_run("TLS1-PRF", params, out, out_len);
}

static int hkdf(int mode, const EVP_MD *md, const uint8_t *key, size_t key_len, const uint8_t *salt,
                size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    /* OpenSSL wants a non-NULL pointer even for an empty IKM, salt or info. */
    static const uint8_t none[1];
    OSSL_PARAM params[6], *p = params;
    if (md == NULL)
        return -1;
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key_len ? key : none),
                                             key_len);
    if (mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                 (void *)(salt_len ? salt : none), salt_len);
    else if (info_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    return kdf_run("HKDF", params, out, out_len);
}

int st_crypto_hkdf_extract(const EVP_MD *md, const uint8_t *ikm, size_t ikm_len,
                           const uint8_t *salt, size_t salt_len, uint8_t *prk)
{
    if (md == NULL)
        return -1;
    return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, md, ikm, ikm_len, salt, salt_len, NULL, 0, prk,
                (size_t)EVP_MD_get_size(md));
}

int st_crypto_hkdf_expand(const EVP_MD *md, const uint8_t *prk, size_t prk_len, const uint8_t *info,
                          size_t info_len, uint8_t *out, size_t out_len)
{
    if (md == NULL || prk_len < (size_t)EVP_MD_get_size(md) ||
        out_len > 255 * (size_t)EVP_MD_get_size(md) || out_len == 0)
        return -1;
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, md, prk, prk_len, NULL, 0, info, info_len, out,
                out_len);
}
