/*
 * simtrust-demo-app: a small IoT server application (IoT.04 3.2.6) behind
 * simtrust-gateway. It does no TLS itself: it trusts only the gateway, which
 * opens every relayed connection with a PROXY protocol v2 header naming the
 * authenticated device (N1, N2). Connections without a valid header, or
 * without a device ID in it, are refused.
 *
 * Each line a device sends is printed (flushed) as
 *   device=<id> group=<g> tenant=<t> method=<x509|psk|batch-psk> iccid=<...>
 *   peer=<addr>: <line>
 * with non-printable bytes escaped, and optionally acknowledged ("ack <n>").
 * poll()-based, single thread, many connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_config.h"
#include "proxy_v2.h"

#define LINE_MAX_BYTES 4096
#define OUT_MAX_BYTES 65536
#define HEADER_TIMEOUT_MS 10000
#define FIELD_MAX 256

static const char help_text[] =
    "NAME\n"
    "    simtrust-demo-app - demo IoT server application behind simtrust-gateway\n"
    "\n"
    "SYNOPSIS\n"
    "    simtrust-demo-app [--listen ADDR] [--ack] [--max-connections N]\n"
    "    simtrust-demo-app --help\n"
    "\n"
    "DESCRIPTION\n"
    "    Accepts TCP connections relayed by simtrust-gateway. Each one must start\n"
    "    with a PROXY protocol v2 header carrying the authenticated device's\n"
    "    identity (TLVs 0xE0 device ID, 0xE1 group, 0xE2 method, 0xE3 ICCID,\n"
    "    0xE4 tenant); a connection without a valid header or without a device ID\n"
    "    is refused and closed: the application trusts only the gateway, which is\n"
    "    why it must listen where only the gateway can reach it.\n"
    "\n"
    "    Every line the device sends is printed to stdout (flushed) as\n"
    "      device=ID group=G tenant=T method=x509|psk|batch-psk iccid=ICCID "
    "peer=ADDR: LINE\n"
    "    Non-printable bytes are shown as \\xHH; lines longer than 4096 bytes are\n"
    "    split. Connection events go to stderr.\n"
    "\n"
    "OPTIONS\n"
    "    --listen ADDR   HOST:PORT, [IPv6]:PORT or :PORT to listen on; port 0 picks a\n"
    "                    free port [127.0.0.1:0]. The line\n"
    "                      simtrust-demo-app: listening on HOST:PORT\n"
    "                    goes to stdout once listening.\n"
    "    --ack           Answer each line with \"ack N\\n\" (N counts the connection's\n"
    "                    lines from 1).\n"
    "    --max-connections N\n"
    "                    Refuse connections beyond N open ones [10000].\n"
    "    -h, --help      This text.\n"
    "\n"
    "SIGNALS\n"
    "    SIGTERM, SIGINT  exit 0.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stopped by a signal, 1 runtime error, 2 usage error.\n"
    "\n"
    "EXAMPLE\n"
    "    simtrust-demo-app --listen 127.0.0.1:9000 --ack &\n"
    "    simtrust-gateway ... --backend 127.0.0.1:9000\n";

struct conn {
    int fd;
    int have_header;
    uint64_t deadline_ms;
    uint8_t *buf; /* header bytes, then the current line */
    size_t len, cap;
    char *out;
    size_t out_len;
    unsigned long lines;
    char prefix[6 * FIELD_MAX + 128];
    char from[INET6_ADDRSTRLEN + 16]; /* TCP peer (the gateway) */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Printable copy of a TLV value ("-" when absent). */
