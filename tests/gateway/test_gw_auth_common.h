/*
 * Shared fixture of the gw_auth tests: a temporary SQLite registry (two
 * handles: the "worker" one the handshake uses and an "admin" one that
 * changes records behind its back), a test PKI generated with the OpenSSL API,
 * and an in-process handshake driver over a BIO pair between the server SSL
 * from st_gw_auth_ssl_ctx() and a plain OpenSSL client. No mocks.
 */
#ifndef TEST_GW_AUTH_COMMON_H
#define TEST_GW_AUTH_COMMON_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_psk.h"
#include "gw_auth.h"
#include "gw_metrics.h"
#include "registry.h"
#include "st_log.h"

struct reg_fx {
    char dir[64], path[96];
    struct st_gw_kek *kek;
    struct st_reg *r;  /* the worker's handle (attached to the server SSL) */
    struct st_reg *r2; /* another handle: the REST API / admin */
};

static inline int reg_fx_open(struct reg_fx *f)
{
    uint8_t kek[32];
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/st-gwauth-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/registry.db", f->dir);
    RAND_bytes(kek, sizeof(kek));
    f->kek = st_gw_kek_from_bytes(kek);
    if (f->kek == NULL || st_reg_open_sqlite(f->path, f->kek, 2000, &f->r) != ST_REG_OK ||
        st_reg_open_sqlite(f->path, f->kek, 2000, &f->r2) != ST_REG_OK)
        return -1;
    return st_reg_tenant_put(f->r, "acme") == ST_REG_OK ? 0 : -1;
}

static inline void reg_fx_close(struct reg_fx *f)
{
    char p[128];
    st_reg_close(f->r);
    st_reg_close(f->r2);
    st_gw_kek_free(f->kek);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
}

/* ---- PKI ---- */

static inline EVP_PKEY *new_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static inline void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e != NULL) {
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
}

/* Certificate for key signed by (issuer, ikey); issuer NULL = self-signed CA.
 * Valid from nb_days to na_days relative to now. */
static inline X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int ca,
                              long nb_days, long na_days)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"simtrust test", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(x), nb_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), na_days * 86400);
    X509_set_pubkey(x, key);
    add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
    add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
    if (ca) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, "clientAuth,serverAuth");
    }
    X509_sign(x, ikey ? ikey : key, EVP_sha256());
    return x;
}

static inline char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *out;
    PEM_write_bio_X509(b, x);
    long n = BIO_get_mem_data(b, &p);
    out = calloc(1, (size_t)n + 1);
    memcpy(out, p, (size_t)n);
    BIO_free(b);
    return out;
}

static inline void spki_hash(X509 *x, uint8_t out[32])
{
    unsigned char *der = NULL;
    unsigned int n = 0;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL);
    OPENSSL_free(der);
}

/* Writes the server's self-signed certificate and key to dir; fills paths. */
static inline int write_server_identity(const char *dir, char *certp, size_t cc, char *keyp,
                                        size_t kc)
{
    EVP_PKEY *k = new_key();
    X509 *x = make_cert("gateway.test", k, NULL, NULL, 0, -1, 30);
    snprintf(certp, cc, "%s/server.pem", dir);
    snprintf(keyp, kc, "%s/server.key", dir);
    FILE *f = fopen(certp, "w");
    FILE *g = fopen(keyp, "w");
    int ok = f && g && PEM_write_X509(f, x) && PEM_write_PrivateKey(g, k, NULL, NULL, 0, NULL, NULL);
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

static inline void test_config(struct st_gw_config *c, const char *cert, const char *key)
{
    memset(c, 0, sizeof(*c));
    c->tls_min_version = TLS1_2_VERSION;
    c->psk_dhe_only = 1;
    c->dtls_mtu = 1200;
    if (cert)
        snprintf(c->server_cert, sizeof(c->server_cert), "%s", cert);
    if (key)
        snprintf(c->server_key, sizeof(c->server_key), "%s", key);
}

/* ---- registry records ---- */

static inline int put_group(struct st_reg *r, const char *id, unsigned methods, const char *anchors)
{
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "acme");
    snprintf(g.id, sizeof(g.id), "%s", id);
    g.auth_methods = methods;
    g.trust_anchors_pem = (char *)anchors;
    return st_reg_group_put(r, &g, ST_REG_ANY);
}

static inline int put_batch_group(struct st_reg *r, const char *id, const char *vendor,
                                  const char *batch, int kdf, const uint8_t bmk[32], int allowlist)
{
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "acme");
    snprintf(g.id, sizeof(g.id), "%s", id);
    g.auth_methods = ST_REG_AUTH_BATCH;
    snprintf(g.batch_vendor, sizeof(g.batch_vendor), "%s", vendor);
    snprintf(g.batch_id, sizeof(g.batch_id), "%s", batch);
    g.kdf = kdf;
    memcpy(g.bmk, bmk, 32);
    g.bmk_len = 32;
    g.allowlist = allowlist;
    return st_reg_group_put(r, &g, ST_REG_ANY);
}

