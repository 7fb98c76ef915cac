/* CA Certificate Request: CSR signing with the group's CA (gw_ca.h). */
#include "gw_ca.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_json.h"
#include "registry.h"
#include "st_errbuf.h"

int st_gw_ca_path_ok(const char *s)
{
    if (!st_reg_id_ok(s) || s[0] == '.')
        return 0;
    return strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

void st_gw_ca_issued_clear(struct st_gw_ca_issued *c)
{
    if (c == NULL)
        return;
    free(c->chain_pem);
    free(c->leaf_pem);
    memset(c, 0, sizeof(*c));
}

static char *read_text(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f) || n > max;
    fclose(f);
    if (buf == NULL || bad || n == 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, p, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

/* Accepted device keys: EC on P-256/384/521, Ed25519, RSA >= 2048 bits. */
static int key_ok(EVP_PKEY *k, char *err, size_t errcap)
{
    if (EVP_PKEY_is_a(k, "EC")) {
        char grp[64];
        size_t gl = 0;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, grp, sizeof(grp), &gl) &&
            (strcmp(grp, "prime256v1") == 0 || strcmp(grp, "secp384r1") == 0 ||
             strcmp(grp, "secp521r1") == 0))
            return 1;
        st_errf(err, errcap, "csr: EC key on an unsupported curve (P-256, P-384, P-521)");
        return 0;
    }
    if (EVP_PKEY_is_a(k, "ED25519"))
        return 1;
    if (EVP_PKEY_is_a(k, "RSA")) {
        if (EVP_PKEY_get_bits(k) >= 2048)
            return 1;
        st_errf(err, errcap, "csr: RSA key shorter than 2048 bits");
        return 0;
    }
    st_errf(err, errcap, "csr: unsupported key type (EC, Ed25519 or RSA)");
    return 0;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* Subject common name of the CSR as UTF-8 (a valid ID), or -1. */
static int csr_cn(X509_REQ *req, char *out, size_t cap)
{
    X509_NAME *n = X509_REQ_get_subject_name(req);
    int i = n ? X509_NAME_get_index_by_NID(n, NID_commonName, -1) : -1;
    if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
        return -1;
    unsigned char *u = NULL;
    int ul = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
    int rc = -1;
    if (ul > 0 && (size_t)ul < cap && memchr(u, 0, (size_t)ul) == NULL) {
        memcpy(out, u, (size_t)ul);
        out[ul] = '\0';
        rc = st_reg_id_ok(out) ? 0 : -1;
    }
    OPENSSL_free(u);
    return rc;
}

int st_gw_ca_sign(const char *ca_dir, const char *tenant, const char *group, const char *csr_pem,
                  size_t csr_len, const char *device_id, int days, struct st_gw_ca_issued *out,
                  char *err, size_t errcap)
{
    char path[2 * ST_REG_ID_MAX + 1100], cn[ST_REG_ID_MAX + 1];
    char *ca_text = NULL;
    size_t ca_len = 0;
    int rc = ST_GW_CA_ERR;
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *ca_key = NULL;
    X509_REQ *req = NULL;
    BIO *b = NULL;
    BIGNUM *bn = NULL;
    unsigned char serial[16];
    memset(out, 0, sizeof(*out));

    if (ca_dir == NULL || ca_dir[0] == '\0') {
        st_errf(err, errcap, "CSR signing is not configured on this gateway (ca_dir)");
        return ST_GW_CA_ENOCA;
    }
    if (!st_gw_ca_path_ok(tenant) || !st_gw_ca_path_ok(group)) {
        st_errf(err, errcap, "group %s has no CA", group);
        return ST_GW_CA_ENOCA;
    }
    /* The CSR first: a bad request is the caller's fault whatever the CA state. */
    b = csr_len <= ST_GW_PEM_MAX ? BIO_new_mem_buf(csr_pem, (int)csr_len) : NULL;
    req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    b = NULL;
    if (req == NULL) {
        st_errf(err, errcap, "csr: not a PEM PKCS#10 certificate request");
        rc = ST_GW_CA_ECSR;
        goto out;
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
        st_errf(err, errcap, "csr: signature does not verify (no proof of possession)");
        rc = ST_GW_CA_ECSR;
        goto out;
    }
    if (!key_ok(pub, err, errcap)) {
        rc = ST_GW_CA_ECSR;
        goto out;
    }
    if (device_id) {
        snprintf(cn, sizeof(cn), "%s", device_id);
    } else if (csr_cn(req, cn, sizeof(cn)) != 0) {
        st_errf(err, errcap, "csr: subject needs exactly one CN (1..64 bytes) when no device_id "
                            "is given");
        rc = ST_GW_CA_ECSR;
        goto out;
    }

    snprintf(path, sizeof(path), "%s/%s/%s/ca.pem", ca_dir, tenant, group);
    ca_text = read_text(path, 1u << 20, &ca_len);
    if (ca_text && (b = BIO_new_mem_buf(ca_text, (int)ca_len)) != NULL)
        ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = NULL;
    snprintf(path, sizeof(path), "%s/%s/%s/ca.key", ca_dir, tenant, group);
    FILE *kf = ca ? fopen(path, "rb") : NULL;
    if (kf) {
        ca_key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
        fclose(kf);
    }
    if (ca == NULL || ca_key == NULL || X509_check_private_key(ca, ca_key) != 1) {
        st_errf(err, errcap, "group %s has no usable CA", group);
        rc = ST_GW_CA_ENOCA;
        goto out;
    }

    if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1)
        goto internal;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto internal;
    serial[0] &= 0x7F; /* positive */
    serial[0] |= 0x40; /* and exactly 16 bytes long */
    if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto internal;
    st_gw_hex_lower(serial, sizeof(serial), out->serial_hex);
    X509_NAME *subj = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), days > 0 ? days : 1, 0, NULL) == NULL ||
        X509_set_pubkey(x, pub) != 1)
        goto internal;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
        goto internal;
    const EVP_MD *md = EVP_PKEY_is_a(ca_key, "ED25519") || EVP_PKEY_is_a(ca_key, "ED448")
                           ? NULL
                           : EVP_sha256();
    if (X509_sign(x, ca_key, md) <= 0)
        goto internal;

    unsigned char *der = NULL;
    int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    unsigned int hl;
    int hok = dl > 0 && EVP_Digest(der, (size_t)dl, out->spki_sha256, &hl, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (!hok || (b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(b, x) != 1 ||
        (out->leaf_pem = bio_text(b)) == NULL)
        goto internal;
    size_t ll = strlen(out->leaf_pem);
    if ((out->chain_pem = malloc(ll + ca_len + 2)) == NULL)
        goto internal;
    memcpy(out->chain_pem, out->leaf_pem, ll);
    memcpy(out->chain_pem + ll, ca_text, ca_len);
    if (ca_len > 0 && ca_text[ca_len - 1] != '\n')
        out->chain_pem[ll + ca_len++] = '\n';
    out->chain_pem[ll + ca_len] = '\0';
    rc = ST_GW_CA_OK;
    goto out;
internal:
    st_errf(err, errcap, "certificate issuance failed");
    rc = ST_GW_CA_ERR;
out:
    if (rc != ST_GW_CA_OK)
        st_gw_ca_issued_clear(out);
    ERR_clear_error();
    BN_free(bn);
    BIO_free(b);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    X509_REQ_free(req);
    free(ca_text);
    return rc;
}
