/*
 * gw_loadgen: a (D)TLS handshake load generator for the simtrust-gateway
 * benchmark (issue 5, bench/gw_bench.sh). One thread, epoll, non-blocking,
 * C handshakes in flight; the same client drives every server under test
 * (simtrust-gateway, stunnel4, openssl s_server), so the ratios compare the
 * servers, not the clients.
 *
 *   gw_loadgen --connect HOST:PORT --kind KIND (--seconds S | --count N)
 *              [--concurrency C] [--cert F --key F | --cert-list F] [--ca F]
 *              [--psk-file F] [--cipher LIST] [--groups LIST] [--data]
 *              [--no-wait] [--warmup S] [--server-pid PID] [--timeout S]
 *   gw_loadgen --connect HOST:PORT --kind KIND --hold K [--concurrency C] ...
 *   gw_loadgen --sink HOST:PORT
 *
 * Kinds: tls13-ecdsa (TLS 1.3, TLS_AES_128_GCM_SHA256, client certificate
 * from --cert/--key, or one per connection in turn from --cert-list, lines
 * "certfile keyfile"), tls12-psk and tls12-batch (TLS 1.2, --cipher, default
 * PSK-AES128-GCM-SHA256; the two differ only in the identities of the
 * --psk-file), dtls12-psk (DTLS 1.2 over UDP, same cipher). --psk-file holds
 * lines "identity hexkey"; connection i uses line i mod n.
 *
 * Each connection: TCP connect (or UDP), full handshake (no session reuse,
 * no tickets requested for TLS 1.2), optionally one small record (--data),
 * close_notify; then (TCP, unless --no-wait) it waits for the server to close
 * (close_notify or FIN) so that a TLS 1.3 client certificate the server
 * refuses after the client's Finished counts as a failure (an alert), and
 * closes. DTLS: close_notify and close (DTLS 1.2: the server's Finished is
 * the last flight, so a completed handshake is an accepted one).
 *
 * Output, one line on stdout:
 *   kind=K hs=N fail=M seconds=S rate=R client_cpu=X [server_cpu=Y per_core=Z]
 *   cipher=C [group=G] rst=N
 * rate = successful handshakes per second of wall time in the measured window
 * (after --warmup); with --server-pid, server_cpu = the CPU seconds
 * (user+system, all threads) that process used in the window and per_core =
 * hs / server_cpu: handshakes per second per fully used core. The first few
 * distinct failure reasons go to stderr.
 *
 * --hold K: opens K connections (C at a time), completes the handshakes,
 * prints "held=N fail=M" and keeps them open and idle until SIGTERM/SIGINT.
 *
 * --sink HOST:PORT: a backend that accepts TCP connections, reads and
 * discards everything (PROXY headers included) and closes on EOF; prints
 * "sink=HOST:PORT" with the bound port (PORT 0 picks one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "st_hex.h"

enum kind { K_TLS13_ECDSA, K_TLS12_PSK, K_TLS12_BATCH, K_DTLS12_PSK };
static const char *const kind_names[] = {"tls13-ecdsa", "tls12-psk", "tls12-batch",
                                         "dtls12-psk"};

enum cstate { C_FREE, C_CONNECTING, C_HANDSHAKE, C_WRITE, C_SHUTDOWN, C_CLOSING, C_HELD };

struct conn {
    int fd;
    SSL *ssl;
    enum cstate st;
    double deadline;
    size_t psk_index; /* PSK entry or credential of this connection */
};

struct psk_entry {
    char *identity;
    unsigned char key[64];
    size_t key_len;
};

static struct {
    enum kind kind;
    int dtls;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double seconds, warmup, timeout;
    long count, hold;
    int concurrency;
    int data, no_wait;
    long server_pid;
    const char *cert, *key, *cert_list, *ca, *psk_file, *cipher, *groups;
} opt;

static struct psk_entry *psks;
static size_t n_psks;
static size_t next_psk;

/* --cert-list: device credentials loaded once, one per connection in turn. */
struct cred {
    X509 *cert;
    EVP_PKEY *key;
};
static struct cred *creds;
static size_t n_creds;

static struct {
    long hs, fail, rst, launched, done;
    char cipher[64], group[32];
    char reasons[4][160];
    int n_reasons;
} stats;

