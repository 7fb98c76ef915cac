/* Data-plane test fixture (see gw_data_fixture.h). */
#include "gw_data_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "proxy_v2.h"
#include "registry.h"
#include "st_log.h"

static const uint8_t k_kek[32] = {0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t k_psk[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                  0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};

void gwfx_path(struct gwfx *f, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->dir, name);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static int make_pki(struct gwfx *f)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "cd %s && set -e; "
             "k() { openssl ecparam -name prime256v1 -genkey -noout -out $1.key; }; "
             "k ca; openssl req -x509 -new -key ca.key -subj /CN=test-ca -days 3 -out ca.pem "
             "-addext basicConstraints=critical,CA:true "
             "-addext keyUsage=critical,keyCertSign,cRLSign; "
             "iss() { k $1; openssl req -new -key $1.key -subj /CN=$2 -out $1.csr; "
             "printf '%%s\\n' \"$3\" > $1.ext; openssl x509 -req -in $1.csr -CA ca.pem "
             "-CAkey ca.key -CAcreateserial -days 3 -extfile $1.ext -out $1.pem 2>/dev/null; }; "
             "iss srv localhost 'subjectAltName=DNS:localhost,IP:127.0.0.1'; "
             "iss srv2 gw-renewed 'subjectAltName=DNS:localhost,IP:127.0.0.1'; "
             "iss cli " FX_X509_DEVICE " 'extendedKeyUsage=clientAuth'",
             f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int spki_sha256(const char *pem_path, uint8_t out[32])
{
    FILE *fp = fopen(pem_path, "r");
    X509 *x = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int len, rc = -1;
    unsigned mdlen = 32;
    if (fp)
        fclose(fp);
    if (x == NULL)
        return -1;
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (len > 0 && EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL))
        rc = 0;
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

static int make_registry(struct gwfx *f)
{
    struct st_reg *r;
    struct st_reg_group g;
    struct st_reg_device d;
    char path[128];
    int rc = -1;
    gwfx_path(f, "reg.db", f->cfg.registry, sizeof(f->cfg.registry));
    if (st_reg_open_sqlite(f->cfg.registry, f->kek, 5000, &r) != ST_REG_OK)
        return -1;
    memset(&g, 0, sizeof(g));
    memset(&d, 0, sizeof(d));
    if (st_reg_tenant_put(r, FX_TENANT) != ST_REG_OK)
        goto out;
    strcpy(g.tenant, FX_TENANT);
    strcpy(g.id, FX_GROUP);
    g.auth_methods = ST_REG_AUTH_X509 | ST_REG_AUTH_PSK;
    gwfx_path(f, "ca.pem", path, sizeof(path));
    g.trust_anchors_pem = slurp(path);
    if (g.trust_anchors_pem == NULL || st_reg_group_put(r, &g, ST_REG_ANY) != ST_REG_OK)
        goto out;
    strcpy(d.tenant, FX_TENANT);
    strcpy(d.id, FX_X509_DEVICE);
    strcpy(d.group, FX_GROUP);
    d.state = ST_REG_ENABLED;
    gwfx_path(f, "cli.pem", path, sizeof(path));
    d.cert_pem = slurp(path);
    d.has_spki = spki_sha256(path, d.spki_sha256) == 0;
    if (!d.has_spki || st_reg_device_put(r, &d, ST_REG_ANY) != ST_REG_OK)
        goto out;
    st_reg_device_clear(&d);
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, FX_TENANT);
    strcpy(d.id, FX_PSK_DEVICE);
    strcpy(d.group, FX_GROUP);
    strcpy(d.iccid, FX_PSK_ICCID);
    strcpy(d.psk_identity, FX_PSK_IDENTITY);
    memcpy(d.psk, k_psk, sizeof(k_psk));
    d.psk_len = sizeof(k_psk);
    if (st_reg_device_put(r, &d, ST_REG_ANY) != ST_REG_OK)
        goto out;
    rc = 0;
out:
    st_reg_group_clear(&g);
    st_reg_device_clear(&d);
    st_reg_close(r);
    return rc;
}

