/* Scenario 5 batch identities and eUK derivation (IoT.04 2.5, 3.3.2.2.3). */
#include "batch_psk.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <string.h>

#include "st_secret.h"

static int field_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

int st_gw_luhn_ok(const char *digits, size_t len)
{
    unsigned sum = 0;
    if (len < 2)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = digits[len - 1 - i];
        if (ch < '0' || ch > '9')
            return 0;
        unsigned d = (unsigned)(ch - '0');
        if (i & 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

int st_gw_iccid_digits_ok(const char *iccid, size_t len)
{
    if (len < ST_GW_ICCID_MIN || len > ST_GW_ICCID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (iccid[i] < '0' || iccid[i] > '9')
            return 0;
    return 1;
}

/* Checks one vendor/batch field of n bytes. */
static int check_field(const uint8_t *p, size_t n)
{
    if (n == 0)
        return ST_GW_BATCH_ESYNTAX;
    if (n > ST_GW_BATCH_FIELD_MAX)
        return ST_GW_BATCH_EFIELDLEN;
    for (size_t i = 0; i < n; i++)
        if (!field_char(p[i]))
            return ST_GW_BATCH_ECHAR;
    return ST_GW_BATCH_OK;
}

int st_gw_batch_field_ok(const char *s)
{
    return s != NULL && check_field((const uint8_t *)s, strnlen(s, ST_GW_BATCH_FIELD_MAX + 1)) == 0;
}

static int check_iccid(const uint8_t *p, size_t n)
{
    if (!st_gw_iccid_digits_ok((const char *)p, n) || p[0] != '8' || p[1] != '9')
        return ST_GW_BATCH_EICCID;
    if (!st_gw_luhn_ok((const char *)p, n))
        return ST_GW_BATCH_ELUHN;
    return ST_GW_BATCH_OK;
}

int st_gw_batch_parse(const uint8_t *identity, size_t len, struct st_gw_batch_id *out)
{
    size_t sep[2];
    size_t nsep = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (identity == NULL || len == 0)
        return ST_GW_BATCH_ESYNTAX;
    if (len > ST_GW_BATCH_IDENTITY_MAX)
        return ST_GW_BATCH_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        if (identity[i] != ':')
            continue;
        if (nsep == 2)
            return ST_GW_BATCH_ESYNTAX;
        sep[nsep++] = i;
    }
    if (nsep != 2)
        return ST_GW_BATCH_ESYNTAX;
    size_t vlen = sep[0], blen = sep[1] - sep[0] - 1, ilen = len - sep[1] - 1;
    if ((rc = check_field(identity, vlen)) != 0 ||
        (rc = check_field(identity + sep[0] + 1, blen)) != 0)
        return rc;
    if (ilen == 0)
        return ST_GW_BATCH_ESYNTAX;
    if ((rc = check_iccid(identity + sep[1] + 1, ilen)) != 0)
        return rc;
    memcpy(out->vendor, identity, vlen);
    memcpy(out->batch, identity + sep[0] + 1, blen);
    memcpy(out->iccid, identity + sep[1] + 1, ilen);
    return ST_GW_BATCH_OK;
}

int st_gw_batch_format(const char *vendor, const char *batch, const char *iccid, char *buf,
                       size_t cap)
{
    size_t vl = strlen(vendor), bl = strlen(batch), il = strlen(iccid);
    int rc;
    if ((rc = check_field((const uint8_t *)vendor, vl)) != 0 ||
        (rc = check_field((const uint8_t *)batch, bl)) != 0)
        return rc;
    if (il == 0)
        return ST_GW_BATCH_ESYNTAX;
    if ((rc = check_iccid((const uint8_t *)iccid, il)) != 0)
        return rc;
    size_t n = vl + 1 + bl + 1 + il;
    if (n + 1 > cap)
        return ST_GW_BATCH_ETOOLONG;
    memcpy(buf, vendor, vl);
    buf[vl] = ':';
    memcpy(buf + vl + 1, batch, bl);
    buf[vl + 1 + bl] = ':';
    memcpy(buf + vl + bl + 2, iccid, il);
    buf[n] = '\0';
    return (int)n;
}

const char *st_gw_batch_strerror(int err)
{
    switch (err) {
    case ST_GW_BATCH_OK: return "ok";
    case ST_GW_BATCH_ETOOLONG: return "identity too long";
    case ST_GW_BATCH_ESYNTAX: return "not vendor:batch:iccid";
    case ST_GW_BATCH_ECHAR: return "invalid character in vendor or batch";
    case ST_GW_BATCH_EFIELDLEN: return "vendor or batch longer than 32 bytes";
    case ST_GW_BATCH_EICCID: return "ICCID not 18..20 digits starting with 89";
    case ST_GW_BATCH_ELUHN: return "ICCID check digit wrong";
    default: return "unknown error";
    }
}

const char *st_gw_kdf_name(int kdf)
{
    switch (kdf) {
    case ST_GW_KDF_HMAC_SHA256: return "hmac-sha256";
    case ST_GW_KDF_HKDF_SHA256: return "hkdf-sha256";
    default: return NULL;
    }
}

int st_gw_kdf_parse(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "hmac-sha256") == 0)
        return ST_GW_KDF_HMAC_SHA256;
    if (strcmp(name, "hkdf-sha256") == 0)
        return ST_GW_KDF_HKDF_SHA256;
    return 0;
}

