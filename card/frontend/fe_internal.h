/*
 * Shared internals of the front ends (the .c files of card/frontend only).
 */
#ifndef SIMTRUST_CARD_FRONTEND_INTERNAL_H
#define SIMTRUST_CARD_FRONTEND_INTERNAL_H

#include "frontend.h"

/* What each kind of front end implements. */
struct st_fe_ops {
    size_t (*pollfds)(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms);
    int (*dispatch)(st_fe *fe, const struct pollfd *pfd, size_t n);
    void (*free)(st_fe *fe);
};

struct st_fe {
    const struct st_fe_ops *ops;
    st_card *card;
    char ready[300]; /* st_fe_ready_line() */
};

/* Sets the response style this front end promises, then transmits. */
size_t st_fe_transmit(st_card *card, bool t0_style, const uint8_t *capdu, size_t clen,
                      uint8_t *rapdu);

/*
 * One stream connection speaking the u16-BE-length framing (vpcd, tcp):
 * received bytes are collected until a frame is complete; replies are queued
 * and written when the socket can take them. A client that sends without
 * reading is throttled: no more frames are handled while replies wait.
 */
#define ST_FRAME_MAX 65535 /* largest payload the u16 length can announce */
#define ST_FRAME_TXQ 4096  /* queued replies: several R-APDUs */

struct st_frame_conn {
    int fd; /* -1 when unused */
    size_t rx_len;
    size_t tx_off, tx_len;
    uint8_t rx[2 + ST_FRAME_MAX];
    uint8_t tx[ST_FRAME_TXQ];
};

void st_frame_conn_init(struct st_frame_conn *c, int fd);
/* Closes the socket (if open) and forgets buffered data. */
void st_frame_conn_close(struct st_frame_conn *c);
/* The poll events the connection needs now. */
short st_frame_conn_events(const struct st_frame_conn *c);

/*
 * Handles revents: reads, answers complete frames through
 * st_fe_frame_reply(), writes queued replies. Returns 0, or -1 when the
 * peer closed or the connection failed (the caller closes it; why is
 * logged at debug level).
 */
int st_frame_conn_io(struct st_frame_conn *c, st_card *card, short revents, const char *who);

/* Socket helpers. */
int st_fe_set_nonblock(int fd);

/* Monotonic clock in milliseconds (timers of the poll loop). */
int64_t st_fe_now_ms(void);

/* Lowers *timeout_ms so that poll() returns by the absolute time deadline_ms. */
void st_fe_timeout_until(int *timeout_ms, int64_t deadline_ms);

#endif