static volatile sig_atomic_t g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gw_loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* "host:port", "[v6]:port"; socktype SOCK_STREAM or SOCK_DGRAM. */
static int resolve(const char *hp, int socktype, int passive, struct sockaddr_storage *out,
                   socklen_t *outlen)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (colon == NULL || (size_t)(colon - hp) >= sizeof(host))
        return -1;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    char *h = host;
    if (h[0] == '[') {
        h++;
        size_t n = strlen(h);
        if (n == 0 || h[n - 1] != ']')
            return -1;
        h[n - 1] = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = socktype;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void load_psk_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die("cannot open %s", path);
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *id = strtok(line, " \t\r\n");
        char *hex = strtok(NULL, " \t\r\n");
        if (id == NULL || id[0] == '#')
            continue;
        size_t hl = hex ? strlen(hex) : 0;
        if (hl == 0 || hl % 2 != 0 || hl / 2 > sizeof(psks[0].key) || strlen(id) > 128)
            die("bad line in %s (want: identity hexkey)", path);
        if (n_psks == cap) {
            cap = cap ? cap * 2 : 16;
            psks = realloc(psks, cap * sizeof(*psks));
            if (psks == NULL)
                die("%s", "out of memory");
        }
        struct psk_entry *e = &psks[n_psks++];
        e->identity = strdup(id);
        long kl = st_hex_decode(hex, hl, e->key, sizeof(e->key));
        if (kl <= 0)
            die("bad hex key in %s", path);
        e->key_len = (size_t)kl;
    }
    fclose(f);
    if (n_psks == 0)
        die("no PSK in %s", path);
}

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    (void)hint;
    struct conn *c = SSL_get_app_data(ssl);
    const struct psk_entry *e = &psks[c->psk_index];
    size_t n = strlen(e->identity);
    if (n + 1 > max_identity_len || e->key_len > max_psk_len)
        return 0;
    memcpy(identity, e->identity, n + 1);
    memcpy(psk, e->key, e->key_len);
    return (unsigned int)e->key_len;
}

static void load_cert_list(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die("cannot open %s", path);
    char line[2048];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *cf = strtok(line, " \t\r\n"), *kf = strtok(NULL, " \t\r\n");
        if (cf == NULL || cf[0] == '#')
            continue;
        if (kf == NULL)
            die("bad line in %s (want: certfile keyfile)", path);
        if (n_creds == cap) {
            cap = cap ? cap * 2 : 16;
            creds = realloc(creds, cap * sizeof(*creds));
            if (creds == NULL)
                die("%s", "out of memory");
        }
        FILE *cfp = fopen(cf, "r"), *kfp = fopen(kf, "r");
        struct cred *c = &creds[n_creds++];
        c->cert = cfp ? PEM_read_X509(cfp, NULL, NULL, NULL) : NULL;
        c->key = kfp ? PEM_read_PrivateKey(kfp, NULL, NULL, NULL) : NULL;
        if (cfp)
            fclose(cfp);
        if (kfp)
            fclose(kfp);
        if (c->cert == NULL || c->key == NULL || X509_check_private_key(c->cert, c->key) != 1)
            die("cannot load the certificate %s and key %s", cf, kf);
    }
    fclose(f);
    if (n_creds == 0)
        die("no certificate in %s", path);
}

