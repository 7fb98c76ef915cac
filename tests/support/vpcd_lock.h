/*
 * Tests that use pcscd's vpcd readers share one machine-wide resource: the
 * reader ports 35963/35964 and the one pcscd. ctest's RESOURCE_LOCK only
 * serialises tests of one ctest run; this lock also keeps two build trees
 * (normal and ASan, or two developers' runs) from answering each other's
 * tests. Held until the process exits. Shell tests use the same file with
 * flock(1): tests/support/pcscd.sh.
 */
#ifndef SIMTRUST_TEST_VPCD_LOCK_H
#define SIMTRUST_TEST_VPCD_LOCK_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>

#define ST_VPCD_LOCK_FILE "/tmp/simtrust-vpcd.lock"

static inline void st_test_vpcd_lock(void)
{
    int fd = open(ST_VPCD_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || flock(fd, LOCK_EX) != 0)
        perror(ST_VPCD_LOCK_FILE); /* run unlocked rather than not at all */
}

#endif
