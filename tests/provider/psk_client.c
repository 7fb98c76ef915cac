/*
 * PSK-mode test client (docs/provider.md "PSK mode"; tests/provider/prov_psk.sh).
 * The simtrust provider is built in (simtrust_prov, OSSL_PROVIDER_add_builtin),
 * so this also runs in the ASan+UBSan build.
 *
 *   psk_client MODE HOST PORT LABEL [CIPHERS]
 *   psk_client selftest LABEL PSKHEX
 *     known answers of the provider's TLS1-PRF / TLS13-KDF: card results (PRF modes 01 and
 *     02, HKDF extract) against the default provider fed with the real PSK (which only the
 *     test knows), software deferral, and the refusals of misplaced placeholders.
 *     MODE: tls12 | tls13 | dtls12; LABEL: the card's secret key label;
 *     CIPHERS: a TLS 1.2 cipher list (narrows ST_PROV_PSK_TLS12_CIPHERS).
 * Environment: SIMTRUST_SIM (the card), SSLKEYLOGFILE (key log, appended).
 * Prints the protocol, the cipher and the card counters; sends one line and
 * waits for the server's echo when ST_PSK_ECHO is set. Exit 0 on a completed
 * handshake, 1 otherwise (OpenSSL's error queue on stdout).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "prov.h"
#include "prov_psk.h"

static FILE *keylog;

static void keylog_cb(const SSL *ssl, const char *line)
{
    (void)ssl;
    if (keylog != NULL) {
        fprintf(keylog, "%s\n", line);
        fflush(keylog);
    }
}

static int dial(const char *host, const char *port, int type)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = type}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

static unsigned long long counter(OSSL_PROVIDER *p, const char *name)
{
    uint64_t v = 0;
    OSSL_PARAM q[] = {OSSL_PARAM_uint64(name, &v), OSSL_PARAM_END};
    OSSL_PROVIDER_get_params(p, q);
    return (unsigned long long)v;
}

static int fails;
#define CHECK(cond, what)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            printf("selftest FAIL: %s\n", what);                                             \
            ERR_print_errors_fp(stdout);                                                      \
            fails++;                                                                          \
        } else {                                                                              \
            printf("selftest ok: %s\n", what);                                               \
            ERR_clear_error();                                                                \
        }                                                                                     \
    } while (0)

/* TLS1-PRF: out = PRF(secret, seeds) with the KDF of lib/propq; 1 on success. */
static int prf(OSSL_LIB_CTX *lib, const char *propq, const char *md, const uint8_t *sec,
               size_t slen, uint8_t *out, size_t olen, const char **provname)
{
    static const char label[] = "extended master secret";
    uint8_t hash[32];
    memset(hash, 0x5a, sizeof(hash));
    EVP_KDF *k = EVP_KDF_fetch(lib, "TLS1-PRF", propq);
    EVP_KDF_CTX *c = k != NULL ? EVP_KDF_CTX_new(k) : NULL;
    if (provname != NULL && k != NULL)
        *provname = OSSL_PROVIDER_get0_name(EVP_KDF_get0_provider(k));
    OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string("digest", (char *)md, 0),
        OSSL_PARAM_octet_string("secret", (void *)sec, slen),
        OSSL_PARAM_octet_string("seed", (void *)label, sizeof(label) - 1),
        OSSL_PARAM_octet_string("seed", hash, sizeof(hash)),
        OSSL_PARAM_END,
    };
    int ok = c != NULL && EVP_KDF_derive(c, out, olen, p) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(k);
    return ok;
}

/* TLS13-KDF, mode 1 extract / 2 expand ("c hs traffic"). */
static int tls13(OSSL_LIB_CTX *lib, const char *propq, int mode, const uint8_t *key, size_t klen,
                 const uint8_t *salt, size_t saltlen, uint8_t *out, size_t olen)
{
    EVP_KDF *k = EVP_KDF_fetch(lib, "TLS13-KDF", propq);
    EVP_KDF_CTX *c = k != NULL ? EVP_KDF_CTX_new(k) : NULL;
    OSSL_PARAM p[8], *q = p;
    *q++ = OSSL_PARAM_construct_int("mode", &mode);
    *q++ = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    *q++ = OSSL_PARAM_construct_octet_string("key", (void *)key, klen);
    if (salt != NULL)
        *q++ = OSSL_PARAM_construct_octet_string("salt", (void *)salt, saltlen);
    *q++ = OSSL_PARAM_construct_octet_string("prefix", (void *)"tls13 ", 6);
    *q++ = OSSL_PARAM_construct_octet_string("label", (void *)(mode == 1 ? "derived" : "c hs traffic"),
                                             mode == 1 ? 7 : 12);
    *q++ = OSSL_PARAM_construct_octet_string("data", (void *)"", 0);
    *q = OSSL_PARAM_construct_end();
    int ok = c != NULL && EVP_KDF_derive(c, out, olen, p) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(k);
    return ok;
}

