/*
 * TCP transport to simtrust-card's TCP front end (see simtrust/tcp.h). Each
 * exchange is one frame out, one frame in, with a poll() deadline; socket
 * errors are mapped to transport codes here and nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "simtrust/error.h"
#include "simtrust/tcp.h"

#define CTRL_RESET 0x02
#define CTRL_GET_ATR 0x04

struct tcp_ctx {
    int fd;
    int timeout_ms; /* < 0: forever */
};

static const struct st_transport_ops tcp_ops;

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || err_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), 0 when past. */
static int left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t d = deadline - now_ms();
    return d <= 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, left_ms(deadline));
        if (n > 0)
            return (p.revents & (POLLERR | POLLNVAL)) && !(p.revents & (events | POLLHUP)) ? ST_E_IO
                                                                                           : ST_OK;
        if (n == 0)
            return ST_E_TIMEOUT;
        if (errno != EINTR)
            return ST_E_IO;
    }
}

static int io_error(int e)
{
    switch (e) {
    case ECONNRESET:
    case EPIPE:
        return ST_E_LINK_CLOSED;
    case ETIMEDOUT:
        return ST_E_TIMEOUT;
    default:
        return ST_E_IO;
    }
}

static int write_all(struct tcp_ctx *c, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c->fd, POLLOUT, deadline);
            if (rc != ST_OK)
                return rc;
            continue;
        }
        return io_error(errno);
    }
    return ST_OK;
}

static int read_all(struct tcp_ctx *c, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int rc = wait_fd(c->fd, POLLIN, deadline);
        if (rc != ST_OK)
            return rc;
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0)
            return ST_E_LINK_CLOSED;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            continue;
        return io_error(errno);
    }
    return ST_OK;
}

static int64_t deadline_of(const struct tcp_ctx *c)
{
    return c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
}

static int send_frame(struct tcp_ctx *c, const uint8_t *p, size_t n, int64_t deadline)
{
    uint8_t frame[2 + ST_SHORT_APDU_MAX + 16];
    if (n > sizeof(frame) - 2)
        return ST_E_IO;
    frame[0] = (uint8_t)(n >> 8);
    frame[1] = (uint8_t)n;
    memcpy(frame + 2, p, n);
    return write_all(c, frame, n + 2, deadline);
}

/* Reads one frame into buf (capacity *len); a longer frame is a protocol error. */
static int recv_frame(struct tcp_ctx *c, uint8_t *buf, size_t *len, int64_t deadline)
{
    uint8_t h[2];
    int rc = read_all(c, h, 2, deadline);
    if (rc != ST_OK)
        return rc;
    size_t n = (size_t)h[0] << 8 | h[1];
    if (n > *len)
        return ST_E_IO;
    rc = read_all(c, buf, n, deadline);
    if (rc != ST_OK)
        return rc;
    *len = n;
    return ST_OK;
}

static int tcp_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen)
{
    struct tcp_ctx *c = ctx;
    if (c->fd < 0)
        return ST_E_LINK_CLOSED;
    if (clen < 4) /* 1-byte payloads are control codes, never APDUs */
        return ST_E_IO;
    int64_t deadline = deadline_of(c);
    int rc = send_frame(c, capdu, clen, deadline);
    if (rc == ST_OK)
        rc = recv_frame(c, rapdu, rlen, deadline);
    if (rc == ST_E_LINK_CLOSED || rc == ST_E_IO || rc == ST_E_TIMEOUT) {
        /* The stream is out of step after a failed exchange: drop it. */
        close(c->fd);
        c->fd = -1;
    }
    return rc;
}

static int tcp_reset(void *ctx, uint8_t *atr, size_t *atr_len)
{
    struct tcp_ctx *c = ctx;
    uint8_t code, buf[64];
    size_t n = sizeof(buf);
    if (c->fd < 0)
        return ST_E_LINK_CLOSED;
    int64_t deadline = deadline_of(c);
    code = CTRL_RESET;
    int rc = send_frame(c, &code, 1, deadline);
    code = CTRL_GET_ATR;
    if (rc == ST_OK)
        rc = send_frame(c, &code, 1, deadline);
    if (rc == ST_OK)
        rc = recv_frame(c, buf, &n, deadline);
    if (rc != ST_OK)
        return rc;
    if (atr != NULL && atr_len != NULL) {
        if (n > *atr_len)
            return ST_E_ARG;
        memcpy(atr, buf, n);
        *atr_len = n;
    }
    return ST_OK;
}

static void tcp_close(void *ctx)
{
    struct tcp_ctx *c = ctx;
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static const struct st_transport_ops tcp_ops = {
    .name = "tcp",
    .transmit = tcp_transmit,
    .open_channel = NULL,
    .close_channel = NULL,
    .reset = tcp_reset,
    .close = tcp_close,
};

/* "HOST:PORT" or "[v6]:PORT" into host and port strings. */
static int split_hostport(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon, *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - s);
    }
    size_t plen = strlen(colon + 1);
    if (hlen == 0 || hlen >= hcap || plen == 0 || plen >= pcap)
        return -1;
    for (size_t i = 0; i < plen; i++)
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    return 0;
}

/* Non-blocking connect with a deadline; returns the fd or a negative st_status. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *err_no)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err_no = errno;
        return ST_E_IO;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *err_no = errno;
            close(fd);
            return ST_E_NO_READER;
        }
        int rc = wait_fd(fd, POLLOUT, deadline);
        int so = 0;
        socklen_t sl = sizeof(so);
        if (rc == ST_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0)
            so = errno;
        if (rc != ST_OK || so != 0) {
            *err_no = rc == ST_E_TIMEOUT ? ETIMEDOUT : so;
            close(fd);
            return rc == ST_E_TIMEOUT ? ST_E_TIMEOUT : ST_E_NO_READER;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int st_tcp_open(struct st_transport *t, const char *hostport, int timeout_ms, char *err,
                size_t err_len)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (t == NULL || hostport == NULL) {
        set_err(err, err_len, "tcp: no address given");
        return ST_E_ARG;
    }
    if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        set_err(err, err_len, "tcp: '%s' is not HOST:PORT", hostport);
        return ST_E_ARG;
    }
    if (timeout_ms == 0)
        timeout_ms = ST_TCP_TIMEOUT_DEFAULT_MS;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        set_err(err, err_len, "tcp: cannot resolve '%s': %s", host, gai_strerror(gai));
        return ST_E_NO_READER;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int fd = ST_E_NO_READER, err_no = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(ai, deadline, &err_no);
        if (fd >= 0 || fd == ST_E_TIMEOUT)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        set_err(err, err_len, "tcp: cannot connect to %s: %s", hostport,
                err_no ? strerror(err_no) : "no address");
        return fd;
    }
    struct tcp_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        set_err(err, err_len, "tcp: out of memory");
        return ST_E_IO;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    t->ops = &tcp_ops;
    t->ctx = c;
    t->max_apdu = ST_SHORT_APDU_MAX;
    return ST_OK;
}

int st_tcp_set_timeout(struct st_transport *t, int timeout_ms)
{
    if (t == NULL || t->ops != &tcp_ops || t->ctx == NULL)
        return ST_E_ARG;
    struct tcp_ctx *c = t->ctx;
    c->timeout_ms = timeout_ms == 0 ? ST_TCP_TIMEOUT_DEFAULT_MS : timeout_ms;
    return ST_OK;
}
