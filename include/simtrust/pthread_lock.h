/*
 * POSIX threads lock for a shared st_sim (simtrust/apdu.h): one session
 * used by several threads, every APDU sequence serialised. Part of the
 * simtrust library (lib/platform), not of the allocation-free core; an RTOS
 * port installs its own callbacks with st_sim_set_lock (docs/porting.md).
 */
#ifndef SIMTRUST_PTHREAD_LOCK_H
#define SIMTRUST_PTHREAD_LOCK_H

#include <pthread.h>

#include "simtrust/apdu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-allocated; must outlive the session that uses it. */
struct st_pthread_lock {
    pthread_mutex_t mutex; /* recursive */
};

/*
 * Initialises lock as a recursive mutex and installs it on sim. Returns
 * ST_OK, or ST_E_IO when pthread refuses (errno-style failure of
 * pthread_mutex_init). Call before sharing sim between threads.
 */
int st_sim_use_pthread_lock(struct st_sim *sim, struct st_pthread_lock *lock);

/* Removes the lock from sim and destroys it (no thread may be using sim). */
void st_sim_drop_pthread_lock(struct st_sim *sim, struct st_pthread_lock *lock);

#ifdef __cplusplus
}
#endif
#endif
