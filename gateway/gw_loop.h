/*
 * The event loop of one gateway worker: epoll (level-triggered) with
 * intrusive watchers, a min-heap of timers and an eventfd through which other
 * threads post work (reload, stop). Nothing here allocates per event; a
 * watcher or timer lives inside the object it belongs to.
 *
 * Everything except st_gw_loop_post runs on the loop's own thread.
 */
#ifndef SIMTRUST_GW_LOOP_H
#define SIMTRUST_GW_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct st_gw_loop;

struct st_gw_watch {
    int fd;
    uint32_t events; /* EPOLLIN/EPOLLOUT currently registered (0: not registered) */
    void (*cb)(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t revents);
};

struct st_gw_timer {
    uint64_t at;     /* loop clock, ms */
    size_t slot;     /* index in the heap + 1; 0 = not armed */
    void (*cb)(struct st_gw_loop *l, struct st_gw_timer *t);
};

/* Work deferred to the end of the current loop iteration (after every event
 * of the epoll batch has been dispatched): frees objects whose watchers may
 * still appear later in the same batch. */
struct st_gw_defer {
    struct st_gw_defer *next;
    void (*fn)(struct st_gw_defer *d);
};

struct st_gw_loop *st_gw_loop_new(void);
void st_gw_loop_free(struct st_gw_loop *l);

/* Milliseconds of CLOCK_MONOTONIC, cached once per iteration. */
uint64_t st_gw_loop_now(const struct st_gw_loop *l);

/* Registers fd with events (EPOLLIN|EPOLLOUT), or changes them; events 0
 * keeps the fd registered with no interest. 0 or -1 (errno). */
int st_gw_watch_set(struct st_gw_loop *l, struct st_gw_watch *w, int fd, uint32_t events,
                    void (*cb)(struct st_gw_loop *, struct st_gw_watch *, uint32_t));
/* Changes the interest of a registered watcher (no syscall if unchanged). */
int st_gw_watch_mod(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t events);
/* Unregisters (the fd is not closed). Safe on an unregistered watcher. */
void st_gw_watch_del(struct st_gw_loop *l, struct st_gw_watch *w);

/* Arms (or re-arms) t to fire after ms. 0 or -1 (out of memory). */
int st_gw_timer_set(struct st_gw_loop *l, struct st_gw_timer *t, uint64_t ms,
                    void (*cb)(struct st_gw_loop *, struct st_gw_timer *));
void st_gw_timer_cancel(struct st_gw_loop *l, struct st_gw_timer *t);

void st_gw_loop_defer(struct st_gw_loop *l, struct st_gw_defer *d, void (*fn)(struct st_gw_defer *));

/* Thread-safe: runs fn(arg) on the loop thread soon. 0 or -1 (out of memory). */
int st_gw_loop_post(struct st_gw_loop *l, void (*fn)(void *arg), void *arg);

/* Runs until st_gw_loop_quit is called (from the loop thread). */
void st_gw_loop_run(struct st_gw_loop *l);
void st_gw_loop_quit(struct st_gw_loop *l);

#endif