/* Algorithms fetched once per process (fetching per handshake costs ~µs). */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static EVP_MAC *g_hmac;
static EVP_KDF *g_hkdf;

static void fetch_algs(void)
{
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

static int hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                       uint8_t mac[32])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    int ok = 0;
    EVP_MAC_CTX *ctx = g_hmac ? EVP_MAC_CTX_new(g_hmac) : NULL;
    if (ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
        EVP_MAC_update(ctx, msg, msg_len) == 1 && EVP_MAC_final(ctx, mac, &n, 32) == 1 && n == 32)
        ok = 1;
    EVP_MAC_CTX_free(ctx); /* cleanses the key schedule */
    return ok ? 0 : -1;
}

static int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len,
                       uint8_t *out, size_t out_len)
{
    char digest[] = "SHA256";
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
    /* Salt deliberately absent: RFC 5869 2.2 then uses HashLen zero bytes. */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF_CTX *ctx = g_hkdf ? EVP_KDF_CTX_new(g_hkdf) : NULL;
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok ? 0 : -1;
}

int st_gw_batch_derive(int kdf, const uint8_t *bmk, size_t bmk_len, const uint8_t *identity,
                       size_t identity_len, uint8_t *out, size_t out_len)
{
    uint8_t mac[32];
    int rc = -1;

    if (out == NULL || out_len == 0)
        return -1;
    if (bmk == NULL || bmk_len < 16 || bmk_len > 64 || (identity == NULL && identity_len > 0))
        goto done;
    pthread_once(&g_once, fetch_algs);
    switch (kdf) {
    case ST_GW_KDF_HMAC_SHA256:
        if (out_len > sizeof(mac))
            goto done;
        if (hmac_sha256(bmk, bmk_len, identity ? identity : (const uint8_t *)"", identity_len,
                        mac) != 0)
            goto done;
        memcpy(out, mac, out_len);
        rc = 0;
        break;
    case ST_GW_KDF_HKDF_SHA256:
        /* HKDF info is limited to 1024 bytes by OpenSSL; identities are far shorter. */
        if (out_len > 255 * 32 || identity_len > 1024)
            goto done;
        rc = hkdf_sha256(bmk, bmk_len, identity ? identity : (const uint8_t *)"", identity_len, out,
                         out_len);
        break;
    default:
        break;
    }
done:
    st_wipe(mac, sizeof(mac));
    if (rc != 0)
        st_wipe(out, out_len);
    return rc;
}

int st_gw_psk_decoy(const uint8_t secret[32], const uint8_t *identity, size_t identity_len,
                    uint8_t *out, size_t out_len)
{
    return st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, secret, 32, identity, identity_len, out,
                              out_len);
}

int st_gw_batch_check_euk(int kdf, const uint8_t *bmk, size_t bmk_len, const uint8_t *identity,
                          size_t identity_len, const uint8_t *key, size_t key_len)
{
    uint8_t euk[64];
    if (key == NULL || key_len == 0 || key_len > sizeof(euk))
        return 0;
    int ok = st_gw_batch_derive(kdf, bmk, bmk_len, identity, identity_len, euk, key_len) == 0;
    /* Compare even after a failed derivation (euk is then wiped) to keep one path. */
    int eq = st_ct_memcmp(euk, key, key_len) == 0;
    st_wipe(euk, sizeof(euk));
    return ok & eq;
}
