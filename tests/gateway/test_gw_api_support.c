/* Test support of the REST API tests (test_gw_api_support.h). */
#include "test_gw_api_support.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_metrics.h"
#include "kek.h"
#include "st_log.h"

static void die(const char *m)
{
    fprintf(stderr, "test support: %s\n", m);
    abort();
}

void write_file(const char *path, const char *text, int mode)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
        die(path);
    chmod(path, (mode_t)mode);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[32];
    unsigned int hl;
    EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

void spki_hex(EVP_PKEY *k, char out[65])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    sha256_hex(der, (size_t)n, out);
    OPENSSL_free(der);
}

static char *bio_str(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = 0;
    BIO_free(b);
    return s;
}

char *pem_cert(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    return bio_str(b);
}

char *pem_key(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    return bio_str(b);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *v)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
    if (e == NULL)
        die("extension");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

X509 *self_signed(EVP_PKEY *k, const char *cn, int ca, const char *san_ip)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    if (ca) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    add_ext(x, x, NID_subject_key_identifier, "hash");
    if (san_ip) {
        char san[64];
        snprintf(san, sizeof(san), "IP:%s", san_ip);
        add_ext(x, x, NID_subject_alt_name, san);
    }
    if (X509_sign(x, k, EVP_sha256()) <= 0)
        die("sign");
    return x;
}

char *make_csr(EVP_PKEY *k, const char *cn, int bad_sig)
{
    X509_REQ *r = X509_REQ_new();
    X509_REQ_set_version(r, 0);
    if (cn)
        X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_pubkey(r, k);
    if (X509_REQ_sign(r, k, EVP_sha256()) <= 0)
        die("csr sign");
    if (bad_sig) {
        const ASN1_BIT_STRING *sig;
        const X509_ALGOR *alg;
        X509_REQ_get0_signature(r, &sig, &alg);
        /* Flip a byte inside the signature value (an ECDSA r). */
        ((ASN1_BIT_STRING *)sig)->data[10] ^= 0x01;
    }
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, r);
    X509_REQ_free(r);
    return bio_str(b);
}

X509 *make_group_ca(struct api_fx *f, const char *tenant, const char *group, EVP_PKEY **key)
{
    char p[512];
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = self_signed(k, "simtrust test group CA", 1, NULL);
    snprintf(p, sizeof(p), "%s/%s", f->ca_dir, tenant);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/%s/%s", f->ca_dir, tenant, group);
    mkdir(p, 0700);
    char *c = pem_cert(x), *kp = pem_key(k);
    snprintf(p, sizeof(p), "%s/%s/%s/ca.pem", f->ca_dir, tenant, group);
    write_file(p, c, 0644);
    snprintf(p, sizeof(p), "%s/%s/%s/ca.key", f->ca_dir, tenant, group);
    write_file(p, kp, 0600);
    free(c);
    free(kp);
    *key = k;
    return x;
}

struct api_fx *api_fx_start(int https)
{
    static const struct {
        const char *tok, *tenant, *roles;
    } toks[] = {
        {TOK_A_ADMIN, "tenant-a", "admin"},      {TOK_A_READ, "tenant-a", "read"},
        {TOK_A_WRITE, "tenant-a", "read,write"}, {TOK_A_PSK, "tenant-a", "read,psk-data"},
        {TOK_A_CA, "tenant-a", "ca"},            {TOK_A_IMPORT, "tenant-a", "import"},
        {TOK_B_ADMIN, "tenant-b", "admin"},
    };
    static int curl_ready;
    struct api_fx *f = calloc(1, sizeof(*f));
    char err[256], text[4096] = "# test tokens\n", hex[65];
    uint8_t kek[32];
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        st_log_init("test_gw_api", ST_LOG_WARN);
        curl_ready = 1;
    }
    strcpy(f->dir, "/tmp/st-gwapi-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        die("mkdtemp");
    snprintf(f->db, sizeof(f->db), "%s/registry.db", f->dir);
    snprintf(f->tokens, sizeof(f->tokens), "%s/tokens", f->dir);
    snprintf(f->ca_dir, sizeof(f->ca_dir), "%s/ca", f->dir);
    mkdir(f->ca_dir, 0700);
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        sha256_hex(toks[i].tok, strlen(toks[i].tok), hex);
        size_t n = strlen(text);
        snprintf(text + n, sizeof(text) - n, "%s %s %s\n", hex, toks[i].tenant, toks[i].roles);
    }
    write_file(f->tokens, text, 0600);
    for (int i = 0; i < 32; i++)
        kek[i] = (uint8_t)(i * 7 + 1);
    f->kek = st_gw_kek_from_bytes(kek);
    f->metrics = st_gw_metrics_new();
    st_gw_config_defaults(&f->cfg);
    snprintf(f->cfg.api_listen, sizeof(f->cfg.api_listen), "127.0.0.1:0");
    snprintf(f->cfg.metrics_listen, sizeof(f->cfg.metrics_listen), "127.0.0.1:0");
    snprintf(f->cfg.api_tokens, sizeof(f->cfg.api_tokens), "%s", f->tokens);
    snprintf(f->cfg.registry, sizeof(f->cfg.registry), "%s", f->db);
    snprintf(f->cfg.ca_dir, sizeof(f->cfg.ca_dir), "%s", f->ca_dir);
    f->cfg.cert_days = 30;
    f->cfg.api_plain_http = !https;
    f->https = https;
    if (https) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509 *x = self_signed(k, "127.0.0.1", 0, "127.0.0.1");
        char *c = pem_cert(x), *kp = pem_key(k);
        snprintf(f->cert, sizeof(f->cert), "%s/api.pem", f->dir);
        snprintf(f->key, sizeof(f->key), "%s/api.key", f->dir);
        write_file(f->cert, c, 0644);
        write_file(f->key, kp, 0600);
        free(c);
        free(kp);
        X509_free(x);
        EVP_PKEY_free(k);
        snprintf(f->cfg.api_cert, sizeof(f->cfg.api_cert), "%s", f->cert);
        snprintf(f->cfg.api_key, sizeof(f->cfg.api_key), "%s", f->key);
    }
    f->api = st_gw_api_start(&f->cfg, f->kek, f->metrics, err, sizeof(err));
    if (f->api == NULL) {
        fprintf(stderr, "st_gw_api_start: %s\n", err);
        die("api start");
    }
    snprintf(f->base, sizeof(f->base), "%s://127.0.0.1:%u", https ? "https" : "http",
             st_gw_api_port(f->api));
    return f;
}

