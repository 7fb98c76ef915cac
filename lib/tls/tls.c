/*
 * simtrust TLS API (include/simtrust/tls.h, docs/libsimtrust.md "TLS"):
 * OpenSSL libssl with the simtrust provider built in (st_prov_init, added
 * with OSSL_PROVIDER_add_builtin to a private OSSL_LIB_CTX), so the client's
 * CertificateVerify signature, its ECDHE key pair and the ECDH run on the
 * SIM (IoT.04 B3, B4, F2, F4, F7, E6) and the server is checked against a
 * trust anchor read from the card (F3, B9).
 *
 * The SIM spec reaches the provider without a config file: the provider asks
 * the core for its "sim" parameter at init; our init wrapper answers it from
 * the context being created (passed through a thread-local pointer, since
 * OSSL_PROVIDER_load runs the init function synchronously in this thread).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509_vfy.h>

#include "prov.h"
#include "simtrust/tls.h"
#ifdef ST_TLS_HAVE_PSK /* lib/tls/CMakeLists.txt: set when the provider has PSK mode */
#include "prov_psk.h"
#endif

#define PROPQ "?provider=simtrust"

struct st_tls_ctx {
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *prov, *deflt;
    SSL_CTX *ssl;
    char *sim;
    char *server_name; /* copy of cfg->server_name */
    struct st_tls_config cfg;
};

struct st_tls_conn {
    struct st_tls_ctx *ctx;
    SSL *ssl;
    int fd;
    struct st_tls_stats hs;
};

/* ---- errors ---- */

static _Thread_local char last_msg[512];
static _Thread_local int last_status;

const char *st_tls_last_error(void)
{
    return last_msg[0] != '\0' ? last_msg : "no error";
}

int st_tls_last_status(void)
{
    return last_status;
}

const char *st_tls_status_name(int status)
{
    switch (status) {
    case ST_TLS_OK: return "ok";
    case ST_TLS_ERR_ARG: return "bad argument";
    case ST_TLS_ERR_NO_SIM: return "no SIM configured";
    case ST_TLS_ERR_CARD_REMOVED: return "card removed";
    case ST_TLS_ERR_CARD: return "card error";
    case ST_TLS_ERR_NOT_FOUND: return "not found on the card";
    case ST_TLS_ERR_CONNECT: return "connect failed";
    case ST_TLS_ERR_CERT_UNTRUSTED: return "untrusted server certificate";
    case ST_TLS_ERR_CERT_EXPIRED: return "server certificate expired";
    case ST_TLS_ERR_CERT_NAME: return "wrong server name";
    case ST_TLS_ERR_CERT: return "server certificate rejected";
    case ST_TLS_ERR_PEER: return "refused by the server";
    case ST_TLS_ERR_TLS: return "TLS error";
    case ST_TLS_ERR_TIMEOUT: return "timeout";
    case ST_TLS_ERR_CLOSED: return "connection closed";
    case ST_TLS_ERR_NOMEM: return "out of memory";
    case ST_TLS_AGAIN: return "try again";
    default: return "unknown";
    }
}

__attribute__((format(printf, 2, 3))) static int fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
    va_end(ap);
    last_status = status;
    return status;
}

static void clear_error(void)
{
    last_msg[0] = '\0';
    last_status = ST_TLS_OK;
}

/*
 * Classifies the OpenSSL error queue (emptied): the provider's card errors
 * first (they explain the libssl errors that follow them), then a TLS alert
 * from the peer, then the first error. Returns the status, message in last_msg.
 */
