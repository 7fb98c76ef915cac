/*
 * Profile feature "issue" (docs/profile.md): the factory certifies a key
 * pair generated inside the card. IoT.04 scenario 1 (2.1) and G1: the key
 * pair is generated at personalisation and a certificate for its public
 * half, signed by the device group's CA, is stored in a certificate file
 * (E3: X.509 as a plain binary file). The private half never leaves the
 * card state; only the public key is certified.
 */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_crypto.h"
#include "objects.h"
#include "profile_internal.h"
#include "st_secret.h"

static int why_set(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

int st_profile_issue_cert(struct st_card_state *s, const uint8_t *key_id, size_t key_id_len,
                          const char *base_dir, const char *ca_cert_path, const char *ca_key_path,
                          const char *subject_cn, int days, uint8_t *out, size_t cap,
                          size_t *out_len, char *why, size_t why_len)
{
    struct st_object *o = st_objects_find(s, ST_OBJ_PRIVATE_KEY, false, key_id, key_id_len);
    if (o == NULL)
        return why_set(why, why_len, "key_id: no such private key (list it in private_keys first)");
    if (o->value_len == 0)
        return why_set(why, why_len, "key_id: the private key holds no value (use \"generate\")");
    uint8_t *ca_pem = NULL, *key_pem = NULL;
    size_t ca_len = 0, key_len = 0;
    char rwhy[200];
    if (st_profile_read_file(base_dir, ca_cert_path, &ca_pem, &ca_len, rwhy, sizeof(rwhy)) != 0) {
        snprintf(why, why_len, "ca_cert: %s", rwhy);
        return -1;
    }
    if (st_profile_read_file(base_dir, ca_key_path, &key_pem, &key_len, rwhy, sizeof(rwhy)) != 0) {
        free(ca_pem);
        snprintf(why, why_len, "ca_key: %s", rwhy);
        return -1;
    }
    int rc = -1;
    X509 *ca = NULL, *cert = NULL;
    EVP_PKEY *ca_key = NULL, *dev = NULL;
    BIGNUM *serial = NULL;
    BIO *b = BIO_new_mem_buf(ca_pem, (int)ca_len);
    if (b != NULL)
        ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(key_pem, (int)key_len);
    if (b != NULL)
        ca_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (ca == NULL) {
        why_set(why, why_len, "ca_cert: not a PEM certificate");
        goto out;
    }
    if (ca_key == NULL) {
        why_set(why, why_len, "ca_key: not an unencrypted PEM private key");
        goto out;
    }
    if (X509_check_private_key(ca, ca_key) != 1) {
        why_set(why, why_len, "ca_key: does not match ca_cert");
        goto out;
    }
    dev = st_crypto_private_pkey(o);
    if (dev == NULL) {
        why_set(why, why_len, "key_id: unusable private key");
        goto out;
    }
    uint8_t rnd[16];
    cert = X509_new();
    if (cert == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
        goto oom;
    rnd[0] &= 0x7F; /* positive, 128-bit random serial */
    rnd[0] |= 0x01;
    serial = BN_bin2bn(rnd, sizeof(rnd), NULL);
    X509_NAME *name = X509_NAME_new();
    if (serial == NULL || name == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)subject_cn,
                                   -1, -1, 0) != 1) {
        X509_NAME_free(name);
        goto oom;
    }
    int ok = X509_set_version(cert, 2) == 1 &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL &&
             X509_set_issuer_name(cert, X509_get_subject_name(ca)) == 1 &&
             X509_set_subject_name(cert, name) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -300) != NULL &&
             X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) != NULL &&
             X509_set_pubkey(cert, dev) == 1;
    X509_NAME_free(name);
    if (!ok || add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(cert, ca, NID_ext_key_usage, "clientAuth") != 0 ||
        add_ext(cert, ca, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") != 0)
        goto oom;
    if (X509_sign(cert, ca_key, EVP_sha256()) <= 0) {
        why_set(why, why_len, "signing with ca_key failed");
        goto out;
    }
    int n = i2d_X509(cert, NULL);
    if (n <= 0 || (size_t)n > cap) {
        why_set(why, why_len, "certificate does not fit in a file");
        goto out;
    }
    unsigned char *p = out;
    i2d_X509(cert, &p);
    *out_len = (size_t)n;
    rc = 0;
    goto out;
oom:
    why_set(why, why_len, "certificate creation failed");
out:
    BN_free(serial);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(dev);
    st_wipe(key_pem, key_len);
    free(key_pem);
    free(ca_pem);
    return rc;
}