static void field(char *out, size_t cap, struct st_pp2_bytes b)
{
    if (b.p == NULL || b.n == 0) {
        snprintf(out, cap, "-");
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < b.n && o + 5 < cap; i++) {
        uint8_t ch = b.p[i];
        if (ch > 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

/* 0: header complete and accepted; 1: need more; -1: refuse. */
static int take_header(struct conn *c)
{
    struct st_pp2_info info;
    size_t used = 0;
    int rc = st_pp2_parse(c->buf, c->len, &info, &used);
    if (rc == ST_PP2_NEED_MORE)
        return 1;
    if (rc != ST_PP2_OK) {
        fprintf(stderr, "simtrust-demo-app: refused %s: no valid PROXY v2 header (%d)\n", c->from,
                rc);
        return -1;
    }
    if (info.local || info.device_id.p == NULL || info.device_id.n == 0) {
        fprintf(stderr, "simtrust-demo-app: refused %s: PROXY v2 header without a device\n",
                c->from);
        return -1;
    }
    char dev[FIELD_MAX], grp[FIELD_MAX], ten[FIELD_MAX], meth[FIELD_MAX], iccid[FIELD_MAX],
        peer[INET6_ADDRSTRLEN + 16];
    field(dev, sizeof(dev), info.device_id);
    field(grp, sizeof(grp), info.group);
    field(ten, sizeof(ten), info.tenant);
    field(meth, sizeof(meth), info.auth_method);
    field(iccid, sizeof(iccid), info.iccid);
    char h[INET6_ADDRSTRLEN] = "?";
    if (info.family == ST_PP2_INET) {
        inet_ntop(AF_INET, info.src_addr, h, sizeof(h));
        snprintf(peer, sizeof(peer), "%s:%u", h, info.src_port);
    } else if (info.family == ST_PP2_INET6) {
        inet_ntop(AF_INET6, info.src_addr, h, sizeof(h));
        snprintf(peer, sizeof(peer), "[%s]:%u", h, info.src_port);
    } else {
        snprintf(peer, sizeof(peer), "-");
    }
    snprintf(c->prefix, sizeof(c->prefix), "device=%s group=%s tenant=%s method=%s iccid=%s peer=%s",
             dev, grp, ten, meth, iccid, peer);
    fprintf(stderr, "simtrust-demo-app: connected %s (via %s)\n", c->prefix, c->from);
    c->have_header = 1;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return 0;
}

static int queue_out(struct conn *c, const char *s, size_t n)
{
    if (c->out_len + n > OUT_MAX_BYTES)
        return -1; /* the peer does not read its acks */
    if (c->out == NULL && (c->out = malloc(OUT_MAX_BYTES)) == NULL)
        return -1;
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return 0;
}

/* Prints one line; -1 when its acknowledgement cannot be queued. */
static int print_line(struct conn *c, const uint8_t *p, size_t n, int ack)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    c->lines++;
    fputs(c->prefix, stdout);
    fputs(": ", stdout);
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('\n');
    fflush(stdout);
    if (ack) {
        char a[48];
        int m = snprintf(a, sizeof(a), "ack %lu\n", c->lines);
        return queue_out(c, a, (size_t)m);
    }
    return 0;
}

/* Consumes complete lines (or full buffers) from c->buf. */
static int take_lines(struct conn *c, int ack, int eof)
{
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (c->buf[i] == '\n') {
            rc |= print_line(c, c->buf + start, i - start, ack);
            start = i + 1;
        }
    }
    if (c->len - start >= LINE_MAX_BYTES || (eof && c->len > start)) {
        rc |= print_line(c, c->buf + start, c->len - start, ack);
        start = c->len;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    return rc;
}

static void conn_free(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c->out);
    free(c);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_on(const char *addr, char *shown, size_t shown_cap)
{
    char host[ST_GW_ADDR_MAX], port_s[8];
    unsigned port;
    if (st_gw_addr_split(addr, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "simtrust-demo-app: bad --listen address '%s'\n", addr);
        return -2;
    }
    snprintf(port_s, sizeof(port_s), "%u", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] != '\0' ? host : NULL, port_s, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "simtrust-demo-app: %s: %s\n", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        set_nonblock(fd) != 0) {
        fprintf(stderr, "simtrust-demo-app: listen on %s: %s\n", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    sockaddr_text(&ss, shown, shown_cap);
    return fd;
}

int main(int argc, char **argv)
{
    const char *listen_addr = "127.0.0.1:0";
    int ack = 0;
    long max_conns = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(help_text, stdout);
            return 0;
        } else if (strcmp(argv[i], "--ack") == 0) {
            ack = 1;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_addr = argv[++i];
        } else if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen_addr = argv[i] + 9;
        } else if (strcmp(argv[i], "--max-connections") == 0 && i + 1 < argc) {
            char *end;
            max_conns = strtol(argv[++i], &end, 10);
            if (*end != '\0' || max_conns < 1 || max_conns > 1000000) {
                fprintf(stderr, "simtrust-demo-app: bad --max-connections\n");
                return 2;
            }
        } else {
            fprintf(stderr,
                    "simtrust-demo-app: unknown or incomplete option '%s'\n"
                    "Try 'simtrust-demo-app --help'.\n",
                    argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char shown[INET6_ADDRSTRLEN + 16];
    int lfd = listen_on(listen_addr, shown, sizeof(shown));
    if (lfd < 0)
        return lfd == -2 ? 2 : 1;
    printf("simtrust-demo-app: listening on %s\n", shown);
    fflush(stdout);

    size_t ncap = 64, n = 0;
    struct conn **conns = calloc(ncap, sizeof(*conns));
    struct pollfd *pfd = calloc(ncap + 1, sizeof(*pfd));
    if (conns == NULL || pfd == NULL)
        return 1;
    while (!stop) {
        pfd[0].fd = lfd;
        pfd[0].events = n < (size_t)max_conns ? POLLIN : 0;
        uint64_t now = now_ms(), next = now + 1000;
        for (size_t i = 0; i < n; i++) {
            pfd[i + 1].fd = conns[i]->fd;
            pfd[i + 1].events = (short)(POLLIN | (conns[i]->out_len > 0 ? POLLOUT : 0));
            pfd[i + 1].revents = 0;
            if (!conns[i]->have_header && conns[i]->deadline_ms < next)
                next = conns[i]->deadline_ms;
        }
        int pr = poll(pfd, n + 1, next > now ? (int)(next - now) : 0);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            perror("simtrust-demo-app: poll");
            return 1;
        }
        now = now_ms();
        for (size_t i = 0; i < n; i++) {
            struct conn *c = conns[i];
            short re = pfd[i + 1].revents;
            int drop = 0;
            if (!c->have_header && now >= c->deadline_ms) {
                fprintf(stderr, "simtrust-demo-app: refused %s: no PROXY v2 header in time\n",
                        c->from);
                drop = 1;
            }
            if (!drop && (re & POLLOUT) && c->out_len > 0) {
                ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
                if (w > 0) {
                    memmove(c->out, c->out + w, c->out_len - (size_t)w);
                    c->out_len -= (size_t)w;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    drop = 1;
                }
            }
            if (!drop && (re & (POLLIN | POLLHUP | POLLERR))) {
                size_t want = c->have_header ? LINE_MAX_BYTES + 1 : ST_PP2_MAX_LEN;
                if (c->cap < want) {
                    uint8_t *nb = realloc(c->buf, want);
                    if (nb == NULL) {
                        drop = 1;
                    } else {
                        c->buf = nb;
                        c->cap = want;
                    }
                }
                ssize_t r = drop ? -1 : recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (r > 0) {
                    c->len += (size_t)r;
                    if (!c->have_header) {
                        int h = take_header(c);
                        if (h < 0)
                            drop = 1;
                    }
                    if (!drop && c->have_header && take_lines(c, ack, 0) != 0)
                        drop = 1;
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    if (c->have_header) {
                        take_lines(c, 0, 1);
                        fprintf(stderr, "simtrust-demo-app: closed %s after %lu line(s)\n",
                                c->prefix, c->lines);
                    } else if (c->len > 0) {
                        fprintf(stderr, "simtrust-demo-app: refused %s: incomplete PROXY v2 "
                                        "header\n", c->from);
                    }
                    drop = 1;
                }
            }
            if (drop) {
                conn_free(c);
                conns[i] = conns[n - 1];
                pfd[i + 1] = pfd[n];
                n--;
                i--;
            }
        }
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
                if (fd < 0)
                    break;
                if (n >= (size_t)max_conns || set_nonblock(fd) != 0) {
                    close(fd);
                    continue;
                }
                if (n == ncap) {
                    size_t nc = ncap * 2;
                    struct conn **cc = realloc(conns, nc * sizeof(*cc));
                    if (cc != NULL)
                        conns = cc;
                    struct pollfd *pp = realloc(pfd, (nc + 1) * sizeof(*pp));
                    if (pp != NULL)
                        pfd = pp;
                    if (cc == NULL || pp == NULL) {
                        close(fd);
                        continue;
                    }
                    ncap = nc;
                }
                struct conn *c = calloc(1, sizeof(*c));
                if (c == NULL) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                c->deadline_ms = now + HEADER_TIMEOUT_MS;
                sockaddr_text(&ss, c->from, sizeof(c->from));
                conns[n++] = c;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        conn_free(conns[i]);
    free(conns);
    free(pfd);
    close(lfd);
    return 0;
}
