/*
 * simtrust TLS API: a TLS 1.2 / TLS 1.3 / DTLS 1.2 client connection whose
 * long-term key and ECDHE key pair stay in the SIM's IoT SAFE applet, in a
 * few calls (GSMA IoT.04 B3: the device middleware gives applications a TLS
 * interface; B4, F2, F4, F7, E6: signatures and key agreement on the card;
 * F3, B9: the server is authenticated against a trust anchor read from the
 * card; D1, D2: credentials found by label). docs/libsimtrust.md ("TLS").
 *
 *   struct st_tls_config cfg = ST_TLS_CONFIG_INIT;
 *   cfg.sim = "pcsc:";            cfg.key_label = "client";
 *   cfg.cert_label = "client-cert"; cfg.ca_label = "ca";
 *   struct st_tls_ctx *ctx = st_tls_ctx_new(&cfg);
 *   struct st_tls_conn *c;
 *   if (ctx == NULL || st_tls_connect(ctx, "server.example", 443, &c) != ST_TLS_OK)
 *       fprintf(stderr, "%s\n", st_tls_last_error());
 *
 * The library registers the simtrust OpenSSL provider (built in, statically
 * linked) in a private OSSL_LIB_CTX next to OpenSSL's default provider: no
 * openssl.cnf and no provider module are needed, and the application's own
 * OpenSSL use is not affected. One context = one card session; a context and
 * its connections are used by one thread at a time.
 */
#ifndef SIMTRUST_TLS_H
#define SIMTRUST_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum st_tls_version {
    ST_TLS_1_3 = 0, /* TLS 1.3 over TCP (default) */
    ST_TLS_1_2,     /* TLS 1.2 over TCP */
    ST_DTLS_1_2,    /* DTLS 1.2 over UDP */
};

struct st_tls_config {
    /* How to reach the SIM: "tcp:HOST:PORT", "pcsc:[READER]", "at:DEVICE[@BAUD]".
     * NULL: $SIMTRUST_SIM. (A non-empty $SIMTRUST_SIM always wins, as in the provider.) */
    const char *sim;
    /* The card's private key object (label) for the client certificate; NULL: no
     * client authentication. */
    const char *key_label;
    /* Certificate file on the card holding the client certificate and, after it,
     * optional intermediate CA certificates (the chain sent to the server). NULL:
     * key_label + "-cert". */
    const char *cert_label;
    /* Trust anchor: a certificate file on the card (F3, B9), or a PEM file on the
     * host (ca_file). At least one is required: the server is always verified
     * (chain, validity, host name). */
    const char *ca_label;
    const char *ca_file;
    /* Name sent as SNI and checked against the server certificate (DNS name or IP
     * address literal). NULL: the host given to st_tls_connect. "" : no SNI (the
     * name is still checked against host). */
    const char *server_name;
    enum st_tls_version version;
    /* PSK credential: the card's secret key object (its identity is the file with the
     * same label), handed to the provider's PSK mode (st_prov_psk_use) when the library
     * was built with it; otherwise st_tls_ctx_new refuses it ("not supported yet").
     * TLS 1.2 PSK / ECDHE-PSK (master secret: COMPUTE PRF on the card), TLS 1.3 external
     * PSK with psk_dhe_ke (early secret: COMPUTE HKDF extract on the card). With a PSK no
     * trust anchor is needed (a server that sends a certificate is still verified against
     * ca_label / ca_file if given). Tested by tests/tls/tls.sh (psk-tls12, psk-tls13). */
    const char *psk_label;
    /* DTLS: path MTU in bytes (0: 1200). */
    unsigned mtu;
    /* DTLS: first retransmission timeout in ms, doubled up to dtls_timeout_max_ms
     * (0: 2000 and 16000: a card operation can take a second). */
    unsigned dtls_timeout_ms, dtls_timeout_max_ms;
    /* Socket connect / read timeout in ms (0: 30000). */
    unsigned io_timeout_ms;
};

#define ST_TLS_CONFIG_INIT                                                                 \
    {                                                                                      \
        NULL, NULL, NULL, NULL, NULL, NULL, ST_TLS_1_3, NULL, 0, 0, 0, 0                   \
    }

