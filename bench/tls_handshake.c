/*
 * TLS handshake benchmark (issue 4 item 8): per handshake kind (TLS 1.3, TLS 1.2,
 * DTLS 1.2, mutual ECDHE-ECDSA; TLS 1.2 PSK, TLS 1.2 ECDHE-PSK, TLS 1.3 external PSK
 * with psk_dhe_ke), the card's work through the TLS API (APDUs, bytes over the link,
 * card operations) and the estimated wall time on a SIM behind a cellular modem, next
 * to the same handshake with a software key or the PSK in software (plain OpenSSL, as
 * `openssl s_client -psk`; 0 APDUs: the floor, measured).
 *
 * Estimate (docs/libsimtrust.md "TLS benchmark"): the handshake measured against a
 * card that does not sleep (simtrust-card --latency modem-sim,sleep=no) plus the
 * modem-sim preset of docs/card-frontends.md applied to the provider's counters:
 *   20 ms per APDU + 50 us per byte (command + response) + 100 ms per signature
 *   + 110 ms per ECDH + 800 ms per key generation + 30 ms per COMPUTE PRF / COMPUTE
 *   HKDF + 10 ms per other card operation (PUT PUBLIC KEY, file and key reads).
 *
 *   tls_handshake --sim tcp:H:P --servername localhost --soft-key cli.key
 *       --soft-cert cli.pem --ca-file ca.pem [--tls13 PORT] [--tls12 PORT]
 *       [--dtls12 PORT] [--psk12 PORT] [--ecdhe-psk12 PORT] [--psk13 PORT]
 *       [--psk-hex HEX --psk-identity ID] [-n N]
 * (PSK kinds: the card's secret key "psk1" holds the PSK HEX, its identity file ID.)
 * bench/tls_handshake.sh makes the PKI, the card and the servers and runs it.
 */
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "simtrust/tls.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum { N_KINDS = 6, K_PSK = 3 /* kinds >= K_PSK are PSK kinds */ };

struct opts {
    const char *sim, *sni, *key, *cert, *ca, *psk_hex, *psk_id;
    unsigned port[N_KINDS];
    int n;
};

static const char *const kind_name[N_KINDS] = {
    "TLS 1.3 mutual", "TLS 1.2 mutual", "DTLS 1.2 mutual",
    "TLS 1.2 PSK",    "TLS 1.2 ECDHE-PSK", "TLS 1.3 PSK-DHE"};
/* PSK kinds: the suite (the servers are restricted to it too). */
static const char *const psk_cipher[N_KINDS] = {
    NULL, NULL, NULL, "PSK-AES128-GCM-SHA256", "ECDHE-PSK-CHACHA20-POLY1305", NULL};

static int kind_version(int kind)
{
    return kind == 0 || kind == 5 ? TLS1_3_VERSION : kind == 2 ? DTLS1_2_VERSION : TLS1_2_VERSION;
}

/* The software PSK (the floor): the same callbacks as `openssl s_client -psk`. */
static unsigned char soft_psk[64];
static long soft_psk_len;
static const char *soft_psk_id;

static unsigned int soft_psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
                                unsigned char *psk, unsigned int max_psk)
{
    (void)ssl;
    (void)hint;
    size_t n = strlen(soft_psk_id);
    if (n + 1 > max_id || (unsigned long)soft_psk_len > max_psk)
        return 0;
    memcpy(id, soft_psk_id, n + 1);
    memcpy(psk, soft_psk, (size_t)soft_psk_len);
    return (unsigned int)soft_psk_len;
}

static int soft_psk_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
                               size_t *idlen, SSL_SESSION **sess)
{
    static const unsigned char aes128gcm[2] = {0x13, 0x01};
    const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes128gcm);
    *id = NULL;
    *idlen = 0;
    *sess = NULL;
    if (c == NULL || (md != NULL && md != SSL_CIPHER_get_handshake_digest(c)))
        return 1;
    SSL_SESSION *s = SSL_SESSION_new();
    if (s == NULL || SSL_SESSION_set1_master_key(s, soft_psk, (size_t)soft_psk_len) != 1
        || SSL_SESSION_set_cipher(s, c) != 1
        || SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
        SSL_SESSION_free(s);
        return 0;
    }
    *sess = s;
    *id = (const unsigned char *)soft_psk_id;
    *idlen = strlen(soft_psk_id);
    return 1;
}

