/* Application side of a session: backend stream or embedded app (see gw_relay.h). */
#include "gw_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_v2.h"
#include "st_log.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

static const char *transport_name(const struct st_gw_session *s)
{
    return s->transport == ST_GW_DTLS ? "dtls" : "tls";
}

static const char *device_of(const struct st_gw_session *s)
{
    const struct st_gw_auth *a = s->ssl ? st_gw_auth_get(s->ssl) : NULL;
    return a && a->device_id[0] ? a->device_id : "-";
}

static double secs_since(const struct st_gw_session *s, uint64_t t)
{
    return (double)(st_gw_loop_now(s->w->loop) - t) / 1000.0;
}

/* ---- bounded buffers: allocated on first use, freed as soon as empty so
 * an idle session holds no relay memory ---- */

static int buf_append(struct st_gw_buf *b, const uint8_t *p, size_t n, size_t max)
{
    if (n > max - b->len)
        return -1;
    if (b->off + b->len + n > b->cap) {
        if (b->off > 0) {
            memmove(b->p, b->p + b->off, b->len);
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : (max < ST_GW_RELAY_BUF ? max : ST_GW_RELAY_BUF);
            uint8_t *q;
            while (cap < b->len + n)
                cap *= 2;
            if (cap > max)
                cap = max;
            q = realloc(b->p, cap);
            if (q == NULL)
                return -1;
            b->p = q;
            b->cap = cap;
        }
    }
    memcpy(b->p + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_drop(struct st_gw_buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) {
        free(b->p);
        memset(b, 0, sizeof(*b));
    }
}

/* ---- session bookkeeping ---- */

static void on_timer(struct st_gw_loop *l, struct st_gw_timer *t);

void st_gw_session_init(struct st_gw_session *s, struct st_gw_worker *w,
                        const struct st_gw_dev_ops *dev, int transport)
{
    uint64_t now = st_gw_loop_now(w->loop);
    s->dev = dev;
    s->w = w;
    s->gen = w->gen;
    st_gw_gen_ref(s->gen);
    s->transport = transport;
    s->phase = ST_GW_HANDSHAKE;
    s->id = ((uint64_t)w->index << 48) | ++w->next_id;
    s->t0 = s->phase_t0 = s->last_io = now;
    s->bfd = -1;
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    w->nsessions++;
    st_gw_metrics_conn_open(w->metrics, transport);
}

static uint64_t deadline(const struct st_gw_session *s)
{
    const struct st_gw_config *c = &s->gen->cfg;
    switch (s->phase) {
    case ST_GW_HANDSHAKE:
        return s->phase_t0 + (uint64_t)c->handshake_timeout_ms;
    case ST_GW_BACKEND:
        return s->phase_t0 + (uint64_t)c->backend_timeout_ms;
    default:
        return s->last_io + (uint64_t)c->idle_timeout_ms;
    }
}

void st_gw_session_arm(struct st_gw_session *s)
{
    uint64_t now = st_gw_loop_now(s->w->loop), at = deadline(s);
    if (st_gw_timer_set(s->w->loop, &s->timer, at > now ? at - now : 0, on_timer) != 0)
        s->dev->close(s, "out-of-memory");
}

static void on_timer(struct st_gw_loop *l, struct st_gw_timer *t)
{
    struct st_gw_session *s = container_of(t, struct st_gw_session, timer);
    uint64_t now = st_gw_loop_now(l);
    /* Idle: activity only moves last_io; the timer is re-armed lazily here
     * rather than on every byte. */
    if (deadline(s) > now) {
        st_gw_session_arm(s);
        return;
    }
    switch (s->phase) {
    case ST_GW_HANDSHAKE:
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_TIMEOUT);
        s->dev->close(s, "timeout");
        break;
    case ST_GW_BACKEND:
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_BACKEND);
        st_warn("backend %s unreachable: no answer within %d ms (peer=%s device=%s)",
                s->gen->cfg.backend, s->gen->cfg.backend_timeout_ms, s->peer, device_of(s));
        s->dev->close(s, "backend-timeout");
        break;
    default:
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_TIMEOUT);
        s->dev->close(s, "idle-timeout");
        break;
    }
}