static int fail_openssl(int fallback, const char *what)
{
    unsigned long e;
    const char *data;
    int flags;
    int status = 0;
    char card[320] = "", alert[160] = "", first[320] = "";
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *reason = ERR_reason_error_string(e);
        const char *det = (flags & ERR_TXT_STRING) && data != NULL ? data : "";
        if (reason == NULL)
            reason = "unknown error";
        int st = 0;
        if (strcmp(reason, "SIM unreachable") == 0)
            st = ST_TLS_ERR_CARD_REMOVED;
        else if (strcmp(reason, "SIM answered an error") == 0
                 || strcmp(reason, "ephemeral key on the SIM was replaced") == 0
                 || strcmp(reason, "not supported by the SIM") == 0)
            st = ST_TLS_ERR_CARD;
        else if (strcmp(reason, "no such object on the SIM") == 0)
            st = ST_TLS_ERR_NOT_FOUND;
        else if (strncmp(reason, "no SIM configured", 17) == 0)
            st = ST_TLS_ERR_NO_SIM;
        if (st != 0 && status == 0) {
            status = st;
            snprintf(card, sizeof(card), "%s%s%s", reason, det[0] ? ": " : "", det);
        } else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET
                   && alert[0] == '\0') {
            snprintf(alert, sizeof(alert), "%s", reason);
        } else if (first[0] == '\0') {
            snprintf(first, sizeof(first), "%s%s%s", reason, det[0] ? ": " : "", det);
        }
    }
    switch (status) {
    case ST_TLS_ERR_CARD_REMOVED:
        return fail(status, "%s: card removed or unreachable (%s)", what, card);
    case ST_TLS_ERR_CARD:
        return fail(status, "%s: card error (%s)", what, card);
    case ST_TLS_ERR_NOT_FOUND:
        return fail(status, "%s: %s", what, card);
    case ST_TLS_ERR_NO_SIM:
        return fail(status, "%s: no SIM configured (st_tls_config.sim or SIMTRUST_SIM)", what);
    default:
        break;
    }
    if (alert[0] != '\0')
        return fail(ST_TLS_ERR_PEER, "%s: the server refused the handshake (%s)", what, alert);
    return fail(fallback, "%s: %s", what, first[0] ? first : "failed");
}

/* ---- the built-in provider, with the SIM spec as its "sim" parameter ---- */

static _Thread_local const char *pending_sim;
static OSSL_FUNC_core_get_params_fn *core_get_params;

static int wrap_get_params(const OSSL_CORE_HANDLE *handle, OSSL_PARAM params[])
{
    if (core_get_params != NULL && !core_get_params(handle, params))
        return 0;
    OSSL_PARAM *p = OSSL_PARAM_locate(params, "sim");
    if (p != NULL && pending_sim != NULL)
        return OSSL_PARAM_set_utf8_ptr(p, pending_sim);
    return 1;
}

static int tls_prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                         const OSSL_DISPATCH **out, void **provctx)
{
    size_t n = 0;
    while (in[n].function_id != 0)
        n++;
    OSSL_DISPATCH *w = calloc(n + 1, sizeof(*w));
    if (w == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = in[i];
        if (in[i].function_id == OSSL_FUNC_CORE_GET_PARAMS) {
            core_get_params = OSSL_FUNC_core_get_params(&in[i]); /* the same for every libctx */
            w[i].function = (void (*)(void))wrap_get_params;
        }
    }
    int ok = st_prov_init(handle, w, out, provctx);
    free(w);
    return ok;
}

static int prov_counters(const struct st_tls_ctx *ctx, struct st_tls_stats *s)
{
    memset(s, 0, sizeof(*s));
    OSSL_PARAM p[] = {
        OSSL_PARAM_uint64("simtrust-apdus", &s->apdus),
        OSSL_PARAM_uint64("simtrust-bytes-out", &s->bytes_out),
        OSSL_PARAM_uint64("simtrust-bytes-in", &s->bytes_in),
        OSSL_PARAM_uint64("simtrust-card-ops", &s->card_ops),
        OSSL_PARAM_uint64("simtrust-signs", &s->signs),
        OSSL_PARAM_uint64("simtrust-dhs", &s->dhs),
        OSSL_PARAM_uint64("simtrust-keygens", &s->keygens),
        OSSL_PARAM_uint64("simtrust-prfs", &s->prfs),
        OSSL_PARAM_uint64("simtrust-hkdfs", &s->hkdfs),
        OSSL_PARAM_END,
    };
    return OSSL_PROVIDER_get_params(ctx->prov, p) == 1 ? 0 : -1;
}

/* ---- context ---- */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int store_uri(char *buf, size_t n, const char *label, const char *type)
{
    /* '%' and ';' would end or escape the label in a simtrust: URI. */
    size_t k = (size_t)snprintf(buf, n, "simtrust:label=");
    for (const char *c = label; *c != '\0'; c++) {
        if (k + 4 >= n)
            return -1;
        if (*c == ';' || *c == '%')
            k += (size_t)snprintf(buf + k, n - k, "%%%02X", (unsigned char)*c);
        else
            buf[k++] = *c;
    }
    int r = snprintf(buf + k, n - k, ";type=%s", type);
    return r < 0 || (size_t)r >= n - k ? -1 : 0;
}