void api_fx_stop(struct api_fx *f)
{
    char cmd[128];
    if (f == NULL)
        return;
    st_gw_api_stop(f->api);
    st_gw_metrics_free(f->metrics);
    st_gw_kek_free(f->kek);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
}

struct sink {
    char *p;
    size_t n;
};

static size_t on_body(char *d, size_t sz, size_t nm, void *arg)
{
    struct sink *s = arg;
    size_t n = sz * nm;
    char *np = realloc(s->p, s->n + n + 1);
    if (np == NULL)
        return 0;
    memcpy(np + s->n, d, n);
    s->n += n;
    np[s->n] = 0;
    s->p = np;
    return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= cap)
        vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = 0;
}

static size_t on_header(char *d, size_t sz, size_t nm, void *arg)
{
    struct resp *r = arg;
    size_t n = sz * nm;
    header_value(d, n, "ETag", r->etag, sizeof(r->etag));
    header_value(d, n, "Content-Type", r->content_type, sizeof(r->content_type));
    header_value(d, n, "Location", r->location, sizeof(r->location));
    header_value(d, n, "Cache-Control", r->cache_control, sizeof(r->cache_control));
    header_value(d, n, "Allow", r->allow, sizeof(r->allow));
    header_value(d, n, "WWW-Authenticate", r->www_auth, sizeof(r->www_auth));
    return n;
}

int http(struct api_fx *f, const char *method, const char *path, const char *token,
         const char *ctype, const char *body, size_t len, const char *hdr1, const char *hdr2,
         struct resp *r)
{
    char url[1024], h[640];
    struct curl_slist *hl = NULL;
    struct sink s = {NULL, 0};
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (ctype == NULL)
            ctype = "application/json";
    }
    if (ctype) {
        snprintf(h, sizeof(h), "Content-Type: %s", ctype);
        hl = curl_slist_append(hl, ctype[0] ? h : "Content-Type:");
    }
    if (token) {
        snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
        hl = curl_slist_append(hl, h);
    }
    if (hdr1)
        hl = curl_slist_append(hl, hdr1);
    if (hdr2)
        hl = curl_slist_append(hl, hdr2);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (f->https)
        curl_easy_setopt(c, CURLOPT_CAINFO, f->cert);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        fprintf(stderr, "curl %s %s: %s\n", method, path, curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = s.p;
    r->len = s.n;
    if (r->body && strncmp(r->content_type, "application/json", 16) == 0)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    return cc == CURLE_OK ? 0 : -1;
}

long req(struct api_fx *f, const char *method, const char *path, const char *token,
         const char *json_body, const char *hdr, struct resp *r)
{
    http(f, method, path, token, NULL, json_body, json_body ? strlen(json_body) : 0, hdr, NULL, r);
    return r->status;
}

void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

const char *err_code(const struct resp *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return s ? s : "";
}

const char *err_msg(const struct resp *r)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    return s ? s : "";
}