static void free_session(struct st_gw_defer *d)
{
    struct st_gw_session *s = container_of(d, struct st_gw_session, defer);
    /* The SSL_CTX and auth context of the session's generation must outlive
     * its SSL: free the SSL first, then drop the generation. */
    SSL_free(s->ssl);
    st_gw_gen_unref(s->gen);
    free(s);
}

void st_gw_session_release(struct st_gw_session *s, const char *reason)
{
    struct st_gw_worker *w = s->w;
    if (s->phase == ST_GW_CLOSED)
        return;
    if (!s->finished && s->ssl)
        st_gw_auth_finish(s->ssl, 0, reason, s->peer, secs_since(s, s->t0));
    else
        st_info("close %s peer=%s device=%s reason=%s to_app=%llu to_device=%llu secs=%.1f",
                transport_name(s), s->peer, device_of(s), reason,
                (unsigned long long)s->n_to_app, (unsigned long long)s->n_to_dev,
                secs_since(s, s->t0));
    s->phase = ST_GW_CLOSED;
    st_gw_timer_cancel(w->loop, &s->timer);
    if (s->bfd >= 0) {
        st_gw_watch_del(w->loop, &s->bw);
        close(s->bfd);
        s->bfd = -1;
    }
    if (s->app_sess && w->app) {
        void *as = s->app_sess;
        s->app_sess = NULL;
        w->app->close(w->app_arg, as);
    }
    free(s->to_app.p);
    free(s->to_dev.p);
    memset(&s->to_app, 0, sizeof(s->to_app));
    memset(&s->to_dev, 0, sizeof(s->to_dev));
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->nsessions--;
    st_gw_metrics_conn_close(w->metrics, s->transport);
    st_gw_loop_defer(w->loop, &s->defer, free_session);
}

/* ---- PROXY v2 header (N1/N2: who the device is, for the application) ---- */

static void pp2_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(addr, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
    }
}

static int build_proxy(struct st_gw_session *s, uint8_t *buf, size_t cap, size_t *len)
{
    const struct st_gw_auth *a = st_gw_auth_get(s->ssl);
    X509 *peer_cert = SSL_get0_peer_certificate(s->ssl);
    struct st_pp2_info in;
    uint8_t uid[8];
    int i;
    memset(&in, 0, sizeof(in));
    if (s->peer_sa.ss_family == s->local_sa.ss_family &&
        (s->peer_sa.ss_family == AF_INET || s->peer_sa.ss_family == AF_INET6)) {
        in.family = s->peer_sa.ss_family == AF_INET ? ST_PP2_INET : ST_PP2_INET6;
        pp2_addr(&s->peer_sa, in.src_addr, &in.src_port);
        pp2_addr(&s->local_sa, in.dst_addr, &in.dst_port);
    }
    in.transport = s->transport == ST_GW_DTLS ? ST_PP2_DGRAM : ST_PP2_STREAM;
    for (i = 0; i < 8; i++)
        uid[i] = (uint8_t)(s->id >> (56 - 8 * i));
    in.unique_id.p = uid;
    in.unique_id.n = sizeof(uid);
    in.ssl = 1;
    in.ssl_client = ST_PP2_CLIENT_SSL | (peer_cert ? ST_PP2_CLIENT_CERT_CONN : 0);
    /* The specification: zero only when a certificate was presented and
     * verified (a PSK device presents none). */
    in.ssl_verify = peer_cert ? (uint32_t)SSL_get_verify_result(s->ssl) : 1;
    in.ssl_version = st_pp2_str(SSL_get_version(s->ssl));
    in.ssl_cipher = st_pp2_str(SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)));
    if (a) {
        if (a->sni[0])
            in.authority = st_pp2_str(a->sni);
        if (a->subject_cn[0])
            in.ssl_cn = st_pp2_str(a->subject_cn);
        in.device_id = st_pp2_str(a->device_id);
        in.group = st_pp2_str(a->group);
        in.tenant = st_pp2_str(a->tenant);
        in.auth_method = st_pp2_str(st_gw_method_name(a->method));
        if (a->iccid[0])
            in.iccid = st_pp2_str(a->iccid);
    }
    return st_pp2_write(&in, buf, cap, len) == ST_PP2_OK ? 0 : -1;
}

