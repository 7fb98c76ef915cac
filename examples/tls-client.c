/*
 * tls-client: the simtrust TLS API in a few dozen lines, a model for device
 * makers (docs/libsimtrust.md "TLS"). Pipes stdin to a TLS 1.3 server and the
 * server's data to stdout; the client key, its certificate and the trust
 * anchor are on the SIM (IoT.04 B3, F2-F4).
 *
 *   tls-client SIM HOST PORT [KEY CERT CA [tls1.2|tls1.3|dtls1.2 [SERVERNAME]]]
 *   tls-client pcsc: server.example 443 client client-cert ca
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simtrust/tls.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SIM HOST PORT [KEY CERT CA [VERSION [SERVERNAME]]]\n", argv[0]);
        return 2;
    }
    struct st_tls_config cfg = ST_TLS_CONFIG_INIT;
    cfg.sim = argv[1];
    cfg.key_label = argc > 4 ? argv[4] : "client";
    cfg.cert_label = argc > 5 ? argv[5] : "client-cert";
    cfg.ca_label = argc > 6 ? argv[6] : "ca";
    if (argc > 7)
        cfg.version = strcmp(argv[7], "tls1.2") == 0    ? ST_TLS_1_2
                      : strcmp(argv[7], "dtls1.2") == 0 ? ST_DTLS_1_2
                                                        : ST_TLS_1_3;
    cfg.server_name = argc > 8 ? argv[8] : NULL;

    struct st_tls_ctx *ctx = st_tls_ctx_new(&cfg);
    struct st_tls_conn *conn = NULL;
    if (ctx == NULL || st_tls_connect(ctx, argv[2], (unsigned)atoi(argv[3]), &conn) != ST_TLS_OK) {
        fprintf(stderr, "tls-client: %s\n", st_tls_last_error());
        st_tls_ctx_free(ctx);
        return 1;
    }
    struct st_tls_stats st;
    st_tls_stats(ctx, conn, &st);
    fprintf(stderr, "tls-client: %s %s, handshake: %llu APDUs, %llu card operations\n",
            st_tls_protocol(conn), st_tls_cipher(conn), (unsigned long long)st.apdus,
            (unsigned long long)st.card_ops);

    char buf[4096];
    struct pollfd p[2] = {{0, POLLIN, 0}, {st_tls_fd(conn), POLLIN, 0}};
    int rc = 0;
    for (;;) {
        if (poll(p, 2, -1) < 0)
            break;
        if (p[0].revents & (POLLIN | POLLHUP)) { /* stdin -> server */
            ssize_t n = read(0, buf, sizeof(buf));
            if (n <= 0)
                break; /* end of input: close */
            if (st_tls_write(conn, buf, (size_t)n) != n) {
                rc = 1;
                break;
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP)) { /* server -> stdout */
            ssize_t n = st_tls_read(conn, buf, sizeof(buf));
            if (n == ST_TLS_AGAIN)
                continue;
            if (n <= 0) {
                rc = n < 0;
                break;
            }
            fwrite(buf, 1, (size_t)n, stdout);
            fflush(stdout);
        }
    }
    if (rc != 0)
        fprintf(stderr, "tls-client: %s\n", st_tls_last_error());
    st_tls_shutdown(conn);
    st_tls_close(conn);
    st_tls_ctx_free(ctx);
    return rc;
}
