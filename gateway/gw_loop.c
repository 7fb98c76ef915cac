/* Worker event loop: epoll + timer heap + eventfd posts (see gw_loop.h). */
#include "gw_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct post {
    struct post *next;
    void (*fn)(void *arg);
    void *arg;
};

struct st_gw_loop {
    int ep;
    int efd;
    struct st_gw_watch ew;
    uint64_t now;
    int quit;
    struct st_gw_timer **heap;
    size_t nheap, capheap;
    struct st_gw_defer *deferred;
    pthread_mutex_t mu;
    struct post *posts, **posts_tail;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t st_gw_loop_now(const struct st_gw_loop *l)
{
    return l->now;
}

/* ---- timers: binary min-heap on `at`; slot = index + 1 so 0 means idle ---- */

static void heap_place(struct st_gw_loop *l, size_t i, struct st_gw_timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(struct st_gw_loop *l, size_t i)
{
    struct st_gw_timer *t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->at <= t->at)
            break;
        heap_place(l, i, l->heap[p]);
        i = p;
    }
    heap_place(l, i, t);
}

static void heap_down(struct st_gw_loop *l, size_t i)
{
    struct st_gw_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->at < l->heap[c]->at)
            c++;
        if (t->at <= l->heap[c]->at)
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void st_gw_timer_cancel(struct st_gw_loop *l, struct st_gw_timer *t)
{
    size_t i;
    struct st_gw_timer *last;
    if (t->slot == 0)
        return;
    i = t->slot - 1;
    t->slot = 0;
    last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    l->heap[i] = last;
    last->slot = i + 1;
    heap_down(l, i);
    heap_up(l, last->slot - 1);
}

int st_gw_timer_set(struct st_gw_loop *l, struct st_gw_timer *t, uint64_t ms,
                    void (*cb)(struct st_gw_loop *, struct st_gw_timer *))
{
    st_gw_timer_cancel(l, t);
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        struct st_gw_timer **h = realloc(l->heap, cap * sizeof(*h));
        if (h == NULL)
            return -1;
        l->heap = h;
        l->capheap = cap;
    }
    t->cb = cb;
    t->at = l->now + ms;
    l->heap[l->nheap] = t;
    heap_up(l, l->nheap++);
    return 0;
}

static void run_timers(struct st_gw_loop *l)
{
    /* A callback may arm timers that are already due (0 ms); they run in the
     * next iteration, so one iteration stays bounded. */
    uint64_t now = l->now;
    while (l->nheap > 0 && l->heap[0]->at <= now && !l->quit) {
        struct st_gw_timer *t = l->heap[0];
        st_gw_timer_cancel(l, t);
        t->cb(l, t);
    }
}

/* ---- watchers ---- */

int st_gw_watch_set(struct st_gw_loop *l, struct st_gw_watch *w, int fd, uint32_t events,
                    void (*cb)(struct st_gw_loop *, struct st_gw_watch *, uint32_t))
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    w->fd = fd;
    w->cb = cb;
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1;
    /* Bit 31 marks "registered" so that an interest of 0 still counts. */
    w->events = events | 0x80000000u;
    return 0;
}

int st_gw_watch_mod(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (w->events == (events | 0x80000000u))
        return 0;
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return -1;
    w->events = events | 0x80000000u;
    return 0;
}

void st_gw_watch_del(struct st_gw_loop *l, struct st_gw_watch *w)
{
    if (w->events == 0)
        return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, w->fd, NULL);
    w->events = 0;
}

void st_gw_loop_defer(struct st_gw_loop *l, struct st_gw_defer *d, void (*fn)(struct st_gw_defer *))
{
    d->fn = fn;
    d->next = l->deferred;
    l->deferred = d;
}

static void run_deferred(struct st_gw_loop *l)
{
    while (l->deferred) {
        struct st_gw_defer *d = l->deferred;
        l->deferred = d->next;
        d->fn(d);
    }
}

/* ---- cross-thread posts ---- */

int st_gw_loop_post(struct st_gw_loop *l, void (*fn)(void *arg), void *arg)
{
    uint64_t one = 1;
    struct post *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&l->mu);
    *l->posts_tail = p;
    l->posts_tail = &p->next;
    pthread_mutex_unlock(&l->mu);
    /* Only EAGAIN (counter saturated) can fail, and then a wakeup is pending. */
    if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -1;
    return 0;
}

static void on_eventfd(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t revents)
{
    uint64_t n;
    struct post *p;
    if (read(l->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&l->mu);
    p = l->posts;
    l->posts = NULL;
    l->posts_tail = &l->posts;
    pthread_mutex_unlock(&l->mu);
    while (p) {
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

struct st_gw_loop *st_gw_loop_new(void)
{
    struct st_gw_loop *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->mu, NULL);
    l->posts_tail = &l->posts;
    l->now = mono_ms();
    if (l->ep < 0 || l->efd < 0 || st_gw_watch_set(l, &l->ew, l->efd, EPOLLIN, on_eventfd) != 0) {
        st_gw_loop_free(l);
        return NULL;
    }
    return l;
}

void st_gw_loop_free(struct st_gw_loop *l)
{
    struct post *p;
    if (l == NULL)
        return;
    run_deferred(l);
    p = l->posts;
    while (p) {
        struct post *next = p->next;
        free(p);
        p = next;
    }
    if (l->ep >= 0)
        close(l->ep);
    if (l->efd >= 0)
        close(l->efd);
    pthread_mutex_destroy(&l->mu);
    free(l->heap);
    free(l);
}

void st_gw_loop_quit(struct st_gw_loop *l)
{
    l->quit = 1;
}

void st_gw_loop_run(struct st_gw_loop *l)
{
    struct epoll_event evs[256];
    while (!l->quit) {
        int timeout = -1, n, i;
        l->now = mono_ms();
        if (l->nheap > 0) {
            uint64_t at = l->heap[0]->at;
            timeout = at <= l->now ? 0 : (int)(at - l->now > 60000 ? 60000 : at - l->now);
        }
        n = epoll_wait(l->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
        l->now = mono_ms();
        for (i = 0; i < n && !l->quit; i++) {
            struct st_gw_watch *w = evs[i].data.ptr;
            /* A watcher removed earlier in this batch has events == 0; its
             * memory is still valid because frees are deferred. */
            if (w->events != 0)
                w->cb(l, w, evs[i].events);
        }
        run_deferred(l);
        if (!l->quit)
            run_timers(l);
        run_deferred(l);
    }
}
