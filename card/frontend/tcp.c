/*
 * TCP front end: a plain server speaking the vpcd framing (u16 BE length ||
 * payload; 1-byte payloads are control codes), so that a client library can
 * reach the card without pcscd (docs/card-frontends.md). Direct responses,
 * as over PC/SC.
 *
 * One client at a time, like one card in one reader: while a client is
 * connected the listening socket is not polled, so further clients wait in
 * the kernel's accept queue and are served, in order, when it leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fe_internal.h"
#include "st_log.h"

struct fe_tcp {
    st_fe base; /* first */
    int listen_fd;
    char peer[300];
    struct st_frame_conn conn;
};

/* "HOST:PORT" or "[v6]:PORT", numeric. */
static void format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, cap, "?");
        return;
    }
    snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static size_t tcp_pollfds(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms)
{
    struct fe_tcp *t = (struct fe_tcp *)fe;
    (void)timeout_ms;
    if (cap < 1)
        return 0;
    if (t->conn.fd >= 0)
        pfd[0] = (struct pollfd){.fd = t->conn.fd, .events = st_frame_conn_events(&t->conn)};
    else
        pfd[0] = (struct pollfd){.fd = t->listen_fd, .events = POLLIN};
    return 1;
}

static void accept_client(struct fe_tcp *t)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept(t->listen_fd, (struct sockaddr *)&ss, &len);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            st_warn("tcp: accept: %s", strerror(errno));
        return;
    }
    if (st_fe_set_nonblock(fd) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        st_warn("tcp: client socket setup: %s", strerror(errno));
        close(fd);
        return;
    }
    int one = 1;
    /* Request/response of a few hundred bytes: do not wait for Nagle. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    format_addr((struct sockaddr *)&ss, len, t->peer, sizeof(t->peer));
    st_frame_conn_init(&t->conn, fd);
    st_info("tcp: client %s connected", t->peer);
}

static int tcp_dispatch(st_fe *fe, const struct pollfd *pfd, size_t n)
{
    struct fe_tcp *t = (struct fe_tcp *)fe;
    if (n < 1 || pfd[0].revents == 0)
        return 0;
    if (pfd[0].fd == t->listen_fd) {
        if (pfd[0].revents & (POLLERR | POLLNVAL)) {
            st_err("tcp: listening socket failed");
            return -1;
        }
        accept_client(t);
        return 0;
    }
    if (st_frame_conn_io(&t->conn, fe->card, pfd[0].revents, "tcp") != 0) {
        st_frame_conn_close(&t->conn);
        st_info("tcp: client %s disconnected", t->peer);
    }
    return 0;
}

static void tcp_free(st_fe *fe)
{
    struct fe_tcp *t = (struct fe_tcp *)fe;
    st_frame_conn_close(&t->conn);
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    free(t);
}

static const struct st_fe_ops tcp_ops = {
    .pollfds = tcp_pollfds,
    .dispatch = tcp_dispatch,
    .free = tcp_free,
};

static int bind_listen(const char *host, uint16_t port, char *err, size_t err_len)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port_str[8];
    snprintf(port_str, sizeof(port_str), "%u", (unsigned)port);
    int rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "tcp: cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, last = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        /* A restarted server must get its port back despite TIME_WAIT. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 8) == 0 &&
            st_fe_set_nonblock(fd) == 0)
            break;
        last = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, err_len, "tcp: cannot listen on %s:%u: %s", host, (unsigned)port,
                 strerror(last));
    return fd;
}

st_fe *st_fe_tcp_new(st_card *card, const char *host, uint16_t port, char *err, size_t err_len)
{
    struct fe_tcp *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_len, "tcp: out of memory");
        return NULL;
    }
    st_frame_conn_init(&t->conn, -1);
    t->listen_fd = bind_listen(host, port, err, err_len);
    if (t->listen_fd < 0) {
        free(t);
        return NULL;
    }
    t->base.ops = &tcp_ops;
    t->base.card = card;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char where[300] = "?";
    /* With port 0 the kernel picked one: announce the real address. */
    if (getsockname(t->listen_fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr((struct sockaddr *)&ss, len, where, sizeof(where));
    /* An address never fills where[]; a cut line would only shorten the announcement. */
    if (snprintf(t->base.ready, sizeof(t->base.ready), "tcp: %s", where) < 0)
        t->base.ready[0] = '\0';
    st_info("tcp: listening on %s", where);
    return &t->base;
}
