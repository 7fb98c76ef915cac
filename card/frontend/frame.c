/*
 * The vpcd framing, shared by the vpcd client and the TCP server: every
 * message in both directions is uint16 big-endian length || payload. A
 * 1-byte payload is a control code, anything else a C-APDU (facts from the
 * vsmartcard vpcd driver, reference §5 "vpcd").
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fe_internal.h"
#include "st_log.h"

enum { CTRL_OFF = 0x00, CTRL_ON = 0x01, CTRL_RESET = 0x02, CTRL_ATR = 0x04 };

long st_fe_frame_reply(st_card *card, const uint8_t *payload, size_t len, uint8_t *reply)
{
    if (len == 1) {
        switch (payload[0]) {
        case CTRL_OFF:
            st_debug("reader: power off");
            st_card_power(card, ST_POWER_OFF, NULL, 0);
            return -1;
        case CTRL_ON:
            st_debug("reader: power on");
            st_card_power(card, ST_POWER_ON, NULL, 0);
            return -1;
        case CTRL_RESET:
            st_debug("reader: reset");
            st_card_power(card, ST_POWER_RESET, NULL, 0);
            return -1;
        case CTRL_ATR: {
            /* A query only: pcscd polls it for card presence, it must not reset. */
            const struct st_card_state *s = st_card_state(card);
            size_t n = s->atr_len <= sizeof(s->atr) ? s->atr_len : sizeof(s->atr);
            memcpy(reply, s->atr, n);
            return (long)n;
        }
        default:
            st_warn("reader: unknown control code %02X ignored", payload[0]);
            return -1;
        }
    }
    if (len > ST_CAPDU_MAX) {
        /* Longer than any short APDU (plus tolerated junk): no extended length here. */
        reply[0] = 0x67;
        reply[1] = 0x00;
        return 2;
    }
    return (long)st_fe_transmit(card, false, payload, len, reply);
}

void st_frame_conn_init(struct st_frame_conn *c, int fd)
{
    c->fd = fd;
    c->rx_len = 0;
    c->tx_off = c->tx_len = 0;
}

void st_frame_conn_close(struct st_frame_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    st_frame_conn_init(c, -1);
}

short st_frame_conn_events(const struct st_frame_conn *c)
{
    /* While replies wait, stop reading: a client must read what it asked for. */
    if (c->tx_len > c->tx_off)
        return POLLOUT;
    return POLLIN;
}

static int flush_tx(struct st_frame_conn *c, const char *who)
{
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            st_debug("%s: send: %s", who, strerror(errno));
            return -1;
        }
        c->tx_off += (size_t)n;
    }
    c->tx_off = c->tx_len = 0;
    return 0;
}

/* Answers complete frames while there is room for a reply. */
static void handle_frames(struct st_frame_conn *c, st_card *card)
{
    size_t off = 0;
    while (c->rx_len - off >= 2) {
        size_t plen = (size_t)c->rx[off] << 8 | c->rx[off + 1];
        if (c->rx_len - off - 2 < plen)
            break;
        if (sizeof(c->tx) - c->tx_len < 2 + ST_RAPDU_MAX)
            break; /* resumed once the queued replies are written */
        uint8_t reply[ST_RAPDU_MAX];
        long rlen = st_fe_frame_reply(card, c->rx + off + 2, plen, reply);
        off += 2 + plen;
        if (rlen < 0)
            continue;
        c->tx[c->tx_len++] = (uint8_t)((size_t)rlen >> 8);
        c->tx[c->tx_len++] = (uint8_t)rlen;
        memcpy(c->tx + c->tx_len, reply, (size_t)rlen);
        c->tx_len += (size_t)rlen;
    }
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
}

int st_frame_conn_io(struct st_frame_conn *c, st_card *card, short revents, const char *who)
{
    if (revents & POLLNVAL)
        return -1;
    if (revents & POLLOUT) {
        if (flush_tx(c, who) != 0)
            return -1;
    }
    size_t space = sizeof(c->rx) - c->rx_len;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && space > 0) {
        ssize_t n = recv(c->fd, c->rx + c->rx_len, space, 0);
        if (n == 0) {
            st_debug("%s: peer closed the connection", who);
            return -1;
        }
        if (n < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                st_debug("%s: recv: %s", who, strerror(errno));
                return -1;
            }
        } else {
            c->rx_len += (size_t)n;
        }
    }
    /* Answer what is complete, as long as the peer takes the replies. */
    for (;;) {
        size_t before = c->rx_len;
        handle_frames(c, card);
        if (flush_tx(c, who) != 0)
            return -1;
        if (c->tx_len > c->tx_off || c->rx_len == before)
            return 0;
    }
}
