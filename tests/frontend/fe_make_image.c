/* Writes the front-end test card image (fe_util.h) for the shell-driven tests. */
#include <stdio.h>

#include "fe_util.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    return fe_make_image(argv[1]) == 0 ? 0 : 1;
}
