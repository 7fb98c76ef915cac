/*
 * vpcd front end: the card as a TCP client of pcscd's vpcd driver (Debian
 * vsmartcard-vpcd; reader "Virtual PCD 00 00" listens on 35963, "00 01" on
 * 35964). pcscd may start after us or restart at any time, so the client
 * reconnects with exponential backoff and never gives up.
 *
 * PC/SC readers speak T=1 to this card (its ATR says so), hence direct
 * responses: case-4 data comes back at once, no 61xx (reference §5 "vpcd").
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fe_internal.h"
#include "st_log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define MAX_ADDRS 4

enum vpcd_state { VPCD_IDLE, VPCD_CONNECTING, VPCD_CONNECTED };

struct fe_vpcd {
    st_fe base; /* first: st_fe * and struct fe_vpcd * convert */
    char endpoint[280];
    struct sockaddr_storage addr[MAX_ADDRS];
    socklen_t addr_len[MAX_ADDRS];
    size_t addr_count, next_addr;
    enum vpcd_state state;
    int64_t retry_at_ms;
    int backoff_ms;
    bool waiting_logged; /* "waiting for pcscd" said once per outage */
    struct st_frame_conn conn;
};

static void schedule_retry(struct fe_vpcd *v, const char *why)
{
    if (!v->waiting_logged) {
        st_info("vpcd: waiting for pcscd at %s (%s); retrying", v->endpoint, why);
        v->waiting_logged = true;
    } else {
        st_debug("vpcd: %s: %s; retry in %d ms", v->endpoint, why, v->backoff_ms);
    }
    v->state = VPCD_IDLE;
    v->retry_at_ms = st_fe_now_ms() + v->backoff_ms;
    v->backoff_ms = v->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : v->backoff_ms * 2;
}

static void connected(struct fe_vpcd *v)
{
    v->state = VPCD_CONNECTED;
    v->backoff_ms = BACKOFF_MIN_MS;
    v->waiting_logged = false;
    st_info("vpcd: connected to pcscd at %s", v->endpoint);
}

static void start_connect(struct fe_vpcd *v)
{
    size_t i = v->next_addr;
    v->next_addr = (v->next_addr + 1) % v->addr_count;
    int fd = socket(v->addr[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        schedule_retry(v, strerror(errno));
        return;
    }
    if (st_fe_set_nonblock(fd) != 0) {
        close(fd);
        schedule_retry(v, strerror(errno));
        return;
    }
    st_frame_conn_init(&v->conn, fd);
    if (connect(fd, (const struct sockaddr *)&v->addr[i], v->addr_len[i]) == 0) {
        connected(v);
        return;
    }
    if (errno == EINPROGRESS) {
        v->state = VPCD_CONNECTING;
        return;
    }
    int e = errno;
    st_frame_conn_close(&v->conn);
    schedule_retry(v, strerror(e));
}

static size_t vpcd_pollfds(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms)
{
    struct fe_vpcd *v = (struct fe_vpcd *)fe;
    if (cap < 1)
        return 0;
    switch (v->state) {
    case VPCD_IDLE:
        st_fe_timeout_until(timeout_ms, v->retry_at_ms);
        return 0;
    case VPCD_CONNECTING:
        pfd[0] = (struct pollfd){.fd = v->conn.fd, .events = POLLOUT};
        return 1;
    case VPCD_CONNECTED:
        pfd[0] = (struct pollfd){.fd = v->conn.fd, .events = st_frame_conn_events(&v->conn)};
        return 1;
    }
    return 0;
}

static int vpcd_dispatch(st_fe *fe, const struct pollfd *pfd, size_t n)
{
    struct fe_vpcd *v = (struct fe_vpcd *)fe;
    switch (v->state) {
    case VPCD_IDLE:
        if (st_fe_now_ms() >= v->retry_at_ms)
            start_connect(v);
        return 0;
    case VPCD_CONNECTING: {
        if (n < 1 || pfd[0].revents == 0)
            return 0;
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(v->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        if (soerr != 0) {
            st_frame_conn_close(&v->conn);
            schedule_retry(v, strerror(soerr));
            return 0;
        }
        connected(v);
        return 0;
    }
    case VPCD_CONNECTED:
        if (n < 1 || pfd[0].revents == 0)
            return 0;
        if (st_frame_conn_io(&v->conn, fe->card, pfd[0].revents, "vpcd") != 0) {
            st_frame_conn_close(&v->conn);
            /* pcscd went away (stopped or restarted): the card is out of the reader. */
            st_info("vpcd: connection to pcscd at %s lost; reconnecting", v->endpoint);
            v->backoff_ms = BACKOFF_MIN_MS;
            v->waiting_logged = true; /* said just above */
            schedule_retry(v, "connection lost");
        }
        return 0;
    }
    return 0;
}

static void vpcd_free(st_fe *fe)
{
    struct fe_vpcd *v = (struct fe_vpcd *)fe;
    st_frame_conn_close(&v->conn);
    free(v);
}

static const struct st_fe_ops vpcd_ops = {
    .pollfds = vpcd_pollfds,
    .dispatch = vpcd_dispatch,
    .free = vpcd_free,
};

st_fe *st_fe_vpcd_new(st_card *card, const char *host, uint16_t port, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port_str[8];
    snprintf(port_str, sizeof(port_str), "%u", (unsigned)port);
    int rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "vpcd: cannot resolve '%s': %s", host, gai_strerror(rc));
        return NULL;
    }
    struct fe_vpcd *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        freeaddrinfo(res);
        snprintf(err, err_len, "vpcd: out of memory");
        return NULL;
    }
    for (struct addrinfo *ai = res; ai != NULL && v->addr_count < MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(v->addr[0]))
            continue;
        memcpy(&v->addr[v->addr_count], ai->ai_addr, ai->ai_addrlen);
        v->addr_len[v->addr_count++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (v->addr_count == 0) {
        free(v);
        snprintf(err, err_len, "vpcd: no usable address for '%s'", host);
        return NULL;
    }
    v->base.ops = &vpcd_ops;
    v->base.card = card;
    bool v6 = strchr(host, ':') != NULL;
    snprintf(v->endpoint, sizeof(v->endpoint), v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    snprintf(v->base.ready, sizeof(v->base.ready), "vpcd: %s", v->endpoint);
    st_frame_conn_init(&v->conn, -1);
    v->state = VPCD_IDLE;
    v->backoff_ms = BACKOFF_MIN_MS;
    v->retry_at_ms = st_fe_now_ms(); /* first attempt at once */
    return &v->base;
}