/* Loads every certificate (certs != NULL) or the private key of a card object. */
static int load_card(struct st_tls_ctx *ctx, const char *label, const char *type,
                     STACK_OF(X509) *certs, EVP_PKEY **pkey, const char *what)
{
    char uri[512];
    if (store_uri(uri, sizeof(uri), label, type) != 0)
        return fail(ST_TLS_ERR_ARG, "%s: label '%s' is too long", what, label);
    ERR_clear_error();
    OSSL_STORE_CTX *sc = OSSL_STORE_open_ex(uri, ctx->libctx, PROPQ, NULL, NULL, NULL, NULL, NULL);
    if (sc == NULL)
        return fail_openssl(ST_TLS_ERR_NOT_FOUND, what);
    int found = 0;
    while (!OSSL_STORE_eof(sc)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(sc);
        if (info == NULL)
            break;
        if (certs != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT) {
            X509 *x = OSSL_STORE_INFO_get1_CERT(info);
            if (x != NULL && sk_X509_push(certs, x) > 0)
                found++;
            else
                X509_free(x);
        } else if (pkey != NULL && *pkey == NULL
                   && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            *pkey = OSSL_STORE_INFO_get1_PKEY(info);
            found += *pkey != NULL;
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(sc);
    if (found == 0) {
        if (ERR_peek_error() != 0)
            return fail_openssl(ST_TLS_ERR_NOT_FOUND, what);
        return fail(ST_TLS_ERR_NOT_FOUND, "%s: no %s '%s' on the card", what,
                    certs != NULL ? "certificate file" : "private key", label);
    }
    ERR_clear_error();
    return ST_TLS_OK;
}

static int setup_credentials(struct st_tls_ctx *ctx, const struct st_tls_config *cfg)
{
    int rc = ST_TLS_OK;
    STACK_OF(X509) *chain = sk_X509_new_null();
    STACK_OF(X509) *anchors = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    char what[160];
    if (chain == NULL || anchors == NULL) {
        rc = fail(ST_TLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (cfg->key_label != NULL) {
        snprintf(what, sizeof(what), "client key '%s'", cfg->key_label);
        if ((rc = load_card(ctx, cfg->key_label, "private", NULL, &key, what)) != 0)
            goto out;
        char deflt[128];
        const char *cl = cfg->cert_label;
        if (cl == NULL) {
            snprintf(deflt, sizeof(deflt), "%s-cert", cfg->key_label);
            cl = deflt;
        }
        snprintf(what, sizeof(what), "client certificate file '%s'", cl);
        if ((rc = load_card(ctx, cl, "cert", chain, NULL, what)) != 0)
            goto out;
        ERR_clear_error();
        if (SSL_CTX_use_certificate(ctx->ssl, sk_X509_value(chain, 0)) != 1) {
            rc = fail_openssl(ST_TLS_ERR_ARG, what);
            goto out;
        }
        for (int i = 1; i < sk_X509_num(chain); i++)
            if (SSL_CTX_add1_chain_cert(ctx->ssl, sk_X509_value(chain, i)) != 1) {
                rc = fail_openssl(ST_TLS_ERR_ARG, what);
                goto out;
            }
        if (SSL_CTX_use_PrivateKey(ctx->ssl, key) != 1) {
            rc = fail_openssl(ST_TLS_ERR_ARG, "client key");
            snprintf(last_msg, sizeof(last_msg),
                     "client key '%s' does not match the certificate in '%s'", cfg->key_label, cl);
            goto out;
        }
    }
    if (cfg->ca_label != NULL) {
        snprintf(what, sizeof(what), "trust anchor file '%s'", cfg->ca_label);
        if ((rc = load_card(ctx, cfg->ca_label, "cert", anchors, NULL, what)) != 0)
            goto out;
        X509_STORE *st = SSL_CTX_get_cert_store(ctx->ssl);
        for (int i = 0; i < sk_X509_num(anchors); i++)
            if (X509_STORE_add_cert(st, sk_X509_value(anchors, i)) != 1) {
                rc = fail_openssl(ST_TLS_ERR_ARG, what);
                goto out;
            }
    }
    if (cfg->ca_file != NULL) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_file(ctx->ssl, cfg->ca_file) != 1) {
            rc = fail(ST_TLS_ERR_ARG, "trust anchor file %s: cannot be read", cfg->ca_file);
            ERR_clear_error();
            goto out;
        }
    }
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(anchors, X509_free);
    return rc;
}

struct st_tls_ctx *st_tls_ctx_new(const struct st_tls_config *cfg)
{
    clear_error();
    if (cfg == NULL) {
        fail(ST_TLS_ERR_ARG, "no configuration");
        return NULL;
    }
    if (cfg->ca_label == NULL && cfg->ca_file == NULL && cfg->psk_label == NULL) {
        fail(ST_TLS_ERR_ARG, "no trust anchor: set ca_label (a certificate file on the card) "
                             "or ca_file");
        return NULL;
    }
    if (cfg->version != ST_TLS_1_3 && cfg->version != ST_TLS_1_2 && cfg->version != ST_DTLS_1_2) {
        fail(ST_TLS_ERR_ARG, "unknown TLS version %d", (int)cfg->version);
        return NULL;
    }
#ifndef ST_TLS_HAVE_PSK
    if (cfg->psk_label != NULL) {
        fail(ST_TLS_ERR_ARG, "PSK credentials are not supported yet (psk_label)");
        return NULL;
    }
#endif
    struct st_tls_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        fail(ST_TLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ctx->cfg = *cfg;
    ctx->sim = dup_or_null(cfg->sim);
    ctx->cfg.sim = ctx->sim;
    ctx->cfg.key_label = ctx->cfg.cert_label = ctx->cfg.ca_label = ctx->cfg.ca_file = NULL;
    ctx->cfg.server_name = ctx->cfg.psk_label = NULL;
    ctx->server_name = dup_or_null(cfg->server_name);
    if ((cfg->sim != NULL && ctx->sim == NULL)
        || (cfg->server_name != NULL && ctx->server_name == NULL)) {
        fail(ST_TLS_ERR_NOMEM, "out of memory");
        goto err;
    }
    ctx->libctx = OSSL_LIB_CTX_new();
    if (ctx->libctx == NULL
        || OSSL_PROVIDER_add_builtin(ctx->libctx, ST_PROV_NAME, tls_prov_init) != 1) {
        fail(ST_TLS_ERR_NOMEM, "cannot create the OpenSSL library context");
        goto err;
    }
    ERR_clear_error();
    pending_sim = ctx->sim;
    ctx->prov = OSSL_PROVIDER_load(ctx->libctx, ST_PROV_NAME);
    pending_sim = NULL;
    ctx->deflt = OSSL_PROVIDER_load(ctx->libctx, "default");
    if (ctx->prov == NULL || ctx->deflt == NULL) {
        fail_openssl(ST_TLS_ERR_ARG, "loading the simtrust and default providers");
        goto err;
    }
    /* Card keys, ECDSA and ECDH from the card provider; the rest from default. */
    if (EVP_set_default_properties(ctx->libctx, PROPQ) != 1) {
        fail_openssl(ST_TLS_ERR_ARG, "setting the provider preference");
        goto err;
    }
    const SSL_METHOD *m = cfg->version == ST_DTLS_1_2 ? DTLS_client_method() : TLS_client_method();
    ctx->ssl = SSL_CTX_new_ex(ctx->libctx, PROPQ, m);
    if (ctx->ssl == NULL) {
        fail_openssl(ST_TLS_ERR_TLS, "SSL_CTX_new");
        goto err;
    }
    int v = cfg->version == ST_TLS_1_3   ? TLS1_3_VERSION
            : cfg->version == ST_TLS_1_2 ? TLS1_2_VERSION
                                         : DTLS1_2_VERSION;
    /* P-256 only: the card's curve (TLS 1.3's default first key share is X25519). */
    if (SSL_CTX_set_min_proto_version(ctx->ssl, v) != 1
        || SSL_CTX_set_max_proto_version(ctx->ssl, v) != 1
        || SSL_CTX_set1_groups_list(ctx->ssl, "P-256") != 1) {
        fail_openssl(ST_TLS_ERR_TLS, "TLS parameters");
        goto err;
    }
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
    /* No auto retry: a read that only handled a session ticket returns (ST_TLS_AGAIN)
     * instead of blocking the caller's poll loop. */
    SSL_CTX_clear_mode(ctx->ssl, SSL_MODE_AUTO_RETRY);
    if (setup_credentials(ctx, cfg) != ST_TLS_OK)
        goto err;
#ifdef ST_TLS_HAVE_PSK
    if (cfg->psk_label != NULL && st_prov_psk_use(ctx->ssl, cfg->psk_label) != 1) {
        fail_openssl(ST_TLS_ERR_NOT_FOUND, "PSK credential");
        goto err;
    }
#endif
    ERR_clear_error();
    return ctx;
err:
    st_tls_ctx_free(ctx);
    return NULL;
}

void st_tls_ctx_free(struct st_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl);
    OSSL_PROVIDER_unload(ctx->prov);
    OSSL_PROVIDER_unload(ctx->deflt);
    OSSL_LIB_CTX_free(ctx->libctx);
    free(ctx->sim);
    free(ctx->server_name);
    free(ctx);
}

/* ---- connections ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int open_socket(const char *host, unsigned port, bool udp, unsigned timeout_ms, int *fd_out,
                       BIO_ADDR **peer)
{
    char sport[16];
    snprintf(sport, sizeof(sport), "%u", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    int g = getaddrinfo(host, sport, &hints, &res);
    if (g != 0)
        return fail(ST_TLS_ERR_CONNECT, "cannot resolve %s: %s", host, gai_strerror(g));
    int fd = -1, err = 0;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            if (peer != NULL) {
                *peer = BIO_ADDR_new();
                if (*peer != NULL) {
                    if (a->ai_family == AF_INET) {
                        const struct sockaddr_in *s = (const void *)a->ai_addr;
                        BIO_ADDR_rawmake(*peer, AF_INET, &s->sin_addr, sizeof(s->sin_addr),
                                         s->sin_port);
                    } else {
                        const struct sockaddr_in6 *s = (const void *)a->ai_addr;
                        BIO_ADDR_rawmake(*peer, AF_INET6, &s->sin6_addr, sizeof(s->sin6_addr),
                                         s->sin6_port);
                    }
                }
            }
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail(ST_TLS_ERR_CONNECT, "cannot connect to %s port %u: %s", host, port,
                    strerror(err));
    *fd_out = fd;
    return ST_TLS_OK;
}

/* DTLS retransmission timer: first timeout, then doubling up to the cap. */
static unsigned int dtls_timer(SSL *s, unsigned int timer_us)
{
    struct st_tls_conn *c = SSL_get_app_data(s);
    unsigned first = c != NULL && c->ctx->cfg.dtls_timeout_ms ? c->ctx->cfg.dtls_timeout_ms : 2000;
    unsigned cap = c != NULL && c->ctx->cfg.dtls_timeout_max_ms ? c->ctx->cfg.dtls_timeout_max_ms
                                                                : 16000;
    if (cap < first)
        cap = first;
    if (timer_us == 0)
        return first * 1000u;
    unsigned long long next = (unsigned long long)timer_us * 2u;
    return next > (unsigned long long)cap * 1000u ? cap * 1000u : (unsigned int)next;
}

static bool is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* After a failed handshake: the verification result beats the error queue. */
static int handshake_error(struct st_tls_conn *c, int ret, const char *name)
{
    long vr = SSL_get_verify_result(c->ssl);
    int serr = SSL_get_error(c->ssl, ret);
    int saved_errno = errno;
    if (vr != X509_V_OK) {
        /* card errors first: a card failure also fails the handshake */
        unsigned long e = ERR_peek_error();
        const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
        if (r == NULL || strstr(r, "SIM") == NULL) {
            ERR_clear_error();
            const char *vs = X509_verify_cert_error_string(vr);
            switch (vr) {
            case X509_V_ERR_CERT_HAS_EXPIRED:
            case X509_V_ERR_CERT_NOT_YET_VALID:
                return fail(ST_TLS_ERR_CERT_EXPIRED,
                            "server certificate rejected: %s (check the device clock too)", vs);
            case X509_V_ERR_HOSTNAME_MISMATCH:
            case X509_V_ERR_IP_ADDRESS_MISMATCH:
                return fail(ST_TLS_ERR_CERT_NAME,
                            "server certificate rejected: it is not valid for '%s' (%s)", name, vs);
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            case X509_V_ERR_CERT_SIGNATURE_FAILURE:
                return fail(ST_TLS_ERR_CERT_UNTRUSTED,
                            "server certificate rejected: not issued by the trust anchor (%s)",
                            vs);
            default:
                return fail(ST_TLS_ERR_CERT, "server certificate rejected: %s", vs);
            }
        }
    }
    if (ERR_peek_error() != 0)
        return fail_openssl(ST_TLS_ERR_TLS, "handshake");
    if (serr == SSL_ERROR_SYSCALL || serr == SSL_ERROR_WANT_READ) {
        if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT)
            return fail(ST_TLS_ERR_TIMEOUT, "handshake: no answer from the server in time");
        if (saved_errno != 0)
            return fail(ST_TLS_ERR_CLOSED, "handshake: %s", strerror(saved_errno));
        return fail(ST_TLS_ERR_CLOSED, "handshake: the server closed the connection");
    }
    if (serr == SSL_ERROR_ZERO_RETURN)
        return fail(ST_TLS_ERR_CLOSED, "handshake: the server closed the connection");
    if (c->ctx->cfg.version == ST_DTLS_1_2 && ret < 0)
        return fail(ST_TLS_ERR_TIMEOUT, "handshake: no answer from the server in time");
    return fail(ST_TLS_ERR_TLS, "handshake failed (SSL error %d)", serr);
}

int st_tls_connect(struct st_tls_ctx *ctx, const char *host, unsigned port,
                   struct st_tls_conn **conn)
{
    clear_error();
    if (ctx == NULL || host == NULL || conn == NULL || port == 0 || port > 65535)
        return fail(ST_TLS_ERR_ARG, "st_tls_connect: bad argument");
    *conn = NULL;
    bool udp = ctx->cfg.version == ST_DTLS_1_2;
    unsigned tmo = ctx->cfg.io_timeout_ms ? ctx->cfg.io_timeout_ms : 30000;
    struct st_tls_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return fail(ST_TLS_ERR_NOMEM, "out of memory");
    c->ctx = ctx;
    c->fd = -1;
    BIO_ADDR *peer = NULL;
    int rc = open_socket(host, port, udp, tmo, &c->fd, udp ? &peer : NULL);
    if (rc != ST_TLS_OK)
        goto err;
    ERR_clear_error();
    c->ssl = SSL_new(ctx->ssl);
    BIO *bio = c->ssl == NULL ? NULL
               : udp          ? BIO_new_dgram(c->fd, BIO_NOCLOSE)
                              : BIO_new_socket(c->fd, BIO_NOCLOSE);
    if (bio == NULL) {
        rc = fail_openssl(ST_TLS_ERR_NOMEM, "SSL_new");
        goto err;
    }
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, c);
    if (udp) {
        BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, peer);
        unsigned mtu = ctx->cfg.mtu ? ctx->cfg.mtu : 1200;
        SSL_set_options(c->ssl, SSL_OP_NO_QUERY_MTU);
        /* the link MTU includes the IP and UDP headers (28 / 48 bytes) */
        DTLS_set_link_mtu(c->ssl, mtu);
        DTLS_set_timer_cb(c->ssl, dtls_timer);
    }
    const char *name = ctx->server_name != NULL ? ctx->server_name : host;
    const char *check = name[0] != '\0' ? name : host;
    if (is_ip_literal(check)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), check) != 1) {
            rc = fail(ST_TLS_ERR_ARG, "bad IP address '%s'", check);
            goto err;
        }
    } else if (SSL_set1_host(c->ssl, check) != 1) {
        rc = fail(ST_TLS_ERR_ARG, "bad server name '%s'", check);
        goto err;
    }
    if (name[0] != '\0' && !is_ip_literal(name) && SSL_set_tlsext_host_name(c->ssl, name) != 1) {
        rc = fail(ST_TLS_ERR_ARG, "bad server name '%s' for SNI", name);
        goto err;
    }
    struct st_tls_stats before, after;
    prov_counters(ctx, &before);
    double t0 = now_ms();
    errno = 0;
    int r = SSL_connect(c->ssl);
    double t1 = now_ms();
    prov_counters(ctx, &after);
    c->hs.apdus = after.apdus - before.apdus;
    c->hs.bytes_out = after.bytes_out - before.bytes_out;
    c->hs.bytes_in = after.bytes_in - before.bytes_in;
    c->hs.card_ops = after.card_ops - before.card_ops;
    c->hs.signs = after.signs - before.signs;
    c->hs.dhs = after.dhs - before.dhs;
    c->hs.keygens = after.keygens - before.keygens;
    c->hs.prfs = after.prfs - before.prfs;
    c->hs.hkdfs = after.hkdfs - before.hkdfs;
    c->hs.handshake_ms = t1 - t0;
    if (r != 1) {
        rc = handshake_error(c, r, check);
        goto err;
    }
    BIO_ADDR_free(peer);
    *conn = c;
    return ST_TLS_OK;
