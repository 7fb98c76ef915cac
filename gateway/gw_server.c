/*
 * Workers, listeners and configuration generations of the data plane (see
 * gw_server.h). Each worker owns an epoll loop, a TCP listener and a UDP
 * socket bound with SO_REUSEPORT to the same port (the kernel spreads
 * connections; a DTLS peer's datagrams always hash to the same worker), and
 * a registry handle. Reload builds a new generation and posts it to every
 * worker; sessions keep the generation they started with.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_relay.h"
#include "st_log.h"

struct st_gw_server {
    struct st_gw_config cfg;
    struct st_gw_kek *kek;
    struct st_gw_metrics *metrics;
    int nworkers;
    struct st_gw_worker *workers;
    unsigned tls_port, dtls_port;
    int started, stopped;
    pthread_mutex_t reload_mu; /* one reload at a time */
};

/* ---- generations ---- */

void st_gw_gen_ref(struct st_gw_gen *g)
{
    atomic_fetch_add(&g->refs, 1);
}

void st_gw_gen_unref(struct st_gw_gen *g)
{
    if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    /* The SSL_CTXs reference the auth context: free them first. */
    SSL_CTX_free(g->tls);
    SSL_CTX_free(g->dtls);
    st_gw_auth_ctx_free(g->auth);
    free(g);
}

