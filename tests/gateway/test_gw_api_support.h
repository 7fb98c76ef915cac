/*
 * Test support of the REST API tests: a real simtrust-gateway API (MHD on
 * port 0, SQLite registry in a temporary directory, a tokens file) driven by
 * libcurl, plus OpenSSL helpers for keys, certificates and CSRs.
 */
#ifndef SIMTRUST_TEST_GW_API_SUPPORT_H
#define SIMTRUST_TEST_GW_API_SUPPORT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "gw_api.h"

/* Tokens of the fixture's tokens file. */
#define TOK_A_ADMIN "token-A-admin-0123456789"
#define TOK_A_READ "token-A-read-0123456789"
#define TOK_A_WRITE "token-A-write-0123456789"  /* read,write */
#define TOK_A_PSK "token-A-psk-0123456789"      /* read,psk-data */
#define TOK_A_CA "token-A-ca-0123456789"        /* ca */
#define TOK_A_IMPORT "token-A-import-0123456789"/* import */
#define TOK_B_ADMIN "token-B-admin-0123456789"

struct api_fx {
    char dir[64];
    char db[128], tokens[128], ca_dir[128], cert[128], key[128];
    struct st_gw_kek *kek;
    struct st_gw_metrics *metrics;
    struct st_gw_api *api;
    struct st_gw_config cfg;
    char base[64];
    int https;
};

/* Starts an API (plain HTTP, or HTTPS with a freshly generated certificate). */
struct api_fx *api_fx_start(int https);
void api_fx_stop(struct api_fx *f);

struct resp {
    long status;
    char *body;
    size_t len;
    json_t *json; /* parsed body when it is JSON */
    char etag[64];
    char content_type[128];
    char location[256];
    char cache_control[64];
    char allow[128];
    char www_auth[128];
};

/*
 * One request. hdr1/hdr2: extra "Name: value" headers or NULL. ctype NULL with
 * a body means application/json; "" sends no Content-Type. Returns 0 when a
 * response arrived.
 */
int http(struct api_fx *f, const char *method, const char *path, const char *token,
         const char *ctype, const char *body, size_t len, const char *hdr1, const char *hdr2,
         struct resp *r);
/* Shorthand with a JSON text body (or NULL) and one optional header. */
long req(struct api_fx *f, const char *method, const char *path, const char *token,
         const char *json_body, const char *hdr, struct resp *r);
void resp_free(struct resp *r);
/* The "error"."code" and "message" of an error body ("" when absent). */
const char *err_code(const struct resp *r);
const char *err_msg(const struct resp *r);

/* OpenSSL helpers: PEM strings are malloc'ed. */
char *pem_cert(X509 *x);
char *pem_key(EVP_PKEY *k);
X509 *self_signed(EVP_PKEY *k, const char *cn, int ca, const char *san_ip);
/* A CSR signed by k (or, when bad_sig, with a corrupted signature). */
char *make_csr(EVP_PKEY *k, const char *cn, int bad_sig);
/* Creates <ca_dir>/<tenant>/<group>/ca.pem + ca.key; returns the CA cert (caller frees). */
X509 *make_group_ca(struct api_fx *f, const char *tenant, const char *group, EVP_PKEY **key);
void write_file(const char *path, const char *text, int mode);
/* SHA-256 hex of the DER SubjectPublicKeyInfo of a key. */
void spki_hex(EVP_PKEY *k, char out[65]);

#endif