err:
    BIO_ADDR_free(peer);
    ERR_clear_error();
    st_tls_close(c);
    return rc;
}

static ssize_t io_error(struct st_tls_conn *c, int ret, const char *what)
{
    int e = SSL_get_error(c->ssl, ret);
    int saved = errno;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (ERR_peek_error() != 0)
        return fail_openssl(ST_TLS_ERR_TLS, what);
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && saved == 0)
        return ST_TLS_AGAIN;
    if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        && (saved == EAGAIN || saved == EWOULDBLOCK))
        return fail(ST_TLS_ERR_TIMEOUT, "%s: timeout", what);
    if (e == SSL_ERROR_SYSCALL && saved == 0 && ret == 0 && strcmp(what, "read") == 0)
        return 0; /* EOF without close_notify */
    return fail(ST_TLS_ERR_CLOSED, "%s: connection closed%s%s", what, saved ? ": " : "",
                saved ? strerror(saved) : "");
}

ssize_t st_tls_read(struct st_tls_conn *c, void *buf, size_t len)
{
    if (c == NULL || buf == NULL)
        return fail(ST_TLS_ERR_ARG, "st_tls_read: bad argument");
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(c->ssl, buf, len, &n);
    if (r == 1)
        return (ssize_t)n;
    return io_error(c, r, "read");
}