/* The floor: the same handshake with the key in a PEM file; returns ms or -1. */
static double soft_handshake(const struct opts *o, SSL_CTX *ctx, int kind)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = kind == 2 ? SOCK_DGRAM : SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", o->port[kind]);
    if (getaddrinfo("127.0.0.1", port, &hints, &res) != 0)
        return -1;
    double t0 = now_ms();
    int fd = socket(res->ai_family, res->ai_socktype, 0);
    double ms = -1;
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        SSL *ssl = SSL_new(ctx);
        BIO *b = kind == 2 ? BIO_new_dgram(fd, BIO_NOCLOSE) : BIO_new_socket(fd, BIO_NOCLOSE);
        if (kind == 2) {
            BIO_ADDR *peer = BIO_ADDR_new();
            const struct sockaddr_in *s = (const void *)res->ai_addr;
            BIO_ADDR_rawmake(peer, AF_INET, &s->sin_addr, sizeof(s->sin_addr), s->sin_port);
            BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, peer);
            BIO_ADDR_free(peer);
        }
        SSL_set_bio(ssl, b, b);
        SSL_set1_host(ssl, o->sni);
        SSL_set_tlsext_host_name(ssl, o->sni);
        if (SSL_connect(ssl) == 1) {
            ms = now_ms() - t0;
            SSL_shutdown(ssl);
        } else {
            ERR_print_errors_fp(stderr);
        }
        SSL_free(ssl);
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return ms;
}