static SSL_CTX *make_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(opt.dtls ? DTLS_client_method() : TLS_client_method());
    if (ctx == NULL)
        die("%s", "SSL_CTX_new failed");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (opt.groups && SSL_CTX_set1_groups_list(ctx, opt.groups) != 1)
        die("bad --groups %s", opt.groups);
    if (opt.kind == K_TLS13_ECDSA) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        if (SSL_CTX_set_ciphersuites(ctx, opt.cipher ? opt.cipher : "TLS_AES_128_GCM_SHA256") !=
            1)
            die("bad --cipher %s", opt.cipher);
        if (opt.cert_list) {
            load_cert_list(opt.cert_list);
        } else {
            if (opt.cert == NULL || opt.key == NULL)
                die("%s", "tls13-ecdsa needs --cert and --key, or --cert-list");
            if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(ctx) != 1)
                die("cannot load --cert/--key (%s)", opt.cert);
        }
    } else {
        SSL_CTX_set_min_proto_version(ctx, opt.dtls ? DTLS1_2_VERSION : TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, opt.dtls ? DTLS1_2_VERSION : TLS1_2_VERSION);
        if (SSL_CTX_set_cipher_list(ctx, opt.cipher ? opt.cipher : "PSK-AES128-GCM-SHA256") !=
            1)
            die("bad --cipher %s", opt.cipher);
        if (opt.psk_file == NULL)
            die("%s", "PSK kinds need --psk-file");
        load_psk_file(opt.psk_file);
        SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
    }
    if (opt.ca) {
        if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
            die("cannot load --ca %s", opt.ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

static void note_reason(const char *why)
{
    for (int i = 0; i < stats.n_reasons; i++)
        if (strcmp(stats.reasons[i], why) == 0)
            return;
    if (stats.n_reasons < 4)
        snprintf(stats.reasons[stats.n_reasons++], sizeof(stats.reasons[0]), "%s", why);
}

static void ssl_reason(SSL *ssl, int r, char *buf, size_t cap)
{
    int e = SSL_get_error(ssl, r);
    unsigned long code = ERR_peek_error();
    if (code != 0) {
        ERR_error_string_n(code, buf, cap);
    } else if (e == SSL_ERROR_SYSCALL) {
        snprintf(buf, cap, "syscall: %s", errno ? strerror(errno) : "EOF");
    } else {
        snprintf(buf, cap, "SSL error %d", e);
    }
    ERR_clear_error();
}

static int g_ep;
static SSL_CTX *g_ctx;
static struct conn *conns;
static int measuring;        /* 1 inside the measured window */
static int launching = 1;    /* 0 once no new connections may start */

static void conn_end(struct conn *c, int ok, const char *why)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->ssl = NULL;
    c->fd = -1;
    c->st = C_FREE;
    stats.done++;
    if (!measuring)
        return;
    if (ok) {
        stats.hs++;
    } else {
        stats.fail++;
        note_reason(why);
    }
}

static int conn_start(struct conn *c)
{
    int type = opt.dtls ? SOCK_DGRAM : SOCK_STREAM;
    c->fd = socket(opt.addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "gw_loadgen: socket: %s\n", strerror(errno));
        return -1;
    }
    c->ssl = SSL_new(g_ctx);
    if (c->ssl == NULL)
        die("%s", "SSL_new failed");
    SSL_set_app_data(c->ssl, c);
    c->psk_index = n_psks ? next_psk++ % n_psks : 0;
    if (n_creds) {
        const struct cred *cr = &creds[next_psk++ % n_creds];
        if (SSL_use_certificate(c->ssl, cr->cert) != 1 || SSL_use_PrivateKey(c->ssl, cr->key) != 1)
            die("%s", "SSL_use_certificate failed");
    }
    c->deadline = now_s() + opt.timeout;
    stats.launched++;
    if (opt.dtls) {
        if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) != 0) {
            conn_end(c, 0, strerror(errno));
            return 0;
        }
        BIO *bio = BIO_new_dgram(c->fd, BIO_NOCLOSE);
        BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &opt.addr);
        SSL_set_bio(c->ssl, bio, bio);
        c->st = C_HANDSHAKE;
    } else {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        SSL_set_fd(c->ssl, c->fd);
        if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) != 0 &&
            errno != EINPROGRESS) {
            conn_end(c, 0, strerror(errno));
            return 0;
        }
        c->st = C_CONNECTING;
    }
    SSL_set_connect_state(c->ssl);
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    return 0;
}