/* ---- backend stream ---- */

static void backend_failed(struct st_gw_session *s, int err)
{
    st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_BACKEND);
    st_warn("backend %s unreachable: %s (peer=%s device=%s)", s->gen->cfg.backend,
            strerror(err), s->peer, device_of(s));
}

static void relayed(struct st_gw_session *s)
{
    const struct st_gw_auth *a = st_gw_auth_get(s->ssl);
    s->phase = ST_GW_RELAY;
    s->last_io = st_gw_loop_now(s->w->loop);
    st_info("relay %s peer=%s device=%s group=%s tenant=%s to=%s", transport_name(s), s->peer,
            device_of(s), a ? a->group : "-", a ? a->tenant : "-",
            s->w->app ? "app" : s->gen->cfg.backend);
    st_gw_session_arm(s);
}

/* Writes queued device data to the backend. 0, or -1 on a write error. */
static int flush_backend(struct st_gw_session *s)
{
    while (s->to_app.len > 0) {
        ssize_t n = send(s->bfd, s->to_app.p + s->to_app.off, s->to_app.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf_drop(&s->to_app, (size_t)n);
    }
    return 0;
}

void st_gw_relay_update(struct st_gw_session *s)
{
    uint32_t ev = 0;
    if (s->bfd < 0 || s->phase == ST_GW_CLOSED)
        return;
    if (s->phase == ST_GW_BACKEND) {
        ev = EPOLLOUT;
    } else {
        if (!s->app_eof && s->to_dev.len < ST_GW_RELAY_BUF)
            ev |= EPOLLIN;
        if (s->to_app.len > 0)
            ev |= EPOLLOUT;
    }
    st_gw_watch_mod(s->w->loop, &s->bw, ev);
}

static void on_backend(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t revents)
{
    struct st_gw_session *s = container_of(w, struct st_gw_session, bw);
    if (s->phase == ST_GW_BACKEND) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->bfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == 0 && !(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (err != 0) {
            backend_failed(s, err);
            s->dev->close(s, "backend-unreachable");
            return;
        }
        relayed(s);
    }
    if ((revents & EPOLLOUT) && flush_backend(s) != 0) {
        st_info("backend %s write failed: %s (peer=%s device=%s)", s->gen->cfg.backend,
                strerror(errno), s->peer, device_of(s));
        s->dev->close(s, "backend-error");
        return;
    }
    if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        uint8_t tmp[ST_GW_RELAY_BUF];
        while (!s->app_eof && s->to_dev.len < ST_GW_RELAY_BUF) {
            ssize_t n = recv(s->bfd, tmp, ST_GW_RELAY_BUF - s->to_dev.len, 0);
            if (n > 0) {
                if (buf_append(&s->to_dev, tmp, (size_t)n, ST_GW_RELAY_BUF) != 0) {
                    s->dev->close(s, "out-of-memory");
                    return;
                }
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0 && errno == EINTR)
                continue;
            /* EOF or reset: deliver what is queued, then close the device. */
            s->app_eof = 1;
        }
    }
    if (s->app_eof) {
        /* Level-triggered epoll would report the hang-up forever: let go of
         * the backend now; data for it has nowhere to go any more. */
        st_gw_watch_del(l, &s->bw);
        close(s->bfd);
        s->bfd = -1;
        free(s->to_app.p);
        memset(&s->to_app, 0, sizeof(s->to_app));
    }
    s->dev->pump(s);
    st_gw_relay_update(s);
}

