/*
 * nmt_attach_client.h: the `attach` and `detach` subcommands of nmtrace
 * (nmt_attach_client.c).
 */
#ifndef NMT_ATTACH_CLIENT_H
#define NMT_ATTACH_CLIENT_H

/* argv[0] is "attach" or "detach"; default_lib is the recorder next to the
 * launcher. Returns the exit status. */
int nmt_attach_client(int argc, char **argv, const char *default_lib);

#endif
