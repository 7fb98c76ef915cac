/*
 * DTLS 1.2 over one UDP socket per worker, for many peers (IoT.04 3.2.5;
 * issue 5 item 1). A peer gets state only after the stateless cookie
 * exchange (DTLSv1_listen on a listener SSL: the HelloVerifyRequest costs no
 * memory, so a spoofed source address cannot fill the peer table); the
 * listener SSL that verified the cookie holds the buffered ClientHello and
 * becomes the peer's SSL. Handshake flights are retransmitted on the loop's
 * timers (DTLSv1_get_timeout / DTLSv1_handle_timeout). Each application
 * datagram's payload goes to the backend stream in order.
 */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gw_dgram_bio.h"
#include "gw_relay.h"
#include "st_log.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

#define DGRAM_MAX 65536
#define BATCH 64 /* datagrams per wake-up, for fairness with TCP work */

struct dtls_peer {
    struct st_gw_session s; /* first: the session's free() frees the peer */
    struct dtls_peer *hnext;
    uint32_t hash;
    struct st_gw_timer rt;  /* retransmission of handshake flights */
    BIO *bio;               /* owned by s.ssl */
    unsigned dead : 1, hashed : 1;
};

struct st_gw_dtls {
    struct st_gw_worker *w;
    struct st_gw_watch uw;
    SSL *listener;          /* stateless cookie exchange; NULL until needed */
    BIO *lbio;
    struct dtls_peer **tab; /* chained hash table keyed by peer address */
    size_t tabsz, npeers;
    uint32_t seed;
    struct sockaddr_storage local;
    socklen_t local_len;
    uint8_t *rbuf;
};

/* ---- peer table ---- */

static uint32_t addr_hash(uint32_t seed, const struct sockaddr_storage *ss)
{
    const uint8_t *p;
    size_t n, i;
    uint32_t h = 2166136261u ^ seed;
    uint16_t port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        p = (const uint8_t *)&a->sin_addr;
        n = 4;
        port = a->sin_port;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        p = (const uint8_t *)&a->sin6_addr;
        n = 16;
        port = a->sin6_port;
    }
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    h = (h ^ (port & 0xff)) * 16777619u;
    return (h ^ (port >> 8)) * 16777619u;
}

static int addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
}

static struct dtls_peer *peer_find(struct st_gw_dtls *d, const struct sockaddr_storage *ss)
{
    uint32_t h = addr_hash(d->seed, ss);
    struct dtls_peer *p = d->tab[h & (d->tabsz - 1)];
    for (; p; p = p->hnext)
        if (p->hash == h && addr_eq(&p->s.peer_sa, ss))
            return p;
    return NULL;
}

static void peer_insert(struct st_gw_dtls *d, struct dtls_peer *p)
{
    size_t i;
    if (d->npeers + 1 > d->tabsz) { /* keep chains short: grow at load 1 */
        size_t nsz = d->tabsz * 2;
        struct dtls_peer **nt = calloc(nsz, sizeof(*nt));
        if (nt) {
            for (i = 0; i < d->tabsz; i++) {
                struct dtls_peer *q = d->tab[i];
                while (q) {
                    struct dtls_peer *next = q->hnext;
                    q->hnext = nt[q->hash & (nsz - 1)];
                    nt[q->hash & (nsz - 1)] = q;
                    q = next;
                }
            }
            free(d->tab);
            d->tab = nt;
            d->tabsz = nsz;
        }
    }
    p->hash = addr_hash(d->seed, &p->s.peer_sa);
    i = p->hash & (d->tabsz - 1);
    p->hnext = d->tab[i];
    d->tab[i] = p;
    p->hashed = 1;
    d->npeers++;
}

static void peer_remove(struct st_gw_dtls *d, struct dtls_peer *p)
{
    struct dtls_peer **pp;
    if (!p->hashed)
        return;
    for (pp = &d->tab[p->hash & (d->tabsz - 1)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            break;
        }
    }
    p->hashed = 0;
    d->npeers--;
}

/* ---- a peer's session ---- */