static int open_backend(struct st_gw_session *s)
{
    struct st_gw_gen *g = s->gen;
    uint8_t hdr[2048];
    size_t hlen = 0;
    int fd;
    if (g->cfg.proxy_protocol) {
        if (build_proxy(s, hdr, sizeof(hdr), &hlen) != 0 ||
            buf_append(&s->to_app, hdr, hlen, ST_GW_RELAY_BUF) != 0) {
            st_warn("PROXY v2 header does not fit (peer=%s device=%s)", s->peer, device_of(s));
            return -1;
        }
    }
    fd = socket(g->backend.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        backend_failed(s, errno);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&g->backend, g->backend_len) != 0 &&
        errno != EINPROGRESS) {
        backend_failed(s, errno);
        close(fd);
        return -1;
    }
    s->bfd = fd;
    if (st_gw_watch_set(s->w->loop, &s->bw, fd, EPOLLOUT, on_backend) != 0) {
        backend_failed(s, errno);
        return -1;
    }
    s->phase = ST_GW_BACKEND;
    s->phase_t0 = st_gw_loop_now(s->w->loop);
    st_gw_session_arm(s);
    return 0;
}

int st_gw_session_established(struct st_gw_session *s)
{
    struct st_gw_worker *w = s->w;
    s->finished = 1;
    st_gw_auth_finish(s->ssl, 1, "", s->peer, secs_since(s, s->t0));
    if (w->app == NULL)
        return open_backend(s);
    s->app_sess = w->app->open(w->app_arg, s, st_gw_auth_get(s->ssl));
    if (s->app_sess == NULL) {
        st_info("application refused peer=%s device=%s", s->peer, device_of(s));
        return -1;
    }
    relayed(s);
    return 0;
}

size_t st_gw_relay_room(const struct st_gw_session *s)
{
    if (s->phase == ST_GW_CLOSED)
        return 0;
    if (s->w->app)
        return ST_GW_RELAY_BUF;
    return s->to_app.len < ST_GW_RELAY_BUF ? ST_GW_RELAY_BUF - s->to_app.len : 0;
}

int st_gw_relay_push(struct st_gw_session *s, const uint8_t *p, size_t n)
{
    if (s->phase == ST_GW_CLOSED)
        return -1;
    s->n_to_app += n;
    s->last_io = st_gw_loop_now(s->w->loop);
    st_gw_metrics_bytes(s->w->metrics, 1, n);
    if (s->w->app) {
        if (s->app_sess)
            s->w->app->data(s->w->app_arg, s->app_sess, p, n);
        return s->phase == ST_GW_CLOSED ? -1 : 0;
    }
    if (s->app_eof)
        return 0; /* the backend is gone; the session closes once the device is served */
    if (buf_append(&s->to_app, p, n, ST_GW_RELAY_BUF) != 0)
        return -1;
    if (s->phase == ST_GW_RELAY && flush_backend(s) != 0) {
        st_info("backend %s write failed: %s (peer=%s device=%s)", s->gen->cfg.backend,
                strerror(errno), s->peer, device_of(s));
        return -1;
    }
    return 0;
}

size_t st_gw_relay_peek(struct st_gw_session *s, const uint8_t **p)
{
    *p = s->to_dev.p ? s->to_dev.p + s->to_dev.off : NULL;
    return s->to_dev.len;
}

void st_gw_relay_consume(struct st_gw_session *s, size_t n)
{
    s->n_to_dev += n;
    s->last_io = st_gw_loop_now(s->w->loop);
    st_gw_metrics_bytes(s->w->metrics, 0, n);
    buf_drop(&s->to_dev, n);
}

int st_gw_relay_done(const struct st_gw_session *s)
{
    return (s->dev_eof && s->to_app.len == 0) || (s->app_eof && s->to_dev.len == 0);
}

/* ---- embedded application (gw_server.h) ---- */

int st_gw_session_send(struct st_gw_session *s, const uint8_t *p, size_t n)
{
    if (s->phase == ST_GW_CLOSED || s->app_eof)
        return -1;
    if (buf_append(&s->to_dev, p, n, ST_GW_APP_PENDING_MAX) != 0) {
        st_warn("application queued over %d bytes for peer=%s device=%s: closing",
                ST_GW_APP_PENDING_MAX, s->peer, device_of(s));
        s->dev->close(s, "app-overflow");
        return -1;
    }
    s->dev->pump(s);
    return 0;
}

void st_gw_session_close(struct st_gw_session *s)
{
    if (s->phase == ST_GW_CLOSED)
        return;
    s->app_eof = 1;
    s->dev->pump(s);
}
