/* Sub-commands of the simtrust-card program (card/main.c dispatches). */
#ifndef SIMTRUST_CARD_CLI_H
#define SIMTRUST_CARD_CLI_H

/* `simtrust-card personalise ...` (card/cli_personalise.c). Returns the exit code. */
int st_cli_personalise(int argc, char **argv);

/* `simtrust-card serve ...`: runs the front ends (card/cli_serve.c). */
int st_cli_serve(int argc, char **argv);

#endif
