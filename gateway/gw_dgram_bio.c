/* Datagram BIO over a shared UDP socket (see gw_dgram_bio.h). */
#include "gw_dgram_bio.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dgram {
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    const uint8_t *in;
    size_t in_len;
};

static BIO_METHOD *g_method;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int d_write(BIO *b, const char *buf, int len)
{
    struct dgram *d = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    if (d->peer_len == 0)
        return -1;
    n = sendto(d->fd, buf, (size_t)len, 0, (const struct sockaddr *)&d->peer, d->peer_len);
    /* A full socket buffer drops the datagram, as the network could: DTLS
     * retransmits handshake flights and application data is datagrams
     * anyway. Reporting "retry" instead would wedge the record layer. */
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR &&
        errno != ECONNREFUSED)
        return -1;
    return len;
}

static int d_read(BIO *b, char *buf, int len)
{
    struct dgram *d = BIO_get_data(b);
    size_t n;
    BIO_clear_retry_flags(b);
    if (d->in == NULL) {
        BIO_set_retry_read(b);
        return -1;
    }
    /* Datagram semantics: one read, one datagram; the tail of one larger
     * than the caller's buffer is discarded like recv() would. */
    n = d->in_len < (size_t)len ? d->in_len : (size_t)len;
    memcpy(buf, d->in, n);
    d->in = NULL;
    d->in_len = 0;
    return (int)n;
}

static int peer_to_addr(const struct dgram *d, BIO_ADDR *a)
{
    if (d->peer.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)&d->peer;
        return BIO_ADDR_rawmake(a, AF_INET, &s->sin_addr, 4, s->sin_port);
    }
    if (d->peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&d->peer;
        return BIO_ADDR_rawmake(a, AF_INET6, &s->sin6_addr, 16, s->sin6_port);
    }
    return 0;
}

static void addr_to_peer(struct dgram *d, const BIO_ADDR *a)
{
    size_t len = 0;
    memset(&d->peer, 0, sizeof(d->peer));
    d->peer_len = 0;
    if (BIO_ADDR_family(a) == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&d->peer;
        s->sin_family = AF_INET;
        s->sin_port = BIO_ADDR_rawport(a);
        if (BIO_ADDR_rawaddress(a, NULL, &len) && len == 4 && BIO_ADDR_rawaddress(a, &s->sin_addr, &len))
            d->peer_len = sizeof(*s);
    } else if (BIO_ADDR_family(a) == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&d->peer;
        s->sin6_family = AF_INET6;
        s->sin6_port = BIO_ADDR_rawport(a);
        if (BIO_ADDR_rawaddress(a, NULL, &len) && len == 16 &&
            BIO_ADDR_rawaddress(a, &s->sin6_addr, &len))
            d->peer_len = sizeof(*s);
    }
}

static long d_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct dgram *d = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_DGRAM_GET_PEER:
        return d->peer_len ? peer_to_addr(d, ptr) : 0;
    case BIO_CTRL_DGRAM_SET_PEER:
        addr_to_peer(d, ptr);
        return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        /* IP + UDP headers */
        return d->peer.ss_family == AF_INET6 ? 48 : 28;
    case BIO_CTRL_DGRAM_SET_MTU:
        return num;
    case BIO_CTRL_PENDING:
        return (long)d->in_len;
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_MTU_EXCEEDED:
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
    case BIO_CTRL_DGRAM_GET_RECV_TIMER_EXP:
    case BIO_CTRL_DGRAM_GET_SEND_TIMER_EXP:
    default:
        return 0;
    }
}

static int d_create(BIO *b)
{
    struct dgram *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return 0;
    d->fd = -1;
    BIO_set_data(b, d);
    BIO_set_init(b, 1);
    return 1;
}

static int d_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "st_gw_dgram");
    if (m == NULL)
        return;
    BIO_meth_set_write(m, d_write);
    BIO_meth_set_read(m, d_read);
    BIO_meth_set_ctrl(m, d_ctrl);
    BIO_meth_set_create(m, d_create);
    BIO_meth_set_destroy(m, d_destroy);
    g_method = m;
}

BIO *st_gw_dgram_bio_new(int fd)
{
    BIO *b;
    pthread_once(&g_once, make_method);
    if (g_method == NULL || (b = BIO_new(g_method)) == NULL)
        return NULL;
    ((struct dgram *)BIO_get_data(b))->fd = fd;
    return b;
}

void st_gw_dgram_bio_set_peer(BIO *b, const struct sockaddr *sa, socklen_t len)
{
    struct dgram *d = BIO_get_data(b);
    if (len > sizeof(d->peer))
        len = sizeof(d->peer);
    memcpy(&d->peer, sa, len);
    d->peer_len = len;
}

void st_gw_dgram_bio_feed(BIO *b, const uint8_t *p, size_t n)
{
    struct dgram *d = BIO_get_data(b);
    d->in = p;
    d->in_len = p ? n : 0;
}
