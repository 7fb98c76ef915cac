/*
 * TLS 1.2/1.3 over TCP, the device side of a session (IoT.04 3.2.5; M1
 * through the auth callbacks): accept, non-blocking handshake bounded by
 * handshake_timeout (a slowloris peer is cut there), then the relay with
 * backpressure: device records are read only while the application side has
 * room, backend bytes only while the device side has room.
 */
/* accept4 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_relay.h"
#include "st_log.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

struct tcp_conn {
    struct st_gw_session s; /* first: the session's free() frees the conn */
    int fd;
    struct st_gw_watch w;
    unsigned rd_want_write : 1, wr_want_read : 1, wr_blocked : 1, dead : 1;
};

static void tcp_close(struct st_gw_session *s, const char *reason)
{
    struct tcp_conn *c = (struct tcp_conn *)s;
    if (s->phase == ST_GW_CLOSED)
        return;
    /* close_notify, best effort and without waiting for the peer's. Never
     * after a fatal error (OpenSSL forbids it) or before the handshake. */
    if (s->finished && !c->dead) {
        ERR_clear_error();
        SSL_shutdown(s->ssl);
    }
    ERR_clear_error();
    st_gw_watch_del(s->w->loop, &c->w);
    st_gw_session_release(s, reason);
    close(c->fd);
    c->fd = -1;
}

/* Device read failed: classify, count and note. */
static void read_failed(struct tcp_conn *c, int e)
{
    struct st_gw_session *s = &c->s;
    char why[128];
    unsigned long code = ERR_peek_error();
    c->dead = e != SSL_ERROR_ZERO_RETURN;
    s->dev_eof = 1;
    if (e == SSL_ERROR_ZERO_RETURN)
        return;
    /* A device that loses power or coverage ends without close_notify:
     * ordinary for IoT after the handshake, not a protocol violation. */
    if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
        ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return;
    }
    if (st_gw_ssl_err_is_protocol(code)) {
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_PROTOCOL);
        st_warn("protocol error from tls peer=%s: %s", s->peer, st_gw_ssl_errstr(why, sizeof(why)));
    }
    ERR_clear_error();
}

static void tcp_pump(struct st_gw_session *s)
{
    struct tcp_conn *c = (struct tcp_conn *)s;
    uint8_t buf[ST_GW_RELAY_BUF];
    uint32_t ev = 0;
    if (s->in_pump) {
        s->repump = 1;
        return;
    }
    if (s->phase == ST_GW_HANDSHAKE || s->phase == ST_GW_CLOSED)
        return;
    s->in_pump = 1;
    do {
        const uint8_t *p;
        size_t room, len;
        s->repump = 0;
        c->rd_want_write = 0;
        /* device -> application, only while there is room (backpressure) */
        while (!s->dev_eof && (room = st_gw_relay_room(s)) > 0) {
            int n, e;
            ERR_clear_error();
            n = SSL_read(s->ssl, buf, (int)(room < sizeof(buf) ? room : sizeof(buf)));
            if (n > 0) {
                if (st_gw_relay_push(s, buf, (size_t)n) != 0) {
                    tcp_close(s, "backend-error");
                    goto out;
                }
                continue;
            }
            e = SSL_get_error(s->ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                break;
            if (e == SSL_ERROR_WANT_WRITE) {
                c->rd_want_write = 1;
                break;
            }
            read_failed(c, e);
        }
        if (s->phase == ST_GW_CLOSED)
            goto out;
        /* application -> device; after the device ended there is no one to
         * deliver to (the session closes once the backend got everything) */
        c->wr_want_read = c->wr_blocked = 0;
        while (!s->dev_eof && (len = st_gw_relay_peek(s, &p)) > 0) {
            int n, e;
            ERR_clear_error();
            n = SSL_write(s->ssl, p, (int)(len > 16384 ? 16384 : len));
            if (n > 0) {
                st_gw_relay_consume(s, (size_t)n);
                continue;
            }
            e = SSL_get_error(s->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE) {
                c->wr_blocked = 1;
                break;
            }
            if (e == SSL_ERROR_WANT_READ) {
                c->wr_want_read = 1;
                break;
            }
            c->dead = 1;
            ERR_clear_error();
            tcp_close(s, "device-write-error");
            goto out;
        }
        if (st_gw_relay_done(s)) {
            tcp_close(s, s->dev_eof ? "device-closed" : "app-closed");
            goto out;
        }
    } while (s->repump);
    if (s->dev_eof) {
        /* nothing more from or to the device: silence its hang-up events */
        st_gw_watch_del(s->w->loop, &c->w);
    } else {
        if (st_gw_relay_room(s) > 0 || c->wr_want_read)
            ev |= EPOLLIN;
        if (c->wr_blocked || c->rd_want_write)
            ev |= EPOLLOUT;
        st_gw_watch_mod(s->w->loop, &c->w, ev);
    }
    st_gw_relay_update(s);
out:
    s->in_pump = 0;
}

static const struct st_gw_dev_ops tcp_ops = {tcp_pump, tcp_close};

static void handshake(struct tcp_conn *c)
{
    struct st_gw_session *s = &c->s;
    char why[128];
    unsigned long code;
    int r, e;
    ERR_clear_error();
    r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        if (st_gw_session_established(s) != 0) {
            tcp_close(s, s->w->app ? "app-refused" : "backend-unreachable");
            return;
        }
        /* TLS 1.3 devices may have sent data with their Finished. */
        tcp_pump(s);
        return;
    }
    e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        st_gw_watch_mod(s->w->loop, &c->w, EPOLLIN);
        return;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        st_gw_watch_mod(s->w->loop, &c->w, EPOLLOUT);
        return;
    }
    c->dead = 1;
    code = ERR_peek_error();
    st_gw_ssl_errstr(why, sizeof(why));
    if (BIO_number_read(SSL_get_rbio(s->ssl)) == 0) {
        /* Connected and left without a byte (a TCP health check, a port
         * scan): not a protocol error, not worth a warning. */
        snprintf(why, sizeof(why), "closed");
    } else if (st_gw_ssl_err_is_protocol(code)) {
        st_gw_metrics_refused(s->w->metrics, ST_GW_REFUSED_PROTOCOL);
        st_warn("protocol error from tls peer=%s: %s", s->peer, why);
    }
    tcp_close(s, why);
}