static void on_rt(struct st_gw_loop *l, struct st_gw_timer *t);

static void arm_rt(struct dtls_peer *p)
{
    struct timeval tv;
    if (p->s.phase == ST_GW_CLOSED)
        return;
    if (DTLSv1_get_timeout(p->s.ssl, &tv)) {
        uint64_t ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec + 999) / 1000u;
        st_gw_timer_set(p->s.w->loop, &p->rt, ms, on_rt);
    } else {
        st_gw_timer_cancel(p->s.w->loop, &p->rt);
    }
}

static void dtls_close(struct st_gw_session *s, const char *reason)
{
    struct dtls_peer *p = (struct dtls_peer *)s;
    if (s->phase == ST_GW_CLOSED)
        return;
    if (s->finished && !p->dead) {
        ERR_clear_error();
        SSL_shutdown(s->ssl); /* one close_notify datagram, no wait */
    }
    ERR_clear_error();
    st_gw_timer_cancel(s->w->loop, &p->rt);
    peer_remove(s->w->dtls, p);
    st_gw_session_release(s, reason);
}

static void dtls_pump(struct st_gw_session *s)
{
    struct dtls_peer *p = (struct dtls_peer *)s;
    if (s->in_pump) {
        s->repump = 1;
        return;
    }
    if (s->phase == ST_GW_HANDSHAKE || s->phase == ST_GW_CLOSED)
        return;
    s->in_pump = 1;
    do {
        const uint8_t *buf;
        size_t len;
        s->repump = 0;
        /* One record per datagram, each within the path MTU. UDP never
         * blocks here (a full socket buffer drops), so to_dev drains. */
        while (!s->dev_eof && (len = st_gw_relay_peek(s, &buf)) > 0) {
            size_t chunk = DTLS_get_data_mtu(s->ssl);
            int n;
            if (chunk == 0 || chunk > 16384)
                chunk = 1024;
            ERR_clear_error();
            n = SSL_write(s->ssl, buf, (int)(len < chunk ? len : chunk));
            if (n <= 0) {
                p->dead = 1;
                ERR_clear_error();
                dtls_close(s, "device-write-error");
                goto out;
            }
            st_gw_relay_consume(s, (size_t)n);
        }
        if (st_gw_relay_done(s)) {
            dtls_close(s, s->dev_eof ? "device-closed" : "app-closed");
            goto out;
        }
    } while (s->repump);
    st_gw_relay_update(s);
out:
    s->in_pump = 0;
}

static const struct st_gw_dev_ops dtls_ops = {dtls_pump, dtls_close};

static void failed(struct dtls_peer *p, int e)
{
    struct st_gw_session *s = &p->s;
    char why[128];
    unsigned long code = ERR_peek_error();
    p->dead = 1;
    st_gw_ssl_errstr(why, sizeof(why));
    if (st_gw_ssl_err_is_protocol(code)) {
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_PROTOCOL);
        st_warn("protocol error from dtls peer=%s: %s", s->peer, why);
    }
    dtls_close(s, why);
}

static void peer_handshake(struct dtls_peer *p)
{
    struct st_gw_session *s = &p->s;
    int r, e;
    ERR_clear_error();
    r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        st_gw_timer_cancel(s->w->loop, &p->rt);
        if (st_gw_session_established(s) != 0) {
            dtls_close(s, s->w->app ? "app-refused" : "backend-unreachable");
            return;
        }
        return;
    }
    e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        arm_rt(p);
        return;
    }
    failed(p, e);
}

static void peer_read(struct dtls_peer *p)
{
    struct st_gw_session *s = &p->s;
    uint8_t buf[ST_GW_RELAY_BUF];
    for (;;) {
        int n, e;
        ERR_clear_error();
        n = SSL_read(s->ssl, buf, sizeof(buf));
        if (n > 0) {
            /* The shared socket cannot be paused for one peer: a datagram
             * the application side has no room for is dropped, as the
             * network could have. */
            if (st_gw_relay_room(s) < (size_t)n) {
                st_debug("dtls peer=%s: backend slow, %d-byte datagram dropped", s->peer, n);
                continue;
            }
            if (st_gw_relay_push(s, buf, (size_t)n) != 0) {
                dtls_close(s, "backend-error");
                return;
            }
            continue;
        }
        e = SSL_get_error(s->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            s->dev_eof = 1;
            break;
        }
        failed(p, e);
        return;
    }
    dtls_pump(s);
}

