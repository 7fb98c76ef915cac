/*
 * Serial port of the AT transport (private to lib/transport): opening a
 * device in raw 8N1 mode, and reads and writes bounded by an absolute
 * deadline (poll(), so a silent module costs a timeout, never a hang).
 */
#ifndef SIMTRUST_AT_PORT_H
#define SIMTRUST_AT_PORT_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock, milliseconds. */
int64_t st_at_now_ms(void);

/*
 * Opens path non-blocking, without becoming its controlling terminal. A
 * terminal is switched to raw mode: baud (one of the termios rates), 8 data
 * bits, no parity, 1 stop bit, no hardware or software flow control,
 * CLOCAL (ignore modem control lines). Other files (a socket or FIFO in a
 * test) are used as they are. Returns the descriptor, or a negative ST_E_*
 * with a reason in err.
 */
int st_at_port_open(const char *path, unsigned baud, char *err, size_t err_len);

/* Whether baud is a rate termios can set. */
int st_at_port_baud_ok(unsigned baud);

/* Writes all n bytes by deadline_ms. ST_OK, ST_E_TIMEOUT, ST_E_LINK_CLOSED or ST_E_IO. */
int st_at_port_write(int fd, const void *buf, size_t n, int64_t deadline_ms);

/*
 * Waits until deadline_ms for input and reads what is there (at most cap
 * bytes, *got > 0). ST_OK, ST_E_TIMEOUT, ST_E_LINK_CLOSED (hang-up, the
 * device went away) or ST_E_IO.
 */
int st_at_port_read(int fd, uint8_t *buf, size_t cap, size_t *got, int64_t deadline_ms);

/*
 * Discards pending input: what is queued now, then whatever keeps arriving
 * until the line has been quiet for quiet_ms (0: only what is queued now),
 * at most until max_ms have passed. Late answers to a command that timed out
 * must not be taken for the answer to the next one.
 */
void st_at_port_drain(int fd, unsigned quiet_ms, unsigned max_ms);

#endif
