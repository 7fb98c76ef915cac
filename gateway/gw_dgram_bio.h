/*
 * A datagram BIO for many DTLS peers on ONE UDP socket (issue 5 item 1). The
 * worker reads each datagram itself (recvfrom) and hands it to the SSL of
 * the peer it came from; writes go out with sendto() to that BIO's peer.
 * Reads return the fed datagram once, then "retry". Supports the ctrls
 * DTLSv1_listen and the cookie callbacks use (get/set peer), the MTU
 * overhead, and ignores the timer ctrls (the worker's loop drives
 * retransmission through DTLSv1_get_timeout/DTLSv1_handle_timeout).
 */
#ifndef SIMTRUST_GW_DGRAM_BIO_H
#define SIMTRUST_GW_DGRAM_BIO_H

#include <openssl/bio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A BIO sending on fd (borrowed) to nobody yet. NULL on out of memory. */
BIO *st_gw_dgram_bio_new(int fd);
/* The peer writes go to (and BIO_dgram_get_peer reports). */
void st_gw_dgram_bio_set_peer(BIO *b, const struct sockaddr *sa, socklen_t len);
/* The next datagram BIO_read returns (borrowed until the next feed or
 * st_gw_dgram_bio_feed(b, NULL, 0), which the caller does after the SSL
 * call). */
void st_gw_dgram_bio_feed(BIO *b, const uint8_t *p, size_t n);

#endif