static void on_rt(struct st_gw_loop *l, struct st_gw_timer *t)
{
    struct dtls_peer *p = container_of(t, struct dtls_peer, rt);
    ERR_clear_error();
    if (DTLSv1_handle_timeout(p->s.ssl) < 0) {
        p->dead = 1;
        ERR_clear_error();
        dtls_close(&p->s, "retransmissions-exhausted");
        return;
    }
    arm_rt(p);
}

/* A new ClientHello (epoch 0, handshake type 1) from an address that has a
 * session: the device restarted with the same source port. */
static int is_client_hello(const uint8_t *b, size_t n)
{
    return n > 13 && b[0] == 22 && b[3] == 0 && b[4] == 0 && b[13] == 1;
}

static void peer_datagram(struct dtls_peer *p, const uint8_t *b, size_t n)
{
    struct st_gw_session *s = &p->s;
    st_gw_dgram_bio_feed(p->bio, b, n);
    if (s->phase == ST_GW_HANDSHAKE) {
        peer_handshake(p);
        if (s->phase != ST_GW_HANDSHAKE && s->phase != ST_GW_CLOSED)
            peer_read(p); /* data may follow the Finished in the datagram */
    } else if (s->phase != ST_GW_CLOSED) {
        peer_read(p);
    }
    if (s->phase != ST_GW_CLOSED)
        st_gw_dgram_bio_feed(p->bio, NULL, 0);
}

/* ---- the listener: cookie exchange before any per-peer state ---- */

static SSL *listener(struct st_gw_dtls *d)
{
    struct st_gw_worker *w = d->w;
    SSL *ssl;
    BIO *bio;
    if (d->listener)
        return d->listener;
    ssl = SSL_new(w->gen->dtls);
    bio = st_gw_dgram_bio_new(w->udp_fd);
    if (ssl == NULL || bio == NULL) {
        SSL_free(ssl);
        BIO_free(bio);
        return NULL;
    }
    SSL_set_bio(ssl, bio, bio);
    /* The path MTU is configured (dtls_mtu), never probed: probing needs a
     * connected socket per peer. */
    SSL_set_options(ssl, SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl, (long)w->gen->cfg.dtls_mtu);
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    if (st_gw_auth_attach(ssl, w->reg) != 0) {
        SSL_free(ssl);
        return NULL;
    }
    d->listener = ssl;
    d->lbio = bio;
    return ssl;
}

static void new_peer(struct st_gw_dtls *d, const struct sockaddr_storage *ss, socklen_t sl)
{
    struct st_gw_worker *w = d->w;
    struct dtls_peer *p;
    if (w->nsessions >= w->gen->cfg.max_connections) {
        char peer[64];
        st_gw_metrics_refused(w->metrics, ST_GW_REFUSED_LIMIT);
        st_gw_addr_str((const struct sockaddr *)ss, peer, sizeof(peer));
        st_warn("refused dtls peer=%s reason=limit max_connections=%d", peer,
                w->gen->cfg.max_connections);
        SSL_free(d->listener);
        d->listener = NULL;
        return;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        SSL_free(d->listener);
        d->listener = NULL;
        return;
    }
    /* The listener SSL holds the verified ClientHello: it becomes the peer's. */
    p->s.ssl = d->listener;
    p->bio = d->lbio;
    d->listener = NULL;
    d->lbio = NULL;
    memcpy(&p->s.peer_sa, ss, sl);
    p->s.peer_len = sl;
    memcpy(&p->s.local_sa, &d->local, d->local_len);
    p->s.local_len = d->local_len;
    st_gw_addr_str((const struct sockaddr *)ss, p->s.peer, sizeof(p->s.peer));
    st_gw_session_init(&p->s, w, &dtls_ops, ST_GW_DTLS);
    peer_insert(d, p);
    st_debug("dtls peer=%s: cookie verified, handshake starts", p->s.peer);
    st_gw_session_arm(&p->s);
    peer_handshake(p);
    if (p->s.phase != ST_GW_CLOSED)
        st_gw_dgram_bio_feed(p->bio, NULL, 0);
}