int gwfx_init(struct gwfx *f)
{
    memset(f, 0, sizeof(*f));
    f->bfd = -1;
    signal(SIGPIPE, SIG_IGN);
    st_log_init("gw-data-test", ST_LOG_INFO);
    strcpy(f->dir, "/tmp/st-gwdata-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    f->kek = st_gw_kek_from_bytes(k_kek);
    f->m = st_gw_metrics_new();
    st_gw_config_defaults(&f->cfg);
    strcpy(f->cfg.tls_listen, "127.0.0.1:0");
    strcpy(f->cfg.dtls_listen, "127.0.0.1:0");
    gwfx_path(f, "srv.pem", f->cfg.server_cert, sizeof(f->cfg.server_cert));
    gwfx_path(f, "srv.key", f->cfg.server_key, sizeof(f->cfg.server_key));
    f->cfg.workers = 2;
    f->cfg.tls_min_version = 0x0303;
    if (f->kek == NULL || f->m == NULL || make_pki(f) != 0 || make_registry(f) != 0)
        return -1;
    return 0;
}

/* ---- backend: PROXY v2 header, then echo ---- */

static void copy_bytes(char *dst, size_t cap, struct st_pp2_bytes b)
{
    size_t n = b.p ? (b.n < cap - 1 ? b.n : cap - 1) : 0;
    if (n)
        memcpy(dst, b.p, n);
    dst[n] = '\0';
}

struct bconn {
    struct gwfx *f;
    int fd;
};

static void *backend_conn(void *arg)
{
    struct bconn *bc = arg;
    struct gwfx *f = bc->f;
    uint8_t buf[70000];
    size_t have = 0, used = 0;
    struct st_pp2_info in;
    int rc = ST_PP2_NEED_MORE;
    for (;;) {
        ssize_t n = recv(bc->fd, buf + have, sizeof(buf) - have, 0);
        if (n <= 0)
            goto done;
        have += (size_t)n;
        rc = st_pp2_parse(buf, have, &in, &used);
        if (rc != ST_PP2_NEED_MORE)
            break;
    }
    pthread_mutex_lock(&f->mu);
    if (rc == ST_PP2_OK) {
        struct fx_seen *s = &f->seen[f->nseen++ % 8];
        memset(s, 0, sizeof(*s));
        s->family = in.family;
        s->transport = in.transport;
        memcpy(s->src_addr, in.src_addr, 16);
        s->src_port = in.src_port;
        s->dst_port = in.dst_port;
        s->ssl_client = in.ssl_client;
        s->verify = in.ssl_verify;
        copy_bytes(s->device, sizeof(s->device), in.device_id);
        copy_bytes(s->group, sizeof(s->group), in.group);
        copy_bytes(s->method, sizeof(s->method), in.auth_method);
        copy_bytes(s->iccid, sizeof(s->iccid), in.iccid);
        copy_bytes(s->tenant, sizeof(s->tenant), in.tenant);
        copy_bytes(s->version, sizeof(s->version), in.ssl_version);
        copy_bytes(s->cn, sizeof(s->cn), in.ssl_cn);
        copy_bytes(s->authority, sizeof(s->authority), in.authority);
        copy_bytes(s->cipher, sizeof(s->cipher), in.ssl_cipher);
    } else {
        f->bad_header++;
    }
    pthread_mutex_unlock(&f->mu);
    if (rc != ST_PP2_OK)
        goto done;
    /* echo: what followed the header, then everything else */
    if (have > used && send(bc->fd, buf + used, have - used, MSG_NOSIGNAL) < 0)
        goto done;
    for (;;) {
        ssize_t n = recv(bc->fd, buf, sizeof(buf), 0);
        if (n <= 0 || send(bc->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
done:
    close(bc->fd);
    free(bc);
    return NULL;
}

static void *backend_main(void *arg)
{
    struct gwfx *f = arg;
    while (!f->bstop) {
        struct pollfd p = {f->bfd, POLLIN, 0};
        struct bconn *bc;
        pthread_t t;
        int fd;
        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(f->bfd, NULL, NULL);
        if (fd < 0)
            continue;
        bc = malloc(sizeof(*bc));
        bc->f = f;
        bc->fd = fd;
        if (pthread_create(&t, NULL, backend_conn, bc) != 0) {
            close(fd);
            free(bc);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

void gwfx_backend(struct gwfx *f)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(f->bfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->bfd, 4096) != 0 ||
        getsockname(f->bfd, (struct sockaddr *)&a, &al) != 0)
        abort();
    f->bport = ntohs(a.sin_port);
    snprintf(f->cfg.backend, sizeof(f->cfg.backend), "127.0.0.1:%u", f->bport);
    pthread_create(&f->bth, NULL, backend_main, f);
}

int gwfx_start(struct gwfx *f, const struct st_gw_app_ops *app, void *arg)
{
    char err[256] = "";
    f->srv = st_gw_server_new(&f->cfg, f->kek, f->m, app, arg, err, sizeof(err));
    if (f->srv == NULL || st_gw_server_start(f->srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    f->port = st_gw_server_port(f->srv, 0);
    f->dport = st_gw_server_port(f->srv, 1);
    return 0;
}

void gwfx_fini(struct gwfx *f)
{
    char cmd[128];
    st_gw_server_stop(f->srv);
    st_gw_server_free(f->srv);
    if (f->bfd >= 0) {
        f->bstop = 1;
        pthread_join(f->bth, NULL);
        close(f->bfd);
    }
    st_gw_metrics_free(f->m);
    st_gw_kek_free(f->kek);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
}

/* ---- clients ---- */

static unsigned psk_client(SSL *ssl, const char *hint, char *id, unsigned idcap, unsigned char *psk,
                           unsigned pskcap)
{
    snprintf(id, idcap, "%s", FX_PSK_IDENTITY);
    memcpy(psk, k_psk, sizeof(k_psk));
    return sizeof(k_psk);
}

static int psk_use_session(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                           SSL_SESSION **sess)
{
    const unsigned char aes128gcm_sha256[] = {0x13, 0x01};
    const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes128gcm_sha256);
    SSL_SESSION *s;
    if (md != NULL && md != SSL_CIPHER_get_handshake_digest(c)) {
        *sess = NULL;
        return 1;
    }
    s = SSL_SESSION_new();
    if (s == NULL || !SSL_SESSION_set1_master_key(s, k_psk, sizeof(k_psk)) ||
        !SSL_SESSION_set_cipher(s, c) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return 0;
    }
    *id = (const unsigned char *)FX_PSK_IDENTITY;
    *idlen = strlen(FX_PSK_IDENTITY);
    *sess = s;
    return 1;
}

SSL_CTX *gwfx_client_ctx(struct gwfx *f, const char *mode, int maxver, int dtls)
{
    SSL_CTX *c = SSL_CTX_new(dtls ? DTLS_client_method() : TLS_client_method());
    char path[128];
    if (c == NULL)
        return NULL;
    if (maxver)
        SSL_CTX_set_max_proto_version(c, maxver);
    gwfx_path(f, "ca.pem", path, sizeof(path));
    SSL_CTX_load_verify_locations(c, path, NULL);
    if (strcmp(mode, "cert") == 0) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        gwfx_path(f, "cli.pem", path, sizeof(path));
        SSL_CTX_use_certificate_file(c, path, SSL_FILETYPE_PEM);
        gwfx_path(f, "cli.key", path, sizeof(path));
        SSL_CTX_use_PrivateKey_file(c, path, SSL_FILETYPE_PEM);
    } else if (strcmp(mode, "psk") == 0) {
        SSL_CTX_set_psk_client_callback(c, psk_client);
        SSL_CTX_set_psk_use_session_callback(c, psk_use_session);
        SSL_CTX_set_cipher_list(c, "PSK:ECDHE-PSK:!aNULL");
    }
    return c;
}

int gwfx_tcp(unsigned port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

SSL *gwfx_tls(SSL_CTX *ctx, unsigned port, const char *sni)
{
    int fd = gwfx_tcp(port);
    SSL *ssl;
    if (fd < 0)
        return NULL;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (sni)
        SSL_set_tlsext_host_name(ssl, sni);
    if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

SSL *gwfx_dtls(SSL_CTX *ctx, unsigned port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BIO *bio;
    SSL *ssl;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return NULL;
    }
    bio = BIO_new_dgram(fd, BIO_CLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &a);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
    ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

int gwfx_echo(SSL *ssl, const char *msg)
{
    size_t n = strlen(msg), got = 0;
    char buf[65536];
    if (n > sizeof(buf) || SSL_write(ssl, msg, (int)n) != (int)n)
        return -1;
    while (got < n) {
        int r = SSL_read(ssl, buf + got, (int)(n - got));
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return memcmp(buf, msg, n) == 0 ? 0 : -1;
}

void gwfx_ssl_close(SSL *ssl)
{
    int fd, dgram;
    if (ssl == NULL)
        return;
    fd = SSL_get_fd(ssl);
    dgram = BIO_method_type(SSL_get_rbio(ssl)) == BIO_TYPE_DGRAM; /* BIO_CLOSE owns it */
    SSL_shutdown(ssl);
    SSL_free(ssl);
    if (fd >= 0 && !dgram)
        close(fd);
}

long gwfx_metric(struct gwfx *f, const char *series)
{
    char *text = NULL, *p;
    size_t len, sl = strlen(series);
    long v = -1;
    if (st_gw_metrics_render(f->m, &text, &len) != 0)
        return -1;
    for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ') {
            v = strtol(p + sl + 1, NULL, 10);
            break;
        }
    }
    free(text);
    return v;
}

long gwfx_wait_metric(struct gwfx *f, const char *series, long v)
{
    long got = -1;
    int i;
    /* bounded wait for an asynchronous effect; not a timing assertion */
    for (i = 0; i < 300; i++) {
        got = gwfx_metric(f, series);
        if (got >= v)
            break;
        usleep(50000);
    }
    return got;
}

int gwfx_last_seen(struct gwfx *f, struct fx_seen *out)
{
    int rc = -1, i;
    for (i = 0; i < 200 && rc != 0; i++) {
        pthread_mutex_lock(&f->mu);
        if (f->nseen > 0) {
            *out = f->seen[(f->nseen - 1) % 8];
            rc = 0;
        }
        pthread_mutex_unlock(&f->mu);
        if (rc != 0)
            usleep(20000);
    }
    return rc;
}