static SSL_CTX *soft_ctx(const struct opts *o, int kind)
{
    SSL_CTX *c = SSL_CTX_new(kind == 2 ? DTLS_client_method() : TLS_client_method());
    int v = kind_version(kind);
    if (c == NULL || SSL_CTX_set_min_proto_version(c, v) != 1
        || SSL_CTX_set_max_proto_version(c, v) != 1 || SSL_CTX_set1_groups_list(c, "P-256") != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(c);
        return NULL;
    }
    if (kind >= K_PSK) {
        if ((psk_cipher[kind] != NULL && SSL_CTX_set_cipher_list(c, psk_cipher[kind]) != 1)
            || (kind == 5 && SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256") != 1)) {
            ERR_print_errors_fp(stderr);
            SSL_CTX_free(c);
            return NULL;
        }
        SSL_CTX_set_psk_client_callback(c, soft_psk_cb);
        SSL_CTX_set_psk_use_session_callback(c, soft_psk_session_cb);
        return c;
    }
    if (SSL_CTX_use_certificate_file(c, o->cert, SSL_FILETYPE_PEM) != 1
        || SSL_CTX_use_PrivateKey_file(c, o->key, SSL_FILETYPE_PEM) != 1
        || SSL_CTX_load_verify_file(c, o->ca) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(c);
        return NULL;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    return c;
}

int main(int argc, char **argv)
{
    struct opts o = {NULL, "localhost", NULL, NULL, NULL, NULL, NULL, {0, 0, 0, 0, 0, 0}, 5};
    static const struct option lo[] = {
        {"sim", 1, NULL, 's'},       {"servername", 1, NULL, 'S'}, {"soft-key", 1, NULL, 'k'},
        {"soft-cert", 1, NULL, 'c'}, {"ca-file", 1, NULL, 'a'},    {"tls13", 1, NULL, '3'},
        {"tls12", 1, NULL, '2'},     {"dtls12", 1, NULL, 'd'},     {"psk12", 1, NULL, 'p'},
        {"ecdhe-psk12", 1, NULL, 'e'}, {"psk13", 1, NULL, 'q'},    {"psk-hex", 1, NULL, 'x'},
        {"psk-identity", 1, NULL, 'i'}, {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
        switch (ch) {
        case 's': o.sim = optarg; break;
        case 'S': o.sni = optarg; break;
        case 'k': o.key = optarg; break;
        case 'c': o.cert = optarg; break;
        case 'a': o.ca = optarg; break;
        case '3': o.port[0] = (unsigned)atoi(optarg); break;
        case '2': o.port[1] = (unsigned)atoi(optarg); break;
        case 'd': o.port[2] = (unsigned)atoi(optarg); break;
        case 'p': o.port[3] = (unsigned)atoi(optarg); break;
        case 'e': o.port[4] = (unsigned)atoi(optarg); break;
        case 'q': o.port[5] = (unsigned)atoi(optarg); break;
        case 'x': o.psk_hex = optarg; break;
        case 'i': o.psk_id = optarg; break;
        case 'n': o.n = atoi(optarg); break;
        default: fprintf(stderr, "usage: see the comment at the top of bench/tls_handshake.c\n");
                 return 2;
        }
    }
    if (o.sim == NULL || o.key == NULL || o.cert == NULL || o.ca == NULL || o.n < 1) {
        fprintf(stderr, "tls_handshake: --sim, --soft-key, --soft-cert, --ca-file needed\n");
        return 2;
    }
    if (o.port[3] != 0 || o.port[4] != 0 || o.port[5] != 0) {
        unsigned char *b = o.psk_hex != NULL ? OPENSSL_hexstr2buf(o.psk_hex, &soft_psk_len) : NULL;
        if (b == NULL || o.psk_id == NULL || soft_psk_len < 1
            || (size_t)soft_psk_len > sizeof(soft_psk)) {
            OPENSSL_free(b);
            fprintf(stderr, "tls_handshake: PSK kinds need --psk-hex (1-64 bytes) and "
                            "--psk-identity\n");
            return 2;
        }
        memcpy(soft_psk, b, (size_t)soft_psk_len);
        OPENSSL_clear_free(b, (size_t)soft_psk_len);
        soft_psk_id = o.psk_id;
    }
    printf("%d handshakes per kind; estimate = measured (card not sleeping) + modem-sim preset:\n"
           "20 ms/APDU, 50 us/byte, sign 100 ms, ECDH 110 ms, keygen 800 ms, PRF/HKDF 30 ms,\n"
           "other op 10 ms; software = the same handshake with the key / PSK in software\n\n",
           o.n);
    printf("%-17s | %5s %6s %5s %7s | %9s %13s | %11s\n", "handshake", "APDUs", "bytes",
           "ops", "s/d/k/p", "card ms", "est. modem ms", "software ms");
    printf("------------------+----------------------------+-------------------------+"
           "------------\n");
    int rc = 0;
    for (int kind = 0; kind < N_KINDS; kind++) {
        if (o.port[kind] == 0)
            continue;
        struct st_tls_config cfg = ST_TLS_CONFIG_INIT;
        cfg.sim = o.sim;
        if (kind >= K_PSK) {
            cfg.psk_label = "psk1";
        } else {
            cfg.key_label = "client";
            cfg.cert_label = "client-cert";
            cfg.ca_label = "ca";
        }
        cfg.server_name = o.sni;
        cfg.version = kind_version(kind) == TLS1_3_VERSION   ? ST_TLS_1_3
                      : kind_version(kind) == TLS1_2_VERSION ? ST_TLS_1_2
                                                             : ST_DTLS_1_2;
        struct st_tls_ctx *ctx = st_tls_ctx_new(&cfg);
        if (ctx == NULL) {
            fprintf(stderr, "tls_handshake: %s\n", st_tls_last_error());
            return 1;
        }
        struct st_tls_stats sum;
        memset(&sum, 0, sizeof(sum));
        for (int i = 0; i < o.n; i++) {
            struct st_tls_conn *c;
            if (st_tls_connect(ctx, "127.0.0.1", o.port[kind], &c) != ST_TLS_OK) {
                fprintf(stderr, "tls_handshake: %s: %s\n", kind_name[kind], st_tls_last_error());
                rc = 1;
                break;
            }
            struct st_tls_stats s;
            st_tls_stats(ctx, c, &s);
            sum.apdus += s.apdus;
            sum.bytes_out += s.bytes_out;
            sum.bytes_in += s.bytes_in;
            sum.card_ops += s.card_ops;
            sum.signs += s.signs;
            sum.dhs += s.dhs;
            sum.keygens += s.keygens;
            sum.prfs += s.prfs;
            sum.hkdfs += s.hkdfs;
            sum.handshake_ms += s.handshake_ms;
            st_tls_shutdown(c);
            st_tls_close(c);
        }
        st_tls_ctx_free(ctx);
        if (rc != 0)
            break;
        double n = o.n;
        double apdus = (double)sum.apdus / n, bytes = (double)(sum.bytes_out + sum.bytes_in) / n;
        double ops = (double)sum.card_ops / n, signs = (double)sum.signs / n;
        double dhs = (double)sum.dhs / n, kg = (double)sum.keygens / n;
        double kdf = (double)(sum.prfs + sum.hkdfs) / n;
        double other = ops - signs - dhs - kg - kdf;
        double card_ms = sum.handshake_ms / n;
        double est = card_ms + apdus * 20.0 + bytes * 0.05 + signs * 100.0 + dhs * 110.0
                     + kg * 800.0 + kdf * 30.0 + (other > 0 ? other : 0) * 10.0;
        SSL_CTX *sc = soft_ctx(&o, kind);
        double soft = 0;
        int ok = 0;
        for (int i = 0; sc != NULL && i < o.n; i++) {
            double ms = soft_handshake(&o, sc, kind);
            if (ms >= 0) {
                soft += ms;
                ok++;
            }
        }
        SSL_CTX_free(sc);
        if (ok != o.n) {
            fprintf(stderr, "tls_handshake: %s with a software key / PSK failed\n",
                    kind_name[kind]);
            rc = 1;
        }
        char sdk[32];
        snprintf(sdk, sizeof(sdk), "%.0f/%.0f/%.0f/%.0f", signs, dhs, kg, kdf);
        printf("%-17s | %5.1f %6.0f %5.1f %7s | %9.1f %13.0f | %11.2f\n", kind_name[kind], apdus,
               bytes, ops, sdk, card_ms, est, ok ? soft / ok : -1.0);
    }
    printf("\ns/d/k/p: signatures / ECDH / key generations / COMPUTE PRF or HKDF per handshake "
           "(averages; the PSK identity READ FILE of a context's first PSK handshake is in "
           "ops).\n");
    return rc;
}