static int resolve(const char *addr, int socktype, int passive, struct sockaddr_storage *out,
                   socklen_t *outlen, char *err, size_t errcap)
{
    char host[ST_GW_ADDR_MAX], port[8];
    unsigned p;
    struct addrinfo hints, *res = NULL;
    int rc;
    if (st_gw_addr_split(addr, host, sizeof(host), &p) != 0) {
        snprintf(err, errcap, "bad address \"%s\" (host:port)", addr);
        return -1;
    }
    snprintf(port, sizeof(port), "%u", p);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errcap, "cannot resolve \"%s\": %s", addr, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static struct st_gw_gen *gen_new(const struct st_gw_config *cfg, struct st_gw_metrics *metrics,
                                 int embedded, char *err, size_t errcap)
{
    struct st_gw_gen *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->cfg = *cfg;
    g->auth = st_gw_auth_ctx_new(cfg, metrics, err, errcap);
    if (g->auth == NULL)
        goto fail;
    if (cfg->tls_listen[0] && (g->tls = st_gw_auth_ssl_ctx(g->auth, 0, err, errcap)) == NULL)
        goto fail;
    if (cfg->dtls_listen[0] && (g->dtls = st_gw_auth_ssl_ctx(g->auth, 1, err, errcap)) == NULL)
        goto fail;
    if (!embedded) {
        if (cfg->backend[0] == '\0') {
            snprintf(err, errcap, "backend: required (host:port of the IoT server application)");
            goto fail;
        }
        if (resolve(cfg->backend, SOCK_STREAM, 0, &g->backend, &g->backend_len, err, errcap) != 0)
            goto fail;
    }
    return g;
fail:
    st_gw_gen_unref(g);
    return NULL;
}

/* ---- listeners ---- */

static int bind_one(const char *addr, int type, unsigned *port, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1;
    if (resolve(addr, type, 1, &ss, &sl, err, errcap) != 0)
        return -1;
    /* Workers after the first bind the port the first one got (port 0). */
    if (*port) {
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)*port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)*port);
    }
    fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        (type == SOCK_STREAM && listen(fd, 4096) != 0)) {
        snprintf(err, errcap, "%s %s: %s", type == SOCK_STREAM ? "tls_listen" : "dtls_listen",
                 addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (*port == 0) {
        sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

/* ---- worker thread ---- */

static void *worker_main(void *arg)
{
    struct st_gw_worker *w = arg;
    sigset_t set;
    /* A write to a peer that vanished must be EPIPE, not a process-killing
     * signal; blocking it in this thread does not touch the application's
     * own signal handling. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    st_gw_loop_run(w->loop);
    return NULL;
}

static void worker_stop(void *arg)
{
    struct st_gw_worker *w = arg;
    w->stopping = 1;
    if (w->tls_fd >= 0) {
        st_gw_watch_del(w->loop, &w->tls_w);
        st_gw_timer_cancel(w->loop, &w->tls_pause);
    }
    while (w->sessions)
        w->sessions->dev->close(w->sessions, "shutdown");
    st_gw_dtls_fini(w);
    st_gw_loop_quit(w->loop);
}

struct switch_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
    struct st_gw_gen *gen;
};

struct switch_item {
    struct switch_req *r;
    struct st_gw_worker *w;
};

static void worker_switch(void *arg)
{
    struct switch_item *it = arg;
    struct st_gw_gen *old = it->w->gen;
    st_gw_gen_ref(it->r->gen);
    it->w->gen = it->r->gen;
    st_gw_gen_unref(old);
    st_gw_dtls_gen_changed(it->w);
    pthread_mutex_lock(&it->r->mu);
    it->r->left--;
    pthread_cond_signal(&it->r->cv);
    pthread_mutex_unlock(&it->r->mu);
}

/* ---- API ---- */

struct st_gw_server *st_gw_server_new(const struct st_gw_config *cfg, struct st_gw_kek *kek,
                                      struct st_gw_metrics *metrics,
                                      const struct st_gw_app_ops *app, void *app_arg, char *err,
                                      size_t errcap)
{
    struct st_gw_server *s = calloc(1, sizeof(*s));
    struct st_gw_gen *gen;
    int i;
    if (s == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->kek = kek;
    s->metrics = metrics;
    pthread_mutex_init(&s->reload_mu, NULL);
    s->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->nworkers < 1)
        s->nworkers = 1;
    if (!cfg->tls_listen[0] && !cfg->dtls_listen[0]) {
        snprintf(err, errcap, "neither tls_listen nor dtls_listen is set");
        free(s);
        return NULL;
    }
    gen = gen_new(cfg, metrics, app != NULL, err, errcap);
    if (gen == NULL) {
        free(s);
        return NULL;
    }
    s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
    if (s->workers == NULL) {
        snprintf(err, errcap, "out of memory");
        st_gw_gen_unref(gen);
        free(s);
        return NULL;
    }
    for (i = 0; i < s->nworkers; i++) {
        s->workers[i].tls_fd = s->workers[i].udp_fd = -1;
        s->workers[i].index = i;
        s->workers[i].srv = s;
    }
    for (i = 0; i < s->nworkers; i++) {
        struct st_gw_worker *w = &s->workers[i];
        int rc;
        w->metrics = metrics;
        w->app = app;
        w->app_arg = app_arg;
        w->gen = gen;
        st_gw_gen_ref(gen);
        w->loop = st_gw_loop_new();
        if (w->loop == NULL) {
            snprintf(err, errcap, "cannot create an event loop: %s", strerror(errno));
            goto fail;
        }
        rc = st_reg_open_sqlite(cfg->registry, kek, 5000, &w->reg);
        if (rc != ST_REG_OK) {
            snprintf(err, errcap, "registry %s: %s", cfg->registry, st_reg_strerror(rc));
            goto fail;
        }
        if (cfg->tls_listen[0]) {
            w->tls_fd = bind_one(cfg->tls_listen, SOCK_STREAM, &s->tls_port, err, errcap);
            if (w->tls_fd < 0 ||
                st_gw_watch_set(w->loop, &w->tls_w, w->tls_fd, EPOLLIN, st_gw_tcp_on_accept) != 0)
                goto fail;
        }
        if (cfg->dtls_listen[0]) {
            w->udp_fd = bind_one(cfg->dtls_listen, SOCK_DGRAM, &s->dtls_port, err, errcap);
            if (w->udp_fd < 0 || st_gw_dtls_init(w) != 0) {
                if (w->udp_fd >= 0)
                    snprintf(err, errcap, "dtls_listen %s: cannot set up", cfg->dtls_listen);
                goto fail;
            }
        }
    }
    st_gw_gen_unref(gen);
    return s;
fail:
    st_gw_gen_unref(gen);
    st_gw_server_free(s);
    return NULL;
}

unsigned st_gw_server_port(const struct st_gw_server *s, int dtls)
{
    return dtls ? s->dtls_port : s->tls_port;
}

/* Tens of thousands of connections need as many descriptors: raise the soft
 * limit to the hard one (the administrator's ceiling). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            st_warn("cannot raise the descriptor limit: %s", strerror(errno));
    }
}

int st_gw_server_start(struct st_gw_server *s, char *err, size_t errcap)
{
    int i;
    if (s->started) {
        snprintf(err, errcap, "already started");
        return -1;
    }
    raise_nofile();
    for (i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            snprintf(err, errcap, "cannot start worker %d", i);
            s->started = 1;
            st_gw_server_stop(s);
            return -1;
        }
        s->workers[i].running = 1;
    }
    s->started = 1;
    st_info("data plane up: %d workers, tls port %u, dtls port %u, %s", s->nworkers,
            s->tls_port, s->dtls_port, s->workers[0].app ? "embedded application" : s->cfg.backend);
    return 0;
}

int st_gw_server_reload(struct st_gw_server *s, const struct st_gw_config *cfg, char *err,
                        size_t errcap)
{
    struct switch_req r;
    struct switch_item *items;
    struct st_gw_gen *gen;
    int i, posted = 0;
    if (strcmp(cfg->tls_listen, s->cfg.tls_listen) != 0 ||
        strcmp(cfg->dtls_listen, s->cfg.dtls_listen) != 0 ||
        strcmp(cfg->registry, s->cfg.registry) != 0 || cfg->workers != s->cfg.workers) {
        snprintf(err, errcap, "listen addresses, registry and workers need a restart");
        return -1;
    }
    gen = gen_new(cfg, s->metrics, s->workers[0].app != NULL, err, errcap);
    items = calloc((size_t)s->nworkers, sizeof(*items));
    if (gen == NULL || items == NULL) {
        if (items == NULL)
            snprintf(err, errcap, "out of memory");
        st_gw_gen_unref(gen);
        free(items);
        return -1;
    }
    pthread_mutex_lock(&s->reload_mu);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.gen = gen;
    r.left = s->nworkers;
    for (i = 0; i < s->nworkers; i++) {
        items[i].r = &r;
        items[i].w = &s->workers[i];
        /* Workers not running (before start, after stop) switch here. */
        if (!s->workers[i].running || s->stopped ||
            st_gw_loop_post(s->workers[i].loop, worker_switch, &items[i]) != 0)
            worker_switch(&items[i]);
        else
            posted++;
    }
    pthread_mutex_lock(&r.mu);
    while (r.left > 0)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    s->cfg = *cfg;
    pthread_mutex_unlock(&s->reload_mu);
    st_gw_gen_unref(gen);
    free(items);
    st_info("reload: %d workers switched to the new configuration (%d via their loops)",
            s->nworkers, posted);
    return 0;
}

void st_gw_server_stop(struct st_gw_server *s)
{
    int i;
    if (s == NULL || s->stopped)
        return;
    s->stopped = 1;
    pthread_mutex_lock(&s->reload_mu);
    for (i = 0; i < s->nworkers; i++) {
        struct st_gw_worker *w = &s->workers[i];
        if (!w->running)
            continue;
        if (st_gw_loop_post(w->loop, worker_stop, w) != 0) {
            st_err("cannot stop worker %d", i);
            continue;
        }
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
    pthread_mutex_unlock(&s->reload_mu);
    if (s->started)
        st_info("data plane stopped");
}

void st_gw_server_free(struct st_gw_server *s)
{
    int i;
    if (s == NULL)
        return;
    st_gw_server_stop(s);
    for (i = 0; i < s->nworkers; i++) {
        struct st_gw_worker *w = &s->workers[i];
        if (w->loop && !w->stopping)
            worker_stop(w); /* never started: nothing live, but tidy up */
        if (w->tls_fd >= 0)
            close(w->tls_fd);
        if (w->udp_fd >= 0)
            close(w->udp_fd);
        st_gw_loop_free(w->loop);
        st_reg_close(w->reg);
        st_gw_gen_unref(w->gen);
    }
    free(s->workers);
    pthread_mutex_destroy(&s->reload_mu);
    free(s);
}