static void listen_datagram(struct st_gw_dtls *d, const uint8_t *b, size_t n,
                            const struct sockaddr_storage *ss, socklen_t sl)
{
    SSL *ssl = listener(d);
    BIO_ADDR *client;
    int r;
    if (ssl == NULL)
        return;
    client = BIO_ADDR_new();
    if (client == NULL)
        return;
    st_gw_dgram_bio_set_peer(d->lbio, (const struct sockaddr *)ss, sl);
    st_gw_dgram_bio_feed(d->lbio, b, n);
    ERR_clear_error();
    /* Answers a ClientHello without a valid cookie with HelloVerifyRequest
     * and silently drops anything else: stateless. */
    r = DTLSv1_listen(ssl, client);
    BIO_ADDR_free(client);
    st_gw_dgram_bio_feed(d->lbio, NULL, 0);
    if (r > 0) {
        new_peer(d, ss, sl);
        return;
    }
    ERR_clear_error();
    if (r < 0) { /* fatal for this SSL object: start a fresh one */
        SSL_free(d->listener);
        d->listener = NULL;
    }
}

static void on_udp(struct st_gw_loop *l, struct st_gw_watch *uw, uint32_t revents)
{
    struct st_gw_dtls *d = container_of(uw, struct st_gw_dtls, uw);
    int i;
    for (i = 0; i < BATCH && !d->w->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        struct dtls_peer *p;
        ssize_t n = recvfrom(d->w->udp_fd, d->rbuf, DGRAM_MAX, 0, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error report: nothing to read */
        }
        if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
            continue;
        p = peer_find(d, &ss);
        if (p && p->s.phase != ST_GW_HANDSHAKE && is_client_hello(d->rbuf, (size_t)n)) {
            dtls_close(&p->s, "new-handshake-from-same-address");
            p = NULL;
        }
        if (p)
            peer_datagram(p, d->rbuf, (size_t)n);
        else
            listen_datagram(d, d->rbuf, (size_t)n, &ss, sl);
    }
}

int st_gw_dtls_init(struct st_gw_worker *w)
{
    struct st_gw_dtls *d = calloc(1, sizeof(*d));
    int sz = 1 << 20;
    if (d == NULL)
        return -1;
    d->w = w;
    d->tabsz = 1024;
    d->tab = calloc(d->tabsz, sizeof(*d->tab));
    d->rbuf = malloc(DGRAM_MAX);
    d->local_len = sizeof(d->local);
    if (d->tab == NULL || d->rbuf == NULL || RAND_bytes((uint8_t *)&d->seed, 4) != 1 ||
        getsockname(w->udp_fd, (struct sockaddr *)&d->local, &d->local_len) != 0) {
        free(d->tab);
        free(d->rbuf);
        free(d);
        return -1;
    }
    /* Bursts of handshakes from many peers: a larger receive queue. */
    setsockopt(w->udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    w->dtls = d;
    if (st_gw_watch_set(w->loop, &d->uw, w->udp_fd, EPOLLIN, on_udp) != 0) {
        st_gw_dtls_fini(w);
        return -1;
    }
    return 0;
}

void st_gw_dtls_gen_changed(struct st_gw_worker *w)
{
    if (w->dtls && w->dtls->listener) {
        SSL_free(w->dtls->listener);
        w->dtls->listener = NULL;
    }
}

void st_gw_dtls_fini(struct st_gw_worker *w)
{
    struct st_gw_dtls *d = w->dtls;
    if (d == NULL)
        return;
    st_gw_watch_del(w->loop, &d->uw);
    SSL_free(d->listener);
    free(d->tab);
    free(d->rbuf);
    free(d);
    w->dtls = NULL;
}