/* Drives one connection as far as it goes without blocking. */
static void conn_step(struct conn *c)
{
    char why[200];
    int r;
    for (;;) {
        switch (c->st) {
        case C_FREE:
        case C_HELD:
            return;
        case C_CONNECTING: {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == EINPROGRESS || err == EALREADY)
                return;
            if (err != 0) {
                snprintf(why, sizeof(why), "connect: %s", strerror(err));
                conn_end(c, 0, why);
                return;
            }
            c->st = C_HANDSHAKE;
            break;
        }
        case C_HANDSHAKE:
            r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                if (stats.cipher[0] == '\0') {
                    snprintf(stats.cipher, sizeof(stats.cipher), "%s",
                             SSL_get_cipher_name(c->ssl));
                    int g = SSL_get_negotiated_group(c->ssl);
                    if (g != 0 && g != NID_undef)
                        snprintf(stats.group, sizeof(stats.group), "%s",
                                 SSL_group_to_name(c->ssl, g));
                }
                if (opt.hold) {
                    c->st = C_HELD;
                    if (measuring)
                        stats.hs++;
                    return;
                }
                c->st = opt.data ? C_WRITE : C_SHUTDOWN;
                break;
            }
            switch (SSL_get_error(c->ssl, r)) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE:
                return;
            default:
                ssl_reason(c->ssl, r, why, sizeof(why));
                conn_end(c, 0, why);
                return;
            }
        case C_WRITE:
            r = SSL_write(c->ssl, "ping\n", 5);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    return;
                ssl_reason(c->ssl, r, why, sizeof(why));
                conn_end(c, 0, why);
                return;
            }
            c->st = C_SHUTDOWN;
            break;
        case C_SHUTDOWN:
            r = SSL_shutdown(c->ssl);
            if (r < 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    return;
                /* The peer may have closed first (e.g. after an alert we have not
                 * read yet): let the read side find out. */
                ERR_clear_error();
            }
            if (opt.dtls || opt.no_wait) {
                conn_end(c, 1, NULL);
                return;
            }
            c->st = C_CLOSING;
            break;
        case C_CLOSING: {
            char buf[4096];
            r = SSL_read(c->ssl, buf, sizeof(buf));
            if (r > 0)
                break;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (e == SSL_ERROR_ZERO_RETURN) {
                conn_end(c, 1, NULL);
                return;
            }
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
                (errno == ECONNRESET || errno == EPIPE || errno == 0)) {
                /* The server dropped the connection after the handshake without an
                 * alert (a reset when it closed with our close_notify unread). */
                if (measuring)
                    stats.rst++;
                conn_end(c, 1, NULL);
                return;
            }
            ssl_reason(c->ssl, r, why, sizeof(why));
            conn_end(c, 0, why);
            return;
        }
        }
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* utime + stime of a process (all its threads) in seconds; -1 if unreadable. */
static double proc_cpu(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* After ") ": field 3 (state) ... utime is field 14, stime 15. */
    unsigned long long ut = 0, st = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14)
            ut = strtoull(tok, NULL, 10);
        else if (field == 15) {
            st = strtoull(tok, NULL, 10);
            break;
        }
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void check_timeouts(double t)
{
    for (int i = 0; i < opt.concurrency; i++) {
        struct conn *c = &conns[i];
        if (c->st == C_FREE || c->st == C_HELD)
            continue;
        if (t > c->deadline) {
            conn_end(c, 0, c->st == C_CLOSING ? "timeout waiting for the server to close"
                                              : "handshake timeout");
            continue;
        }
        if (opt.dtls && c->st == C_HANDSHAKE && DTLSv1_handle_timeout(c->ssl) > 0)
            conn_step(c); /* retransmitted a flight */
    }
}

static int run_sink(const char *hp)
{
    struct sockaddr_storage a;
    socklen_t alen;
    if (resolve(hp, SOCK_STREAM, 1, &a, &alen) != 0)
        die("cannot resolve %s", hp);
    int ls = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, alen) != 0 || listen(ls, 4096) != 0)
        die("cannot listen on %s", hp);
    alen = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &alen);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    getnameinfo((struct sockaddr *)&a, alen, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("sink=%s%s%s:%s\n", a.ss_family == AF_INET6 ? "[" : "", host,
           a.ss_family == AF_INET6 ? "]" : "", port);
    fflush(stdout);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    long accepted = 0;
    while (!g_stop) {
        int n = epoll_wait(ep, evs, 256, 500);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int s;
                while ((s = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &cev);
                    accepted++;
                }
                continue;
            }
            char buf[16384];
            ssize_t r;
            while ((r = read(fd, buf, sizeof(buf))) > 0)
                ;
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
            }
        }
    }
    fprintf(stderr, "gw_loadgen sink: %ld connections\n", accepted);
    return 0;
}