static void on_device(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t revents)
{
    struct tcp_conn *c = container_of(w, struct tcp_conn, w);
    struct st_gw_session *s = &c->s;
    if (s->phase == ST_GW_HANDSHAKE) {
        handshake(c);
        return;
    }
    tcp_pump(s);
    /* A hang-up while reads are paused by backpressure would be reported
     * again and again: the device is gone both ways, stop listening. */
    if (s->phase != ST_GW_CLOSED && !s->dev_eof && (revents & (EPOLLHUP | EPOLLERR))) {
        c->dead = 1;
        s->dev_eof = 1;
        tcp_pump(s);
    }
}

static void tcp_new(struct st_gw_worker *w, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
    struct tcp_conn *c = calloc(1, sizeof(*c));
    struct st_gw_session *s;
    int one = 1;
    if (c == NULL) {
        close(fd);
        return;
    }
    s = &c->s;
    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memcpy(&s->peer_sa, ss, sl);
    s->peer_len = sl;
    s->local_len = sizeof(s->local_sa);
    getsockname(fd, (struct sockaddr *)&s->local_sa, &s->local_len);
    st_gw_addr_str((const struct sockaddr *)ss, s->peer, sizeof(s->peer));
    st_gw_session_init(s, w, &tcp_ops, ST_GW_TLS);
    s->ssl = SSL_new(s->gen->tls);
    if (s->ssl == NULL || !SSL_set_fd(s->ssl, fd) || st_gw_auth_attach(s->ssl, w->reg) != 0) {
        st_err("cannot set up TLS for peer=%s", s->peer);
        tcp_close(s, "internal-error");
        return;
    }
    SSL_set_accept_state(s->ssl);
    /* Partial writes and a buffer that moves (compaction of to_dev); release
     * the record buffers while idle so an idle connection costs little. */
    SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             SSL_MODE_RELEASE_BUFFERS);
    if (st_gw_watch_set(w->loop, &c->w, fd, EPOLLIN, on_device) != 0) {
        tcp_close(s, "internal-error");
        return;
    }
    st_debug("accept tls peer=%s", s->peer);
    st_gw_session_arm(s);
}

static void resume_accept(struct st_gw_loop *l, struct st_gw_timer *t)
{
    struct st_gw_worker *w = container_of(t, struct st_gw_worker, tls_pause);
    if (!w->stopping)
        st_gw_watch_mod(l, &w->tls_w, EPOLLIN);
}

/* Refusals beyond max_connections are logged at most once a second. */
static void refuse_limit(struct st_gw_worker *w, const struct sockaddr_storage *ss)
{
    static _Thread_local uint64_t last_log, suppressed;
    uint64_t now = st_gw_loop_now(w->loop);
    st_gw_metrics_refused(w->metrics, ST_GW_REFUSED_LIMIT);
    if (now - last_log >= 1000 || last_log == 0) {
        char peer[64];
        st_gw_addr_str((const struct sockaddr *)ss, peer, sizeof(peer));
        st_warn("refused tls peer=%s reason=limit max_connections=%d (worker %d; %llu more "
                "refused since the last line)",
                peer, w->gen->cfg.max_connections, w->index, (unsigned long long)suppressed);
        last_log = now;
        suppressed = 0;
    } else {
        suppressed++;
    }
}

void st_gw_tcp_on_accept(struct st_gw_loop *l, struct st_gw_watch *lw, uint32_t revents)
{
    struct st_gw_worker *w = container_of(lw, struct st_gw_worker, tls_w);
    int i;
    /* A bounded batch per wake-up keeps one busy listener from starving the
     * worker's live connections. */
    for (i = 0; i < 64 && !w->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(w->tls_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: without a pause the loop would spin. */
                st_err("accept: %s; pausing accept for 100 ms (worker %d, %ld sessions)",
                       strerror(errno), w->index, w->nsessions);
                st_gw_watch_mod(l, &w->tls_w, 0);
                st_gw_timer_set(l, &w->tls_pause, 100, resume_accept);
            }
            return;
        }
        if (w->nsessions >= w->gen->cfg.max_connections) {
            refuse_limit(w, &ss);
            close(fd);
            continue;
        }
        tcp_new(w, fd, &ss, sl);
    }
}