ssize_t st_tls_write(struct st_tls_conn *c, const void *buf, size_t len)
{
    if (c == NULL || buf == NULL)
        return fail(ST_TLS_ERR_ARG, "st_tls_write: bad argument");
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    if (len == 0)
        return 0;
    int r = SSL_write_ex(c->ssl, buf, len, &n);
    if (r == 1)
        return (ssize_t)n;
    ssize_t e = io_error(c, r, "write");
    return e == 0 ? fail(ST_TLS_ERR_CLOSED, "write: connection closed") : e;
}

int st_tls_shutdown(struct st_tls_conn *c)
{
    if (c == NULL)
        return fail(ST_TLS_ERR_ARG, "st_tls_shutdown: bad argument");
    ERR_clear_error();
    int r = SSL_shutdown(c->ssl);
    ERR_clear_error();
    return r >= 0 ? ST_TLS_OK : fail(ST_TLS_ERR_CLOSED, "shutdown: connection closed");
}

void st_tls_close(struct st_tls_conn *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

int st_tls_fd(const struct st_tls_conn *c)
{
    return c != NULL ? c->fd : -1;
}

const char *st_tls_protocol(const struct st_tls_conn *c)
{
    return c != NULL ? SSL_get_version(c->ssl) : "";
}

const char *st_tls_cipher(const struct st_tls_conn *c)
{
    return c != NULL ? SSL_get_cipher_name(c->ssl) : "";
}

int st_tls_stats(const struct st_tls_ctx *ctx, const struct st_tls_conn *conn,
                 struct st_tls_stats *out)
{
    if (out == NULL || (ctx == NULL && conn == NULL))
        return fail(ST_TLS_ERR_ARG, "st_tls_stats: bad argument");
    if (conn != NULL) {
        *out = conn->hs;
        return ST_TLS_OK;
    }
    return prov_counters(ctx, out) == 0 ? ST_TLS_OK : fail(ST_TLS_ERR_TLS, "no provider counters");
}