static const char k_usage[] =
    "usage: gw_loadgen --connect HOST:PORT --kind tls13-ecdsa|tls12-psk|tls12-batch|dtls12-psk\n"
    "                  (--seconds S | --count N | --hold K) [--concurrency C]\n"
    "                  [--cert F --key F | --cert-list F] [--ca F] [--psk-file F]\n"
    "                  [--cipher LIST]\n"
    "                  [--groups LIST] [--data] [--no-wait] [--warmup S] [--timeout S]\n"
    "                  [--server-pid PID]\n"
    "       gw_loadgen --sink HOST:PORT\n"
    "Prints: kind=K hs=N fail=M seconds=S rate=R client_cpu=X [server_cpu=Y per_core=Z]\n"
    "        cipher=C [group=G] rst=N       (--hold: held=N fail=M)\n"
    "See the comment at the top of bench/gw_loadgen.c and docs/benchmarks.md.\n";

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *kind = NULL, *sink = NULL;
    static const struct option lopts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"kind", required_argument, NULL, 'k'},
        {"seconds", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},
        {"hold", required_argument, NULL, 'H'},
        {"concurrency", required_argument, NULL, 'C'},
        {"cert", required_argument, NULL, 'e'},
        {"key", required_argument, NULL, 'y'},
        {"cert-list", required_argument, NULL, 'L'},
        {"ca", required_argument, NULL, 'a'},
        {"psk-file", required_argument, NULL, 'p'},
        {"cipher", required_argument, NULL, 'x'},
        {"groups", required_argument, NULL, 'g'},
        {"data", no_argument, NULL, 'd'},
        {"no-wait", no_argument, NULL, 'W'},
        {"warmup", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"server-pid", required_argument, NULL, 'P'},
        {"sink", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opt.concurrency = 16;
    opt.timeout = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'c': connect_to = optarg; break;
        case 'k': kind = optarg; break;
        case 's': opt.seconds = atof(optarg); break;
        case 'n': opt.count = atol(optarg); break;
        case 'H': opt.hold = atol(optarg); break;
        case 'C': opt.concurrency = atoi(optarg); break;
        case 'e': opt.cert = optarg; break;
        case 'y': opt.key = optarg; break;
        case 'L': opt.cert_list = optarg; break;
        case 'a': opt.ca = optarg; break;
        case 'p': opt.psk_file = optarg; break;
        case 'x': opt.cipher = optarg; break;
        case 'g': opt.groups = optarg; break;
        case 'd': opt.data = 1; break;
        case 'W': opt.no_wait = 1; break;
        case 'w': opt.warmup = atof(optarg); break;
        case 't': opt.timeout = atof(optarg); break;
        case 'P': opt.server_pid = atol(optarg); break;
        case 'S': sink = optarg; break;
        case 'h': fputs(k_usage, stdout); return 0;
        default: fputs(k_usage, stderr); return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (sink)
        return run_sink(sink);

    if (connect_to == NULL || kind == NULL)
        die("%s", "--connect and --kind are required (--help)");
    int found = 0;
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(kind, kind_names[i]) == 0) {
            opt.kind = (enum kind)i;
            found = 1;
        }
    if (!found)
        die("unknown --kind %s", kind);
    opt.dtls = opt.kind == K_DTLS12_PSK;
    if ((opt.seconds > 0) + (opt.count > 0) + (opt.hold > 0) != 1)
        die("%s", "give exactly one of --seconds, --count, --hold");
    if (opt.concurrency < 1)
        die("%s", "--concurrency must be >= 1");
    if (opt.seconds <= 0)
        opt.warmup = 0; /* --warmup only with --seconds */
    if (opt.hold > 0 && opt.hold < opt.concurrency)
        opt.concurrency = (int)opt.hold;
    if (resolve(connect_to, opt.dtls ? SOCK_DGRAM : SOCK_STREAM, 0, &opt.addr, &opt.addrlen) !=
        0)
        die("cannot resolve %s", connect_to);
    g_ctx = make_ctx();
    g_ep = epoll_create1(EPOLL_CLOEXEC);

    long nconn = opt.hold > 0 ? opt.hold : opt.concurrency;
    conns = calloc((size_t)nconn, sizeof(*conns));
    if (conns == NULL)
        die("%s", "out of memory");
    for (long i = 0; i < nconn; i++)
        conns[i].fd = -1;

    double t0 = now_s(), t_measure = t0 + opt.warmup, t_end = 0;
    measuring = opt.warmup <= 0;
    double srv_cpu0 = -1, srv_cpu1 = -1, cli_cpu0 = self_cpu(), cli_cpu1 = 0;
    if (measuring && opt.server_pid)
        srv_cpu0 = proc_cpu(opt.server_pid);
    if (opt.seconds > 0)
        t_end = t_measure + opt.seconds;
    double t_start = measuring ? t0 : 0, t_stop = 0;

    /* In --hold mode the first `concurrency` slots start; more start as
     * handshakes finish, until hold connections were attempted. */
    int active_slots = opt.hold > 0 ? opt.concurrency : (int)nconn;
    long hold_next = 0;
    if (opt.hold > 0) {
        for (; hold_next < opt.concurrency; hold_next++)
            conn_start(&conns[hold_next]);
    } else {
        for (int i = 0; i < active_slots && (opt.count == 0 || stats.launched < opt.count); i++)
            conn_start(&conns[i]);
    }

    struct epoll_event evs[512];
    double last_tick = t0;
    int printed_hold = 0;
    while (!g_stop) {
        int n = epoll_wait(g_ep, evs, 512, opt.dtls ? 5 : 50);
        for (int i = 0; i < n; i++)
            conn_step((struct conn *)evs[i].data.ptr);
        double t = now_s();
        if (t - last_tick >= (opt.dtls ? 0.005 : 0.05)) {
            if (opt.hold > 0) {
                for (long i = 0; i < hold_next; i++) {
                    struct conn *c = &conns[i];
                    if (c->st != C_FREE && c->st != C_HELD && t > c->deadline)
                        conn_end(c, 0, "handshake timeout");
                    else if (opt.dtls && c->st == C_HANDSHAKE &&
                             DTLSv1_handle_timeout(c->ssl) > 0)
                        conn_step(c);
                }
            } else {
                check_timeouts(t);
            }
            last_tick = t;
        }
        if (!measuring && t_stop == 0 && t >= t_measure) {
            measuring = 1;
            t_start = t;
            if (opt.server_pid)
                srv_cpu0 = proc_cpu(opt.server_pid);
            cli_cpu0 = self_cpu();
        }
        if (opt.hold > 0) {
            /* Keep `concurrency` handshakes in flight until hold were attempted. */
            int in_flight = 0;
            for (long i = 0; i < hold_next; i++)
                if (conns[i].st != C_FREE && conns[i].st != C_HELD)
                    in_flight++;
            while (in_flight < opt.concurrency && hold_next < opt.hold) {
                conn_start(&conns[hold_next++]);
                in_flight++;
            }
            if (!printed_hold && hold_next == opt.hold && in_flight == 0) {
                printf("held=%ld fail=%ld\n", stats.hs, stats.fail);
                for (int i = 0; i < stats.n_reasons; i++)
                    fprintf(stderr, "gw_loadgen: failure: %s\n", stats.reasons[i]);
                fflush(stdout);
                printed_hold = 1;
            }
            continue;
        }
        if (opt.seconds > 0 && t >= t_end && launching) {
            /* End of the window: stop launching; the handshakes in flight finish
             * (not counted, at most --timeout) so that the servers see clean
             * closes rather than resets. */
            launching = 0;
            t_stop = t;
            measuring = 0;
            srv_cpu1 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
            cli_cpu1 = self_cpu();
        }
        if (launching) {
            for (int i = 0; i < active_slots; i++) {
                if (conns[i].st != C_FREE)
                    continue;
                if (opt.count > 0 && stats.launched >= opt.count) {
                    launching = 0;
                    break;
                }
                conn_start(&conns[i]);
            }
        }
        if (!launching || (opt.count > 0 && stats.launched >= opt.count)) {
            launching = 0;
            int busy = 0;
            for (int i = 0; i < active_slots; i++)
                busy |= conns[i].st != C_FREE;
            if (!busy) {
                if (t_stop == 0) {
                    t_stop = now_s();
                    srv_cpu1 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
                    cli_cpu1 = self_cpu();
                }
                break;
            }
        }
    }
    if (opt.hold > 0) {
        /* Killed: close the held connections politely (close_notify, best effort). */
        for (long i = 0; i < opt.hold; i++)
            if (conns[i].st == C_HELD)
                SSL_shutdown(conns[i].ssl);
        return 0;
    }
    if (t_stop == 0) { /* interrupted */
        t_stop = now_s();
        srv_cpu1 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
        cli_cpu1 = self_cpu();
    }
    double cli_cpu = cli_cpu1 - cli_cpu0;
    double secs = t_stop - t_start;
    printf("kind=%s hs=%ld fail=%ld seconds=%.3f rate=%.1f client_cpu=%.2f", kind_names[opt.kind],
           stats.hs, stats.fail, secs, secs > 0 ? (double)stats.hs / secs : 0.0, cli_cpu);
    if (opt.server_pid && srv_cpu0 >= 0 && srv_cpu1 >= 0) {
        double sc = srv_cpu1 - srv_cpu0;
        printf(" server_cpu=%.2f per_core=%.1f", sc, sc > 0 ? (double)stats.hs / sc : 0.0);
    }
    printf(" cipher=%s", stats.cipher[0] ? stats.cipher : "-");
    if (stats.group[0])
        printf(" group=%s", stats.group);
    printf(" rst=%ld\n", stats.rst);
    for (int i = 0; i < stats.n_reasons; i++)
        fprintf(stderr, "gw_loadgen: failure: %s\n", stats.reasons[i]);
    fflush(stdout);
    return stats.hs > 0 ? 0 : 1;
}
