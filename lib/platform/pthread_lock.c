/* Recursive pthread mutex as st_sim lock callbacks (see simtrust/pthread_lock.h). */
#include "simtrust/pthread_lock.h"

static void lock_cb(void *arg)
{
    struct st_pthread_lock *l = arg;
    (void)pthread_mutex_lock(&l->mutex);
}

static void unlock_cb(void *arg)
{
    struct st_pthread_lock *l = arg;
    (void)pthread_mutex_unlock(&l->mutex);
}

int st_sim_use_pthread_lock(struct st_sim *sim, struct st_pthread_lock *lock)
{
    pthread_mutexattr_t attr;
    if (sim == NULL || lock == NULL)
        return ST_E_ARG;
    if (pthread_mutexattr_init(&attr) != 0)
        return ST_E_IO;
    int bad = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) != 0 ||
              pthread_mutex_init(&lock->mutex, &attr) != 0;
    pthread_mutexattr_destroy(&attr);
    if (bad)
        return ST_E_IO;
    return st_sim_set_lock(sim, lock_cb, unlock_cb, lock);
}

void st_sim_drop_pthread_lock(struct st_sim *sim, struct st_pthread_lock *lock)
{
    if (sim != NULL)
        (void)st_sim_set_lock(sim, NULL, NULL, NULL);
    if (lock != NULL)
        pthread_mutex_destroy(&lock->mutex);
}