/* uint16 L | other | uint16 N | psk */
static size_t premaster(uint8_t *b, const uint8_t *other, size_t olen, const uint8_t *psk, size_t n)
{
    b[0] = (uint8_t)(olen >> 8);
    b[1] = (uint8_t)olen;
    if (other != NULL)
        memcpy(b + 2, other, olen);
    else
        memset(b + 2, 0, olen);
    b[2 + olen] = (uint8_t)(n >> 8);
    b[3 + olen] = (uint8_t)n;
    memcpy(b + 4 + olen, psk, n);
    return 4 + olen + n;
}

static int selftest(OSSL_LIB_CTX *lib, const char *label, const char *pskhex)
{
    OSSL_LIB_CTX *ref = OSSL_LIB_CTX_new(); /* default provider only: the reference */
    OSSL_PROVIDER *refdef = ref != NULL ? OSSL_PROVIDER_load(ref, "default") : NULL;
    uint8_t psk[64], ph[ST_PROV_PSK_PLACEHOLDER_LEN], other[32], sec[200], sec2[200];
    uint8_t a[48], b[48];
    long n = 0;
    unsigned char *bin = OPENSSL_hexstr2buf(pskhex, &n);
    if (refdef == NULL || bin == NULL || n < 1 || n > 64 || !st_prov_psk_placeholder(label, ph))
        return 1;
    memcpy(psk, bin, (size_t)n);
    OPENSSL_clear_free(bin, (size_t)n);
    memset(other, 0xc3, sizeof(other));
    const char *pn = NULL;

    /* Software deferral: a plain secret gives the default provider's answer, no card. */
    memset(sec, 0x11, 48);
    CHECK(prf(lib, "?provider=simtrust", "SHA256", sec, 48, a, 48, &pn)
              && prf(ref, NULL, "SHA256", sec, 48, b, 48, NULL) && memcmp(a, b, 48) == 0
              && pn != NULL && strcmp(pn, "simtrust") == 0,
          "TLS1-PRF of the simtrust provider defers a plain secret to software");
    CHECK(tls13(lib, "?provider=simtrust", 1, sec, 32, other, 32, a, 32)
              && tls13(ref, NULL, 1, sec, 32, other, 32, b, 32) && memcmp(a, b, 32) == 0,
          "TLS13-KDF extract with a salt defers to software");

    /* Card known answers: the placeholder pre-master vs. the real one in software. */
    size_t l1 = premaster(sec, NULL, ST_PROV_PSK_PLACEHOLDER_LEN, ph, sizeof(ph));
    size_t l2 = premaster(sec2, NULL, (size_t)n, psk, (size_t)n);
    CHECK(prf(lib, "?provider=simtrust", "SHA256", sec, l1, a, 48, NULL)
              && prf(ref, NULL, "SHA256", sec2, l2, b, 48, NULL) && memcmp(a, b, 48) == 0,
          "PSK master secret from the card (COMPUTE PRF mode 01) = RFC 4279 PRF");
    l1 = premaster(sec, other, sizeof(other), ph, sizeof(ph));
    l2 = premaster(sec2, other, sizeof(other), psk, (size_t)n);
    CHECK(prf(lib, "?provider=simtrust", "SHA256", sec, l1, a, 48, NULL)
              && prf(ref, NULL, "SHA256", sec2, l2, b, 48, NULL) && memcmp(a, b, 48) == 0,
          "ECDHE-PSK master secret from the card (COMPUTE PRF mode 02) = RFC 5489 PRF");
    CHECK(tls13(lib, "?provider=simtrust", 1, ph, sizeof(ph), NULL, 0, a, 32)
              && tls13(ref, NULL, 1, psk, (size_t)n, NULL, 0, b, 32) && memcmp(a, b, 32) == 0,
          "TLS 1.3 early secret from the card (COMPUTE HKDF extract) = HKDF-Extract(0, PSK)");

    /* Misplaced placeholders: refused, never derived in software. */
    l1 = premaster(sec, NULL, ST_PROV_PSK_PLACEHOLDER_LEN, ph, sizeof(ph));
    CHECK(!prf(lib, "?provider=simtrust", "SHA384", sec, l1, a, 48, NULL),
          "PSK pre-master with a SHA-384 PRF refused");
    sec[1] ^= 1; /* length field broken: not an RFC 4279 structure, placeholder inside */
    CHECK(!prf(lib, "?provider=simtrust", "SHA256", sec, l1, a, 48, NULL),
          "malformed pre-master holding a placeholder refused");
    CHECK(!tls13(lib, "?provider=simtrust", 2, ph, sizeof(ph), NULL, 0, a, 32),
          "TLS13-KDF expand with the placeholder as key refused");
    CHECK(!tls13(lib, "?provider=simtrust", 1, ph, sizeof(ph), other, 32, a, 32),
          "TLS13-KDF extract of the placeholder with a salt refused");
    OPENSSL_cleanse(psk, sizeof(psk));
    OPENSSL_cleanse(sec2, sizeof(sec2));
    OSSL_PROVIDER_unload(refdef);
    OSSL_LIB_CTX_free(ref);
    printf("selftest: %d failure(s)\n", fails);
    return fails != 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "selftest") == 0) {
        OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
        OSSL_PROVIDER *d = NULL, *s = NULL;
        int r = 1;
        if (lib != NULL && OSSL_PROVIDER_add_builtin(lib, "simtrust", st_prov_init)
            && (d = OSSL_PROVIDER_load(lib, "default")) != NULL
            && (s = OSSL_PROVIDER_load(lib, "simtrust")) != NULL)
            r = selftest(lib, argv[2], argv[3]);
        else
            ERR_print_errors_fp(stdout);
        OSSL_PROVIDER_unload(s);
        OSSL_PROVIDER_unload(d);
        OSSL_LIB_CTX_free(lib);
        return r;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: psk_client tls12|tls13|dtls12 HOST PORT LABEL [CIPHERS]\n");
        return 2;
    }
    const char *mode = argv[1];
    int dtls = strcmp(mode, "dtls12") == 0;
    int rc = 1;
    if (getenv("SSLKEYLOGFILE") != NULL)
        keylog = fopen(getenv("SSLKEYLOGFILE"), "a");
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *def = NULL, *st = NULL;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    int fd = -1;
    if (lib == NULL || !OSSL_PROVIDER_add_builtin(lib, "simtrust", st_prov_init)
        || (def = OSSL_PROVIDER_load(lib, "default")) == NULL
        || (st = OSSL_PROVIDER_load(lib, "simtrust")) == NULL)
        goto out;
    ctx = SSL_CTX_new_ex(lib, "?provider=simtrust", dtls ? DTLS_client_method() : TLS_client_method());
    if (ctx == NULL)
        goto out;
    if (dtls) {
        SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    } else {
        int v = strcmp(mode, "tls13") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        SSL_CTX_set_min_proto_version(ctx, v);
        SSL_CTX_set_max_proto_version(ctx, v);
    }
    if (!SSL_CTX_set1_groups_list(ctx, "P-256") || !st_prov_psk_use(ctx, argv[4]))
        goto out;
    if (argc > 5 && !SSL_CTX_set_cipher_list(ctx, argv[5]))
        goto out;
    SSL_CTX_set_keylog_callback(ctx, keylog_cb);
    fd = dial(argv[2], argv[3], dtls ? SOCK_DGRAM : SOCK_STREAM);
    if (fd < 0) {
        fprintf(stdout, "cannot connect to %s:%s\n", argv[2], argv[3]);
        goto out;
    }
    ssl = SSL_new(ctx);
    if (ssl == NULL)
        goto out;
    if (dtls) {
        BIO *b = BIO_new_dgram(fd, BIO_NOCLOSE);
        if (b == NULL)
            goto out;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        getpeername(fd, (struct sockaddr *)&peer, &plen);
        BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
        SSL_set_bio(ssl, b, b);
    } else {
        SSL_set_fd(ssl, fd);
    }
    OSSL_PARAM reset[] = {OSSL_PARAM_int("simtrust-reset-stats", &(int){0}), OSSL_PARAM_END};
    OSSL_PROVIDER_get_params(st, reset); /* count the handshake only */
    if (SSL_connect(ssl) != 1) {
        printf("handshake failed\n");
        goto out;
    }
    printf("Protocol: %s\nCipher: %s\n", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    printf("card: apdus %llu prfs %llu hkdfs %llu keygens %llu dhs %llu reads %llu\n",
           counter(st, "simtrust-apdus"), counter(st, "simtrust-prfs"),
           counter(st, "simtrust-hkdfs"), counter(st, "simtrust-keygens"),
           counter(st, "simtrust-dhs"), counter(st, "simtrust-card-ops"));
    static const char msg[] = "hello from the card (psk)\n";
    if (SSL_write(ssl, msg, (int)sizeof(msg) - 1) != (int)sizeof(msg) - 1) {
        printf("write failed\n");
        goto out;
    }
    if (getenv("ST_PSK_ECHO") != NULL) {
        char buf[256];
        int n = SSL_read(ssl, buf, sizeof(buf) - 1);
        if (n <= 0) {
            printf("no echo\n");
            goto out;
        }
        buf[n] = '\0';
        printf("echo: %s", buf);
    }
    SSL_shutdown(ssl);
    printf("PSK handshake ok\n");
    rc = 0;
out:
    if (rc != 0)
        ERR_print_errors_fp(stdout);
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    OSSL_PROVIDER_unload(st);
    OSSL_PROVIDER_unload(def);
    OSSL_LIB_CTX_free(lib);
    if (keylog != NULL)
        fclose(keylog);
    return rc;
}