/* Status codes (st_tls_connect and friends return them; negative = failure). */
enum st_tls_status {
    ST_TLS_OK = 0,
    ST_TLS_ERR_ARG = -1,          /* bad argument or configuration */
    ST_TLS_ERR_NO_SIM = -2,       /* no SIM configured */
    ST_TLS_ERR_CARD_REMOVED = -3, /* the card / link went away (also mid-handshake) */
    ST_TLS_ERR_CARD = -4,         /* the card answered an error (status word in the message) */
    ST_TLS_ERR_NOT_FOUND = -5,    /* no such key / certificate file on the card */
    ST_TLS_ERR_CONNECT = -6,      /* name resolution / TCP or UDP connect failed */
    ST_TLS_ERR_CERT_UNTRUSTED = -7, /* server certificate not issued by the trust anchor */
    ST_TLS_ERR_CERT_EXPIRED = -8,   /* server certificate expired or not yet valid */
    ST_TLS_ERR_CERT_NAME = -9,      /* server certificate does not match the name */
    ST_TLS_ERR_CERT = -10,          /* other certificate verification failure */
    ST_TLS_ERR_PEER = -11,          /* the server refused the handshake (alert) */
    ST_TLS_ERR_TLS = -12,           /* other TLS / protocol error */
    ST_TLS_ERR_TIMEOUT = -13,       /* no answer from the server in time */
    ST_TLS_ERR_CLOSED = -14,        /* the peer closed the connection */
    ST_TLS_ERR_NOMEM = -15,
    ST_TLS_AGAIN = -16, /* st_tls_read: a record without application data was handled
                           (e.g. a TLS 1.3 session ticket): poll st_tls_fd and read again */
};

struct st_tls_ctx;
struct st_tls_conn;

/* Card work of one handshake (st_tls_stats) or of the context's life. */
struct st_tls_stats {
    uint64_t apdus;     /* C-APDUs sent, GET RESPONSE included */
    uint64_t bytes_out; /* C-APDU bytes */
    uint64_t bytes_in;  /* R-APDU bytes */
    uint64_t card_ops;  /* card operations (sign, ECDH, keygen, put key, reads) */
    uint64_t signs, dhs, keygens;
    double handshake_ms; /* wall time of the handshake (connection stats only) */
    uint64_t prfs, hkdfs; /* PSK mode: COMPUTE PRF / COMPUTE HKDF (included in card_ops) */
};

/*
 * Opens the card session, loads the client key's public half and certificate
 * chain and the trust anchor from the card (the setup APDUs, once per
 * context). NULL on failure (st_tls_last_error says why).
 */
struct st_tls_ctx *st_tls_ctx_new(const struct st_tls_config *cfg);
void st_tls_ctx_free(struct st_tls_ctx *ctx);

/*
 * Connects to host:port (TCP, or a connected UDP socket for DTLS) and runs the
 * handshake. On success *conn is the connection; on failure a status, and
 * st_tls_last_error() has the specific message.
 */
int st_tls_connect(struct st_tls_ctx *ctx, const char *host, unsigned port,
                   struct st_tls_conn **conn);

/* Application data. Return bytes (> 0), 0 at a close by the peer, or a status
 * (ST_TLS_AGAIN: nothing for the application yet, not an error). Reads block
 * until a record arrives (io_timeout_ms at most). */
ssize_t st_tls_read(struct st_tls_conn *conn, void *buf, size_t len);
ssize_t st_tls_write(struct st_tls_conn *conn, const void *buf, size_t len);
/* Sends close_notify (no wait for the peer's). */
int st_tls_shutdown(struct st_tls_conn *conn);
/* Frees the connection and closes its socket (no close_notify: shutdown first). */
void st_tls_close(struct st_tls_conn *conn);

/* The socket (for poll()), the negotiated protocol ("TLSv1.3") and cipher suite. */
int st_tls_fd(const struct st_tls_conn *conn);
const char *st_tls_protocol(const struct st_tls_conn *conn);
const char *st_tls_cipher(const struct st_tls_conn *conn);

/* The card work of conn's handshake (conn != NULL), else the context's totals
 * since st_tls_ctx_new (setup included). */
int st_tls_stats(const struct st_tls_ctx *ctx, const struct st_tls_conn *conn,
                 struct st_tls_stats *out);

/* The last failure of this thread: a one-line message and its status. */
const char *st_tls_last_error(void);
int st_tls_last_status(void);
/* A fixed name of a status ("card removed"). */
const char *st_tls_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