static inline int put_psk_device(struct st_reg *r, const char *id, const char *group,
                                 const char *identity, const uint8_t *psk, size_t psk_len,
                                 int state)
{
    struct st_reg_device d;
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, "acme");
    snprintf(d.id, sizeof(d.id), "%s", id);
    snprintf(d.group, sizeof(d.group), "%s", group);
    snprintf(d.psk_identity, sizeof(d.psk_identity), "%s", identity);
    memcpy(d.psk, psk, psk_len);
    d.psk_len = psk_len;
    d.state = state;
    return st_reg_device_put(r, &d, ST_REG_ANY);
}

static inline int put_cert_device(struct st_reg *r, const char *id, const char *group, X509 *cert,
                                  int state)
{
    struct st_reg_device d;
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, "acme");
    snprintf(d.id, sizeof(d.id), "%s", id);
    snprintf(d.group, sizeof(d.group), "%s", group);
    d.has_spki = 1;
    spki_hash(cert, d.spki_sha256);
    d.state = state;
    return st_reg_device_put(r, &d, ST_REG_ANY);
}

/* ---- handshake driver ---- */

struct hs_result {
    int server_ok;   /* server handshake completed */
    int client_ok;   /* client handshake completed */
    int data_ok;     /* application data went both ways after it */
    int reason;      /* st_gw_auth_finish() */
    char server_err[200];
    char cipher[64];
    int version;
    int server_group; /* negotiated (EC)DHE group NID, 0 if none */
};

static inline void first_err(char *out, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e != 0 && out[0] == '\0')
        ERR_error_string_n(e, out, cap);
    ERR_clear_error();
}

/* Drives both ends to completion over a BIO pair; then ping/pong; then
 * st_gw_auth_finish on the server. Takes ownership of cli and srv? No: the
 * caller frees both (the auth record lives in srv). */
static inline void run_handshake(SSL *srv, SSL *cli, struct hs_result *res)
{
    BIO *bs = NULL, *bc = NULL;
    memset(res, 0, sizeof(*res));
    BIO_new_bio_pair(&bs, 0, &bc, 0);
    SSL_set_bio(srv, bs, bs);
    SSL_set_bio(cli, bc, bc);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    int sdone = 0, cdone = 0, sfail = 0, cfail = 0;
    ERR_clear_error();
    for (int i = 0; i < 200 && !(sdone && cdone) && !sfail && !(cfail && !sdone); i++) {
        if (!cdone && !cfail) {
            int rc = SSL_do_handshake(cli);
            if (rc == 1)
                cdone = 1;
            else if (SSL_get_error(cli, rc) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(cli, rc) != SSL_ERROR_WANT_WRITE)
                cfail = 1;
            ERR_clear_error();
        }
        if (!sdone && !sfail) {
            int rc = SSL_do_handshake(srv);
            if (rc == 1)
                sdone = 1;
            else if (SSL_get_error(srv, rc) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(srv, rc) != SSL_ERROR_WANT_WRITE) {
                sfail = 1;
                first_err(res->server_err, sizeof(res->server_err));
            }
            ERR_clear_error();
        }
        if (cfail && !sdone) {
            /* Let the server read the client's alert, if any. */
            int rc = SSL_do_handshake(srv);
            if (rc != 1) {
                sfail = 1;
                first_err(res->server_err, sizeof(res->server_err));
            } else {
                sdone = 1;
            }
        }
    }
    res->server_ok = sdone && !sfail;
    res->client_ok = cdone;
    if (res->server_ok && cdone) {
        char buf[16];
        int ok = SSL_write(cli, "ping", 4) == 4;
        /* TLS 1.3: the server may still refuse the client's certificate. */
        int n = SSL_read(srv, buf, sizeof(buf));
        if (n <= 0) {
            res->server_ok = 0;
            first_err(res->server_err, sizeof(res->server_err));
        }
        ok = ok && n == 4 && memcmp(buf, "ping", 4) == 0 && SSL_write(srv, "pong", 4) == 4;
        ok = ok && SSL_read(cli, buf, sizeof(buf)) == 4 && memcmp(buf, "pong", 4) == 0;
        res->data_ok = ok;
        ERR_clear_error();
    }
    if (res->server_ok) {
        const SSL_CIPHER *c = SSL_get_current_cipher(srv);
        snprintf(res->cipher, sizeof(res->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "");
        res->version = SSL_version(srv);
        res->server_group = SSL_get_negotiated_group(srv);
    }
    res->reason = st_gw_auth_finish(srv, res->server_ok, res->server_ok ? NULL : res->server_err,
                                    "test-peer", 0.002);
}

#endif
